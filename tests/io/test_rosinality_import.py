"""rosinality stylegan2-pytorch checkpoints: outputs match rosinality's code after renaming tensors."""

from __future__ import annotations

import argparse

import pytest
import torch

from stylegan2.io import estimate_w_avg, load_checkpoint

TOL = 1e-4


def max_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape
    return (a - b).abs().max().item()


@pytest.fixture
def G_ema_with_reference_w_avg(rosinality_ckpt, rosinality_expected):
    """G_ema truncating toward rosinality's own `mean_latent`, as the expected images did."""
    G = rosinality_ckpt.networks["G_ema"]
    saved = G.mapping.w_avg.clone()
    G.mapping.w_avg.copy_(rosinality_expected["mean_latent"][0])
    yield G
    G.mapping.w_avg.copy_(saved)


@torch.no_grad()
def test_mapping_matches_reference(rosinality_ckpt, rosinality_expected):
    e = rosinality_expected
    ws = rosinality_ckpt.networks["G_ema"].mapping(e["z"], None)  # [4, num_ws, w_dim], all copies equal
    assert max_abs(ws, e["w"][:, None].expand_as(ws)) < TOL


@torch.no_grad()
def test_synthesis_with_stored_noise_matches_reference(rosinality_ckpt, rosinality_expected):
    e = rosinality_expected
    G = rosinality_ckpt.networks["G_ema"]
    img = G.synthesis(G.mapping(e["z"], None), noise_mode="const", force_fp32=True)
    assert max_abs(img, e["img"]) < TOL


@torch.no_grad()
def test_truncated_synthesis_matches_reference(G_ema_with_reference_w_avg, rosinality_expected):
    e = rosinality_expected
    G = G_ema_with_reference_w_avg
    img = G.synthesis(G.mapping(e["z"], None, truncation_psi=0.5), noise_mode="const", force_fp32=True)
    assert max_abs(img, e["img_trunc0.5"]) < TOL


@pytest.mark.parametrize("logits_key, input_key", [("d_logits_img", "img"), ("d_logits_random", "d_input_random")])
@torch.no_grad()
def test_discriminator_matches_reference(rosinality_ckpt, rosinality_expected, logits_key, input_key):
    e = rosinality_expected
    assert max_abs(rosinality_ckpt.networks["D"](e[input_key], None), e[logits_key]) < TOL


@torch.no_grad()
def test_g_and_g_ema_are_loaded_from_their_own_entries(rosinality_ckpt, rosinality_expected):
    e = rosinality_expected
    G = rosinality_ckpt.networks["G"]
    img = G.synthesis(G.mapping(e["z"], None), noise_mode="const", force_fp32=True)
    assert max_abs(img, e["img"]) > 0.1


@torch.no_grad()
def test_estimated_w_avg_is_close_to_rosinality_mean_latent(rosinality_ckpt, rosinality_expected):
    G = rosinality_ckpt.networks["G_ema"]
    z = torch.randn([4096, G.z_dim], generator=torch.Generator().manual_seed(1))
    w_std = G.mapping(z, None)[:, 0].std(dim=0)  # [w_dim]
    # Two sample means (10,000 and 4,096 draws) of the same distribution differ by ~ std * sqrt(1/10000 + 1/4096).
    tol = 5 * w_std * (1 / 10_000 + 1 / 4096) ** 0.5
    diff = (G.mapping.w_avg - rosinality_expected["mean_latent"][0]).abs()
    assert bool((diff < tol).all()), f"largest |diff| / tol = {(diff / tol).max():.2f}"


def test_estimated_w_avg_is_reported_in_notes(rosinality_ckpt):
    note = next(n for n in rosinality_ckpt.notes if n.startswith("G_ema:"))
    assert "estimated from 10,000 mapped z (seed 0)" in note


@torch.no_grad()
def test_w_avg_estimate_is_deterministic(rosinality_ckpt):
    G = rosinality_ckpt.networks["G_ema"]
    assert torch.equal(estimate_w_avg(G), G.mapping.w_avg)


def test_sizes_come_from_tensor_shapes(rosinality_ckpt):
    G, D = rosinality_ckpt.networks["G_ema"], rosinality_ckpt.networks["D"]
    assert (G.z_dim, G.w_dim, G.img_resolution, G.num_ws, G.mapping.num_layers) == (64, 64, 32, 8, 2)
    assert G.init_kwargs["synthesis_kwargs"]["channel_base"] == 16384
    assert D.init_kwargs["channel_max"] == 512 and D.img_resolution == 32


def test_train_args_and_ada_p_are_kept(rosinality_ckpt):
    assert rosinality_ckpt.source["args"]["channel_multiplier"] == 1
    assert rosinality_ckpt.source["ada_aug_p"] == 0.0
    assert rosinality_ckpt.format == "rosinality"


@torch.no_grad()
def test_convert_weight_file_uses_its_latent_avg(tmp_path, rosinality_path, rosinality_expected):
    """convert_weight.py output: only g_ema + latent_avg; latent_avg becomes w_avg."""
    with torch.serialization.safe_globals([argparse.Namespace]):
        raw = torch.load(rosinality_path, map_location="cpu", weights_only=True)
    path = tmp_path / "converted.pt"
    torch.save({"g_ema": raw["g_ema"], "latent_avg": rosinality_expected["mean_latent"][0]}, path)
    ckpt = load_checkpoint(path)
    assert set(ckpt.networks) == {"G_ema"}
    assert any("latent_avg" in n for n in ckpt.notes)
    G = ckpt.networks["G_ema"]
    img = G.synthesis(G.mapping(rosinality_expected["z"], None, truncation_psi=0.5), noise_mode="const")
    assert max_abs(img, rosinality_expected["img_trunc0.5"]) < TOL


def test_networks_are_in_eval_mode_without_gradients(rosinality_ckpt):
    """As NVIDIA's pickles hold their networks: code that skips torch.no_grad builds no graph."""
    for net in rosinality_ckpt.networks.values():
        assert not net.training and not any(p.requires_grad for p in net.parameters())
