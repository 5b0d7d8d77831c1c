import pytest
import torch
from torch import nn

from kinetoscope.diffusion import denoise
from kinetoscope.diffusion.distill import distill_loss, distill_target, student_grid
from kinetoscope.models import ConvUNet, UNetConfig


class Constant(nn.Module):
    """A 'denoiser' whose clean-sample estimate never moves: its ODE path is a straight line."""

    def __init__(self, x0):
        super().__init__()
        self.x0 = x0
        self.config = UNetConfig()

    def forward(self, x, t, text, mask, given=None):
        return self.x0.expand_as(x)


def text(b, n=3):
    g = torch.Generator().manual_seed(1)
    return torch.randn(b, n, 384, generator=g), torch.ones(b, n, dtype=torch.bool)


def tiny_unet(seed=0):
    torch.manual_seed(seed)
    m = ConvUNet(UNetConfig(in_channels=4, channels=(16, 32), blocks=1, heads=2))
    for p in m.parameters():  # leave no zero-initialised branch closed: a teacher with some shape
        p.data.add_(0.05 * torch.randn_like(p))
    return m.eval()


def test_grid_takes_every_other_teacher_step():
    ts, ss = student_grid(8, 1.7)
    assert len(ts) == 9 and len(ss) == 5 and torch.equal(ss, ts[::2])
    assert ts[0] == 1 and ts[-1] == 0
    with pytest.raises(ValueError, match="teacher_steps 5"):
        student_grid(5, 1.0)


def test_target_of_a_straight_path_is_its_clean_sample():
    x0 = torch.randn(1, 4, 2, 4, 4)
    teacher = Constant(torch.randn(1, 4, 2, 4, 4))
    ts, _ = student_grid(8, 1.5)
    i = torch.tensor([0, 1, 2, 3])
    noise = torch.randn(4, 4, 2, 4, 4)
    cond = text(4)
    x_t, t, target = distill_target(teacher, x0.expand(4, -1, -1, -1, -1), noise, i, ts, cond, None, 1.0)
    assert torch.allclose(t, ts[2 * i])
    assert torch.allclose(target, teacher.x0.expand_as(target), atol=1e-5)


def test_one_student_step_lands_where_two_guided_teacher_steps_land():
    teacher = tiny_unet()
    noise = torch.randn(2, 4, 2, 4, 4)
    cond, uncond = text(2), (torch.zeros(2, 1, 384), torch.ones(2, 1, dtype=torch.bool))
    ts, _ = student_grid(2, 1.3)
    x_t, t, target = distill_target(teacher, torch.zeros_like(noise), noise, torch.tensor([0, 0]), ts, cond, uncond, 3.0)
    assert torch.equal(x_t, noise)  # t = 1: pure noise
    # from t = 1 one Euler step to 0 with clean-sample estimate x0* gives x0*: it must equal the teacher's 2-step sample
    two = denoise(teacher, noise, cond, uncond, steps=2, guidance=3.0, shift=1.3)
    assert torch.allclose(target, two, atol=1e-5)


def test_given_frames_stay_clean_and_out_of_the_loss():
    teacher = tiny_unet()
    x0, noise = torch.randn(2, 4, 3, 4, 4), torch.randn(2, 4, 3, 4, 4)
    given = torch.tensor([[True, False, False], [False, False, False]])
    ts, _ = student_grid(4, 1.0)
    x_t, _, target = distill_target(teacher, x0, noise, torch.tensor([0, 1]), ts, text(2), None, 1.0, given)
    assert torch.equal(x_t[0, :, 0], x0[0, :, 0]) and torch.equal(target[0, :, 0], x0[0, :, 0])
    student = tiny_unet(1)
    loss = distill_loss(student, teacher, x0, noise, torch.tensor([0, 1]), ts, text(2), None, 1.0, given)
    loss.backward()
    assert loss.item() > 0 and all(p.grad is not None for p in student.parameters() if p.requires_grad)
    # a student that already is the teacher's two-step map scores zero
    exact = distill_loss(Constant(target), teacher, x0, noise, torch.tensor([0, 1]), ts, text(2), None, 1.0, given)
    assert exact.item() < 1e-10
