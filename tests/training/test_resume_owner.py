"""--resume auto never forks a run that a live process still trains (training.lock), and of two runs of one job it
continues the one further along."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stylegan2.data import open_dataset
from stylegan2.training import resume, rundir
from stylegan2.training.config import resolve_options
from stylegan2.training.loop import TrainingError, train
from stylegan2.training.resume import check_resume
from stylegan2.training.rundir import OWNER_FILE, claim_run_dir, latest_snapshot, run_kind

TINY = dict(clusters=0, cbase=128, cmax=16, z_dim=16, w_dim=16, map=2, batch=8, workers=0, aug="noaug", tick=0.008, snap=1)


def options(tmp_path, **overrides):
    return resolve_options("builtin:shapes?n=64", "cpu", 16, 1, {**TINY, "outdir": str(tmp_path / "runs"), "kimg": 0.016, **overrides})


def dry_run(tmp_path, **overrides):
    """What --dry-run says: check_resume's notes."""
    return check_resume(options(tmp_path, resume="auto", **overrides), open_dataset("builtin:shapes?n=64", resolution=16))[1]


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def lock(run_dir, *, pid, host=None, resumed=None, job=None, instance=None, process_start=None):
    """Write `run_dir`'s training.lock as the process `pid` on `host` (this one by default) of `job` (its restart
    counts `instance`), which started at `process_start` (None: not told), writes it."""
    record = {"host": host or socket.gethostname(), "pid": pid, "started": time.time(), "resumed": resumed, "job": job,
              "instance": instance, "process_start": process_start}
    (run_dir / OWNER_FILE).write_text(json.dumps(record))
    return run_dir / OWNER_FILE


def test_a_run_holds_its_lock_while_it_trains_touches_it_and_removes_it_at_the_end(tmp_path, one_thread, monkeypatch):
    monkeypatch.setattr(rundir, "HEARTBEAT_S", 0.01)  # touched every 10 ms
    seen = []

    def log(line):
        runs = list((tmp_path / "runs").glob(f"*/{OWNER_FILE}"))
        if line.startswith("Run directory:"):
            os.utime(runs[0], (0, 0))  # as if not touched since 1970
        if line.startswith("Saved"):
            seen.append((json.loads(runs[0].read_text()), runs[0].stat().st_mtime))

    run_dir = train(options(tmp_path, kimg=0.008), device="cpu", log=log)
    record, touched = seen[0]
    assert (record["host"], record["pid"], record["resumed"]) == (socket.gethostname(), os.getpid(), None)
    assert time.time() - touched < 60
    assert not (run_dir / OWNER_FILE).exists()


def test_resume_auto_refuses_a_run_that_a_live_process_trains(tmp_path, one_thread, live_pid):
    run_dir = train(options(tmp_path, kimg=0.008), device="cpu", log=lambda line: None)
    lock(run_dir, pid=live_pid)
    before = sorted((tmp_path / "runs").iterdir())
    message = (rf"^--resume auto: the run it would continue, {run_dir}, is still being trained by process {live_pid} on "
               rf"host {socket.gethostname()} \(started [-\d: ]+\); wait for that process to end or stop it, or pass a "
               rf"snapshot to --resume to start from that file anyway \(if that process is gone, delete "
               rf"{run_dir / OWNER_FILE}: after 1 hour without a heartbeat it counts as gone\)$")
    with pytest.raises(TrainingError, match=message):
        train(options(tmp_path, resume="auto"), device="cpu", log=lambda line: None)
    with pytest.raises(TrainingError, match=message):
        dry_run(tmp_path)
    assert sorted((tmp_path / "runs").iterdir()) == before  # no run directory made


def test_resume_auto_refuses_a_run_that_a_live_process_continues_elsewhere(tmp_path, one_thread, live_pid):
    """A duplicate job that resumed the run and has not written its first snapshot yet."""
    run_dir = train(options(tmp_path, kimg=0.008), device="cpu", log=lambda line: None)
    twin = tmp_path / "runs" / run_dir.name.replace("00000", "00001")
    twin.mkdir()
    shutil.copy(run_dir / "training_options.json", twin)
    lock(twin, pid=live_pid, resumed=str(run_dir / "network-snapshot-000000-008.safetensors"))
    with pytest.raises(TrainingError, match=rf"is still being trained by process {live_pid} .*, which continues it in "
                                            rf"{twin.name}; wait for that process"):
        dry_run(tmp_path)


