"""The Swapping Autoencoder generator (Park et al. 2020, fig. 18): structure code + texture code -> image.

The texture code plays the role of StyleGAN2's w: it scales and shifts the structure code's channels,
then styles every modulated convolution of the residual blocks that follow, first at the structure
code's resolution, then doubling the resolution block by block; a final modulated 1x1 conv (toRGB)
gives the image. Module names follow the official implementation (SpatialCodeModulation,
HeadResnetBlock{i}, UpsamplingResBlock{res}, ToRGB).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.layers import Conv2dLayer, FullyConnectedLayer
from .init_kwargs import records_init_kwargs
from .synthesis import NOISE_MODES, SynthesisLayer, ToRGBLayer, compute_memory_format


class SpatialCodeModulation(nn.Module):
    """Scale and shift each structure-code channel by affine maps of the texture code, so texture acts from the first layer."""

    def __init__(self, global_code_ch: int, spatial_code_ch: int) -> None:
        super().__init__()
        self.scale = FullyConnectedLayer(global_code_ch, spatial_code_ch, bias_init=1)  # starts near the identity
        self.bias = FullyConnectedLayer(global_code_ch, spatial_code_ch)

    def forward(self, structure: torch.Tensor, texture: torch.Tensor) -> torch.Tensor:
        return structure * self.scale(texture)[:, :, None, None] + self.bias(texture)[:, :, None, None]


class ModulatedResBlock(nn.Module):
    """Two modulated 3x3 convs styled by the texture code (the first may up-sample) beside a 1x1 skip conv."""

    def __init__(self, in_channels: int, out_channels: int, style_dim: int, resolution: int, up: int = 1, use_noise: bool = True) -> None:
        super().__init__()
        self.conv1 = SynthesisLayer(in_channels, out_channels, w_dim=style_dim, resolution=resolution, up=up, use_noise=use_noise)
        self.conv2 = SynthesisLayer(out_channels, out_channels, w_dim=style_dim, resolution=resolution, use_noise=use_noise)
        self.skip = Conv2dLayer(in_channels, out_channels, kernel_size=1, bias=False, up=up)

    def forward(self, x: torch.Tensor, texture: torch.Tensor, noise_mode: str) -> torch.Tensor:
        y = self.skip(x, gain=math.sqrt(0.5))
        x = self.conv1(x, texture, noise_mode=noise_mode)
        x = self.conv2(x, texture, noise_mode=noise_mode, gain=math.sqrt(0.5))
        return x + y  # (residual + skip) / sqrt(2)


class SwapGenerator(nn.Module):
    """G(structure, texture) -> images [N, img_channels, R, R], roughly in [-1, 1].

    Widths follow StyleGAN2: min(channel_base // res, channel_max) channels at side `res`; the
    `num_base_blocks` blocks at the structure code's resolution ramp up from the code's channels.
    The defaults give the paper's 256 px generator (512 channels up to 64 px, then 256, 128).
    """

    @records_init_kwargs
    def __init__(
        self,
        *,
        img_resolution: int,
        img_channels: int,
        spatial_code_ch: int = 8,
        global_code_ch: int = 2048,
        num_upsampling: int = 4,
        channel_base: int = 32768,
        channel_max: int = 512,
        num_base_blocks: int = 2,
        use_noise: bool = True,
    ) -> None:
        super().__init__()
        if img_resolution < 4 or img_resolution & (img_resolution - 1) != 0:
            raise ValueError(f"SwapGenerator: img_resolution must be a power of two of at least 4, got {img_resolution}")
        if not 0 <= num_upsampling < img_resolution.bit_length() - 1 or num_base_blocks < 0:
            raise ValueError(
                f"SwapGenerator: num_upsampling must be in [0, {img_resolution.bit_length() - 2}] for {img_resolution} px images "
                f"(it must equal the encoder's num_downsampling_sp) and num_base_blocks >= 0; got {num_upsampling} and {num_base_blocks}"
            )
        if min(img_channels, spatial_code_ch, global_code_ch, channel_max) < 1 or channel_base < img_resolution:
            raise ValueError(
                f"SwapGenerator: img_channels, spatial_code_ch, global_code_ch and channel_max must be >= 1 and channel_base "
                f">= img_resolution ({img_resolution}); got {img_channels}, {spatial_code_ch}, {global_code_ch}, "
                f"{channel_max} and {channel_base}"
            )
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.spatial_code_ch = spatial_code_ch
        self.global_code_ch = global_code_ch
        self.code_resolution = img_resolution >> num_upsampling

        def channels(res: int) -> int:
            return min(channel_base // res, channel_max)

        self.SpatialCodeModulation = SpatialCodeModulation(global_code_ch, spatial_code_ch)
        self.block_names: list[str] = []
        in_channels = spatial_code_ch
        for i in range(num_base_blocks):
            out_channels = max(spatial_code_ch, round((i + 1) / num_base_blocks * channels(self.code_resolution)))
            self._add_block(f"HeadResnetBlock{i}", ModulatedResBlock(
                in_channels, out_channels, global_code_ch, resolution=self.code_resolution, use_noise=use_noise))
            in_channels = out_channels
        for j in range(1, num_upsampling + 1):
            res = self.code_resolution << j
            self._add_block(f"UpsamplingResBlock{res}", ModulatedResBlock(
                in_channels, channels(res), global_code_ch, resolution=res, up=2, use_noise=use_noise))
            in_channels = channels(res)
        self.ToRGB = ToRGBLayer(in_channels, img_channels, w_dim=global_code_ch)

    def _add_block(self, name: str, block: ModulatedResBlock) -> None:
        setattr(self, name, block)
        self.block_names.append(name)

    def forward(self, structure: torch.Tensor, texture: torch.Tensor, noise_mode: str | None = None) -> torch.Tensor:
        """structure [N, spatial_code_ch, r, r] (r = R / 2**num_upsampling), texture [N, global_code_ch] -> images.

        Both codes are L2-normalized first (as the encoder outputs them), so mixed or edited codes decode
        on the same scale. noise_mode None means 'random' in training mode and 'const' in eval mode, so
        a loaded network decodes deterministically.
        """
        r = self.code_resolution
        if structure.ndim != 4 or tuple(structure.shape[1:]) != (self.spatial_code_ch, r, r):
            raise ValueError(f"SwapGenerator expects structure codes of shape [batch, {self.spatial_code_ch}, {r}, {r}], "
                             f"got {list(structure.shape)}")
        if texture.shape != (structure.shape[0], self.global_code_ch):
            raise ValueError(f"SwapGenerator expects texture codes of shape [{structure.shape[0]}, {self.global_code_ch}], "
                             f"got {list(texture.shape)}")
        if noise_mode is None:
            noise_mode = "random" if self.training else "const"
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        structure = F.normalize(structure.to(torch.float32), dim=1)
        texture = F.normalize(texture.to(torch.float32), dim=1)
        # Activations in the layout the device's convolutions prefer (NHWC on CPU); every layer keeps it.
        layout = compute_memory_format(channels_last=False, force_fp32=True, device=texture.device)
        x = self.SpatialCodeModulation(structure, texture).contiguous(memory_format=layout)
        for name in self.block_names:
            x = getattr(self, name)(x, texture, noise_mode)
        return self.ToRGB(x, texture).contiguous()  # images leave as NCHW
