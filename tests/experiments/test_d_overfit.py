"""experiments/d_overfit.py: per-snapshot D scores, the share called real, and means over kimg ranges."""

import json
from pathlib import Path

import numpy as np
import torch

from stylegan2.io import save_network
from stylegan2.models import Discriminator, Generator

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


def tiny_run(folder: Path) -> Path:
    """A run folder of two snapshots of small random 8 px networks trained (nominally) on 16 grey images."""
    rng = np.random.default_rng(0)
    np.savez(folder / "digits.npz", x_train=rng.integers(0, 256, (16, 8, 8), dtype=np.uint8),
             x_test=rng.integers(0, 256, (16, 8, 8), dtype=np.uint8))
    run = folder / "run"
    run.mkdir()
    options = {"data": "digits.npz", "resolution": 8, "max_size": None, "cond": False, "clusters": 0, "seed": 0,
               "aug": "noaug", "pack": 1, "batch_gpu": 4}
    (run / "training_options.json").write_text(json.dumps(options))
    for seed, name in ((1, "000000-004"), (2, "000000-008")):
        torch.manual_seed(seed)
        G = Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=8, img_channels=1, mapping_kwargs={"num_layers": 2},
                      synthesis_kwargs={"channel_base": 64, "channel_max": 8})
        D = Discriminator(c_dim=0, img_resolution=8, img_channels=1, channel_base=64, channel_max=8)
        with torch.no_grad():
            D.b4.out.bias.add_(0.05 * seed)  # different snapshots, some scores on each side of zero
        save_network(run / f"network-snapshot-{name}.safetensors", {"G_ema": G, "D": D})
    return run


def test_rows_report_mean_scores_and_the_share_above_zero(tmp_path, run_script):
    run = tiny_run(tmp_path)
    result = run_script(EXPERIMENTS / "d_overfit.py", ["run", "--heldout", "digits.npz:x_test", "--images", "8",
                                                       "--ranges", "0-0.004,0.004-0.01,1-2"], tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].split() == ["kimg", "D(train)", "D(held)", "D(fake)", "real", "train", "real", "held", "real", "fake"]
    rows = {line.split()[0]: line.split()[1:7] for line in lines[2:]}
    assert set(rows) == {"0.004", "0.008", "0-0.004", "0.004-0.01", "1-2"}
    assert rows["1-2"] == ["no", "snapshot", "in", "this", "range"]
    assert rows["0-0.004"] == rows["0.004"]  # one snapshot in each range: its mean is its row

    # The training digits' column, recomputed from the first snapshot's D on the first 8 training images.
    from stylegan2.io import load_network
    D = load_network(run / "network-snapshot-000000-004.safetensors")["D"]
    images = torch.from_numpy(np.load(tmp_path / "digits.npz")["x_train"][:8]).float()[:, None] / 127.5 - 1
    with torch.no_grad():
        scores = torch.cat([D(images[i:i + 4], torch.zeros(4, 0)) for i in (0, 4)]).flatten()
    assert float(rows["0.004"][0]) == round(scores.mean().item(), 3)
    assert rows["0.004"][3] == f"{(scores > 0).float().mean().item():.0%}"


def test_fewer_images_than_a_step_are_refused_in_one_line(tmp_path, run_script):
    tiny_run(tmp_path)
    result = run_script(EXPERIMENTS / "d_overfit.py", ["run", "--heldout", "digits.npz:x_test", "--images", "3"], tmp_path)
    assert result.returncode == 2 and "--images 3 is less than run's batch per step (4); give at least that" in result.stderr
