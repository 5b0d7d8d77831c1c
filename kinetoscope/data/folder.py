"""Training data from a folder of real clips and images, used only with consent.

The folder holds the media and one manifest, ``manifest.jsonl`` (one JSON
object a line) or ``manifest.csv`` (a header row), with the fields
``path`` (relative to the folder), ``caption``, ``licence``, ``consent`` and
``source``. An entry is used only when it has a non-empty licence, a consent
of true / "yes" / "granted" / "true", a path that stays inside the folder,
and a file that can be read. Everything else is refused: ``load_manifest``
raises ``ConsentError`` listing every refused path and why, or with
``allow_partial=True`` drops those entries and returns them as refusals so
the caller can report them. Nothing refused is ever trained on.

Clips are put in aspect/duration buckets (``assign_bucket``) so a batch
shares one shape: the nearest aspect ratio, then the largest size that the
clip covers (else that aspect's smallest), and the longest frame count of the
form 1+4k its length supports at the target fps (images: 1 frame).
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

import av
import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from kinetoscope.media import MediaError, read_media, read_video, resize_frames
from kinetoscope.media.read import FALLBACK_FPS, IMAGE_SUFFIXES, MAX_FRAMES, MAX_PIXELS, VIDEO_DEMUXERS

log = logging.getLogger(__name__)

# (width, height); sides are multiples of 16 (8x autoencoder, 2x2 patches). Aspects 1:1, 3:2, 2:3.
BUCKETS: tuple[tuple[int, int], ...] = ((64, 64), (96, 64), (64, 96), (128, 128), (192, 128), (128, 192))
FRAME_COUNTS: tuple[int, ...] = (1, 5, 9, 17, 33)  # 1 + 4k: the autoencoder compresses time 4x
MANIFEST_NAMES = ("manifest.jsonl", "manifest.csv")
CONSENT_YES = frozenset({"true", "yes", "granted"})


class ConsentError(ValueError):
    """Entries of a folder's manifest that may not be trained on; ``refusals`` lists them."""

    def __init__(self, message: str, refusals: list[Refusal] | None = None):
        self.refusals = list(refusals or [])
        super().__init__(message)


@dataclass(frozen=True)
class Refusal:
    path: str  # as written in the manifest (or "line N" when there is no path)
    reasons: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.path}: {'; '.join(self.reasons)}"


@dataclass(frozen=True)
class Entry:
    path: Path  # absolute
    relpath: str
    caption: str
    licence: str
    source: str
    width: int
    height: int
    frames: int
    fps: float  # 0.0 for a still image
    is_image: bool


def _consented(value) -> bool:
    if value is True:
        return True
    return isinstance(value, str) and value.strip().lower() in CONSENT_YES


def _escapes(rel: str, folder: Path) -> bool:
    if PurePosixPath(rel).is_absolute() or PureWindowsPath(rel).is_absolute() or PureWindowsPath(rel).drive:
        return True
    if ".." in PurePosixPath(rel.replace("\\", "/")).parts:
        return True
    full = (folder / rel).resolve()  # a symlink that leads out of the folder escapes too
    return full != folder and folder not in full.parents


def probe(path: Path, max_frames: int = MAX_FRAMES, max_pixels: int = MAX_PIXELS) -> tuple[int, int, int, float]:
    """(width, height, frames, fps) from the file's header, without decoding pixels; MediaError if unreadable."""
    if not path.is_file() or path.stat().st_size == 0:
        raise MediaError("is not a non-empty file", path)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        try:
            with Image.open(path) as im:
                w, h = im.size
                if im.getexif().get(0x0112) in (5, 6, 7, 8):  # EXIF rotation by 90 degrees: read_image turns it
                    w, h = h, w
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as e:
            raise MediaError(f"is not an image that can be read ({e})", path) from e
        frames, fps = 1, 0.0
    else:
        try:
            with av.open(str(path), mode="r", container_options={
                    "protocol_whitelist": "file", "format_whitelist": VIDEO_DEMUXERS}) as c:
                if not c.streams.video:
                    raise MediaError("has no video stream", path)
                s = c.streams.video[0]
                w, h = s.codec_context.width, s.codec_context.height
                frames = s.frames or sum(p.size > 0 for p in c.demux(s))
                fps = float(s.average_rate or s.guessed_rate or FALLBACK_FPS)
        except av.FFmpegError as e:
            raise MediaError(f"is not a video that can be read ({e})", path) from e
    if not (1 <= w * h <= max_pixels) or not 1 <= frames <= max_frames:
        raise MediaError(f"is {w}x{h} with {frames} frames; limits {max_pixels} pixels, {max_frames} frames", path)
    return w, h, frames, fps


