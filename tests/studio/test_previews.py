"""Live previews: the sampler's hook sees each step's clean estimate without changing the video; the
publisher keeps to its share of the time; a job being made sends `video.preview` events with a picture
of its first, middle and last frames, and none is left once it is done."""

import io
import json
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from kinetoscope.pipeline import GenerationRequest
from kinetoscope.progress import WithPreview
from kinetoscope.studio import previews
from kinetoscope.studio.storage import LocalStorage
from kinetoscope.studio.worker import Worker
from tests.conftest import tiny_pipeline


def test_the_preview_hook_sees_the_estimate_and_changes_nothing(text_encoder):
    pipe = tiny_pipeline()
    pipe._text = text_encoder
    req = GenerationRequest(prompt="a red circle", width=32, height=32, frames=9, steps=6, seed=1)
    plain = pipe.generate(req).frames
    seen = []

    def look(i, n, frames):
        shown = frames(3)
        seen.append((i, n, shown.shape, shown.dtype))

    steps = []
    hooked = pipe.generate(req, progress=WithPreview(lambda stage, i, n: steps.append((stage, i)), look)).frames
    assert np.array_equal(plain, hooked)  # looking does not change the video
    assert [s[:2] for s in seen] == [(i, 6) for i in range(1, 7)]
    assert all(shape == (3, 32, 32, 3) and dtype == np.uint8 for *_, shape, dtype in seen)  # 3 latent frames of 3
    middle = pipe.preview_frames(pipe.vae.encode(torch.zeros(1, 3, 9, 32, 32)), 1)
    assert middle.shape == (1, 32, 32, 3)
    assert ("denoise", 6) in steps and ("decode", 1) in steps  # the progress it wraps still runs


def test_the_publisher_keeps_to_its_share_of_the_time(tmp_path):
    now = [0.0]
    pub = previews.Publisher(LocalStorage(tmp_path), "video_x", clock=lambda: now[0])
    frames = lambda count: np.full((count, 32, 32, 3), 128, np.uint8)  # noqa: E731

    def slow_frames(count):
        now[0] += 1.0  # one preview costs a second
        return frames(count)

    made = []
    for i in range(1, 61):  # 60 steps of a second each
        now[0] += 1.0
        before = pub.count
        pub(i, 60, slow_frames)
        if pub.count > before:
            made.append(i)
    assert made[0] == 10  # every ceil(60 / PER_RUN) = 10th step, while within budget
    assert all(i % 10 == 0 for i in made) and 60 not in made  # never the last step
    assert pub.spent <= previews.SHARE * now[0] + 1.0  # within its share, give or take the one it was making
    assert len(made) >= 2
    stored = previews.latest(LocalStorage(tmp_path), "video_x")
    assert stored["step"] == made[-1] and stored["steps"] == 60
    # the first preview shows one frame; later ones as many as the budget pays for, at most FRAMES
    assert pub.count == len(made) and 1 <= stored["frames"] <= previews.FRAMES
    image = Image.open(io.BytesIO(previews.image_of(stored)))
    k = stored["frames"]
    assert image.format == "WEBP" and image.size == (k * 32 + (k - 1) * previews.GAP, 32)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_job_being_made_sends_previews(client, svc):
    video = client.post("/v1/videos", json={"prompt": "a red circle moving right", "size": "256x256", "seconds": "2",
                                            "steps": 200}).json()
    stop = threading.Event()
    thread = threading.Thread(target=Worker(svc, worker_id="w").run_forever, args=(stop,), daemon=True)
    thread.start()
    events = []
    try:
        with client.stream("GET", f"/v1/videos/{video['id']}/events") as r:
            name = None
            for line in r.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    events.append((name, json.loads(line[6:])))
                    if name == "video.preview" and len([e for e in events if e[0] == "video.preview"]) == 1:
                        got = client.get(f"/v1/videos/{video['id']}/preview")  # the latest, as an image
                        assert got.status_code == 200 and got.headers["content-type"] == "image/webp"
                        assert 0 < int(got.headers["x-preview-step"]) < 200
                    if name in ("video.completed", "video.failed"):
                        break
    finally:
        stop.set()
        thread.join(30)
    names = [n for n, _ in events]
    assert names[-1] == "video.completed", names
    shown = [d for n, d in events if n == "video.preview"]
    assert shown, names
    steps = [d["steps"] for d in shown]
    assert all(0 < d["step"] < d["steps"] for d in shown) and set(steps) == {200}
    assert [d["step"] for d in shown] == sorted({d["step"] for d in shown})  # each new, in order
    image = Image.open(io.BytesIO(previews.image_of(shown[-1])))
    k = shown[-1]["frames"]
    assert image.size == (k * previews.MAX_SIDE + (k - 1) * previews.GAP, previews.MAX_SIDE)  # 256 px frames shrunk
    assert all(1 <= d["frames"] <= previews.FRAMES for d in shown)
    assert np.asarray(image).std() > 0
    # done: no preview is left, and the video's files are all that is stored
    assert client.get(f"/v1/videos/{video['id']}/preview").status_code == 404
    assert sorted(p.name for p in svc.storage.path(video["id"]).iterdir()) == ["spritesheet.jpg", "thumbnail.webp",
                                                                                 "video.mp4"]


def test_discarding_a_preview_removes_a_half_written_copy_a_killed_worker_left(tmp_path):
    store = LocalStorage(tmp_path)
    store.put_bytes(previews.key_of("video_x"), b"{}")
    store.put_bytes("video_x/video.mp4", b"mp4")
    orphan = tmp_path / "video_x" / ".tmp-preview.json-k1ll3d.json"  # SIGKILL between write and rename
    orphan.write_bytes(b'{"id": "vid')
    previews.discard(store, "video_x")
    assert sorted(p.name for p in (tmp_path / "video_x").iterdir()) == ["video.mp4"]


def test_storing_a_key_again_removes_the_copy_a_killed_writer_left(tmp_path):
    """A worker SIGKILLed while it stored a video leaves its temporary copy; the retried job's
    store of the same key removes it, and leaves other keys' copies alone."""
    store = LocalStorage(tmp_path)
    store.put_bytes("video_x/thumbnail.webp", b"webp")
    orphan = tmp_path / "video_x" / ".tmp-video.mp4-k1ll3d.mp4"
    orphan.write_bytes(b"half an mp4")
    other = tmp_path / "video_x" / ".tmp-spritesheet.jpg-w0rk1ng.jpg"  # another key's, being written
    other.write_bytes(b"jp")
    store.put_bytes("video_x/video.mp4", b"the whole mp4")
    assert sorted(p.name for p in (tmp_path / "video_x").iterdir()) == [other.name, "thumbnail.webp", "video.mp4"]
    assert store.path("video_x/video.mp4").read_bytes() == b"the whole mp4"
