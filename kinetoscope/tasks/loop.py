"""loop: a video whose last frame flows into its first.

A clip is made (text->video) or taken as given, then a bridge is generated after it whose
window has the clip's last frames given at the start and the clip's first chunk (4 frames)
given at the end: the bridge leads out of the clip's end and into its start. The model alone
leaves a visible seam (measured: `kinetoscope eval --tasks`), so the bridge's last frames are
finally crossfaded into the clip's first ones.
"""

from __future__ import annotations

import numpy as np

from kinetoscope.pipeline import Pipeline, RequestError, Video
from kinetoscope.tasks.given import check_video, t2v_request, video_request
from kinetoscope.tasks.windows import grow, overlap_frames


def loop(pipe: Pipeline, prompt: str, video: np.ndarray | None = None, bridge_seconds: float | None = None,
         overlap_latents: int = 1, crossfade: int = 8, progress=None, **kw) -> Video:
    """Loop `video` (T, H, W, 3), or a new text->video clip of `prompt` when it is None.
    The bridge is `bridge_seconds` long (default: as long as one window allows); its last
    `crossfade` frames are then blended into the clip's first ones (see `crossfade_loop`)."""
    k = pipe.vae.config.time_factor
    keep = overlap_frames(pipe, overlap_latents)
    if video is None:
        req = t2v_request(pipe, prompt, **kw)
        clip = pipe.generate(req, progress=progress).frames
    else:
        clip = check_video(video, min_frames=keep + k)
        req = video_request(pipe, clip, prompt, **kw)
    if len(clip) < keep + k:
        raise RequestError(f"clip has {len(clip)} frames: a loop needs at least {keep + k}")
    most = req.frames - keep - k  # one window: the clip's end given, new frames, the clip's start given
    if bridge_seconds is None:
        n = most
    else:
        if not (0 < bridge_seconds <= 60):
            raise RequestError(f"bridge_seconds {bridge_seconds} is out of range: allowed above 0 up to 60")
        n = max(k, k * round(bridge_seconds * req.fps / k))
    frames = grow(pipe, req, clip, n, overlap_latents=overlap_latents, end=clip[:k], progress=progress)
    if crossfade:
        frames = crossfade_loop(frames, crossfade)
    meta = {"task": "loop", "clip_frames": len(clip), "bridge_frames": n, "crossfade_frames": crossfade,
            "request": req.to_dict()}
    return Video(frames=frames, fps=req.fps, metadata=meta)


def crossfade_loop(frames: np.ndarray, m: int) -> np.ndarray:
    """A seamless loop of len - m frames: the last m frames are blended into the first m
    (weights rising towards the original), so playing on from the last frame steps into a
    frame that is mostly the one that followed it."""
    if not (0 < m < len(frames) // 2):
        raise RequestError(f"crossfade {m} is out of range: allowed 1 to {len(frames) // 2 - 1} frames for this clip")
    f = frames.astype(np.float32)
    w = ((np.arange(m, dtype=np.float32) + 1) / (m + 1))[:, None, None, None]  # weight of the head
    head = w * f[:m] + (1 - w) * f[len(f) - m:]
    return np.concatenate([np.round(head).astype(np.uint8), frames[m: len(frames) - m]])

