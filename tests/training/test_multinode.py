"""Two torchrun "nodes" on this machine (--nnodes 2 --nproc_per_node 1, c10d rendezvous on 127.0.0.1, gloo):
the same weights as one process, a lost or hung rank, torchrun's restarts, and resuming on another process count;
and the same nodes started by `stylegan2 train --nnodes 2` (torch's elastic agent in our CLI)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from stylegan2.io import load_checkpoint
from stylegan2.training.config import resolve_options
from stylegan2.training.loop import train

WORKER = Path(__file__).with_name("torchrun_worker.py")
TINY = dict(clusters=0, batch=8, batch_gpu=4, cbase=128, cmax=16, tick=0.008, snap=1, workers=0, aug="noaug")  # a step per tick
DATA = "builtin:shapes?n=64"
FINAL = "network-snapshot-000000-024.safetensors"  # 3 steps of 8 images
RUN_OF_1_KIMG = "00000-shapes-cpu-kimg1-batch8-noaug-cbase128-cmax16-clusters0"  # cli_args(1.0)'s run directory


def cli_args(kimg: float, device: str = "cpu", **extra: str) -> list[str]:
    args = ["--data", DATA, "--cfg", "cpu", "--device", device, "--kimg", str(kimg)]
    for key, value in {**TINY, **extra}.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return args


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nodes:
    """Two torchrun agents, each a "node" with one process, meeting at a c10d rendezvous on 127.0.0.1; with
    `launcher="stylegan2"`, two `stylegan2 train --nnodes 2` commands instead."""

    def __init__(self, tmp_path: Path, args: list[str], *, max_restarts: int = 0, node_env: tuple[dict, dict] = ({}, {}),
                 launcher: str = "torchrun", **env: str) -> None:
        port = free_port()
        self.logs = [tmp_path / f"node{i}.log" for i in range(2)]
        if launcher == "torchrun":
            cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node", "1", "--rdzv_backend",
                   "c10d", f"--rdzv_endpoint=127.0.0.1:{port}", "--rdzv_conf", "join_timeout=60",
                   f"--max-restarts={max_restarts}", "--monitor-interval=0.2", str(WORKER), *args]
        else:  # the worker script runs `stylegan2 train` with these options, and again in each process it starts
            cmd = [sys.executable, str(WORKER), "--nnodes", "2", "--gpus", "1", f"--rdzv-endpoint=127.0.0.1:{port}",
                   "--rdzv-timeout", "60", f"--max-restarts={max_restarts}", *args]
        self.procs = []
        for log, own_env in zip(self.logs, node_env):
            with open(log, "w") as f:
                self.procs.append(subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT,
                                                   env=dict(os.environ, OMP_NUM_THREADS="1", **env, **own_env)))

    def wait(self, timeout: float = 300) -> list[int]:
        """Both agents' exit codes; a node still running after `timeout` s fails the test."""
        deadline = time.monotonic() + timeout
        try:
            return [p.wait(max(deadline - time.monotonic(), 0.1)) for p in self.procs]
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"the nodes did not stop within {timeout} s:\n{self.output()[-3000:]}")

    def kill(self) -> None:
        for pid in self.worker_pids():
            os.kill(pid, 9)
        for p in self.procs:
            p.kill()
            p.wait()

    def worker_pids(self) -> list[int]:
        """The training processes the agents started (children of the torchrun processes)."""
        agents = {str(p.pid) for p in self.procs}
        pids = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and (entry / "stat").read_text().rsplit(")", 1)[1].split()[1] in agents:
                    pids.append(int(entry.name))
            except OSError:
                continue
        return pids

    def output(self) -> str:
        return "\n".join(log.read_text() for log in self.logs)


def run_dirs(outdir: Path) -> list[Path]:
    return sorted(outdir.iterdir())


def networks(snapshot: Path) -> dict[str, torch.Tensor]:
    """G, D and G_ema of a snapshot, keyed as the worker saves them ('G.mapping...')."""
    return {f"{name}.{key}": value for name, module in load_checkpoint(snapshot).networks.items()
            for key, value in module.state_dict().items()}


def assert_same_training(got: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    """Equal up to float rounding (sums in another order), except w_avg, which each process tracks on its
    own share and the loop averages once per tick (the truncation centre; no loss reads it)."""
    assert got.keys() == expected.keys()
    for key in expected:
        if not key.endswith("w_avg"):
            torch.testing.assert_close(got[key], expected[key], rtol=1e-4, atol=1e-5, msg=key)


def train_one_process(outdir: Path, kimg: float, resume: Path | None = None, device: str = "cpu") -> Path:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        options = resolve_options(DATA, "cpu", 32, 1, dict(TINY, kimg=kimg, outdir=str(outdir), resume=resume and str(resume)),
                                  device_type=device)
        lines: list[str] = []
        run_dir = train(options, device=device, log=lines.append)
    finally:
        torch.set_num_threads(threads)
    return run_dir


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory) -> tuple[Path, Path]:
    """A 3-tick run on two nodes: its run directory and the folder with each rank's final networks."""
    tmp = tmp_path_factory.mktemp("two-nodes")
    nodes = Nodes(tmp, cli_args(0.024) + ["--outdir", str(tmp / "runs")], WEIGHTS_DIR=str(tmp))
    assert nodes.wait() == [0, 0], nodes.output()[-3000:]
    (run_dir,) = run_dirs(tmp / "runs")
    return run_dir, tmp


