"""Tasks as given frames + a mask: every task is the same model, told which frames are fixed.

    image        text -> one frame
    i2v          an image becomes the first frame; the prompt drives the motion
    interpolate  two images become the first and the last frames
    extend       a clip continues forwards by sliding windows that overlap what exists

The model sees "given" per latent frame: latent 0 is frame 0 alone, latent j covers frames
4j-3..4j. A latent frame counts as given only when all of its frames are, so a last image is
held for one latent chunk (4 frames) at the end of an interpolation.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from kinetoscope.media import resize_frames
from kinetoscope.pipeline import GenerationRequest, Pipeline, RequestError, Video

RESIZE_POLICY = "cover"  # inputs are scaled to cover the output size, then centre-cropped


def _fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
        raise RequestError(f"input image has shape {image.shape} {image.dtype}: need (H, W, 3) uint8")
    return resize_frames(image[None], width, height, policy=RESIZE_POLICY)[0]


def image_request(prompt: str, **kw) -> GenerationRequest:
    return GenerationRequest(prompt=prompt, frames=1, **kw)


def i2v_request(pipe: Pipeline, image: np.ndarray, prompt: str, **kw) -> GenerationRequest:
    req = pipe.resolve(GenerationRequest(prompt=prompt, **kw))
    given = np.zeros((req.frames, req.height, req.width, 3), np.uint8)
    given[0] = _fit(image, req.width, req.height)
    return dataclasses.replace(req, given_frames=given, given_mask=[True] + [False] * (req.frames - 1))


def interpolate_request(pipe: Pipeline, first: np.ndarray, last: np.ndarray, prompt: str, **kw) -> GenerationRequest:
    req = pipe.resolve(GenerationRequest(prompt=prompt, **kw))
    k = pipe.vae.config.time_factor
    if req.frames < 1 + 2 * k:
        raise RequestError(f"frames {req.frames} is too short to connect two images: need at least {1 + 2 * k}")
    given = np.zeros((req.frames, req.height, req.width, 3), np.uint8)
    given[0] = _fit(first, req.width, req.height)
    given[-k:] = _fit(last, req.width, req.height)
    mask = [True] + [False] * (req.frames - 1 - k) + [True] * k
    return dataclasses.replace(req, given_frames=given, given_mask=mask)


def extend(pipe: Pipeline, video: np.ndarray, prompt: str, seconds: float, overlap_latents: int = 2, **kw) -> Video:
    """Continue `video` (T, H, W, 3) by `seconds`: each window keeps the last 1+4(n-1) frames
    given (n = overlap_latents) and generates the rest; only new frames are appended."""
    k = pipe.vae.config.time_factor
    t, h, w, _ = video.shape
    window = pipe.resolve(GenerationRequest(prompt=prompt, width=w, height=h, **kw))
    keep = 1 + k * (overlap_latents - 1)
    if window.frames <= keep:
        raise RequestError(f"window of {window.frames} frames leaves nothing new after {keep} given frames")
    if t < keep:
        raise RequestError(f"video has {t} frames: extending needs at least {keep}")
    target = t + round(seconds * window.fps)
    frames, seed, meta = video, window.seed, {}
    while len(frames) < target:
        given = np.zeros((window.frames, h, w, 3), np.uint8)
        given[:keep] = frames[-keep:]
        req = dataclasses.replace(window, seed=seed, given_frames=given,
                                  given_mask=[True] * keep + [False] * (window.frames - keep))
        out = pipe.generate(req)
        frames = np.concatenate([frames, out.frames[keep:]])
        seed, meta = seed + 1, out.metadata
    meta = {**meta, "task": "extend", "source_frames": t, "extended_seconds": seconds}
    return Video(frames=frames[:target], fps=window.fps, metadata=meta)
