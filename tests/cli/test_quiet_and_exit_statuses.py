"""What every command shares on its output and exit: --quiet, exit status 2 for a wrong command line and 1 for a
failure (cliux M1, M2), and another command's spelling of an option answered with this one's (cliux L3)."""

from __future__ import annotations

import sys

import pytest
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.io import load_checkpoint, save_network
from stylegan2.utils.download import OFFLINE_VARIABLE

TINY_RUN = ["--data", "builtin:shapes?n=16", "--resolution", "16", "--cfg", "cpu", "--cbase", "128", "--cmax", "16",
            "--batch", "8", "--aug", "noaug", "--workers", "0", "--device", "cpu"]


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_quiet_generate_writes_its_images_and_prints_nothing(gan_file, tmp_path):
    loud = run("generate", "--network", str(gan_file), "--seeds", "0-1", "--device", "cpu", "--outdir", str(tmp_path / "a"))
    assert loud.exit_code == 0 and "wrote 2 image(s)" in loud.output
    for flag in ("--quiet", "-q"):
        result = run("generate", "--network", str(gan_file), "--seeds", "0-1", "--device", "cpu", "--outdir",
                     str(tmp_path / flag), flag)
        assert result.exit_code == 0 and result.output == ""
        assert sorted(p.name for p in (tmp_path / flag).iterdir()) == ["seed0000.png", "seed0001.png"]


def test_quiet_before_the_command_is_the_commands_own_quiet(gan_file, tmp_path):
    for flag in ("--quiet", "-q"):
        result = run(flag, "generate", "--network", str(gan_file), "--seeds", "0-1", "--device", "cpu", "--outdir",
                     str(tmp_path / flag))
        assert result.exit_code == 0 and result.output == ""
        assert sorted(p.name for p in (tmp_path / flag).iterdir()) == ["seed0000.png", "seed0001.png"]
    loud = run("generate", "--network", str(gan_file), "--seeds", "0", "--device", "cpu", "--outdir", str(tmp_path / "a"))
    assert loud.exit_code == 0 and "wrote 1 image(s)" in loud.output  # the switch ended with the quiet command


def test_quiet_still_prints_notes_about_the_result(gan_file, tmp_path):
    """A file without G_ema renders G's images: the note that says so is a warning, not an informational line."""
    g_only = tmp_path / "g_only.safetensors"
    save_network(g_only, {"G": load_checkpoint(gan_file).networks["G_ema"]})
    result = run("generate", "--network", str(g_only), "--seeds", "0", "--device", "cpu", "--outdir", str(tmp_path / "o"), "-q")
    assert result.exit_code == 0
    assert result.output.startswith("note: ") and "holds no G_ema" in result.output and "wrote" not in result.output


@pytest.mark.parametrize("command", [
    ["generate"], ["mix"], ["video"], ["project"], ["directions"], ["dataset"], ["metrics"], ["export"], ["convert"],
    ["train"], ["swapae", "train"], ["swapae", "swap"], ["swapae", "encode"], ["swapae", "decode"],
])
def test_every_command_that_reports_progress_takes_quiet(command):
    result = run(*command, "--help")
    assert result.exit_code == 0 and "-q, --quiet" in result.output


def test_quiet_dataset_prints_no_summary(tmp_path):
    result = run("dataset", "--source", "builtin:shapes?n=4", "--dest", str(tmp_path / "d.zip"), "--resolution", "16", "--quiet")
    assert result.exit_code == 0 and result.output == "" and (tmp_path / "d.zip").is_file()


def test_quiet_training_keeps_every_line_in_its_log(tmp_path, monkeypatch):
    """The terminal shows no tick lines, the run's log.txt all of them (the record of the run)."""
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    result = run("train", *TINY_RUN, "--kimg", "0.008", "--outdir", str(tmp_path), "--quiet")
    assert result.exit_code == 0, result.output
    assert result.output == ""
    log = next(tmp_path.iterdir()).joinpath("log.txt").read_text()
    assert "tick 0" in log and "Saved network-snapshot-" in log and log.rstrip().endswith("Done.")


def test_metrics_verbose_and_quiet_disagree(tiny_G, tmp_path):
    result = run("metrics", "--network", str(tiny_G), "--verbose", "--quiet")
    assert result.exit_code == 2 and "--verbose and --quiet disagree" in result.output


def test_metrics_verbose_disagrees_with_quiet_before_the_command_too(tiny_G):
    result = run("-q", "metrics", "--network", str(tiny_G), "--verbose")
    assert result.exit_code == 2 and "--verbose and --quiet disagree" in result.output


