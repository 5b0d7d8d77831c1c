"""Storyboards and loops over the API (POST /v1/videos task storyboard / loop), their remixes,
and their refusals; on SQLite and on PostgreSQL + Redis."""

import pytest

from kinetoscope.media import read_video
from tests.studio.helpers import work

SHOTS = [{"at": "0s", "prompt": "a red circle on blue"}, {"at": "1.5s", "prompt": "a green square on white"}]


def download(client, svc, vid):
    path = svc.settings.data_dir / f"{vid}.mp4"
    path.write_bytes(client.get(f"/v1/videos/{vid}/content").content)
    return read_video(path)


def test_storyboard_from_a_json_list_of_shots(client, svc):
    r = client.post("/v1/videos", json={"task": "storyboard", "shots": SHOTS, "seconds": "3", "size": "32x32",
                                        "steps": 2, "seed": 5, "transition": "cut"})
    assert r.status_code == 200, r.text
    v = r.json()
    assert v["task"] == "storyboard" and v["seconds"] == "3" and v["prompt"] == "a red circle on blue → a green square on white"
    assert v["request"]["shots"] == [{"at": 0.0, "prompt": SHOTS[0]["prompt"]}, {"at": 1.5, "prompt": SHOTS[1]["prompt"]}]
    assert work(svc) == 1
    v = client.get(f"/v1/videos/{v['id']}").json()
    assert v["status"] == "completed", v
    frames, fps = download(client, svc, v["id"])
    assert fps == 8 and frames.shape == (24, 32, 32, 3)  # 3 s at 8 fps

    # a remix keeps the shots and settings; a new prompt is new shots, one per line
    r = client.post(f"/v1/videos/{v['id']}/remix", json={"prompt": "0s a blue ball\n1s a yellow ball"})
    assert r.status_code == 200, r.text
    again = r.json()
    assert again["task"] == "storyboard" and again["remixed_from_video_id"] == v["id"]
    assert [s["prompt"] for s in again["request"]["shots"]] == ["a blue ball", "a yellow ball"]
    assert again["request"]["seed"] == 5 and again["request"]["transition"] == "cut" and again["size"] == "32x32"
    r = client.post(f"/v1/videos/{v['id']}/remix", json={"shots": "0s a blue ball\n1.5s a yellow ball", "seed": 6})
    assert r.status_code == 200, r.text
    assert r.json()["request"]["seed"] == 6 and r.json()["seconds"] == "3.5"  # new shots: the last + one clip
    assert client.post(f"/v1/videos/{v['id']}/remix", json={"seed": 6}).json()["error"]["message"] == \
        "prompt is required (or shots)"


def test_storyboard_lines_in_a_form(client, svc):
    r = client.post("/v1/videos", data={"task": "storyboard", "shots": "0s a red circle\n\n2s a blue square",
                                        "size": "32x32", "steps": "2"})
    assert r.status_code == 200, r.text
    v = r.json()
    assert [s["at"] for s in v["request"]["shots"]] == [0.0, 2.0] and v["seconds"] == "4"  # last shot + one clip


@pytest.mark.parametrize("body,param,needle", [
    ({"task": "storyboard"}, "shots", "a storyboard needs shots"),
    ({"task": "storyboard", "shots": "a red circle"}, "shots", "'a' is not a time"),
    ({"task": "storyboard", "shots": "0s"}, "shots", "needs a time and a prompt"),
    ({"task": "storyboard", "shots": "1s a red circle"}, "shots", "starts at 0s"),
    ({"task": "storyboard", "shots": "0s a\n2s b\n1s c"}, "shots", "times must increase"),
    ({"task": "storyboard", "shots": "0s a\n0.5s b"}, "shots", "needs at least"),
    ({"task": "storyboard", "shots": "0s a\n3s b", "seconds": "2"}, "seconds", "beyond the video's length"),
    ({"task": "storyboard", "shots": "0s a", "seconds": "999"}, "seconds", "at most"),
    ({"task": "storyboard", "shots": "0s a", "transition": "wipe"}, "transition", "'wipe' is not allowed"),
    ({"task": "storyboard", "shots": '[{"at": "0s"}]'}, "shots", "needs `at`"),
    ({"task": "storyboard", "shots": '[{"at": "0s", "prompt": "a", "image": "k.png"}]'}, "shots", "command line"),
    ({"task": "storyboard", "shots": "0s a calm lake\n2s a school shooting"}, "shots", "content policy"),
    ({"task": "dance", "prompt": "a"}, "task", "storyboard"),
])
def test_bad_storyboards_are_400s_naming_the_field_and_queue_nothing(client, body, param, needle):
    r = client.post("/v1/videos", json={"size": "32x32", **body})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["param"] == param and needle in err["message"], err
    assert client.get("/v1/videos").json()["data"] == []


def test_loop_is_labelled_with_its_length_and_remixes_as_a_loop(client, svc):
    r = client.post("/v1/videos", json={"task": "loop", "prompt": "a red circle", "size": "32x32", "steps": 2,
                                        "seconds": "2"})
    assert r.status_code == 200, r.text
    vid = r.json()["id"]
    assert work(svc) == 1
    v = client.get(f"/v1/videos/{vid}").json()
    assert v["status"] == "completed", v
    frames, fps = download(client, svc, vid)
    assert len(frames) > 17 and v["seconds"] == f"{len(frames) / fps:g}"  # the clip, its bridge, less the crossfade
    r = client.post(f"/v1/videos/{vid}/remix", json={"prompt": "a blue circle"})
    assert r.status_code == 200 and r.json()["task"] == "loop" and r.json()["prompt"] == "a blue circle"
