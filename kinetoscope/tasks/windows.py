"""Sliding windows: continue a video forwards or backwards by any number of frames.

Forwards, each window has the last 1+k(n-1) frames given (n = overlap latents, a prefix; k = the
autoencoder's frames per latent chunk: 4 for the causal autoencoder, 1 in pixel space) and
generates the rest; backwards, the first kn frames are given at the window's end (a suffix).
A forward run may also have to land on `end` frames (kj of them, given as the last window's
suffix): that is how a loop closes and a storyboard reaches its next keyframe. Only new frames
are added; the frames that were given are kept, but for each window's overlap, which is
crossfaded into the window's own decoding of it (`blend`), all input at its far end and all
window at the end next to the new frames.

An overlap left to its default (extend, loop, recut, a storyboard's windows) is counted in
frames, not latents: the longest up to OVERLAP_FRAMES forwards that the video and the window
allow (`longest_overlap`), so a model without time compression gets 9 frames as one with 4x
does, not 3. `overlap_latents`, where a caller gives it, stays a count of latent frames.

Why the window may redraw its overlap: the model draws a given object less crisply than the
input shows it (a triangle becomes a rounder blob), so with the overlap held exactly, the
change came all at once at the first new frame (1.7x the median frame step, measured on 8
held-out clips). With `release` (extend's default 0.5), the given latent frame next to the
new ones is held only while the noise level is above 0.5, then denoised with the new frames,
so the window's own decoding of the overlap already leads into them, and the crossfade
spreads the difference from the input over the overlap's frames (`kinetoscope eval --tasks`).
On a model without time compression that latent is a single frame and the rest of the overlap
is held exactly, so the difference still lands on that one frame, however long the overlap.

Drift: every window only sees its overlap, so colour can wander over many windows.
`anchor` re-anchors each window: the new frames' mean colour per channel is pulled back to
the reference (the input's last frames) by the amount it moved, which keeps a 30-s extension's
background colour bounded (measured in `kinetoscope eval --tasks`).
"""

from __future__ import annotations

import numpy as np

from kinetoscope import limits
from kinetoscope.pipeline import GenerationRequest, Pipeline, RequestError, Video
from kinetoscope.tasks.given import check_video, video_request, window

DIRECTIONS = ("forward", "backward")
OVERLAP_FRAMES = 9  # the longest default overlap forwards, any k (3 latents at k=4, 12 frames backwards; 9 at k=1)
RELEASE = 0.5  # extend: the given latent frame next to the new ones is held down to this noise level


def overlap_frames(pipe: Pipeline, overlap_latents: int, backward: bool = False) -> int:
    k = pipe.vae.config.time_factor
    if overlap_latents < 1:
        raise RequestError(f"overlap_latents {overlap_latents} is out of range: allowed 1 or more")
    return k * overlap_latents if backward else 1 + k * (overlap_latents - 1)


