"""`stylegan2 metrics` without --data: the data (and mirroring) the network file or its run records."""

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from torch import nn

from stylegan2.cli import main
from stylegan2.io import save_checkpoint, save_network
from stylegan2.io.checkpoint import Checkpoint
from stylegan2.metrics.training_data import training_data

SAMPLE_COUNT_NOTES = r"ignore:\S+. only \d+ real images:UserWarning"  # tiny test data; see test_sample_counts.py
pytestmark = [pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:DeprecationWarning"),
              pytest.mark.filterwarnings(SAMPLE_COUNT_NOTES)]
DATA = "builtin:shapes?n=8"


@pytest.fixture
def detector_file(tmp_path: Path) -> Path:
    path = tmp_path / "pooled.pt"
    torch.manual_seed(0)
    torch.jit.script(nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(12, 6))).save(str(path))
    return path


def kid(network: Path, detector: Path, tmp_path: Path, *extra: str) -> float:
    args = ["metrics", "--network", str(network), "--metrics", "kid1k", "--detector", str(detector), "--device", "cpu",
            "--batch", "250", "--workers", "0", "--no-cache", "--cache-dir", str(tmp_path), *extra]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return float(result.stdout.strip().splitlines()[-1].split()[2])


def test_without_data_a_snapshot_is_scored_against_its_runs_data_and_mirroring(tmp_path: Path, tiny_G, detector_file):
    snapshot = save_checkpoint(tmp_path / "snapshot.safetensors", {"G_ema": tiny_G},
                               training_state={"options": {"data": DATA, "mirror": True}})
    recorded = kid(snapshot, detector_file, tmp_path)
    assert recorded == kid(snapshot, detector_file, tmp_path, "--data", DATA, "--mirror")
    assert recorded != kid(snapshot, detector_file, tmp_path, "--data", DATA)  # so the mirroring was taken too
    assert kid(snapshot, detector_file, tmp_path, "--no-mirror") == kid(snapshot, detector_file, tmp_path, "--data", DATA)


def test_nvidia_pickles_name_their_data_in_training_set_kwargs(tmp_path: Path):
    (tmp_path / "ffhq.zip").write_bytes(b"")
    kwargs = {"path": str(tmp_path / "ffhq.zip"), "xflip": True}
    ckpt = Checkpoint(format="official-pkl", networks={}, source={"training_set_kwargs": kwargs})
    assert training_data(ckpt, tmp_path / "network.pkl") == (str(tmp_path / "ffhq.zip"), True)
    moved = Checkpoint(format="official-pkl", networks={}, source={"training_set_kwargs": {"path": "~/datasets/gone.zip"}})
    with pytest.raises(ValueError, match=r"network\.pkl: trained on ~/datasets/gone\.zip \(its training_set_kwargs\), "
                                         r"which is not found from here; pass --data$"):
        training_data(moved, tmp_path / "network.pkl")


def test_a_network_beside_its_runs_options_uses_them(tmp_path: Path, tiny_G):
    network = save_network(tmp_path / "exported.safetensors", {"G_ema": tiny_G})  # no training state of its own
    (tmp_path / "training_options.json").write_text(json.dumps({"data": DATA, "mirror": False}))
    assert training_data(Checkpoint(format="stylegan2", networks={}), network) == (DATA, False)


@pytest.mark.parametrize("state,message", [
    ({}, "the file does not say which data it was trained on (and no training_options.json is beside it); pass --data"),
    ({"options": {"data": 3}}, "its training options name the training data as 3 (mirror False), not a dataset; pass --data"),
])
def test_no_usable_record_is_a_one_line_error(tmp_path: Path, tiny_G, state, message):
    network = save_checkpoint(tmp_path / "g.safetensors", {"G_ema": tiny_G}, training_state=state)
    result = CliRunner().invoke(main, ["metrics", "--network", str(network), "--device", "cpu"])
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("metric, missing_file", [("is1k", "pt_inception-2015-12-05-6726825d.pth"), ("ppl2_wend", "vgg16.pt")])
def test_metrics_without_real_images_need_no_recorded_data(tmp_path: Path, tiny_G, metric, missing_file):
    """IS and PPL of an unconditional network read no dataset: a run's data missing from here is not asked for."""
    network = save_checkpoint(tmp_path / "g.safetensors", {"G_ema": tiny_G}, training_state={"options": {"data": "gone.zip"}})
    result = CliRunner().invoke(main, ["metrics", "--network", str(network), "--metrics", metric, "--device", "cpu",
                                       "--cache-dir", str(tmp_path / "empty")])
    assert result.exit_code == 1 and missing_file in result.output and "--data" not in result.output.replace("--detector", "")
    result = CliRunner().invoke(main, ["metrics", "--network", str(network), "--metrics", f"fid1k,{metric}", "--device", "cpu"])
    assert result.exit_code == 1
    assert "trained on gone.zip (its training options), which is not found from here; pass --data" in result.output


