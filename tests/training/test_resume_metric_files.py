"""A continued run scores its snapshots with the files its run's metrics read (--detector, --vgg, --cache-dir) unless
others are given, as its other recorded settings; a recorded file that is gone is a note, and the metrics fail (training
goes on) until it is given."""

from pathlib import Path

import pytest

from stylegan2.data import open_dataset
from stylegan2.training.config import resolve_options
from stylegan2.training.loop import train
from stylegan2.training.resume import check_resume
from stylegan2.training.summary import dry_run_summary

TINY = dict(clusters=0, cbase=128, cmax=16, z_dim=16, w_dim=16, map=2, batch=8, workers=0, aug="noaug", tick=0.008, snap=1)
DATA = "builtin:shapes?n=64"


def options(outdir: Path, **overrides):
    return resolve_options(DATA, "cpu", 16, 1, {**TINY, "outdir": str(outdir), "kimg": 0.008, **overrides})


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(--outdir, detector, cache dir) of a finished tiny run given --detector and --cache-dir (the files are not read:
    it computes no metrics)."""
    folder = tmp_path_factory.mktemp("run")
    detector, cache = folder / "mine.pt", folder / "cache"
    detector.write_bytes(b"")
    cache.mkdir()
    train(options(folder / "runs", detector=str(detector), cache_dir=str(cache)), device="cpu", log=lambda line: None)
    return folder / "runs", detector, cache


def continued(outdir: Path, **overrides):
    """The options the continued run trains with, and its notes (what --dry-run says)."""
    return check_resume(options(outdir, kimg=0.016, resume="auto", **overrides), open_dataset(DATA, resolution=16))


def test_a_continued_run_keeps_the_metric_files_its_run_recorded(run):
    outdir, detector, cache = run
    resumed, notes = continued(outdir, metrics=["fid1k_full"])
    assert (resumed.detector, resumed.vgg, resumed.cache_dir) == (str(detector), None, str(cache))
    assert f"metrics as its run scored them: --detector {detector}, --cache-dir {cache}" in notes


def test_a_run_without_metrics_keeps_the_files_without_a_note(run):
    """It hands them on (its training_options.json) to a continuation that scores; it reads none of them itself."""
    outdir, detector, cache = run
    resumed, notes = continued(outdir)
    assert (resumed.detector, resumed.cache_dir) == (str(detector), str(cache))
    assert not any("metrics as its run scored them" in note for note in notes)


def test_the_note_names_only_the_files_that_the_runs_metrics_read(run):
    outdir, _, cache = run
    resumed, notes = continued(outdir, metrics=["ppl2_wend"])  # reads VGG16 and the cache dir, not the detector
    assert f"metrics as its run scored them: --cache-dir {cache}" in notes


def test_a_metric_file_typed_wins(run, tmp_path):
    outdir, _, cache = run
    (tmp_path / "other.pt").write_bytes(b"")
    resumed, notes = continued(outdir, detector=str(tmp_path / "other.pt"), metrics=["fid1k_full"])
    assert (resumed.detector, resumed.cache_dir) == (str(tmp_path / "other.pt"), str(cache))
    assert f"metrics as its run scored them: --cache-dir {cache}" in notes


def test_a_recorded_file_that_is_gone_is_a_note_and_the_metrics_fail_until_it_is_given(run, tmp_path):
    outdir, detector, cache = run
    aside = tmp_path / "aside.pt"
    detector.rename(aside)
    try:
        resumed, notes = continued(outdir, metrics=["fid1k_full"])
        assert resumed.detector == str(detector)  # scored as the run's other snapshots, once it is back
        assert (f"--detector {detector}, which its run's metrics read, is not found: pass --detector with the one to "
                "use") in notes
        assert f"--metrics: they fail (and training goes on) until this is fixed: {detector}: no such file" in \
            dry_run_summary(resumed, open_dataset(DATA, resolution=16))[1]
        assert not any("is not found" in note for note in continued(outdir)[1])  # no metrics: nothing to say
    finally:
        aside.rename(detector)
