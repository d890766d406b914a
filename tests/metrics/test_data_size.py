"""Real images smaller than the network: padded as training padded them, refused otherwise."""

from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch
from torch import nn

from stylegan2.io import save_checkpoint
from stylegan2.io.checkpoint import Checkpoint
from stylegan2.metrics import calc_metrics, evaluate_for_training
from stylegan2.metrics.training_data import same_data, training_resolution

SAMPLE_COUNT_NOTES = r"ignore:\S+. only \d+ real images:UserWarning"  # tiny test data; see test_sample_counts.py
pytestmark = [pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:DeprecationWarning"),
              pytest.mark.filterwarnings(SAMPLE_COUNT_NOTES)]


def image_folder(path: Path, size: int, count: int = 12) -> Path:
    """`count` random RGB images of size x size."""
    path.mkdir()
    rng = np.random.default_rng(size)
    for i in range(count):
        PIL.Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path / f"{i}.png")
    return path


@pytest.fixture
def small_images(tmp_path: Path) -> Path:
    return image_folder(tmp_path / "small8", 8)  # the network makes 16 px


@pytest.fixture
def detector_file(tmp_path: Path) -> Path:
    path = tmp_path / "pooled.pt"
    torch.jit.script(nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten())).save(str(path))
    return path


def fid(network, data, detector_file: Path, tmp_path: Path) -> float:
    record = calc_metrics(network, None if data is None else str(data), ["fid1k_full"], detector=detector_file,
                          device="cpu", batch_size=250, cache_dir=tmp_path, use_cache=False, progress=False)[0]
    return record["results"]["fid1k_full"]


def test_smaller_data_is_refused_for_a_network_not_trained_on_it(tiny_G, small_images, detector_file, tmp_path):
    with pytest.raises(ValueError, match=r"small8: images are 8x8, smaller than the network's 16x16; .* "
                                         r"`stylegan2 dataset --source .*small8 --dest OUT\.zip --resolution 16`"):
        fid(tiny_G, small_images, detector_file, tmp_path)


def test_a_run_that_padded_its_data_is_scored_on_it_padded_as_in_training(tiny_G, small_images, detector_file,
                                                                          tmp_path):
    options = {"data": str(small_images), "mirror": False, "resolution": 16}
    snapshot = save_checkpoint(tmp_path / "snapshot.safetensors", {"G_ema": tiny_G}, training_state={"options": options})
    note = r"small8: the 8x8 images are centred on black at 16x16, as the network's training run loaded them \(--resolution 16\)"
    with pytest.warns(UserWarning, match=note):
        recorded = fid(snapshot, None, detector_file, tmp_path)
    with pytest.warns(UserWarning, match=note):
        assert fid(snapshot, small_images, detector_file, tmp_path) == recorded  # --data naming the same folder
    with pytest.raises(ValueError, match="other8: images are 8x8, smaller than the network's 16x16"):
        fid(snapshot, image_folder(tmp_path / "other8", 8), detector_file, tmp_path)


def test_training_snapshots_score_the_runs_padded_data(tiny_G, small_images, detector_file, tmp_path):
    with pytest.warns(UserWarning, match="centred on black at 16x16"):
        record = evaluate_for_training("fid1k_full", tiny_G, str(small_images), run_dir=tmp_path,
                                       snapshot=tmp_path / "network-snapshot-000004.safetensors",
                                       detector=detector_file, batch_size=250, cache_dir=tmp_path)
    assert np.isfinite(record["results"]["fid1k_full"])


def test_only_our_runs_record_a_padding_resolution(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ours = Checkpoint(format="stylegan2", networks={},
                      training_state={"options": {"data": "mnist.npz", "resolution": 32}})
    assert training_resolution(ours, tmp_path / "net.safetensors", str(tmp_path / "mnist.npz")) == 32
    assert training_resolution(ours, tmp_path / "net.safetensors", "other.npz") is None
    nvidia = Checkpoint(format="official-pkl", networks={},
                        source={"training_set_kwargs": {"path": "mnist.npz", "resolution": 32}})
    assert training_resolution(nvidia, tmp_path / "net.pkl", "mnist.npz") is None  # their loader never pads


def test_dataset_specs_match_by_where_they_point(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert same_data("data/cats.zip", str(tmp_path / "data" / "cats.zip"))
    assert same_data("builtin:shapes", "builtin:shapes")
    assert not same_data("builtin:shapes?n=8", "builtin:shapes")
    assert not same_data("cats.zip", "dogs.zip")