def test_a_lock_left_by_a_killed_process_is_passed_with_a_note(tmp_path, one_thread):
    run_dir = train(options(tmp_path, kimg=0.008), device="cpu", log=lambda line: None)
    pid = dead_pid()
    lock(run_dir, pid=pid)
    lines = []
    train(options(tmp_path, resume="auto"), device="cpu", log=lines.append)
    assert f"Resuming from {run_dir / 'network-snapshot-000000-008.safetensors'}: continuing the run" in lines
    assert any(line.startswith(f"Resume auto: {run_dir.name} was left by process {pid} on host {socket.gethostname()} "
                               "(started ") and line.endswith("), which is gone (killed?): continuing it") for line in lines)


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="no /proc: the pid alone names the owner")
def test_a_lock_whose_pid_now_names_another_process_is_passed_with_a_note_that_says_so(tmp_path, one_thread, live_pid):
    run_dir = train(options(tmp_path, kimg=0.008), device="cpu", log=lambda line: None)
    lock(run_dir, pid=live_pid, process_start=rundir.process_start(live_pid) + 1)  # written by the pid's earlier owner
    notes = dry_run(tmp_path)
    assert f"continues {run_dir / 'network-snapshot-000000-008.safetensors'}" in notes
    assert any(note.startswith(f"{run_dir.name} was left by process {live_pid} on host {socket.gethostname()} ")
               and note.endswith("), which is gone (its pid now names another process): continuing it") for note in notes)


def test_another_hosts_lock_counts_until_its_heartbeat_is_an_hour_old(tmp_path, one_thread):
    """A pid on another host cannot be asked: the file's modification time says whether its owner lives."""
    run_dir = train(options(tmp_path, kimg=0.008), device="cpu", log=lambda line: None)
    held = lock(run_dir, pid=1, host="elsewhere.invalid")
    with pytest.raises(TrainingError, match=r"is still being trained by process 1 on host elsewhere\.invalid"):
        dry_run(tmp_path)
    two_hours_ago = time.time() - 7200
    os.utime(held, (two_hours_ago, two_hours_ago))
    notes = dry_run(tmp_path)
    assert f"continues {run_dir / 'network-snapshot-000000-008.safetensors'}" in notes
    assert any(note.startswith(f"{run_dir.name} was left by process 1 on host elsewhere.invalid") for note in notes)


def test_a_requeued_job_continues_the_run_its_earlier_instance_left_on_another_host(tmp_path, one_thread, monkeypatch):
    """SLURM requeues a preempted job under its job id, often on another node at once: the lock its killed first
    instance left (heartbeat fresh, pid not askable) is that job's own, not another live trainer's."""
    run_dir = train(options(tmp_path, kimg=0.008), device="cpu", log=lambda line: None)
    lock(run_dir, pid=1, host="elsewhere.invalid", job="SLURM_JOB_ID=4242", instance=[0, 0])
    monkeypatch.delenv("TORCHELASTIC_RESTART_COUNT", raising=False)
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    monkeypatch.setenv("SLURM_JOB_ID", "4243")  # another job: refused
    with pytest.raises(TrainingError, match=r"is still being trained by process 1 on host elsewhere\.invalid"):
        dry_run(tmp_path)
    monkeypatch.setenv("SLURM_JOB_ID", "4242")  # the same job, requeued: SLURM counts its restarts
    notes = dry_run(tmp_path)
    assert f"continues {run_dir / 'network-snapshot-000000-008.safetensors'}" in notes
    assert any(note.startswith(f"{run_dir.name} was left by process 1 on host elsewhere.invalid") and
               note.endswith("which is an earlier instance of this job: continuing it") for note in notes)
    recorded = json.loads(claim_run_dir(tmp_path, None).read_text())  # what a lock records
    assert (recorded["job"], recorded["instance"]) == ("SLURM_JOB_ID=4242", [1, 0])


def test_a_run_continued_under_another_mount_path_is_still_recognised(tmp_path, one_thread, live_pid):
    """Hosts that mount the shared disk at different paths: the lock names the run it continues by its name in
    --outdir, not only by the absolute path the writing host saw."""
    mount = tmp_path / "mount-a"
    run_dir = train(options(mount, kimg=0.008), device="cpu", log=lambda line: None)
    twin = run_dir.parent / run_dir.name.replace("00000", "00001")
    twin.mkdir()
    shutil.copy(run_dir / "training_options.json", twin)
    held = claim_run_dir(twin, run_dir / "network-snapshot-000000-008.safetensors")
    record = json.loads(held.read_text())
    held.write_text(json.dumps({**record, "pid": live_pid, "process_start": None}))  # the other host's live trainer
    (tmp_path / "mount-a").rename(tmp_path / "mount-b")  # this host sees the disk at another path
    with pytest.raises(TrainingError, match=rf"is still being trained by process {live_pid} .*, which continues it in "
                                            rf"{twin.name}; wait for that process"):
        dry_run(tmp_path / "mount-b")


