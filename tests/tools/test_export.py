"""Exported graphs (ONNX through onnxruntime, TorchScript through torch.jit.load) reproduce our generator."""

import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.io import checkpoint_info, save_checkpoint
from stylegan2.models import Generator
from stylegan2.tools.common import ToolError
from stylegan2.tools.export import (
    MAX_ABS_DIFF,
    SUFFIXES,
    default_output,
    example_inputs,
    export_generator,
    graph_module,
    run_exported,
)


def has_onnx() -> bool:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


needs_onnx = pytest.mark.skipif(not has_onnx(), reason="onnx/onnxruntime not installed (pip install \"stylegan2[export]\")")


def build_generator(resolution: int, c_dim: int, seed: int = 0) -> Generator:
    """A tiny generator (8 channels, 2 mapping layers) with visible noise, so const and none differ."""
    torch.manual_seed(seed)
    G = Generator(z_dim=8, c_dim=c_dim, w_dim=8, img_resolution=resolution, img_channels=3,
                  mapping_kwargs={"num_layers": 2}, synthesis_kwargs={"channel_base": 8 * resolution, "channel_max": 8})
    with torch.no_grad():
        for name, param in G.named_parameters():
            if "noise_strength" in name:
                param.fill_(0.3)
        c = torch.eye(c_dim)[torch.arange(64) % c_dim] if c_dim else None
        G.mapping.w_avg.copy_(G.mapping(torch.randn(64, 8), c)[:, 0].mean(0))
    return G.eval()


def reference(G: Generator, inputs: dict, psi: float, noise_mode: str, fused: bool, synthesis_only: bool) -> torch.Tensor:
    """Our generator's images for the inputs, computed directly (not through the export wrappers)."""
    with torch.no_grad():
        if synthesis_only:
            return G.synthesis(inputs["ws"], noise_mode=noise_mode, fused_modconv=fused)
        return G(inputs["z"], inputs.get("c"), truncation_psi=psi, noise_mode=noise_mode, fused_modconv=fused)


CASES = [  # resolution, c_dim, fused, noise_mode, psi, batch
    (32, 0, False, "const", 0.7, "dynamic"),
    (32, 4, True, "none", 0.5, 2),
    (64, 4, False, "none", 1.0, "dynamic"),
    (64, 0, True, "const", 0.6, 3),
]


@pytest.mark.parametrize("fmt", [pytest.param("onnx", marks=needs_onnx), "torchscript"])
@pytest.mark.parametrize("resolution, c_dim, fused, noise_mode, psi, batch", CASES)
def test_exported_graph_matches_pytorch(tmp_path: Path, fmt, resolution, c_dim, fused, noise_mode, psi, batch):
    G = build_generator(resolution, c_dim)
    result = export_generator(G, tmp_path / f"g{SUFFIXES[fmt]}", format=fmt, truncation_psi=psi, noise_mode=noise_mode,
                              fused_modconv=fused, batch=batch)
    assert result.input_names == (("z", "c") if c_dim else ("z",))
    sizes = [1, 4] if batch == "dynamic" else [batch]
    for size in sizes:
        inputs = example_inputs(G, size, seed=10 + size)
        expected = reference(G, inputs, psi, noise_mode, fused, synthesis_only=False)
        got = run_exported(result.path, fmt, inputs)
        assert got.shape == (size, 3, resolution, resolution)
        assert (got - expected).abs().max() <= MAX_ABS_DIFF


@pytest.mark.parametrize("fmt", [pytest.param("onnx", marks=needs_onnx), "torchscript"])
def test_synthesis_only_graph_takes_ws(tmp_path: Path, fmt):
    G = build_generator(32, 0)
    result = export_generator(G, tmp_path / f"s{SUFFIXES[fmt]}", format=fmt, synthesis_only=True, batch="dynamic")
    assert result.input_names == ("ws",)
    for size in (1, 3):
        inputs = example_inputs(G, size, synthesis_only=True, seed=size)
        got = run_exported(result.path, fmt, inputs)
        assert (got - reference(G, inputs, 1.0, "const", False, synthesis_only=True)).abs().max() <= MAX_ABS_DIFF


def test_noise_and_truncation_are_baked_in():
    """The settings change the images, so the parity tests above would notice one being dropped."""
    G = build_generator(32, 0)
    inputs = example_inputs(G, 2)
    const = graph_module(G, 1.0, "const")(**inputs)
    assert (const - graph_module(G, 1.0, "none")(**inputs)).abs().max() > 1e-2
    assert (const - graph_module(G, 0.5, "const")(**inputs)).abs().max() > 1e-2


def test_random_noise_is_refused(tmp_path: Path):
    with pytest.raises(ToolError, match="--noise-mode random"):
        export_generator(build_generator(32, 0), tmp_path / "g.pt", format="torchscript", noise_mode="random")
    assert not (tmp_path / "g.pt").exists()


