"""TensorFlow StyleGAN2 pickles: outputs match NVIDIA's own conversion (legacy.py), read without TensorFlow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from stylegan2.io import CheckpointError, UnsafeCheckpointError, checkpoint_info, format_info, load_checkpoint

TOL = 1e-4  # as for the other reference fixtures; these land near 1e-6
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# tests/io/fixtures/README.md: the original StyleGAN2 layout (32 px, skip G, resnet D, unconditional) and
# the TensorFlow StyleGAN2-ADA layout (16 px, resnet G, skip D, conditional, a D mapping layer).
FIXTURE_NAMES = ("tf_stylegan2_32", "tf_ada_cond_16")


def expected(name: str) -> dict[str, torch.Tensor]:
    with np.load(FIXTURES / f"{name}_expected.npz") as data:
        return {key: torch.from_numpy(data[key]) for key in data.files}


def max_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape
    return (a - b).abs().max().item()


@pytest.fixture(scope="module", params=FIXTURE_NAMES)
def loaded(request):
    return load_checkpoint(FIXTURES / f"{request.param}.pkl"), expected(request.param)


@pytest.mark.parametrize("network", ["G", "G_ema"])
@torch.no_grad()
def test_mapping_and_truncation_match_nvidia(loaded, network):
    ckpt, e = loaded
    G = ckpt.networks[network]
    assert max_abs(G.mapping(e["z"], e.get("c")), e[f"{network}.ws"]) < TOL
    assert max_abs(G.mapping(e["z"], e.get("c"), truncation_psi=0.5), e[f"{network}.ws_trunc"]) < TOL


@pytest.mark.parametrize("network", ["G", "G_ema"])
@pytest.mark.parametrize("noise_mode", ["const", "none"])
@torch.no_grad()
def test_images_match_nvidia(loaded, network, noise_mode):
    ckpt, e = loaded
    img = ckpt.networks[network].synthesis(e[f"{network}.ws"][:2], noise_mode=noise_mode)
    assert max_abs(img, e[f"{network}.img_{noise_mode}"]) < TOL


@torch.no_grad()
def test_discriminator_logits_match_nvidia(loaded):
    ckpt, e = loaded
    assert max_abs(ckpt.networks["D"](e["d_input"], e.get("c")), e["D.logits"]) < TOL


def test_info_names_the_format_and_sizes():
    info = checkpoint_info(FIXTURES / "tf_ada_cond_16.pkl")
    assert info["format"] == "tf-pkl" and set(info["networks"]) == {"G", "D", "G_ema"}
    assert (info["resolution"], info["z_dim"], info["c_dim"], info["num_ws"]) == (16, 8, 3, 6)
    assert "NVIDIA TensorFlow StyleGAN2 network pickle" in format_info(info)


@pytest.mark.parametrize("resolution, g_arch, d_arch", [(8, "skip", "resnet"), (64, "resnet", "skip"), (16, "orig", "orig")])
def test_any_resolution_and_architecture_loads(tmp_path, tf_pickles, resolution, g_arch, d_arch):
    t = tf_pickles
    G = t.tf_generator(1, resolution=resolution, architecture=g_arch)
    path = t.write_tf_pickle(tmp_path / "net.pkl", G, t.tf_discriminator(2, resolution=resolution, architecture=d_arch), G)
    nets = load_checkpoint(path).networks
    assert nets["G_ema"].init_kwargs["synthesis_kwargs"]["architecture"] == g_arch
    assert nets["D"].init_kwargs["architecture"] == d_arch
    with torch.no_grad():
        img = nets["G_ema"](torch.randn(2, 16), None, noise_mode="const")
        assert img.shape == (2, 3, resolution, resolution)
        assert nets["D"](img, None).shape == (2, 1)


def test_numpy1_names_and_protocol_3_load_the_same(tmp_path, tf_pickles):
    """Pickles written with NumPy 1 name `numpy.core.multiarray`; older Pythons wrote protocol 3."""
    t = tf_pickles
    nets = (t.tf_generator(1, resolution=8), t.tf_discriminator(2, resolution=8), t.tf_generator(3, resolution=8))
    new = t.write_tf_pickle(tmp_path / "new.pkl", *nets)
    old = t.write_tf_pickle(tmp_path / "old.pkl", *nets, protocol=3)
    data = old.read_bytes()
    assert b"numpy._core.multiarray\n" in data  # protocol 3 names globals as text lines
    old.write_bytes(data.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n"))
    a, b = load_checkpoint(new).networks, load_checkpoint(old).networks
    for name in a:
        assert all(torch.equal(v, b[name].state_dict()[k]) for k, v in a[name].state_dict().items())


def test_channel_counts_come_from_the_shapes(tmp_path, tf_pickles):
    """Settings need not describe the channels (a fork, or fmap_decay): the table is read from the variables."""
    t = tf_pickles
    G = t.tf_generator(1, resolution=16, channels={4: 4, 8: 16, 16: 8})
    path = t.write_tf_pickle(tmp_path / "net.pkl", G, t.tf_discriminator(2, resolution=16), G)
    G = load_checkpoint(path).networks["G_ema"]
    assert G.init_kwargs["synthesis_kwargs"]["channels"] == {"4": 4, "8": 16, "16": 8}
    assert G.synthesis.b8.conv0.weight.shape == (16, 4, 3, 3)


class _Exec:
    """Pickles as a call of builtins.exec: what a malicious file would hide in a network's settings."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