def test_of_two_jobs_that_start_together_one_continues_the_run_and_the_other_gives_way(tmp_path, one_thread,
                                                                                       started_together):
    """Two `--resume auto` jobs that find the same snapshot at once (a duplicate submission): the continuation is
    claimed before the minutes of set-up that come before training.lock, so only one of them continues it."""
    run_dir = train(options(tmp_path, kimg=0.008), device="cpu", log=lambda line: None)
    winner, gave_way = started_together({**TINY, "outdir": str(tmp_path / "runs"), "kimg": 0.016, "resume": "auto"})
    assert gave_way.startswith(f"--resume auto: the run it would continue, {run_dir}, is about to be continued by "
                               f"process {winner} on host {socket.gethostname()} (started ")
    assert ", which claimed it first; wait for that process to end or stop it" in gave_way


def test_a_claim_is_held_while_the_run_sets_up_and_let_go_once_it_holds_its_lock(tmp_path, one_thread, monkeypatch):
    """The continuing run's training.lock says what its claim said; no claim stays behind to refuse later jobs."""
    run_dir = train(options(tmp_path, kimg=0.008), device="cpu", log=lambda line: None)
    held, read = [], resume.read_resume

    def reading(*args, **kwargs):  # the set-up after --resume auto chose the run
        held.extend(run_dir.glob("continue-*.lock"))
        return read(*args, **kwargs)

    monkeypatch.setattr(resume, "read_resume", reading)
    train(options(tmp_path, resume="auto"), device="cpu", log=lambda line: None)
    assert len(held) == 1 and not list(run_dir.glob("continue-*.lock"))


def test_a_run_whose_set_up_fails_lets_its_claim_go_at_once(tmp_path, one_thread, monkeypatch):
    """A failure between the claim and training.lock (here in building the phases) ends the claim with the call, not
    when the error is garbage (a notebook keeps the last traceback, and with it the claim, which refused later jobs)."""
    run_dir = train(options(tmp_path, kimg=0.008), device="cpu", log=lambda line: None)
    monkeypatch.setattr("stylegan2.training.loop.make_phases", lambda *args, **kwargs: 1 / 0)
    with pytest.raises(ZeroDivisionError) as failed:
        train(options(tmp_path, resume="auto"), device="cpu", log=lambda line: None)
    assert failed.traceback and not list(run_dir.glob("continue-*.lock"))  # the traceback is still held here


def test_resume_auto_continues_the_run_furthest_along_and_names_the_newer_one(tmp_path, one_thread):
    """Two jobs continued one run (a duplicate submission): the newer run number holds less of the work."""
    first = train(options(tmp_path, kimg=0.024), device="cpu", log=lambda line: None)
    forked = train(options(tmp_path, kimg=0.016, resume=str(first / "network-snapshot-000000-008.safetensors")),
                   device="cpu", log=lambda line: None)
    assert latest_snapshot(tmp_path / "runs", run_kind("shapes", "cpu")) == (first / "network-snapshot-000000-024.safetensors", [])
    notes = dry_run(tmp_path, kimg=0.032)
    assert notes[-1] == f"continues {first / 'network-snapshot-000000-024.safetensors'}"
    assert (f"continues {first.name}, the run furthest along (0.024 kimg); the newer run {forked.name} is at 0.016 kimg "
            f"(give {forked / 'network-snapshot-000000-016.safetensors'} to --resume to continue that one)") in notes


@pytest.fixture
def unwritable(monkeypatch):
    """Make a folder that this process cannot write to, as `chmod a-w` does for a user (root passes that, so the
    calls are refused here): `unwritable(folder)`."""
    folders, create, access = [], os.open, os.access

    def refused(path, flags, *args, **kwargs):
        if flags & os.O_CREAT and Path(path).parent in folders:
            raise PermissionError(13, "Permission denied", str(path))
        return create(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refused)
    monkeypatch.setattr(os, "access", lambda path, mode, **kwargs: not (mode & os.W_OK and Path(path) in folders)
                        and access(path, mode, **kwargs))
    return folders.append


UNCLAIMED = ("cannot claim {} (Permission denied): continuing it without a claim, so a job that starts to continue it "
             "at the same moment is not stopped")