def test_fused_modconv_needs_a_fixed_batch(tmp_path: Path):
    with pytest.raises(ToolError, match="fixed --batch"):
        export_generator(build_generator(32, 0), tmp_path / "g.pt", format="torchscript", fused_modconv=True, batch="dynamic")


def test_bad_batch_is_refused(tmp_path: Path):
    with pytest.raises(ToolError, match="--batch"):
        export_generator(build_generator(32, 0), tmp_path / "g.pt", format="torchscript", batch="many")


def test_missing_onnx_names_the_extra(tmp_path: Path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now raises ImportError
    with pytest.raises(ToolError, match=r"stylegan2\[export\]"):
        export_generator(build_generator(32, 0), tmp_path / "g.onnx", format="onnx")


def test_existing_output_is_kept(tmp_path: Path):
    out = tmp_path / "g.pt"
    out.write_text("mine")
    with pytest.raises(FileExistsError, match="--force"):
        export_generator(build_generator(32, 0), out, format="torchscript")
    assert out.read_text() == "mine"


def test_a_graph_that_fails_the_check_is_not_written(tmp_path: Path, monkeypatch):
    monkeypatch.setattr("stylegan2.tools.export.MAX_ABS_DIFF", -1.0)  # no graph can pass
    out = tmp_path / "g.pt"
    with pytest.raises(ToolError, match="nothing was written"):
        export_generator(build_generator(32, 0), out, format="torchscript")
    assert list(tmp_path.iterdir()) == []


def test_cli_exports_g_ema_of_a_network_file(tmp_path: Path, monkeypatch):
    G_ema = build_generator(32, 0, seed=1)
    network = tmp_path / "downloads" / "net.safetensors"  # the output goes to the current folder, not beside it
    network.parent.mkdir()
    save_checkpoint(network, {"G": build_generator(32, 0, seed=2), "G_ema": G_ema})
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["export", "--network", str(network), "--format", "torchscript",
                                       "--truncation-psi", "0.8", "--noise-mode", "none", "--batch", "dynamic"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "net.torchscript.pt"
    assert "wrote net.torchscript.pt " in result.output and not list(network.parent.glob("*.torchscript.pt"))
    inputs = example_inputs(G_ema, 2, seed=5)
    assert (run_exported(out, "torchscript", inputs) - reference(G_ema, inputs, 0.8, "none", False, False)).abs().max() <= MAX_ABS_DIFF


def test_cli_error_is_one_line(tmp_path: Path):
    result = CliRunner().invoke(main, ["export", "--network", str(tmp_path / "missing.pkl"), "--format", "torchscript"])
    assert result.exit_code != 0
    assert "missing.pkl" in result.output and "Traceback" not in result.output


@needs_onnx
def test_onnx_export_of_an_nvidia_pickle_gives_nvidias_images(tmp_path: Path, official_pkl: Path):
    expected = torch.load(official_pkl.with_name("official_small_expected.pt"), weights_only=True)
    result = export_generator(official_pkl, tmp_path / "official.onnx", format="onnx", truncation_psi=0.5,
                              noise_mode="const", batch="dynamic")
    got = run_exported(result.path, "onnx", {"z": expected["z"]})
    assert (got - expected["img_psi0.5_const"]).abs().max() <= MAX_ABS_DIFF


def test_synthesis_export_of_an_nvidia_pickle_gives_nvidias_images(tmp_path: Path, official_pkl: Path):
    expected = torch.load(official_pkl.with_name("official_small_expected.pt"), weights_only=True)
    result = export_generator(official_pkl, tmp_path / "synthesis.pt", format="torchscript", noise_mode="none",
                              synthesis_only=True, batch=4)
    got = run_exported(result.path, "torchscript", {"ws": expected["ws"]})
    assert (got - expected["img_none"]).abs().max() <= MAX_ABS_DIFF


def test_export_never_writes_over_the_network_file(tmp_path: Path, monkeypatch):
    """A rosinality checkpoint is NET.pt: the default TorchScript name differs, and naming it is refused even with --force."""
    monkeypatch.chdir(tmp_path)
    network = tmp_path / "net.pt"
    save_checkpoint(tmp_path / "net.safetensors", {"G_ema": build_generator(32, 0)})
    network.write_bytes((tmp_path / "net.safetensors").read_bytes())  # any readable network file named .pt
    assert default_output(network, "torchscript", False) == Path("net.torchscript.pt")  # in the current folder
    assert default_output("https://example.org/nets/ffhq.pkl?x=1", "onnx", True) == Path("ffhq-synthesis.onnx")
    cached = tmp_path / "cache" / "networks" / "89f01af6308a-ffhq.pkl"  # what the command line gets for a URL
    assert default_output(cached, "onnx", False) == Path("ffhq.onnx")
    before = network.read_bytes()
    for output in (network, tmp_path / "." / "net.pt"):
        with pytest.raises(ToolError, match="is the network file itself; choose another --output"):
            export_generator(network, output, format="torchscript", force=True)
    assert network.read_bytes() == before


def test_an_existing_output_names_the_output_option(tmp_path: Path):
    (tmp_path / "g.pt").write_bytes(b"mine")
    result = CliRunner().invoke(main, ["export", "--network", str(tmp_path / "x.pkl"), "--format", "torchscript",
                                       "--output", str(tmp_path / "g.pt")])
    assert result.exit_code != 0 and "choose another --output" in result.output and "--outdir" not in result.output
    assert (tmp_path / "g.pt").read_bytes() == b"mine"


@needs_onnx
def test_onnx_export_shows_no_exporter_warnings(tmp_path: Path):
    """torch's legacy-exporter notice is attributed to our call line, so it is filtered by its message."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        export_generator(build_generator(32, 0), tmp_path / "g.onnx", format="onnx")
    assert not [str(w.message) for w in caught if "legacy" in str(w.message) or "TorchScript-based" in str(w.message)]


@pytest.mark.parametrize("fmt, name, suggested", [("onnx", "g.pt", "g.onnx"), ("torchscript", "g.onnx", "g.torchscript.pt"),
                                                  ("torchscript", "g.safetensors", "g.torchscript.pt")])
def test_an_output_named_for_another_format_is_refused(tmp_path: Path, fmt, name, suggested):
    (tmp_path / name).write_bytes(b"mine")  # even with --force: a checkpoint's name would then hold a program
    with pytest.raises(ToolError, match=rf"--output .*{name}: name the .* file .*\(e\.g\. .*{suggested}\)$"):
        export_generator(build_generator(32, 0), tmp_path / name, format=fmt, force=True)
    assert (tmp_path / name).read_bytes() == b"mine"


def test_truncation_with_synthesis_only_is_refused_not_ignored(tmp_path: Path):
    with pytest.raises(ToolError, match="--trunc truncates in the mapping network, which --synthesis-only leaves out"):
        export_generator(build_generator(32, 0), tmp_path / "s.pt", format="torchscript", synthesis_only=True, truncation_psi=0.7)


def test_a_network_with_nan_weights_is_called_so_not_an_exporter_fault(tmp_path: Path):
    G = build_generator(32, 0)
    with torch.no_grad():
        G.synthesis.b4.conv1.weight[0, 0, 0, 0] = float("nan")
    save_checkpoint(tmp_path / "nan.safetensors", {"G_ema": G})
    result = CliRunner().invoke(main, ["export", "--network", str(tmp_path / "nan.safetensors"), "--format", "torchscript"])
    assert result.exit_code == 1 and "please report" not in result.output and "warning" not in result.output
    assert result.output.strip().endswith("nan.safetensors: 1 tensor holds NaN or Inf values "
                                          "(G_ema.synthesis.b4.conv1.weight); its images are NaN, so there is nothing to "
                                          "export")
    assert not list(tmp_path.glob("*.pt"))


@pytest.mark.filterwarnings("ignore:.*holds no G_ema")
def test_a_nan_tensor_is_named_as_info_names_it_in_the_file(tmp_path: Path):
    """export called G_ema's tensor `G.…`, which the file does not hold, while info named it `G_ema.…`."""
    G = build_generator(32, 0)
    with torch.no_grad():
        G.synthesis.b4.const[0, 0, 0] = float("nan")
    for name in ("G_ema", "G"):  # a file without G_ema gives its G (with a note)
        path = save_checkpoint(tmp_path / f"{name}.safetensors", {name: G})
        bad = checkpoint_info(path)["nonfinite_tensors"]
        assert bad == [f"{name}.synthesis.b4.const"]
        with pytest.raises(ToolError, match=rf"\({bad[0]}\); its images are NaN, so there is nothing to export$"):
            export_generator(path, tmp_path / f"{name}.pt", format="torchscript")
    with pytest.raises(ToolError, match=r"^the Generator: 1 tensor holds NaN or Inf values \(G\.synthesis\.b4\.const\)"):
        export_generator(G, tmp_path / "object.pt", format="torchscript")
    assert not list(tmp_path.glob("*.pt"))


def test_trunc_is_exports_spelling_as_the_other_commands_and_truncation_psi_an_alias():
    """export alone led with --truncation-psi, which generate, video and metrics refuse as a foreign spelling."""
    result = CliRunner().invoke(main, ["export", "--help"])
    assert "--trunc, --truncation-psi FLOAT" in result.output, result.output


def test_an_output_under_a_file_is_named_as_given(tmp_path: Path):
    """The message named the parent folder as if it were the --output value."""
    (tmp_path / "afile").write_bytes(b"mine")
    with pytest.raises(ToolError, match=r"^--output \S+afile/x\.pt: cannot write it \(\S+afile exists and is not a"):
        export_generator(build_generator(32, 0), tmp_path / "afile" / "x.pt", format="torchscript")
