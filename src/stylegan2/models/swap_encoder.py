"""The Swapping Autoencoder encoder (Park et al. 2020): an image -> a spatial structure code and a global texture code.

FromRGB, then residual blocks that halve the resolution (reflection padding, blur before striding)
down to the structure code's resolution. Two 1x1 convs there give the structure code; stride-2 convs,
a global average and a linear layer give the texture code. Both codes are L2-normalized, so the
generator sees directions only and codes from different images mix on the same scale.
Module names follow the official implementation (FromRGB, DownToSpatialCode, ToSpatialCode,
DownToGlobalCode, ToGlobalCode).
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.layers import Conv2dLayer, FullyConnectedLayer
from ..nn.reflect_conv import ReflectConv2dLayer
from .init_kwargs import records_init_kwargs
from .inputs import check_images
from .synthesis import compute_memory_format


class EncoderResBlock(nn.Module):
    """3x3 conv, then blur + stride-2 3x3 conv, beside a blurred stride-2 1x1 skip; all reflection-padded."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = ReflectConv2dLayer(in_channels, in_channels, kernel_size=3, activation="lrelu")
        self.conv2 = ReflectConv2dLayer(in_channels, out_channels, kernel_size=3, activation="lrelu", down=2)
        self.skip = ReflectConv2dLayer(in_channels, out_channels, kernel_size=1, bias=False, down=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.skip(x, gain=math.sqrt(0.5))
        x = self.conv2(self.conv1(x), gain=math.sqrt(0.5))
        return x + y  # (residual + skip) / sqrt(2): unit variance in, unit variance out


class SwapEncoder(nn.Module):
    """E(img) -> (structure [N, spatial_code_ch, R / 2**sp, R / 2**sp], texture [N, global_code_ch]), both unit L2 norm.

    Widths follow StyleGAN2: a feature map of side `res` has min(channel_base // res, channel_max)
    channels; the texture branch below the structure code widens up to `global_code_ch` instead of
    `channel_max`. The defaults give the paper's 256 px encoder: 32 channels at 256 px doubling to 512
    at the 16x16 structure code, then 1024 and 2048 in the texture branch.
    """

    @records_init_kwargs
    def __init__(
        self,
        *,
        img_resolution: int,
        img_channels: int,
        channel_base: int = 8192,
        channel_max: int = 512,
        num_downsampling_sp: int = 4,
        num_downsampling_gl: int = 2,
        spatial_code_ch: int = 8,
        global_code_ch: int = 2048,
    ) -> None:
        super().__init__()
        sp, gl = num_downsampling_sp, num_downsampling_gl
        _check_resolution(img_resolution, sp, gl)
        if min(img_channels, spatial_code_ch, global_code_ch, channel_max) < 1 or channel_base < img_resolution:
            raise ValueError(
                f"SwapEncoder: img_channels, spatial_code_ch, global_code_ch and channel_max must be >= 1 and channel_base "
                f">= img_resolution ({img_resolution}); got {img_channels}, {spatial_code_ch}, {global_code_ch}, "
                f"{channel_max} and {channel_base}"
            )
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.spatial_code_ch = spatial_code_ch
        self.global_code_ch = global_code_ch
        self.code_resolution = img_resolution >> sp

        def channels(level: int) -> int:  # width after `level` halvings of the image
            cap = channel_max if level <= sp else global_code_ch
            return min(channel_base // (img_resolution >> level), cap)

        self.FromRGB = Conv2dLayer(img_channels, channels(0), kernel_size=1, activation="lrelu")
        self.DownToSpatialCode = nn.Sequential(OrderedDict(
            (f"ResBlockDownBy{2**i}", EncoderResBlock(channels(i), channels(i + 1))) for i in range(sp)
        ))
        self.ToSpatialCode = nn.Sequential(
            Conv2dLayer(channels(sp), channels(sp), kernel_size=1, activation="lrelu"),
            Conv2dLayer(channels(sp), spatial_code_ch, kernel_size=1),
        )
        # Plain stride-2 3x3 convs (no blur, as officially); each halves the map, down to at least 1x1.
        self.DownToGlobalCode = nn.Sequential(OrderedDict(
            (f"ConvLayerDownBy{2 ** (sp + i)}",
             Conv2dLayer(channels(sp + i), channels(sp + i + 1), kernel_size=3, activation="lrelu", down=2, resample_filter=[1]))
            for i in range(gl)
        ))
        self.ToGlobalCode = FullyConnectedLayer(channels(sp + gl), global_code_ch)

    def forward(self, img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """img [N, img_channels, R, R] in [-1, 1] -> (structure code, texture code)."""
        check_images(img, "SwapEncoder", (self.img_channels, self.img_resolution, self.img_resolution), self)
        # Activations in the layout the device's convolutions prefer (NHWC on CPU); every layer keeps it.
        layout = compute_memory_format(channels_last=False, force_fp32=True, device=img.device)
        x = self.FromRGB(img.to(torch.float32, memory_format=layout))
        x = self.DownToSpatialCode(x)  # [N, C, R / 2**sp, R / 2**sp]
        structure = self.ToSpatialCode(x).contiguous()  # [N, spatial_code_ch, R / 2**sp, R / 2**sp], NCHW again for callers
        texture = self.ToGlobalCode(self.DownToGlobalCode(x).mean(dim=[2, 3]))  # [N, global_code_ch]
        return F.normalize(structure, dim=1), F.normalize(texture, dim=1)


def _check_resolution(img_resolution: int, sp: int, gl: int) -> None:
    """The structure code must be at least 2x2 (reflection padding) and halve `gl` more times to at least 1x1."""
    if img_resolution < 4 or img_resolution & (img_resolution - 1) != 0:
        raise ValueError(f"SwapEncoder: img_resolution must be a power of two of at least 4, got {img_resolution}")
    if sp < 0 or gl < 0:
        raise ValueError(f"SwapEncoder: num_downsampling_sp and num_downsampling_gl must be >= 0, got {sp} and {gl}")
    code = img_resolution >> sp
    if code < 2 or code >> gl < 1:
        raise ValueError(
            f"SwapEncoder: {img_resolution} px images give a {code}x{code} structure code with num_downsampling_sp={sp}, "
            f"which must be at least 2x2 and allow num_downsampling_gl={gl} more halvings; "
            f"use num_downsampling_sp <= {img_resolution.bit_length() - 2} and num_downsampling_gl <= {max(code, 1).bit_length() - 1}"
        )
