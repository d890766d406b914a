"""The speed tools in benchmarks/ refuse bad options in one line, before they build any network."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a CUDA GPU")


def run(script: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCHMARKS / script), *args], capture_output=True, text=True, cwd=cwd, timeout=120)


@pytest.mark.parametrize("script,args,message", [
    ("bench_train.py", ["--batch", "0"], "--batch must be a positive multiple of D's minibatch-stddev group (--mbstd 4), got 0"),
    ("bench_train.py", ["--batch", "6"], "--batch must be a positive multiple of D's minibatch-stddev group (--mbstd 4), got 6"),
    ("bench_train.py", ["--mbstd", "0"], "--mbstd must be at least 1, got 0"),
    ("bench_train.py", ["--resolution", "33"], "--resolution must be a power of two from 4 to 1024, got 33"),
    ("bench_train.py", ["--repeats", "0"], "--repeats must be at least 1, got 0"),
    ("bench_train.py", ["--threads", "0"], "--threads must be at least 1, got 0"),
    ("bench_train.py", ["--device", "foo"], "--device foo: not a device name"),
    ("bench_train.py", ["--official", "missing"], "--official missing: not a checkout of NVlabs/stylegan2-ada-pytorch"),
    ("profile_step.py", ["--batch", "0"], "--batch must be a positive multiple of D's minibatch-stddev group"),
    ("profile_step.py", ["--resolution", "12"], "--resolution must be a power of two from 4 to 1024, got 12"),
    ("profile_step.py", ["--threads", "-1"], "--threads must be at least 1, got -1"),
    ("profile_step.py", ["--pack", "0"], "--pack must be at least 1, got 0"),
    ("profile_step.py", ["--pack", "3"], "--batch 32 must split into packs of --pack 3 whose count"),
    ("profile_step.py", ["--batch", "24", "--pack", "4"], "--batch 24 must split into packs of --pack 4 whose count"),
    ("profile_step.py", ["--pack", "4", "--official", "x"], "--official profiles NVIDIA's unpacked D; leave out --pack"),
    ("bench_train.py", ["--pack", "5"], "--batch 32 must split into packs of --pack 5 whose count"),
    ("bench_generate.py", ["--resolutions", "32,x"], "--resolutions: give comma-separated powers of two"),
    ("bench_generate.py", ["--resolutions", "32,33"], "--resolutions must be a power of two from 4 to 1024, got 33"),
    ("bench_generate.py", ["--batch", "0"], "--batch must be at least 1, got 0"),
    ("bench_fir.py", ["--resolution", "4"], "--resolution must be a power of two from 8 to 1024, got 4"),
    ("bench_fir.py", ["--resolution", "2048"], "--resolution must be a power of two from 8 to 1024, got 2048"),
    ("bench_fir.py", ["--batch", "0"], "--batch must be at least 1, got 0"),
    ("bench_explore.py", ["--resolutions", "32,x"], "--resolutions: give comma-separated powers of two"),
    ("bench_explore.py", ["--resolutions", "48"], "--resolutions must be a power of two from 4 to 1024, got 48"),
    ("bench_explore.py", ["--repeats", "0"], "--repeats must be at least 1, got 0"),
    ("bench_explore.py", ["--device", "foo"], "--device foo: not a device name"),
    ("bench_explore.py", ["--chromium", "/no/such/chromium"], "--chromium /no/such/chromium: no such file"),
    ("profile_gpu.py", ["--top", "0"], "--top must be at least 1, got 0"),
    ("profile_gpu.py", ["--batch", "0"], "--batch must be a positive multiple of D's minibatch-stddev group"),
    ("bench_loop.py", ["--steps", "0"], "--steps must be at least 1, got 0"),
    ("bench_loop.py", ["--warmup", "-1"], "--warmup must be at least 0, got -1"),
    ("bench_loop.py", ["--batch-gpu", "5"], "--batch-gpu 5 must divide --batch 32"),
    ("bench_loop.py", ["--batch-gpu", "0"], "--batch-gpu must be at least 1, got 0"),
    ("bench_loop.py", ["--cfg", "nope"], "argument --cfg: invalid choice: 'nope'"),
    ("bench_loop.py", ["--data", "missing.npz"], "--data: "),
    ("bench_loop.py", ["--src", "/no/such/tree"], "--src /no/such/tree: no stylegan2 package there"),
    ("bench_run.py", ["--tick", "0"], "--tick must be above 0 and at most --kimg (6), got 0"),
    ("bench_run.py", ["--kimg", "1", "--tick", "2"], "--tick must be above 0 and at most --kimg (1), got 2"),
    ("bench_run.py", ["--images", "0"], "--images and --batch must be at least 1, got 0 and 32"),
    ("bench_run.py", ["--official", "missing"], "--official missing: not a checkout of NVlabs/stylegan2-ada-pytorch"),
    ("official_ops.py", ["missing"], "missing: not a checkout of NVlabs/stylegan2-ada-pytorch"),
    ("official_ops.py", [], "the following arguments are required: official"),
])
def test_bad_options_give_one_line_errors(tmp_path, run_script, script, args, message):
    result = run_script(BENCHMARKS / script, args, tmp_path)
    assert result.returncode != 0 and message in result.stderr and "Traceback" not in result.stderr, result.stderr


@NO_GPU
@pytest.mark.parametrize("script", ["bench_train.py", "bench_generate.py", "bench_fir.py", "bench_explore.py", "bench_loop.py"])
def test_cuda_without_a_gpu_is_refused(tmp_path, run_script, script):
    result = run_script(BENCHMARKS / script, ["--device", "cuda"], tmp_path)
    assert result.returncode == 2 and "--device cuda: no CUDA GPU here" in result.stderr and "Traceback" not in result.stderr


def test_bench_loop_times_two_trees_and_their_parts(tmp_path):
    """A tiny run of the loop benchmark, this checkout against itself as a second tree: one table row each."""
    src = str(BENCHMARKS.parent / "src")
    result = subprocess.run([sys.executable, str(BENCHMARKS / "bench_loop.py"), "--src", src, "--data", "builtin:shapes?n=64",
                             "--batch", "8", "--cbase", "256", "--cmax", "16", "--steps", "2", "--warmup", "0", "--repeats", "1"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].split() == ["tree", "minibatch", "load", "G", "step", "D", "step"]
    assert lines[2].startswith("this checkout") and lines[3].startswith(src[-24:]) and lines[4].startswith("  speed-up")
    assert all(float(value) > 0 for value in lines[2].split()[2:])


def test_profile_step_profiles_a_packed_discriminator(tmp_path):
    """--pack 4: D's first layer reads packs of four 3-channel images, 12 channels, in every phase that runs D."""
    result = run("profile_step.py", ["--resolution", "8", "--channels", "3", "--cbase", "64", "--cmax", "8", "--batch", "8",
                                     "--mbstd", "2", "--pl-weight", "0", "--pack", "4", "--repeats", "1", "--top", "100",
                                     "--threads", "1"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "pack 4" in result.stdout.splitlines()[0] and "ours, pack 4:" in result.stdout
    assert "per minibatch (Gmain + Dmain + Dreg/16):" in result.stdout  # no Greg phase at --pl-weight 0
    sections = result.stdout.split("slowest convolutions")[1:]
    assert len(sections) == 3 and all("conv x[2, 12, 8, 8] w[8, 12, 1, 1]" in section for section in sections)


def test_bench_run_times_a_tiny_training_run(tmp_path):
    """Ours alone (no --official): `stylegan2 train` on a zip it writes, each tick's sec/kimg and their steady mean."""
    result = run("bench_run.py", ["--cfg", "cpu", "--resolution", "8", "--batch", "4", "--kimg", "0.024", "--tick", "0.008",
                                  "--images", "16", "--ours-args", "--cbase 64 --cmax 8 --map 1 --device cpu"], tmp_path)
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("ours "))
    steady, ticks = row.split()[1], row.split("   ")[-1]
    assert float(steady) > 0 and ticks.count(":") == 3, row  # three ticks of 8 images


def test_bench_run_that_measured_nothing_exits_with_an_error(tmp_path):
    """A preset name training refuses ran, printed 'no tick logged' and exited 0."""
    result = run("bench_run.py", ["--cfg", "foo", "--resolution", "8", "--batch", "4", "--kimg", "0.008", "--tick", "0.008",
                                  "--images", "8"], tmp_path)
    assert result.returncode == 1 and "no tick logged by ours: nothing was measured" in result.stderr


def test_steady_sec_per_kimg_weights_the_ticks_after_warm_up_by_their_images():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from bench_run import steady_sec_per_kimg
    finally:
        sys.path.remove(str(BENCHMARKS))
    ticks = [(0.032, 50.0), (2.048, 9.0), (4.064, 8.0), (5.0, 6.0)]  # NVIDIA's first tick is one minibatch
    assert steady_sec_per_kimg(ticks, warmup_kimg=2) == pytest.approx((2.016 * 8.0 + 0.936 * 6.0) / 2.952)
    assert steady_sec_per_kimg(ticks[:2], warmup_kimg=2) == pytest.approx((0.032 * 50 + 2.016 * 9) / 2.048)  # all: none after
    assert steady_sec_per_kimg([], warmup_kimg=2) is None


def test_nvidia_sampler_runs_on_torch_without_the_data_source_argument(monkeypatch):
    """NVIDIA's InfiniteSampler passes the dataset to Sampler.__init__, which newer torch does not take."""
    from torch.utils.data import Sampler

    monkeypatch.setattr(Sampler, "__init__", Sampler.__init__)  # restored after the test
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from official_ops import accept_sampler_data_source
    finally:
        sys.path.remove(str(BENCHMARKS))

    class LikeNvidias(Sampler):
        def __init__(self, dataset):
            super().__init__(dataset)

    accept_sampler_data_source()
    accept_sampler_data_source()  # a second call keeps one wrapper
    assert LikeNvidias([1, 2]) is not None and getattr(Sampler.__init__, "accepts_data_source", False)


def test_profile_gpu_names_each_costly_op_with_its_inputs(tmp_path, run_script):
    """On CPU (the script's check) both tables come out: ops by time, then the same ops with dtypes, shapes and scalars."""
    result = run_script(BENCHMARKS / "profile_gpu.py", ["--device", "cpu", "--threads", "1", "--cbase", "64", "--cmax", "8",
                                                        "--resolution", "8", "--batch", "4", "--repeats", "1", "--top", "40"],
                        tmp_path)
    assert result.returncode == 0, result.stderr
    ops_table = result.stdout.split("with their inputs, one run of each phase:")[1]
    convolutions = [line for line in ops_table.splitlines() if "aten::mkldnn_convolution (float[" in line]
    assert convolutions and all("[1, 1]" in line for line in convolutions), ops_table  # stride/dilation come through