def _rows(manifest: Path):
    """(line number, dict or None when the line is malformed)."""
    with manifest.open(newline="", encoding="utf-8") as f:
        if manifest.suffix == ".csv":
            reader = csv.DictReader(f)
            for row in reader:
                yield reader.line_num, {k.strip(): v for k, v in row.items() if k}
            return
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    row = None
                yield n, row if isinstance(row, dict) else None


def load_manifest(folder, *, allow_partial: bool = False, verify: bool = False,
                  max_frames: int = MAX_FRAMES) -> tuple[list[Entry], list[Refusal]]:
    """The usable entries of ``folder``'s manifest and the refused ones: (entries, refusals).

    Raises ConsentError naming every refused path and reason unless
    ``allow_partial``; then refusals are logged and returned, never used.
    ``verify`` decodes every file once (slow) instead of reading headers only.
    """
    folder = Path(folder).resolve()
    found = [folder / n for n in MANIFEST_NAMES if (folder / n).is_file()]
    if len(found) != 1:
        problem = "has no manifest.jsonl or manifest.csv" if not found else "has both manifest.jsonl and manifest.csv"
        raise ConsentError(f"{folder} {problem}; nothing in it may be trained on")
    entries, refusals = [], []
    for n, row in _rows(found[0]):
        if row is None:
            refusals.append(Refusal(f"line {n}", ("malformed manifest line",)))
            continue
        rel = str(row.get("path") or "").strip()
        reasons = []
        if not str(row.get("licence") or "").strip():
            reasons.append("missing licence")
        if not _consented(row.get("consent")):
            reasons.append("no consent")
        dims = None
        if not rel:
            reasons.append("missing path")
        elif _escapes(rel, folder):
            reasons.append("path escapes the folder")
        elif not (folder / rel).is_file():
            reasons.append("file missing")
        else:
            try:
                dims = probe(folder / rel, max_frames=max_frames)
                if verify:
                    read_media(folder / rel, max_frames=max_frames)
            except (MediaError, OSError) as e:
                reasons.append(f"unreadable ({getattr(e, 'problem', e)})")
        if reasons:
            refusals.append(Refusal(rel or f"line {n}", tuple(reasons)))
            continue
        caption = row.get("caption")
        entries.append(Entry(folder / rel, rel, "" if caption is None else str(caption),
                             str(row["licence"]).strip(), str(row.get("source") or ""), *dims,
                             is_image=(folder / rel).suffix.lower() in IMAGE_SUFFIXES))
    if refusals and not allow_partial:
        raise ConsentError(f"{found[0]}: {len(refusals)} entries may not be trained on:\n"
                           + "\n".join(f"  {r}" for r in refusals), refusals)
    for r in refusals:
        log.warning("refused for training: %s", r)
    return entries, refusals


def _step(src_fps: float, fps: float) -> float:
    """Source frames per target frame; never below 1 (slow clips are not padded with repeats)."""
    return max(1.0, src_fps / fps) if src_fps > 0 else 1.0


