"""Progressive distillation (Salimans & Ho 2022) on the rectified flow, with guidance folded in.

A student learns to take, in one Euler step from t to s, the step its teacher takes in two
(t -> m -> s, each a classifier-free-guided call of the teacher at `guidance`). After one round
the student samples as well in N steps as the teacher in 2N, and without the unconditional
half of the batch (guidance 1); a second round, with that student as teacher, halves again.

The student predicts the clean sample, like every model here, so its target is the clean
sample x0* for which the Euler step x_s = x_t + (s - t) (x_t - x0*) / t lands where the teacher's
two steps landed: x0* = x_t - t (x_t - x_s) / (t - s).
"""

from __future__ import annotations

import torch

from kinetoscope.diffusion.flow import mean_over_generated
from kinetoscope.diffusion.samplers import guided_velocity, timesteps

STUDENT_GUIDANCE = 1.0  # the teacher's guidance is folded into the student


def student_setting(teacher_steps: int) -> dict:
    """How a student distilled from a teacher at `teacher_steps` samples: half the steps, no guidance."""
    return {"steps": teacher_steps // 2, "guidance": STUDENT_GUIDANCE}


def student_grid(teacher_steps: int, shift: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The teacher's timesteps (teacher_steps + 1 values, 1 -> 0) and the student's (every other one)."""
    if teacher_steps < 2 or teacher_steps % 2:
        raise ValueError(f"teacher_steps {teacher_steps} must be an even number of at least 2")
    ts = timesteps(teacher_steps, shift)
    return ts, ts[::2]


@torch.no_grad()
def distill_target(teacher, x0, noise, i, ts_teacher, cond, uncond, guidance, given=None):
    """Per sample: student step i (from ts_teacher[2i] to ts_teacher[2i+2]). Returns (x_t, t, x0_target).

    x0, noise: (B, C, T, H, W); i: (B,) long; cond/uncond: (states, mask) per sample (B rows);
    given: (B, T) bool latent frames held at their clean values (conditioning)."""
    t, m, s = ts_teacher[2 * i], ts_teacher[2 * i + 1], ts_teacher[2 * i + 2]
    view = (-1,) + (1,) * (x0.dim() - 1)
    x_t = (1 - t.view(view)) * x0 + t.view(view) * noise
    keep = None if given is None else given[:, None, :, None, None]
    if keep is not None:
        x_t = torch.where(keep, x0, x_t)
    x = x_t
    for a, b in ((t, m), (m, s)):
        v = guided_velocity(teacher, x, a, cond, uncond, guidance, given)
        x = x + (b - a).view(view) * v
        if keep is not None:
            x = torch.where(keep, x0, x)
    tt, ss = t.view(view), s.view(view)
    target = x_t - tt * (x_t - x) / (tt - ss)
    if keep is not None:
        target = torch.where(keep, x0, target)
    return x_t, t, target


def distill_loss(student, teacher, x0, noise, i, ts_teacher, cond, uncond, guidance, given=None, weight_cap: float = 4.0):
    """Student clean-sample error against the two-teacher-step target, weighted min(1/t^2, cap)
    like flow_loss (the velocity error is the clean-sample error over t)."""
    x_t, t, target = distill_target(teacher, x0, noise, i, ts_teacher, cond, uncond, guidance, given)
    pred = student(x_t, t, cond[0], cond[1], given).float()  # the loss in fp32, also under bf16 autocast
    tt = t.view(-1, *([1] * (x0.dim() - 1)))
    err = (pred - target).pow(2) * (1.0 / tt.pow(2)).clamp(max=weight_cap)
    return mean_over_generated(err, given)
