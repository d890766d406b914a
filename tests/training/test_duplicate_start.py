"""--resume auto does not start a second run of a job beside a live one that has no snapshot yet (a duplicate
submission before the first snapshot would train the job twice), nor beside a live start of the job that is still
setting its run up (two starts at once: `srun --ntasks=2`, a requeue racing the first start)."""

import json
import os
import re
import socket
import subprocess
import sys
import time

import pytest

from stylegan2.data import open_dataset
from stylegan2.training import loop
from stylegan2.training.config import resolve_options
from stylegan2.training.loop import TrainingError, train
from stylegan2.training.resume import check_resume, load_resume
from stylegan2.training.rundir import OWNER_FILE
from stylegan2.training.session import start_process

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


def claim_of(tmp_path, pid, **overrides):
    """The claim of a new run that a start of the job of `overrides` leaves in --outdir while it sets the run up, as
    process `pid` of this host."""
    load_resume(options(tmp_path, resume="auto", **overrides), "shapes", start_process("cpu", 0))
    (claim,) = (tmp_path / "runs").glob("start-*.lock")
    claim.write_text(json.dumps({**json.loads(claim.read_text()), "pid": pid, "process_start": None}))
    return claim


def test_of_two_first_starts_of_a_job_at_once_one_goes_on_and_the_other_gives_way(tmp_path, started_together):
    """Both find no snapshot before either goes on (`srun --ntasks=2 ... --resume auto`): the first claim wins."""
    winner, gave_way = started_together({**TINY, "outdir": str(tmp_path / "runs"), "kimg": 0.008, "resume": "auto"})
    assert gave_way.startswith(f"--resume auto: a new run of this job under {tmp_path / 'runs'} is about to be "
                               f"started by process {winner} on host {socket.gethostname()} (started ")


SECOND_START = """
import json, sys
from stylegan2.training.config import resolve_options
from stylegan2.training.loop import TrainingError, train
try:
    train(resolve_options("builtin:shapes?n=64", "cpu", 16, 1, json.loads(sys.argv[1])), device="cpu", log=lambda line: None)
    print("trained")
except TrainingError as err:
    print(err)
"""


def test_a_second_start_while_the_first_sets_its_run_up_gives_way_and_the_first_trains(tmp_path, one_thread,
                                                                                        monkeypatch):
    """The second start comes while the first builds its networks, minutes before its training.lock: its claim of the
    new run, made before that set-up, stops the second; its training.lock then speaks for the run instead."""
    said, held, make_phases = [], [], loop.make_phases
    overrides = {**TINY, "outdir": str(tmp_path / "runs"), "kimg": 0.008, "resume": "auto"}

    def setting_up(*args, **kwargs):
        held.extend(path.name for path in (tmp_path / "runs").glob("start-*.lock"))
        second = subprocess.run([sys.executable, "-c", SECOND_START, json.dumps(overrides)], capture_output=True,
                                text=True, timeout=120)
        said.append(second.stdout + second.stderr)
        return make_phases(*args, **kwargs)

    monkeypatch.setattr(loop, "make_phases", setting_up)
    run_dir = train(options(tmp_path, resume="auto"), device="cpu", log=lambda line: None)
    assert said[0].startswith(f"--resume auto: a new run of this job under {tmp_path / 'runs'} is about to be started "
                              f"by process {os.getpid()} on host {socket.gethostname()} (started "), said
    assert held == ["start-00000.lock"] and os.listdir(tmp_path / "runs") == [run_dir.name]
    assert list(run_dir.glob("network-snapshot-*")) and not (run_dir / OWNER_FILE).exists()


def test_resume_auto_refuses_a_new_run_that_a_live_process_of_its_job_claimed_first(tmp_path, one_thread, live_pid):
    claim = claim_of(tmp_path, live_pid)
    message = (rf"^--resume auto: a new run of this job under {re.escape(str(tmp_path / 'runs'))} is about to be "
               rf"started by process {live_pid} on host {re.escape(socket.gethostname())} \(started [-\d: ]+\), which "
               rf"claimed it first; wait for that process to end or stop it, or pass a file to --resume or another "
               rf"--outdir to start another run anyway \(if that process is gone, delete {re.escape(str(claim))}: after "
               rf"1 hour without a heartbeat it counts as gone\)$")
    with pytest.raises(TrainingError, match=message):
        train(options(tmp_path, resume="auto"), device="cpu", log=lambda line: None)
    assert os.listdir(tmp_path / "runs") == [claim.name]  # no run directory, and its own claim let go


def test_the_dry_run_refuses_a_new_run_that_a_live_process_of_its_job_claimed_as_the_run_does(tmp_path, one_thread,
                                                                                             live_pid):
    """--dry-run reads --outdir's claims without making one, so it says what the command would do."""
    claim = claim_of(tmp_path, live_pid)
    with pytest.raises(TrainingError) as checked:
        dry_run(tmp_path)
    assert os.listdir(tmp_path / "runs") == [claim.name]  # no claim of its own
    with pytest.raises(TrainingError) as refused:
        train(options(tmp_path, resume="auto"), device="cpu", log=lambda line: None)
    assert str(checked.value) == str(refused.value)
    assert str(refused.value).startswith(f"--resume auto: a new run of this job under {tmp_path / 'runs'} is about to "
                                         f"be started by process {live_pid} on host {socket.gethostname()} (started ")


def test_the_dry_run_is_not_stopped_by_a_live_claim_of_another_job(tmp_path, one_thread, live_pid):
    claim_of(tmp_path, live_pid, gamma=2.0)
    assert dry_run(tmp_path)[-1] == "no snapshot to continue: a new run starts"


def test_a_claim_that_a_dead_process_left_does_not_stop_a_new_run_and_is_removed(tmp_path, one_thread):
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    claim = claim_of(tmp_path, ended.pid)
    run_dir = train(options(tmp_path, resume="auto"), device="cpu", log=lambda line: None)
    assert os.listdir(tmp_path / "runs") == [run_dir.name] and not claim.exists()


def test_a_live_claim_of_another_job_does_not_stop_a_new_run(tmp_path, one_thread, live_pid):
    claim = claim_of(tmp_path, live_pid, gamma=2.0)
    run_dir = train(options(tmp_path, resume="auto"), device="cpu", log=lambda line: None)
    assert sorted(os.listdir(tmp_path / "runs")) == sorted([run_dir.name, claim.name])


def test_a_run_without_resume_auto_does_not_look_at_claims(tmp_path, one_thread, live_pid):
    claim = claim_of(tmp_path, live_pid)
    run_dir = train(options(tmp_path), device="cpu", log=lambda line: None)
    assert sorted(os.listdir(tmp_path / "runs")) == sorted([run_dir.name, claim.name])


def interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def fail(*args, **kwargs):
    raise ValueError("x.png: cannot decode image")


@pytest.mark.parametrize("ending, raises", [(interrupt, KeyboardInterrupt), (fail, ValueError)])
def test_a_start_that_ends_during_its_set_up_lets_its_claim_go(tmp_path, one_thread, monkeypatch, ending, raises):
    """Ctrl-C or an error while the networks are built: the claim held until then goes, and with it the --outdir it
    made, which nothing else filled (nothing was written)."""
    held = []

    def setting_up(*args, **kwargs):
        held.extend(path.name for path in (tmp_path / "runs").glob("start-*.lock"))
        ending()

    monkeypatch.setattr(loop, "make_phases", setting_up)
    with pytest.raises(raises):
        train(options(tmp_path, resume="auto"), device="cpu", log=lambda line: None)
    assert held == ["start-00000.lock"] and not (tmp_path / "runs").exists()
