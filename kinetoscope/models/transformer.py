"""Diffusion transformer over 1x2x2 spacetime patches of the latent video.

adaLN-Zero timestep conditioning (DiT), cross-attention to text tokens with a
padding mask, 3D rotary positions (time, height, width) so any size and length
works without retraining, QK-normalisation, and a per-latent-frame "given"
flag: frames whose latents are clean conditioning (image->video, extend, ...)
versus frames to generate.

Every denoiser backbone has this interface:
    forward(x (B,C,T,H,W), t (B,), text (B,L,D), text_mask (B,L) bool, given (B,T) bool) -> (B,C,T,H,W)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from kinetoscope.models.io import PretrainedMixin


@dataclass
class TransformerConfig:
    in_channels: int = 8
    patch: tuple[int, int, int] = (1, 2, 2)
    width: int = 192  # the built-in model: 4.9M parameters, 80 tokens for a 2-s 64x64 clip
    depth: int = 6
    heads: int = 3
    mlp_ratio: float = 4.0
    text_dim: int = 384
    rope_theta: float = 10000.0
    prediction: str = "x0"  # what the network outputs: "x0" (clean sample) or "velocity"


def modulate(x, shift, scale):
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


def pool_text(text: torch.Tensor, mask: torch.Tensor, how: str = "mean") -> torch.Tensor:
    """(B, L, D) token states, (B, L) mask -> (B, D): the mean (or the sum) of the real tokens."""
    m = mask.to(text.dtype).unsqueeze(-1)
    total = (text * m).sum(1)
    return total if how == "sum" else total / m.sum(1).clamp(min=1)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """t in [0, 1], (B,) -> (B, dim) sinusoidal features of 1000*t."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = 1000.0 * t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def rope_angles(grid: tuple[int, int, int], head_dim: int, theta: float, device) -> torch.Tensor:
    """(T, H, W) token grid -> (N, head_dim/2) rotation angles; axis dims are t: rest, h, w: 2*(d//6) each."""
    dh = dw = 2 * (head_dim // 6)
    dims = (head_dim - dh - dw, dh, dw)
    axes = []
    for n, size in zip(dims, grid):
        inv = 1.0 / theta ** (torch.arange(0, n, 2, dtype=torch.float32, device=device) / n)
        axes.append(torch.arange(size, dtype=torch.float32, device=device)[:, None] * inv[None])  # (size, n/2)
    t, h, w = grid
    at = axes[0][:, None, None].expand(t, h, w, -1)
    ah = axes[1][None, :, None].expand(t, h, w, -1)
    aw = axes[2][None, None, :].expand(t, h, w, -1)
    return torch.cat([at, ah, aw], dim=-1).reshape(t * h * w, -1)


def apply_rope(x: torch.Tensor, rope: torch.Tensor) -> torch.Tensor:
    """x (B, N, heads, d), rope (N, d/2) complex unit rotations: rotate consecutive pairs."""
    xc = torch.view_as_complex(x.float().unflatten(-1, (-1, 2)))
    return torch.view_as_real(xc * rope[:, None]).flatten(-2).type_as(x)


class Attention(nn.Module):
    def __init__(self, width, heads, kv_dim=None):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(width, width)
        self.kv = nn.Linear(kv_dim or width, 2 * width)
        self.q_norm = nn.RMSNorm(width // heads)
        self.k_norm = nn.RMSNorm(width // heads)
        self.out = nn.Linear(width, width)

    def forward(self, x, context=None, angles=None, mask=None):
        b, n, _ = x.shape
        context = x if context is None else context
        # norms and rotations on the (B, N, h, d) layout the projections give (contiguous: no
        # copies), then (B, h, N, d) views for attention
        q = self.q_norm(self.q(x).unflatten(-1, (self.heads, -1)))
        k, v = self.kv(context).unflatten(-1, (2, self.heads, -1)).unbind(2)
        k = self.k_norm(k)
        if angles is not None:
            q, k = apply_rope(q, angles), apply_rope(k, angles)
        attn_mask = None if mask is None else mask[:, None, None, :]  # (B, 1, 1, L) True = attend
        y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=attn_mask)
        return self.out(y.transpose(1, 2).reshape(b, n, -1))


class DiTBlock(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        w = cfg.width
        self.norm1 = nn.LayerNorm(w, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(w, cfg.heads)
        self.norm_x = nn.LayerNorm(w, eps=1e-6)
        self.cross = Attention(w, cfg.heads, kv_dim=w)
        self.norm2 = nn.LayerNorm(w, elementwise_affine=False, eps=1e-6)
        hidden = int(w * cfg.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(w, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, w))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(w, 6 * w))

    def forward(self, x, c, text, text_mask, angles):
        sh1, sc1, g1, sh2, sc2, g2 = self.ada(c).chunk(6, dim=-1)
        x = x + g1.unsqueeze(1) * self.attn(modulate(self.norm1(x), sh1, sc1), angles=angles)
        x = x + self.cross(self.norm_x(x), context=text, mask=text_mask)
        x = x + g2.unsqueeze(1) * self.mlp(modulate(self.norm2(x), sh2, sc2))
        return x


class FinalLayer(nn.Module):
    def __init__(self, width, out_dim):
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(width, out_dim)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(width, 2 * width))

    def forward(self, x, c):
        shift, scale = self.ada(c).chunk(2, dim=-1)
        return self.linear(modulate(self.norm(x), shift, scale))


class DiT(PretrainedMixin, nn.Module):
    config_class = TransformerConfig

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.config = cfg = config
        pt, ph, pw = cfg.patch
        w = cfg.width
        self.patch_embed = nn.Linear(cfg.in_channels * pt * ph * pw, w)
        self.given_embed = nn.Embedding(2, w)
        self.t_embed = nn.Sequential(nn.Linear(256, w), nn.SiLU(), nn.Linear(w, w))
        self.text_proj = nn.Sequential(nn.Linear(cfg.text_dim, w), nn.GELU(approximate="tanh"), nn.Linear(w, w))
        self.pooled_proj = nn.Linear(cfg.text_dim, w)
        self.blocks = nn.ModuleList([DiTBlock(cfg) for _ in range(cfg.depth)])
        self.final = FinalLayer(w, cfg.in_channels * pt * ph * pw)
        self.initialize_weights()

    def initialize_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.given_embed.weight, std=0.02)
        for blk in self.blocks:  # adaLN-Zero: every residual branch starts closed
            nn.init.zeros_(blk.ada[-1].weight)
            nn.init.zeros_(blk.ada[-1].bias)
            nn.init.zeros_(blk.cross.out.weight)
        nn.init.zeros_(self.final.ada[-1].weight)
        nn.init.zeros_(self.final.ada[-1].bias)
        nn.init.zeros_(self.final.linear.weight)

    def forward(self, x, t, text, text_mask, given=None):
        b, c, T, H, W = x.shape
        pt, ph, pw = self.config.patch
        if T % pt or H % ph or W % pw:
            raise ValueError(f"latent grid {T}x{H}x{W} is not divisible by the patch {pt}x{ph}x{pw}")
        grid = (T // pt, H // ph, W // pw)
        # (B, C, T, H, W) -> (B, N, C*pt*ph*pw)
        tokens = x.reshape(b, c, grid[0], pt, grid[1], ph, grid[2], pw).permute(0, 2, 4, 6, 1, 3, 5, 7)
        h = self.patch_embed(tokens.reshape(b, -1, c * pt * ph * pw))
        if given is None:
            given = torch.zeros(b, T, dtype=torch.bool, device=x.device)
        flag = self.given_embed(given[:, ::pt].long())  # (B, T', w)
        h = h + flag[:, :, None, :].expand(-1, -1, grid[1] * grid[2], -1).reshape(b, -1, h.shape[-1])
        cond = self.t_embed(timestep_embedding(t, 256).to(h.dtype)) + self.pooled_proj(pool_text(text, text_mask))
        ctx = self.text_proj(text)
        angles = rope_angles(grid, self.config.width // self.config.heads, self.config.rope_theta, x.device)
        rope = torch.polar(torch.ones_like(angles), angles)  # computed once, used by every block
        for blk in self.blocks:
            h = blk(h, cond, ctx, text_mask, rope)
        out = self.final(h, cond)  # (B, N, C*pt*ph*pw) -> (B, C, T, H, W)
        out = out.reshape(b, *grid, c, pt, ph, pw).permute(0, 4, 1, 5, 2, 6, 3, 7)
        return out.reshape(b, c, T, H, W)
