"""The synthesis network: a learned constant, upsampled block by block under the control of w."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from ..nn.bias_act import activation as lookup_activation
from ..nn.bias_act import bias_act
from ..nn.layers import Conv2dLayer, FullyConnectedLayer
from ..nn.modulated_conv import modulated_conv2d
from ..nn.upfirdn2d import setup_filter, upsample2d
from .aspect import SQUARE, check_img_resolution, image_size
from .inputs import check_input, check_size

NOISE_MODES = ("const", "random", "none")  # the network's stored noise maps, fresh random noise, or none
ARCHITECTURES = ("orig", "skip", "resnet")  # how G's and D's blocks are wired, NVIDIA's names

# The modulated convolution the networks run (their default, and what fused_modconv=None means): the non-fused
# form (activations scaled around one shared convolution), because it was faster than the grouped (fused) form on
# every device and batch size measured (see docs/experiments/speed.md), and training needs it anyway (no
# per-sample weight gradients).
DEFAULT_FUSED_MODCONV = False


def channel_counts(
    resolutions: Sequence[int], channel_base: int, channel_max: int, channels: dict[int | str, int] | None = None
) -> dict[int, int]:
    """Feature channels per resolution: `min(channel_base // res, channel_max)`, or as `channels` says.

    `channels` overrides the formula at the resolutions it names (keys may be strings, as JSON
    stores them), so a network trained with a hand-written table (as some forks do) can be rebuilt.
    """
    counts = {res: min(channel_base // res, channel_max) for res in resolutions}
    for key, value in (channels or {}).items():
        res = int(key) if isinstance(key, (int, str)) and str(key).isdigit() else None
        if res not in counts:
            raise ValueError(f"channels: resolution {key!r} is not one of this network's {sorted(counts)}")
        if type(value) is not int or value < 1:
            raise ValueError(f"channels: {value!r} channels at {res} px; expected a positive integer")
        counts[res] = value
    empty = [res for res, count in counts.items() if count < 1]
    if empty:
        raise ValueError(f"channel_base {channel_base} gives no channels at {max(empty)} px (channel_base / resolution); "
                         f"use at least {max(empty)}")
    return counts


# What a block's fp16 layers (`use_fp16`) compute in: NVIDIA's float16, or bfloat16 (float32's range, so no
# conv_clamp is needed, and the fast half type of CPUs with AVX-512 BF16 or AMX; see docs/performance.md).
HALF_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16}


def half_dtype_of(name: str) -> torch.dtype:
    """The torch dtype of a `half_dtype` block argument, or a ValueError naming the choices."""
    if name not in HALF_DTYPES:
        raise ValueError(f"half_dtype must be one of {', '.join(HALF_DTYPES)}, got {name!r}")
    return HALF_DTYPES[name]


def compute_dtype(use_fp16: bool, force_fp32: bool, device: torch.device, half: torch.dtype = torch.float16) -> torch.dtype:
    """What a block computes in: fp16 layers use `half`, float16 on CUDA only (CPU float16 kernels are slow
    or missing), bfloat16 on any device."""
    if not use_fp16 or force_fp32:
        return torch.float32
    return half if half == torch.bfloat16 or device.type == "cuda" else torch.float32


def compute_memory_format(channels_last: bool, force_fp32: bool, device: torch.device) -> torch.memory_format:
    """channels_last for fp16 layers on CUDA (as official) and for every layer on CPU.

    oneDNN's convolutions run faster on NHWC activations (see docs/experiments/speed.md). The math
    is unchanged.
    """
    if device.type == "cpu" or (channels_last and not force_fp32):
        return torch.channels_last
    return torch.contiguous_format


class SynthesisLayer(nn.Module):
    """Modulated 3x3 convolution + per-pixel noise + bias + leaky ReLU (one 'style block').

    `resolution` is the output's shorter side; `aspect` (width:height) gives the longer one.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        kernel_size: int = 3,
        up: int = 1,
        use_noise: bool = True,
        activation: str = "lrelu",
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
        channels_last: bool = False,
        aspect: str = SQUARE,
    ) -> None:
        super().__init__()
        self.resolution = resolution
        self.height, self.width = image_size(resolution, aspect)
        self.up = up
        self.use_noise = use_noise
        self.activation = activation
        self.conv_clamp = conv_clamp
        self.register_buffer("resample_filter", setup_filter(list(resample_filter)))
        self.padding = kernel_size // 2
        self.act_gain = lookup_activation(activation).default_gain

        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)  # w -> styles, starts at 1
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size).to(memory_format=memory_format))
        if use_noise:
            self.register_buffer("noise_const", torch.randn(self.height, self.width))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(
        self,
        x: torch.Tensor,
        w: torch.Tensor,
        noise_mode: str = "random",
        fused_modconv: bool = DEFAULT_FUSED_MODCONV,
        gain: float = 1.0,
    ) -> torch.Tensor:
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        styles = self.affine(w)  # [N, in_channels]

        noise = None
        if self.use_noise and noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, self.height, self.width, device=x.device) * self.noise_strength
        elif self.use_noise and noise_mode == "const":
            noise = self.noise_const * self.noise_strength

        x = modulated_conv2d(
            x, self.weight, styles, noise=noise, up=self.up, padding=self.padding,
            resample_filter=self.resample_filter, fused_modconv=fused_modconv,
        )
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias.to(x.dtype), act=self.activation, gain=self.act_gain * gain, clamp=clamp)


