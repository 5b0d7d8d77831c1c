"""edit: video -> video under a new prompt, SDEdit-style, keeping the motion.

The input is encoded, noised to t = strength and denoised under the new prompt: strength 0
gives the input back (through the autoencoder), 1 ignores it; in between, the layout and
motion of the input survive while the prompt changes what is drawn. Only the steps at or
below `strength` run (steps=20, strength=0.5 runs about half of them).
"""

from __future__ import annotations

import numpy as np

from kinetoscope.media import resize_frames
from kinetoscope.pipeline import GenerationRequest, Pipeline, RequestError, Video
from kinetoscope.tasks.given import RESIZE_POLICY, check_video

DEFAULT_STRENGTH = 0.6


def edit(pipe: Pipeline, video: np.ndarray, prompt: str, strength: float = DEFAULT_STRENGTH, progress=None,
         **kw) -> Video:
    """Redraw `video` (T, H, W, 3) under `prompt`. Give width/height to resize it (cover)."""
    video = check_video(video)
    for name in ("frames", "seconds"):
        if kw.get(name) is not None:
            raise RequestError(f"{name} cannot be set for an edit: the output is as long as the input video")
    kw.pop("frames", None), kw.pop("seconds", None)
    t, h, w, _ = video.shape
    width, height = kw.pop("width", None) or w, kw.pop("height", None) or h
    if (width, height) != (w, h):
        video = resize_frames(video, width, height, policy=RESIZE_POLICY)
    k = pipe.vae.config.time_factor
    n = 1 + k * -(-(t - 1) // k)  # 1+4j frames: the last frame is held to fill the chunk
    if n > pipe.config.max_frames:
        raise RequestError(f"input video has {t} frames: an edit takes up to {pipe.config.max_frames}; trim it first")
    init = np.concatenate([video, np.repeat(video[-1:], n - t, axis=0)])
    req = pipe.resolve(GenerationRequest(prompt=prompt, width=width, height=height, frames=n, init_frames=init,
                                         strength=strength, **kw))
    out = pipe.generate(req, progress=progress)
    return Video(frames=out.frames[:t], fps=req.fps, metadata={**out.metadata, "task": "edit"})
