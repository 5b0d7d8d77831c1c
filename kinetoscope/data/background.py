"""Backgrounds: plain, gradient or textured, in a named palette colour.

Gradients and textures blend the colour toward white or black (whichever
keeps it most recognisable) by at most BACKGROUND_AMOUNT, so the background
still reads as its named colour. They are drawn in world coordinates, so a
panning or zooming camera moves them.
"""

from __future__ import annotations

import math

import numpy as np

from .motion import camera_track
from .scene import BACKGROUND_AMOUNT, PALETTE, TEXTURES, Background, Scene


def _choice(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def sample_background(rng: np.random.Generator, kinds: tuple[str, ...], colour: str) -> Background:
    """A background of one of `kinds` in `colour`, with its random pattern."""
    kind = _choice(rng, kinds)
    params: dict = {}
    if kind == "gradient":
        params = {"angle": float(rng.uniform(0, 360))}
    elif kind == "textured":
        params = {"texture": _choice(rng, TEXTURES), "angle": float(rng.uniform(0, 180)),
                  "freq": float(rng.uniform(2, 5)),
                  "phases": [float(p) for p in rng.uniform(0, 2 * math.pi, 3)],
                  "dirs": [float(p) for p in rng.uniform(0, 2 * math.pi, 3)]}
    return Background(kind, colour, params)


_SHADE_CACHE: dict[str, float] = {}


def shade_target(colour: str) -> float:
    """Blend toward white (255) or black (0), whichever keeps the colour most recognisable."""
    if colour not in _SHADE_CACHE:
        pal = {k: np.array(v, float) for k, v in PALETTE.items()}
        best, margin = 255.0, -np.inf
        for t in (255.0, 0.0):
            x = pal[colour] + BACKGROUND_AMOUNT * (t - pal[colour])
            d = {k: np.linalg.norm(x - v) for k, v in pal.items()}
            m = min(v for k, v in d.items() if k != colour) - d[colour]
            if m > margin:
                best, margin = t, m
        _SHADE_CACHE[colour] = best
    return _SHADE_CACHE[colour]


def draw_background(scene: Scene) -> np.ndarray:
    """Background in world coordinates, float32 broadcastable to (T, H, W, 3):
    (1, 1, 1, 3) when plain, (1, H, W, 3) when the camera is still."""
    H, W, T = scene.height, scene.width, scene.frames
    bg = scene.background
    col = np.array(PALETTE[bg.colour], np.float32)
    if bg.kind == "plain":
        return col.reshape(1, 1, 1, 3)
    S = min(H, W)
    cx, cy, zoom = camera_track(scene.camera, H, W, T)
    moving = scene.camera.motion != "none"
    n = T if moving else 1
    xs = ((np.arange(W) + 0.5 - W / 2)[None, None, :] / zoom[:n, None, None] + cx[:n, None, None])
    ys = ((np.arange(H) + 0.5 - H / 2)[None, :, None] / zoom[:n, None, None] + cy[:n, None, None])
    xs, ys = xs - W / 2, ys - H / 2                     # (n, 1, W), (n, H, 1) from the centre
    p = bg.params
    if bg.kind == "gradient":
        a = math.radians(p["angle"])
        half = abs(W / 2 * math.cos(a)) + abs(H / 2 * math.sin(a))
        level = np.clip(0.5 + 0.5 * (xs * math.cos(a) + ys * math.sin(a)) / half, 0, 1)
    else:
        f = 2 * math.pi * p["freq"] / S
        a = math.radians(p["angle"])
        ph = p["phases"]
        if p["texture"] == "stripes":
            wave = np.sin(f * (xs * math.cos(a) + ys * math.sin(a)) + ph[0])
        elif p["texture"] == "checker":
            wave = np.tanh(4 * np.sin(f * xs + ph[0]) * np.sin(f * ys + ph[1]))
        else:
            wave = sum(np.sin(f * (0.7 + 0.3 * i) * (xs * math.cos(d) + ys * math.sin(d)) + q)
                       for i, (d, q) in enumerate(zip(p["dirs"], ph))) / 3
        level = 0.5 + 0.5 * wave
    beta = (BACKGROUND_AMOUNT * np.broadcast_to(level, (n, H, W))).astype(np.float32)
    return col + beta[..., None] * (np.float32(shade_target(bg.colour)) - col)
