"""The rosinality key mapping on a small network whose channel counts shrink with resolution."""

from __future__ import annotations

import argparse

import pytest
import torch

from stylegan2.io import CheckpointError, load_checkpoint
from stylegan2.models import Discriminator, Generator


def test_shrinking_channel_table_is_rebuilt_from_shapes(tmp_path, tiny_networks, rosinality_layout):
    G, D = tiny_networks["G_ema"], tiny_networks["D"]
    path = tmp_path / "small.pt"
    torch.save({"g_ema": rosinality_layout.generator_state(G), "d": rosinality_layout.discriminator_state(D),
                "args": argparse.Namespace(size=16, latent=8, n_mlp=2, arch="stylegan2")}, path)
    ckpt = load_checkpoint(path)
    G2, D2 = ckpt.networks["G_ema"], ckpt.networks["D"]
    assert G2.init_kwargs["synthesis_kwargs"]["channel_base"] == 64 and D2.init_kwargs["channel_max"] == 8
    for ours, theirs in ((G, G2), (D, D2)):
        loaded = theirs.state_dict()
        assert all(torch.equal(v, loaded[k]) for k, v in ours.state_dict().items() if not k.endswith("w_avg"))
    z, img = torch.randn(2, 8), torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(G2(z, None, noise_mode="const"), G(z, None, noise_mode="const"))
        assert torch.equal(D2(img, None), D(img, None))


def test_custom_blur_kernel_is_refused(tmp_path, tiny_networks, rosinality_layout):
    state = rosinality_layout.generator_state(tiny_networks["G_ema"])
    state["convs.0.conv.blur.kernel"] = torch.ones(4, 4) / 4
    torch.save({"g_ema": state}, tmp_path / "blur.pt")
    with pytest.raises(CheckpointError, match=r"convs.0.conv.blur.kernel is not the \[1,3,3,1\] blur kernel"):
        load_checkpoint(tmp_path / "blur.pt")


def test_swagan_checkpoints_are_refused(tmp_path, tiny_networks, rosinality_layout):
    torch.save({"g_ema": rosinality_layout.generator_state(tiny_networks["G_ema"]), "args": argparse.Namespace(arch="swagan")},
               tmp_path / "swagan.pt")
    with pytest.raises(CheckpointError, match="architecture 'swagan' is not supported"):
        load_checkpoint(tmp_path / "swagan.pt")


def test_forked_channel_table_loads_and_matches(tmp_path, one_thread, rosinality_layout):
    """A fork's table (narrow up to 32 px, four times wider at 64 px, like 64 and 256 channels; smaller here
    for speed) follows no channel_base formula: it is kept as a table."""
    table = {4: 8, 8: 8, 16: 8, 32: 8, 64: 32}
    torch.manual_seed(3)
    G = Generator(z_dim=16, c_dim=0, w_dim=16, img_resolution=64, img_channels=3, mapping_kwargs={"num_layers": 2},
                  synthesis_kwargs={"channels": table}).eval()
    D = Discriminator(c_dim=0, img_resolution=64, img_channels=3, channels=table).eval()
    with torch.no_grad():
        for net in (G, D):
            for key, value in net.state_dict().items():
                if not key.endswith("resample_filter"):
                    value.add_(0.1 * torch.randn_like(value))
    path = tmp_path / "fork.pt"
    torch.save({"g_ema": rosinality_layout.generator_state(G), "d": rosinality_layout.discriminator_state(D),
                "latent_avg": G.mapping.w_avg.clone()}, path)
    nets = load_checkpoint(path).networks
    G2, D2 = nets["G_ema"], nets["D"]
    assert G2.init_kwargs["synthesis_kwargs"]["channels"] == D2.init_kwargs["channels"] == {str(r): c for r, c in table.items()}
    z, img = torch.randn(1, 16), torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(G2(z, None, noise_mode="const"), G(z, None, noise_mode="const"))
        assert torch.equal(D2(img, None), D(img, None))