def run_with_metric_files(tmp_path: Path, tiny_G, **files: str) -> Path:
    """A snapshot in a run directory whose training_options.json records its data and the metrics' `files`."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "training_options.json").write_text(json.dumps({"data": DATA, "mirror": False, **files}))
    return save_network(run / "network-snapshot-000004.safetensors", {"G_ema": tiny_G})


def score(network: Path, *extra: str) -> tuple[float, str]:
    """kid1k of a network, without --data, --detector or --cache-dir unless given; (value, what was printed)."""
    args = ["metrics", "--network", str(network), "--metrics", "kid1k", "--device", "cpu", "--batch", "250",
            "--workers", "0", "--no-cache", *extra]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return float(result.stdout.strip().splitlines()[-1].split()[2]), result.output


def test_a_snapshot_is_scored_with_the_detector_and_cache_dir_its_run_recorded(tmp_path: Path, tiny_G, detector_file,
                                                                              monkeypatch):
    """Its run's metrics used them; the cache's Inception (absent here, offline) was asked for instead."""
    monkeypatch.setenv("STYLEGAN2_CACHE", str(tmp_path / "empty-cache"))
    cache = tmp_path / "run-cache"
    cache.mkdir()
    network = run_with_metric_files(tmp_path, tiny_G, detector=str(detector_file), cache_dir=str(cache))
    value, printed = score(network)
    assert (f"note: {network}: scored with --detector {detector_file} and --cache-dir {cache}, as its training run "
            "recorded") in printed
    assert value == score(network, "--detector", str(detector_file))[0]


def test_a_detector_typed_wins_over_the_recorded_one(tmp_path: Path, tiny_G, detector_file):
    other = tmp_path / "other.pt"
    torch.manual_seed(5)
    torch.jit.script(nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(12, 6))).save(str(other))
    network = run_with_metric_files(tmp_path, tiny_G, detector=str(detector_file), cache_dir=str(tmp_path))
    value, printed = score(network, "--detector", str(other))
    assert f"scored with --cache-dir {tmp_path}, as its training run recorded" in printed  # not the detector
    assert value != score(network)[0]


@pytest.mark.parametrize("option, metric", [("detector", "kid1k"), ("cache_dir", "kid1k"), ("vgg", "ppl2_wend")])
def test_a_recorded_file_that_is_gone_is_one_line_naming_it_and_the_option(tmp_path: Path, tiny_G, detector_file,
                                                                           option, metric):
    files = {"detector": str(detector_file), "cache_dir": str(tmp_path), option: str(tmp_path / "gone")}
    network = run_with_metric_files(tmp_path, tiny_G, **files)
    flag = "--" + option.replace("_", "-")
    result = CliRunner().invoke(main, ["metrics", "--network", str(network), "--metrics", metric, "--device", "cpu"])
    assert result.exit_code == 1
    assert result.output == (f"Error: {network}: its training run's metrics read {flag} {tmp_path / 'gone'} "
                             f"({network.parent / 'training_options.json'}), which is not found; pass {flag} with the "
                             "one to use\n")


def test_a_recorded_file_the_metrics_do_not_read_may_be_gone(tmp_path: Path, tiny_G, detector_file):
    network = run_with_metric_files(tmp_path, tiny_G, detector=str(detector_file), cache_dir=str(tmp_path),
                                    vgg=str(tmp_path / "gone-vgg16.pt"))
    value, printed = score(network)  # KID reads the detector, not the VGG16
    assert "gone-vgg16.pt" not in printed


def test_a_snapshots_own_options_record_its_metric_files(tmp_path: Path, tiny_G):
    from stylegan2.metrics.training_data import recorded_metric_files

    files = {"detector": "/nets/mine.pt", "vgg": None, "cache_dir": "/cache"}
    snapshot = save_checkpoint(tmp_path / "snapshot.safetensors", {"G_ema": tiny_G},
                               training_state={"options": {"data": DATA, **files}})
    (tmp_path / "training_options.json").write_text(json.dumps({"detector": "/elsewhere.pt"}))  # the snapshot's first
    from stylegan2.io import load_checkpoint

    assert recorded_metric_files(load_checkpoint(snapshot), snapshot) == (
        {"detector": "/nets/mine.pt", "cache_dir": "/cache"}, "its training options")
    plain = save_network(tmp_path / "exported.safetensors", {"G_ema": tiny_G})
    assert recorded_metric_files(load_checkpoint(plain), plain) == ({"detector": "/elsewhere.pt"},
                                                                   str(tmp_path / "training_options.json"))
