"""A video object's `warnings`: the words of its prompts that the built-in model never saw in training
and the background colours asked for that its world never drew (it still makes the video), shown on
the job page; and the create page's examples use only known words.
The tiny test model states no trained sizes, so its default size is all it was trained for: the small
requests here (32x32) also carry the beyond-training size note, and one at its default carries none."""

import json
import re
import shutil
from types import SimpleNamespace

import pytest
from openai import OpenAI

from kinetoscope.engines.base import BEYOND
from kinetoscope.request import BUILTIN_WEIGHTS
from kinetoscope.studio.api.videos import word_warnings
from kinetoscope.vocabulary import unknown_in
from tests.studio.helpers import work
from tests.studio.live import live_server

BUILTIN_VOCABULARY = json.loads((BUILTIN_WEIGHTS / "pipeline.json").read_text())["vocabulary"]
pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")  # the openai client's
SMALL = {"size": "32x32", "seconds": "0.5", "seed": 1, "steps": 1}  # not the tiny model's default size
AT_DEFAULT = {"seconds": "0.5", "seed": 1, "steps": 1}  # the model's default size, within its training


@pytest.fixture(scope="module")
def tiny_model_dir(tiny_model_dir, tmp_path_factory):
    """The tiny test model, told it knows the built-in model's words and drew black backgrounds only (the
    studio's built-in engine here)."""
    folder = tmp_path_factory.mktemp("vocab-model") / "model"
    shutil.copytree(tiny_model_dir, folder)
    config = json.loads((folder / "pipeline.json").read_text())
    (folder / "pipeline.json").write_text(json.dumps({**config, "vocabulary": BUILTIN_VOCABULARY,
                                                      "world": {"background_colours": ["black"]}}))
    return folder


@pytest.fixture(scope="module")
def size_note(tiny_model_dir):
    """The warning a SMALL request gets: 32x32 is beyond the model's default size, all it was trained for."""
    config = json.loads((tiny_model_dir / "pipeline.json").read_text())
    assert not config.get("trained_sizes") and f"{config['width']}x{config['height']}" != SMALL["size"]
    return f"size {SMALL['size']} is {BEYOND} ({config['width']}x{config['height']}): it may come out blurred, empty or broken"


def split(warnings: list[str]) -> tuple[list[str], list[str]]:
    """A video's warnings as (beyond-training notes, unknown-word notes)."""
    return [w for w in warnings if BEYOND in w], [w for w in warnings if BEYOND not in w]


def test_a_video_names_the_words_the_model_never_saw(client, size_note):
    r = client.post("/v1/videos", json={"prompt": "a crimson dragon circle", "negative_prompt": "blurry", **SMALL})
    assert r.status_code == 200, r.text
    v = r.json()
    beyond, words = split(v["warnings"])
    assert beyond == [size_note]
    assert len(words) == 1 and "draws nothing reliable for them: crimson, dragon, blurry" in words[0]
    assert client.get(f"/v1/videos/{v['id']}").json()["warnings"] == v["warnings"]
    assert client.get("/v1/videos").json()["data"][0]["warnings"] == v["warnings"]
    known = client.post("/v1/videos", json={"prompt": "a red circle bouncing", **SMALL}).json()
    assert known["warnings"] == [size_note]
    within = client.post("/v1/videos", json={"prompt": "a red circle bouncing", **AT_DEFAULT}).json()
    assert within["warnings"] == []


def test_a_video_names_a_background_the_model_never_drew(client):
    v = client.post("/v1/videos", json={"prompt": "a red circle on a blue background", **AT_DEFAULT}).json()
    assert len(v["warnings"]) == 1, v
    assert "draws nothing reliable for them: blue background (" in v["warnings"][0]
    assert "backgrounds black; see" in v["warnings"][0]
    assert client.get(f"/v1/videos/{v['id']}").json()["warnings"] == v["warnings"]
    for prompt in ("a red circle on a black background", "a blue circle"):  # blue: an object's colour
        assert client.post("/v1/videos", json={"prompt": prompt, **AT_DEFAULT}).json()["warnings"] == [], prompt
    board = client.post("/v1/videos", json={"task": "storyboard", "shots": "0s a red circle\n1s a red circle on blue",
                                            "steps": 1}).json()
    words = split(board["warnings"])[1]
    assert len(words) == 1 and "for them: blue background (" in words[0], board


def test_the_openai_client_reads_the_warnings(svc, size_note):
    with live_server(svc) as url:  # no worker: the video stays queued
        client = OpenAI(base_url=f"{url}/v1", api_key="unused-by-an-open-studio", max_retries=0, timeout=60)
        video = client.videos.create(prompt="a crimson circle", size="32x32", seconds="1")
        assert video.object == "video" and video.status == "queued"
        assert video.warnings[0] == size_note  # an extra field: the client keeps it
        assert len(video.warnings) == 2 and "for them: crimson (" in video.warnings[1]
        assert client.videos.retrieve(video.id).warnings == video.warnings


def test_remix_extend_and_storyboard_warn_too(client, svc, size_note):
    src = client.post("/v1/videos", json={"prompt": "a red circle", **SMALL}).json()
    assert src["warnings"] == [size_note] and work(svc) == 1
    remix = client.post(f"/v1/videos/{src['id']}/remix", json={"prompt": "a scarlet circle"}).json()
    beyond, words = split(remix["warnings"])
    assert beyond == [size_note] and len(words) == 1 and "for them: scarlet (" in words[0], remix
    ext = client.post("/v1/videos/extensions", json={"prompt": "a red circle zooming", "seconds": "0.5",
                                                     "video": {"id": src["id"]}}).json()
    words = split(ext["warnings"])[1]
    assert len(words) == 1 and "for them: zooming (" in words[0], ext
    board = client.post("/v1/videos", json={"task": "storyboard", "shots": "0s a red circle\n1s a teal hexagon",
                                            "size": "32x32", "steps": 1}).json()
    words = split(board["warnings"])[1]
    assert len(words) == 1 and "for them: teal, hexagon (" in words[0], board


def test_the_job_page_shows_the_warning(client, size_note):
    v = client.post("/v1/videos", json={"prompt": "a crimson circle", **SMALL}).json()
    page = client.get(f"/videos/{v['id']}").text
    assert 'id="warnings"' in page and "draws nothing reliable for them: crimson" in page and size_note in page
    known = client.post("/v1/videos", json={"prompt": "a red circle", **AT_DEFAULT}).json()
    assert 'id="warnings"' not in client.get(f"/videos/{known['id']}").text


def test_an_engine_without_a_vocabulary_gives_no_warnings():
    svc = SimpleNamespace(engines=SimpleNamespace(get=lambda name: SimpleNamespace(name=name)))  # e.g. diffusers
    assert word_warnings(svc, "wan", "a crimson dragon") == []


def test_the_create_page_examples_use_only_words_the_builtin_model_knows(client):
    page = client.get("/").text
    examples = re.findall(r"“([^”]+)”", page)
    assert len(examples) >= 3, examples  # a prompt and a storyboard's shots
    assert {e: unknown_in(BUILTIN_VOCABULARY, e) for e in examples} == {e: [] for e in examples}
