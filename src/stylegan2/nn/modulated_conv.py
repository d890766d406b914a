"""Modulated convolution with demodulation (StyleGAN2, Karras et al. 2020, section 2.2).

The style s scales the input channels of the weight, w'_oikk = s_i * w_oikk, and
demodulation rescales each output channel to unit norm, w''_oikk = w'_oikk / sqrt(sum w'^2 + eps),
which replaces AdaIN's instance normalization without its droplet artifacts.
"""

from __future__ import annotations

import math

import torch

from .conv2d_resample import conv2d_resample
from .upfirdn2d import Padding


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    noise: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: Padding = 0,
    resample_filter: torch.Tensor | None = None,
    demodulate: bool = True,
    *,
    fused_modconv: bool,
) -> torch.Tensor:
    """Convolve x [N, I, H, W] with weight [O, I, k, k] modulated per sample by styles [N, I].

    fused_modconv=True builds per-sample weights and runs one grouped convolution;
    fused_modconv=False scales the activations before and after a shared convolution.
    The two are mathematically equal, so the caller chooses (the networks' choice is
    `models.synthesis.DEFAULT_FUSED_MODCONV`).
    `noise` (broadcastable to the output) is added after demodulation.
    """
    batch = x.shape[0]
    out_channels, in_channels, kh, kw = weight.shape
    if styles.shape != (batch, in_channels):
        raise ValueError(f"styles must be [{batch}, {in_channels}], got {list(styles.shape)}")

    if x.dtype == torch.float16 and demodulate:
        # Pre-normalize so that the fp16 products below cannot overflow; demodulation undoes it.
        weight = weight * (1 / math.sqrt(in_channels * kh * kw) / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True))
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)

    dcoefs = None
    if demodulate:
        # sum_ikk (s_i w_oikk)^2 = sum_i s_i^2 (sum_kk w_oikk^2): one [N, I] x [I, O] product
        # instead of materializing the per-sample weights.
        squares = weight.square().sum(dim=[2, 3]).t()  # [I, O]
        dtype = torch.promote_types(styles.dtype, squares.dtype)  # a float64 (or CPU float16) module: as NVIDIA's promotes
        dcoefs = (styles.to(dtype).square() @ squares.to(dtype) + 1e-8).rsqrt()  # [N, O]

    if not fused_modconv:
        x = x * styles.to(x.dtype).reshape(batch, -1, 1, 1)
        x = conv2d_resample(x, weight.to(x.dtype), f=resample_filter, up=up, down=down, padding=padding)
        if dcoefs is not None and noise is not None:
            return torch.addcmul(noise.to(x.dtype), x, dcoefs.to(x.dtype).reshape(batch, -1, 1, 1))  # one pass, not two
        if dcoefs is not None:
            x = x * dcoefs.to(x.dtype).reshape(batch, -1, 1, 1)
        if noise is not None:
            x = x + noise.to(x.dtype)
        return x

    w = weight.unsqueeze(0) * styles.reshape(batch, 1, -1, 1, 1)  # [N, O, I, k, k]
    if dcoefs is not None:
        w = w * dcoefs.reshape(batch, -1, 1, 1, 1)
    x = x.reshape(1, -1, *x.shape[2:])  # [1, N*I, H, W]: the batch becomes conv groups
    w = w.reshape(-1, in_channels, kh, kw)  # [N*O, I, k, k]
    x = conv2d_resample(x, w.to(x.dtype), f=resample_filter, up=up, down=down, padding=padding, groups=batch)
    x = x.reshape(batch, -1, *x.shape[2:])  # [N, O, H', W']
    if noise is not None:
        x = x + noise.to(x.dtype)
    return x
