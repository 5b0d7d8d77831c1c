"""Tasks that start from still images: image->video (`i2v`) and `interpolate`.

The first image is given as frame 0 and, where the clip is long enough, held through the next
HOLD frames too, in whole latent chunks (`hold_frames`: one chunk, 1 + 4 frames, at 4x time
compression; 4 frames in pixel space, where a chunk is one frame and a dissolve over it would be
a cut); interpolate's last image is held for as many at the end where they fit, else for the
final chunk, the shortest given span the model has at an end (see tasks/given.py).

The model draws a given object less crisply than the image shows it, so a held image would meet
the first generated frame in one step. As in extend, the given latent frames next to the new ones
are released below noise level RELEASE (`GenerationRequest.given_release`) and denoised with
them, and each image's held copies then dissolve into the generated frame they meet. The first
(and last) frames are the images exactly. `kinetoscope eval --tasks` measures the steps.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from kinetoscope.pipeline import GenerationRequest, Pipeline, Video
from kinetoscope.tasks.given import fill, i2v_request, interpolate_request
from kinetoscope.tasks.windows import check_release, crossfade

RELEASE = 0.3  # the given latent frames next to the generated ones are held down to this noise level
HOLD = 4  # frames an image is held for besides its own (in whole chunks): the frames its dissolve spans


def hold_frames(k: int) -> int:
    """HOLD in whole chunks of `k` frames."""
    return k * -(-HOLD // k)


def head_frames(k: int, frames: int, tail: int = 0) -> int:
    """Frames the first image is given for: 1 + hold_frames(k) where a free chunk is left after
    them (and `tail`), else 1."""
    h = hold_frames(k)
    return 1 + h if frames >= 1 + h + k + tail else 1


def tail_frames(k: int, frames: int) -> int:
    """Frames interpolate's last image is given for: hold_frames(k) where the first image's as
    many and a free chunk still fit before them, else one chunk."""
    h = hold_frames(k)
    return h if frames >= 1 + 2 * h + k else k


def _dissolve(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """n frames from image `a` (first) to image `b` (last)."""
    return crossfade(np.repeat(a[None], n, 0), np.repeat(b[None], n, 0))


def from_stills(pipe: Pipeline, req: GenerationRequest, task: str, tail: int, release: float, dissolve: bool,
                 progress) -> Video:
    """`req` with frame 0 (and the last `tail` frames) given: hold the first image for a chunk
    where it fits, release, generate, dissolve the held copies."""
    check_release(release)
    k = pipe.vae.config.time_factor
    head = head_frames(k, req.frames, tail)
    if head == 1:
        release, dissolve = 0.0, False
    given = req.given_frames.copy()
    given[:head] = given[0]
    if tail:
        given[len(given) - tail:] = given[-1]
    mask = [True] * head + [False] * (req.frames - head - tail) + [True] * tail
    req = dataclasses.replace(req, given_frames=fill(given, mask), given_mask=mask, given_release=release)
    video = pipe.generate(req, progress=progress)
    frames = video.frames
    if dissolve:
        frames = frames.copy()
        frames[: head + 1] = _dissolve(given[0], frames[head], head + 1)
        if tail:
            frames[-tail - 1:] = _dissolve(frames[-tail - 1], given[-1], tail + 1)
    meta = {**video.metadata, "task": task, "head_frames": head, "tail_frames": tail, "release": release,
            "dissolve": dissolve}
    return Video(frames=frames, fps=video.fps, metadata=meta)


def i2v(pipe: Pipeline, image: np.ndarray, prompt: str, release: float = RELEASE, dissolve: bool = True,
        progress=None, **kw) -> Video:
    """`image` (any size, fitted by tasks.given.RESIZE_POLICY) becomes the first frame; the prompt
    drives the motion. `release` and `dissolve` apply where the image can be held (`head_frames`:
    9 frames or more at 4x time compression, 6 in pixel space); below that it is held as given,
    as `i2v_request` alone does."""
    req = i2v_request(pipe, image, prompt, **kw)
    return from_stills(pipe, req, "i2v", 0, release, dissolve, progress)


def interpolate(pipe: Pipeline, first: np.ndarray, last: np.ndarray, prompt: str, release: float = RELEASE,
                dissolve: bool = True, progress=None, **kw) -> Video:
    """`first` and `last` become the first and the last frames; the prompt drives what happens
    between. `release` and `dissolve` apply where the first image can be held (`head_frames`: 13
    frames or more at 4x time compression, 7 in pixel space); below that the images are held as
    given, as `interpolate_request` alone does."""
    req = interpolate_request(pipe, first, last, prompt, **kw)
    tail = tail_frames(pipe.vae.config.time_factor, req.frames)
    return from_stills(pipe, req, "interpolate", tail, release, dissolve, progress)
