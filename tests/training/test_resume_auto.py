"""--resume auto finds the last snapshot of the newest run of the same kind; a continued run keeps its global batch."""

import pytest

from stylegan2.training.config import resolve_options
from stylegan2.training.loop import TrainingError, train
from stylegan2.training.rundir import latest_snapshot

TINY = dict(clusters=0, cbase=128, cmax=16, z_dim=16, w_dim=16, map=2, batch=8, workers=0, aug="noaug", tick=0.008, snap=1)


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_latest_snapshot_is_the_newest_of_the_newest_run_of_that_kind_that_has_one(tmp_path):
    touch(tmp_path / "00000-shapes-cpu" / "network-snapshot-000012.safetensors")
    newest = touch(tmp_path / "00001-shapes-cpu" / "network-snapshot-000010.safetensors")
    touch(tmp_path / "00001-shapes-cpu" / "network-snapshot-000009-512.safetensors")
    touch(tmp_path / "00001-shapes-cpu" / "network-snapshot-000010-064.safetensors.tmp")  # a killed run's half-written file
    (tmp_path / "00002-shapes-cpu").mkdir()  # a restart that died before its first snapshot
    touch(tmp_path / "00003-mnist-cpu" / "network-snapshot-000020.safetensors")  # another dataset
    assert latest_snapshot(tmp_path, "shapes-cpu") == newest
    assert latest_snapshot(tmp_path, "shapes-paper256") is None
    assert latest_snapshot(tmp_path / "missing", "shapes-cpu") is None


def test_kimg_labels_order_like_the_image_counts(tmp_path):
    for name in ("000009-512", "000010", "000010-008", "000002"):
        touch(tmp_path / "00000-x" / f"network-snapshot-{name}.safetensors")
    assert latest_snapshot(tmp_path, "x").name == "network-snapshot-000010-008.safetensors"


def options(tmp_path, **overrides):
    return resolve_options("builtin:shapes?n=64", "cpu", 16, 1, {**TINY, "outdir": str(tmp_path / "runs"), "kimg": 0.016, **overrides})


def test_resume_auto_starts_a_new_run_then_continues_the_last_snapshot(tmp_path, one_thread):
    lines = []
    first = train(options(tmp_path, kimg=0.008, resume="auto"), device="cpu", log=lines.append)
    assert f"Resume auto: no snapshot of a shapes-cpu run under {tmp_path / 'runs'}; starting a new run" in lines
    lines.clear()
    second = train(options(tmp_path, resume="auto"), device="cpu", log=lines.append)
    assert f"Resuming from {first / 'network-snapshot-000000-008.safetensors'}: continuing the run" in lines
    assert [p.name for p in second.glob("network-snapshot-*")] == ["network-snapshot-000000-016.safetensors"]


def test_a_continued_run_keeps_its_global_batch(tmp_path, one_thread):
    first = train(options(tmp_path, kimg=0.008), device="cpu", log=lambda line: None)
    snapshot = first / "network-snapshot-000000-008.safetensors"
    with pytest.raises(TrainingError, match=r"its run trained with a global batch of 8 \(--batch, over all processes\) but this one"
                                            r" would use 16; pass --batch 8 to continue it$"):
        train(options(tmp_path, batch=16, resume=str(snapshot)), device="cpu", log=lambda line: None)
