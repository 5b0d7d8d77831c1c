"""The deterministic analyzer: what is in a clip, recovered without a model.

    report = analyze(frames)          # frames: (T, H, W, 3) uint8
    report.background, report.count, report.objects[0].shape, ...

It reads the world's vocabulary (palette, size fractions, speeds, shape
areas) from `kinetoscope.data.world`, so it checks generated clips against
exactly the facts the training data was made from:

- background: median of the border pixels -> nearest palette colour.
- objects: pixels far from the background (a gradient/texture of the world's
  kind is allowed for), 8-connected components above MIN_AREA, tracked
  across frames; count = median over frames of the components per frame.
- colour: median colour of an object's core pixels -> nearest palette colour.
- shape: circle | square | triangle | star | ring | digit (any of 0-9), from
  rotation-invariant mask geometry (elongation, holes, solidity, fill),
  majority vote over the largest frames.
- size: small | medium | large, from area / the shape's area in shape units
  (digits: extent along the principal axis), thresholds at the geometric
  midpoints of the world's SIZES.
- motion: the world's MOTIONS, decided from the centroid track and the mask:
  grow/shrink (area), still/spin (no displacement, or a travel under a quarter
  of the slowest linear motion's; spin if some frame's mask matches the first
  frame's turned clearly better than as it stands),
  orbit (steady radius around the frame centre), fall (vertical, turns at the
  floor), bounce (turns at a wall), else the 8-way direction of the net move.
  Spinning a circle or ring is invisible, so it reads as "still": use
  `expected_motion` to compare with a scene graph. Speed (slow/fast) is
  estimated for linear, bounce, orbit, fall, grow and shrink.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np

from kinetoscope.data.shapes import shape_area
from kinetoscope.data.world import (BACKGROUND_AMOUNT, DIGITS, DIRECTIONS, MOTION_SPEED,
                                    PALETTE, SIZES, shade_target)
from kinetoscope.eval.components import label, principal_extent, shape_features

MIN_AREA_FRACTION = 0.0015   # components smaller than this fraction of the frame are noise
MAX_PERMUTED = 6             # tracks up to this many are linked by trying every pairing (6! = 720)
# A spin turns the shape: some frame's centred mask matches the first frame's mask turned (by
# SPIN_MIN_TURN or more) better, by SPIN_GAIN of 1 - IoU, than unturned. A still shape whose soft
# edges shimmer changes as much from frame to frame, but turning it does not undo that. (A square
# turned 45 degrees changes by 0.29; turned back it matches.)
SPIN_GAIN, SPIN_MIN_TURN = 0.1, 15
_NAMES = list(PALETTE)
_RGB = np.array([PALETTE[n] for n in _NAMES], np.float32)      # (K, 3)
_SIZE_NAMES = list(SIZES)
_SIZE_EDGES = [math.sqrt(a * b) for a, b in zip(list(SIZES.values()), list(SIZES.values())[1:])]


@dataclass
class ObjectReport:
    colour: str
    shape: str
    size: str
    motion: str
    speed: str | None
    track: list = field(default_factory=list)   # per frame (x, y) or None
    areas: list = field(default_factory=list)   # per frame pixels (0 when not seen)


@dataclass
class ClipReport:
    background: str
    count: int
    objects: list[ObjectReport]
    flicker: float
    counts: list[int] = field(default_factory=list)  # components per frame

    def to_dict(self) -> dict:
        return asdict(self)


def nearest_colour(rgb) -> str:
    d = ((_RGB - np.asarray(rgb, np.float32)) ** 2).sum(axis=1)
    return _NAMES[int(d.argmin())]


def expected_shape(shape: str) -> str:
    """The analyzer's class for a world shape ("7" -> "digit")."""
    return "digit" if shape in DIGITS else shape


def expected_motion(shape: str, motion: str) -> str:
    """The analyzer's class for a world motion (a spinning circle reads as still)."""
    return "still" if motion == "spin" and shape in ("circle", "ring") else motion


