"""experiments/shapes_oracle.py trains a renderer on held-in items, reports on held-out ones, and refuses bad options in one line."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from stylegan2.data.shapes import render_shape

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
SCRIPT = EXPERIMENTS / "shapes_oracle.py"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def random_classifier(path: Path) -> None:
    """An untrained shape classifier saved where the script looks, so that it does not train one (a minute)."""
    sys.path.insert(0, str(EXPERIMENTS))
    try:
        from scoring.shapes import ShapeNet
    finally:
        sys.path.remove(str(EXPERIMENTS))
    torch.manual_seed(0)
    save_file(ShapeNet().state_dict(), str(path))


def test_reports_on_held_out_items_and_draws_them(tmp_path):
    random_classifier(tmp_path / "cnn.safetensors")
    result = run("--kimg", "0.064", "--every", "0.032", "--cbase", "128", "--cmax", "8", "--classifier", "cnn.safetensors",
                 "--grid", "grid.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    reports = [line for line in result.stdout.splitlines() if "kimg" in line]
    assert [line.split()[0] for line in reports] == ["0.0", "0.1"]  # 32 and 64 images: one report each
    for line in reports:
        shares = [float(part.rstrip("%")) for part in line.split(" read as ")[-1].replace("/", " ").split() if part.endswith("%")]
        assert len(shares) == 5 and abs(sum(shares) - 100) < 0.5  # every held-out item is read as one class
        assert "mask IoU" in line and "read as its class" in line
    grid = np.asarray(Image.open(tmp_path / "grid.png"))
    assert grid.shape == (64, 512, 3)
    held_out = np.concatenate([render_shape(i).image.transpose(1, 2, 0) for i in range(10_000, 10_016)], axis=1)
    np.testing.assert_array_equal(grid[:32], held_out)  # the top row is the held-out renders themselves


@pytest.mark.parametrize("args,message", [
    (["--seconds", "0"], "--seconds must be positive, got 0"),
    (["--every", "-1"], "--every must be positive, got -1"),
    (["--kimg", "0"], "--kimg must be positive, got 0"),
    (["--cmax", "0"], "--cbase and --cmax must be positive, got 1024 and 0"),
    (["--architecture", "unet"], "argument --architecture: invalid choice: 'unet'"),
])
def test_bad_options(tmp_path, run_script, args, message):
    result = run_script(SCRIPT, [*args, "--classifier", "cnn.safetensors"], tmp_path)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # no classifier was trained or cached
