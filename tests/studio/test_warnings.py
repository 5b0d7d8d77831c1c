"""A video object's `warnings`: the words of its prompts that the built-in model never saw in training
(it still makes the video), shown on the job page; and the create page's examples use only known words."""

import json
import re
import shutil
from types import SimpleNamespace

import pytest
from openai import OpenAI

from kinetoscope.request import BUILTIN_WEIGHTS
from kinetoscope.studio.api.videos import word_warnings
from kinetoscope.vocabulary import unknown_in
from tests.studio.helpers import work
from tests.studio.live import live_server

BUILTIN_VOCABULARY = json.loads((BUILTIN_WEIGHTS / "pipeline.json").read_text())["vocabulary"]
pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")  # the openai client's
SMALL = {"size": "32x32", "seconds": "0.5", "seed": 1, "steps": 1}


@pytest.fixture(scope="module")
def tiny_model_dir(tiny_model_dir, tmp_path_factory):
    """The tiny test model, told it knows the built-in model's words (the studio's built-in engine here)."""
    folder = tmp_path_factory.mktemp("vocab-model") / "model"
    shutil.copytree(tiny_model_dir, folder)
    config = json.loads((folder / "pipeline.json").read_text())
    (folder / "pipeline.json").write_text(json.dumps({**config, "vocabulary": BUILTIN_VOCABULARY}))
    return folder


def test_a_video_names_the_words_the_model_never_saw(client):
    r = client.post("/v1/videos", json={"prompt": "a crimson dragon circle", "negative_prompt": "blurry", **SMALL})
    assert r.status_code == 200, r.text
    v = r.json()
    assert len(v["warnings"]) == 1 and "draws nothing reliable for them: crimson, dragon, blurry" in v["warnings"][0]
    assert client.get(f"/v1/videos/{v['id']}").json()["warnings"] == v["warnings"]
    assert client.get("/v1/videos").json()["data"][0]["warnings"] == v["warnings"]
    known = client.post("/v1/videos", json={"prompt": "a red circle bouncing", **SMALL}).json()
    assert known["warnings"] == []


def test_the_openai_client_reads_the_warnings(svc):
    with live_server(svc) as url:  # no worker: the video stays queued
        client = OpenAI(base_url=f"{url}/v1", api_key="unused-by-an-open-studio", max_retries=0, timeout=60)
        video = client.videos.create(prompt="a crimson circle", size="32x32", seconds="1")
        assert video.object == "video" and video.status == "queued"
        assert "for them: crimson (" in video.warnings[0]  # an extra field: the client keeps it
        assert client.videos.retrieve(video.id).warnings == video.warnings


def test_remix_extend_and_storyboard_warn_too(client, svc):
    src = client.post("/v1/videos", json={"prompt": "a red circle", **SMALL}).json()
    assert src["warnings"] == [] and work(svc) == 1
    remix = client.post(f"/v1/videos/{src['id']}/remix", json={"prompt": "a scarlet circle"}).json()
    assert "for them: scarlet (" in remix["warnings"][0], remix
    ext = client.post("/v1/videos/extensions", json={"prompt": "a red circle zooming", "seconds": "0.5",
                                                     "video": {"id": src["id"]}}).json()
    assert "for them: zooming (" in ext["warnings"][0], ext
    board = client.post("/v1/videos", json={"task": "storyboard", "shots": "0s a red circle\n1s a teal hexagon",
                                            "size": "32x32", "steps": 1}).json()
    assert "for them: teal, hexagon (" in board["warnings"][0], board


def test_the_job_page_shows_the_warning(client):
    v = client.post("/v1/videos", json={"prompt": "a crimson circle", **SMALL}).json()
    page = client.get(f"/videos/{v['id']}").text
    assert 'id="warnings"' in page and "draws nothing reliable for them: crimson" in page
    known = client.post("/v1/videos", json={"prompt": "a red circle", **SMALL}).json()
    assert 'id="warnings"' not in client.get(f"/videos/{known['id']}").text


def test_an_engine_without_a_vocabulary_gives_no_warnings():
    svc = SimpleNamespace(engines=SimpleNamespace(get=lambda name: SimpleNamespace(name=name)))  # e.g. diffusers
    assert word_warnings(svc, "wan", "a crimson dragon") == []


def test_the_create_page_examples_use_only_words_the_builtin_model_knows(client):
    page = client.get("/").text
    examples = re.findall(r"“([^”]+)”", page)
    assert len(examples) >= 3, examples  # a prompt and a storyboard's shots
    assert {e: unknown_in(BUILTIN_VOCABULARY, e) for e in examples} == {e: [] for e in examples}
