"""Deterministic training data. Sample i of step s (i counts across all processes of the
global batch) is a pure function of (seed, s, i): a resumed run sees exactly the data it
would have seen, and N processes together see exactly what one process would."""

from __future__ import annotations

import numpy as np
import torch

from kinetoscope.train.config import TrainConfig

# Step numbers above every training step: data for fixed sample sheets, statistics and the
# latent pool, never drawn by a training step.
POOL_BATCHES = 10**11
FIXED_BATCH = 10**12
VAL_BATCH = 2 * 10**12


def step_rng(cfg: TrainConfig, step: int, salt: int = 0) -> np.random.Generator:
    """Choices shared by the whole global batch (frame count, crop)."""
    return np.random.default_rng([cfg.seed, step, salt])


def sample_rng(cfg: TrainConfig, step: int, index: int, salt: int = 0) -> np.random.Generator:
    """Choices of one sample (caption dropout, conditioning mask, pool index)."""
    return np.random.default_rng([cfg.seed, step, index, 100 + salt])


def sample_noise(cfg: TrainConfig, step: int, indices, shape) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample diffusion noise (B, *shape) and uniform draws (B,), seeded by global index."""
    noise, u = [], []
    for i in indices:
        g = torch.Generator().manual_seed(int(sample_rng(cfg, step, i, 1).integers(2**62)))
        noise.append(torch.randn(shape, generator=g))
        u.append(torch.randn(1, generator=g))
    return torch.stack(noise), torch.cat(u)


def world_config(cfg: TrainConfig, frames: int | None = None):
    from kinetoscope.data.world import WorldConfig

    return WorldConfig(
        width=cfg.width, height=cfg.height, frames=frames or cfg.frames,
        max_objects=cfg.max_objects, backgrounds=tuple(cfg.backgrounds), camera_prob=cfg.camera_prob,
        **{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.world.items()},
    )


def clip_seed(cfg: TrainConfig, step: int, index: int) -> int:
    return int(sample_rng(cfg, step, index, 2).integers(2**62))


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (3, T, H, W) float in [-1, 1]."""
    return torch.from_numpy(frames).permute(3, 0, 1, 2).float() / 127.5 - 1


def world_clips(cfg: TrainConfig, step: int, indices, frames: int | None = None):
    from kinetoscope.data.world import make_clip

    wcfg = world_config(cfg, frames)
    return [make_clip(clip_seed(cfg, step, i), wcfg, split="train") for i in indices]


def clip_caption(cfg: TrainConfig, clip) -> str:
    """A world clip's training caption: its own random phrasing, or its scene's canonical sentence."""
    if cfg.captions == "canonical":
        from kinetoscope.data.captions import canonical_caption

        return canonical_caption(clip.scene)
    return clip.caption


def world_batch(cfg: TrainConfig, step: int, indices, frames: int | None = None):
    """-> video (B, 3, T, H, W) in [-1, 1], captions list[str]. One batch has one frame count."""
    clips = world_clips(cfg, step, indices, frames)
    return torch.stack([to_tensor(c.frames) for c in clips]), [clip_caption(cfg, c) for c in clips]


def scene_caption(scene, rng: np.random.Generator, style: str = "random") -> str:
    """A fresh random phrasing of a stored scene (the latent pool re-captions every time), or its
    one canonical sentence."""
    from kinetoscope.data.captions import canonical_caption, random_caption

    return canonical_caption(scene) if style == "canonical" else random_caption(scene, rng)


_FOLDERS: dict = {}


def folder_batch(cfg: TrainConfig, step: int, indices):
    """A batch from a folder of consented clips: one aspect/duration bucket per step, buckets
    drawn in proportion to their size, so clips train at their own shape."""
    import hashlib
    from pathlib import Path

    from kinetoscope.data.folder import MANIFEST_NAMES, FolderDataset

    # the manifest's content is in the key: consent withdrawn mid-process is never served from a cached dataset
    manifests = [Path(cfg.data) / n for n in MANIFEST_NAMES if (Path(cfg.data) / n).is_file()]
    key = (cfg.data, cfg.seed, tuple(hashlib.sha256(m.read_bytes()).hexdigest() for m in manifests))
    if key not in _FOLDERS:
        for stale in [k for k in _FOLDERS if k[:2] == key[:2]]:
            del _FOLDERS[stale]
        _FOLDERS[key] = FolderDataset(cfg.data, seed=cfg.seed)
    ds = _FOLDERS[key]
    ds.set_epoch(step)
    bucket = ds.buckets[int(step_rng(cfg, step, 4).integers(len(ds.buckets)))]
    members = [i for i, b in enumerate(ds.buckets) if b == bucket]
    items = [ds[members[int(sample_rng(cfg, step, i, 4).integers(len(members)))]] for i in indices]
    return torch.stack([it["video"] for it in items]), [it["caption"] for it in items]


def source_batch(cfg: TrainConfig, step: int, indices, frames: int | None = None):
    if cfg.data == "world":
        return world_batch(cfg, step, indices, frames)
    return folder_batch(cfg, step, indices)


def random_crop(video: torch.Tensor, size: int, rng: np.random.Generator) -> torch.Tensor:
    if not size or size >= min(video.shape[-2:]):
        return video
    y = int(rng.integers(0, video.shape[-2] - size + 1))
    x = int(rng.integers(0, video.shape[-1] - size + 1))
    return video[..., y : y + size, x : x + size]


GIVEN_KINDS = ("first", "last", "first_last", "prefix", "suffix", "prefix_suffix")


def random_given(cfg: TrainConfig, t: int, rng: np.random.Generator) -> torch.Tensor:
    """(T,) bool conditioning mask over latent frames for one sample: none for most samples,
    else first / last / first+last / prefix / suffix / prefix+suffix (what image->video, extend forwards
    and backwards, interpolate, loop and storyboard keyframes use). At least one latent frame stays free."""
    given = torch.zeros(t, dtype=torch.bool)
    if t < 2 or rng.random() >= cfg.given_prob:
        return given
    kind = GIVEN_KINDS[rng.integers(len(GIVEN_KINDS))]
    n = int(rng.integers(1, t))
    if kind == "first":
        given[0] = True
    elif kind == "last":
        given[-1] = True
    elif kind == "first_last":
        given[0] = given[-1] = True
    elif kind == "prefix":
        given[:n] = True
    elif kind == "suffix":
        given[t - n :] = True
    elif t >= 3:  # prefix + suffix: a bridge between two clips (loops, storyboard keyframes)
        a = int(rng.integers(1, t - 1))
        given[:a] = True
        given[t - int(rng.integers(1, t - a)) :] = True
    else:
        given[0] = True
    return given
