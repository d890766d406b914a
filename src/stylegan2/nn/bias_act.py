"""Bias, activation, gain and clamp in one call, with the official activation gains."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Activation:
    """An activation function and the gain that keeps unit variance through it (He init)."""

    func: Callable[[torch.Tensor, float], torch.Tensor]
    default_gain: float
    default_alpha: float = 0.0
    # For act(g x) = g act(x) (g > 0): an in-place version, so bias, gain and activation take two passes.
    homogeneous_inplace: Callable[[torch.Tensor, float], torch.Tensor] | None = None


ACTIVATIONS: dict[str, Activation] = {
    "linear": Activation(lambda x, a: x, 1.0, homogeneous_inplace=lambda x, a: x),
    "relu": Activation(lambda x, a: F.relu(x), math.sqrt(2), homogeneous_inplace=lambda x, a: F.relu_(x)),
    "lrelu": Activation(lambda x, a: F.leaky_relu(x, a), math.sqrt(2), 0.2, homogeneous_inplace=lambda x, a: F.leaky_relu_(x, a)),
    "tanh": Activation(lambda x, a: torch.tanh(x), 1.0),
    "sigmoid": Activation(lambda x, a: torch.sigmoid(x), 1.0),
    "elu": Activation(lambda x, a: F.elu(x), 1.0),
    "selu": Activation(lambda x, a: F.selu(x), 1.0),
    "softplus": Activation(lambda x, a: F.softplus(x), 1.0),
    "swish": Activation(lambda x, a: torch.sigmoid(x) * x, math.sqrt(2)),
}


def activation(name: str) -> Activation:
    """Look up an activation by its official name ('lrelu', 'linear', ...)."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}") from None


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    dim: int = 1,
    act: str = "linear",
    alpha: float | None = None,
    gain: float | None = None,
    clamp: float | None = None,
) -> torch.Tensor:
    """Compute clamp(act(x + b) * gain): `b` is broadcast along dimension `dim` of `x`.

    `gain` defaults to the activation's own gain (sqrt(2) for lrelu); `clamp` bounds the
    result to [-clamp, clamp], which keeps fp16 layers from overflowing.
    """
    spec = activation(act)
    alpha = spec.default_alpha if alpha is None else alpha
    gain = spec.default_gain if gain is None else gain
    if b is not None:
        shape = [1] * x.ndim
        shape[dim] = -1
        b = b.reshape(shape)
    if spec.homogeneous_inplace is not None and gain > 0 and (b is not None or gain != 1):
        # act(x + b) * gain = act(gain * x + gain * b): one pass makes a new tensor, the activation
        # runs in place on it (its gradient needs only the result). Each pass over an activation
        # map costs as much as a small convolution on CPU.
        x = torch.add(b * gain, x, alpha=gain) if b is not None else x * gain
        x = spec.homogeneous_inplace(x, alpha)
    else:
        if b is not None:
            x = x + b
        x = spec.func(x, alpha)
        if gain != 1:
            x = x * gain
    if clamp is not None and clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x
