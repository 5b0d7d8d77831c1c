"""Invisible watermark: 64 bits (installation tag + video tag + CRC) hidden in the frames.

Method: DWT-SVD quantisation, the method of invisible-watermark's ``dwtDctSvd``
(the 4x4 DCT there is orthonormal and leaves singular values unchanged, so it
is skipped here). Per colour channel (Y, U, V), one Haar DWT level gives the
LL band; each 8x8-pixel block is a 4x4 LL block whose largest singular value
``s0`` is moved to ``(k + 1/4) * step`` for a 0 bit or ``(k + 3/4) * step``
for a 1 bit. Implemented in numpy (no OpenCV), so it works at any size.

Layout: the 64 bits tile the block grid 8x8 (one tile = 64x64 pixels), and
each frame rolls the tile by a fixed pseudo-random amount, so a crop that cuts
the edge blocks of one frame keeps them in others, frames smaller than 64 px
still carry every bit over a few frames, and a still scene does not put the
same picture content under a bit in every frame.

Decoding is blind: every block votes ``-sin(2 pi s0 / step)`` for its bit;
each channel's phase (a brightness shift from re-encoding) is estimated from
all its blocks (``angle(mean(z^2)) / 2``) and removed; per channel the votes
of all frames become log-likelihood ratios (signal and noise estimated from
the spread between and within bits), which are aligned in polarity and added:
a soft majority vote across frames and channels. A payload is reported only
when all 8 sync bits match and the CRC holds (up to 2 of the weakest bits may
be flipped to make it hold). When the frames as they are (or upscaled 2x, a
video resized to half) do not decode, every block-grid offset and tile roll
is searched (a crop), with 1 flip and a margin on the sync bits.

Payload (64 bits): 8 sync bits, a 20-bit installation tag and a 20-bit video
tag (the first bits of SHA-256 of the ids), CRC-16/CCITT over the tags; the
56 data bits are XOR-whitened with a fixed pseudo-random mask. A file without
a watermark passes the sync and CRC checks with a probability of about 4e-6
(aligned) and about 4e-4 (after the crop search); ``this_installation`` in
``verify`` also checks the 20-bit installation tag.

Frames must be 8x8 or larger; 64x64 (the built-in model's size) is the
smallest size at which one frame holds the whole tile. Measured robustness:
``python -m benchmarks.watermark`` (table in the README).
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass

import numpy as np

METHOD = "kinetoscope-dwt-svd-64"  # named in the C2PA manifest
BLOCK = 8  # pixels per block side (one Haar level -> 4x4 LL block)
TILE = 8  # blocks per tile side: TILE * TILE = 64 bits
BITS = TILE * TILE
_ROLLS = np.random.default_rng(0x726F6C6C).integers(0, TILE, (256, 2))  # tile roll of frame t (rows, cols), in blocks
STEP = (36.0, 36.0, 36.0)  # quantisation step of s0 for Y, U, V (strength; larger = more robust, more visible)
MIN_CONFIDENCE = 0.7  # expected bit accuracy (0.5 = chance) below which a payload is not reported
# block-grid offsets tried for a crop: even ones first (1 px off often still decodes), then the rest
SEARCH_OFFSETS = tuple(sorted(itertools.product(range(BLOCK), repeat=2), key=lambda o: (o[0] % 2 + o[1] % 2, o)))
SEARCH_FRAMES = 16  # frames (spread over the video) used in the crop search
SYNC_MARGIN = 0.25  # in the crop search, each sync bit's soft value must reach this share of the RMS soft bit
MAX_FRAMES = 64  # frames read for a decode (evenly spaced)
_RGB2YUV = np.array([[0.299, 0.587, 0.114], [-0.14713, -0.28886, 0.436], [0.615, -0.51499, -0.10001]])
_YUV2RGB = np.linalg.inv(_RGB2YUV)


@dataclass(frozen=True)
class Detection:
    found: bool
    installation_tag: str | None  # 5 hex digits (20 bits), or None when not found
    video_tag: str | None
    confidence: float  # expected fraction of correct bits, 0.5 (chance) to 1
    geometry: str = ""  # how it was found: "aligned", "offset y,x", "2x upscale", ...

    def to_dict(self) -> dict:
        return {"found": self.found, "payload": self.payload, "installation_tag": self.installation_tag,
                "video_tag": self.video_tag, "confidence": round(self.confidence, 3), "geometry": self.geometry}

    @property
    def payload(self) -> str | None:
        return None if not self.found else f"{self.installation_tag}{self.video_tag}"


# --- payload ---------------------------------------------------------------------------------
SYNC_AT = (15, 24, 29, 30, 37, 38, 47, 58)  # bit positions of the sync pattern (a tile roll overlaps it in <= 2)
SYNC = np.array([1, 0, 1, 1, 0, 0, 1, 0], np.uint8)
DATA_AT = tuple(i for i in range(BITS) if i not in SYNC_AT)  # 56 bits: 20 installation + 20 video + 16 CRC
TAG_BITS = 20
_WHITEN = np.random.default_rng(0x6B696E65).integers(0, 2, len(DATA_AT)).astype(np.uint8)


def tag(kind: str, value: str) -> str:
    """20-bit tag (5 hex digits) of an installation or video id: what the watermark carries."""
    return hashlib.sha256(f"kinetoscope-{kind}:{value}".encode()).hexdigest()[:TAG_BITS // 4]


def _crc16(data: bytes) -> int:
    crc = 0xFFFF  # CRC-16/CCITT-FALSE
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def _int_bits(value: int, n: int) -> list[int]:
    return [(value >> (n - 1 - i)) & 1 for i in range(n)]


def payload_bits(installation_id: str, video_id: str) -> np.ndarray:
    """(64,) uint8 bits to embed for this installation and video."""
    tags = int(tag("installation", installation_id) + tag("video", video_id), 16)  # 40 bits
    data = _int_bits(tags, 2 * TAG_BITS) + _int_bits(_crc16(tags.to_bytes(5, "big")), 16)
    bits = np.zeros(BITS, np.uint8)
    bits[list(SYNC_AT)] = SYNC
    bits[list(DATA_AT)] = np.array(data, np.uint8) ^ _WHITEN
    return bits


def parse_bits(bits: np.ndarray) -> tuple[str, str] | None:
    """(installation tag, video tag) when the sync pattern and the CRC hold, else None."""
    bits = np.asarray(bits, np.uint8)
    if not np.array_equal(bits[list(SYNC_AT)], SYNC):
        return None
    data = bits[list(DATA_AT)] ^ _WHITEN
    tags = int("".join(map(str, data[:2 * TAG_BITS])), 2)
    if _crc16(tags.to_bytes(5, "big")) != int("".join(map(str, data[2 * TAG_BITS:])), 2):
        return None
    text = f"{tags:010x}"
    return text[:5], text[5:]


# --- geometry ----------------------------------------------------------------------------------
def _bit_index(t: int, by: int, bx: int) -> np.ndarray:
    """(by, bx) bit number of each block of frame t: the 8x8 tile, rolled by a fixed pseudo-random amount per frame."""
    dy, dx = _ROLLS[t % len(_ROLLS)]
    r = (np.arange(by) + dy) % TILE
    c = (np.arange(bx) + dx) % TILE
    return r[:, None] * TILE + c[None, :]


def _ll_blocks(plane: np.ndarray, oy: int = 0, ox: int = 0) -> np.ndarray:
    """(T, H, W) -> (T, by, bx, 4, 4) orthonormal Haar LL blocks of the 8x8-pixel grid at (oy, ox)."""
    t, h, w = plane.shape
    by, bx = (h - oy) // BLOCK, (w - ox) // BLOCK
    p = plane[:, oy:oy + by * BLOCK, ox:ox + bx * BLOCK]
    ll = p.reshape(t, by * 4, 2, bx * 4, 2).sum(axis=(2, 4)) / 2  # (T, 4by, 4bx)
    return ll.reshape(t, by, 4, bx, 4).transpose(0, 1, 3, 2, 4)


def _s0(blocks: np.ndarray) -> np.ndarray:
    """Largest singular value of each 4x4 block: (..., 4, 4) -> (...)."""
    gram = np.einsum("...ji,...jk->...ik", blocks, blocks)
    return np.sqrt(np.maximum(np.linalg.eigvalsh(gram)[..., -1], 0))


# --- embed -------------------------------------------------------------------------------------
def embed(frames: np.ndarray, bits: np.ndarray, step=STEP) -> np.ndarray:
    """Frames (T, H, W, 3) uint8 with ``bits`` (64,) hidden in them; frames under 8x8 come back unchanged."""
    frames = np.asarray(frames)
    t, h, w, _ = frames.shape
    by, bx = h // BLOCK, w // BLOCK
    if by == 0 or bx == 0:
        return frames.copy()
    bits = np.asarray(bits, np.float64)
    b = np.stack([bits[_bit_index(i, by, bx)] for i in range(t)])  # (T, by, bx)
    yuv = frames.astype(np.float64) @ _RGB2YUV.T
    for c, s in enumerate(step):
        if not s:
            continue
        u, sv, vt = np.linalg.svd(_ll_blocks(yuv[..., c]))
        s0 = sv[..., 0]
        target = (np.floor(s0 / s) + 0.25 + 0.5 * b) * s
        d_ll = (target - s0)[..., None, None] * u[..., :, :1] * vt[..., :1, :]  # (T, by, bx, 4, 4)
        d_ll = d_ll.transpose(0, 1, 3, 2, 4).reshape(t, by * 4, bx * 4)
        # inverse Haar with only LL changed: each of the 2x2 pixels moves by d_LL / 2
        yuv[:, :by * BLOCK, :bx * BLOCK, c] += np.repeat(np.repeat(d_ll, 2, axis=1), 2, axis=2) / 2
    return np.clip(np.round(yuv @ _YUV2RGB.T), 0, 255).astype(np.uint8)


# --- decode ------------------------------------------------------------------------------------
def _votes(frames: np.ndarray, oy: int, ox: int, step=STEP) -> np.ndarray:
    """Per-channel votes in [-1, 1] for each block (C, T, by, bx), with each channel's phase shift removed."""
    yuv = frames.astype(np.float64) @ _RGB2YUV.T
    votes = []
    for c, s in enumerate(step):
        if not s:
            continue
        z = np.exp(2j * np.pi * _s0(_ll_blocks(yuv[..., c], oy, ox)) / s)  # a 0 bit sits at +i, a 1 bit at -i
        shift = 0.5 * np.angle(-np.mean(z ** 2))  # both bits give z^2 = -1; what is left is twice the shift
        votes.append(-(z * np.exp(-1j * shift)).imag)
    return np.stack(votes)


