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
from torch import nn

ONEDNN = torch.backends.mkldnn.is_available() and hasattr(torch.ops.aten, "mkldnn_convolution")


class Conv3d(nn.Conv3d):
    """nn.Conv3d (same parameters and state-dict keys) whose float32 CPU inference, when no gradient
    is needed, runs through oneDNN; everything else (training, other devices and dtypes, padding
    modes, torch.compile, which lowers convolutions itself) is nn.Conv3d's own forward."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (ONEDNN and x.device.type == "cpu" and x.dtype == torch.float32 and self.weight.dtype == torch.float32
                and self.padding_mode == "zeros"
                and not (torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad))
                and not torch.compiler.is_compiling()):  # the aten op has no fake-tensor kernel
            return torch.ops.aten.mkldnn_convolution(x.contiguous(), self.weight, self.bias, self.padding, self.stride,
                                                     self.dilation, self.groups)
        return super().forward(x)
