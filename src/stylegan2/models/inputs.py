"""Checks of what the networks are built and called with, so that a wrong argument fails at the call, naming
it and the fix, rather than deep inside torch (or, worse, silently: uint8 images, a label an unconditional G drops)."""

from __future__ import annotations

import math
import numbers

import torch
from torch import nn


def is_whole_number(value: object) -> bool:
    """Whether `value` is an int (a NumPy integer too): not a bool, nor a float or text however whole it reads."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_size(value: object, name: str, minimum: int = 1) -> None:
    """A constructor's count (a dimension, channels, layers): an int >= `minimum`; else a ValueError naming it."""
    if not is_whole_number(value) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def check_input(x: object, name: str, network: nn.Module) -> torch.Tensor:
    """`x` as given, if it is a non-empty tensor on `network`'s device; else a TypeError or ValueError naming `name`."""
    if not isinstance(x, torch.Tensor):
        hint = "; torch.from_numpy(...) makes one" if type(x).__module__ == "numpy" else ""
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}{hint}")
    if x.ndim > 0 and x.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (shape {list(x.shape)}); pass at least one")
    device = next((p.device for p in network.parameters()), x.device)
    if x.device != device:
        raise ValueError(f"{name} is on {x.device} but the network is on {device}; move it with {name}.to({str(device)!r})")
    return x


def check_images(img: object, network_name: str, expected: tuple[int, int, int], network: nn.Module) -> torch.Tensor:
    """`img` as given, if it is a batch of float images of shape `expected` (C, H, W) that `network` can take; else a
    TypeError or ValueError saying what `network_name` expects. uint8 pixels would go in unscaled, and be judged so."""
    if check_input(img, "img", network).ndim != 4 or tuple(img.shape[1:]) != expected:
        raise ValueError(f"{network_name} expects images of shape [batch, {', '.join(map(str, expected))}], got {list(img.shape)}")
    if not img.is_floating_point():
        raise TypeError(f"{network_name} expects float images in [-1, 1], got {img.dtype}; convert with img.float() / 127.5 - 1")
    return img


def check_same_batch(x: torch.Tensor, name: str, reference: torch.Tensor, reference_name: str) -> None:
    """Refuse `x` unless it has as many rows as `reference` (one per sample), naming both inputs."""
    if x.shape[0] != reference.shape[0]:
        raise ValueError(f"{name} has batch {x.shape[0]} but {reference_name} has {reference.shape[0]}; give one row per sample")


def check_truncation(psi: object, cutoff: object) -> None:
    """truncation_psi a finite number (or a one-element tensor), truncation_cutoff None or an int >= 0."""
    if isinstance(psi, torch.Tensor):
        if psi.numel() != 1:
            raise ValueError(f"truncation_psi must be one number, got a tensor of shape {list(psi.shape)}")
    else:
        number = isinstance(psi, numbers.Real) and not isinstance(psi, bool)
        if not number or not math.isfinite(psi):  # NaN or Inf: a number, of a value that it cannot be
            raise (ValueError if number else TypeError)(f"truncation_psi must be a finite number (1 = no truncation), got {psi!r}")
    if cutoff is not None and (not is_whole_number(cutoff) or cutoff < 0):
        raise ValueError(f"truncation_cutoff must be None (every layer) or the number of layers to truncate, >= 0, got {cutoff!r}")
