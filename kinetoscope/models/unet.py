"""A factorised (2+1)D convolutional U-Net denoiser over latent video.

The alternative backbone for small CPU budgets (../shared/MEASURED.md: convolutions
learned far faster than a transformer at this scale). Same interface as the DiT:
    forward(x (B,C,T,H,W), t (B,), text (B,L,D), text_mask (B,L) bool, given (B,T) bool) -> (B,C,T,H,W)
Two levels of ResBlocks (spatial 3x3 conv then temporal 3-tap conv, timestep + pooled
text as scale/shift of the second norm, zero-initialised last conv), one self-attention
+ cross-attention block at the coarse level, skip connections, zero-initialised head.
`fine_cross` adds a cross-attention to the text after every fine-level ResBlock, so the
grid where an object is a cell or two can tell which colour word names the object and
which the background (the pooled text in scale/shift carries both colours, not their roles).

`patch` (1, 2s, 2s) with s > 1 first folds s x s latent cells into channels (space-to-depth,
as in ../shared/MEASURED.md's recipe), so a finer latent grid (a 4x-space autoencoder) costs
what a coarse one did; the head unfolds them again (depth-to-space, like a DiT's unpatchify).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from kinetoscope.models.conv import Conv3d
from kinetoscope.models.io import PretrainedMixin
from kinetoscope.models.transformer import Attention, pool_text, timestep_embedding


@dataclass
class UNetConfig:
    in_channels: int = 8
    channels: tuple[int, int] = (64, 128)
    blocks: int = 2
    heads: int = 4
    text_dim: int = 384
    patch: tuple[int, int, int] = (1, 2, 2)  # the grid it downsamples by: (1, 2s, 2s), s = space-to-depth fold
    prediction: str = "x0"
    fine_cross: bool = False  # cross-attention to the text after every fine-level ResBlock too, not only at the coarse level
    frame_pos: bool = False  # add an embedding of each latent frame's index (zero-initialised): without it nothing
    # tells the frames apart at pure noise, so the clean estimate cannot move the way the caption says
    space_pos: bool = False  # add an embedding of each cell's place in the frame (y, x in [-1, 1], zero-initialised):
    # a convolution knows where it is only from the zero padding (CoordConv, Liu et al. 2018)
    stem: str = "conv"  # conv: a 3x3x3 conv from the folded input; linear: a 1x1x1 one (at a large fold the
    # 3x3x3 stem dominated the step's cost)
    head: str = "unfold"  # unfold: a 3x3x3 conv to the folded output, unfolded; concat: the features unfolded
    # to full resolution, concatenated with the noisy input, then a zero-initialised 3x3x3 conv; refine: concat
    # with one more full-resolution layer first ((1,3,3) conv to 2 x head_channels, GroupNorm, SiLU), so what is
    # drawn inside a fold is not a linear function of its features and the noisy pixels around it
    head_channels: int = 16  # concat head: feature channels per full-resolution position
    text_pool: str = "mean"  # the pooled caption: the mean of its tokens, or their sum (summed class labels: each
    # concept adds the same vector however many others the caption names)
    text_whiten: bool = False  # whiten the pooled caption (ZCA over the training captions, buffers set by
    # the trainer): a frozen sentence encoder puts captions that differ in one word at cosine ~0.93, so a
    # word's signal is a small offset on a large shared vector; whitened, every direction the captions
    # vary in has unit variance


class GroupNorm32(nn.GroupNorm):
    """GroupNorm computed in float32 whatever the autocast dtype, output in the input's dtype (as
    mixed-precision training keeps its norms); the same parameters and outputs in float32."""

    def forward(self, x):
        if x.dtype == torch.float32:
            return super().forward(x)
        with torch.autocast(x.device.type, enabled=False):
            return super().forward(x.float()).to(x.dtype)


def _norm(c):
    return GroupNorm32(min(32, c // 4), c, eps=1e-6)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, cond_dim):
        super().__init__()
        self.norm1 = _norm(cin)
        self.conv1s = Conv3d(cin, cout, (1, 3, 3), padding=(0, 1, 1))
        self.conv1t = Conv3d(cout, cout, (3, 1, 1), padding=(1, 0, 0))
        self.norm2 = _norm(cout)
        self.cond = nn.Linear(cond_dim, 2 * cout)
        self.conv2s = Conv3d(cout, cout, (1, 3, 3), padding=(0, 1, 1))
        self.conv2t = Conv3d(cout, cout, (3, 1, 1), padding=(1, 0, 0))
        nn.init.zeros_(self.conv2t.weight)
        nn.init.zeros_(self.conv2t.bias)
        self.skip = Conv3d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, c):  # x (B, C, T, H, W), c (B, cond_dim)
        h = self.conv1t(self.conv1s(F.silu(self.norm1(x))))
        scale, shift = self.cond(c)[:, :, None, None, None].chunk(2, dim=1)
        h = F.silu(self.norm2(h) * (1 + scale) + shift)
        return self.skip(x) + self.conv2t(self.conv2s(h))


class _PositionBlock(nn.Module):
    """A block over all T*H*W positions as tokens: (B, C, T, H, W) -> (B, N, C) -> `tokens` -> back."""

    def forward(self, x, text, mask):
        b, c, t, h, w = x.shape
        s = self.tokens(x.flatten(2).transpose(1, 2), text, mask)
        return s.transpose(1, 2).reshape(b, c, t, h, w)


class CrossBlock(_PositionBlock):
    """Cross-attention from every position to the text tokens (zero-initialised output, so a
    model grown with these blocks starts as the model without them)."""

    def __init__(self, c, heads, text_dim):
        super().__init__()
        self.norm, self.cross = nn.LayerNorm(c), Attention(c, heads, kv_dim=c)
        self.text_proj = nn.Linear(text_dim, c)
        nn.init.zeros_(self.cross.out.weight)
        nn.init.zeros_(self.cross.out.bias)

    def tokens(self, s, text, mask):
        return s + self.cross(self.norm(s), context=self.text_proj(text), mask=mask)


class AttnBlock(_PositionBlock):
    """Self-attention over all T*H*W positions, then cross-attention to the text tokens."""

    def __init__(self, c, heads, text_dim):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(c), Attention(c, heads)
        self.norm2, self.cross = nn.LayerNorm(c), Attention(c, heads, kv_dim=c)
        self.text_proj = nn.Linear(text_dim, c)
        nn.init.zeros_(self.attn.out.weight)
        nn.init.zeros_(self.cross.out.weight)

    def tokens(self, s, text, mask):
        s = s + self.attn(self.norm1(s))
        return s + self.cross(self.norm2(s), context=self.text_proj(text), mask=mask)


class ConvUNet(PretrainedMixin, nn.Module):
    config_class = UNetConfig

    def __init__(self, config: UNetConfig):
        super().__init__()
        self.config = cfg = config
        c1, c2 = cfg.channels
        if cfg.patch[0] not in (1, 2) or cfg.patch[1] != cfg.patch[2] or cfg.patch[1] % 2:
            raise ValueError(f"UNet patch {tuple(cfg.patch)} must be (1, 2s, 2s) or (2, 2s, 2s)")
        if cfg.text_pool not in ("mean", "sum"):
            raise ValueError(f"UNet text_pool {cfg.text_pool!r}: allowed mean|sum")
        if cfg.stem not in ("conv", "linear") or cfg.head not in ("unfold", "concat", "refine"):
            raise ValueError(f"UNet stem {cfg.stem!r} / head {cfg.head!r}: allowed conv|linear / unfold|concat|refine")
        self.fold = s = cfg.patch[1] // 2
        self.tfold = pt = cfg.patch[0]
        cin = (cfg.in_channels + 1) * s * s * pt  # +1: the "given" flag channel
        self.t_embed = nn.Sequential(nn.Linear(256, c2), nn.SiLU(), nn.Linear(c2, c2))
        self.pooled_proj = nn.Linear(cfg.text_dim, c2)
        if cfg.text_whiten:
            self.register_buffer("pool_mean", torch.zeros(cfg.text_dim))
            self.register_buffer("pool_whiten", torch.eye(cfg.text_dim))
        self.conv_in = Conv3d(cin, c1, (3, 3, 3), padding=1) if cfg.stem == "conv" else Conv3d(cin, c1, 1)
        if cfg.space_pos:
            self.space_pos = nn.Linear(2 * FRAME_POS_DIM, c1)
            nn.init.zeros_(self.space_pos.weight)
            nn.init.zeros_(self.space_pos.bias)
        if cfg.frame_pos:
            self.frame_pos = nn.Linear(FRAME_POS_DIM, c1)
            nn.init.zeros_(self.frame_pos.weight)
            nn.init.zeros_(self.frame_pos.bias)
        self.down1 = nn.ModuleList([ResBlock(c1, c1, c2) for _ in range(cfg.blocks)])
        self.down = Conv3d(c1, c2, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        self.mid = nn.ModuleList([ResBlock(c2, c2, c2) for _ in range(cfg.blocks)])
        self.attn = AttnBlock(c2, cfg.heads, cfg.text_dim)
        self.mid2 = ResBlock(c2, c2, c2)
        self.up = Conv3d(c2, c1, (1, 3, 3), padding=(0, 1, 1))
        self.up1 = nn.ModuleList([ResBlock(2 * c1 if i == 0 else c1, c1, c2) for i in range(cfg.blocks)])
        n_fine = 2 * cfg.blocks if cfg.fine_cross else 0
        self.fine_cross = nn.ModuleList([CrossBlock(c1, cfg.heads, cfg.text_dim) for _ in range(n_fine)])
        self.norm_out = _norm(c1)
        if cfg.head == "unfold":
            self.conv_out = Conv3d(c1, cfg.in_channels * s * s * pt, (3, 3, 3), padding=1)
        else:
            self.to_full = Conv3d(c1, cfg.head_channels * s * s * pt, 1)
            full = cfg.head_channels + cfg.in_channels
            if cfg.head == "refine":
                self.refine = nn.Sequential(Conv3d(full, 2 * cfg.head_channels, (1, 3, 3), padding=(0, 1, 1)),
                                            _norm(2 * cfg.head_channels), nn.SiLU())
                full = 2 * cfg.head_channels
            self.conv_out = Conv3d(full, cfg.in_channels, (3, 3, 3), padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x, t, text, text_mask, given=None):
        b, _, T, H, W = x.shape
        m = 2 * self.fold
        if H % m or W % m:
            raise ValueError(f"latent grid {H}x{W} must be a multiple of {m} (UNet patch {tuple(self.config.patch)})")
        if given is None:
            given = torch.zeros(b, T, dtype=torch.bool, device=x.device)
        if T % self.tfold:  # a time fold needs whole pairs: repeat the last frame, drop its prediction
            pad = self.tfold - T % self.tfold
            out = self.forward(torch.cat([x, x[:, :, -1:].expand(-1, -1, pad, -1, -1)], dim=2), t, text, text_mask,
                               torch.cat([given, given[:, -1:].expand(-1, pad)], dim=1))
            return out[:, :, :T]
        flag = given.to(x.dtype)[:, None, :, None, None].expand(b, 1, T, H, W)
        pooled = pool_text(text, text_mask, self.config.text_pool)
        if self.config.text_whiten:
            pooled = (pooled - self.pool_mean) @ self.pool_whiten
        c = F.silu(self.t_embed(timestep_embedding(t, 256).to(x.dtype)) + self.pooled_proj(pooled))
        h = self.conv_in(_fold(torch.cat([x, flag], dim=1), self.fold, self.tfold))
        if self.config.frame_pos:
            pos = frame_embedding(h.shape[2], x.device).to(h.dtype)  # (T / tfold, FRAME_POS_DIM)
            h = h + self.frame_pos(pos).t()[None, :, :, None, None]
        if self.config.space_pos:
            pos = space_embedding(h.shape[-2], h.shape[-1], x.device).to(h.dtype)  # (h, w, 2 * FRAME_POS_DIM)
            h = h + self.space_pos(pos).permute(2, 0, 1)[None, :, None]
        cross = iter(self.fine_cross)
        for blk in self.down1:
            h = self._text(blk(h, c), cross, text, text_mask)
        skip = h
        h = self.down(h)  # (B, c2, T, H/2, W/2)
        for blk in self.mid:
            h = blk(h, c)
        h = self.mid2(self.attn(h, text, text_mask), c)
        h = self.up(F.interpolate(h, scale_factor=(1, 2, 2), mode="nearest"))  # (B, c2, T, H, W) -> (B, c1, ...)
        h = torch.cat([h, skip], dim=1)
        for blk in self.up1:
            h = self._text(blk(h, c), cross, text, text_mask)
        # unfold only: a head that also convolved the noisy input (with no timestep to weigh it)
        # was measured to learn to ignore the text (loss with the right or a shuffled caption
        # within 3% at t = 1 after 2,000 steps)
        h = F.silu(self.norm_out(h))
        if self.config.head == "unfold":
            return _unfold(self.conv_out(h), self.fold, self.tfold)
        # concat: full-resolution features beside the noisy input (B, head_channels + C, T, H, W)
        full = torch.cat([_unfold(self.to_full(h), self.fold, self.tfold), x], dim=1)
        return self.conv_out(self.refine(full) if self.config.head == "refine" else full)

    @staticmethod
    def _text(h, cross, text, mask):
        blk = next(cross, None)
        return h if blk is None else blk(h, text, mask)


FRAME_POS_DIM = 32


def _sinusoids(v: torch.Tensor, decay: float) -> torch.Tensor:
    """(n,) values -> (n, FRAME_POS_DIM): cos and sin of v * pi * exp(-k * decay / half), k = 0..half-1."""
    half = FRAME_POS_DIM // 2
    freqs = torch.exp(-torch.arange(half, dtype=torch.float32, device=v.device) * (decay / half)) * math.pi
    a = v[:, None] * freqs[None]
    return torch.cat([torch.cos(a), torch.sin(a)], dim=-1)


def frame_embedding(t: int, device=None) -> torch.Tensor:
    """(t, FRAME_POS_DIM) sinusoidal features of the latent frame indices 0..t-1 (periods 2 to ~200 frames)."""
    return _sinusoids(torch.arange(t, dtype=torch.float32, device=device), 5.0)


def space_embedding(h: int, w: int, device=None) -> torch.Tensor:
    """(h, w, 2 * FRAME_POS_DIM) sinusoidal features of each cell centre's (y, x), both scaled to [-1, 1]
    whatever the grid's size, so other sizes and aspect ratios see the same coordinates."""
    def axis(n):
        return _sinusoids((torch.arange(n, dtype=torch.float32, device=device) + 0.5) / n * 2 - 1, 3.0)

    ys, xs = axis(h), axis(w)
    return torch.cat([ys[:, None].expand(h, w, -1), xs[None].expand(h, w, -1)], dim=-1)


