"""Object motions and the camera: sampled parameters -> per-frame tracks.

`sample_params` places an object and picks its motion parameters so that it
stays fully inside the frame for the whole clip and clear of the objects
already placed; `object_track` turns those parameters into per-frame world
positions, scales and angles; `camera_track` gives the camera's per-frame
centre and zoom. World coordinates equal screen pixels when the camera does
not move. Candidates are sampled and checked in batches (arrays of shape
(N, 1) against frame indices (T,)), so placement costs a few numpy calls.
"""

from __future__ import annotations

import math

import numpy as np

from .scene import (CAMERA_PAN, CAMERA_ZOOM, DIRECTIONS, FALL_RESTITUTION, MOTION_SPEED,
                    SIZES, Camera, SceneObject)
from .shapes import shape_extent

MARGIN = 1.0       # pixels kept free between an object and the frame edge
MIN_GAP = 0.05     # objects keep at least this x S between their bounding circles
CANDIDATES = 32    # placements tried per object


def radius_px(obj: SceneObject, height: int, width: int) -> float:
    """Pixels per shape unit at scale 1 (half the nominal extent)."""
    return SIZES[obj.size] * min(height, width) / 2


def scale_range(obj: SceneObject) -> tuple[float, float]:
    """Scale at the first and last frame."""
    if obj.motion in ("grow", "shrink"):
        s0, s1 = MOTION_SPEED["grow"][obj.speed]
        return (s0, s1) if obj.motion == "grow" else (s1, s0)
    return (1.0, 1.0)


def extent_px(obj: SceneObject, height: int, width: int) -> float:
    """Largest centroid-to-edge distance in pixels over the clip (no camera)."""
    return shape_extent(obj.shape) * radius_px(obj, height, width) * max(scale_range(obj))