def _background_distance(frames: np.ndarray, bg: str) -> tuple[np.ndarray, float]:
    """Per-pixel distance from the background's colour segment, and the fg threshold.

    The world shades backgrounds from the colour toward white or black by up
    to BACKGROUND_AMOUNT, so distance is measured to that segment of RGB.
    """
    c = np.array(PALETTE[bg], np.float32)
    d = (shade_target(bg) - c) * BACKGROUND_AMOUNT            # (3,) segment direction
    rel = frames.astype(np.float32) - c                         # (T, H, W, 3)
    t = np.clip(rel @ d / float(d @ d), 0.0, 1.0)               # (T, H, W)
    dist = np.linalg.norm(rel - t[..., None] * d, axis=-1)
    others = [np.linalg.norm(rgb - c - np.clip((rgb - c) @ d / (d @ d), 0, 1) * d)
              for n, rgb in zip(_NAMES, _RGB) if n != bg]
    return dist, 0.45 * float(min(others))


def analyze(frames: np.ndarray) -> ClipReport:
    """Recover background, objects and motion from (T, H, W, 3) uint8 frames."""
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[None]
    T, H, W, _ = frames.shape
    border = np.concatenate([frames[:, 0], frames[:, -1], frames[:, :, 0], frames[:, :, -1]],
                            axis=1).reshape(-1, 3)
    bg = nearest_colour(np.median(border, axis=0))
    dist, tau = _background_distance(frames, bg)
    fg = dist > tau                                             # (T, H, W)
    lab = label(fg)
    ids, counts = np.unique(lab[lab >= 0], return_counts=True)
    keep = ids[counts >= MIN_AREA_FRACTION * H * W]
    per_frame = [[int(i) for i in keep if i // (H * W) == t] for t in range(T)]
    n_per_frame = [len(p) for p in per_frame]
    count = int(np.median(n_per_frame))
    objects_mask = np.isin(lab, keep)
    tracks = _track(lab, per_frame, count, frames, dist, bg, H, W)  # empty where no frame shows `count`
    objects = [_describe(tr, frames, bg, H, W) for tr in tracks if any(c is not None for c in tr)]
    return ClipReport(bg, count, objects, flicker(frames, objects_mask), n_per_frame)


def _component_stats(lab, cid, frames, dist, bg, H, W):
    t = cid // (H * W)
    m = lab[t] == cid
    ys, xs = np.nonzero(m)
    px = frames[t][m].astype(np.float32)                        # (N, 3)
    dd = dist[t][m]
    core = px[dd >= 0.8 * dd.max()]
    rgb = np.median(core, axis=0)
    return {"t": t, "mask": m, "x": xs.mean() + 0.5, "y": ys.mean() + 0.5, "rgb": rgb,
            "colour": nearest_colour(rgb)}


def _track(lab, per_frame, count, frames, dist, bg, H, W) -> list[list]:
    """Link components into `count` tracks over the frames that show `count` of them."""
    tracks: list[list] = [[None] * len(per_frame) for _ in range(count)]
    last: list = [None] * count
    for t, cids in enumerate(per_frame):
        if len(cids) != count or count == 0:
            continue
        comps = [_component_stats(lab, c, frames, dist, bg, H, W) for c in cids]
        if last[0] is None:
            order = sorted(range(count), key=lambda i: (comps[i]["x"], comps[i]["y"]))
        else:
            c = [[(comps[j]["x"] - last[i]["x"]) ** 2 + (comps[j]["y"] - last[i]["y"]) ** 2
                  + (1e4 if comps[j]["colour"] != last[i]["colour"] else 0.0) for j in range(count)]
                 for i in range(count)]
            if count <= MAX_PERMUTED:  # the cheapest pairing of tracks and components
                order = min(itertools.permutations(range(count)), key=lambda perm: sum(c[i][j] for i, j in enumerate(perm)))
            else:  # speckle (a noisy clip's many components): count! pairings are too many; cheapest pairs first
                order, free = [None] * count, set(range(count))
                for _, i, j in sorted((c[i][j], i, j) for i in range(count) for j in range(count)):
                    if order[i] is None and j in free:
                        order[i] = j
                        free.discard(j)
        for i, j in enumerate(order):
            tracks[i][t] = comps[j]
            last[i] = comps[j]
    return tracks


def _alpha_mask(c: dict, frames, bg: str, obj_rgb) -> tuple[np.ndarray, float, float, float]:
    """Coverage of the object in its component: binary mask, area, centroid x, y."""
    b = np.array(PALETTE[bg], np.float32)
    d = np.asarray(obj_rgb, np.float32) - b
    m = c["mask"]
    a = np.zeros(m.shape, np.float32)
    a[m] = np.clip((frames[c["t"]][m].astype(np.float32) - b) @ d / float(d @ d), 0, 1)
    ys, xs = np.nonzero(m)
    w = a[m]
    s = max(float(w.sum()), 1e-6)
    return a >= 0.5, s, float((xs + 0.5) @ w / s), float((ys + 0.5) @ w / s)


def _describe(track: list, frames, bg: str, H: int, W: int) -> ObjectReport:
    seen = [c for c in track if c is not None]
    T, S = len(track), min(H, W)
    colour = Counter(c["colour"] for c in seen).most_common(1)[0][0]
    rgb = PALETTE[colour]
    xs, ys, areas = np.full(T, np.nan), np.full(T, np.nan), np.zeros(T)
    masks: dict[int, np.ndarray] = {}
    for c in seen:
        masks[c["t"]], areas[c["t"]], xs[c["t"]], ys[c["t"]] = _alpha_mask(c, frames, bg, rgb)
    frames_by_area = sorted(masks, key=lambda t: -areas[t])[:5]
    feats = [shape_features(masks[t]) for t in frames_by_area]
    votes = [_shape_from_features(f) for f in feats]
    shape = Counter(votes).most_common(1)[0][0]
    size = _size(shape, areas, masks, S)
    motion, speed = _motion(xs, ys, areas, masks, H, W)
    track_out = [None if np.isnan(x) else (round(float(x), 2), round(float(y), 2))
                 for x, y in zip(xs, ys)]
    return ObjectReport(colour, shape, size, motion, speed, track_out,
                        [round(float(a), 1) for a in areas])


def _shape_from_features(f: dict) -> str:
    # Thresholds sit midway between the classes' ranges measured on world clips
    # at 64x64: elongation digits >= 1.25, others <= 1.16; solidity star <= 0.69,
    # triangle >= 0.83; fill circle >= 0.78, square 0.56-0.66, triangle <= 0.48.
    if f["elongation"] > 1.2:
        return "digit"
    if f["holes"] > 0.08:
        return "ring"
    if f["solidity"] < 0.76:
        return "star"
    if f["fill"] > 0.72:
        return "circle"
    if f["fill"] > 0.52:
        return "square"
    return "triangle"


def _size(shape: str, areas: np.ndarray, masks: dict, S: int) -> str:
    present = [t for t in masks if areas[t] > 0]
    if shape == "digit":
        # every digit is exactly 2 shape units tall; its principal axis is close to that
        est = [principal_extent(masks[t]) / S for t in present]
    else:
        est = [2 * math.sqrt(areas[t] / shape_area(shape)) / S for t in present]
    e = float(np.median(est))
    return _SIZE_NAMES[int(np.searchsorted(_SIZE_EDGES, e))]


def _turns(v: np.ndarray, min_swing: float) -> tuple[bool, bool]:
    """Does a 1-D track rise then fall (peak), or fall then rise (valley), by min_swing?"""
    def peak(a):
        left = a - np.minimum.accumulate(a)
        right = a - np.minimum.accumulate(a[::-1])[::-1]
        return bool(np.minimum(left, right).max() > min_swing)
    return peak(v), peak(-v)


def _steady_turn(x: np.ndarray, y: np.ndarray, min_step: float) -> float:
    """Total turn (radians) of the velocity direction if it turns steadily one
    way at every step, as on an orbit; 0 for straight or zig-zag paths.
    x, y: (T,) with NaN where the object was not seen (those steps are skipped)."""
    dx, dy = np.diff(x), np.diff(y)
    heading = np.arctan2(dy, dx)
    turns = np.angle(np.exp(1j * np.diff(heading)))             # (T-2,) wrapped to (-pi, pi]
    step = np.hypot(dx, dy)
    valid = ~np.isnan(turns) & (step[:-1] > min_step) & (step[1:] > min_step)
    turns = turns[valid]
    if len(turns) < 3:
        return 0.0
    total = float(turns.sum())
    mean = abs(total) / len(turns)
    steady = (turns * math.copysign(1.0, total) > 0.4 * mean) & (np.abs(turns) < 2.5 * mean)
    return total * (len(x) - 2) / len(turns) if steady.mean() >= 0.8 else 0.0


def _turned(m: np.ndarray, cx: float, cy: float, degrees: float) -> np.ndarray:
    """Mask `m` turned by `degrees` about (cx, cy) (pixel-centre coordinates, as the centroids are):
    each pixel takes the value of the pixel it came from (nearest)."""
    H, W = m.shape
    a = math.radians(degrees)
    yy, xx = np.mgrid[0:H, 0:W] + 0.5
    sx = np.cos(a) * (xx - cx) + np.sin(a) * (yy - cy) + cx
    sy = -np.sin(a) * (xx - cx) + np.cos(a) * (yy - cy) + cy
    ix, iy = np.floor(sx).astype(int), np.floor(sy).astype(int)
    inside = (ix >= 0) & (ix < W) & (iy >= 0) & (iy < H)
    out = np.zeros_like(m)
    out[inside] = m[iy[inside], ix[inside]]
    return out


def _centred_change(m0: np.ndarray, m: np.ndarray, dx: float, dy: float) -> float:
    """1 - IoU of two masks after moving `m` by its centroid's offset (dx, dy) from m0's, rounded
    to whole pixels: how much the shape changed, not where it stands."""
    sx, sy = int(round(dx)), int(round(dy))
    moved = np.zeros_like(m)
    H, W = m.shape
    moved[max(sy, 0):H + min(sy, 0), max(sx, 0):W + min(sx, 0)] = m[max(-sy, 0):H + min(-sy, 0),
                                                                    max(-sx, 0):W + min(-sx, 0)]
    return 1 - float((m0 & moved).sum()) / max(float((m0 | moved).sum()), 1.0)


def _motion(xs, ys, areas, masks, H, W) -> tuple[str, str | None]:
    S = min(H, W)
    ok = ~np.isnan(xs)
    t_all = np.arange(len(xs))
    if ok.sum() < 2:
        return "still", None
    x = np.interp(t_all, t_all[ok], xs[ok])
    y = np.interp(t_all, t_all[ok], ys[ok])
    steps = len(x) - 1
    a0, a1 = areas[ok][:2].mean(), areas[ok][-2:].mean()
    ratio = math.sqrt(a1 / max(a0, 1e-6))
    if ratio > 1.25 or ratio < 0.8:
        lo, hi = MOTION_SPEED["grow"]["slow"], MOTION_SPEED["grow"]["fast"]
        edge = math.sqrt((lo[1] / lo[0]) * (hi[1] / hi[0]))
        speed = "fast" if max(ratio, 1 / ratio) > edge else "slow"
        return ("grow" if ratio > 1 else "shrink"), speed
    path = float(np.hypot(np.diff(x), np.diff(y)).sum())
    travel = max(float(np.ptp(x)), float(np.ptp(y)))  # sub-pixel jitter adds up along a path, not here
    if path < 0.04 * S or travel < 0.25 * MOTION_SPEED["linear"]["slow"] * steps * S:
        ts = sorted(masks)
        m0 = masks[ts[0]]
        turned = [_turned(m0, xs[ts[0]], ys[ts[0]], a) for a in range(SPIN_MIN_TURN, 360 - SPIN_MIN_TURN + 1, 5)]
        for t in ts[1:]:
            dx, dy = xs[ts[0]] - xs[t], ys[ts[0]] - ys[t]
            as_is = _centred_change(m0, masks[t], dx, dy)
            if as_is > SPIN_GAIN and min(_centred_change(m, masks[t], dx, dy) for m in turned) < as_is - SPIN_GAIN:
                return "spin", None
        return "still", None
    cx, cy = W / 2, H / 2
    r = np.hypot(x - cx, y - cy)
    theta = np.unwrap(np.arctan2(y - cy, x - cx))
    sweep = abs(theta[-1] - theta[0])
    turn = _steady_turn(xs, ys, 0.005 * S)
    r = r[ok]
    if (sweep > 0.3 * math.pi and abs(turn) > 0.25 * math.pi and r.mean() > 0.08 * S
            and r.std() < 0.2 * r.mean()):
        per_frame = sweep / (2 * math.pi) / steps
        edge = math.sqrt(MOTION_SPEED["orbit"]["slow"] * MOTION_SPEED["orbit"]["fast"])
        return "orbit", ("fast" if per_frame > edge else "slow")
    swing = 0.03 * S
    (peak_x, valley_x), (floor_y, top_y) = _turns(x, swing), _turns(y, swing)
    turn_x, turn_y = peak_x or valley_x, floor_y or top_y
    if floor_y and np.ptp(x) < 0.03 * S and y[1] >= y[0]:
        hit = int(np.argmax(np.diff(y) < 0)) / steps          # first frame moving up
        edge = 0.5 * (MOTION_SPEED["fall"]["slow"] + MOTION_SPEED["fall"]["fast"])
        return "fall", ("fast" if hit < edge else "slow")
    if turn_x or turn_y:
        v = float(np.median(np.abs(np.concatenate([np.diff(x), np.diff(y)])))) / S
        edge = math.sqrt(MOTION_SPEED["bounce"]["slow"] * MOTION_SPEED["bounce"]["fast"])
        return "bounce", ("fast" if v > edge else "slow")
    dx, dy = x[-1] - x[0], y[-1] - y[0]
    angle = math.degrees(math.atan2(-dy, dx)) % 360
    sector = int(((angle + 22.5) % 360) // 45)
    names = {(1, 0): 0, (1, -1): 1, (0, -1): 2, (-1, -1): 3, (-1, 0): 4, (-1, 1): 5,
             (0, 1): 6, (1, 1): 7}
    direction = next(n for n, v in DIRECTIONS.items() if names[v] == sector)
    v = math.hypot(dx, dy) / steps / S
    edge = math.sqrt(MOTION_SPEED["linear"]["slow"] * MOTION_SPEED["linear"]["fast"])
    return direction, ("fast" if v > edge else "slow")


def flicker(frames: np.ndarray, masks: np.ndarray) -> float:
    """Mean |frame[t+1] - frame[t]| (0-255 units) outside the objects.

    frames: (T, H, W, 3) uint8; masks: (T, H, W) bool, True on objects. Pixels
    within one pixel of an object in either frame are left out. A clean
    static background gives 0; a camera pan over a texture does not.
    """
    f = np.asarray(frames, np.float32)
    if len(f) < 2:
        return 0.0
    m = np.asarray(masks, bool)
    grown = m.copy()
    grown[:, 1:] |= m[:, :-1]
    grown[:, :-1] |= m[:, 1:]
    grown[:, :, 1:] |= grown[:, :, :-1].copy()
    grown[:, :, :-1] |= grown[:, :, 1:].copy()
    out = ~(grown[1:] | grown[:-1])                               # (T-1, H, W)
    diff = np.abs(f[1:] - f[:-1]).mean(axis=-1)                   # (T-1, H, W)
    return float(diff[out].mean()) if out.any() else 0.0


def compare(report: ClipReport, scene) -> dict[str, float]:
    """How well a report matches a scene graph (`Scene` or its `to_dict()`).

    Objects are paired by their first seen position (best of all pairings).
    Returns the fraction correct per attribute: background, count, and over
    the paired objects colour, shape, size, motion (via expected_shape /
    expected_motion), speed (only where the scene has one and the analyzer
    estimates one). Attributes with nothing to check are left out.
    """
    d = scene if isinstance(scene, dict) else scene.to_dict()
    truth = d["objects"]
    out: dict[str, list[bool]] = {"background": [report.background == d["background"]["colour"]],
                                  "count": [report.count == len(truth)]}
    found = report.objects

    def first(track):
        return next((p for p in track if p is not None), (0.0, 0.0))

    best, best_cost = (), math.inf
    k = min(len(found), len(truth))
    for perm in itertools.permutations(range(len(truth)), k):
        cost = sum(math.dist(first(found[i].track), truth[j]["track"][0])
                   for i, j in enumerate(perm))
        if cost < best_cost:
            best, best_cost = perm, cost
    for i, j in enumerate(best):
        f, t = found[i], truth[j]
        out.setdefault("colour", []).append(f.colour == t["colour"])
        out.setdefault("shape", []).append(f.shape == expected_shape(t["shape"]))
        out.setdefault("size", []).append(f.size == t["size"])
        motion = expected_motion(t["shape"], t["motion"])
        out.setdefault("motion", []).append(f.motion == motion)
        if t["speed"] and f.speed and motion not in ("still", "spin"):
            out.setdefault("speed", []).append(f.speed == t["speed"])
    return {key: float(np.mean(v)) for key, v in out.items()}
