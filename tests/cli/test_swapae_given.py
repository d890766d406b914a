"""`swapae train` records `given`, the options typed, as `train` does: `info` on its snapshots said
'none (the preset and defaults)' under a command that typed five."""

import json

from click.testing import CliRunner

from stylegan2.cli import main


def given(*args: str) -> list[str]:
    result = CliRunner().invoke(main, ["swapae", "train", "--data", "builtin:shapes?n=16", "--cfg", "cpu", *args,
                                       "--dry-run"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["given"]


def test_swapae_train_records_exactly_the_options_typed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert given() == []  # --outdir and the switches at their defaults, untyped
    assert given("--kimg", "0.02", "--no-mirror", "--outdir", "training-runs", "--tick", "0.01") == \
        ["kimg", "mirror", "outdir", "tick"]
