"""loop: a video whose last frame flows into its first.

A clip is made (text->video) or taken as given, then a bridge is generated after it whose
windows have the clip's last frames given at the start and the clip's first chunk given at the
end: the bridge leads out of the clip's end and into its start. The model alone leaves a visible
seam (`kinetoscope eval --tasks` measures it), so the bridge's last frames are finally crossfaded
into the clip's first ones.

The bridge joins the clip the way extend does (tasks/windows.py): extend's default overlap
(OVERLAP_FRAMES frames, whatever the model's time compression) whose latent next to the new
frames is released below RELEASE and crossfaded into the window's own decoding, so a crisp given
clip does not step into the model's drawing in one frame. The final crossfade's length is chosen
per loop (`best_crossfade`, among CROSSFADES): the one whose seam step is smallest against the
loop's median step.
"""

from __future__ import annotations

import numpy as np

from kinetoscope.pipeline import Pipeline, RequestError, Video
from kinetoscope.tasks.given import check_video, t2v_request, video_request
from kinetoscope.tasks.windows import check_release, grow, longest_overlap, overlap_frames, usable_release

RELEASE = 0.7  # 0.5 (extend's) measured 1.18 / 1.51 on video -> loop, 0.7 1.18 / 1.40
CROSSFADES = (6, 12)  # the crossfade lengths a loop chooses from (8 was fixed before)


def loop(pipe: Pipeline, prompt: str, video: np.ndarray | None = None, bridge_seconds: float | None = None,
         overlap_latents: int | None = None, crossfade: int | None = None, release: float = RELEASE, progress=None,
         **kw) -> Video:
    """Loop `video` (T, H, W, 3), or a new text->video clip of `prompt` when it is None.
    `overlap_latents` None: the longest overlap up to extend's default that the clip and the
    window allow (`windows.longest_overlap`).
    The bridge is `bridge_seconds` long (default: the new frames of one window after a single
    given frame, 12 at 17 frames); its last `crossfade` frames are then blended into the clip's
    first ones (see `crossfade_loop`); None: the length in CROSSFADES whose seam steps least
    (`best_crossfade`), 0: none."""
    k = pipe.vae.config.time_factor
    check_release(release)
    if video is None:
        req = t2v_request(pipe, prompt, **kw)
        clip = pipe.generate(req, progress=progress).frames
    else:
        clip = check_video(video, min_frames=1 + k)
        req = video_request(pipe, clip, prompt, **kw)
    if overlap_latents is None:
        overlap_latents = longest_overlap(pipe, len(clip), req.frames, n_end=k)
    keep = overlap_frames(pipe, overlap_latents)
    if len(clip) < keep + k:
        raise RequestError(f"clip has {len(clip)} frames: a loop needs at least {keep + k}")
    if bridge_seconds is None:
        n = req.frames - 1 - k  # a window's new frames between one given frame and the clip's first chunk
    else:
        if not (0 < bridge_seconds <= 60):
            raise RequestError(f"bridge_seconds {bridge_seconds} is out of range: allowed above 0 up to 60")
        n = max(k, k * round(bridge_seconds * req.fps / k))
    frames = grow(pipe, req, clip, n, overlap_latents=overlap_latents, end=clip[:k], release=release, progress=progress)
    if crossfade is None:
        crossfade = best_crossfade(frames)
    if crossfade:
        frames = crossfade_loop(frames, crossfade)
    meta = {"task": "loop", "clip_frames": len(clip), "bridge_frames": n, "crossfade": crossfade,
            "overlap_latents": overlap_latents, "release": usable_release(keep, release), "request": req.to_dict()}
    return Video(frames=frames, fps=req.fps, metadata=meta)


def best_crossfade(frames: np.ndarray) -> int:
    """The crossfade length in CROSSFADES (as far as the clip allows) whose loop steps least across
    its seam, relative to its median step: the loop point is chosen where the frames meet best,
    as video textures choose theirs (Schoedl et al. 2000)."""
    lo, hi = CROSSFADES[0], min(CROSSFADES[1], len(frames) // 2 - 1)
    if hi < lo:
        return max(hi, 0)
    return min(range(lo, hi + 1), key=lambda m: seam_ratio(crossfade_loop(frames, m))["ratio"])


def seam_ratio(frames: np.ndarray) -> dict:
    """A loop's seam: mean |difference| from its last frame to its first against the median
    neighbouring step (0-255 units); the measure `kinetoscope eval --tasks` reports."""
    f = frames.astype(np.float32)
    seam = float(np.abs(f[0] - f[-1]).mean())
    median = float(np.median(np.abs(f[1:] - f[:-1]).mean(axis=(1, 2, 3))))
    return {"seam": round(seam, 3), "median_step": round(median, 3), "ratio": round(seam / max(median, 1e-6), 3)}


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

