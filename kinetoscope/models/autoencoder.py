"""Causal 3D convolutional VAE.

Frames are grouped as 1 + 4k: the first frame is encoded on its own (so an
image is a 1-frame video in the same latent space), every later group of 4
frames becomes one latent frame; space is compressed 8x. Encoding and decoding
run one chunk (one latent frame) at a time; each causal convolution keeps the
last frames of its input from the previous chunk in a small cache, so the
result equals a whole-video pass while peak memory stays flat in the length.
With `lookahead` the decoder also reads the next latent frame (one chunk of
delay when streaming), so it need not hold objects still inside a chunk and
catch up where the next one starts. With `smooth_out` a causal ResBlock at full
resolution follows the last time upsampling: without it, the frames a chunk unfolds
into never see the previous chunk's frames, and the motion steps at every boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from kinetoscope.models.conv import Conv3d
from kinetoscope.models.io import PretrainedMixin


@dataclass
class AutoencoderConfig:
    in_channels: int = 3
    latent_channels: int = 8
    channels: tuple[int, ...] = (24, 48, 96, 128)  # one level per 2x spatial step, +1 bottom level
    spatial_only_levels: int = 2  # the first (largest) levels use (1,3,3) kernels: time is mixed where it is cheap
    time_down: tuple[bool, ...] = (False, True, True)  # which spatial steps also halve time
    scaling_factor: float = 1.0  # latents are multiplied by this before the denoiser sees them
    shift_factor: float = 0.0
    lookahead: int = 0  # 1: the decoder also sees the next latent frame, so motion inside a chunk runs on into the next
    smooth_out: bool = False  # a causal (3,3,3) ResBlock after the last time upsampling, so a chunk's first frames see the last ones before

    @property
    def space_factor(self) -> int:
        return 2 ** (len(self.channels) - 1)

    @property
    def time_factor(self) -> int:
        return 2 ** sum(self.time_down)


class RMSNorm(nn.Module):
    """Channel-wise RMS norm: per position, so chunked == whole-video."""

    def __init__(self, c: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(c, 1, 1, 1))

    def forward(self, x):  # (B, C, T, H, W)
        return F.normalize(x, dim=1) * (x.shape[1] ** 0.5) * self.gamma


class CausalConv3d(Conv3d):
    """3D conv, padded only towards the past in time, with a cache of past frames."""

    def __init__(self, cin, cout, kernel=(3, 3, 3)):
        super().__init__(cin, cout, kernel, padding=(0, kernel[1] // 2, kernel[2] // 2))
        self.past = kernel[0] - 1
        self.cache: torch.Tensor | None = None

    def forward(self, x):  # (B, C, T, H, W)
        if self.past:
            prev = self.cache if self.cache is not None else x[:, :, :1].expand(-1, -1, self.past, -1, -1)
            x = torch.cat([prev, x], dim=2)
            self.cache = x[:, :, -self.past:].detach()
        return super().forward(x)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, kt: int = 3):
        super().__init__()
        self.norm1, self.conv1 = RMSNorm(cin), CausalConv3d(cin, cout, (kt, 3, 3))
        self.norm2, self.conv2 = RMSNorm(cout), CausalConv3d(cout, cout, (kt, 3, 3))
        self.skip = Conv3d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class Downsample(nn.Module):
    """2x in space (strided conv); 2x in time by folding frame pairs into channels.

    The first chunk of a video is a single frame: it is never halved in time.
    """

    def __init__(self, cin, c, time: bool):
        super().__init__()
        self.time = time
        self.space = Conv3d(cin, c, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        if time:
            self.fold = Conv3d(2 * c, c, 1)

    def forward(self, x):
        x = self.space(x)
        if self.time and x.shape[2] > 1:
            b, c, t, h, w = x.shape
            x = x.reshape(b, c, t // 2, 2, h, w).transpose(2, 3).reshape(b, 2 * c, t // 2, h, w)
            x = self.fold(x)
        return x


class Upsample(nn.Module):
    """Inverse of Downsample: 2x nearest + conv in space, 2x in time by unfolding channels."""

    def __init__(self, c, cout, time: bool):
        super().__init__()
        self.time = time
        self.space = Conv3d(c, cout, (1, 3, 3), padding=(0, 1, 1))
        if time:
            self.unfold = Conv3d(c, 2 * c, 1)

    def forward(self, x, first_chunk: bool):
        if self.time and not first_chunk:
            b, c, t, h, w = x.shape
            x = self.unfold(x).reshape(b, 2, c, t, h, w).permute(0, 2, 3, 1, 4, 5).reshape(b, c, 2 * t, h, w)
        x = F.interpolate(x, scale_factor=(1, 2, 2), mode="nearest")
        return self.space(x)


class Encoder(nn.Module):
    def __init__(self, cfg: AutoencoderConfig):
        super().__init__()
        ch = cfg.channels
        kt = [1 if i < cfg.spatial_only_levels else 3 for i in range(len(ch))]
        self.conv_in = CausalConv3d(cfg.in_channels, ch[0], (kt[0], 3, 3))
        self.blocks = nn.ModuleList()
        for i in range(len(ch) - 1):
            self.blocks.append(nn.ModuleList([ResBlock(ch[i], ch[i], kt[i]), Downsample(ch[i], ch[i + 1], cfg.time_down[i])]))
        self.mid = ResBlock(ch[-1], ch[-1])
        self.norm_out = RMSNorm(ch[-1])
        self.conv_out = CausalConv3d(ch[-1], 2 * cfg.latent_channels)

    def forward(self, x):  # (B, 3, t, H, W) one chunk -> (B, 2*Cz, 1, H/8, W/8)
        h = self.conv_in(x)
        for res, down in self.blocks:
            h = down(res(h))
        h = self.mid(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, cfg: AutoencoderConfig):
        super().__init__()
        ch = cfg.channels[::-1]
        kt = [1 if i < cfg.spatial_only_levels else 3 for i in range(len(ch))][::-1]
        self.conv_in = CausalConv3d(cfg.latent_channels, ch[0])
        self.ahead = None
        if cfg.lookahead:  # zero-initialised: a grown causal decoder starts out decoding exactly as before
            self.ahead = Conv3d(cfg.latent_channels, ch[0], (1, 3, 3), padding=(0, 1, 1))
            nn.init.zeros_(self.ahead.weight)
            nn.init.zeros_(self.ahead.bias)
        self.mid = ResBlock(ch[0], ch[0])
        self.blocks = nn.ModuleList()
        tdown = cfg.time_down[::-1]
        for i in range(len(ch) - 1):
            self.blocks.append(nn.ModuleList([ResBlock(ch[i], ch[i], kt[i]), Upsample(ch[i], ch[i + 1], tdown[i])]))
        self.smooth = None
        if cfg.smooth_out:  # zero-initialised residual: a grown decoder starts out decoding exactly as before
            self.smooth = ResBlock(ch[-1], ch[-1], 3)
            nn.init.zeros_(self.smooth.conv2.weight)
            nn.init.zeros_(self.smooth.conv2.bias)
        self.norm_out = RMSNorm(ch[-1])
        self.conv_out = CausalConv3d(ch[-1], cfg.in_channels, (kt[-1], 3, 3))

    def forward(self, z, z_next, first_chunk: bool):  # (B, Cz, 1, h, w) each -> (B, 3, t, H, W)
        h = self.conv_in(z)
        if self.ahead is not None:
            h = h + self.ahead(z_next)
        h = self.mid(h)
        for res, up in self.blocks:
            h = up(res(h), first_chunk)
        if self.smooth is not None:
            h = self.smooth(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class CausalVAE(PretrainedMixin, nn.Module):
    config_class = AutoencoderConfig

    def __init__(self, config: AutoencoderConfig):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)

    def _reset(self):
        for m in self.modules():
            if isinstance(m, CausalConv3d):
                m.cache = None

    def check_frames(self, t: int) -> None:
        k = self.config.time_factor
        if t < 1 or (t - 1) % k:
            raise ValueError(f"frame count {t} is not of the form 1+{k}k (1, {1 + k}, {1 + 2 * k}, ...)")

    def encode_moments(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, 1+4k, H, W) in [-1, 1] -> mean, logvar each (B, Cz, 1+k, H/8, W/8)."""
        self.check_frames(x.shape[2])
        s = self.config.space_factor
        if x.shape[-1] % s or x.shape[-2] % s:
            raise ValueError(f"size {x.shape[-1]}x{x.shape[-2]} is not a multiple of {s}")
        self._reset()
        k = self.config.time_factor
        chunks = [x[:, :, :1]] + (list(x[:, :, 1:].split(k, dim=2)) if x.shape[2] > 1 else [])
        out = torch.cat([self.encoder(c) for c in chunks], dim=2)
        self._reset()
        mean, logvar = out.chunk(2, dim=1)
        return mean, logvar.clamp(-30, 20)

    def encode(self, x: torch.Tensor, sample: bool = False, generator=None) -> torch.Tensor:
        """Pixels -> normalised latents (what the denoiser sees)."""
        mean, logvar = self.encode_moments(x)
        z = mean
        if sample:
            noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
            z = mean + noise * (0.5 * logvar).exp()
        return (z - self.config.shift_factor) * self.config.scaling_factor

    def decode(self, z: torch.Tensor, normalised: bool = True) -> torch.Tensor:
        """(B, Cz, 1+k, h, w) -> (B, 3, 1+4k, 8h, 8w) in about [-1, 1], one latent frame at a time
        (with `lookahead`, each chunk also sees the next latent frame; the last one sees itself)."""
        if normalised:
            z = z / self.config.scaling_factor + self.config.shift_factor
        self._reset()
        z_next = torch.cat([z[:, :, 1:], z[:, :, -1:]], dim=2)  # the next latent frame; the last one repeated
        frames = [self.decoder(z[:, :, i : i + 1], z_next[:, :, i : i + 1], first_chunk=(i == 0)) for i in range(z.shape[2])]
        self._reset()
        return torch.cat(frames, dim=2)

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None):
        """Training pass: pixels -> (reconstruction, mean, logvar), with a sampled latent."""
        mean, logvar = self.encode_moments(x)
        noise = torch.randn_like(mean) if noise is None else noise
        z = mean + noise * (0.5 * logvar).exp()
        return self.decode(z, normalised=False), mean, logvar

    def latent_shape(self, frames: int, height: int, width: int) -> tuple[int, int, int, int]:
        s, k = self.config.space_factor, self.config.time_factor
        return (self.config.latent_channels, 1 + (frames - 1) // k, height // s, width // s)
