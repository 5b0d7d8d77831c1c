"""Pixel space: the identity "autoencoder", so a denoiser can train and sample on pixels through
the same interface as on the causal VAE's latents (encode, decode, latent_shape, the config's
space and time factors)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from kinetoscope.models.io import PretrainedMixin


@dataclass
class PixelSpaceConfig:
    latent_channels: int = 3
    scaling_factor: float = 1.0
    shift_factor: float = 0.0

    @property
    def space_factor(self) -> int:
        return 1

    @property
    def time_factor(self) -> int:
        return 1


class PixelSpace(PretrainedMixin, nn.Module):
    """Frames in [-1, 1] are their own latents: (B, 3, T, H, W) -> the same tensor."""

    config_class = PixelSpaceConfig

    def __init__(self, config: PixelSpaceConfig | None = None):
        super().__init__()
        self.config = config or PixelSpaceConfig()

    def check_frames(self, t: int) -> None:
        if t < 1:
            raise ValueError(f"frame count {t} must be at least 1")

    def encode_moments(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x, torch.full_like(x, -30.0)

    def encode(self, x: torch.Tensor, sample: bool = False, generator=None) -> torch.Tensor:
        self.check_frames(x.shape[2])
        return x

    def decode(self, z: torch.Tensor, normalised: bool = True) -> torch.Tensor:
        return z

    def latent_shape(self, frames: int, height: int, width: int) -> tuple[int, int, int, int]:
        return (self.config.latent_channels, frames, height, width)
