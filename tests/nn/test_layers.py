"""Equalized-lr layers, bias_act and minibatch std against direct computations."""

import math

import pytest
import torch
import torch.nn.functional as F

from stylegan2.nn.bias_act import bias_act
from stylegan2.nn.layers import Conv2dLayer, FullyConnectedLayer, MinibatchStdLayer, normalize_2nd_moment


def test_fully_connected_layer_applies_equalized_gains():
    layer = FullyConnectedLayer(8, 3, activation="lrelu", lr_multiplier=0.01, bias_init=0.5)
    x = torch.randn(5, 8)
    w = layer.weight * 0.01 / math.sqrt(8)
    b = layer.bias * 0.01
    expected = F.leaky_relu(x @ w.t() + b, 0.2) * math.sqrt(2)
    torch.testing.assert_close(layer(x), expected)
    assert torch.allclose(layer.bias * 0.01, torch.full((3,), 0.005))


def test_linear_fully_connected_layer_is_an_affine_map():
    layer = FullyConnectedLayer(4, 2)
    x = torch.randn(3, 4)
    torch.testing.assert_close(layer(x), x @ (layer.weight / 2).t() + layer.bias)


def test_conv_layer_applies_weight_gain_activation_gain_and_clamp():
    layer = Conv2dLayer(3, 4, kernel_size=3, activation="lrelu", conv_clamp=0.5)
    with torch.no_grad():
        layer.bias.normal_()
    x = torch.randn(2, 3, 6, 6)
    expected = F.conv2d(x, layer.weight / math.sqrt(27), layer.bias, padding=1)
    expected = (F.leaky_relu(expected, 0.2) * math.sqrt(2)).clamp(-0.5, 0.5)
    torch.testing.assert_close(layer(x), expected)


def test_frozen_conv_layer_stores_weights_as_buffers():
    layer = Conv2dLayer(3, 4, kernel_size=3, trainable=False)
    assert list(layer.parameters()) == []
    assert set(dict(layer.named_buffers())) == {"weight", "bias", "resample_filter"}


@pytest.mark.parametrize("act,fn,gain", [("lrelu", lambda v: F.leaky_relu(v, 0.2), math.sqrt(2)),
                                         ("relu", F.relu, math.sqrt(2)), ("linear", lambda v: v, 1.0)])
def test_bias_act_default_gains(act, fn, gain):
    x, b = torch.randn(2, 3, 4), torch.randn(3)
    torch.testing.assert_close(bias_act(x, b, act=act), fn(x + b.reshape(1, 3, 1)) * gain)


@pytest.mark.parametrize("act", ["lrelu", "relu", "linear", "tanh"])
@pytest.mark.parametrize("gain", [None, 1.0, math.sqrt(0.5)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_bias_act_fused_path_matches_the_plain_formula_and_keeps_its_input(act, gain, with_bias):
    fn = {"lrelu": lambda v: F.leaky_relu(v, 0.2), "relu": F.relu, "linear": lambda v: v, "tanh": torch.tanh}[act]
    default_gain = {"lrelu": math.sqrt(2), "relu": math.sqrt(2)}.get(act, 1.0)
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64).to(memory_format=torch.channels_last)
    b = torch.randn(3, dtype=torch.float64) if with_bias else None
    x_before = x.clone()
    y = bias_act(x, b, act=act, gain=gain)
    expected = fn(x + (b.reshape(1, 3, 1, 1) if with_bias else 0)) * (default_gain if gain is None else gain)
    torch.testing.assert_close(y, expected)
    assert torch.equal(x, x_before)  # the in-place activation never touches the caller's tensor
    assert y.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("act", ["lrelu", "linear"])
def test_bias_act_has_exact_first_and_second_derivatives(act):
    # R1 and path length differentiate through bias_act twice; the in-place activation must allow it.
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    torch.autograd.gradcheck(lambda x, b: bias_act(x, b, act=act, gain=0.7), (x, b))
    torch.autograd.gradgradcheck(lambda x, b: bias_act(x, b, act=act, gain=0.7), (x, b))


def test_bias_act_rejects_an_unknown_activation():
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        bias_act(torch.randn(2, 2), act="gelu")


def test_normalize_2nd_moment_gives_unit_mean_square():
    y = normalize_2nd_moment(torch.randn(4, 16) * 7)
    torch.testing.assert_close(y.square().mean(dim=1), torch.ones(4))


def test_minibatch_std_appends_the_group_stddev():
    x = torch.randn(8, 4, 3, 3, dtype=torch.float64)
    y = MinibatchStdLayer(group_size=4)(x)
    assert y.shape == (8, 5, 3, 3)
    # Sample n belongs to group n % 2 (the layout is [group member, group index]).
    for group in range(2):
        members = x[group::2]
        std = (members.var(dim=0, unbiased=False) + 1e-8).sqrt().mean()
        torch.testing.assert_close(y[group::2, 4], torch.full((4, 3, 3), std.item(), dtype=torch.float64))
    torch.testing.assert_close(y[:, :4], x)


def test_minibatch_std_rejects_an_indivisible_batch():
    with pytest.raises(ValueError, match="not divisible by the group size 4"):
        MinibatchStdLayer(group_size=4)(torch.randn(6, 2, 4, 4))
