"""TensorBoard events beside stats.jsonl: written when tensorboard is installed, skipped quietly when it is not."""

from __future__ import annotations

import json
import sys

import pytest

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
