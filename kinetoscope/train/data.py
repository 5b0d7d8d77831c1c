"""Deterministic training batches: batch `step` of rank `r` is a pure function of
(seed, step, rank), so a resumed run sees exactly the data it would have seen."""

from __future__ import annotations

import numpy as np
import torch

from kinetoscope.train.config import TrainConfig


# Batch numbers above every training step: data for fixed sample sheets, statistics and the
# latent pool, never drawn by a training step.
POOL_BATCHES = 10**11
FIXED_BATCH = 10**12


def step_rng(cfg: TrainConfig, step: int, rank: int, salt: int = 0) -> np.random.Generator:
    return np.random.default_rng([cfg.seed, step, rank, salt])


def step_generator(cfg: TrainConfig, step: int, rank: int, salt: int = 1) -> torch.Generator:
    return torch.Generator().manual_seed(int(step_rng(cfg, step, rank, salt).integers(2**62)))


def world_config(cfg: TrainConfig, frames: int | None = None):
    from kinetoscope.data.world import WorldConfig

    return WorldConfig(
        width=cfg.width, height=cfg.height, frames=frames or cfg.frames,
        max_objects=cfg.max_objects, backgrounds=tuple(cfg.backgrounds), camera_prob=cfg.camera_prob,
    )


def clip_seed(cfg: TrainConfig, step: int, rank: int, j: int) -> int:
    return int(step_rng(cfg, step, rank, 2).integers(2**40)) * 1000 + j


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (3, T, H, W) float in [-1, 1]."""
    return torch.from_numpy(frames).permute(3, 0, 1, 2).float() / 127.5 - 1


def world_batch(cfg: TrainConfig, step: int, rank: int, per_rank: int, frames: int | None = None):
    """-> video (B, 3, T, H, W) in [-1, 1], captions list[str]. One batch has one frame count."""
    from kinetoscope.data.world import make_clip

    wcfg = world_config(cfg, frames)
    clips = [make_clip(clip_seed(cfg, step, rank, j), wcfg, split="train") for j in range(per_rank)]
    return torch.stack([to_tensor(c.frames) for c in clips]), [c.caption for c in clips]


def random_crop(video: torch.Tensor, size: int, rng: np.random.Generator) -> torch.Tensor:
    if not size or size >= min(video.shape[-2:]):
        return video
    y = int(rng.integers(0, video.shape[-2] - size + 1))
    x = int(rng.integers(0, video.shape[-1] - size + 1))
    return video[..., y : y + size, x : x + size]


GIVEN_KINDS = ("first", "last", "first_last", "prefix", "suffix")


def random_given(cfg: TrainConfig, b: int, t: int, rng: np.random.Generator) -> torch.Tensor:
    """(B, T) bool conditioning masks over latent frames: none for most samples, else one of
    first / last / first+last / prefix / suffix (what image->video, extend, interpolate use)."""
    given = torch.zeros(b, t, dtype=torch.bool)
    for i in range(b):
        if t < 2 or rng.random() >= cfg.given_prob:
            continue
        kind = GIVEN_KINDS[rng.integers(len(GIVEN_KINDS))]
        n = int(rng.integers(1, t))
        if kind == "first":
            given[i, 0] = True
        elif kind == "last":
            given[i, -1] = True
        elif kind == "first_last":
            given[i, 0] = given[i, -1] = True
        elif kind == "prefix":
            given[i, :n] = True
        else:
            given[i, t - n :] = True
    return given