def _reflect(p: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Fold positions into [lo, hi] as a ball bouncing between two walls."""
    span = max(hi - lo, 1e-6)
    q = np.mod(p - lo, 2 * span)
    return lo + np.where(q <= span, q, 2 * span - q)


def _candidates(rng: np.random.Generator, obj: SceneObject, height: int, width: int,
                frames: int, n: int) -> dict[str, np.ndarray]:
    """n random parameter sets for obj, each an (n,) array per parameter."""
    S = min(height, width)
    ext = extent_px(obj, height, width) + MARGIN
    xlo, xhi, ylo, yhi = ext, max(width - ext, ext), ext, max(height - ext, ext)
    steps = max(frames - 1, 1)
    m = obj.motion

    def uniform(lo, hi):
        return lo + (np.maximum(hi - lo, 0.0)) * rng.random(n)

    def sign():
        return rng.choice([-1.0, 1.0], n)

    if m in DIRECTIONS:
        ux, uy = DIRECTIONS[m]
        v = MOTION_SPEED["linear"][obj.speed] * S / math.hypot(ux, uy)
        vx, vy = v * ux, v * uy
        # shorten the path if the object would not fit (long clips, big objects)
        fit = min([1.0] + [(hi - lo) / abs(d * steps)
                           for d, lo, hi in ((vx, xlo, xhi), (vy, ylo, yhi)) if d])
        vx, vy = vx * fit, vy * fit
        return {"x0": uniform(xlo - min(0, vx * steps), xhi - max(0, vx * steps)),
                "y0": uniform(ylo - min(0, vy * steps), yhi - max(0, vy * steps)),
                "vx": np.full(n, vx), "vy": np.full(n, vy)}
    if m == "bounce":
        v = MOTION_SPEED["bounce"][obj.speed] * S
        vx, vy = v * sign(), v * sign()
        x0, y0 = uniform(xlo, xhi), uniform(ylo, yhi)
        # guarantee a wall hit on one axis between 25% and 75% of the clip
        on_x = rng.random(n) < 0.5
        lo, hi = np.where(on_x, xlo, ylo), np.where(on_x, xhi, yhi)
        hit = np.minimum(uniform(0.25 * steps, 0.75 * steps), (hi - lo) / v)
        start = np.where(np.where(on_x, vx, vy) > 0, hi - v * hit, lo + v * hit)
        return {"x0": np.where(on_x, start, x0), "y0": np.where(on_x, y0, start),
                "vx": vx, "vy": vy}
    if m == "fall":
        y0 = uniform(ylo, ylo + 0.15 * (yhi - ylo))
        hit = max(MOTION_SPEED["fall"][obj.speed] * steps, 1.0)
        return {"x0": uniform(xlo, xhi), "y0": y0, "g": 2 * (yhi - y0) / hit ** 2,
                "floor": np.full(n, yhi)}
    if m == "orbit":
        radius = max(min(0.3 * S, S / 2 - ext), 0.0)
        phase = uniform(0, 2 * math.pi)
        return {"x0": width / 2 + radius * np.cos(phase), "y0": height / 2 + radius * np.sin(phase),
                "radius": np.full(n, radius), "phase": phase,
                "omega": 2 * math.pi * MOTION_SPEED["orbit"][obj.speed] * sign()}
    params = {"x0": uniform(xlo, xhi), "y0": uniform(ylo, yhi)}
    if m == "spin":
        params["omega"] = MOTION_SPEED["spin"][obj.speed] * sign()
    return params


def _tracks(obj: SceneObject, p: dict, height: int, width: int, frames: int
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """World x, y, scale, angle for N parameter sets: four (N, T) arrays."""
    m = obj.motion
    col = {k: np.asarray(v, np.float64).reshape(-1, 1) for k, v in p.items()}   # (N, 1)
    n = len(col["x0"])
    k = np.arange(frames, dtype=np.float64)[None, :]                             # (1, T)
    x = np.broadcast_to(col["x0"], (n, frames))
    y = np.broadcast_to(col["y0"], (n, frames))
    scale, angle = np.ones((n, frames)), np.zeros((n, frames))
    if m in DIRECTIONS:
        x, y = col["x0"] + col["vx"] * k, col["y0"] + col["vy"] * k
    elif m == "bounce":
        ext = extent_px(obj, height, width) + MARGIN
        x = _reflect(col["x0"] + col["vx"] * k, ext, width - ext)
        y = _reflect(col["y0"] + col["vy"] * k, ext, height - ext)
    elif m == "fall":
        y = _fall(col["y0"], col["floor"], col["g"], k)
    elif m == "orbit":
        a = col["phase"] + col["omega"] * k
        x = width / 2 + col["radius"] * np.cos(a)
        y = height / 2 + col["radius"] * np.sin(a)
    elif m == "spin":
        angle = col["omega"] * k
    elif m in ("grow", "shrink"):
        s0, s1 = scale_range(obj)
        # a single frame (an image) shows the object at its nominal size
        line = np.ones(1) if frames == 1 else s0 + (s1 - s0) * k[0] / (frames - 1)
        scale = np.broadcast_to(line, (n, frames))
    return x, y, scale, angle


def _fall(y0: np.ndarray, floor: np.ndarray, g: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Height under gravity g (px/frame^2) with bounces on the floor: (N, T)."""
    n = y0.shape[0]
    y = np.broadcast_to(floor, (n, k.shape[1])).copy()
    t0, v0, start = np.zeros((n, 1)), np.zeros((n, 1)), y0.astype(np.float64)
    done = np.zeros(y.shape, bool)
    for _ in range(32):
        # time to reach the floor from `start` with downward speed v0
        dt = (-v0 + np.sqrt(np.maximum(v0 * v0 + 2 * g * (floor - start), 0.0))) / g
        seg = ~done & (k <= t0 + dt)
        tau = k - t0
        y = np.where(seg, start + v0 * tau + 0.5 * g * tau * tau, y)
        done |= seg
        if done.all() or (dt <= 1e-6).all():
            break
        t0, v0, start = t0 + dt, -FALL_RESTITUTION * (v0 + g * dt), floor
    return y


def body(obj: SceneObject, height: int, width: int, frames: int
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bounding circle per frame (no camera): x, y, radius, three (T,) arrays."""
    x, y, scale, _ = _tracks(obj, obj.params, height, width, frames)
    return x[0], y[0], shape_extent(obj.shape) * radius_px(obj, height, width) * scale[0]


def _clearances(obj: SceneObject, p: dict, height: int, width: int, frames: int,
                others: list) -> np.ndarray:
    """(N,) gap in pixels per parameter set to the others, less MIN_GAP: >= 0
    means apart in the first frame and in at least three quarters of the
    frames (paths may cross briefly, as in real video)."""
    n = len(p["x0"])
    if not others:
        return np.full(n, math.inf)
    x, y, scale, _ = _tracks(obj, p, height, width, frames)
    r = shape_extent(obj.shape) * radius_px(obj, height, width) * scale        # (N, T)
    gap = np.min([np.hypot(x - ox, y - oy) - r - orad for ox, oy, orad in others], axis=0)
    gap -= MIN_GAP * min(height, width)
    q = frames // 4
    quarter = np.partition(gap, q, axis=1)[:, q]                                # ~25th percentile
    return np.minimum(gap[:, 0], quarter)


def clearance(obj: SceneObject, height: int, width: int, frames: int, others: list) -> float:
    """Gap of obj (with its current params) to the others; see `_clearances`."""
    p = {k: [v] for k, v in obj.params.items()}
    return float(_clearances(obj, p, height, width, frames, others)[0])


def sample_params(rng: np.random.Generator, obj: SceneObject, height: int, width: int,
                  frames: int, others: list) -> tuple[dict, float]:
    """Pick motion parameters for obj that keep it clear of `others`.

    others: bounding circles (x, y, radius per frame) of objects already
    placed. Samples CANDIDATES parameter sets, keeps the first one that is
    clear (else the one with the most clearance), stores it in obj.params and
    returns (params, clearance in pixels).
    """
    cand = _candidates(rng, obj, height, width, frames, CANDIDATES)
    gaps = _clearances(obj, cand, height, width, frames, others)
    clear = np.nonzero(gaps >= 0)[0]
    i = int(clear[0]) if len(clear) else int(np.argmax(gaps))
    obj.params = {k: float(v[i]) for k, v in cand.items()}
    return obj.params, float(gaps[i])


def object_track(obj: SceneObject, height: int, width: int, frames: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """World x, y (pixels), scale and angle (degrees) per frame: four (T,) arrays."""
    x, y, scale, angle = _tracks(obj, obj.params, height, width, frames)
    return x[0], y[0], scale[0], angle[0]


def camera_track(camera: Camera, height: int, width: int, frames: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Camera centre cx, cy (world pixels) and zoom per frame: three (T,) arrays.

    screen = (world - centre) * zoom + frame centre. "pan-left" moves the
    camera left, so the world slides right on screen.
    """
    u = np.arange(frames) / max(frames - 1, 1) * camera.amount
    cx, cy = np.full(frames, width / 2), np.full(frames, height / 2)
    zoom = np.ones(frames)
    shift = CAMERA_PAN * min(height, width) * u
    if camera.motion == "pan-left":
        cx = cx - shift
    elif camera.motion == "pan-right":
        cx = cx + shift
    elif camera.motion == "pan-up":
        cy = cy - shift
    elif camera.motion == "pan-down":
        cy = cy + shift
    elif camera.motion == "zoom-in":
        zoom = CAMERA_ZOOM ** u
    elif camera.motion == "zoom-out":
        zoom = CAMERA_ZOOM ** -u
    return cx, cy, zoom