def assign_bucket(width: int, height: int, frames: int = 1, src_fps: float = 0.0, fps: float = 8.0, *,
                  buckets=BUCKETS, frame_counts=FRAME_COUNTS) -> tuple[int, int, int]:
    """(w, h, T) for a clip of ``width`` x ``height`` with ``frames`` frames at ``src_fps``."""
    aspect = math.log(width / height)
    best = min(abs(math.log(w / h) - aspect) for w, h in buckets)
    same = sorted((b for b in buckets if abs(abs(math.log(b[0] / b[1]) - aspect) - best) < 1e-9),
                  key=lambda b: b[0] * b[1])
    fitting = [b for b in same if b[0] <= width and b[1] <= height]
    w, h = fitting[-1] if fitting else same[0]
    usable = 1 if frames <= 1 else int((frames - 1) // _step(src_fps, fps)) + 1
    t = max([c for c in frame_counts if c <= usable] or [min(frame_counts)])
    return w, h, t


class FolderDataset(torch.utils.data.Dataset):
    """Consented clips of a folder: ``{"video": (3, T, H, W) float in [-1, 1], "caption", "bucket": (w, h, T)}``.

    Clips are subsampled to ``fps`` frames a second from a random start that
    depends on (seed, epoch, index) only, then resized to their bucket ("cover").
    """

    def __init__(self, folder, *, fps: float = 8.0, seed: int = 0, allow_partial: bool = False,
                 verify: bool = False, buckets=BUCKETS, frame_counts=FRAME_COUNTS):
        self.fps, self.seed, self.epoch = float(fps), int(seed), 0
        self.entries, self.refusals = load_manifest(folder, allow_partial=allow_partial, verify=verify)
        self.buckets = [assign_bucket(e.width, e.height, e.frames, e.fps, self.fps, buckets=buckets,
                                      frame_counts=frame_counts) for e in self.entries]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i: int) -> dict:
        e, (w, h, t) = self.entries[i], self.buckets[i]
        if e.is_image:
            frames = read_media(e.path)
            step = 1.0
        else:
            frames, src_fps = read_video(e.path)
            step = _step(src_fps, self.fps)
        n = len(frames)
        span = (t - 1) * step
        rng = np.random.default_rng((self.seed, self.epoch, i))
        start = rng.uniform(0, n - 1 - span) if n - 1 > span else 0.0
        idx = np.minimum(np.round(start + step * np.arange(t)).astype(int), n - 1)  # header said more? repeat last
        frames = resize_frames(frames[idx], w, h, "cover")  # (T, h, w, 3)
        video = torch.from_numpy(frames).permute(3, 0, 1, 2).float().div_(127.5).sub_(1.0)  # (3, T, h, w)
        return {"video": video, "caption": e.caption, "bucket": (w, h, t)}


def collate(items: list[dict]) -> dict:
    """Batch items of one bucket: {"video": (B, 3, T, H, W), "caption": [str], "bucket": (w, h, T)}."""
    buckets = {it["bucket"] for it in items}
    if len(buckets) != 1:
        raise ValueError(f"a batch mixes buckets {sorted(buckets)}; use BucketBatchSampler")
    return {"video": torch.stack([it["video"] for it in items]), "caption": [it["caption"] for it in items],
            "bucket": buckets.pop()}


class BucketBatchSampler(torch.utils.data.Sampler):
    """Batches of indices that share a bucket, shuffled by (seed, epoch), strided over DDP ranks.

    ``buckets`` is one hashable key per item (e.g. ``FolderDataset.buckets``)
    or a dataset with a ``buckets`` attribute. Every rank yields the same
    number of batches: short of a multiple of ``world_size``, batches are
    repeated from the start (or dropped with ``drop_last``).
    """

    def __init__(self, buckets, batch_size: int, *, seed: int = 0, shuffle: bool = True,
                 drop_last: bool = False, rank: int = 0, world_size: int = 1):
        self.keys = list(getattr(buckets, "buckets", buckets))
        if batch_size < 1 or world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"batch_size {batch_size}, rank {rank}, world_size {world_size} are out of range")
        self.batch_size, self.seed, self.shuffle, self.drop_last = batch_size, seed, shuffle, drop_last
        self.rank, self.world_size, self.epoch = rank, world_size, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _batches(self) -> list[list[int]]:
        rng = np.random.default_rng((self.seed, self.epoch))
        groups = defaultdict(list)
        for i, k in enumerate(self.keys):
            groups[k].append(i)
        batches = []
        for k in sorted(groups, key=repr):  # a fixed order, whatever the keys are
            idx = groups[k]
            if self.shuffle:
                idx = [idx[j] for j in rng.permutation(len(idx))]
            for s in range(0, len(idx), self.batch_size):
                if len(idx) - s >= self.batch_size or not self.drop_last:
                    batches.append(idx[s:s + self.batch_size])
        if self.shuffle:
            batches = [batches[j] for j in rng.permutation(len(batches))]
        whole = len(batches) // self.world_size * self.world_size
        if self.drop_last or not batches:
            return batches[:whole]
        extra = (-len(batches)) % self.world_size
        return batches + [batches[j % len(batches)] for j in range(extra)]

    def __iter__(self):
        yield from self._batches()[self.rank::self.world_size]

    def __len__(self) -> int:
        return len(self._batches()) // self.world_size
