"""A training run's log.txt keeps the notes shown before its run directory existed (retest N10): --quiet promises the
log every line, and the terminal said them only once."""

from __future__ import annotations

import sys

from click.testing import CliRunner

from stylegan2.cli import main

TINY_RUN = ["--data", "builtin:shapes?n=16", "--resolution", "16", "--cfg", "cpu", "--cbase", "128", "--cmax", "16",
            "--batch", "8", "--aug", "noaug", "--workers", "0", "--device", "cpu", "--kimg", "0.008"]


def test_a_note_from_resolving_the_options_is_in_the_log_after_its_first_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    monkeypatch.setenv("STYLEGAN2_CACHE", str(tmp_path / "cache"))  # no detector: the metric fails, training goes on
    result = CliRunner().invoke(main, ["train", *TINY_RUN, "--metrics", "fid1k_full,fid1k_full", "--outdir",
                                       str(tmp_path / "runs"), "--quiet"])
    assert result.exit_code == 0, result.output
    note = "note: --metrics fid1k_full: listed more than once; computed once"
    assert result.stderr.splitlines().count(note) == 1  # shown once on the terminal, not again from the log
    log = next((tmp_path / "runs").iterdir()).joinpath("log.txt").read_text().splitlines()
    assert log[0].startswith("Run directory: ") and log[1] == note