@pytest.fixture(scope="module")
def one_process(tmp_path_factory) -> Path:
    """The same run in one process with the same global batch: its run directory."""
    return train_one_process(tmp_path_factory.mktemp("one-process") / "runs", 0.024)


def test_two_nodes_end_with_identical_weights_equal_to_one_process(two_nodes, one_process):
    run_dir, weights = two_nodes
    rank0, rank1 = load_file(weights / "rank0.safetensors"), load_file(weights / "rank1.safetensors")
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    snapshot = networks(run_dir / FINAL)
    assert all(torch.equal(snapshot[key], rank0[key]) for key in rank0)  # the snapshot is what the ranks hold
    first = networks(run_dir / "network-snapshot-000000-008.safetensors")
    assert any(not torch.equal(first[key], rank0[key]) for key in rank0)  # training moved the weights
    assert_same_training(rank0, networks(one_process / FINAL))


def test_stylegan2_train_nnodes_runs_what_torchrun_runs(two_nodes, tmp_path):
    """`stylegan2 train --nnodes 2 --rdzv-endpoint ...` on each node: the very weights of the torchrun nodes."""
    nodes = Nodes(tmp_path, cli_args(0.024) + ["--outdir", str(tmp_path / "runs")], launcher="stylegan2",
                  WEIGHTS_DIR=str(tmp_path))
    assert nodes.wait() == [0, 0], nodes.output()[-3000:]
    (run_dir,) = run_dirs(tmp_path / "runs")
    assert "on 2 x cpu" in (run_dir / "log.txt").read_text()
    expected = load_file(two_nodes[1] / "rank0.safetensors")
    for rank in (0, 1):
        got = load_file(tmp_path / f"rank{rank}.safetensors")
        assert got.keys() == expected.keys() and all(torch.equal(got[key], expected[key]) for key in expected)


def test_only_rank_0_writes_the_run_directory(two_nodes):
    run_dir, _ = two_nodes
    assert run_dirs(run_dir.parent) == [run_dir]
    assert sorted(p.name for p in run_dir.glob("network-snapshot-*")) == [
        "network-snapshot-000000-008.safetensors", "network-snapshot-000000-016.safetensors", FINAL]
    log = (run_dir / "log.txt").read_text().splitlines()
    assert "Training for 0.024 kimg on 2 x cpu, batch 8 (4 per step x 1 rounds per process)" in log
    assert log.count("Done.") == 1 and log[-1] == "Done."


def test_a_two_process_snapshot_continues_on_one_process(two_nodes, tmp_path):
    run_dir, _ = two_nodes
    resumed = train_one_process(tmp_path / "runs", 0.024, resume=run_dir / "network-snapshot-000000-008.safetensors")
    assert "its run had 2 processes, this one has 1; the global batch is kept" in (resumed / "log.txt").read_text()
    assert_same_training(networks(resumed / FINAL), networks(run_dir / FINAL))


def test_a_one_process_snapshot_continues_on_two_nodes(one_process, tmp_path):
    start = one_process / "network-snapshot-000000-008.safetensors"
    nodes = Nodes(tmp_path, cli_args(0.024, resume=str(start)) + ["--outdir", str(tmp_path / "runs")])
    assert nodes.wait() == [0, 0], nodes.output()[-3000:]
    (resumed,) = run_dirs(tmp_path / "runs")
    assert "its run had 1 process, this one has 2" in (resumed / "log.txt").read_text()
    assert_same_training(networks(resumed / FINAL), networks(one_process / FINAL))


def test_a_killed_rank_stops_the_run_with_one_line_naming_it_and_the_last_good_snapshot(tmp_path):
    nodes = Nodes(tmp_path, cli_args(1.0) + ["--outdir", str(tmp_path / "runs")], FAIL_RANK="1", FAIL_STEP="2", FAIL_SIGNAL="KILL")
    last = tmp_path / "runs" / RUN_OF_1_KIMG / "network-snapshot-000000-016.safetensors"  # after step 1
    while not last.exists() and all(p.poll() is None for p in nodes.procs):
        time.sleep(0.1)
    failed_at = time.monotonic()  # rank 1 kills itself as step 2 begins, right after this snapshot
    assert nodes.wait() == [1, 1], nodes.output()[-3000:]
    assert time.monotonic() - failed_at < 60  # bounded: the survivor does not wait for the dead rank
    (line,) = {line for line in nodes.output().splitlines() if line.startswith("Error: ")}  # on stderr and in the log
    assert line.startswith("Error: lost rank 1")  # found by a roll call, or as the only other rank when the store left with it
    assert line.endswith(f" at step 2 (kimg 0.016); the last good snapshot is {last}. Restart the job with --resume auto"
                         " to continue from it")
    log = (last.parent / "log.txt").read_text().splitlines()
    assert log[-2:] == [line, "Failed."]
    state = load_checkpoint(last).training_state  # intact: loads, and holds the state its name says
    assert (state["cur_nimg"], state["batch_idx"]) == (16, 2)


