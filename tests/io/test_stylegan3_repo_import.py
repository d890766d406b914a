"""Pickles of NVIDIA's stylegan3 repository: its StyleGAN2 networks load and match, StyleGAN3 ones are refused.

That repository's `training/networks_stylegan2.py` differs from StyleGAN2-ADA's `training/networks.py`
in its constructors only: the Generator takes the synthesis arguments flat (`**synthesis_kwargs`)
plus `fused_modconv_default`, and `conv_clamp` defaults to 256 (G and D), `w_avg_beta` to 0.998.
The pickles here are the StyleGAN2-ADA fixture rewritten with those differences.
"""

from __future__ import annotations

import pickle
import sys
import types

import pytest
import torch

from stylegan2.io import CheckpointError, load_checkpoint
from stylegan2.io.safe_pickle import load_network_pickle

TOL = 1e-4
# Text of each repository's module source as a pickle embeds it (never run; only these lines matter here).
STYLEGAN2_SOURCE = "class SynthesisBlock(torch.nn.Module):\n    def __init__(self, fused_modconv_default=True): ...\n"
STYLEGAN3_SOURCE = "class SynthesisInput(torch.nn.Module):\n    pass\n"


@pytest.fixture
def reconstruct(monkeypatch):
    """An importable `torch_utils.persistence._reconstruct_persistent_obj`, so pickle can name it."""
    persistence = types.ModuleType("torch_utils.persistence")

    def _reconstruct_persistent_obj(meta):
        raise AssertionError("the loader must never call this")

    _reconstruct_persistent_obj.__module__ = persistence.__name__
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj
    monkeypatch.setitem(sys.modules, "torch_utils", types.ModuleType("torch_utils"))
    monkeypatch.setitem(sys.modules, "torch_utils.persistence", persistence)
    return _reconstruct_persistent_obj


class Persistent:
    """Pickles as NVIDIA's `persistent_class` objects do: _reconstruct_persistent_obj(meta)."""

    def __init__(self, reconstruct, class_name, state, module_src):
        self.reconstruct = reconstruct
        self.meta = dict(type="class", version=6, module_src=module_src, class_name=class_name, state=state)

    def __reduce__(self):
        return self.reconstruct, (self.meta,)


def module_tree(module: torch.nn.Module, reconstruct, module_src: str, init_kwargs: dict | None = None) -> Persistent:
    """A module's parameters, buffers and submodules as a pickled NVIDIA module holds them."""
    state = {
        "training": False,
        "_parameters": dict(module._parameters),
        "_buffers": dict(module._buffers),
        "_non_persistent_buffers_set": set(module._non_persistent_buffers_set),
        "_modules": {k: module_tree(v, reconstruct, module_src) for k, v in module._modules.items()},
    }
    if init_kwargs is not None:
        state["_init_args"], state["_init_kwargs"] = (), init_kwargs
    return Persistent(reconstruct, type(module).__name__, state, module_src)


def stylegan3_repo_kwargs(class_name: str, ada_kwargs: dict) -> dict:
    """StyleGAN2-ADA constructor arguments as the stylegan3 repository's train.py writes them."""
    kwargs = {k: dict(v) if isinstance(v, dict) else v for k, v in ada_kwargs.items()}
    if class_name == "Generator":
        kwargs.update(kwargs.pop("synthesis_kwargs"))
        kwargs["fused_modconv_default"] = "inference_only"
    return kwargs


def write_stylegan3_repo_pickle(path, networks, raw_kwargs, reconstruct, module_src=STYLEGAN2_SOURCE):
    data = {name: module_tree(net, reconstruct, module_src, stylegan3_repo_kwargs(type(net).__name__, raw_kwargs[name]))
            for name, net in networks.items()}
    path.write_bytes(pickle.dumps(data, protocol=4))
    return path


def test_stylegan3_repo_pickle_matches_the_reference(tmp_path, reconstruct, official_path, official_ckpt, official_expected):
    with open(official_path, "rb") as f:
        raw = {name: dict(obj.state["_init_kwargs"]) for name, obj in load_network_pickle(f).items() if name in ("G", "D", "G_ema")}
    path = write_stylegan3_repo_pickle(tmp_path / "sg3.pkl", official_ckpt.networks, raw, reconstruct)
    ckpt = load_checkpoint(path)
    e = official_expected
    G = ckpt.networks["G_ema"]
    with torch.no_grad():
        assert (G.mapping(e["z"], None) - e["ws"]).abs().max() < TOL
        assert (G.mapping(e["z"], None, truncation_psi=0.5) - e["ws_psi0.5"]).abs().max() < TOL
        for key, mode in (("img_const", "const"), ("img_none", "none")):
            assert (G.synthesis(e["ws"], noise_mode=mode) - e[key]).abs().max() < TOL
        assert (ckpt.networks["D"](e["d_input_random"], None) - e["d_logits_random"]).abs().max() < TOL
    assert G.init_kwargs["synthesis_kwargs"]["conv_clamp"] is None  # stored explicitly, so not the repository's 256
    assert any("stylegan3 repository" in note for note in ckpt.notes)


def test_stylegan3_repo_defaults_apply_where_the_pickle_is_silent(tmp_path, reconstruct, tiny_networks):
    raw = {name: dict(net.init_kwargs) for name, net in tiny_networks.items()}
    raw["D"].pop("conv_clamp")
    for name in ("G", "G_ema"):
        raw[name]["synthesis_kwargs"] = {k: v for k, v in raw[name]["synthesis_kwargs"].items() if k != "conv_clamp"}
        raw[name]["mapping_kwargs"] = {"num_layers": 2}
    nets = load_checkpoint(write_stylegan3_repo_pickle(tmp_path / "sg3.pkl", tiny_networks, raw, reconstruct)).networks
    assert nets["G_ema"].init_kwargs["synthesis_kwargs"]["conv_clamp"] == 256
    assert nets["G_ema"].init_kwargs["mapping_kwargs"]["w_avg_beta"] == 0.998
    assert "fused_modconv_default" not in nets["G_ema"].init_kwargs["synthesis_kwargs"]
    assert nets["D"].init_kwargs["conv_clamp"] == 256
    for name, net in tiny_networks.items():
        assert all(torch.equal(v, nets[name].state_dict()[k]) for k, v in net.state_dict().items())


STYLEGAN3_KWARGS = dict(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3, mapping_kwargs={"num_layers": 2},
                        channel_base=64, channel_max=8, magnitude_ema_beta=0.999, conv_kernel=3, use_radial_filters=False)


@pytest.mark.parametrize("module_src, kwargs", [
    (STYLEGAN3_SOURCE, STYLEGAN3_KWARGS),
    ("", STYLEGAN3_KWARGS),  # source stripped: its arguments tell
    (STYLEGAN3_SOURCE, {k: v for k, v in STYLEGAN3_KWARGS.items() if k not in ("magnitude_ema_beta", "conv_kernel", "use_radial_filters")}),
])
def test_stylegan3_generator_is_refused_in_one_line(tmp_path, reconstruct, module_src, kwargs):
    G = Persistent(reconstruct, "Generator", {"_init_args": (), "_init_kwargs": kwargs, "_modules": {}}, module_src)
    path = tmp_path / "stylegan3.pkl"
    path.write_bytes(pickle.dumps({"G_ema": G}, protocol=4))
    message = r"\[G_ema\]: a StyleGAN3 \(alias-free, networks_stylegan3\) Generator; only StyleGAN2"
    with pytest.raises(CheckpointError, match=message) as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value)
