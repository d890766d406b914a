"""Who counts as a live owner of a training.lock: on this host its process decides, and a lock of this process's own
job passes only when an earlier instance of the job left it; our default rendezvous id names no job."""

import os
import socket
import time

import pytest

from stylegan2.training import rundir
from stylegan2.training.rundir import RunOwner, job_id


@pytest.fixture(autouse=True)
def no_job(monkeypatch):
    """Each test sets the scheduler's variables it needs, none inherited from the machine that runs it."""
    for name in ("SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID", "TORCHELASTIC_RUN_ID", "SLURM_RESTART_COUNT",
                 "TORCHELASTIC_RESTART_COUNT"):
        monkeypatch.delenv(name, raising=False)


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
def test_an_earlier_instance_of_the_job_on_another_host_is_gone(monkeypatch, restart):
    """A SLURM requeue on another node, or a torchrun restart that put rank 0 on another node."""
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv(restart, "1")
    left = owner(1, host="elsewhere.invalid", job="SLURM_JOB_ID=42", instance=(0, 0))
    assert left.earlier_instance() and not left.alive()
    assert owner(1, host="elsewhere.invalid", job="SLURM_JOB_ID=43", instance=(0, 0)).alive()  # another job


def test_our_default_rendezvous_id_names_no_job(monkeypatch):
    """Every multi-node launch without --rdzv-id meets as 'stylegan2-Nnodes': two of them are not one job."""
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "stylegan2-2nodes")
    assert job_id() is None
    assert owner(1, host="elsewhere.invalid", job="TORCHELASTIC_RUN_ID=stylegan2-2nodes").alive()
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "exp7-2nodes")  # --rdzv-id exp7
    assert job_id() == "TORCHELASTIC_RUN_ID=exp7-2nodes"


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
