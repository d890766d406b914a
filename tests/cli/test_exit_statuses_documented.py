"""The exit statuses of getting-started.md's table for the kinds that disagreed with it (retest N4): an unknown metric,
a `builtin:` spec and convert's DST name are the command line's fault (2, with the usage line); a missing
--detector, --vgg or --run-dir is a file that is not there (1), as every other missing input. And `metrics --output`
is answered with --run-dir, as --outdir is (N11)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from stylegan2.cli import main


@pytest.fixture
def run(gan_file, tmp_path):
    """Invoke the CLI with {tmp} and {net} (a tiny network file) filled in."""
    def invoke(*args: str):
        return CliRunner().invoke(main, [arg.format(tmp=tmp_path, net=gan_file) for arg in args])
    return invoke


@pytest.mark.parametrize("args, message", [
    (["train", "--data", "builtin:shapes?n=16", "--metrics", "foo", "--outdir", "{tmp}", "--dry-run"], "unknown metric 'foo'"),
    (["metrics", "--network", "{net}", "--data", "builtin:shapes?n=16", "--metrics", "fid0k"], "metric 'fid0k' generates no images"),
    (["convert", "{net}", "{tmp}/out.txt"], "convert writes our .safetensors format"),
    (["dataset", "--source", "builtin:nope", "--dest", "{tmp}/a.zip"], "unknown builtin dataset 'nope'"),
    (["dataset", "--source", "builtin:shapes?n=abc", "--dest", "{tmp}/a.zip"], "n and seed must be integers"),
    (["dataset", "--source", "builtin:shapes?n=0", "--dest", "{tmp}/a.zip"], "n must be >= 1, got 0"),
    (["dataset", "--source", "builtin:shapes?size=3", "--dest", "{tmp}/a.zip"], "unknown parameter 'size'"),
])
def test_a_bad_name_or_spec_is_a_usage_error(run, args, message):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert "Usage: " in result.output and message in result.output


@pytest.mark.parametrize("option, missing, message", [
    ("--detector", "nothere.pt", "nothere.pt: no such file (--detector)"),
    ("--vgg", "nothere.pt", "nothere.pt: no such file (--vgg)"),
    ("--run-dir", "nothere", "nothere: no such folder (--run-dir)"),
])
def test_a_missing_metrics_input_exits_1_as_every_missing_input(run, option, missing, message):
    result = run("metrics", "--network", "{net}", "--data", "builtin:shapes?n=16", "--metrics", "fid1k",
                 option, "{tmp}/" + missing)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ") and message in result.output and "Usage:" not in result.output


def test_train_refuses_a_missing_detector_the_same_way(run):
    result = run("train", "--data", "builtin:shapes?n=16", "--detector", "{tmp}/nothere.pt", "--outdir", "{tmp}", "--dry-run")
    assert result.exit_code == 1 and "nothere.pt: no such file (--detector)" in result.output


def test_metrics_output_is_answered_with_run_dir(run):
    result = run("metrics", "--network", "{net}", "--output", "d")
    assert result.exit_code == 2
    assert "Error: No such option: --output; this command appends its results to --run-dir" in result.output
