"""The tick line: kimg reads like the snapshot names (tiny ticks are not all 'kimg 0.0'), memory in GiB."""

import sys
import types

import pytest
import torch

from stylegan2.training.progress import kimg_label, memory_usage, snapshots_due, tick_image_count, tick_status


@pytest.mark.parametrize("cur_nimg,kimg", [(8, "0.008"), (40, "0.040"), (400, "0.4"), (12_000, "12.0"), (12_345, "12.345")])
def test_the_tick_line_shows_the_images_seen(cur_nimg, kimg):
    line = tick_status(tick=3, cur_nimg=cur_nimg, elapsed=5.0, sec_per_kimg=2.0, total_kimg=20, stats={"Loss/G/loss": {"mean": 0.5}},
                       losses=(("G", "Loss/G/loss"),), device=torch.device("cpu"))
    assert line.split()[:4] == ["tick", "3", "kimg", kimg] and " G 0.500 " in line


def test_snapshot_labels_name_the_images_seen():
    assert (kimg_label(12_000), kimg_label(64), kimg_label(12_345)) == ("000012", "000000-064", "000012-345")


@pytest.mark.parametrize("platform,maxrss", [("linux", 3 * 2**20), ("darwin", 3 * 2**30)])
def test_cpu_memory_is_in_gib_whatever_unit_the_platform_reports(monkeypatch, platform, maxrss):
    """ru_maxrss is in KiB on Linux but in bytes on macOS: a Mac's tick line said 1024 times its memory."""
    resource = pytest.importorskip("resource")
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(resource, "getrusage", lambda who: types.SimpleNamespace(ru_maxrss=maxrss))
    assert memory_usage(torch.device("cpu")) == "cpumem 3.00"



@pytest.mark.parametrize("first,last,snap,due", [(0, 6249, 50, 126), (1, 6249, 50, 125), (0, 1, 1, 2), (50, 50, 50, 1),
                                                 (51, 99, 50, 1), (51, 100, 50, 1)])
def test_snapshots_are_due_every_snap_ticks_from_tick_0_and_at_the_end(first, last, snap, due):
    """--cfg auto's 25,000 kimg in ticks of 4: snapshots at ticks 0, 50, ..., 6200 and the last, 6249."""
    assert snapshots_due(first, last, snap) == due


def test_a_tick_counts_whole_batches_to_its_length():
    assert tick_image_count(tick_start_nimg=0, tick_kimg=1.0, batch=16, total_kimg=10) == 1008
    assert tick_image_count(tick_start_nimg=2016, tick_kimg=1.0, batch=16, total_kimg=10) == 1008


def test_a_tick_the_run_ends_early_counts_to_the_runs_end():
    """A 0.05 kimg run said "48 of the tick's 1,008 images" 16 images before it ended."""
    assert tick_image_count(tick_start_nimg=0, tick_kimg=1.0, batch=16, total_kimg=0.05) == 64
    assert tick_image_count(tick_start_nimg=1008, tick_kimg=1.0, batch=16, total_kimg=1.5) == 496