class ToRGBLayer(nn.Module):
    """Modulated 1x1 convolution (no demodulation) from features to image channels."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        kernel_size: int = 1,
        conv_clamp: float | None = None,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size).to(memory_format=memory_format))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused_modconv: bool = DEFAULT_FUSED_MODCONV) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain  # equalized lr folded into the styles
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, fused_modconv=fused_modconv)
        return bias_act(x, self.bias.to(x.dtype), clamp=self.conv_clamp)


class SynthesisBlock(nn.Module):
    """One resolution of the synthesis network: (upsampling conv,) conv, and toRGB.

    Architectures: 'skip' (default; every block adds its RGB to the upsampled image so far),
    'orig' (only the last block outputs RGB), 'resnet' (residual features, RGB from the last).
    A `use_fp16` block computes in `half_dtype` ('float16', NVIDIA's, or 'bfloat16'; see HALF_DTYPES).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        img_channels: int,
        is_last: bool,
        architecture: str = "skip",
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
        use_fp16: bool = False,
        fp16_channels_last: bool = False,
        half_dtype: str = "float16",
        aspect: str = SQUARE,
        **layer_kwargs,
    ) -> None:
        if architecture not in ARCHITECTURES:
            raise ValueError(f"synthesis architecture must be one of {', '.join(ARCHITECTURES)}, got {architecture!r}")
        super().__init__()
        self.in_channels, self.w_dim, self.resolution, self.img_channels = in_channels, w_dim, resolution, img_channels
        self.is_last, self.architecture, self.use_fp16 = is_last, architecture, use_fp16
        self.half_dtype = half_dtype_of(half_dtype)
        self.channels_last = use_fp16 and fp16_channels_last
        self.register_buffer("resample_filter", setup_filter(list(resample_filter)))
        self.num_conv = 0
        self.num_torgb = 0

        common = dict(w_dim=w_dim, resolution=resolution, conv_clamp=conv_clamp, channels_last=self.channels_last, aspect=aspect)
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn(out_channels, *image_size(resolution, aspect)))  # [C, 4, 4], [C, 4, 8] or [C, 8, 4]
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, up=2, resample_filter=resample_filter, **common, **layer_kwargs)
            self.num_conv += 1
        self.conv1 = SynthesisLayer(out_channels, out_channels, **common, **layer_kwargs)
        self.num_conv += 1
        if is_last or architecture == "skip":
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim=w_dim, conv_clamp=conv_clamp, channels_last=self.channels_last)
            self.num_torgb += 1
        if in_channels != 0 and architecture == "resnet":
            self.skip = Conv2dLayer(in_channels, out_channels, kernel_size=1, bias=False, up=2,
                                    resample_filter=resample_filter, channels_last=self.channels_last)

    def forward(
        self,
        x: torch.Tensor | None,
        img: torch.Tensor | None,
        ws: torch.Tensor,
        noise_mode: str = "random",
        force_fp32: bool = False,
        fused_modconv: bool | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """ws: [N, num_conv + num_torgb, w_dim]; returns (features, image so far)."""
        w_iter = iter(ws.unbind(dim=1))
        dtype = compute_dtype(self.use_fp16, force_fp32, ws.device, self.half_dtype)
        memory_format = compute_memory_format(self.channels_last, force_fp32, ws.device)
        if fused_modconv is None:
            fused_modconv = DEFAULT_FUSED_MODCONV

        if self.in_channels == 0:
            x = self.const.to(dtype=dtype).unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])  # [N, C, h0, w0]
            x = x.contiguous(memory_format=memory_format)
        else:
            x = x.to(dtype=dtype, memory_format=memory_format)

        layer_args = dict(noise_mode=noise_mode, fused_modconv=fused_modconv)
        if self.in_channels == 0:
            x = self.conv1(x, next(w_iter), **layer_args)
        elif self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv0(x, next(w_iter), **layer_args)
            x = self.conv1(x, next(w_iter), gain=math.sqrt(0.5), **layer_args)
            x = y + x
        else:
            x = self.conv0(x, next(w_iter), **layer_args)
            x = self.conv1(x, next(w_iter), **layer_args)

        if img is not None:
            img = upsample2d(img, self.resample_filter)
        if self.is_last or self.architecture == "skip":
            y = self.torgb(x, next(w_iter), fused_modconv=fused_modconv)
            y = y.to(dtype=torch.float32, memory_format=torch.contiguous_format)
            img = img + y if img is not None else y
        return x, img


