"""Who counts as a live owner of a training.lock: on this host its process decides, and a lock of this process's own
job passes only when an earlier instance of the job left it; a launch without --rdzv-id is named by its endpoint."""

import dataclasses
import os
import socket
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
