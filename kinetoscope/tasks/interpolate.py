"""interpolate: connect two images with generated frames in between.

The first image is given as frame 0 and, where the clip is long enough (1 + 3k frames, k = 4,
the latent chunk), held through the next chunk too (5 frames); the last image is held for the
final chunk (4 frames), the shortest given span the model has at an end (see tasks/given.py).

Why not just hold them: the model draws a given object less crisply than the image shows it,
so a held image met the first generated frame in one step (1.83x the median frame step, worst
2.85x, 8 held-out clips, v0.4). Here, as in extend, the given latent frames next to the new
ones are released below noise level RELEASE (`GenerationRequest.given_release`) and denoised
with them, and each image's held copies then dissolve into the generated frame they meet. The
first and last frames are the images exactly; the held copies in between carried nothing but
a repeat of them. Measured on the same clips: boundary steps 1.00x median (worst 1.33x), the
largest step anywhere 1.62x median (2.28x) against 1.96x (2.85x) held (`kinetoscope eval --tasks`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from kinetoscope.pipeline import Pipeline, RequestError, Video
from kinetoscope.tasks.given import fill, interpolate_request
from kinetoscope.tasks.windows import _crossfade

RELEASE = 0.3  # the given latent frames next to the generated ones are held down to this noise level


def head_frames(k: int, frames: int) -> int:
    """Frames the first image is given for: 1 + k where a free chunk is left between it and the last image's k."""
    return 1 + k if frames >= 1 + 3 * k else 1


def _dissolve(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """n frames from image `a` (first) to image `b` (last)."""
    return _crossfade(np.repeat(a[None], n, 0), np.repeat(b[None], n, 0), towards_end=True)


def interpolate(pipe: Pipeline, first: np.ndarray, last: np.ndarray, prompt: str, release: float = RELEASE,
                dissolve: bool = True, progress=None, **kw) -> Video:
    """`first` and `last` (any size, fitted by tasks.given.RESIZE_POLICY) become the first and
    the last frames; the prompt drives what happens between. `release` and `dissolve` apply
    where the first image can be held for a chunk (13 frames or more); below that the images
    are held as given, as `interpolate_request` alone does."""
    if not (0.0 <= release <= 1.0):
        raise RequestError(f"release {release} is out of range: allowed 0 (hold the images) to 1")
    req = interpolate_request(pipe, first, last, prompt, **kw)
    k = pipe.vae.config.time_factor
    head = head_frames(k, req.frames)
    if head == 1:
        release, dissolve = 0.0, False
    given = req.given_frames.copy()
    given[:head] = given[0]
    mask = [True] * head + [False] * (req.frames - head - k) + [True] * k
    req = dataclasses.replace(req, given_frames=fill(given, mask), given_mask=mask, given_release=release)
    video = pipe.generate(req, progress=progress)
    frames = video.frames
    if dissolve:
        frames = frames.copy()
        frames[: head + 1] = _dissolve(given[0], frames[head], head + 1)
        frames[-k - 1:] = _dissolve(frames[-k - 1], given[-1], k + 1)
    meta = {**video.metadata, "task": "interpolate", "head_frames": head, "release": release, "dissolve": dissolve}
    return Video(frames=frames, fps=video.fps, metadata=meta)