def test_a_run_that_cannot_be_written_to_is_continued_without_a_claim_with_a_note(tmp_path, one_thread, unwritable):
    """A finished run made read-only, a colleague's run in a shared --outdir: continuing it reads it only, as before
    claims were made; the note says that a duplicate started at the same moment is not stopped. --dry-run says so."""
    run_dir = train(options(tmp_path, kimg=0.008), device="cpu", log=lambda line: None)
    unwritable(run_dir)
    assert UNCLAIMED.format(run_dir.name) in dry_run(tmp_path)
    lines = []
    continued = train(options(tmp_path, resume="auto"), device="cpu", log=lines.append)
    assert f"Resume auto: {UNCLAIMED.format(run_dir.name)}" in lines
    assert list(continued.glob("network-snapshot-*")) and not list(run_dir.glob("continue-*"))


def test_a_run_that_cannot_be_written_to_is_still_refused_while_a_live_process_claimed_it(tmp_path, one_thread,
                                                                                           live_pid, unwritable):
    """Its owner (who can write to it) claimed it a moment ago: every live claim was made before this process's,
    which it cannot make."""
    run_dir = train(options(tmp_path, kimg=0.008), device="cpu", log=lambda line: None)
    claim = lock(run_dir, pid=live_pid).rename(run_dir / "continue-00000.lock")
    unwritable(run_dir)
    with pytest.raises(TrainingError, match=rf"is about to be continued by process {live_pid} on host "):
        train(options(tmp_path, resume="auto"), device="cpu", log=lambda line: None)
    assert claim.exists() and sorted(path.name for path in (tmp_path / "runs").iterdir()) == [run_dir.name]


def test_the_dry_run_refuses_a_run_that_a_live_process_claimed_as_the_run_does(tmp_path, one_thread, live_pid):
    """--dry-run reads the claims without making one, so it says what the command would do; it removes none."""
    run_dir = train(options(tmp_path, kimg=0.008), device="cpu", log=lambda line: None)
    lock(run_dir, pid=live_pid).rename(run_dir / "continue-00001.lock")
    lock(run_dir, pid=dead_pid()).rename(run_dir / "continue-00000.lock")
    with pytest.raises(TrainingError) as checked:
        dry_run(tmp_path)
    assert sorted(path.name for path in run_dir.glob("continue-*")) == ["continue-00000.lock", "continue-00001.lock"]
    with pytest.raises(TrainingError) as refused:
        train(options(tmp_path, resume="auto"), device="cpu", log=lambda line: None)
    assert str(checked.value) == str(refused.value)
    assert str(refused.value).startswith(f"--resume auto: the run it would continue, {run_dir}, is about to be "
                                         f"continued by process {live_pid} on host {socket.gethostname()} (started ")


def test_a_claim_still_being_written_is_said_to_count_as_gone_after_a_minute(tmp_path, one_thread):
    """An unreadable claim (made this moment, its line not written yet) stops a run for a minute, not for the hour a
    claim of a process on another host counts: the refusal says the wait of its case."""
    run_dir = train(options(tmp_path, kimg=0.008), device="cpu", log=lambda line: None)
    (run_dir / "continue-00000.lock").touch()
    message = (rf"is about to be continued by another process, which claimed it first; .* \(if that process is gone, "
               rf"delete {run_dir / 'continue-00000.lock'}: a claim still being written counts as gone "
               r"60 seconds after it was made\)$")
    with pytest.raises(TrainingError, match=message):
        train(options(tmp_path, resume="auto"), device="cpu", log=lambda line: None)


def test_a_requeue_continues_the_run_that_an_older_versions_lock_of_its_job_names_on_another_host(tmp_path, one_thread,
                                                                                                monkeypatch):
    """A job preempted while the older version trained (its lock records no restart counts), requeued on another node
    after an upgrade: the lock is its first instance's, passed as the older version passed it."""
    run_dir = train(options(tmp_path, kimg=0.008), device="cpu", log=lambda line: None)
    lock(run_dir, pid=4242, host="elsewhere.invalid", job="SLURM_JOB_ID=5")
    monkeypatch.delenv("TORCHELASTIC_RESTART_COUNT", raising=False)
    monkeypatch.setenv("SLURM_JOB_ID", "5")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    notes = dry_run(tmp_path)
    assert f"continues {run_dir / 'network-snapshot-000000-008.safetensors'}" in notes
    assert any(note.startswith(f"{run_dir.name} was left by process 4242 on host elsewhere.invalid") and
               note.endswith("which is an earlier instance of this job: continuing it") for note in notes)