def _llr(votes: np.ndarray, times) -> np.ndarray:
    """Soft bits (64,): per-channel log-likelihood ratios, channels aligned in polarity and added.

    Each channel's votes for bit k are modelled as +-a + noise(sigma); a and
    sigma are estimated from the spread between and within the bits, so a
    channel that re-encoding wiped out (a ~ 0) adds nothing.
    """
    c, t, by, bx = votes.shape
    idx = np.stack([_bit_index(i, by, bx) for i in times]).reshape(-1)
    n = np.bincount(idx, minlength=BITS).astype(np.float64)
    seen = n > 0
    if seen.sum() < 2:
        return np.zeros(BITS)
    llrs = []
    for v in votes.reshape(c, -1):
        mu = np.bincount(idx, weights=v, minlength=BITS)[seen] / n[seen]
        within = (np.sum(v ** 2) - np.sum(n[seen] * mu ** 2)) / max(1.0, n.sum() - seen.sum())
        within = max(within, 1e-6)
        dev = mu - mu.mean()
        a = np.sqrt(max(0.0, np.mean(dev ** 2) - within * np.mean(1 / n[seen])))
        llr = np.zeros(BITS)
        llr[seen] = 2 * a * n[seen] * dev / within
        llrs.append(llr)
    llrs = np.stack(llrs)
    ref = llrs[np.argmax(np.abs(llrs).sum(1))]
    sign = np.where(llrs @ ref >= 0, 1.0, -1.0)
    return (llrs * sign[:, None]).sum(0)


