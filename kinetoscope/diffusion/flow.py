"""Rectified flow: x_t = (1 - t) x0 + t eps, velocity v = eps - x0.

The network may predict the clean sample x0 (the default: far more sample
efficient at our scale) or the velocity; `velocity()` converts either way, and
the loss is always taken on the velocity.
"""

from __future__ import annotations

import math

import torch

T_MIN = 0.05  # x0 -> velocity divides by t; clamp it there


def logit_normal(n: int, mean: float = 0.0, std: float = 1.0, generator=None, device="cpu") -> torch.Tensor:
    """Timesteps t in (0, 1) with logit(t) ~ N(mean, std): most weight on the middle."""
    return torch.sigmoid(mean + std * torch.randn(n, generator=generator, device=device))


def token_shift(num_tokens: int, base: tuple[int, float] = (256, 0.5), top: tuple[int, float] = (4096, 1.15)) -> float:
    """More tokens -> more signal survives a given noise level -> shift t towards noise (Flux/SD3 rule)."""
    (n0, m0), (n1, m1) = base, top
    mu = m0 + (num_tokens - n0) * (m1 - m0) / (n1 - n0)
    return math.exp(mu)


def shift_t(t: torch.Tensor, shift: float) -> torch.Tensor:
    return shift * t / (1 + (shift - 1) * t)


def add_noise(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x0, noise (B, C, T, H, W); t (B,) one level per sample."""
    tt = t.view(-1, *([1] * (x0.dim() - 1)))
    return (1 - tt) * x0 + tt * noise


def velocity(pred: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, prediction: str) -> torch.Tensor:
    if prediction == "velocity":
        return pred
    tt = t.view(-1, *([1] * (x_t.dim() - 1))).clamp(min=T_MIN)
    return (x_t - pred) / tt


def flow_loss(model, x0, text, text_mask, given=None, t=None, generator=None, shift: float = 1.0, prediction=None,
              noise=None, weight_cap: float = 0.0):
    """Velocity MSE over the frames to generate. x0: (B, C, T, H, W) clean latents;
    given: (B, T) bool latent frames kept clean (conditioning), excluded from the loss.

    weight_cap > 0 (clean-sample models): the velocity error is the clean-sample error times
    1/t, so its square weighs low-noise samples by 1/t^2 (100x at t = 0.1); capping that
    weight at `weight_cap` (Min-SNR style) leaves the high-noise samples, where the layout
    and the text matter, a fair share of the gradient."""
    b = x0.shape[0]
    prediction = prediction or model.config.prediction
    if t is None:
        t = shift_t(logit_normal(b, generator=generator, device=x0.device), shift)
    if noise is None:
        noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    x_t = add_noise(x0, noise, t)
    if given is not None:
        keep = given[:, None, :, None, None]
        x_t = torch.where(keep, x0, x_t)
    # the loss, its 1/t weighting and the velocity in fp32, also when the model ran under bf16 autocast
    pred = model(x_t, t, text, text_mask, given).float()
    tt = t.view(-1, *([1] * (x0.dim() - 1))).clamp(min=T_MIN)
    err = (velocity(pred, x_t, t, prediction) - (noise - x0)) ** 2
    if weight_cap > 0 and prediction != "velocity":
        err = err * (tt.pow(2) * weight_cap).clamp(max=1.0)  # weight min(1/t^2, cap) on the clean-sample error
    return mean_over_generated(err, given)


def mean_over_generated(err: torch.Tensor, given: torch.Tensor | None) -> torch.Tensor:
    """Mean of a per-element loss (B, C, T, H, W) over the latent frames not given (conditioning)."""
    if given is None:
        return err.mean()
    w = (~given)[:, None, :, None, None].to(err.dtype).expand_as(err)
    return (err * w).sum() / w.sum().clamp(min=1)
