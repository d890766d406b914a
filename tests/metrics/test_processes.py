"""Metrics on several processes (`calc_metrics(gpus=N)`, `stylegan2 metrics --gpus N`): the work shared, the notes
said once, and which metric files a call appended to."""

import inspect
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

from stylegan2.io import save_network
from stylegan2.metrics import calc, calc_metrics, processes
from stylegan2.metrics.evaluate import appended_records
from stylegan2.metrics.processes import notes_of_the_first_process

SAMPLE_COUNT_NOTES = r"ignore:\S+. only \d+ real images:UserWarning"  # tiny test data; see test_sample_counts.py
pytestmark = [pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:DeprecationWarning"),
              pytest.mark.filterwarnings(SAMPLE_COUNT_NOTES)]


@pytest.mark.parametrize("rank, said", [(None, True), ("0", True), ("1", False)])
def test_notes_are_said_by_the_first_process_only(monkeypatch, capfd, rank, said):
    if rank is not None:
        monkeypatch.setenv("RANK", rank)
    with notes_of_the_first_process():
        warnings.warn("the data is small")
    assert (capfd.readouterr().err == "note: the data is small\n") == said


@pytest.mark.parametrize("rank, listed", [(None, True), ("1", False)])
def test_appended_records_lists_the_metric_files_that_grew(tmp_path: Path, monkeypatch, rank, listed):
    if rank is not None:
        monkeypatch.setenv("RANK", rank)
    (tmp_path / "metric-kid1k.jsonl").write_text("{}\n")
    (tmp_path / "metric-fid1k_full.jsonl").write_text("{}\n")
    with appended_records(tmp_path, ["kid1k", "fid1k_full", "is1k"]) as appended:
        assert appended == []  # listed as the block ends
        (tmp_path / "metric-kid1k.jsonl").write_text("{}\n{}\n")
        (tmp_path / "metric-is1k.jsonl").write_text("{}\n")  # new
    expected = [tmp_path / "metric-is1k.jsonl", tmp_path / "metric-kid1k.jsonl"]
    assert appended == (expected if listed else [])  # the other processes leave it to rank 0


def test_appended_records_without_a_run_directory_lists_nothing():
    with appended_records(None, ["kid1k"]) as appended:
        pass
    assert appended == []


def test_two_processes_share_the_work_return_rank_0s_records_and_say_each_note_once(tmp_path: Path, tiny_G, capfd):
    """What `stylegan2 metrics --gpus 2` runs; the processes met the same notes (here, the data the run recorded)."""
    run = tmp_path / "run"
    run.mkdir()
    network = save_network(run / "network-snapshot-000004.safetensors", {"G_ema": tiny_G})
    (run / "training_options.json").write_text(json.dumps({"data": "builtin:shapes?n=8"}))
    detector = tmp_path / "pooled.pt"
    torch.jit.script(nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten())).save(str(detector))
    (record,) = calc_metrics(network, None, ["fid1k_full"], gpus=2, device="cpu", detector=detector, num_workers=0,
                             cache_dir=tmp_path / "cache", progress=False, run_dir=run)
    assert record["num_gpus"] == 2 and record["metric"] == "fid1k_full"
    assert json.loads((run / "metric-fid1k_full.jsonl").read_text())["results"] == record["results"]  # written once
    assert capfd.readouterr().err.count("the data its training run recorded") == 1


def test_gpus_passes_every_other_argument_to_each_process(monkeypatch, tmp_path):
    """calc_metrics(gpus=N) calls itself in each process with the caller's arguments, none left at its default."""
    passed = {}
    monkeypatch.setattr(calc, "on_local_processes", lambda gpus, fn, kwargs, device: passed.update(kwargs) or [[]])
    calc.calc_metrics("net.safetensors", "data.zip", ["fid50k_full"], gpus=2, mirror=True, detector="d.pt", vgg="v.pt",
                      device="cpu", batch_size=3, num_workers=0, cache_dir="c", use_cache=False, progress=False, seed=5,
                      truncation_psi=0.5, run_dir=tmp_path, on_result=print)
    assert set(passed) == set(inspect.signature(calc.calc_metrics).parameters) - {"gpus"}
    assert passed["seed"] == 5 and passed["truncation_psi"] == 0.5 and passed["on_result"] is print


