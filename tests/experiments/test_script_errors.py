"""The other experiment scripts refuse bad options in one line, before any slow work, and overwrite nothing."""

from pathlib import Path

import numpy as np
import pytest

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    """A folder with tiny MNIST-like .npz files, a run folder with per-tick statistics, a clustered run's files, and a fake
    NVIDIA checkout."""
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "digits.npz", x_train=rng.integers(0, 256, (8, 28, 28), dtype=np.uint8),
             y_train=np.arange(8, dtype=np.uint8) % 10)
    np.savez(tmp_path / "unlabeled.npz", x_train=rng.integers(0, 256, (8, 28, 28), dtype=np.uint8))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "stats.jsonl").write_text('{"Progress/kimg": {"mean": 4.0}, "Loss/signs/real": {"mean": 0.1}}\n')
    (tmp_path / "clustered").mkdir()
    (tmp_path / "clustered" / "training_options.json").write_text('{"cond": false, "clusters": 100}')
    (tmp_path / "clustered" / "network-snapshot-000004.safetensors").write_bytes(b"")
    (tmp_path / "official" / "training").mkdir(parents=True)
    (tmp_path / "official" / "training" / "networks.py").write_text("")
    (tmp_path / "taken.png").write_bytes(b"a figure of an earlier run")
    return tmp_path


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("script,args,code,message", [
    ("mnist_clusters.py", ["--mnist", "missing.npz"], 2, "--mnist missing.npz: no such file"),
    ("mnist_clusters.py", ["--mnist", "digits.npz", "--clusters", "a"], 2,
     "argument --clusters: give comma-separated whole numbers, e.g. 10,20,50, got 'a'"),
    ("mnist_clusters.py", ["--mnist", "digits.npz", "--clusters", "0,5"], 2, "each cluster count must be at least 2, got '0,5'"),
    ("mnist_clusters.py", ["--mnist", "digits.npz", "--clusters", "9"], 1,
     "--clusters 9: need at least 2 clusters and at most one per image"),
    ("mnist_clusters.py", ["--mnist", "unlabeled.npz"], 2, "needs arrays x_train and y_train"),
    ("mnist_clusters.py", ["--mnist", "digits.npz", "--clusters", "4", "--network", "missing.safetensors"], 2,
     "--network missing.safetensors: no such file"),
    ("mnist_curve.py", ["run", "--mnist", "missing.npz"], 2, "--mnist missing.npz: no such file"),
    ("mnist_curve.py", ["run", "--mnist", "digits.npz", "--every", "0"], 2, "--every must be at least 1"),
    ("d_overfit.py", ["run", "--heldout", "digits.npz", "--images", "0"], 2, "--images must be at least 2, got 0"),
    ("d_overfit.py", ["run", "--heldout", "digits.npz"], 1, "run: needs training_options.json and network-snapshot-*.safetensors"),
    ("d_overfit.py", ["clustered", "--heldout", "digits.npz"], 1,
     "clustered: trained on 100 k-means clusters (--clusters); d_overfit.py scores runs trained without them"),
    ("official_mnist.py", ["--official", "missing", "--mnist", "digits.npz"], 2, "--official missing: no training/networks.py there"),
    ("official_mnist.py", ["--official", "official", "--mnist", "missing.npz"], 2, "--mnist missing.npz: no such file"),
    ("official_mnist.py", ["--official", "official", "--mnist", "digits.npz", "--kimg", "0"], 2, "--kimg and --snap must be positive"),
    ("official_mnist.py", ["--official", "official", "--mnist", "digits.npz", "--outdir", "run"], 1,
     "--outdir run is not empty: choose a new folder (nothing was overwritten)"),
    ("plot_stats.py", ["missing", "--out", "plot.png"], 1, "missing: no stats.jsonl here; pass a training run directory"),
    ("swapae_quality.py", ["--network", "missing.safetensors"], 2, "--network missing.safetensors: no such file"),
    ("swapae_quality.py", ["--kimg", "-1"], 2, "--kimg must be a positive number, got -1.0"),
    ("swapae_quality.py", ["--minutes", "0"], 2, "--minutes must be positive, got 0.0"),
    ("swapae_quality.py", ["--set", "lambda_l2=-3"], 2, "--lambda-l2 must be a number >= 0, got -3.0"),
    ("swapae_reconstruction.py", ["--lr", "-1"], 2, "--lr must be positive, got -1.0"),
    ("swapae_reconstruction.py", ["--spatial-code-ch", "0"], 2, "--spatial-code-ch must be at least 1, got 0"),
    # An image or plot already there is refused before the slow work, as is a name that would not be a PNG.
    *[(script, [*args, option, "taken.png"], 2, f"argument {option}: taken.png exists: choose a new file name (nothing was overwritten)")
      for script, args, option in (
          ("mnist_quality.py", ["--mnist", "digits.npz"], "--grid"),
          ("shapes_quality.py", [], "--grid"),
          ("swapae_quality.py", [], "--grid"),
          ("shapes_oracle.py", [], "--grid"),
          ("plot_stats.py", ["run"], "--out"),
          ("mnist_curve.py", ["run", "--mnist", "digits.npz"], "--out"),
          ("d_overfit.py", ["run", "--heldout", "digits.npz"], "--out"))],
    ("shapes_quality.py", ["--grid", "grid.jpg"], 2, "argument --grid: grid.jpg: give a .png file name"),
    ("shapes_quality.py", ["--grid", "nowhere/grid.png"], 2, "argument --grid: nowhere/grid.png: no folder nowhere; create it first"),
    ("d_overfit.py", ["run", "--heldout", "digits.npz", "--ranges", "9-3"], 2, "argument --ranges: give kimg ranges LOW-HIGH"),
])
def test_bad_options_give_one_line_errors(workdir, run_script, script, args, code, message):
    before = listing(workdir)
    result = run_script(EXPERIMENTS / script, args, workdir)
    assert result.returncode == code and message in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert listing(workdir) == before  # nothing written, nothing overwritten


@pytest.mark.parametrize("script,args", [
    ("plot_stats.py", ["run", "--out", "plot.png"]),
    ("mnist_curve.py", ["run", "--mnist", "digits.npz", "--out", "plot.png"]),
    ("d_overfit.py", ["run", "--heldout", "digits.npz", "--out", "plot.png"]),
])
def test_plots_without_matplotlib_say_how_to_install_it_before_scoring(workdir, run_script, script, args):
    result = run_script(EXPERIMENTS / script, args, workdir, blocked=("matplotlib",))
    assert result.returncode == 1 and "plotting needs matplotlib: pip install -e \".[plot]\"" in result.stderr
    assert "Traceback" not in result.stderr and not (workdir / "plot.png").exists()
