"""Pure-numpy image geometry for the analyzer: connected components and
rotation-invariant shape features of binary masks. No scipy needed."""

from __future__ import annotations

import math

import numpy as np


def label(mask: np.ndarray, connectivity: int = 8) -> np.ndarray:
    """Connected components of a boolean mask, separately for each 2-D slice.

    mask: (..., H, W) bool. Returns int64 labels of the same shape: -1 off the
    mask, else the smallest flat index of the pixel's component (so labels are
    unique across slices). Min-label propagation with pointer jumping: a few
    vectorised passes even for long thin components.
    """
    shape = mask.shape
    H, W = shape[-2:]
    m3 = mask.reshape(-1, H, W)
    big = m3.size
    lab = np.where(m3, np.arange(big).reshape(m3.shape), big)
    if connectivity == 8:
        offsets = [(dy, dx) for dy in (0, 1, 2) for dx in (0, 1, 2) if (dy, dx) != (1, 1)]
    else:
        offsets = [(0, 1), (2, 1), (1, 0), (1, 2)]
    while True:
        p = np.pad(lab, ((0, 0), (1, 1), (1, 1)), constant_values=big)
        new = lab.copy()
        for dy, dx in offsets:
            np.minimum(new, p[:, dy:dy + H, dx:dx + W], out=new)
        new[~m3] = big
        flat = np.append(new.ravel(), big)
        for _ in range(3):                       # pointer jumping: follow label chains
            flat = flat[flat]
        new = flat[:-1].reshape(m3.shape)
        if np.array_equal(new, lab):
            break
        lab = new
    lab = np.where(m3, lab, -1)
    return lab.reshape(shape)


def hole_area(mask: np.ndarray) -> int:
    """Pixels of background enclosed by the (8-connected) mask: (H, W) bool -> int."""
    pad = np.pad(~mask, 1, constant_values=True)
    lab = label(pad, connectivity=4)
    outside = lab[0, 0]
    return int(((lab >= 0) & (lab != outside)).sum())


def _cross(o, a, b) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def hull_area(mask: np.ndarray) -> float:
    """Area of the convex hull of the mask's pixel squares: (H, W) bool -> float."""
    rows = np.nonzero(mask.any(axis=1))[0]
    if len(rows) == 0:
        return 0.0
    left = mask[rows].argmax(axis=1)
    right = mask.shape[1] - mask[rows, ::-1].argmax(axis=1)
    pts = set()
    for y, l, r in zip(rows.tolist(), left.tolist(), right.tolist()):
        pts.update({(l, y), (r, y), (l, y + 1), (r, y + 1)})
    pts = sorted(pts)
    lower, upper = [], []
    for p in pts:                                # Andrew's monotone chain
        while len(lower) >= 2 and _cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and _cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    hull = lower[:-1] + upper[:-1]
    return 0.5 * abs(sum(x0 * y1 - x1 * y0
                         for (x0, y0), (x1, y1) in zip(hull, hull[1:] + hull[:1])))


def principal_extent(mask: np.ndarray) -> float:
    """Length in pixels of the mask along its principal (longest) axis: (H, W) bool."""
    ys, xs = np.nonzero(mask)
    if len(xs) < 3:
        return math.sqrt(len(xs))
    x, y = xs - xs.mean(), ys - ys.mean()
    _, evecs = np.linalg.eigh(np.cov(np.stack([x, y])))
    proj = x * evecs[0, 1] + y * evecs[1, 1]
    return float(proj.max() - proj.min() + 1.0)


def shape_features(mask: np.ndarray) -> dict[str, float]:
    """Rotation-invariant features of one object's binary mask (H, W).

    area: pixels; elongation: sqrt of the covariance eigenvalue ratio (1 for
    every regular polygon and the disc); holes: enclosed background / area;
    solidity: area / convex hull area; fill: area / disc through the farthest
    pixel corner.
    """
    ys, xs = np.nonzero(mask)
    area = float(len(xs))
    if area < 3:
        return {"area": area, "elongation": 1.0, "holes": 0.0, "solidity": 1.0, "fill": 1.0}
    x, y = xs + 0.5, ys + 0.5
    cx, cy = x.mean(), y.mean()
    evals = np.linalg.eigvalsh(np.cov(np.stack([x - cx, y - cy])))
    elong = math.sqrt(max(evals[1], 1e-9) / max(evals[0], 1e-9))
    y0, y1 = ys.min(), ys.max() + 1
    x0, x1 = xs.min(), xs.max() + 1
    crop = mask[y0:y1, x0:x1]
    maxd = np.sqrt((np.abs(x - cx) + 0.5) ** 2 + (np.abs(y - cy) + 0.5) ** 2).max()
    return {
        "area": area,
        "elongation": elong,
        "holes": hole_area(crop) / area,
        "solidity": area / max(hull_area(crop), 1.0),
        "fill": area / (math.pi * maxd * maxd),
    }
