"""Shapes as signed-distance templates, and fast anti-aliased rasterisation.

Every shape lives in *shape units*: 1 unit is half the object's nominal
extent (`SIZES[size] * S / 2` pixels), so a circle is the unit disc and a
digit is 2 units tall. Each shape is stored once as a signed-distance field
(SDF, negative inside, in shape units) sampled on a TEMPLATE_N x TEMPLATE_N
grid over [-TEMPLATE_HALF, TEMPLATE_HALF]^2, centred on the shape's centroid.

Rendering a clip is then a per-pixel table look-up (rotate/scale/translate
the pixel grid into template coordinates, read the SDF, turn the distance in
pixels into coverage with a 1-pixel soft edge), vectorised over all frames.
Digits are drawn with Pillow's bundled font (no download) and converted to
an SDF with an exact Euclidean distance transform.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .scene import DIGITS, SHAPES

TEMPLATE_N = 256
TEMPLATE_HALF = 1.4
_PX = 2 * TEMPLATE_HALF / TEMPLATE_N  # template pixel size in shape units

RING_RADII = (0.55, 1.0)      # inner, outer
SQUARE_HALF = 0.85
TRIANGLE_R = 1.1              # circumradius; apex up
STAR_R = (1.1, 0.45 * 1.1)    # outer, inner; a tip points up


def _grid() -> tuple[np.ndarray, np.ndarray]:
    c = ((np.arange(TEMPLATE_N) + 0.5) * _PX - TEMPLATE_HALF).astype(np.float64)
    return np.meshgrid(c, c)  # X, Y: (N, N), Y down


def _polygon_sdf(verts: np.ndarray) -> np.ndarray:
    """Exact SDF of a simple polygon (verts: (K, 2)) on the template grid."""
    X, Y = _grid()
    d = np.full(X.shape, np.inf)
    inside = np.zeros(X.shape, bool)
    for a, b in zip(verts, np.roll(verts, -1, axis=0)):
        ex, ey = b - a
        px, py = X - a[0], Y - a[1]
        h = np.clip((px * ex + py * ey) / (ex * ex + ey * ey), 0.0, 1.0)
        d = np.minimum(d, np.hypot(px - ex * h, py - ey * h))
        crosses = (a[1] > Y) != (b[1] > Y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xint = a[0] + ex * (Y - a[1]) / ey
        inside ^= crosses & (X < xint)
    return np.where(inside, -d, d)


def _regular(radii: list[float], start_deg: float = -90.0) -> np.ndarray:
    ang = np.deg2rad(start_deg + 360.0 * np.arange(len(radii)) / len(radii))
    r = np.asarray(radii)
    return np.stack([r * np.cos(ang), r * np.sin(ang)], axis=1)


def _edt(feature: np.ndarray) -> np.ndarray:
    """Exact Euclidean distance (in template pixels) to the nearest True pixel."""
    try:
        from scipy.ndimage import distance_transform_edt
        return distance_transform_edt(~feature)
    except ImportError:
        pass
    n = feature.shape[0]
    big = 4.0 * n
    # pass 1: distance along each column, by a forward and a backward sweep
    g = np.where(feature, 0.0, big)
    for i in range(1, n):
        g[i] = np.minimum(g[i], g[i - 1] + 1)
    for i in range(n - 2, -1, -1):
        g[i] = np.minimum(g[i], g[i + 1] + 1)
    # pass 2: along rows, d(i) = min_j (i - j)^2 + g(j)^2, brute force in chunks
    g2 = (g * g).astype(np.float32)
    j = np.arange(n, dtype=np.float32)
    sq = (j[:, None] - j[None, :]) ** 2  # (N, N): (i - j)^2
    out = np.empty((n, n), np.float32)
    for r0 in range(0, n, 32):
        rows = g2[r0:r0 + 32]                                  # (R, N_j)
        out[r0:r0 + 32] = (rows[:, None, :] + sq[None]).min(axis=2)
    return np.sqrt(out)


def _mask_sdf(mask: np.ndarray) -> np.ndarray:
    """SDF in shape units from a binary template-resolution mask."""
    outside = _edt(mask) - 0.5
    inside = _edt(~mask) - 0.5
    return np.where(mask, -inside, outside) * _PX


def _digit_mask(d: str) -> np.ndarray:
    """Bold glyph of digit d, 2 units tall, centred on its centroid: (N, N) bool."""
    n = TEMPLATE_N
    height_px = 2.0 / _PX
    font = ImageFont.load_default(size=int(height_px * 1.35))
    img = Image.new("L", (2 * n, 2 * n))
    stroke = max(1, int(height_px * 0.06))
    ImageDraw.Draw(img).text((n, n), d, font=font, fill=255, anchor="mm",
                             stroke_width=stroke, stroke_fill=255)
    a = np.asarray(img) > 127
    ys, xs = np.nonzero(a)
    # scale the glyph so its ink is exactly 2 units tall, centred on its centroid
    scale = height_px / (ys.max() - ys.min() + 1)
    w, h = img.size
    img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BILINEAR)
    a = np.asarray(img) > 127
    ys, xs = np.nonzero(a)
    cy, cx = ys.mean(), xs.mean()
    out = np.zeros((n, n), bool)
    oy, ox = round(cy - n / 2 + 0.5), round(cx - n / 2 + 0.5)
    ys2, xs2 = ys - oy, xs - ox
    ok = (ys2 >= 0) & (ys2 < n) & (xs2 >= 0) & (xs2 < n)
    out[ys2[ok], xs2[ok]] = True
    return out


@lru_cache(maxsize=None)
def template(shape: str) -> np.ndarray:
    """The SDF template of a shape: (TEMPLATE_N, TEMPLATE_N) float32, shape units."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; allowed: {', '.join(SHAPES)}")
    X, Y = _grid()
    if shape == "circle":
        sdf = np.hypot(X, Y) - 1.0
    elif shape == "ring":
        inner, outer = RING_RADII
        sdf = np.abs(np.hypot(X, Y) - (inner + outer) / 2) - (outer - inner) / 2
    elif shape == "square":
        h = SQUARE_HALF
        sdf = _polygon_sdf(np.array([[-h, -h], [h, -h], [h, h], [-h, h]]))
    elif shape == "triangle":
        sdf = _polygon_sdf(_regular([TRIANGLE_R] * 3))
    elif shape == "star":
        sdf = _polygon_sdf(_regular([STAR_R[0], STAR_R[1]] * 5))
    else:
        sdf = _mask_sdf(_digit_mask(shape))
    return np.ascontiguousarray(sdf, dtype=np.float32)