@pytest.mark.parametrize("launcher", ["torchrun", "stylegan2"])
def test_max_restarts_continues_from_the_last_snapshot_by_itself(two_nodes, tmp_path, launcher):
    """Rank 0 dies as step 2 begins; the launcher restarts both nodes, and --resume auto picks up the snapshot
    after step 1: the restarted job ends with the very weights of the uninterrupted run. (Each attempt needs
    a fresh rendezvous store: in torch 2.13 a shared one keeps the dead attempt's addresses; torchrun needs
    TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1 for that, `stylegan2 train` sets it; docs/training.md.)"""
    env = {"TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1"} if launcher == "torchrun" else {}
    nodes = Nodes(tmp_path, cli_args(0.024, resume="auto") + ["--outdir", str(tmp_path / "runs")], max_restarts=1,
                  launcher=launcher, FAIL_RANK="0", FAIL_STEP="2", FAIL_SIGNAL="KILL", **env)
    assert nodes.wait() == [0, 0], nodes.output()[-3000:]
    first, second = run_dirs(tmp_path / "runs")
    assert not (first / FINAL).exists()
    log = (second / "log.txt").read_text()
    assert f"Resuming from {first / 'network-snapshot-000000-016.safetensors'}: continuing the run" in log
    assert log.splitlines()[-1] == "Done."
    if launcher == "stylegan2":  # at least rank 0's node counts a restart (the other may restart as one that was not lost)
        assert "Restarting the processes (restart 1 of 1)" in nodes.output(), nodes.output()[-3000:]
    expected = networks(two_nodes[0] / FINAL)
    got = networks(second / FINAL)
    assert all(torch.equal(got[key], expected[key]) for key in expected)


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="NCCL runs one process per GPU: this needs two CUDA GPUs")
def test_two_nccl_nodes_end_with_identical_weights_close_to_one_gpu_process(tmp_path):
    """The first test over NCCL, one GPU per node (docs/training.md says how to run it)."""
    nodes = Nodes(tmp_path, [*cli_args(0.024, "cuda"), "--outdir", str(tmp_path / "runs")], WEIGHTS_DIR=str(tmp_path),
                  node_env=({"CUDA_VISIBLE_DEVICES": "0"}, {"CUDA_VISIBLE_DEVICES": "1"}))
    assert nodes.wait() == [0, 0], nodes.output()[-3000:]
    rank0, rank1 = load_file(tmp_path / "rank0.safetensors"), load_file(tmp_path / "rank1.safetensors")
    assert all(torch.equal(rank0[key], rank1[key]) for key in rank0)
    assert "on 2 x cuda" in (run_dirs(tmp_path / "runs")[0] / "log.txt").read_text()
    single = networks(train_one_process(tmp_path / "one", 0.024, device="cuda") / FINAL)
    for key in single:
        if not key.endswith("w_avg"):
            torch.testing.assert_close(rank0[key], single[key], rtol=1e-3, atol=1e-4, msg=key)


def test_a_hung_rank_stops_the_run_after_the_timeout_with_one_line(tmp_path):
    """Rank 1 stops (SIGSTOP) as step 2 begins, as a machine that vanishes without closing its connections:
    rank 0's collective times out after $STYLEGAN2_DIST_TIMEOUT seconds and the run stops naming rank 1."""
    nodes = Nodes(tmp_path, cli_args(1.0) + ["--outdir", str(tmp_path / "runs")], FAIL_RANK="1", FAIL_STEP="2", FAIL_SIGNAL="STOP",
                  STYLEGAN2_DIST_TIMEOUT="10")
    try:
        last = tmp_path / "runs" / RUN_OF_1_KIMG / "network-snapshot-000000-016.safetensors"
        while not last.exists() and all(p.poll() is None for p in nodes.procs):
            time.sleep(0.1)
        hung_at = time.monotonic()
        log = last.parent / "log.txt"
        while log.read_text().splitlines()[-1] != "Failed." and time.monotonic() - hung_at < 120:
            time.sleep(0.2)
        assert 10 <= time.monotonic() - hung_at < 60, nodes.output()[-3000:]
    finally:
        nodes.kill()  # the stopped process and its agent
    line = log.read_text().splitlines()[-2]
    assert line.startswith("Error: lost rank 1") and "Timed out waiting 10000ms" in line, line
    assert line.endswith(f" at step 2 (kimg 0.016); the last good snapshot is {last}. Restart the job with --resume auto"
                         " to continue from it")
