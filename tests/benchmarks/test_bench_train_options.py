"""benchmarks/bench_train.py refuses bad options in one line, before it builds any network."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_train.py"


@pytest.mark.parametrize("args,message", [
    (["--batch", "0"], "--batch must be a positive multiple of D's minibatch-stddev group (--mbstd 4), got 0"),
    (["--batch", "6"], "--batch must be a positive multiple of D's minibatch-stddev group (--mbstd 4), got 6"),
    (["--mbstd", "0"], "--mbstd must be at least 1, got 0"),
    (["--resolution", "33"], "--resolution must be a power of two from 4 to 1024, got 33"),
    (["--repeats", "0"], "--repeats must be at least 1, got 0"),
    (["--threads", "0"], "--threads must be at least 1, got 0"),
    (["--device", "foo"], "--device foo: not a device name"),
    (["--official", "missing"], "--official missing: not a checkout of NVlabs/stylegan2-ada-pytorch"),
])
def test_bad_options_give_one_line_errors(tmp_path, args, message):
    result = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode != 0 and message in result.stderr and "Traceback" not in result.stderr, result.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a CUDA GPU")
def test_cuda_without_a_gpu_is_refused(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "--device", "cuda"], capture_output=True, text=True, cwd=tmp_path,
                            timeout=120)
    assert result.returncode == 2 and "--device cuda: no CUDA GPU here" in result.stderr and "Traceback" not in result.stderr