def _confidence(llr: np.ndarray) -> float:
    """Expected fraction of correctly decoded bits (0.5 = chance), from the soft bits."""
    return float(np.mean(1 / (1 + np.exp(-np.minimum(np.abs(llr), 50)))))


def _rolled(llr: np.ndarray, roll) -> np.ndarray:
    """The soft bits read with the tile rolled by (dy, dx), polarity set by the sync bits."""
    soft = np.roll(llr.reshape(TILE, TILE), (-roll[0], -roll[1]), axis=(0, 1)).reshape(-1)
    return soft if soft[list(SYNC_AT)] @ (2.0 * SYNC - 1) >= 0 else -soft


def _decode(llr: np.ndarray, rolls, flips: int = 0, margin: float = 0.0) -> tuple[tuple[str, str], tuple[int, int]] | None:
    """Try each tile roll whose sync bits all match (by ``margin`` x the RMS soft bit); flip up to ``flips`` (0..2)
    of the 8 weakest data bits. Each CRC check passes noise with probability 2^-16."""
    for roll in rolls:
        soft = _rolled(llr, roll)
        bits = (soft > 0).astype(np.uint8)
        sync = soft[list(SYNC_AT)] * (2.0 * SYNC - 1)
        if sync.min() <= margin * np.sqrt(np.mean(soft ** 2)):
            continue
        weak = [DATA_AT[i] for i in np.argsort(np.abs(soft[list(DATA_AT)]))[:8]]
        for flip in itertools.chain.from_iterable(itertools.combinations(weak, k) for k in range(flips + 1)):
            b = bits.copy()
            b[list(flip)] ^= 1
            found = parse_bits(b)
            if found:
                return found, roll
    return None


