"""Reflection-padded convolution, optionally anti-aliased down-sampling: the Swapping Autoencoder encoder's conv.

Reflection padding gives the borders the statistics of the image next to them, so the encoder sees
no zero frame (which would tell it where the border is). Down-sampling blurs with a low-pass FIR
filter before the strided convolution (Zhang 2019, "Making convolutional networks shift-invariant
again"), so the codes change little when the image shifts by a pixel.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from .bias_act import bias_act
from .layers import Conv2dLayer
from .upfirdn2d import filter_size, upfirdn2d


class ReflectConv2dLayer(Conv2dLayer):
    """Equalized-lr convolution on a reflection-padded input; with down > 1: reflect-pad, blur, strided conv.

    The weights, gains and filter are Conv2dLayer's (same names); only the padding and the
    resampling order differ. The output is the input's size (down=1) or the input's size over
    `down` (which must divide it).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: str = "linear",
        down: int = 1,
        resample_filter: Sequence[float] = (1, 3, 3, 1),
    ) -> None:
        if down < 1:
            raise ValueError(f"down must be a positive integer, got {down}")
        super().__init__(in_channels, out_channels, kernel_size, bias=bias, activation=activation, down=down,
                         resample_filter=resample_filter)
        # Total padding so that blur (shrinks by taps - 1) and conv (by k - 1) leave exactly H / down.
        fw, _ = filter_size(self.resample_filter)
        total = kernel_size - 1 if down == 1 else fw - down + kernel_size - 1
        self.padding = [(total + 1) // 2, total // 2] * 2  # F.pad order: left, right, top, bottom

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        x = F.pad(x, self.padding, mode="reflect")
        if self.down > 1:
            x = upfirdn2d(x, self.resample_filter)  # blur only; the conv below does the striding
        x = F.conv2d(x, w, stride=self.down)
        b = self.bias.to(x.dtype) if self.bias is not None else None
        return bias_act(x, b, act=self.activation, gain=self.act_gain * gain)

    def extra_repr(self) -> str:
        out_channels, in_channels, k, _ = self.weight.shape
        return f"{in_channels}, {out_channels}, kernel_size={k}, down={self.down}, activation={self.activation}"
