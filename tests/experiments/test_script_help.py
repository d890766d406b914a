"""Every repository script answers --help with its usage and options (argparse expands each help text then)."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted([*(ROOT / "experiments").glob("*.py"), *(ROOT / "benchmarks").glob("*.py")])
MODULES = {"flops.py"}  # imported by the benchmarks, not run


@pytest.mark.parametrize("script", [s for s in SCRIPTS if s.name not in MODULES], ids=lambda s: f"{s.parent.name}/{s.name}")
def test_help_lists_the_options(tmp_path, run_script, script):
    result = run_script(script, ["--help"], tmp_path)
    assert result.returncode == 0 and result.stdout.startswith(f"usage: {script.name}"), result.stderr[-2000:]
