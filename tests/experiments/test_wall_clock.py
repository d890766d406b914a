"""experiments/wall_clock.py refuses bad options with one line, before it starts any training run."""

from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "wall_clock.py"


@pytest.mark.parametrize("args,message", [
    (["--data", "builtin:shapes", "--seeds", "1-a"], "argument --seeds: invalid parse_seeds value: '1-a'"),
    (["--data", "builtin:shapes", "--minutes", "0"], "--minutes must be positive, got 0"),
    (["--data", "builtin:shapes", "--samples", "1"], "--samples must be at least 2, got 1"),
    (["--data", "missing.npz"], "--data missing.npz: no such file (give an MNIST .npz or builtin:shapes)"),
])
def test_bad_options_give_one_line_errors_and_start_nothing(tmp_path, run_script, args, message):
    outdir = tmp_path / "runs"
    result = run_script(SCRIPT, [*args, "--outdir", str(outdir)], tmp_path)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert not outdir.exists()


def test_an_existing_outdir_is_never_reused(tmp_path, run_script):
    (tmp_path / "runs").mkdir()
    result = run_script(SCRIPT, ["--data", "builtin:shapes", "--outdir", str(tmp_path / "runs")], tmp_path)
    assert result.returncode == 1 and "exists: choose a new folder" in result.stderr
    assert list((tmp_path / "runs").iterdir()) == []
