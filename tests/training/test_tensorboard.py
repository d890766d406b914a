"""TensorBoard events beside stats.jsonl: written when tensorboard is installed, skipped quietly when it is not."""

from __future__ import annotations

import json
import sys

import pytest
import torch

from stylegan2.training.config import resolve_options
from stylegan2.training.loop import train

TINY = dict(clusters=0, cbase=128, cmax=16, z_dim=16, w_dim=16, map=2, batch=8, workers=0, aug="noaug", kimg=0.016, tick=0.008, snap=1)


def tiny_run(tmp_path):
    options = resolve_options("builtin:shapes?n=16", "cpu", 16, 1, dict(TINY, outdir=str(tmp_path / "runs")))
    return train(options, device="cpu", log=lambda line: None)


def test_every_tick_is_written_to_tensorboard(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = tiny_run(tmp_path)
    assert len(list(run_dir.glob("events.out.tfevents.*"))) == 1
    ticks = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    events = EventAccumulator(str(run_dir))
    events.Reload()
    tags = events.Tags()["scalars"]
    assert "Loss/G/loss" in tags and "Loss/D/loss" in tags
    for tag in ("Loss/G/loss", "Loss/D/loss"):
        logged = [event.value for event in events.Scalars(tag)]
        assert logged == pytest.approx([tick[tag]["mean"] for tick in ticks], rel=1e-6)  # the same means as stats.jsonl


def test_without_tensorboard_only_stats_jsonl_is_written(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # makes the import fail, as when it is not installed
    run_dir = tiny_run(tmp_path)
    assert not list(run_dir.glob("events.out.tfevents.*"))
    assert (run_dir / "stats.jsonl").read_text().count("\n") == 2


@pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:DeprecationWarning")
def test_each_snapshots_metrics_are_written_to_tensorboard_at_its_kimg(tmp_path, monkeypatch):
    """As NVIDIA's loop: Metrics/<name> beside the losses, with the values of the run's metric-<name>.jsonl."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cache = tmp_path / "cache"  # a tiny feature network as the FID Inception: no download
    cache.mkdir()
    torch.jit.script(torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten())).save(str(cache / "inception-2015-12-05.pt"))
    monkeypatch.setenv("STYLEGAN2_CACHE", str(cache))
    options = resolve_options("builtin:shapes?n=16", "cpu", 16, 1, dict(TINY, outdir=str(tmp_path / "runs"), metrics=["fid1k_full"]))
    run_dir = train(options, device="cpu", log=lambda line: None)
    records = [json.loads(line) for line in (run_dir / "metric-fid1k_full.jsonl").read_text().splitlines()]
    events = EventAccumulator(str(run_dir))
    events.Reload()
    logged = events.Scalars("Metrics/fid1k_full")
    assert len(records) == 2  # --snap 1: a snapshot per tick
    assert [event.value for event in logged] == pytest.approx([record["results"]["fid1k_full"] for record in records], rel=1e-6)
    assert [event.step for event in logged] == [0, 0]  # int(kimg) of 0.008 and 0.016, as NVIDIA's global_step
    assert not any(key.startswith("Metrics/") for line in (run_dir / "stats.jsonl").read_text().splitlines()
                   for key in json.loads(line))


def test_metric_scalars_take_the_snapshots_whole_kimg_as_their_step(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from stylegan2.training.stats import StatsWriter

    writer = StatsWriter(tmp_path)
    writer.write_metrics({"pr50k3_full_precision": 0.5, "pr50k3_full_recall": 0.25}, kimg=2.5)
    writer.close()
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("Metrics/pr50k3_full_recall")] == [(2, 0.25)]
    assert [(e.step, e.value) for e in events.Scalars("Metrics/pr50k3_full_precision")] == [(2, 0.5)]
