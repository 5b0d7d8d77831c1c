"""Samplers over the rectified flow, from t = 1 (noise) to t = 0 (data).

`denoise` is a loop you can read: at each step the model is called on the
conditional and the unconditional (negative prompt) text in one batch,
classifier-free guidance mixes the two velocities, and Euler or Heun steps.
Given (conditioning) latent frames are held at their clean values throughout.
"""

from __future__ import annotations

from typing import Callable

import torch

from kinetoscope.diffusion.flow import shift_t, velocity

SAMPLERS = ("euler", "heun")


def timesteps(steps: int, shift: float = 1.0) -> torch.Tensor:
    return shift_t(torch.linspace(1.0, 0.0, steps + 1), shift)


@torch.no_grad()
def guided_velocity(model, x, t, cond, uncond, guidance, given):
    """cond/uncond: (states, mask). One batched forward for both halves. t: a number, or (B,) per sample."""
    b = x.shape[0]
    if torch.is_tensor(t) and t.dim() == 1:
        tt = t.to(x.device, x.dtype)
    else:
        tt = torch.full((b,), float(t), device=x.device)
    if guidance == 1.0 or uncond is None:
        pred = model(x, tt, cond[0], cond[1], given)
        return velocity(pred, x, tt, model.config.prediction)
    states, mask = _stack_text(cond, uncond)
    g2 = None if given is None else torch.cat([given, given])
    x2, t2 = torch.cat([x, x]), torch.cat([tt, tt])
    v = velocity(model(x2, t2, states, mask, g2), x2, t2, model.config.prediction)
    v_c, v_u = v.chunk(2)
    return v_u + guidance * (v_c - v_u)


def _stack_text(a, b):
    L = max(a[0].shape[1], b[0].shape[1])
    def pad(s, m):
        extra = L - s.shape[1]
        return (torch.nn.functional.pad(s, (0, 0, 0, extra)), torch.nn.functional.pad(m, (0, extra), value=False))
    (sa, ma), (sb, mb) = pad(*a), pad(*b)
    return torch.cat([sa, sb]), torch.cat([ma, mb])


@torch.no_grad()
def denoise(
    model,
    noise: torch.Tensor,
    cond,
    uncond=None,
    *,
    steps: int = 20,
    guidance: float = 3.5,
    guidance_floor: float = 0.0,
    shift: float = 1.0,
    sampler: str = "euler",
    given_latents: torch.Tensor | None = None,
    given: torch.Tensor | None = None,
    t_start: float = 1.0,
    release: torch.Tensor | None = None,
    release_at: float = 0.0,
    release_noise: torch.Tensor | None = None,
    cache: float = 0.0,
    progress: Callable[[int, int], None] | None = None,
    preview: Callable[[int, int, torch.Tensor], None] | None = None,
    stats: dict | None = None,
) -> torch.Tensor:
    """noise (B, C, T, H, W) -> clean latents. `t_start` < 1 starts part-way (SDEdit): then
    `noise` must already be the partly noised input.

    `cache` > 0 skips model calls while the latents have changed little (TeaCache-style step
    caching): the relative change of x is summed from the last real call, and while it stays
    under `cache` the step reuses that call's clean-sample estimate x0 (v = (x - x0) / t, exact
    if x0 has not moved). The first and last steps always call the model; Euler only.
    `release` (B, T) bool, a subset of `given`: latent frames held only while t >= `release_at`;
    at the first step below it they are noised to that step's level (with their own part of
    `release_noise`, default `noise`: give pure noise there when `noise` is a partly noised input)
    and denoised with the rest, so a given frame next to new ones can meet them.

    `preview(i, n, x0)`, if given, is called after step i of n with that step's clean-sample
    estimate x0 = x - t v (given frames held), for a look at the video as it sharpens.

    `guidance_floor`: below this noise level t the conditional prediction is used alone (guidance
    1, one model call instead of two). Guidance decides what is drawn while the clip is still
    mostly noise; near t = 0 it only scales the small difference between the two predictions,
    which is texture, so it mottles flat colours (a guidance interval, Kynkäänniemi et al. 2024).

    `stats`, if given, receives the number of model calls."""
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler {sampler!r} is not one of {SAMPLERS}")
    ts = timesteps(steps, shift)
    ts = ts[ts <= t_start + 1e-6] if t_start < 1.0 else ts
    keep = None if given is None else given[:, None, :, None, None]
    x = noise if keep is None else torch.where(keep, given_latents, noise)
    n = len(ts) - 1
    calls, x0, moved, prev = 0, None, 0.0, None
    scale = lambda level: guidance if level >= guidance_floor else 1.0  # noqa: E731
    for i in range(n):
        t, t_next = ts[i], ts[i + 1]
        if release is not None and keep is not None and t < release_at and release.any():
            free = release[:, None, :, None, None]
            eps = noise if release_noise is None else release_noise
            x = torch.where(free, (1 - t) * given_latents + t * eps, x)
            given, release = given & ~release, None
            keep, prev, x0 = given[:, None, :, None, None], None, None
        if prev is not None:
            moved += float((x - prev).abs().mean() / prev.abs().mean().clamp_min(1e-8))
        if cache > 0 and sampler == "euler" and x0 is not None and i < n - 1 and moved < cache:
            v = (x - x0) / t  # reuse the last call's clean-sample estimate
        else:
            v = guided_velocity(model, x, t, cond, uncond, scale(t), given)
            calls, x0, moved = calls + 1, x - t * v, 0.0
        prev = x
        x_next = x + (t_next - t) * v
        if sampler == "heun" and t_next > 0:
            v2 = guided_velocity(model, x_next, t_next, cond, uncond, scale(t_next), given)
            calls += 1
            x_next = x + (t_next - t) * 0.5 * (v + v2)
        if preview is not None:
            est = x - t * v  # the clean sample this step points at
            preview(i + 1, n, est if keep is None else torch.where(keep, given_latents, est))
        x = x_next if keep is None else torch.where(keep, given_latents, x_next)
        if progress:
            progress(i + 1, n)
    if stats is not None:
        stats["model_calls"] = calls
    return x
