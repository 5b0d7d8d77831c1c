"""Conv3d that reaches oneDNN on CPU at inference whatever the input's size.

PyTorch sends a batch-1 float32 CPU convolution to its native `slow_conv3d` when N*C*T*H of the
input is under 20,480 (a rule written for 2D convolutions, where the native kernel can win). For
3D inputs that is every layer of the built-in autoencoder at 64x64, and there the native kernel
was 5-10x slower than oneDNN (32 channels, 6 frames of 64x64: 78 ms against 8 ms; measured in
`benchmarks/vae_decode.py` as decode time). Above the threshold PyTorch already uses oneDNN, and
the outputs are then identical; below it they agree to float rounding.

Training on CPU, a convolution whose input has fewer frames than its kernel is deep pads those
frames itself: oneDNN's bfloat16 weight gradient of a (3, 1, 1) kernel over a 2-frame input with
time padding 1 comes out NaN on AVX512-BF16 CPUs (PyTorch 2.13; any channel count from 16). Over
the padded input with no time padding the convolution is the same, and its gradients are finite.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ONEDNN = torch.backends.mkldnn.is_available() and hasattr(torch.ops.aten, "mkldnn_convolution")


class Conv3d(nn.Conv3d):
    """nn.Conv3d (same parameters and state-dict keys) whose float32 CPU inference, when no gradient
    is needed, runs through oneDNN; training over fewer frames than the kernel pads time itself
    (the module's docstring says why); everything else (training, other devices and dtypes, padding
    modes, torch.compile, which lowers convolutions itself) is nn.Conv3d's own forward."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (ONEDNN and x.device.type == "cpu" and x.dtype == torch.float32 and self.weight.dtype == torch.float32
                and self.padding_mode == "zeros"
                and not (torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad))
                and not torch.compiler.is_compiling()):  # the aten op has no fake-tensor kernel
            return torch.ops.aten.mkldnn_convolution(x.contiguous(), self.weight, self.bias, self.padding, self.stride,
                                                     self.dilation, self.groups)
        if (x.device.type == "cpu" and torch.is_grad_enabled() and self.padding_mode == "zeros"
                and not isinstance(self.padding, str) and 0 < self.padding[0] and x.shape[2] < self.kernel_size[0]):
            pt = self.padding[0]
            return F.conv3d(F.pad(x, (0, 0, 0, 0, pt, pt)), self.weight, self.bias, self.stride,
                            (0, *self.padding[1:]), self.dilation, self.groups)
        return super().forward(x)
