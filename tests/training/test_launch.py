"""`stylegan2 train --gpus N` starts N processes through torch's elastic launcher: the same run as torchrun's."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import safetensors.torch

from stylegan2.training.launch import LaunchError, launch_local

TINY_RUN = ["--data", "builtin:shapes?n=64", "--cfg", "cpu", "--kimg", "0.016", "--batch", "8", "--cbase", "128",
            "--cmax", "16", "--tick", "0.008", "--snap", "1", "--workers", "0", "--aug", "noaug", "--device", "cpu",
            "--seed", "3"]


def run(cmd: list[str], outdir: Path) -> Path:
    """Run a training command line into `outdir`; the one run directory it made."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run(cmd + ["--outdir", str(outdir)], capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    (run_dir,) = outdir.iterdir()
    return run_dir


def test_gpus_2_equals_torchrun_with_two_processes(tmp_path):
    torchrun = run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                    "-m", "stylegan2", "train", *TINY_RUN], tmp_path / "torchrun")
    launched = run([sys.executable, "-m", "stylegan2", "train", "--gpus=2", *TINY_RUN], tmp_path / "gpus")
    assert "2 x cpu" in (launched / "log.txt").read_text()
    names = sorted(p.name for p in torchrun.glob("network-snapshot-*"))
    assert names == sorted(p.name for p in launched.glob("network-snapshot-*")) and len(names) == 2
    expected = safetensors.torch.load_file(torchrun / names[-1])
    got = safetensors.torch.load_file(launched / names[-1])
    assert expected.keys() == got.keys()
    for key in expected:
        assert (expected[key] == got[key]).all(), key


def report_rank() -> int:
    return int(os.environ["RANK"]) * 10 + int(os.environ["WORLD_SIZE"])


def fail_on_rank_1() -> None:
    if os.environ["RANK"] == "1":
        raise ValueError("rank 1 cannot go on")


def test_launched_processes_get_torchruns_environment():
    assert launch_local(2, report_rank) == [2, 12]


def test_a_failing_process_stops_the_launch_with_its_message(capfd):
    with pytest.raises(LaunchError, match="process 1 of 2 stopped with exit code 1"):
        launch_local(2, fail_on_rank_1)
    assert "Error (process 1): rank 1 cannot go on" in capfd.readouterr().err


def test_gpus_under_torchrun_is_refused(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(LaunchError, match="already runs under torchrun"):
        launch_local(2, report_rank)
