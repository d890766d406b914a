"""Signals to the command line: SIGTERM (`timeout`, `docker stop`, systemd) stops any command as Ctrl-C does, with
what it was writing removed and the shell's status 143; and once a run printed Done., no signal while the process
exits changes its status 0 or prints a traceback."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from stylegan2.cli import main

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="POSIX signals")

TINY_RUN = ["train", "--data", "builtin:shapes?n=64", "--cfg", "cpu", "--cbase", "256", "--cmax", "16", "--clusters", "0",
            "--batch", "8", "--tick", "0.032", "--snap", "1", "--workers", "0", "--kimg", "0.032"]


def signalled_after_done(args: list[str], outdir: Path) -> subprocess.CompletedProcess:
    """Run `stylegan2 ARGS --outdir OUTDIR` and, from its Done. line until it exits, send it SIGINT, SIGUSR1 and SIGTERM
    in turn: each moment of its exit meets one."""
    process = subprocess.Popen([sys.executable, "-m", "stylegan2", *args, "--outdir", str(outdir)], text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("Done."):
            break
    sent = 0
    while process.poll() is None:
        process.send_signal((signal.SIGINT, signal.SIGUSR1, signal.SIGTERM)[sent % 3])
        sent += 1
        time.sleep(0.03)
    stdout, stderr = process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, "".join(lines) + stdout, stderr)


@pytest.mark.parametrize("gpus", [[], ["--gpus", "2", "--device", "cpu"]], ids=["one process", "launcher"])
def test_signals_after_done_leave_a_finished_run_a_success(tmp_path, gpus):
    """SIGUSR1 after Done. ended the command with 138, Ctrl-C with 130 (`swapae train`: an atexit traceback)."""
    result = signalled_after_done([*TINY_RUN, *gpus], tmp_path / "runs")
    assert "Done." in result.stdout, result
    assert result.returncode == 0 and "Traceback" not in result.stderr and "Exception" not in result.stderr, result


def test_sigterm_while_the_dataset_is_written_leaves_no_temporary(tmp_path):
    """`timeout`, `docker stop` and systemd stop with SIGTERM: it left a hidden .s.zip.*.tmp.zip of megabytes."""
    dest = tmp_path / "out"
    dest.mkdir()
    process = subprocess.Popen([sys.executable, "-m", "stylegan2", "dataset", "--source", "builtin:shapes?n=20000",
                                "--dest", str(dest / "s.zip")], text=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not any(dest.iterdir()) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # well into the write
    process.send_signal(signal.SIGTERM)
    stderr = process.communicate(timeout=60)[1]
    assert process.returncode == 143, stderr
    assert stderr.splitlines()[-1:] == ["Stopped by SIGTERM"] and "Traceback" not in stderr, stderr
    assert list(dest.iterdir()) == []


def test_sigterm_in_any_command_is_one_line_and_status_143(monkeypatch, tmp_path):
    from stylegan2.training.signals import SignalInterrupt

    def terminated(*args, **kwargs):
        raise SignalInterrupt(signal.SIGTERM)
    monkeypatch.setattr("stylegan2.cli.dataset.convert_dataset", terminated)
    result = CliRunner().invoke(main, ["dataset", "--source", "builtin:shapes", "--dest", str(tmp_path / "d.zip")])
    assert result.exit_code == 143 and result.output == "Stopped by SIGTERM\n", result.output
