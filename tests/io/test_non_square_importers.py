"""Importers stay square-only: NVIDIA's and rosinality's code only builds square networks, and a forked file
with a 4x8 constant is refused in one line; our own format carries non-square networks (tests/models)."""

from __future__ import annotations

import argparse

import pytest
import torch

from stylegan2.io import CheckpointError, load_checkpoint


def test_a_rosinality_file_with_a_wide_constant_is_refused_in_one_line(tmp_path, tiny_networks, rosinality_layout):
    state = rosinality_layout.generator_state(tiny_networks["G_ema"])
    channels = state["input.input"].shape[1]
    state["input.input"] = torch.randn(1, channels, 4, 8)
    torch.save({"g_ema": state, "args": argparse.Namespace(size=16, latent=8, n_mlp=2, arch="stylegan2")},
               tmp_path / "wide.pt")
    with pytest.raises(CheckpointError, match=rf"synthesis\.b4\.const has shape \[{channels}, 4, 8\], but the Generator") as caught:
        load_checkpoint(tmp_path / "wide.pt")
    assert "\n" not in str(caught.value)