class SynthesisNetwork(nn.Module):
    """All synthesis blocks from 4x4 up to `img_resolution`, consuming `num_ws` latents.

    `channels` ({resolution: count}) overrides `min(channel_base // res, channel_max)` where given.
    `img_aspect` "2:1" or "1:2" (width:height) starts from a 4x8 or 8x4 constant instead, so images are
    twice as wide or tall as `img_resolution`, their shorter side (see stylegan2.models.aspect).
    """

    def __init__(
        self,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        channel_base: int = 32768,
        channel_max: int = 512,
        num_fp16_res: int = 0,
        channels: dict[int | str, int] | None = None,
        img_aspect: str = SQUARE,
        **block_kwargs,
    ) -> None:
        check_img_resolution(img_resolution)
        check_size(w_dim, "w_dim")
        check_size(img_channels, "img_channels")
        super().__init__()
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_aspect = img_aspect
        self.img_height, self.img_width = image_size(img_resolution, img_aspect)
        self.img_resolution_log2 = int(math.log2(img_resolution))
        self.img_channels = img_channels
        self.block_resolutions = [2**i for i in range(2, self.img_resolution_log2 + 1)]
        channels = channel_counts(self.block_resolutions, channel_base, channel_max, channels)
        fp16_resolution = max(2 ** (self.img_resolution_log2 + 1 - num_fp16_res), 8)

        self.num_ws = 0
        for res in self.block_resolutions:
            block = SynthesisBlock(
                channels[res // 2] if res > 4 else 0, channels[res], w_dim=w_dim, resolution=res,
                img_channels=img_channels, is_last=res == img_resolution, use_fp16=res >= fp16_resolution,
                aspect=img_aspect, **block_kwargs,
            )
            self.num_ws += block.num_conv + (block.num_torgb if block.is_last else 0)
            setattr(self, f"b{res}", block)

    def forward(
        self,
        ws: torch.Tensor,
        noise_mode: str = "random",
        force_fp32: bool = False,
        fused_modconv: bool | None = None,
    ) -> torch.Tensor:
        """ws [N, num_ws, w_dim] -> images [N, img_channels, img_height, img_width], float32, roughly in [-1, 1]."""
        if check_input(ws, "ws", self).ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must have shape [batch, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}")
        ws = ws.to(torch.float32)
        x = img = None
        w_idx = 0
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            # Consecutive blocks share one w: a block's toRGB uses the w of the next block's conv0.
            block_ws = ws.narrow(1, w_idx, block.num_conv + block.num_torgb)
            w_idx += block.num_conv
            x, img = block(x, img, block_ws, noise_mode=noise_mode, force_fp32=force_fp32, fused_modconv=fused_modconv)
        return img
