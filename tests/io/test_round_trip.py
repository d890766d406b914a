"""Import, save in our format, load again: outputs are bit-identical and settings survive."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from stylegan2.io import convert_checkpoint, load_checkpoint, save_checkpoint
from stylegan2.models import Discriminator, Generator


@torch.no_grad()
def outputs(networks, z, d_input, generators=("G", "G_ema")):
    """Every kind of output the parity tests compare: ws, truncated ws, images, logits."""
    out = {}
    for name in generators:
        if name in networks:
            G = networks[name]
            ws = G.mapping(z, None)
            out[f"{name}.ws"] = ws
            out[f"{name}.ws_trunc"] = G.mapping(z, None, truncation_psi=0.5)
            out[f"{name}.img_const"] = G.synthesis(ws, noise_mode="const")
            out[f"{name}.img_none"] = G.synthesis(ws, noise_mode="none")
    if "D" in networks:
        out["D.logits"] = networks["D"](d_input, None)
    return out


def assert_bit_identical(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_official_pickle_round_trip_is_bit_identical(tmp_path, official_path, official_ckpt, official_expected):
    dst = tmp_path / "official.safetensors"
    convert_checkpoint(official_path, dst)
    again = load_checkpoint(dst)
    e = official_expected
    assert_bit_identical(outputs(official_ckpt.networks, e["z"], e["d_input_random"]),
                         outputs(again.networks, e["z"], e["d_input_random"]))
    assert again.augment_pipe == official_ckpt.augment_pipe
    assert again.source["converted_from"] == {"format": "official-pkl", "file": "official_small.pkl"}


def test_rosinality_round_trip_is_bit_identical(tmp_path, rosinality_ckpt, rosinality_expected):
    ckpt = rosinality_ckpt
    dst = save_checkpoint(tmp_path / "rosinality.safetensors", ckpt.networks, notes=ckpt.notes, source=ckpt.source)
    again = load_checkpoint(dst)
    for name, net in ckpt.networks.items():  # all tensors equal; outputs checked on G_ema and D (512 channels: slow)
        assert all(torch.equal(v, again.networks[name].state_dict()[k]) for k, v in net.state_dict().items())
    z, d_input = rosinality_expected["z"][:2], rosinality_expected["d_input_random"][:2]
    assert_bit_identical(outputs(ckpt.networks, z, d_input, generators=("G_ema",)),
                         outputs(again.networks, z, d_input, generators=("G_ema",)))
    assert again.notes == rosinality_ckpt.notes
    assert torch.equal(again.networks["G_ema"].mapping.w_avg, rosinality_ckpt.networks["G_ema"].mapping.w_avg)


def test_convert_refuses_to_overwrite_without_force(tmp_path, official_path):
    dst = tmp_path / "out.safetensors"
    dst.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="--force"):
        convert_checkpoint(official_path, dst)
    assert dst.read_bytes() == b"precious"
    convert_checkpoint(official_path, dst, force=True)
    assert load_checkpoint(dst).format == "stylegan2"


TF_FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.mark.parametrize("name", ["tf_stylegan2_32", "tf_ada_cond_16"])
def test_tf_pickle_round_trip_is_bit_identical(tmp_path, name, one_thread):
    src = TF_FIXTURES / f"{name}.pkl"
    ckpt = convert_checkpoint(src, tmp_path / "tf.safetensors")
    again = load_checkpoint(tmp_path / "tf.safetensors")
    assert again.source["converted_from"] == {"format": "tf-pkl", "file": src.name}
    G = ckpt.networks["G_ema"]
    c = torch.eye(G.c_dim)[[0, 1]] if G.c_dim else None
    z, img = torch.randn(2, G.z_dim), torch.randn(2, 3, G.img_resolution, G.img_resolution)
    with torch.no_grad():
        for net in ("G", "G_ema"):
            a, b = ckpt.networks[net], again.networks[net]
            assert a.init_kwargs == b.init_kwargs
            assert torch.equal(a.mapping(z, c, truncation_psi=0.5), b.mapping(z, c, truncation_psi=0.5))
            for mode in ("const", "none"):
                assert torch.equal(a(z, c, noise_mode=mode), b(z, c, noise_mode=mode))
        assert torch.equal(ckpt.networks["D"](img, c), again.networks["D"](img, c))


def test_channel_table_round_trip_is_bit_identical(tmp_path, one_thread):
    table = {4: 4, 8: 16, 16: 8}
    G = Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3, synthesis_kwargs={"channels": table}).eval()
    D = Discriminator(c_dim=0, img_resolution=16, img_channels=3, channels=table).eval()
    again = load_checkpoint(save_checkpoint(tmp_path / "table.safetensors", {"G_ema": G, "D": D})).networks
    assert again["G_ema"].init_kwargs["synthesis_kwargs"]["channels"] == again["D"].init_kwargs["channels"] == {"4": 4, "8": 16, "16": 8}
    z, img = torch.randn(2, 8), torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(G(z, None, noise_mode="const"), again["G_ema"](z, None, noise_mode="const"))
        assert torch.equal(D(img, None), again["D"](img, None))
