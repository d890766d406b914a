"""experiments/wall_clock.py refuses bad options with one line, before it starts any training run."""

from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "wall_clock.py"


@pytest.mark.parametrize("args,message", [
    (["--data", "builtin:shapes", "--seeds", "1-a"], "argument --seeds: '1-a': give seeds as 1-5 or 1,3,7"),
    (["--data", "builtin:shapes", "--seeds", "3-1"], "argument --seeds: '3-1': a range runs upward (e.g. 1-3)"),  # ran nothing
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


def test_a_training_option_it_refuses_stops_before_the_first_slot(tmp_path, run_script):
    """A misspelt option of the script's own went on to training, whose 20-minute slots each died at once: the
    script printed 'no snapshot' per seed and exited 0."""
    result = run_script(SCRIPT, ["--data", "builtin:shapes", "--seeds", "1,2", "--outdir", str(tmp_path / "runs"),
                                 "--minuts", "0.1"], tmp_path)
    assert result.returncode == 1 and "the training command refuses its options: Error: No such option '--minuts'" in result.stderr
    assert not (tmp_path / "runs").exists()
