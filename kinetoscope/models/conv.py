"""Conv3d that reaches oneDNN on CPU at inference whatever the input's size.

PyTorch sends a batch-1 float32 CPU convolution to its native `slow_conv3d` when N*C*T*H of the
input is under 20,480 (a rule written for 2D convolutions, where the native kernel can win). For
3D inputs that is every layer of the built-in autoencoder at 64x64, and there the native kernel
was 5-10x slower than oneDNN (32 channels, 6 frames of 64x64: 78 ms against 8 ms; measured in
`benchmarks/vae_decode.py` as decode time). Above the threshold PyTorch already uses oneDNN, and
the outputs are then identical; below it they agree to float rounding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ONEDNN = torch.backends.mkldnn.is_available() and hasattr(torch.ops.aten, "mkldnn_convolution")


def conv3d(conv: nn.Conv3d, x: torch.Tensor) -> torch.Tensor:
    """`conv(x)` (zero padding), through oneDNN for float32 CPU inputs when no gradient is needed
    (and not under torch.compile, which lowers convolutions itself)."""
    if (ONEDNN and x.device.type == "cpu" and x.dtype == torch.float32 and conv.weight.dtype == torch.float32
            and conv.padding_mode == "zeros"
            and not (torch.is_grad_enabled() and (x.requires_grad or conv.weight.requires_grad))
            and not torch.compiler.is_compiling()):  # the aten op has no fake-tensor kernel; compile picks its own
        return torch.ops.aten.mkldnn_convolution(x.contiguous(), conv.weight, conv.bias, conv.padding, conv.stride,
                                                 conv.dilation, conv.groups)
    return F.conv3d(x, conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups)


class Conv3d(nn.Conv3d):
    """nn.Conv3d (same parameters and state-dict keys) whose inference runs through `conv3d`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return conv3d(self, x)
