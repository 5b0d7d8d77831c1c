"""Object motions and the camera: sampled parameters -> per-frame tracks.

`sample_params` places an object and picks its motion parameters so that it
stays fully inside the frame for the whole clip; `object_track` turns those
parameters into per-frame world positions, scales and angles; `camera_track`
gives the camera's per-frame centre and zoom. World coordinates equal screen
pixels when the camera does not move. All functions are pure numpy.
"""

from __future__ import annotations

import math

import numpy as np

from .scene import (CAMERA_PAN, CAMERA_ZOOM, DIRECTIONS, FALL_RESTITUTION, MOTION_SPEED,
                    SIZES, Camera, SceneObject)
from .shapes import shape_extent

MARGIN = 1.0  # pixels kept free between an object and the frame edge
MIN_GAP = 0.05  # objects keep at least this x S between their bounding circles


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


def _progress(frames: int) -> np.ndarray:
    """(T,) frame index k as float; frames=1 gives [0]."""
    return np.arange(frames, dtype=np.float64)


def _reflect(p: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Fold positions into [lo, hi] as a ball bouncing between two walls."""
    span = max(hi - lo, 1e-6)
    q = np.mod(p - lo, 2 * span)
    return lo + np.where(q <= span, q, 2 * span - q)


def _sample_once(rng: np.random.Generator, obj: SceneObject, height: int, width: int,
                 frames: int) -> dict:
    S = min(height, width)
    ext = extent_px(obj, height, width) + MARGIN
    xlo, xhi, ylo, yhi = ext, width - ext, ext, height - ext
    steps = max(frames - 1, 1)
    m = obj.motion

    def uniform(lo, hi):
        return float(rng.uniform(lo, hi)) if hi > lo else (lo + hi) / 2

    if m in DIRECTIONS:
        ux, uy = DIRECTIONS[m]
        norm = math.hypot(ux, uy)
        v = MOTION_SPEED["linear"][obj.speed] * S
        vx, vy = v * ux / norm, v * uy / norm
        # shorten the path if the object would not fit (long clips, big objects)
        fit = min([1.0] + [(hi - lo) / abs(d * steps)
                           for d, lo, hi in ((vx, xlo, xhi), (vy, ylo, yhi)) if d])
        vx, vy = vx * max(fit, 0.0), vy * max(fit, 0.0)
        x0 = uniform(xlo - min(0, vx * steps), xhi - max(0, vx * steps))
        y0 = uniform(ylo - min(0, vy * steps), yhi - max(0, vy * steps))
        return {"x0": x0, "y0": y0, "vx": vx, "vy": vy}
    if m == "bounce":
        v = MOTION_SPEED["bounce"][obj.speed] * S
        vx, vy = v * rng.choice([-1, 1]), v * rng.choice([-1, 1])
        x0, y0 = uniform(xlo, xhi), uniform(ylo, yhi)
        # guarantee a wall hit on one axis between 25% and 75% of the clip
        axis = int(rng.integers(2))
        lo, hi = (xlo, xhi) if axis == 0 else (ylo, yhi)
        hit = min(uniform(0.25 * steps, 0.75 * steps), (hi - lo) / v)
        vel = vx if axis == 0 else vy
        start = hi - v * hit if vel > 0 else lo + v * hit
        x0, y0 = (start, y0) if axis == 0 else (x0, start)
        return {"x0": x0, "y0": y0, "vx": float(vx), "vy": float(vy)}
    if m == "fall":
        x0 = uniform(xlo, xhi)
        y0 = uniform(ylo, ylo + 0.15 * (yhi - ylo))
        hit = max(MOTION_SPEED["fall"][obj.speed] * steps, 1.0)
        g = 2 * (yhi - y0) / hit ** 2
        return {"x0": x0, "y0": y0, "g": g, "floor": yhi}
    if m == "orbit":
        radius = max(min(0.3 * S, S / 2 - ext), 0.0)
        omega = 2 * math.pi * MOTION_SPEED["orbit"][obj.speed] * rng.choice([-1, 1])
        phase = uniform(0, 2 * math.pi)
        return {"x0": width / 2 + radius * math.cos(phase),
                "y0": height / 2 + radius * math.sin(phase),
                "radius": radius, "phase": phase, "omega": float(omega)}
    params = {"x0": uniform(xlo, xhi), "y0": uniform(ylo, yhi)}
    if m == "spin":
        params["omega"] = MOTION_SPEED["spin"][obj.speed] * float(rng.choice([-1, 1]))
    return params


def body(obj: SceneObject, height: int, width: int, frames: int
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bounding circle per frame (no camera): x, y, radius, three (T,) arrays."""
    x, y, scale, _ = object_track(obj, height, width, frames)
    return x, y, shape_extent(obj.shape) * radius_px(obj, height, width) * scale


def clearance(obj: SceneObject, height: int, width: int, frames: int,
              others: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> float:
    """Gap in pixels between obj's bounding circle and the others', less the
    required MIN_GAP: >= 0 means apart in the first frame and in at least
    three quarters of the frames (paths may cross briefly, as in real video)."""
    if not others:
        return math.inf
    x, y, r = body(obj, height, width, frames)
    gap = np.min([np.hypot(x - ox, y - oy) - r - orad for ox, oy, orad in others], axis=0)
    gap -= MIN_GAP * min(height, width)                      # (T,) per-frame gap
    return float(min(gap[0], np.quantile(gap, 0.25)))


def sample_params(rng: np.random.Generator, obj: SceneObject, height: int, width: int,
                  frames: int, others: list, tries: int = 30) -> tuple[dict, float]:
    """Motion parameters for obj that keep it clear of `others` for the whole clip.

    others: bounding circles (x, y, radius per frame) of objects already
    placed. Rejection-samples up to `tries` parameter sets and keeps the one
    with the most clearance; returns (params, clearance in pixels).
    """
    best, best_gap = None, -math.inf
    for _ in range(tries):
        obj.params = _sample_once(rng, obj, height, width, frames)
        gap = clearance(obj, height, width, frames, others)
        if gap > best_gap:
            best, best_gap = obj.params, gap
        if gap >= 0:
            break
    obj.params = best
    return best, best_gap


def object_track(obj: SceneObject, height: int, width: int, frames: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """World x, y (pixels), scale and angle (degrees) per frame: four (T,) arrays."""
    p, m = obj.params, obj.motion
    k = _progress(frames)
    x = np.full(frames, p["x0"], dtype=np.float64)
    y = np.full(frames, p["y0"], dtype=np.float64)
    scale = np.ones(frames)
    angle = np.zeros(frames)
    if m in DIRECTIONS:
        x, y = p["x0"] + p["vx"] * k, p["y0"] + p["vy"] * k
    elif m == "bounce":
        ext = extent_px(obj, height, width) + MARGIN
        x = _reflect(p["x0"] + p["vx"] * k, ext, width - ext)
        y = _reflect(p["y0"] + p["vy"] * k, ext, height - ext)
    elif m == "fall":
        y = _fall(p["y0"], p["floor"], p["g"], k)
    elif m == "orbit":
        a = p["phase"] + p["omega"] * k
        x = width / 2 + p["radius"] * np.cos(a)
        y = height / 2 + p["radius"] * np.sin(a)
    elif m == "spin":
        angle = p["omega"] * k
    elif m in ("grow", "shrink"):
        s0, s1 = scale_range(obj)
        scale = np.array([1.0]) if frames == 1 else s0 + (s1 - s0) * k / (frames - 1)
    return x, y, scale, angle


def _fall(y0: float, floor: float, g: float, k: np.ndarray) -> np.ndarray:
    """Height under gravity g (px/frame^2) with bounces on the floor."""
    y = np.empty_like(k)
    t0, v0, start = 0.0, 0.0, y0        # segment start time, downward speed, height
    done = np.zeros(k.shape, bool)
    for _ in range(32):
        # time to reach the floor from `start` with downward speed v0
        disc = v0 * v0 + 2 * g * (floor - start)
        dt = (-v0 + math.sqrt(max(disc, 0.0))) / g
        seg = ~done & (k <= t0 + dt)
        tau = k[seg] - t0
        y[seg] = start + v0 * tau + 0.5 * g * tau * tau
        done |= seg
        if done.all() or dt <= 1e-6:
            break
        v_hit = v0 + g * dt
        t0, v0, start = t0 + dt, -FALL_RESTITUTION * v_hit, floor
    y[~done] = floor
    return y


def camera_track(camera: Camera, height: int, width: int, frames: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Camera centre cx, cy (world pixels) and zoom per frame: three (T,) arrays.

    screen = (world - centre) * zoom + frame centre. "pan-left" moves the
    camera left, so the world slides right on screen.
    """
    u = _progress(frames) / max(frames - 1, 1) * camera.amount
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
