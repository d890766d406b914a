"""Joining the process group: a bad environment, an unreachable endpoint and mismatched world sizes are
one-line errors within the timeout (--dist-timeout or $STYLEGAN2_DIST_TIMEOUT), not tracebacks or hangs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from stylegan2.training.distributed import DistributedError, dist_timeout, init_distributed

TRAIN = [sys.executable, "-m", "stylegan2", "train", "--data", "builtin:shapes?n=64", "--cfg", "cpu", "--device", "cpu",
         "--kimg", "0.008", "--batch", "8", "--cbase", "128", "--cmax", "16", "--workers", "0", "--aug", "noaug"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(tmp_path, rank: int, world_size: int, port: int, timeout_option: bool = False) -> subprocess.Popen:
    """One training process launched by hand (as a scheduler would), with torchrun's variables; a 5 s wait
    for the others, from --dist-timeout or the environment."""
    env = dict(os.environ, RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK="0", MASTER_ADDR="127.0.0.1",
               MASTER_PORT=str(port), OMP_NUM_THREADS="1", STYLEGAN2_DIST_TIMEOUT="1000" if timeout_option else "5")
    return subprocess.Popen(TRAIN + ["--outdir", str(tmp_path / f"runs{rank}")] + ["--dist-timeout", "5"] * timeout_option,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def one_error_line(process: subprocess.Popen) -> str:
    """The one 'Error: ...' line a failing process ends its stderr with: no Python traceback (torch's
    C++ layer may log its own lines, with C++ frames, before it)."""
    _, stderr = process.communicate(timeout=120)
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    assert process.returncode == 1 and errors == lines[-1:], stderr[-3000:]
    assert "Traceback (most recent call last)" not in stderr
    return errors[0]


@pytest.mark.parametrize("env, message", [
    (dict(RANK="2", WORLD_SIZE="2"), "RANK=2 and WORLD_SIZE=2 do not fit (0 <= RANK < WORLD_SIZE); launch with torchrun, "
     "or unset RANK and WORLD_SIZE (left over from another job?) to train in one process"),
    (dict(RANK="1"), "RANK=1 and WORLD_SIZE=1 do not fit (0 <= RANK < WORLD_SIZE); launch with torchrun, or unset RANK "
     "and WORLD_SIZE (left over from another job?) to train in one process"),
    # srun --ntasks 2 stylegan2 train: two copies of the whole run, side by side (SLURM's own variables are not read)
    (dict(SLURM_STEP_NUM_TASKS="2", SLURM_PROCID="1"), "SLURM started this command as 2 tasks (SLURM_STEP_NUM_TASKS=2), "
     "and each would train the whole run alone: start one task per machine (srun --ntasks-per-node=1) with --gpus N "
     "(and --nnodes M --rdzv-endpoint HOST:PORT), or give each task torchrun's variables (RANK=$SLURM_PROCID, "
     "WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT)"),
    (dict(RANK="one", WORLD_SIZE="2"), "the environment variable RANK='one' is not an integer; launch with torchrun"),
])
def test_a_bad_environment_is_refused_before_joining(monkeypatch, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(DistributedError) as err:
        init_distributed("cpu")
    assert str(err.value) == message


@pytest.mark.parametrize("value", ["0", "-3", "soon", "inf"])
def test_a_bad_timeout_is_refused(monkeypatch, value):
    monkeypatch.setenv("STYLEGAN2_DIST_TIMEOUT", value)
    with pytest.raises(DistributedError, match="STYLEGAN2_DIST_TIMEOUT=.* is not a positive number of seconds"):
        dist_timeout()


def test_an_endpoint_nobody_listens_on_is_one_line_within_the_timeout(tmp_path):
    """--dist-timeout sets the wait (and wins over the environment)."""
    port = free_port()
    started = time.monotonic()
    line = one_error_line(start(tmp_path, 1, 2, port, timeout_option=True))
    assert time.monotonic() - started < 60
    assert line.startswith(f"Error: rank 1 of 2 could not join the process group at 127.0.0.1:{port} within 5 s (")
    assert line.endswith("check that every node was started with the same --nnodes and rendezvous endpoint and that the"
                         " endpoint is reachable (--dist-timeout or STYLEGAN2_DIST_TIMEOUT sets the wait)")


def test_mismatched_world_sizes_are_one_line_on_every_process(tmp_path):
    """Rank 0 expects 2 processes, rank 1 expects 3 (as with --nnodes 2 on one node and 3 on another)."""
    port = free_port()
    first = start(tmp_path, 0, 2, port)
    second = start(tmp_path, 1, 3, port)
    assert "could not join the process group" in one_error_line(second)
    line = one_error_line(first)
    assert "could not join the process group" in line or line.startswith("Error: lost rank 1")
