"""Modulated convolution in float16: NVIDIA's pre-normalisation (styles divided by their largest magnitude, weights
scaled to a largest magnitude of 1/sqrt(fan-in); demodulation undoes both) keeps large styles and weights from
overflowing float16 (largest value 65504). Torch's CPU float16 operations run (slowly), so the check runs on CPU:
the overflows it guards against are in float16 tensors between the operations, which CPU and CUDA both round."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from stylegan2.nn.modulated_conv import modulated_conv2d

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"))]


def paper_modconv64(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor) -> torch.Tensor:
    """The paper's equations in float64: w'' = s_i w_oikk / sqrt(sum_ikk (s_i w_oikk)^2 + 1e-8), one conv per sample."""
    w = weight.double()[None] * styles.double()[:, None, :, None, None]  # [N, O, I, k, k]
    w = w * (w.square().sum(dim=[2, 3, 4], keepdim=True) + 1e-8).rsqrt()
    return torch.cat([F.conv2d(x[n: n + 1].double(), w[n], padding=1) for n in range(len(x))])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("style_scale, weight_scale, dtype", [
    (1e3, 1, torch.float16),  # a float16 network (G.half()): the squares of the styles, 1e6, overflow
    (1, 300, torch.float16),  # ... or those of the weights, 9e4
    (1e4, 1, torch.float32),  # float16 layers (use_fp16) of a float32 network: activations times styles overflow
], ids=["half-network-styles", "half-network-weights", "fp16-layers"])
@torch.no_grad()
def test_float16_modulated_conv_with_large_styles_or_weights_matches_float64(device, fused, style_scale, weight_scale,
                                                                              dtype):
    x = torch.randn(2, 64, 8, 8, device=device)
    weight = weight_scale * torch.randn(32, 64, 3, 3, device=device, dtype=dtype)
    styles = style_scale * (1 + torch.rand(2, 64, device=device, dtype=dtype))
    got = modulated_conv2d(x.half(), weight, styles, padding=1, fused_modconv=fused)
    assert got.dtype == torch.float16 and torch.isfinite(got).all()
    torch.testing.assert_close(got.double(), paper_modconv64(x, weight, styles), rtol=1e-2, atol=1e-2)