def test_forbidden_global_in_a_tf_pickle_is_refused_without_running_it(tmp_path, tf_pickles):
    t = tf_pickles
    marker = tmp_path / "ran"
    G = t.tf_generator(1, resolution=8, extra_kwargs={"evil": _Exec(marker)})
    path = t.write_tf_pickle(tmp_path / "evil.pkl", G, t.tf_discriminator(2, resolution=8), G)
    with pytest.raises(UnsafeCheckpointError, match=r"evil\.pkl: it references builtins\.exec.*Nothing from the file was run"):
        load_checkpoint(path)
    assert not marker.exists()


def test_build_code_is_never_run(tmp_path, tf_pickles):
    t = tf_pickles
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').close()\n"
    G = t.tf_generator(1, resolution=8)
    G.components["synthesis"].build_module_src = code
    exec(compile(code, "build_module_src", "exec"))  # the same code run on purpose does create the marker
    assert marker.exists()
    marker.unlink()
    load_checkpoint(t.write_tf_pickle(tmp_path / "net.pkl", G, t.tf_discriminator(2, resolution=8), G))
    assert not marker.exists()


def _broken(t, change):
    G, D = t.tf_generator(1, resolution=8), t.tf_discriminator(2, resolution=8)
    change(G, D)
    return G, D


@pytest.mark.parametrize("change, message", [
    (lambda G, D: setattr(G, "func", "G_style"), r"\[G\]: a TensorFlow G_style network .*StyleGAN 1"),
    (lambda G, D: setattr(G.components["synthesis"], "func", "G_synthesis_stylegan_revised"), "configs A-D are not"),
    (lambda G, D: setattr(D, "func", "D_basic"), r"\[D\]: a TensorFlow D_basic network"),
    (lambda G, D: G.components["mapping"].variables.update({"LabelConcat/weight": np.ones([2, 16], np.float32)}),
     "labels concatenated to z"),
    (lambda G, D: D.static_kwargs.update(label_size=2), "one output per label"),
    (lambda G, D: G.static_kwargs.update(normalize_latents=False), "normalize_latents=False is not supported"),
    (lambda G, D: D.static_kwargs.update(use_pagan=True), "use_pagan=True is not supported"),
    (lambda G, D: G.static_kwargs.update(mystery_setting=3), "settings mystery_setting are not ones we can reproduce"),
    (lambda G, D: G.components["synthesis"].variables.update({"8x8/Extra/weight": np.ones([2], np.float32)}),
     "unrecognized variables synthesis/8x8/Extra/weight"),
    (lambda G, D: G.components["synthesis"].variables.pop("4x4/Conv/mod_weight"), "variable 'synthesis/4x4/Conv/mod_weight' is missing"),
    (lambda G, D: setattr(G, "version", 3), "version 3 is older than StyleGAN2's"),
])
def test_unsupported_tf_networks_get_a_one_line_error(tmp_path, tf_pickles, change, message):
    G, D = _broken(tf_pickles, change)
    path = tf_pickles.write_tf_pickle(tmp_path / "net.pkl", G, D, G)
    with pytest.raises(CheckpointError, match=message) as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_tf_allow_list_adds_only_the_network_class_and_numpy_arrays():
    from stylegan2.io.safe_pickle import NetworkPickleUnpickler, TFNetworkPickleUnpickler

    added = set(TFNetworkPickleUnpickler.allowed) - set(NetworkPickleUnpickler.allowed)
    assert added == {("dnnlib.tflib.network", "Network"), ("numpy.core.multiarray", "_reconstruct"),
                     ("numpy._core.multiarray", "_reconstruct"), ("numpy", "ndarray")}
    assert ("dnnlib.tflib.network", "Network") not in NetworkPickleUnpickler.allowed  # StyleGAN2-ADA pickles stay as strict


class _ShortArray:
    """Pickles as a NumPy array of 5 float32 values that carries the bytes of only 1."""

    def __reduce__(self):
        return np.ndarray.__reduce__(np.zeros(1, np.float32))[0], (np.ndarray, (0,), b"b"), \
            (1, (5,), np.dtype(np.float32), False, b"\0" * 4)


def test_array_whose_bytes_do_not_fill_its_shape_is_a_one_line_error(tmp_path, tf_pickles):
    t = tf_pickles
    G = t.tf_generator(1, resolution=8)
    G.variables["dlatent_avg"] = _ShortArray()
    path = t.write_tf_pickle(tmp_path / "short.pkl", G, t.tf_discriminator(2, resolution=8), G)
    with pytest.raises(CheckpointError, match=r"short\.pkl: .*numpy array of shape \[5\] holds 1 values") as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value)