@pytest.mark.parametrize("args, message", [
    (["generate", "--device", "cpu"], "give either --seeds or --projected-w"),
    (["generate", "--device", "cpu", "--seeds", "0", "--index", "2"], "--index 2 without --direction"),
    (["generate", "--device", "cpu", "--seeds", "0-3", "--grid", "2x1"], "--grid 2x1 has 2 cells for 4 images"),
    (["generate", "--device", "gpu", "--seeds", "0"], "--device gpu: not a device"),
    (["directions", "--device", "cpu", "--layers", "3-1"], "--layers: range '3-1' runs backwards"),
    (["video", "--device", "cpu", "--seeds", "0", "--frames", "2"], "--seeds: a looping video needs at least 2 seeds, got 1"),
])
def test_a_wrong_argument_is_a_usage_error_whichever_layer_checks_it(gan_file, tmp_path, args, message):
    """Exit status 2 and click's usage line, as for click's own checks (`--seeds 3-0`): before, these exited 1."""
    command, *rest = args
    result = run(command, "--network", str(gan_file), "--outdir", str(tmp_path / "out"), *rest)
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"Usage: main {command}") and f"Error: {message}" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, message", [
    (["dataset", "--source", "builtin:shapes?n=8", "--dest", "{tmp}/a.zip", "--resolution", "48"], "--resolution must be a power of two"),
    (["dataset", "--source", "builtin:shapes?n=8", "--dest", "{tmp}/a.txt"], "the destination must be a .zip file"),
    (["train", *TINY_RUN[:2], "--resolution", "48", "--outdir", "{tmp}", "--dry-run"], "--resolution must be a power of two"),
    (["train", *TINY_RUN, "--batch", "3", "--gpus", "2", "--outdir", "{tmp}", "--dry-run"], "must be a multiple of the number of"),
    (["train", *TINY_RUN, "--max-restarts", "1", "--outdir", "{tmp}", "--dry-run"], "add --resume auto"),
    (["swapae", "swap", "--network", "{tmp}/none.safetensors", "--structure", "{tmp}/a.png", "--texture", "{tmp}/b.png",
      "--alpha", "0,2"], "--alpha must be between 0 and 1"),
])
def test_the_other_commands_argument_checks_are_usage_errors_too(tmp_path, args, message):
    result = run(*(arg.format(tmp=tmp_path) for arg in args))
    assert result.exit_code == 2, result.output
    assert "Usage: " in result.output and message in result.output


def test_a_failure_exits_1_without_the_usage_line(gan_file, tmp_path, monkeypatch):
    """A file that cannot be read, a network that does not fit, a download that fails: not the command line's fault."""
    missing = run("generate", "--network", str(tmp_path / "missing.pkl"), "--seeds", "0", "--device", "cpu")
    unfit = run("generate", "--network", str(gan_file), "--seeds", "0", "--class", "3", "--device", "cpu",
                "--outdir", str(tmp_path / "o"))
    monkeypatch.setenv("STYLEGAN2_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(OFFLINE_VARIABLE, raising=False)  # the test suite's: this download is to fail on its own
    download = run("generate", "--network", "http://127.0.0.1:9/net.pkl", "--seeds", "0", "--device", "cpu",
                   "--outdir", str(tmp_path / "o"))
    for result, message in ((missing, "no such network file"), (unfit, "this network is unconditional"),
                            (download, "could not download http://127.0.0.1:9/net.pkl")):
        assert result.exit_code == 1, result.output
        assert result.output.startswith("Error: ") and message in result.output and "Usage:" not in result.output


@pytest.mark.parametrize("args, hint", [
    (["dataset", "--source", "x", "--outdir", "d"], "--outdir; this command writes its zip to --dest"),
    (["dataset", "--source", "x", "--output", "d.zip"], "--output; this command writes its zip to --dest"),
    (["dataset", "--source", "x", "--out=d.zip"], "--out; this command writes its zip to --dest"),
    (["export", "--network", "n.pkl", "--format", "onnx", "--outdir", "d"], "--outdir; this command writes its file to --output"),
    (["export", "--network", "n.pkl", "--format", "onnx", "--out", "d"], "--out; this command writes its file to --output"),
    (["swapae", "encode", "--network", "n", "--outdir", "d", "a.png"], "--outdir; this command writes its codes to --out"),
    (["swapae", "encode", "--network", "n", "--output", "d", "a.png"], "--output; this command writes its codes to --out"),
    (["metrics", "--network", "n.pkl", "--outdir", "d"], "--outdir; this command appends its results to --run-dir"),
    (["info", "--network", "net.pkl"], "--network; the file is an argument: stylegan2 info net.pkl"),
    (["convert", "--network=net.pkl", "net.safetensors"], "--network; the file is the first argument: stylegan2 convert net.pkl DST"),
    (["info", "--ckpt", "net.pt"], "--ckpt is rosinality's stylegan2-pytorch spelling; the file is an argument: stylegan2 info net.pt"),
    (["dataset", "--source", "x", "--result-dir", "d"], "--result-dir is NVIDIA's TensorFlow StyleGAN2 spelling; this command "
                                                        "writes its zip to --dest"),
])
def test_another_commands_spelling_is_answered_with_this_ones(args, hint):
    result = run(*args)
    assert result.exit_code == 2 and f"Error: No such option: {hint}" in result.output
