"""The reflection-padded (down-sampling) conv equals reflect-padding, blurring and striding by hand."""

import math

import pytest
import torch
import torch.nn.functional as F

from stylegan2.nn.reflect_conv import ReflectConv2dLayer


def set_identity(layer: ReflectConv2dLayer) -> None:
    """Weights that copy channel c to channel c through the kernel's centre tap (after the equalized-lr gain)."""
    out_channels, in_channels, k, _ = layer.weight.shape
    with torch.no_grad():
        layer.weight.zero_()
        for c in range(out_channels):
            layer.weight[c, c, k // 2, k // 2] = 1 / layer.weight_gain


def blur_1331_by_hand(x: torch.Tensor) -> torch.Tensor:
    """Valid 2-D filtering with the separable [1, 3, 3, 1] / 8 kernel, written as a sum of shifted copies."""
    taps = [1 / 8, 3 / 8, 3 / 8, 1 / 8]
    h, w = x.shape[2] - 3, x.shape[3] - 3
    rows = sum(t * x[:, :, i : i + h, :] for i, t in enumerate(taps))
    return sum(t * rows[:, :, :, j : j + w] for j, t in enumerate(taps))


def test_reflect_padding_matches_torch_reflect_then_plain_conv():
    layer = ReflectConv2dLayer(3, 5, kernel_size=3, activation="linear").double()
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    w = layer.weight * layer.weight_gain
    expected = F.conv2d(F.pad(x, [1, 1, 1, 1], mode="reflect"), w) + layer.bias.reshape(1, -1, 1, 1)
    torch.testing.assert_close(layer(x), expected, rtol=1e-10, atol=1e-10)


def test_borders_are_reflected_not_zero_padded():
    layer = ReflectConv2dLayer(1, 1, kernel_size=3)
    with torch.no_grad():
        layer.weight.fill_(1 / layer.weight_gain)  # a 3x3 box sum
    x = torch.ones(1, 1, 6, 6)
    # With reflection every window holds nine ones, corners included; zero padding would give 4 there.
    torch.testing.assert_close(layer(x), torch.full_like(x, 9.0))


def test_blur_downsampling_equals_reflect_pad_blur_and_stride_two_pick():
    layer = ReflectConv2dLayer(4, 4, kernel_size=3, down=2, activation="linear").double()
    set_identity(layer)
    x = torch.randn(2, 4, 8, 8, dtype=torch.float64)
    # Pads 2 on each side (3 filter taps - 2 + 3 kernel taps - 1 = 4 in all), blur, then the 3x3 centre
    # tap of a stride-2 conv picks every second pixel starting at 1.
    blurred = blur_1331_by_hand(F.pad(x, [2, 2, 2, 2], mode="reflect"))  # [N, C, 9, 9]
    expected = blurred[:, :, 1::2, 1::2][:, :, :4, :4]
    got = layer(x)
    assert got.shape == (2, 4, 4, 4)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)


def test_blurred_1x1_downsampling_skip_equals_reflect_pad_blur_and_pick():
    layer = ReflectConv2dLayer(2, 2, kernel_size=1, bias=False, down=2).double()
    set_identity(layer)
    x = torch.randn(1, 2, 8, 8, dtype=torch.float64)
    expected = blur_1331_by_hand(F.pad(x, [1, 1, 1, 1], mode="reflect"))[:, :, ::2, ::2]
    torch.testing.assert_close(layer(x), expected, rtol=1e-10, atol=1e-10)


def test_a_constant_image_stays_constant_through_the_blur_downsampling():
    layer = ReflectConv2dLayer(1, 1, kernel_size=3, down=2)
    set_identity(layer)
    x = torch.full((1, 1, 16, 16), 0.7)
    torch.testing.assert_close(layer(x), torch.full((1, 1, 8, 8), 0.7))


@pytest.mark.parametrize("down", [1, 2])
@pytest.mark.parametrize("kernel", [1, 3])
def test_output_size_is_input_size_over_down(down, kernel):
    layer = ReflectConv2dLayer(3, 6, kernel_size=kernel, down=down, activation="lrelu")
    assert layer(torch.randn(2, 3, 16, 16)).shape == (2, 6, 16 // down, 16 // down)


def test_lrelu_gain_and_extra_gain_scale_the_output():
    layer = ReflectConv2dLayer(2, 3, kernel_size=3, activation="lrelu")
    x = torch.randn(1, 2, 6, 6)
    with torch.no_grad():
        linear = F.conv2d(F.pad(x, [1, 1, 1, 1], mode="reflect"), layer.weight * layer.weight_gain)
    expected = F.leaky_relu(linear, 0.2) * math.sqrt(2) * 0.5
    torch.testing.assert_close(layer(x, gain=0.5), expected)


def test_twice_differentiable_for_r1():
    layer = ReflectConv2dLayer(2, 2, kernel_size=3, down=2, activation="lrelu").double()
    x = torch.randn(1, 2, 8, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda t: layer(t), (x,))