@lru_cache(maxsize=None)
def shape_area(shape: str) -> float:
    """Area of the shape in square shape units (for size estimation)."""
    return float((template(shape) < 0).sum() * _PX * _PX)


@lru_cache(maxsize=None)
def shape_extent(shape: str) -> float:
    """Largest distance from the centroid to the shape's edge, in shape units."""
    X, Y = _grid()
    return float(np.hypot(X, Y)[template(shape) < 0].max() + _PX)


def digit_area() -> float:
    """Mean area of the ten digits in square shape units."""
    return float(np.mean([shape_area(d) for d in DIGITS]))


def coverage(shape: str, cx: np.ndarray, cy: np.ndarray, radius: np.ndarray,
             angle_deg: np.ndarray, height: int, width: int) -> np.ndarray:
    """Anti-aliased coverage of one object in every frame.

    cx, cy, radius (pixels per shape unit), angle_deg: (T,) per-frame values.
    Returns (T, H, W) float32 in [0, 1] (1 = fully covered pixel).
    """
    tmpl = template(shape)
    n = TEMPLATE_N
    k = 1.0 / _PX                                     # template pixels per shape unit
    th = np.deg2rad(np.asarray(angle_deg, np.float64))
    r = np.maximum(np.asarray(radius, np.float64), 1e-3)
    ca = (np.cos(th) / r * k)[:, None, None]          # (T, 1, 1)
    sa = (np.sin(th) / r * k)[:, None, None]
    off = n / 2                                       # astype() truncation -> nearest pixel
    dx = (np.arange(width) + 0.5)[None, None, :] - np.asarray(cx, np.float64)[:, None, None]   # (T, 1, W)
    dy = (np.arange(height) + 0.5)[None, :, None] - np.asarray(cy, np.float64)[:, None, None]  # (T, H, 1)
    dx, dy = dx.astype(np.float32), dy.astype(np.float32)
    ca, sa = ca.astype(np.float32), sa.astype(np.float32)
    iu = (dx * ca + off) + dy * sa                    # (T, H, W) template column
    iv = (dy * ca + off) - dx * sa                    # (T, H, W) template row
    np.clip(iu, 0, n - 1, out=iu)
    np.clip(iv, 0, n - 1, out=iv)
    flat = iv.astype(np.int32)
    flat *= n
    flat += iu.astype(np.int32)
    sdf = tmpl.ravel().take(flat)                     # (T, H, W) in shape units
    sdf *= -r.astype(np.float32)[:, None, None]       # minus distance in pixels
    sdf += 0.5
    return np.clip(sdf, 0.0, 1.0, out=sdf)
