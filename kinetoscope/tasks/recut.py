"""recut: keep a part of a video and regenerate the rest around it.

The kept part [start, end] is placed at `at` seconds (default: where it was) in a video of
`seconds` (default: the input's length); what comes before it is generated backwards from
it and what comes after forwards, by the same sliding windows as `extend` (whose overlaps are
crossfaded, so the kept part's first and last frames blend into the new ones). `overlap_latents`
None: extend's default (tasks/windows.py), as long as the kept part allows both ways.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from kinetoscope.pipeline import Pipeline, RequestError, Video
from kinetoscope.tasks.given import check_video, video_request
from kinetoscope.tasks.windows import grow, longest_overlap, overlap_frames


def recut(pipe: Pipeline, video: np.ndarray, prompt: str, keep: tuple[float, float], seconds: float | None = None,
          at: float | None = None, overlap_latents: int | None = None, progress=None, **kw) -> Video:
    video = check_video(video)
    req = video_request(pipe, video, prompt, **kw)
    fps, n_in = req.fps, len(video)
    length = n_in / fps
    try:
        start, end = (float(v) for v in keep)
    except (TypeError, ValueError):
        raise RequestError(f"keep {keep!r} is not a (start, end) pair of seconds") from None
    if not (0 <= start < end <= length + 1e-9):
        raise RequestError(f"keep {start:g}:{end:g} is outside the video: use 0 <= start < end <= {length:g}s")
    s, e = round(start * fps), min(n_in, round(end * fps))
    kept = video[s:e]
    if overlap_latents is None:
        overlap_latents = min(longest_overlap(pipe, len(kept), req.frames, backward=b) for b in (False, True))
    need = max(overlap_frames(pipe, overlap_latents), overlap_frames(pipe, overlap_latents, backward=True))
    if len(kept) < need:
        raise RequestError(f"keep {start:g}:{end:g} is {len(kept)} frames: keep at least {need} ({need / fps:g}s)")
    seconds = length if seconds is None else seconds
    at = start if at is None else at
    total, before = round(seconds * fps), round(at * fps)
    if at < 0 or before + len(kept) > total:
        raise RequestError(f"the kept {len(kept) / fps:g}s at {at:g}s does not fit in {seconds:g}s: "
                           f"use at from 0 to {max(0.0, seconds - len(kept) / fps):g}s or more seconds")
    frames = kept
    if before:
        frames = grow(pipe, req, frames, before, overlap_latents=overlap_latents, backward=True, progress=progress)
    after = total - before - len(kept)
    if after:
        later = dataclasses.replace(req, seed=req.seed + 1000)
        frames = grow(pipe, later, frames, after, overlap_latents=overlap_latents, progress=progress)
    meta = {"task": "recut", "kept_frames": [s, e], "placed_at_frame": before, "overlap_latents": overlap_latents,
            "request": req.to_dict()}
    return Video(frames=frames, fps=fps, metadata=meta)
