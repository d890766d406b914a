"""The fused resampling convolution equals resampling and convolving in separate, plain steps."""

import sys

import pytest
import torch
import torch.nn.functional as F

from stylegan2.nn.conv2d_resample import conv2d_resample, fold_filter
from stylegan2.nn.upfirdn2d import downsample2d, setup_filter, upfirdn2d


@pytest.mark.parametrize("fold", [False, True])
@pytest.mark.parametrize("kernel", [1, 3])
def test_upsampling_conv_equals_upsample_then_conv(kernel, fold):
    f = setup_filter([1, 3, 3, 1]).double()
    x = torch.randn(2, 4, 6, 6, dtype=torch.float64)
    w = torch.randn(5, 4, kernel, kernel, dtype=torch.float64)
    # Zero-insert, pad for filter and kernel at once, blur (gain 4 keeps the mean), convolve.
    # Like the official op in its up-sampling layers, this is a true convolution (flipped kernel).
    p = kernel // 2
    upsampled = upfirdn2d(x, f, up=2, padding=[p + 2, p + 1, p + 2, p + 1], gain=4)
    expected = F.conv2d(upsampled, w.flip([2, 3]))
    got = conv2d_resample(x, w, f=f, up=2, padding=kernel // 2, fold=fold)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("fold", [False, True])
@pytest.mark.parametrize("kernel", [1, 3])
def test_downsampling_conv_equals_blur_conv_then_subsample(kernel, fold):
    f = setup_filter([1, 3, 3, 1]).double()
    x = torch.randn(2, 4, 8, 8, dtype=torch.float64)
    w = torch.randn(5, 4, kernel, kernel, dtype=torch.float64)
    p = kernel // 2
    blurred = upfirdn2d(x, f, padding=p + 1)  # the [1,3,3,1] blur with the official pads
    expected = F.conv2d(blurred, w)[:, :, ::2, ::2]  # full-resolution conv, keep every 2nd pixel
    got = conv2d_resample(x, w, f=f, down=2, padding=p, fold=fold)
    assert got.shape == (2, 5, 4, 4)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)


def test_grouped_resampling_conv_equals_separate_convs():
    f = setup_filter([1, 3, 3, 1]).double()
    x = torch.randn(1, 6, 5, 5, dtype=torch.float64)
    w = torch.randn(4, 3, 3, 3, dtype=torch.float64)
    grouped = conv2d_resample(x, w, f=f, up=2, padding=1, groups=2)
    halves = [conv2d_resample(x[:, 3 * g: 3 * g + 3], w[2 * g: 2 * g + 2], f=f, up=2, padding=1) for g in range(2)]
    torch.testing.assert_close(grouped, torch.cat(halves, dim=1), rtol=1e-10, atol=1e-10)


def test_downsample2d_of_constant_interior_is_constant():
    f = setup_filter([1, 3, 3, 1])
    x = torch.full((1, 1, 16, 16), 3.0)
    torch.testing.assert_close(downsample2d(x, f)[..., 1:-1, 1:-1], torch.full((1, 1, 6, 6), 3.0))


@pytest.mark.parametrize("filter_shape", [(4, 4), (4, 3), (4,)])
@pytest.mark.parametrize("padding", [1, [2, 0, 1, 3]])
@pytest.mark.parametrize("up, down, groups", [(2, 1, 1), (1, 2, 1), (2, 1, 2), (1, 2, 2)])
def test_folded_filter_gives_the_same_values_and_gradients(filter_shape, padding, up, down, groups):
    """Filter folded into the weights = filter pass + convolution, for lopsided filters and pads too,
    down to the second derivative (R1 differentiates D's input gradient by its weights)."""
    f = torch.rand(*filter_shape, dtype=torch.float64) + 0.1
    w0 = torch.randn(6, 4 // groups, 3, 3, dtype=torch.float64)
    x0 = torch.randn(2, 4, 7, 7, dtype=torch.float64)
    results = []
    for fold in (False, True):
        x, w = x0.clone().requires_grad_(True), w0.clone().requires_grad_(True)
        y = conv2d_resample(x, w, f=f, up=up, down=down, padding=padding, groups=groups, fold=fold)
        (dx,) = torch.autograd.grad((y * y.detach().cos()).sum(), x, create_graph=True)
        (dw,) = torch.autograd.grad(dx.square().sum(), w)
        results.append((y, dx, dw))
    for plain, folded in zip(*results):
        torch.testing.assert_close(folded, plain, rtol=1e-10, atol=1e-10)


def test_fp16_activations_fold_the_filter_by_default(monkeypatch):
    """Only fp16 activations (the tensor-core path) with shared weights take the folded route unless asked."""
    module = sys.modules[conv2d_resample.__module__]  # the package exports the function under the module's name
    calls = []
    monkeypatch.setattr(module, "fold_filter", lambda *args, **kwargs: calls.append(args[0].dtype) or fold_filter(*args, **kwargs))
    f, w = setup_filter([1, 3, 3, 1]), torch.randn(3, 2, 3, 3)
    conv2d_resample(torch.randn(1, 2, 8, 8), w, f=f, down=2, padding=1)
    assert calls == []
    conv2d_resample(torch.randn(1, 2, 8, 8).half(), w.half(), f=f, down=2, padding=1)
    assert calls == [torch.float16]
    conv2d_resample(torch.randn(1, 4, 8, 8).half(), w.repeat(2, 1, 1, 1).half(), f=f, down=2, padding=1, groups=2)
    assert calls == [torch.float16]
