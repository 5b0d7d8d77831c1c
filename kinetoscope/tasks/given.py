"""Given frames + a mask: the one mechanism every task is built from.

The model sees "given" per latent frame: latent 0 is frame 0 alone, latent j covers frames
4j-3..4j. A latent frame counts as given only when all of its frames are, so a last image is
held for one latent chunk (4 frames) at the end of an interpolation.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from kinetoscope.media import resize_frames
from kinetoscope.pipeline import GenerationRequest, Pipeline, RequestError

RESIZE_POLICY = "cover"  # inputs are scaled to cover the output size, then centre-cropped


def check_image(image, name: str = "input image") -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
        raise RequestError(f"{name} has shape {image.shape} {image.dtype}: need (H, W, 3) uint8 RGB")
    return image


def check_video(video, name: str = "input video", min_frames: int = 1) -> np.ndarray:
    video = np.asarray(video)
    if video.ndim != 4 or video.shape[-1] != 3 or video.dtype != np.uint8:
        raise RequestError(f"{name} has shape {video.shape} {video.dtype}: need (T, H, W, 3) uint8 RGB")
    if len(video) < min_frames:
        raise RequestError(f"{name} has {len(video)} frames: need at least {min_frames}")
    return video


def fit(image: np.ndarray, width: int, height: int, name: str = "input image") -> np.ndarray:
    """An image of any size as (height, width, 3), by RESIZE_POLICY."""
    return resize_frames(check_image(image, name)[None], width, height, policy=RESIZE_POLICY)[0]


def video_request(pipe: Pipeline, video: np.ndarray, prompt: str, **kw) -> GenerationRequest:
    """A window request at the video's own size: continuing a video cannot change its size."""
    t, h, w, _ = video.shape
    for name, asked, have in (("width", kw.get("width"), w), ("height", kw.get("height"), h)):
        if asked is not None and asked != have:
            raise RequestError(f"{name} {asked} does not match the input video's {w}x{h}: leave it out or use {have}")
    return pipe.resolve(GenerationRequest(prompt=prompt, **{**kw, "width": w, "height": h}))


def fill(given: np.ndarray, mask: list[bool]) -> np.ndarray:
    """Fill the frames that are not given (their content is never kept) with the nearest given
    frames, crossfading across gaps: the causal encoder then sees a plausible past before a
    given chunk instead of black."""
    idx = [i for i, m in enumerate(mask) if m]
    if not idx:
        return given
    out = given.copy()
    for i in range(len(mask)):
        if mask[i]:
            continue
        before = [j for j in idx if j < i]
        after = [j for j in idx if j > i]
        if before and after:
            a, b = before[-1], after[0]
            w = (i - a) / (b - a)
            out[i] = np.round((1 - w) * given[a].astype(np.float32) + w * given[b]).astype(np.uint8)
        else:
            out[i] = given[before[-1] if before else after[0]]
    return out


def window(pipe: Pipeline, req: GenerationRequest, frames: int, head: np.ndarray | None = None,
           tail: np.ndarray | None = None, seed: int | None = None, warm_start: float = 1.0,
           release: float = 0.0, progress=None) -> np.ndarray:
    """Generate `frames` (1+4k) frames with `head` given at the start (1+4j frames) and `tail`
    given at the end (4j frames); returns all frames decoded (T, H, W, 3). With `warm_start`
    below 1, the new frames start from the given ones held (or crossfaded between head and
    tail, see `fill`) noised to that level, instead of from pure noise (see tasks/windows.py)."""
    k = pipe.vae.config.time_factor
    nh, nt = (0 if head is None else len(head)), (0 if tail is None else len(tail))
    assert (frames - 1) % k == 0 and (nh == 0 or (nh - 1) % k == 0) and nt % k == 0 and nh + nt < frames
    req = dataclasses.replace(req, frames=frames, seed=req.seed if seed is None else seed)
    if nh or nt:
        given = np.zeros((frames, req.height, req.width, 3), np.uint8)
        mask = [False] * frames
        if nh:
            given[:nh], mask[:nh] = head, [True] * nh
        if nt:
            given[frames - nt:], mask[frames - nt:] = tail, [True] * nt
        filled = fill(given, mask)
        req = dataclasses.replace(req, given_frames=filled, given_mask=mask, given_release=release)
        if warm_start < 1.0:
            req = dataclasses.replace(req, init_frames=filled, strength=warm_start)
    return pipe.generate(req, progress=progress).frames


def t2v_request(pipe: Pipeline, prompt: str, **kw) -> GenerationRequest:
    return pipe.resolve(GenerationRequest(prompt=prompt, **kw))


def image_request(prompt: str, **kw) -> GenerationRequest:
    return GenerationRequest(prompt=prompt, frames=1, **kw)


def i2v_request(pipe: Pipeline, image: np.ndarray, prompt: str, **kw) -> GenerationRequest:
    return first_image(pipe.resolve(GenerationRequest(prompt=prompt, **kw)), image)


def first_image(req: GenerationRequest, image: np.ndarray, name: str = "input image") -> GenerationRequest:
    """A resolved request with `image` given as its first frame."""
    given = np.zeros((req.frames, req.height, req.width, 3), np.uint8)
    given[0] = fit(image, req.width, req.height, name)
    mask = [True] + [False] * (req.frames - 1)
    return dataclasses.replace(req, given_frames=fill(given, mask), given_mask=mask)


def interpolate_request(pipe: Pipeline, first: np.ndarray, last: np.ndarray, prompt: str, **kw) -> GenerationRequest:
    req = pipe.resolve(GenerationRequest(prompt=prompt, **kw))
    k = pipe.vae.config.time_factor
    if req.frames < 1 + 2 * k:
        raise RequestError(f"frames {req.frames} is too short to connect two images: need at least {1 + 2 * k}")
    given = np.zeros((req.frames, req.height, req.width, 3), np.uint8)
    given[0] = fit(first, req.width, req.height, "first image")
    given[-k:] = fit(last, req.width, req.height, "last image")
    mask = [True] + [False] * (req.frames - 1 - k) + [True] * k
    return dataclasses.replace(req, given_frames=fill(given, mask), given_mask=mask)


def first_last_request(engine, first: np.ndarray, last: np.ndarray, prompt: str, **kw) -> GenerationRequest:
    """Interpolate on an open-weight engine whose model takes a first and a last frame (Wan FLF2V):
    the images are the request's first and last frames, nothing held."""
    req = i2v_request(engine, first, prompt, **kw)
    req.given_frames[-1] = fit(last, req.width, req.height, "last image")
    return engine.resolve(dataclasses.replace(req, given_mask=req.given_mask[:-1] + [True]))
