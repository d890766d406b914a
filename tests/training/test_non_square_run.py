"""A non-square (2:1) run end to end through the CLI: dataset tool, training, grids, snapshot, resume, tools, metrics."""

from __future__ import annotations

import sys

import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner
from torch import nn

from stylegan2.cli import main
from stylegan2.io import load_network
from stylegan2.models import Generator

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:DeprecationWarning")

TINY = ["--cfg", "cpu", "--cbase", "128", "--cmax", "16", "--batch", "8", "--clusters", "0", "--aug", "fixed", "--p", "0.5",
        "--workers", "0", "--device", "cpu", "--tick", "0.008", "--snap", "1"]


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def png_shape(path) -> tuple[int, ...]:
    with PIL.Image.open(path) as image:
        return np.asarray(image).shape


@pytest.fixture(autouse=True)
def _no_tensorboard(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)


def test_a_wide_run_trains_resumes_and_feeds_every_tool(tmp_path):
    data = tmp_path / "wide.zip"
    run("dataset", "--source", "builtin:shapes?n=24", "--dest", str(data), "--width", "16", "--height", "8",
        "--transform", "center-crop")
    output = run("train", "--data", str(data), *TINY, "--kimg", "0.016", "--outdir", str(tmp_path / "runs"))
    assert "3x8x16" in output  # the dataset line: channels x height x width
    (run_dir,) = (tmp_path / "runs").iterdir()
    grid = (8 * 8, 8 * 16, 3)  # the 8x8 grid of 16x8 images
    assert png_shape(run_dir / "reals.png") == grid and png_shape(run_dir / "fakes_init.png") == grid
    snapshots = sorted(run_dir.glob("network-snapshot-*.safetensors"))
    assert len(snapshots) == 2 and png_shape(sorted(run_dir.glob("fakes0*.png"))[-1]) == grid

    nets = load_network(snapshots[-1])
    G, D = nets["G_ema"], nets["D"]
    assert isinstance(G, Generator) and (G.img_height, G.img_width, G.img_resolution) == (8, 16, 8)
    assert G.init_kwargs["synthesis_kwargs"]["img_aspect"] == "2:1" and D.init_kwargs["epilogue_kwargs"]["img_aspect"] == "2:1"
    with torch.no_grad():
        img = G(torch.randn(4, G.z_dim), None, noise_mode="const")
        assert img.shape == (4, 3, 8, 16) and torch.isfinite(img).all()
        assert torch.isfinite(D(img.repeat(1, D.img_channels // 3, 1, 1), None)).all()  # D judges packs of images

    output = run("train", "--data", str(data), *TINY, "--kimg", "0.024", "--resume", str(snapshots[-1]),
                 "--outdir", str(tmp_path / "runs"))
    assert "Resuming from" in output
    resumed = sorted((tmp_path / "runs").iterdir())[-1]
    assert (resumed / "network-snapshot-000000-024.safetensors").is_file()

    snapshot = str(snapshots[-1])
    run("generate", "--network", snapshot, "--seeds", "0-3", "--grid", "2x2", "--outdir", str(tmp_path / "gen"), "--device", "cpu")
    assert png_shape(tmp_path / "gen" / "grid.png") == (16, 32, 3)
    run("mix", "--network", snapshot, "--rows", "0-1", "--cols", "2", "--outdir", str(tmp_path / "mix"), "--device", "cpu")
    assert png_shape(tmp_path / "mix" / "stylemix.png") == (3 * 8, 2 * 16, 3)

    detector = tmp_path / "pooled.pt"
    torch.jit.script(nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten())).save(str(detector))
    output = run("metrics", "--network", snapshot, "--metrics", "fid1k_full", "--detector", str(detector),
                 "--device", "cpu", "--workers", "0", "--batch", "250", "--cache-dir", str(tmp_path / "cache"))
    assert "fid1k_full" in output  # scored against the wide.zip the snapshot records


def test_resuming_a_square_network_on_wide_data_is_refused(tmp_path):
    data = tmp_path / "wide.zip"
    run("dataset", "--source", "builtin:shapes?n=8", "--dest", str(data), "--width", "16", "--height", "8",
        "--transform", "center-crop")
    run("train", "--data", "builtin:shapes?n=8", "--resolution", "8", *TINY, "--kimg", "0.008", "--outdir", str(tmp_path / "sq"))
    (snapshot,) = sorted((tmp_path / "sq").glob("*/network-snapshot-*.safetensors"))[-1:]
    result = CliRunner().invoke(main, ["train", "--data", str(data), *TINY, "--kimg", "0.008", "--resume", str(snapshot),
                                       "--outdir", str(tmp_path / "runs")])
    assert result.exit_code != 0
    assert "the network makes 8x8 images but the dataset's are 2:1 (width:height)" in result.output
