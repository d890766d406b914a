"""Who counts as a live owner of a training.lock: on this host its process decides, and a lock of this process's own
job passes only when an earlier instance of the job left it; a launch without --rdzv-id is named by its endpoint."""

import ctypes
import dataclasses
import errno
import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from stylegan2.training import rundir
from stylegan2.training.launch import ProcessLayout
from stylegan2.training.rundir import RunOwner, job_id


@pytest.fixture(autouse=True)
def no_job(monkeypatch):
    """Each test sets the scheduler's variables it needs, none inherited from the machine that runs it."""
    for name in ("SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID", "TORCHELASTIC_RUN_ID", "SLURM_RESTART_COUNT",
                 "TORCHELASTIC_RESTART_COUNT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def claims_let_go(tmp_path):
    """The claims a test makes are let go at its end, as `claims_released` lets a run's go: no heartbeat outlives it."""
    yield
    for folder in {tmp_path, *tmp_path.iterdir()}:
        rundir.release_claims(folder)


def owner(pid, *, host=None, job=None, **instance):
    """The owner a lock names: `instance=(SLURM's restarts, torchrun's)` where it records them."""
    return RunOwner(host=host or socket.gethostname(), pid=pid, started=time.time(), resumed=None,
                    heartbeat=time.time(), job=job, **instance)


def test_a_live_trainer_of_the_same_job_on_this_host_is_alive(live_pid, monkeypatch):
    """Two trainers in one SLURM allocation: the other's live pid decides, not the job id they share."""
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    assert owner(live_pid, job="SLURM_JOB_ID=42").alive()


def test_the_same_instance_of_the_job_on_another_host_is_alive(monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    assert owner(1, host="elsewhere.invalid", job="SLURM_JOB_ID=42", instance=(0, 0)).alive()
    assert owner(1, host="elsewhere.invalid", job="SLURM_JOB_ID=42").alive()  # an older lock: no instance to compare


@pytest.mark.parametrize("restart", ["SLURM_RESTART_COUNT", "TORCHELASTIC_RESTART_COUNT"])
def test_an_older_versions_lock_of_the_job_on_another_host_is_passed_by_a_requeue(monkeypatch, restart):
    """A lock written before locks recorded restart counts (a job preempted while the older version ran, requeued on
    another node after an upgrade) is its job's first instance: a requeue passes it, as the older version did."""
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    left = owner(1, host="elsewhere.invalid", job="SLURM_JOB_ID=42")
    assert left.alive()  # this process is the job's first instance too: a second trainer of the allocation
    monkeypatch.setenv(restart, "1")
    assert left.earlier_instance() and not left.alive()
    assert owner(1, host="elsewhere.invalid", job="SLURM_JOB_ID=43").alive()  # another job


@pytest.mark.parametrize("restart", ["SLURM_RESTART_COUNT", "TORCHELASTIC_RESTART_COUNT"])
def test_an_earlier_instance_of_the_job_on_another_host_is_gone(monkeypatch, restart):
    """A SLURM requeue on another node, or a torchrun restart that put rank 0 on another node."""
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv(restart, "1")
    left = owner(1, host="elsewhere.invalid", job="SLURM_JOB_ID=42", instance=(0, 0))
    assert left.earlier_instance() and not left.alive()
    assert owner(1, host="elsewhere.invalid", job="SLURM_JOB_ID=43", instance=(0, 0)).alive()  # another job


def test_a_launch_without_rdzv_id_is_named_by_its_endpoint_so_its_restarts_are_its_own(monkeypatch):
    """Two multi-node launches without --rdzv-id are two jobs (they met as 'stylegan2-2nodes' alike), while a torchrun
    restart of one, which put rank 0 on the other machine, still passes the lock its earlier instance left."""
    two = ProcessLayout(nnodes=2, nproc_per_node=1, rdzv_endpoint="10.1.0.7:29400")
    other = dataclasses.replace(two, rdzv_endpoint="10.1.0.8")
    assert two.run_id() == "stylegan2-2nodes-10.1.0.7-29400" != other.run_id()
    assert dataclasses.replace(two, rdzv_id="exp7").run_id() == "exp7-2nodes"  # a name the user gave
    assert ProcessLayout(nnodes=1, nproc_per_node=2).run_id() != ProcessLayout(nnodes=1, nproc_per_node=2).run_id()
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", two.run_id())
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")
    assert job_id() == f"TORCHELASTIC_RUN_ID={two.run_id()}"
    assert not owner(1, host="elsewhere.invalid", job=job_id(), instance=(0, 0)).alive()  # its earlier instance
    assert owner(1, host="elsewhere.invalid", job=f"TORCHELASTIC_RUN_ID={other.run_id()}", instance=(0, 0)).alive()


def test_a_claim_of_a_live_process_made_first_wins(tmp_path, live_pid):
    snapshot = tmp_path / "00000-shapes-cpu" / "network-snapshot-000000-008.safetensors"
    snapshot.parent.mkdir()
    first = rundir.claim_continuation(snapshot)
    first.write_text(first.read_text().replace(f'"pid": {os.getpid()}', f'"pid": {live_pid}')
                     .replace('"process_start"', '"was_process_start"'))
    second = rundir.claim_continuation(snapshot)
    assert (first.name, second.name) == ("continue-00000.lock", "continue-00001.lock")
    found = rundir.earlier_claim(second)
    assert found is not None and found[0] == first and found[1].pid == live_pid
    assert rundir.earlier_claim(first) is None


def test_a_live_claim_that_is_no_rival_is_passed_and_kept(tmp_path, live_pid):
    """A new run's claim of another job in the same --outdir (a sweep): its owner lives, but it competes with nothing."""
    first = rundir.claim_start(tmp_path, {"gamma": 2.0})
    first.write_text(json.dumps({**json.loads(first.read_text()), "pid": live_pid, "process_start": None}))
    second = rundir.claim_start(tmp_path, {"gamma": 8.0})
    assert (first.name, second.name) == ("start-00000.lock", "start-00001.lock")
    assert rundir.claimed_options(first) == {"gamma": 2.0}
    assert rundir.earlier_claim(second, rival=lambda claim: rundir.claimed_options(claim) == {"gamma": 8.0}) is None
    assert first.exists()
    found = rundir.earlier_claim(second)
    assert found is not None and found[0] == first and found[1].pid == live_pid


def test_a_process_without_a_claim_reads_every_live_claim_and_removes_none(tmp_path, live_pid):
    """--dry-run, or a run this process cannot write to: any live claim counts (each was made before one not made
    yet); a dead owner's claim is passed but left, for a process with a claim of its own to remove."""
    snapshot = tmp_path / "00000-shapes-cpu" / "network-snapshot-000000-008.safetensors"
    snapshot.parent.mkdir()
    dead, live = rundir.claim_continuation(snapshot), rundir.claim_continuation(snapshot)
    dead.write_text(json.dumps({**json.loads(dead.read_text()), "pid": dead_pid(), "process_start": None}))
    assert rundir.live_claim(snapshot.parent, rundir.CLAIM_PREFIX) is None  # this process's own claim is no rival
    live.write_text(json.dumps({**json.loads(live.read_text()), "pid": live_pid, "process_start": None}))
    found = rundir.live_claim(snapshot.parent, rundir.CLAIM_PREFIX)
    assert found is not None and found[0] == live and found[1].pid == live_pid and dead.exists()
    assert rundir.live_claim(snapshot.parent, rundir.START_PREFIX) is None  # a new run's claims are others


def test_an_unreadable_claim_counts_for_a_minute_then_is_gone(tmp_path):
    """A claim whose line is not written yet (made this moment) counts; one that stays unreadable was left by a
    process killed between the two steps."""
    made = tmp_path / "continue-00000.lock"
    made.touch()
    assert rundir.live_claim(tmp_path, rundir.CLAIM_PREFIX) == (made, None)
    a_while_ago = time.time() - rundir.UNWRITTEN_CLAIM_S - 1
    os.utime(made, (a_while_ago, a_while_ago))
    assert rundir.live_claim(tmp_path, rundir.CLAIM_PREFIX) is None


def test_a_claim_is_touched_while_its_process_sets_up_and_let_go_with_its_heartbeat(tmp_path, monkeypatch):
    """A set-up longer than an hour (clustering a large dataset) keeps its claim on another host: the claim is touched
    as training.lock is, and release_claims stops the touches and removes it (reviewer34's leftover)."""
    monkeypatch.setattr(rundir, "HEARTBEAT_S", 0.02)
    claim = rundir.claim_start(tmp_path, {"gamma": 2.0})
    long_ago = time.time() - rundir.OWNER_STALE_AFTER_S - 10
    os.utime(claim, (long_ago, long_ago))
    deadline = time.monotonic() + 10
    while claim.stat().st_mtime < long_ago + 60 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert dataclasses.replace(rundir._read_owner(claim), host="elsewhere.invalid").alive()  # fresh again
    rundir.release_claims(tmp_path)
    assert not claim.exists()
    assert not [thread for thread in threading.enumerate() if thread.name == f"heartbeat of {claim}"]


@pytest.mark.parametrize("pid", [0, -1, 10**20])
def test_a_record_with_an_impossible_pid_is_read_as_unreadable(tmp_path, pid):
    """pid 0 and -1 name a process group to os.kill (so counted as a live owner for an hour), and a huge one overflowed
    into a traceback (qa-retest34 L3): a claim with one counts for a minute like any unreadable claim, a lock is none."""
    claim = rundir.claim_start(tmp_path, {"gamma": 2.0})
    claim.write_text(json.dumps({**json.loads(claim.read_text()), "pid": pid}))
    (tmp_path / rundir.OWNER_FILE).write_text(claim.read_text())
    assert rundir.run_owner(tmp_path) is None
    assert rundir.live_claim(tmp_path, rundir.START_PREFIX) == (claim, None)
    a_while_ago = time.time() - rundir.UNWRITTEN_CLAIM_S - 1
    os.utime(claim, (a_while_ago, a_while_ago))
    assert rundir.live_claim(tmp_path, rundir.START_PREFIX) is None


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# Windows' values, as its documentation gives them: the access asked, a running process's exit code, the errors.
PROCESS_QUERY_LIMITED_INFORMATION, STILL_ACTIVE, ERROR_ACCESS_DENIED, ERROR_INVALID_PARAMETER = 0x1000, 259, 5, 87


class FakeKernel32:
    """Windows' kernel32 as `rundir._windows_process` calls it, over a table of processes: pid -> (exit code, creation
    time); pids in `denied` exist but may not be opened. Records the handles it gave and those closed."""

    def __init__(self, processes, denied=()):
        self.processes, self.denied, self.error, self.opened, self.closed = processes, set(denied), 0, [], []

    def OpenProcess(self, access, inherit, pid):
        assert access == PROCESS_QUERY_LIMITED_INFORMATION and not inherit
        if pid in self.denied or pid not in self.processes:
            self.error = ERROR_ACCESS_DENIED if pid in self.denied else ERROR_INVALID_PARAMETER
            return 0
        self.opened.append(1000 + pid)
        return 1000 + pid

    def GetExitCodeProcess(self, handle, code):
        code._obj.value = self.processes[handle - 1000][0]
        return 1

    def GetProcessTimes(self, handle, creation, exit_time, kernel_time, user_time):
        created = self.processes[handle - 1000][1]
        creation._obj.low, creation._obj.high = created & 0xFFFFFFFF, created >> 32
        return 1

    def CloseHandle(self, handle):
        self.closed.append(handle)
        return 1


@pytest.fixture
def windows(monkeypatch):
    """This machine as Windows, its processes those of a FakeKernel32 that the test fills: os.getpid()'s runs."""
    kernel32 = FakeKernel32({os.getpid(): (STILL_ACTIVE, 133_000_000_000_000_001)})
    monkeypatch.setattr(rundir, "ON_WINDOWS", True, raising=False)
    monkeypatch.setattr(rundir, "_kernel32", lambda: kernel32, raising=False)
    monkeypatch.setattr(ctypes, "get_last_error", lambda: kernel32.error, raising=False)
    return kernel32


def test_on_windows_a_running_process_that_started_when_the_lock_says_is_alive(windows):
    windows.processes[4242] = (STILL_ACTIVE, 2**40 + 7)
    assert rundir.process_start(4242) == 2**40 + 7  # both halves of its FILETIME
    assert owner(4242, process_start=2**40 + 7).alive()
    assert windows.closed == windows.opened  # every handle opened is closed


def test_on_windows_a_process_that_ended_is_gone_though_still_known(windows):
    """A process whose handle another holds stays known after it ended: its exit code says so, not OpenProcess."""
    windows.processes[os.getppid()] = (0, 2**40)  # a live process here, one that ended on "Windows"
    assert not owner(os.getppid(), process_start=2**40).alive() and rundir.process_start(os.getppid()) is None


def test_on_windows_a_pid_of_no_process_is_gone(windows):
    assert not owner(os.getppid(), process_start=None).alive()  # a live process here, none on "Windows"


def test_on_windows_a_process_that_may_not_be_opened_exists(windows):
    """Another user's protected process: OpenProcess refuses it (access denied), so it is there."""
    windows.denied.add(4242)
    assert owner(4242).alive() and rundir.process_start(4242) is None


def test_on_windows_a_pid_given_to_a_later_process_is_a_dead_owners(windows):
    """Windows gives pids out again soon: the lock's creation time tells the process that wrote it."""
    windows.processes[4242] = (STILL_ACTIVE, 2**40 + 1)
    left = owner(4242, process_start=2**40)
    assert left.pid_reused() and not left.alive()


def test_on_windows_a_lock_records_its_process_creation_time(tmp_path, windows):
    recorded = json.loads(rundir.claim_run_dir(tmp_path, None).read_text())["process_start"]
    assert recorded == 133_000_000_000_000_001


def test_a_claim_the_disk_cannot_write_is_removed_and_the_error_names_it(tmp_path, monkeypatch, full_disk_file):
    """Left empty, it would read as a claim still being written by another process: this job's next start (the disk
    freed) would be refused for a minute, and this process would refuse itself."""
    snapshot = tmp_path / "00000-shapes-cpu" / "network-snapshot-000000-008.safetensors"
    snapshot.parent.mkdir()
    with monkeypatch.context() as full, pytest.raises(OSError) as raised:
        full.setattr(os, "fdopen", lambda fd, *args, **kwargs: full_disk_file(fd))
        rundir.claim_continuation(snapshot)
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(snapshot.parent / "continue-00000.lock")
    assert list(snapshot.parent.iterdir()) == []
    assert rundir.claim_continuation(snapshot).name == "continue-00000.lock"
    assert rundir.live_claim(snapshot.parent, rundir.CLAIM_PREFIX) is None
