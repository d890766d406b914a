"""NVIDIA StyleGAN2-ADA pickles: outputs match the reference code's, and settings come along."""

from __future__ import annotations

import pytest
import torch

TOL = 1e-4  # ../shared/fixtures/README.md: a correct implementation lands at 1e-6..1e-5


def max_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape
    return (a - b).abs().max().item()


@torch.no_grad()
def test_mapping_matches_reference(official_ckpt, official_expected):
    e = official_expected
    ws = official_ckpt.networks["G_ema"].mapping(e["z"], None, truncation_psi=1, truncation_cutoff=None)
    assert max_abs(ws, e["ws"]) < TOL


@torch.no_grad()
def test_truncated_mapping_matches_reference(official_ckpt, official_expected):
    e = official_expected
    ws = official_ckpt.networks["G_ema"].mapping(e["z"], None, truncation_psi=0.5, truncation_cutoff=None)
    assert max_abs(ws, e["ws_psi0.5"]) < TOL


@pytest.mark.parametrize("key, ws_key, noise_mode", [
    ("img_const", "ws", "const"),
    ("img_none", "ws", "none"),
    ("img_psi0.5_const", "ws_psi0.5", "const"),
])
@torch.no_grad()
def test_synthesis_matches_reference(official_ckpt, official_expected, key, ws_key, noise_mode):
    e = official_expected
    img = official_ckpt.networks["G_ema"].synthesis(e[ws_key], noise_mode=noise_mode, force_fp32=True)
    assert max_abs(img, e[key]) < TOL


@pytest.mark.parametrize("logits_key, input_key", [
    ("d_logits_img_const", "img_const"),
    ("d_logits_random", "d_input_random"),
])
@torch.no_grad()
def test_discriminator_matches_reference(official_ckpt, official_expected, logits_key, input_key):
    e = official_expected
    assert max_abs(official_ckpt.networks["D"](e[input_key], None), e[logits_key]) < TOL


@torch.no_grad()
def test_G_and_G_ema_are_loaded_from_their_own_entries(official_ckpt, official_expected):
    e = official_expected
    img = official_ckpt.networks["G"].synthesis(e["ws"], noise_mode="const", force_fp32=True)
    assert max_abs(img, e["img_const"]) > 1e-3


def test_networks_are_in_eval_mode_without_gradients_on_cpu(official_ckpt):
    assert set(official_ckpt.networks) == {"G", "D", "G_ema"}
    for net in official_ckpt.networks.values():
        assert not net.training
        assert not any(p.requires_grad for p in net.parameters())  # as the pickle stores them
        assert all(p.device.type == "cpu" for p in net.parameters())


def test_constructor_arguments_are_the_pickled_init_kwargs(official_ckpt):
    G = official_ckpt.networks["G_ema"]
    assert G.init_kwargs == {
        "z_dim": 64, "c_dim": 0, "w_dim": 64, "img_resolution": 32, "img_channels": 3,
        "mapping_kwargs": {"num_layers": 2},
        "synthesis_kwargs": {"channel_base": 1024, "channel_max": 64, "num_fp16_res": 0, "conv_clamp": None},
    }
    assert type(G.init_kwargs["mapping_kwargs"]) is dict  # EasyDict became a plain dict
    assert official_ckpt.networks["D"].init_kwargs["epilogue_kwargs"] == {"mbstd_group_size": 4}


def test_augment_pipe_probability_and_arguments_are_extracted(official_ckpt):
    pipe = official_ckpt.augment_pipe
    assert pipe["class_name"] == "AugmentPipe"
    assert pipe["p"] == pytest.approx(0.25)
    assert pipe["init_kwargs"] == {k: 1 for k in (
        "xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac", "brightness", "contrast", "lumaflip",
        "hue", "saturation")}


def test_training_set_kwargs_are_extracted(official_ckpt):
    assert official_ckpt.source["training_set_kwargs"]["path"] == "datasets/fixture-32x32.zip"
    assert official_ckpt.format == "official-pkl"