def overlap_latents_for(pipe: Pipeline, frames: int = OVERLAP_FRAMES) -> int:
    """The fewest latent frames whose forward overlap holds `frames` frames on this pipeline's
    model: how an overlap default given in frames becomes `overlap_latents` (3 at k=4, 9 at k=1)."""
    k = pipe.vae.config.time_factor
    return 1 + -(-(frames - 1) // k)


def window_need(k: int, keep: int, n_end: int = 0, backward: bool = False) -> int:
    """The shortest window (1+kj frames) that adds a frame after `keep` given ones (and `n_end` to land on)."""
    need = keep + n_end + (1 if backward else k)  # backwards, the window's single first frame may be all that is new
    return 1 + k * -(-(need - 1) // k)


def check_release(release: float) -> None:
    lo, hi = limits.GIVEN_RELEASE
    if not (lo <= release <= hi):
        raise RequestError(f"release {release} is out of range: allowed {lo:g} (hold the given frames) to {hi:g}")


def usable_release(keep: int, release: float) -> float:
    """`release` where the overlap has 2 frames or more to crossfade over; with one, the window's
    redrawn frame would replace it, and the cut would only move one frame back."""
    return release if keep >= 2 else 0.0


def _reanchor(new: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Shift the new frames' mean colour per channel back to the reference's."""
    shift = reference.reshape(-1, 3).mean(0) - new.reshape(-1, 3).mean(0)  # (3,)
    return np.clip(np.round(new.astype(np.float32) + shift), 0, 255).astype(np.uint8)


def crossfade(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Blend `old` into `new` frame by frame: all old at the first frame, all new at the last (so
    both ends step like the clips they join, and the difference between them is spread over the rest)."""
    n = len(old)
    w = (np.arange(n, dtype=np.float32) / (n - 1) if n > 1 else np.ones(1, np.float32))[:, None, None, None]
    return np.round((1 - w) * old + w * new.astype(np.float32)).astype(np.uint8)


def grow(pipe: Pipeline, req: GenerationRequest, video: np.ndarray, n_new: int, *, overlap_latents: int,
         backward: bool = False, end: np.ndarray | None = None, anchor: bool = False, blend: bool = True,
         warm_start: float = 1.0, release: float = 0.0, progress=None) -> np.ndarray:
    """`video` (T, H, W, 3) continued by `n_new` frames, after it or before it if `backward`.
    `req` is the resolved window request (its frames = the longest window, its seed the first
    window's; later windows use seed+1, seed+2, ...). With `blend`, each window's overlap is
    crossfaded from the frames that were there to the window's own decoding of them, so the
    step into new frames is no bigger than the steps between them. `release` (see
    `GenerationRequest.given_release`) applies only where `usable_release` allows it."""
    k = pipe.vae.config.time_factor
    keep = overlap_frames(pipe, overlap_latents, backward)
    if not (0.0 <= warm_start <= 1.0):
        raise RequestError(f"warm_start {warm_start} is out of range: allowed 0 (hold the given frames) to 1 (pure noise)")
    release = usable_release(keep, release)
    n_end = 0 if end is None else len(end)
    longest = req.frames
    need = window_need(k, keep, n_end, backward)
    if longest < need:
        raise RequestError(f"window of {longest} frames leaves nothing new after {keep + n_end} given frames: "
                           f"use at least {need} frames")
    if len(video) < keep:
        raise RequestError(f"video has {len(video)} frames: continuing it needs at least {keep}")
    assert end is None or (n_new % k == 0 and n_new >= k and not backward)
    reference = video[-keep:] if not backward else video[:keep]
    cur, i, remaining = video.copy(), 0, n_new
    while remaining > 0:
        if backward:
            frames = min(longest, keep + 1 + k * -(-(remaining - 1) // k))
            out = window(pipe, req, frames, tail=cur[:keep], seed=req.seed + i, warm_start=warm_start, release=release,
                         progress=progress)
            new, seen = out[: frames - keep][-remaining:], out[frames - keep:]
        elif end is not None and keep + remaining + n_end <= longest:  # the last window lands on `end`
            frames = keep + remaining + n_end
            out = window(pipe, req, frames, head=cur[-keep:], tail=end, seed=req.seed + i, warm_start=warm_start, release=release,
                         progress=progress)
            new, seen = out[keep: frames - n_end], out[:keep]
        else:
            want = remaining if end is None else remaining - k  # with an end, leave a chunk for the last window
            frames = min(longest, 1 + k * -(-(keep + want - 1) // k))
            out = window(pipe, req, frames, head=cur[-keep:], seed=req.seed + i, warm_start=warm_start, release=release,
                         progress=progress)
            new, seen = out[keep:][:remaining], out[:keep]
        if anchor:
            new = _reanchor(new, reference)
        if backward:
            if blend:
                cur[:keep] = crossfade(seen, cur[:keep])
            cur = np.concatenate([new, cur])
        else:
            if blend:
                cur[-keep:] = crossfade(cur[-keep:], seen)
            cur = np.concatenate([cur, new])
        remaining -= len(new)
        i += 1
    return cur


def overlap_fits(pipe: Pipeline, n: int, video_frames: int, window_frames: int, backward: bool = False,
                 n_end: int = 0) -> bool:
    """Whether an overlap of `n` latent frames (and `n_end` frames to land on) can be taken from
    a video of `video_frames` and still leave a window of `window_frames` something new."""
    keep = overlap_frames(pipe, n, backward)
    k = pipe.vae.config.time_factor
    return keep + n_end <= video_frames and window_need(k, keep, n_end, backward) <= window_frames


def longest_overlap(pipe: Pipeline, video_frames: int, window_frames: int, backward: bool = False, n_end: int = 0,
                    most: int | None = None) -> int:
    """The longest overlap up to `most` latent frames (None: the default, `overlap_latents_for`
    OVERLAP_FRAMES) that `overlap_fits`; 1 where none longer does."""
    most = overlap_latents_for(pipe) if most is None else most
    return next((n for n in range(most, 1, -1)
                 if overlap_fits(pipe, n, video_frames, window_frames, backward, n_end)), 1)


def extend(pipe: Pipeline, video: np.ndarray, prompt: str, seconds: float, overlap_latents: int | None = None,
           direction: str = "forward", anchor: bool = False, blend: bool = True, warm_start: float = 1.0,
           release: float = RELEASE, progress=None, **kw) -> Video:
    """Continue `video` (T, H, W, 3) by `seconds`, after it ("forward") or before it
    ("backward"). The input frames are kept exactly, but for the overlap that is crossfaded
    into the new frames when `blend`. `overlap_latents` None: the longest overlap up to
    OVERLAP_FRAMES forwards that the video and the window allow (`longest_overlap`)."""
    if direction not in DIRECTIONS:
        raise RequestError(f"direction {direction!r} is not allowed: use one of {', '.join(DIRECTIONS)}")
    backward = direction == "backward"
    video = check_video(video)
    req = video_request(pipe, video, prompt, **kw)
    if overlap_latents is None:
        overlap_latents = longest_overlap(pipe, len(video), req.frames, backward)
    keep = overlap_frames(pipe, overlap_latents, backward)
    check_video(video, min_frames=keep)
    release = usable_release(keep, release)  # what grow() will use, for the metadata
    max_s = (pipe.config.max_frames * 60) / req.fps  # chunked: any length, up to a minute of windows
    if not (0 < seconds <= max_s):
        raise RequestError(f"seconds {seconds} is out of range: allowed above 0 up to {max_s:g}")
    n_new = round(seconds * req.fps)
    frames = grow(pipe, req, video, n_new, overlap_latents=overlap_latents, backward=backward, anchor=anchor,
                  blend=blend, warm_start=warm_start, release=release, progress=progress)
    meta = {"task": "extend", "direction": direction, "source_frames": len(video), "extended_seconds": seconds,
            "overlap_latents": overlap_latents, "release": release, "request": req.to_dict()}
    return Video(frames=frames, fps=req.fps, metadata=meta)