def test_starting_metrics_processes_loads_no_training_loop():
    """--gpus metrics needed only a device check from the trainer's start module, which loaded the whole training loop
    (and closed an import cycle, qa-auditor M1): a refused --gpus now leaves the loop unloaded."""
    script = ("import sys, torch\n"
              "from stylegan2.metrics.processes import on_local_processes\n"
              "torch.cuda.is_available = lambda: True\n"
              "torch.cuda.device_count = lambda: 1\n"
              "try:\n"
              "    on_local_processes(2, print, {}, 'cuda')\n"
              "except ValueError as err:\n"
              "    print(err)\n"
              "print(sorted(m for m in sys.modules if m.startswith('stylegan2.training.') and m not in\n"
              "      ('stylegan2.training.distributed', 'stylegan2.training.launch', 'stylegan2.training.signals')))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.splitlines() == ["--gpus 2: this machine has 1 CUDA GPU(s)", "[]"], done.stdout + done.stderr


def test_on_result_of_two_processes_is_called_in_the_callers_process_even_a_lambda(tmp_path: Path, tiny_G):
    """A lambda was pickled for the processes (PicklingError), and a picklable callback ran in a process of its own,
    where a list it appended to stayed empty in the caller (qa-reviewer34 M3)."""
    network = save_network(tmp_path / "network.safetensors", {"G_ema": tiny_G})
    detector = tmp_path / "pooled.pt"
    torch.jit.script(nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten())).save(str(detector))
    got = []
    records = calc_metrics(network, "builtin:shapes?n=8", "fid1k_full,kid1k", gpus=2, device="cpu", detector=detector,
                           num_workers=0, cache_dir=tmp_path / "cache", progress=False,
                           on_result=lambda index, record: got.append((index, record)))
    assert got == list(enumerate(records)) and [r["metric"] for r in records] == ["fid1k_full", "kid1k"]


def test_an_error_of_on_result_is_raised_in_the_caller_once_the_processes_are_done():
    def fails(index, record):
        raise RuntimeError(f"cannot take {index}")

    with pytest.raises(RuntimeError, match="^cannot take 0$"):
        with processes._calls_passed_here(fails) as send:
            send(0, {})
            send(1, {})


def run_script(folder: Path, text: str) -> subprocess.CompletedProcess:
    (folder / "script.py").write_text(text)
    return subprocess.run([sys.executable, "script.py"], cwd=folder, capture_output=True, text=True, timeout=120)


def test_a_script_calling_gpus_without_the_main_guard_is_told_to_add_it_before_any_process_starts(tmp_path: Path):
    """Each process imports the script again and made the call again: multiprocessing's bootstrapping traceback in
    each, and a LaunchError naming an exit code in the caller (qa-reviewer34 M3)."""
    done = run_script(tmp_path, "from stylegan2.metrics import calc_metrics\n"
                                "calc_metrics('net.safetensors', 'builtin:shapes?n=8', 'fid1k_full', gpus=2, device='cpu')\n")
    last = done.stderr.strip().splitlines()[-1]
    assert last == (f"ValueError: {tmp_path / 'script.py'}, line 2: calc_metrics(gpus=2) starts processes that each "
                    "import this script again and would run this line again; put the script's top-level code under "
                    '`if __name__ == "__main__":`'), done.stderr
    assert "bootstrapping" not in done.stderr


def test_a_script_with_the_main_guard_passes_the_check(tmp_path: Path):
    done = run_script(tmp_path, "from stylegan2.training.launch import check_main_guard\n"
                                "def main():\n"
                                "    check_main_guard('calc_metrics(gpus=2)')\n"
                                "if __name__ == '__main__':\n"
                                "    main()\n"
                                "    print('passed')\n")
    assert done.stdout == "passed\n", done.stderr
