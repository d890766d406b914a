"""Modulated convolution: fused and non-fused forms agree, and both match the paper's equations."""

import pytest
import torch
import torch.nn.functional as F

from stylegan2.nn.modulated_conv import modulated_conv2d
from stylegan2.nn.upfirdn2d import setup_filter


def paper_modconv(x, weight, styles, demodulate):
    """Per-sample loop: w' = s_i w_oik, w'' = w' / sqrt(sum w'^2 + eps), then a plain conv."""
    outs = []
    for n in range(x.shape[0]):
        w = weight * styles[n].reshape(1, -1, 1, 1)
        if demodulate:
            w = w / (w.square().sum(dim=[1, 2, 3], keepdim=True) + 1e-8).sqrt()
        outs.append(F.conv2d(x[n: n + 1], w, padding=weight.shape[-1] // 2))
    return torch.cat(outs)


@pytest.mark.parametrize("demodulate", [True, False])
def test_fused_and_non_fused_match_the_paper(demodulate):
    x = torch.randn(3, 4, 8, 8, dtype=torch.float64)
    weight = torch.randn(5, 4, 3, 3, dtype=torch.float64)
    styles = torch.randn(3, 4, dtype=torch.float64)
    expected = paper_modconv(x, weight, styles, demodulate)
    for fused in (True, False):
        got = modulated_conv2d(x, weight, styles, padding=1, demodulate=demodulate, fused_modconv=fused)
        torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("up", [1, 2])
def test_fused_and_non_fused_agree_with_upsampling_noise_and_gradients(up):
    f = setup_filter([1, 3, 3, 1])
    x = torch.randn(2, 4, 8, 8, requires_grad=True)
    weight = torch.randn(6, 4, 3, 3, requires_grad=True)
    styles = torch.randn(2, 4, requires_grad=True)
    noise = torch.randn(2, 1, 8 * up, 8 * up)
    outs, grads = [], []
    for fused in (True, False):
        y = modulated_conv2d(x, weight, styles, noise=noise, up=up, padding=1, resample_filter=f, fused_modconv=fused)
        outs.append(y)
        grads.append(torch.autograd.grad((y * torch.linspace(-1, 1, y.numel()).reshape(y.shape)).sum(), [x, weight, styles]))
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-5, atol=1e-5)
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_demodulation_gives_unit_output_variance_for_unit_input():
    torch.manual_seed(1)
    x = torch.randn(4, 64, 16, 16)
    out = modulated_conv2d(x, torch.randn(64, 64, 3, 3), torch.rand(4, 64) * 3, padding=1, fused_modconv=True)
    assert abs(out[:, :, 1:-1, 1:-1].std().item() - 1.0) < 0.05


def test_wrong_style_shape_names_the_expected_shape():
    with pytest.raises(ValueError, match=r"styles must be \[2, 4\]"):
        modulated_conv2d(torch.randn(2, 4, 8, 8), torch.randn(5, 4, 3, 3), torch.randn(2, 3), fused_modconv=False)
