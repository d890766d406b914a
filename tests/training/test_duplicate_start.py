"""--resume auto does not start a second run of a job beside a live one that has no snapshot yet (a duplicate
submission before the first snapshot would train the job twice)."""

import json
import re
import socket
import subprocess
import sys
import time

import pytest

from stylegan2.data import open_dataset
from stylegan2.training.config import resolve_options
from stylegan2.training.loop import TrainingError, train
from stylegan2.training.resume import check_resume
from stylegan2.training.rundir import OWNER_FILE

TINY = dict(clusters=0, cbase=128, cmax=16, z_dim=16, w_dim=16, map=2, batch=8, workers=0, aug="noaug", tick=0.008, snap=1)


def options(tmp_path, **overrides):
    return resolve_options("builtin:shapes?n=64", "cpu", 16, 1, {**TINY, "outdir": str(tmp_path / "runs"), "kimg": 0.008, **overrides})


def dry_run(tmp_path, **overrides):
    """What --dry-run says: check_resume's notes."""
    return check_resume(options(tmp_path, resume="auto", **overrides), open_dataset("builtin:shapes?n=64", resolution=16))[1]


def run_in_its_first_minutes(tmp_path, pid, **overrides):
    """A run directory as a run of `overrides` leaves it before its first snapshot, its training.lock naming `pid`."""
    run_dir = train(options(tmp_path, **overrides), device="cpu", log=lambda line: None)
    for snapshot in run_dir.glob("network-snapshot-*"):
        snapshot.unlink()
    record = {"host": socket.gethostname(), "pid": pid, "started": time.time(), "resumed": None}
    (run_dir / OWNER_FILE).write_text(json.dumps(record))
    return run_dir


def test_resume_auto_refuses_to_start_beside_a_live_run_of_its_job_without_a_snapshot(tmp_path, one_thread, live_pid):
    run_dir = run_in_its_first_minutes(tmp_path, live_pid)
    before = sorted((tmp_path / "runs").iterdir())
    message = (rf"^--resume auto: {re.escape(str(run_dir))}, a run of this job with no snapshot yet, is being trained "
               rf"by process {live_pid} on host {re.escape(socket.gethostname())} \(started [-\d: ]+\); wait for that "
               rf"process to end or stop it, or pass a file to --resume or another --outdir to start another run anyway "
               rf"\(if that process is gone, delete {re.escape(str(run_dir / OWNER_FILE))}: after 1 hour without a "
               rf"heartbeat it counts as gone\)$")
    with pytest.raises(TrainingError, match=message):
        train(options(tmp_path, resume="auto"), device="cpu", log=lambda line: None)
    with pytest.raises(TrainingError, match=message):
        dry_run(tmp_path)
    assert sorted((tmp_path / "runs").iterdir()) == before  # no run directory made


def test_a_run_without_a_snapshot_that_a_dead_process_left_does_not_stop_a_new_run(tmp_path, one_thread):
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    run_in_its_first_minutes(tmp_path, ended.pid)
    assert dry_run(tmp_path)[-1] == "no snapshot to continue: a new run starts"
    assert train(options(tmp_path, resume="auto"), device="cpu", log=lambda line: None).name.startswith("00001-")


def test_a_live_run_of_another_job_does_not_stop_a_new_run(tmp_path, one_thread, live_pid):
    run_in_its_first_minutes(tmp_path, live_pid, gamma=2.0)
    assert dry_run(tmp_path)[-1] == "no snapshot to continue: a new run starts"
