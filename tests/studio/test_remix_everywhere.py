"""One recipe, one remix: a studio-made loop or storyboard remixed on the command line, and a
command-line-made one remixed through the API (POST /v1/videos/remixes), keep their task."""

import pytest

from kinetoscope.cli import main
from kinetoscope.media import read_metadata, read_video
from tests.studio.helpers import work

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def download(client, svc, vid, name):
    path = svc.settings.data_dir / name
    path.write_bytes(client.get(f"/v1/videos/{vid}/content").content)
    return path


def made(client, svc, body) -> dict:
    r = client.post("/v1/videos", json={"size": "32x32", "steps": 1, "seed": 3, **body})
    assert r.status_code == 200, r.text
    assert work(svc) == 1
    v = client.get(f"/v1/videos/{r.json()['id']}").json()
    assert v["status"] == "completed", v
    return v


def test_studio_loop_and_storyboard_remixed_from_the_cli_keep_their_task(client, svc, tiny_model_dir, tmp_path):
    loop = made(client, svc, {"task": "loop", "prompt": "a red circle", "seconds": "2"})
    board = made(client, svc, {"task": "storyboard", "shots": "0s a red circle\n1s a blue square", "seconds": "2"})
    for v, task in ((loop, "loop"), (board, "storyboard")):
        src = download(client, svc, v["id"], f"{task}.mp4")
        recipe = read_metadata(src)["recipe"]  # the studio's output carries the command line's recipe
        assert recipe["task"] == task and recipe["params"]["seed"] == 3
        out = tmp_path / f"{task}-remix.mp4"
        assert main(["generate", "--weights", str(tiny_model_dir), "--quiet", "--task", "remix", "--video", str(src),
                     "--seed", "9", "--out", str(out)]) == 0
        meta = read_metadata(out)
        assert meta["recipe"]["task"] == task and meta["recipe"]["params"]["seed"] == 9
        assert read_video(out)[0].shape[1:] == (32, 32, 3)
    assert "bridge_frames" in read_metadata(tmp_path / "loop-remix.mp4")  # a loop, not a plain clip
    assert [s["prompt"] for s in read_metadata(tmp_path / "storyboard-remix.mp4")["recipe"]["params"]["shots"]] == \
        ["a red circle", "a blue square"]


def test_cli_made_loop_and_storyboard_remixed_through_the_api_keep_their_task(client, svc, tiny_model_dir, tmp_path):
    w = ["--weights", str(tiny_model_dir), "--quiet", "--steps", "1", "--size", "32x32", "--seed", "4"]
    assert main(["generate", "a red circle", *w, "--task", "loop", "--frames", "9", "--out", str(tmp_path / "l.mp4")]) == 0
    assert main(["generate", *w, "--at", "0s", "a red dot", "--at", "1s", "a blue dot", "--seconds", "2",
                 "--frames", "9", "--out", str(tmp_path / "s.mp4")]) == 0
    for name, task, change in (("l.mp4", "loop", {"prompt": "a blue circle"}), ("s.mp4", "storyboard", {"seed": "7"})):
        r = client.post("/v1/videos/remixes", data=change, files={"video": (name, (tmp_path / name).read_bytes(), "video/mp4")})
        assert r.status_code == 200, r.text
        v = r.json()
        assert v["task"] == task and v["remixed_from_video_id"] is None
        assert work(svc) == 1
        v = client.get(f"/v1/videos/{v['id']}").json()
        assert v["status"] == "completed", v
        meta = read_metadata(download(client, svc, v["id"], f"api-{name}"))
        assert meta["recipe"]["task"] == task
    assert meta["recipe"]["params"]["seed"] == 7 and [s["prompt"] for s in meta["recipe"]["params"]["shots"]] == \
        ["a red dot", "a blue dot"]


def test_a_studio_remix_keeps_every_task(client, svc):
    """POST /v1/videos/{id}/remix means the recipe again with changes, whatever the task: an extension
    stays an extension of the same video (it used to become a plain text->video clip)."""
    src = made(client, svc, {"prompt": "a red circle", "seconds": "1"})
    r = client.post("/v1/videos/extensions", json={"video": {"id": src["id"]}, "prompt": "more", "seconds": "1", "steps": 1})
    assert r.status_code == 200, r.text
    assert work(svc) == 1
    ext = client.get(f"/v1/videos/{r.json()['id']}").json()
    mix = client.post(f"/v1/videos/{ext['id']}/remix", json={"prompt": "even more"}).json()
    assert mix["task"] == "extend" and mix["source_video_id"] == src["id"] and mix["seconds"] == ext["seconds"]
    assert work(svc) == 1
    done = client.get(f"/v1/videos/{mix['id']}").json()
    assert done["status"] == "completed", done
    frames, _ = read_video(download(client, svc, mix["id"], "ext-remix.mp4"))
    assert read_metadata(svc.settings.data_dir / "ext-remix.mp4")["recipe"]["task"] == "extend"
    assert len(frames) == len(read_video(download(client, svc, ext["id"], "ext.mp4"))[0])


def test_a_file_without_a_recipe_is_a_400_naming_video(client, svc, tmp_path):
    from kinetoscope.media import write_video
    import numpy as np

    write_video(tmp_path / "plain.mp4", np.zeros((5, 32, 32, 3), np.uint8), 8)
    r = client.post("/v1/videos/remixes", files={"video": ("plain.mp4", (tmp_path / "plain.mp4").read_bytes(), "video/mp4")})
    assert r.status_code == 400 and r.json()["error"]["param"] == "video", r.text
    assert "no kinetoscope recipe" in r.json()["error"]["message"]
    assert client.post("/v1/videos/remixes", data={"prompt": "x"}).json()["error"]["param"] == "video"
    assert client.get("/v1/videos").json()["data"] == []
