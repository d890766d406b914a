"""--freezed: how many of D's layers can freeze, and the notes on a --freezed that freezes more than that or
freezes new networks' random weights. Its own module so that both the options (config) and the networks can say
them without importing each other."""

from __future__ import annotations

from typing import Any

import torch

from ..models import Discriminator


def frozen_layers(d_kwargs: dict[str, Any]) -> int:
    """How many of D's first layers its constructor arguments freeze (--freezed)."""
    return (d_kwargs.get("block_kwargs") or {}).get("freeze_layers") or 0


def freezable_layers(D: Discriminator) -> int:
    """How many layers --freezed can freeze in D: its blocks' (the epilogue at 4 px always trains)."""
    return sum(getattr(D, f"b{res}").num_layers for res in D.block_resolutions)


def all_frozen_note(freezed: int, layers: int) -> str:
    """The note on a --freezed above the `layers` D can freeze (`freezable_layers`)."""
    return f"--freezed {freezed}: D has {layers} layers that can freeze (its blocks'; the epilogue's never do), and all of them are frozen"


def freezed_without_resume(freezed: int, resolution: int, architecture: str, channel_base: int, channel_max: int) -> str:
    """The note on --freezed for new networks, whose frozen layers keep their random weights; with the layer count of
    D (at `resolution`, with --d-architecture, --cbase, --cmax) where --freezed is above it (D planned on the meta
    device: no memory, no time)."""
    with torch.device("meta"):
        D = Discriminator(c_dim=0, img_resolution=resolution, img_channels=1, architecture=architecture,
                          channel_base=channel_base, channel_max=channel_max)
    layers = freezable_layers(D)
    first = f"D's first {freezed} layers" if freezed <= layers else "D's layers"
    note = (f"--freezed {freezed} without --resume freezes {first} at their random initial weights for the whole "
            "run; it is meant for fine-tuning a network (--resume FILE)")
    return note if freezed <= layers else f"{note}; {all_frozen_note(freezed, layers)}"
