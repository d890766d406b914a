"""A training run's notes (resume notes, metrics that will fail, a disk too small, metrics a Ctrl-C left out) reach the
terminal as `note: ...` lines on stderr, which --quiet keeps, and log.txt, once each; stdout carries the progress."""

from __future__ import annotations

import collections
import os
import shutil
import signal
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from stylegan2.cli import main
from stylegan2.training.session import TrainingSession

TINY_RUN = ["--data", "builtin:shapes?n=16", "--resolution", "16", "--cfg", "cpu", "--cbase", "128", "--cmax", "16",
            "--batch", "8", "--aug", "noaug", "--workers", "0", "--device", "cpu", "--kimg", "0.008"]


@pytest.fixture(autouse=True)
def no_tensorboard(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # events are test_tensorboard.py's


def quiet_train(outdir: Path, *args: str) -> tuple[Result, list[str]]:
    """`stylegan2 train --quiet` of a tiny run into `outdir`: the result and the newest run's log.txt lines."""
    result = CliRunner().invoke(main, ["train", *TINY_RUN, "--outdir", str(outdir), "--quiet", *args])
    run_dir = sorted(outdir.iterdir())[-1]
    return result, (run_dir / "log.txt").read_text().splitlines()


def said_once_as_note(result: Result, log: list[str], start: str) -> str:
    """The one stderr line that starts with `note: {start}`, checked to be in log.txt once and not on stdout."""
    (note,) = [line for line in result.stderr.splitlines() if line.startswith(f"note: {start}")]
    assert log.count(note) == 1 and start not in result.stdout, result.stdout
    return note


def test_a_resume_note_is_on_stderr_and_in_the_log_once(tmp_path):
    first, _ = quiet_train(tmp_path / "first")
    assert first.exit_code == 0, first.output
    (snapshot,) = (tmp_path / "first").glob("*/network-snapshot-*.safetensors")
    result, log = quiet_train(tmp_path / "second", "--kimg", "0.016", "--aug", "ada", "--resume", str(snapshot))
    assert result.exit_code == 0, result.output
    note = said_once_as_note(result, log, f"--resume {snapshot}: its run trained with --aug noaug")
    assert note.endswith("this one with --aug ada; pass --aug noaug to keep it")
    assert f"Resuming from {snapshot}: continuing the run" in log  # the header keeps its line, without the note


def test_metrics_that_will_fail_are_a_note_on_stderr_and_in_the_log_once(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEGAN2_OFFLINE", "1")
    cache = tmp_path / "empty-cache"
    result, log = quiet_train(tmp_path / "runs", "--metrics", "fid1k_full", "--cache-dir", str(cache))
    assert result.exit_code == 0, result.output
    note = said_once_as_note(result, log, "--metrics: they fail (and training goes on) until this is fixed: ")
    assert f"pt_inception-2015-12-05-6726825d.pth is not in {cache}" in note
    assert "Metrics: fid1k_full of G_ema at each snapshot (--metrics)" in log  # the header line, without the note


def test_a_disk_too_small_for_the_snapshots_is_a_note_on_stderr_and_in_the_log_once(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "disk_usage", lambda path: collections.namedtuple("Usage", "total used free")(1, 0, 24_000))
    result, log = quiet_train(tmp_path / "runs")
    assert result.exit_code == 0, result.output
    note = said_once_as_note(result, log, f"--outdir {tmp_path / 'runs'}: its disk has 0.024 MB free")
    assert note.endswith("the run would stop at its first; free space there or choose another --outdir")


def test_metrics_a_ctrl_c_left_out_are_a_note_on_stderr_and_in_the_log_once(tmp_path, monkeypatch):
    """The Ctrl-C snapshot is not scored: a quiet terminal said nothing of what the user asked for and did not get."""
    original_step = TrainingSession._step

    def ctrl_c_in_the_first_step(self, hooks):
        if self.batch_idx == 0:
            os.kill(os.getpid(), signal.SIGINT)
        original_step(self, hooks)

    monkeypatch.setattr(TrainingSession, "_step", ctrl_c_in_the_first_step)
    monkeypatch.setenv("STYLEGAN2_OFFLINE", "1")
    result, log = quiet_train(tmp_path / "runs", "--kimg", "0.032", "--tick", "0.016", "--metrics", "fid1k_full",
                              "--cache-dir", str(tmp_path / "cache"))
    assert result.exit_code == 130, result.output
    (run_dir,) = (tmp_path / "runs").iterdir()
    note = said_once_as_note(result, log, "metrics are left out at this snapshot; to add them: ")
    assert note.endswith(f"stylegan2 metrics --network {run_dir / 'network-snapshot-000000-008.safetensors'} "
                         f"--metrics fid1k_full --run-dir {run_dir}")
