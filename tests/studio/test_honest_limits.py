"""Honest limits: what each model was trained for (sizes, longest clip) is reported by GET /v1/models,
offered by default on the create page, and anything beyond it is flagged on the video (or refused
where the engine says so); sizes and lengths a model cannot make at all are a 400 listing what it can.
The model here is the tiny test model with a pipeline.json that says it was trained at 32x32, 2 s."""

import json
import re
import shutil

import pytest

from kinetoscope.engines.base import BEYOND, Capabilities, beyond_trained
from kinetoscope.studio.api.errors import ApiError
from kinetoscope.studio.api.trained import trained_warnings
from kinetoscope.studio.web.choices import trained_options
from tests.studio.helpers import work

sqlite = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the pages and routes are the same on PostgreSQL
ALIASES = {"sora-2": "kinetoscope-builtin", "sora-2-pro": "kinetoscope-builtin"}


@pytest.fixture(scope="module")
def trained_model_dir(tiny_model_dir, tmp_path_factory):
    """The tiny model, saying (as the retrained built-in model's pipeline.json will) 32x32 and 2 s."""
    folder = tmp_path_factory.mktemp("trained-model") / "model"
    shutil.copytree(tiny_model_dir, folder)
    config = json.loads((folder / "pipeline.json").read_text())
    config.update(trained_sizes=["32x32"], trained_seconds=2.0)
    (folder / "pipeline.json").write_text(json.dumps(config))
    return folder


@pytest.fixture
def settings(settings, trained_model_dir):
    return settings.with_(builtin_spec=f"builtin:{trained_model_dir}", model_aliases=ALIASES)


@sqlite
def test_models_lists_engines_and_aliases_with_what_each_was_trained_for(client):
    data = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
    assert list(data) == ["kinetoscope-builtin", "sora-2", "sora-2-pro"]
    for name in data:
        assert data[name]["trained"] == {"sizes": ["32x32"], "seconds": 2.0, "beyond": "warn",
                                         "tasks": data["kinetoscope-builtin"]["capabilities"]["tasks"]}
    assert data["sora-2"]["alias_of"] == "kinetoscope-builtin" and "alias_of" not in data["kinetoscope-builtin"]
    assert data["kinetoscope-builtin"]["capabilities"]["trained_sizes"] == ["32x32"]
    one = client.get("/v1/models/sora-2")
    assert one.status_code == 200 and one.json()["alias_of"] == "kinetoscope-builtin"
    assert client.get("/v1/models/sora-3").status_code == 404


@sqlite
def test_a_request_beyond_training_is_made_and_says_so_and_one_within_does_not(client, svc):
    beyond = client.post("/v1/videos", json={"prompt": "a red circle", "size": "64x48", "seconds": "3"}).json()
    notes = [w for w in beyond["warnings"] if BEYOND in w]
    assert notes == [f"size 64x48 is {BEYOND} (32x32): it may come out blurred, empty or broken",
                     f"3 s is {BEYOND} (up to 2 s): it may come out blurred, empty or broken"]
    within = client.post("/v1/videos", json={"prompt": "a red circle", "size": "32x32", "seconds": "2"}).json()
    assert not [w for w in within["warnings"] if BEYOND in w]
    assert work(svc, 2) == 2
    assert client.get(f"/v1/videos/{beyond['id']}").json()["status"] == "completed"
    remix = client.post(f"/v1/videos/{within['id']}/remix", json={"prompt": "a blue circle", "size": "64x64"}).json()
    assert [w for w in remix["warnings"] if BEYOND in w] == [
        f"size 64x64 is {BEYOND} (32x32): it may come out blurred, empty or broken"]


@sqlite
@pytest.mark.parametrize("body,param,fragments", [
    ({"size": "512x512"}, "size", ["width 512", "multiple of 16 from 32 to 256"]),
    ({"size": "40x32"}, "size", ["width 40", "multiple of 16 from 32 to 256"]),
    ({"seconds": "40"}, "seconds", ["seconds 40", "allowed 0 to 32 at 8 fps"]),
    ({"seconds": "-1"}, "seconds", ["seconds -1", "allowed 0 to 32"]),
])
def test_sizes_and_lengths_the_engine_cannot_make_are_a_400_listing_what_it_can(client, svc, body, param, fragments):
    for model in ("kinetoscope-builtin", "sora-2"):
        r = client.post("/v1/videos", json={"prompt": "a red circle", "model": model, **body})
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert err["param"] == param and all(f in err["message"] for f in fragments), err["message"]
    assert client.get("/v1/videos").json()["data"] == [] and not any(svc.settings.files_dir.iterdir())


@sqlite
def test_create_page_offers_the_trained_size_and_length_and_marks_the_rest(client):
    html = client.get("/").text
    groups = re.findall(r'<optgroup label="([^"]+)">(.*?)</optgroup>', html, re.S)
    assert groups[0][0] == "Trained for" and re.findall(r'value="([^"]+)"', groups[0][1]) == ["32x32"]
    assert re.search(r'<option value="32x32" selected>', html)  # the default is a trained size
    assert len(groups) > 1 and all(label.endswith(f"({BEYOND})") for label, _ in groups[1:])
    for _, options in groups[1:]:
        for size in re.findall(r'value="([^"]+)"', options):
            assert re.search(rf'<option value="{size}"[^>]*data-beyond', options), size
    seconds = re.search(r'<input id="f-seconds"[^>]*>', html).group(0)
    assert 'data-trained-seconds="2"' in seconds and 'value="2"' in seconds and 'max="32"' in seconds
    assert "Trained for up to 2 s, makes up to 32 s." in html


# --- the one judgement, and engines that refuse beyond their training -----------------------------------
def caps(**kw) -> Capabilities:
    base = dict(tasks=("t2v",), width=720, height=480, seconds=6.0, fps=8, min_size=480, max_size=720,
                size_multiple=16, max_frames=49)
    return Capabilities(**{**base, **kw})


def test_beyond_trained_judges_sizes_and_lengths_and_falls_back_to_the_defaults():
    c = caps(trained_sizes=("720x480", "480x720"), trained_seconds=4.0)
    assert beyond_trained(c, 720, 480, 4.0) == {} and beyond_trained(c, 480, 720, 0.5) == {}
    assert beyond_trained(c, 640, 480, 4.5) == {"size": f"size 640x480 is {BEYOND} (720x480, 480x720)",
                                                "seconds": f"4.5 s is {BEYOND} (up to 4 s)"}
    plain = caps()  # a model that does not say: its default size and length
    assert plain.sizes_trained == ("720x480",) and plain.seconds_trained == 6.0
    assert set(beyond_trained(plain, 480, 720, 6.5)) == {"size", "seconds"}


class FixedSizeEngine:
    """An engine whose model makes only what it was trained for (as CogVideoX 1.0's learned positions)."""

    name = "fixed"
    capabilities = caps(beyond="refuse")


def test_an_engine_that_refuses_beyond_its_training_gets_a_400_and_the_page_offers_only_that():
    from kinetoscope.request import GenerationRequest

    req = GenerationRequest(prompt="a ball", width=480, height=480, seconds=2.0, frames=17, fps=8)
    with pytest.raises(ApiError) as e:
        trained_warnings("fixed", FixedSizeEngine(), req)
    assert e.value.status == 400 and e.value.param == "size"
    assert f"size 480x480 is {BEYOND} (720x480)" in e.value.message and "only what it was trained for" in e.value.message
    options = trained_options(FixedSizeEngine.capabilities)
    assert options["sizes"] == [("Trained for", ["720x480"])] and options["max_seconds"] == "6"
