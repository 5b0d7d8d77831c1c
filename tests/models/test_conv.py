import pytest
import torch
import torch.nn.functional as F

from kinetoscope.models import conv
from kinetoscope.models.conv import Conv3d


@pytest.mark.parametrize("kernel,stride,padding", [((3, 3, 3), 1, (0, 1, 1)), ((1, 3, 3), (1, 2, 2), (0, 1, 1)),
                                                   ((3, 1, 1), 1, (1, 0, 0)), (1, 1, 0)])
def test_inference_through_onednn_matches_pytorchs_conv3d(kernel, stride, padding):
    torch.manual_seed(0)
    c = Conv3d(6, 5, kernel, stride=stride, padding=padding)
    x = torch.randn(1, 6, 5, 12, 10)  # batch 1, small: PyTorch itself would take its native kernel here
    with torch.no_grad():
        ours = c(x)
        reference = F.conv3d(x, c.weight, c.bias, c.stride, c.padding)
    assert ours.shape == reference.shape
    assert torch.allclose(ours, reference, atol=1e-5, rtol=1e-5)


def test_training_keeps_pytorchs_conv3d_and_its_gradients(monkeypatch):
    calls = []
    monkeypatch.setattr(conv.torch.ops.aten, "mkldnn_convolution", lambda *a: calls.append(a))
    c = Conv3d(3, 4, (3, 3, 3), padding=1)
    x = torch.randn(1, 3, 4, 8, 8, requires_grad=True)
    c(x).sum().backward()
    assert not calls and x.grad is not None and c.weight.grad is not None
    with torch.no_grad():
        c(x)
    assert len(calls) == int(conv.ONEDNN)  # inference takes the oneDNN path where PyTorch has it


@pytest.mark.parametrize("frames", [1, 2, 3])
def test_bf16_training_over_fewer_frames_than_the_kernel_has_finite_gradients(frames):
    # oneDNN's bf16 weight gradient of a (3, 1, 1) kernel over 2 frames is NaN on AVX512-BF16 CPUs;
    # under bf16 autocast the gradients must be finite and match float32's to bf16 rounding everywhere
    torch.manual_seed(0)
    c = Conv3d(32, 32, (3, 1, 1), padding=(1, 0, 0))
    x = torch.randn(2, 32, frames, 8, 8, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = c(x)
    y.float().pow(2).mean().backward()
    grads = c.weight.grad.clone(), x.grad.clone()
    c.weight.grad = x.grad = None
    reference = F.conv3d(x, c.weight, c.bias, padding=(1, 0, 0))
    assert y.shape == reference.shape
    reference.pow(2).mean().backward()
    for ours, ref in zip(grads, (c.weight.grad, x.grad)):
        assert torch.isfinite(ours).all()
        assert (ours - ref).norm() / ref.norm() < 0.02