def _fold(x, s, pt=1):
    """(B, C, T, H, W) -> (B, C*pt*s*s, T/pt, H/s, W/s): space-to-depth (and time-to-depth by pt)."""
    if s == 1 and pt == 1:
        return x
    b, c, t, h, w = x.shape
    x = x.reshape(b, c, t // pt, pt, h // s, s, w // s, s).permute(0, 1, 3, 5, 7, 2, 4, 6)
    return x.reshape(b, c * pt * s * s, t // pt, h // s, w // s)


def _unfold(x, s, pt=1):
    """Inverse of _fold."""
    if s == 1 and pt == 1:
        return x
    b, cs, t, h, w = x.shape
    c = cs // (pt * s * s)
    x = x.reshape(b, c, pt, s, s, t, h, w).permute(0, 1, 5, 2, 6, 3, 7, 4)
    return x.reshape(b, c, t * pt, h * s, w * s)


@torch.no_grad()
def whitening(pooled: torch.Tensor, shrink: float = 0.01) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, D) pooled captions -> mean (D,), matrix (D, D) that whitens the centred captions: each
    principal direction of variance lam is scaled by lam^1.5 / (lam^2 + eps^2), eps = shrink x the
    largest lam: about 1 / sqrt(lam) (unit variance) where the captions vary, falling to zero where
    they never vary (a word no training caption used), which plain whitening would blow up."""
    mean = pooled.mean(0)
    x = (pooled - mean).double()
    lam, vec = torch.linalg.eigh(x.T @ x / max(1, len(x) - 1))
    lam = lam.clamp(min=0)
    w = vec @ torch.diag(lam.pow(1.5) / (lam.pow(2) + (shrink * lam.max()) ** 2)) @ vec.T
    return mean.float(), w.float()
