"""upfirdn2d against a direct reference: zero insertion, zero padding, a plain full 2-D convolution."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from stylegan2.nn.upfirdn2d import downsample2d, filter2d, setup_filter, upfirdn2d, upsample2d


def direct(x, f2d, up, down, pad):
    px0, px1, py0, py1 = pad
    n, c, h, w = x.shape
    y = torch.zeros(n, c, h * up, w * up, dtype=x.dtype)
    y[:, :, ::up, ::up] = x
    y = F.pad(y, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    y = y[:, :, max(-py0, 0): y.shape[2] - max(-py1, 0), max(-px0, 0): y.shape[3] - max(-px1, 0)]
    kh, kw = f2d.shape
    out = torch.zeros(n, c, y.shape[2] - kh + 1, y.shape[3] - kw + 1, dtype=x.dtype)
    flipped = f2d.flip([0, 1])  # true convolution
    for i in range(kh):
        for j in range(kw):
            out += flipped[i, j] * y[:, :, i: i + out.shape[2], j: j + out.shape[3]]
    return out[:, :, ::down, ::down]


CASES = [
    (1, 1, (0, 0, 0, 0), [1, 3, 3, 1]),
    (2, 1, (2, 1, 2, 1), [1, 3, 3, 1]),
    (1, 2, (1, 1, 1, 1), [1, 3, 3, 1]),
    (2, 2, (1, 2, 0, 3), [1, 2, 1]),
    (1, 1, (-1, 2, 3, -2), [[1.0, 2.0], [3.0, 5.0]]),
    (3, 1, (1, 1, 1, 1), [1, 3, 3, 1]),
    (1, 1, (4, 4, 4, 4), [1, 2, 3, 4, 4, 3, 2, 1]),  # >= 8 taps: separable path
    (2, 1, (3, 2, 3, 2), [1, 2, 3, 4, 4, 3, 2, 1]),  # separable up-sampling (two strided transposed passes)
    (4, 1, (-1, 0, 2, -3), [1, 3, 3, 1]),  # up-sampling whose padding crops
    (1, 3, (0, 1, 2, 0), [1, 3, 3, 1]),  # strided down-sampling with uneven padding
]


@pytest.mark.parametrize("up,down,pad,taps", CASES)
def test_upfirdn2d_matches_direct_reference(up, down, pad, taps):
    x = torch.randn(2, 3, 7, 9, dtype=torch.float64)
    f = setup_filter(taps)
    f = f.double()
    f2d = f if f.ndim == 2 else torch.outer(f, f)
    expected = direct(x, f2d, up, down, pad)
    got = upfirdn2d(x, f, up=up, down=down, padding=list(pad))
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("up,down,pad,taps", CASES)
def test_upfirdn2d_gradient_matches_direct_reference(up, down, pad, taps):
    f = setup_filter(taps).double()
    f2d = f if f.ndim == 2 else torch.outer(f, f)
    x1 = torch.randn(2, 2, 6, 5, dtype=torch.float64, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_(True)
    out = upfirdn2d(x1, f, up=up, down=down, padding=list(pad))
    weights = torch.randn_like(out)
    (out * weights).sum().backward()
    (direct(x2, f2d, up, down, pad) * weights).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-12, atol=1e-12)


def test_upfirdn2d_passes_gradcheck():
    x = torch.randn(1, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    f = setup_filter([1, 3, 3, 1]).double()
    assert torch.autograd.gradcheck(lambda t: upfirdn2d(t, f, up=2, down=1, padding=[2, 1, 2, 1]), (x,))


def test_resampling_helpers_keep_the_expected_sizes_and_dc_gain():
    f = setup_filter([1, 3, 3, 1])
    x = torch.ones(1, 1, 8, 8)
    assert upsample2d(x, f).shape[-1] == 16
    assert downsample2d(x, f).shape[-1] == 4
    assert filter2d(x, f).shape[-1] == 8
    # Away from the zero-padded border a constant stays constant: the filter is DC-normalized.
    torch.testing.assert_close(upsample2d(x, f)[..., 4:-4, 4:-4], torch.ones(1, 1, 8, 8))
    torch.testing.assert_close(downsample2d(x, f)[..., 1:-1, 1:-1], torch.ones(1, 1, 2, 2))


def test_setup_filter_normalizes_and_makes_small_filters_two_dimensional():
    f = setup_filter([1, 3, 3, 1])
    assert f.shape == (4, 4)
    assert np.isclose(f.sum().item(), 1.0)
    assert setup_filter(list(range(1, 9))).ndim == 1


def test_setup_filter_rejects_a_three_dimensional_filter():
    with pytest.raises(ValueError, match="1-D or 2-D"):
        setup_filter(torch.ones(2, 2, 2))


def test_bfloat16_on_the_cpu_is_filtered_in_float32_and_returned_in_bfloat16():
    """oneDNN's bfloat16 depthwise kernels are slow, so bfloat16 activations are filtered in float32."""
    f = setup_filter([1, 3, 3, 1])
    x = torch.randn(2, 4, 8, 8).to(torch.bfloat16).requires_grad_(True)
    for resample in (upsample2d, downsample2d):
        y = resample(x, f)
        assert y.dtype == torch.bfloat16
        assert torch.equal(y, resample(x.detach().float(), f).to(torch.bfloat16))
        (grad,) = torch.autograd.grad(y.float().square().sum(), x)
        assert grad.dtype == torch.bfloat16 and torch.isfinite(grad.float()).all()