def _upscale2(frames: np.ndarray) -> np.ndarray:
    from PIL import Image

    t, h, w, _ = frames.shape
    return np.stack([np.asarray(Image.fromarray(f).resize((2 * w, 2 * h), Image.Resampling.BICUBIC)) for f in frames])


def _spread(n: int, k: int) -> np.ndarray:
    """k frame numbers spread evenly over 0..n-1 (all of them when n <= k)."""
    return np.unique(np.linspace(0, n - 1, min(n, k)).round().astype(int))


def detect(frames: np.ndarray, *, search: bool = True, step=STEP) -> Detection:
    """Find the payload in frames (T, H, W, 3) uint8 (the video's frames from its start).

    First the frames as they are (and, up to 256x256, upscaled 2x: a video
    resized to half), allowing up to 2 flipped weak bits; with ``search``, then
    the block-grid offsets of a crop, the sync bits and CRC deciding the tile roll.
    """
    frames = np.asarray(frames)
    times = _spread(len(frames), MAX_FRAMES)
    frames = frames[times]
    sources = [("", frames)]
    if frames.shape[1] * frames.shape[2] <= 256 * 256:
        sources.append(("2x upscale, ", _upscale2(frames)))
    sources = [(name, src) for name, src in sources if min(src.shape[1:3]) >= BLOCK]
    best = 0.5
    for name, src in sources:
        llr = _llr(_votes(src, 0, 0, step), times)
        conf = _confidence(llr)
        best = max(best, conf)
        hit = _decode(llr, [(0, 0)], flips=2)
        if hit and conf >= MIN_CONFIDENCE:
            return Detection(True, *hit[0], conf, f"{name}aligned")
    if not search or min(frames.shape[1:3]) < 2 * BLOCK:
        return Detection(False, None, None, best)
    rolls = list(itertools.product(range(TILE), repeat=2))
    few = _spread(len(frames), SEARCH_FRAMES)
    for oy, ox in SEARCH_OFFSETS:
        llr = _llr(_votes(frames[few], oy, ox, step), times[few])
        conf = _confidence(llr)
        best = max(best, conf)
        hit = _decode(llr, rolls, flips=1, margin=SYNC_MARGIN)
        if hit and conf >= MIN_CONFIDENCE:
            return Detection(True, *hit[0], conf, f"crop: grid offset {oy},{ox}, tile roll {hit[1][0]},{hit[1][1]}")
    return Detection(False, None, None, best)
