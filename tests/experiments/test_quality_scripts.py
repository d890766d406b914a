"""The scoring scripts refuse bad options with one line, before they load or train a classifier."""

from pathlib import Path

import pytest

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


@pytest.mark.parametrize("args,message", [
    (["--real", "--samples", "1"], "--samples must be at least 2 (the feature FID needs two), got 1"),
    (["--network", "missing.safetensors"], "--network missing.safetensors: no such file"),
    ([], "give --network SNAPSHOT, or --real"),
])
def test_shapes_quality_bad_options(tmp_path, run_script, args, message):
    result = run_script(EXPERIMENTS / "shapes_quality.py", [*args, "--classifier", "cnn.safetensors"], tmp_path)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # no classifier was trained or cached


@pytest.mark.parametrize("args,message", [
    (["--mnist", "missing.npz", "--real"], "--mnist missing.npz: no such file"),
    (["--mnist", "digits.npz", "--real", "--samples", "0"], "--samples must be at least 2 (the LeNet FID needs two), got 0"),
    (["--mnist", "digits.npz", "--network", "missing.safetensors"], "--network missing.safetensors: no such file"),
])
def test_mnist_quality_bad_options(tmp_path, run_script, args, message):
    (tmp_path / "digits.npz").write_bytes(b"")  # only its existence is checked before the options are accepted
    result = run_script(EXPERIMENTS / "mnist_quality.py", [*args, "--classifier", "lenet.safetensors"], tmp_path)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits.npz"]
