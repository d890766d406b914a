"""The code passes the project's lint (`ruff check`, configured in pyproject.toml), so that CI, which runs the tests,
fails a change that breaks it. Formatting is not checked: the code is wrapped by hand, not by `ruff format`."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINTED = ("src", "tests", "benchmarks", "experiments")


def test_ruff_check_finds_nothing():
    if importlib.util.find_spec("ruff") is None:
        pytest.skip('the lint test needs ruff: pip install -e ".[test]"')
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", *LINTED], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
