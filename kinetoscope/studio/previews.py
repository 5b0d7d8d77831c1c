"""Live previews: while a job samples, its worker publishes a small picture of the current clean
estimate (a few frames side by side); GET /v1/videos/{id}/events sends each new one as a
`video.preview` event, GET /v1/videos/{id}/preview answers the latest, and the job page shows it
as it sharpens.

The cost stays small three ways: a preview is made only every few steps (about PER_RUN in a
denoising run, never at the last step, whose estimate is the video itself), only while the time
spent on previews is within SHARE of the job's time so far, and it decodes at most FRAMES latent
frames, each alone (`Pipeline.preview_frames`), shrunk to MAX_SIDE pixels: the first preview one
frame (the middle), later ones as many as the time left in the share pays for, at the measured
cost of a frame. `python -m
benchmarks.previews` measures what that adds to a default clip.

The preview lives in storage beside the job's files (`{id}/preview.json`, replaced atomically),
so a worker on any machine can publish it and any API process can send it; the worker removes it
when the job ends, whatever the ending.
"""

from __future__ import annotations

import base64
import io
import json
import time

import numpy as np

KEY = "preview.json"
PER_RUN = 6  # about this many previews per denoising run: every ceil(steps / PER_RUN)-th step
SHARE = 0.05  # previews stop while they have taken more than this share of the job's time so far
FRAMES = 3  # at most this many frames side by side: the first, the middle and the last
MAX_SIDE = 96  # each frame shrunk to at most this many pixels a side
GAP = 2  # pixels between frames


def key_of(video_id: str) -> str:
    return f"{video_id}/{KEY}"


def strip(frames: np.ndarray) -> bytes:
    """(k, H, W, 3) uint8 -> one WebP image of the frames side by side, each at most MAX_SIDE a side."""
    from PIL import Image

    k, h, w = frames.shape[:3]
    scale = min(1.0, MAX_SIDE / max(h, w))
    fw, fh = max(1, round(w * scale)), max(1, round(h * scale))
    sheet = Image.new("RGB", (k * fw + (k - 1) * GAP, fh), (255, 255, 255))
    for j, frame in enumerate(frames):
        img = Image.fromarray(frame)
        sheet.paste(img if scale == 1.0 else img.resize((fw, fh), Image.BILINEAR), (j * (fw + GAP), 0))
    buf = io.BytesIO()
    sheet.save(buf, format="WEBP", quality=80)
    return buf.getvalue()


class Publisher:
    """The preview hook a worker hangs on its progress callback (kinetoscope.progress.WithPreview):
    `publisher(i, n, frames)` after each denoising step; it decides whether this step gets a preview."""

    def __init__(self, storage, video_id: str, clock=time.perf_counter):
        self.storage, self.video_id, self.clock = storage, video_id, clock
        self.start = clock()
        self.spent = 0.0  # seconds in previews so far
        self.per_frame: float | None = None  # the last preview's seconds per frame shown
        self.count = 0

    def budget(self) -> float:
        """Seconds previews may still take now."""
        return SHARE * (self.clock() - self.start) - self.spent

    def due(self, i: int, n: int) -> bool:
        if i >= n or i % max(1, -(-n // PER_RUN)):
            return False
        return self.budget() >= (self.per_frame or 0.0)

    def __call__(self, i: int, n: int, frames) -> None:
        if not self.due(i, n):
            return
        count = 1 if self.per_frame is None else max(1, min(FRAMES, int(self.budget() / max(self.per_frame, 1e-9))))
        t = self.clock()
        shown = frames(count)  # (count, H, W, 3) uint8
        body = {"id": self.video_id, "object": "video.preview", "step": i, "steps": n, "frames": int(len(shown)),
                "width": int(shown.shape[2]), "height": int(shown.shape[1]), "created_at": time.time(),
                "image": "data:image/webp;base64," + base64.b64encode(strip(shown)).decode()}
        self.storage.put_bytes(key_of(self.video_id), json.dumps(body).encode())
        cost = self.clock() - t
        self.spent += cost
        self.per_frame = cost / count
        self.count += 1


def latest(storage, video_id: str) -> dict | None:
    """The job's newest preview (see Publisher's body), or None."""
    try:
        return json.loads(storage.path(key_of(video_id)).read_bytes())
    except (OSError, ValueError):
        return None


def image_of(preview: dict) -> bytes:
    return base64.b64decode(preview["image"].split(",", 1)[1])


def discard(storage, video_id: str) -> None:
    storage.delete_prefix(key_of(video_id))


class Follower:
    """For an event stream: `new()` answers the job's preview when it changed since the last call."""

    def __init__(self, storage, video_id: str):
        self.storage, self.video_id, self.seen = storage, video_id, None

    def new(self) -> dict | None:
        try:
            st = self.storage.path(key_of(self.video_id)).stat()
            stamp = (st.st_ino, st.st_mtime_ns)  # each write is a new file (an atomic replace)
        except OSError:
            return None
        if stamp == self.seen:
            return None
        preview = latest(self.storage, self.video_id)
        if preview is not None:
            self.seen = stamp
        return preview
