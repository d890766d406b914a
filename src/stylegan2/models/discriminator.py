"""The StyleGAN2 discriminator: residual blocks down to 4x4, minibatch std, optional projection."""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch import nn

from ..nn.layers import Conv2dLayer, FullyConnectedLayer, MinibatchStdLayer
from ..nn.upfirdn2d import downsample2d, setup_filter
from .aspect import SQUARE, check_img_resolution, image_size
from .init_kwargs import records_init_kwargs
from .inputs import check_images, check_same_batch, check_size
from .mapping import MappingNetwork
from .synthesis import ARCHITECTURES, channel_counts, compute_dtype, compute_memory_format, half_dtype_of


class DiscriminatorBlock(nn.Module):
    """Two 3x3 convs, the second halving the resolution; residual or skip input per architecture.

    Layers numbered below `freeze_layers` (counted from the input) are frozen (Freeze-D). A `use_fp16`
    block computes in `half_dtype` ('float16', NVIDIA's, or 'bfloat16').
    """

    def __init__(
        self,
        in_channels: int,
        tmp_channels: int,
        out_channels: int,
        resolution: int,
        img_channels: int,
        first_layer_idx: int,
        architecture: str = "resnet",
        activation: str = "lrelu",
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
        use_fp16: bool = False,
        fp16_channels_last: bool = False,
        half_dtype: str = "float16",
        freeze_layers: int = 0,
    ) -> None:
        if architecture not in ARCHITECTURES:
            raise ValueError(f"discriminator architecture must be one of {', '.join(ARCHITECTURES)}, got {architecture!r}")
        super().__init__()
        self.in_channels = in_channels
        self.resolution = resolution
        self.img_channels = img_channels
        self.first_layer_idx = first_layer_idx
        self.architecture = architecture
        self.use_fp16 = use_fp16
        self.half_dtype = half_dtype_of(half_dtype)
        self.channels_last = use_fp16 and fp16_channels_last
        self.register_buffer("resample_filter", setup_filter(list(resample_filter)))

        self.num_layers = 0

        def trainable() -> bool:
            trainable_layer = self.first_layer_idx + self.num_layers >= freeze_layers
            self.num_layers += 1
            return trainable_layer

        common = dict(activation=activation, conv_clamp=conv_clamp, channels_last=self.channels_last)
        if in_channels == 0 or architecture == "skip":
            self.fromrgb = Conv2dLayer(img_channels, tmp_channels, kernel_size=1, trainable=trainable(), **common)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, kernel_size=3, trainable=trainable(), **common)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, kernel_size=3, down=2, trainable=trainable(),
                                 resample_filter=resample_filter, **common)
        if architecture == "resnet":
            self.skip = Conv2dLayer(tmp_channels, out_channels, kernel_size=1, bias=False, down=2, trainable=trainable(),
                                    resample_filter=resample_filter, channels_last=self.channels_last)

    def forward(
        self, x: torch.Tensor | None, img: torch.Tensor | None, force_fp32: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        dtype = compute_dtype(self.use_fp16, force_fp32, img.device if x is None else x.device, self.half_dtype)
        memory_format = compute_memory_format(self.channels_last, force_fp32, img.device if x is None else x.device)
        if x is not None:
            x = x.to(dtype=dtype, memory_format=memory_format)

        if self.in_channels == 0 or self.architecture == "skip":
            img = img.to(dtype=dtype, memory_format=memory_format)
            y = self.fromrgb(img)
            x = x + y if x is not None else y
            img = downsample2d(img, self.resample_filter) if self.architecture == "skip" else None

        if self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv0(x)
            x = self.conv1(x, gain=math.sqrt(0.5))
            x = y + x
        else:
            x = self.conv1(self.conv0(x))
        return x, img


class DiscriminatorEpilogue(nn.Module):
    """The 4x4 head (4x8 or 8x4 for `img_aspect` 2:1 or 1:2): minibatch std, conv, fully connected layers,
    and the class projection."""

    def __init__(
        self,
        in_channels: int,
        cmap_dim: int,
        resolution: int,
        img_channels: int,
        architecture: str = "resnet",
        mbstd_group_size: int | None = 4,
        mbstd_num_channels: int = 1,
        activation: str = "lrelu",
        conv_clamp: float | None = None,
        img_aspect: str = SQUARE,
    ) -> None:
        if mbstd_group_size is not None:
            check_size(mbstd_group_size, "mbstd_group_size")  # None: the whole batch is one group
        check_size(mbstd_num_channels, "mbstd_num_channels", 0)
        super().__init__()
        self.in_channels = in_channels
        self.cmap_dim = cmap_dim
        self.resolution = resolution
        self.img_aspect = img_aspect
        height, width = image_size(resolution, img_aspect)
        self.img_channels = img_channels
        self.architecture = architecture
        if architecture == "skip":
            self.fromrgb = Conv2dLayer(img_channels, in_channels, kernel_size=1, activation=activation)
        self.mbstd = MinibatchStdLayer(mbstd_group_size, mbstd_num_channels) if mbstd_num_channels > 0 else None
        self.conv = Conv2dLayer(in_channels + mbstd_num_channels, in_channels, kernel_size=3, activation=activation, conv_clamp=conv_clamp)
        self.fc = FullyConnectedLayer(in_channels * height * width, in_channels, activation=activation)
        self.out = FullyConnectedLayer(in_channels, 1 if cmap_dim == 0 else cmap_dim)

    def forward(self, x: torch.Tensor, img: torch.Tensor | None, cmap: torch.Tensor | None) -> torch.Tensor:
        x = x.to(dtype=torch.float32, memory_format=torch.contiguous_format)
        if self.architecture == "skip":
            x = x + self.fromrgb(img.to(dtype=torch.float32, memory_format=torch.contiguous_format))
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.conv(x)
        x = self.fc(x.flatten(1))
        x = self.out(x)  # [N, 1] or [N, cmap_dim]
        if self.cmap_dim > 0:
            # Projection discriminator: score = <features, embedding of the label> / sqrt(dim).
            x = (x * cmap).sum(dim=1, keepdim=True) * (1 / math.sqrt(self.cmap_dim))
        return x


class Discriminator(nn.Module):
    """D(img, c) -> one logit per image, with NVIDIA StyleGAN2-ADA's arguments and weight names.

    `channels` ({resolution: count}) overrides `min(channel_base // res, channel_max)` where given.
    A non-square D has `epilogue_kwargs={"img_aspect": "2:1"}` (or "1:2"): its blocks are a square D's,
    only the epilogue sees 4x8 (8x4) features; a square D's arguments stay NVIDIA's.
    """

    @records_init_kwargs
    def __init__(
        self,
        c_dim: int,
        img_resolution: int,
        img_channels: int,
        architecture: str = "resnet",
        channel_base: int = 32768,
        channel_max: int = 512,
        num_fp16_res: int = 0,
        conv_clamp: float | None = None,
        cmap_dim: int | None = None,
        block_kwargs: dict[str, Any] | None = None,
        mapping_kwargs: dict[str, Any] | None = None,
        epilogue_kwargs: dict[str, Any] | None = None,
        channels: dict[int | str, int] | None = None,
    ) -> None:
        check_img_resolution(img_resolution)
        check_size(c_dim, "c_dim", 0)
        check_size(img_channels, "img_channels")
        if cmap_dim is not None and c_dim > 0:
            check_size(cmap_dim, "cmap_dim")
        super().__init__()
        block_kwargs = dict(block_kwargs or {})
        mapping_kwargs = dict(mapping_kwargs or {})
        epilogue_kwargs = dict(epilogue_kwargs or {})
        self.c_dim = c_dim
        self.img_resolution = img_resolution
        self.img_resolution_log2 = int(math.log2(img_resolution))
        self.img_channels = img_channels
        self.block_resolutions = [2**i for i in range(self.img_resolution_log2, 2, -1)]
        channels = channel_counts(self.block_resolutions + [4], channel_base, channel_max, channels)
        fp16_resolution = max(2 ** (self.img_resolution_log2 + 1 - num_fp16_res), 8)
        cmap_dim = 0 if c_dim == 0 else (channels[4] if cmap_dim is None else cmap_dim)

        common = dict(img_channels=img_channels, architecture=architecture, conv_clamp=conv_clamp)
        layer_idx = 0
        for res in self.block_resolutions:
            block = DiscriminatorBlock(
                channels[res] if res < img_resolution else 0, channels[res], channels[res // 2], resolution=res,
                first_layer_idx=layer_idx, use_fp16=res >= fp16_resolution, **block_kwargs, **common,
            )
            setattr(self, f"b{res}", block)
            layer_idx += block.num_layers
        if c_dim > 0:
            self.mapping = MappingNetwork(z_dim=0, c_dim=c_dim, w_dim=cmap_dim, num_ws=None, w_avg_beta=None, **mapping_kwargs)
        self.b4 = DiscriminatorEpilogue(channels[4], cmap_dim=cmap_dim, resolution=4, **epilogue_kwargs, **common)
        self.img_aspect = self.b4.img_aspect
        self.img_height, self.img_width = image_size(img_resolution, self.img_aspect)

    def forward(self, img: torch.Tensor, c: torch.Tensor | None, force_fp32: bool = False) -> torch.Tensor:
        """img [N, img_channels, img_height, img_width], c [N, c_dim] -> logits [N, 1]."""
        check_images(img, "D", (self.img_channels, self.img_height, self.img_width), self)
        if self.c_dim > 0 and isinstance(c, torch.Tensor):
            check_same_batch(c, "c (class label)", img, "img")
        x = None
        for res in self.block_resolutions:
            x, img = getattr(self, f"b{res}")(x, img, force_fp32=force_fp32)
        cmap = self.mapping(None, c) if self.c_dim > 0 else None
        return self.b4(x, img, cmap)
