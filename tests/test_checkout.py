"""The tests test the checkout they are in, not another installed copy of stylegan2 (the editable install of a second
clone or worktree): pyproject's `pythonpath` puts this checkout's src/ first for the tests, and tests/conftest.py for
the Pythons they start."""

import subprocess
import sys
from pathlib import Path

import stylegan2

SRC = Path(__file__).resolve().parents[1] / "src"


def test_the_tests_import_this_checkouts_package():
    assert Path(stylegan2.__file__).resolve().is_relative_to(SRC), f"{stylegan2.__file__} is not under {SRC}"


def test_a_python_the_tests_start_imports_this_checkouts_package(tmp_path):
    result = subprocess.run([sys.executable, "-c", "import stylegan2; print(stylegan2.__file__)"], cwd=tmp_path,
                            capture_output=True, text=True, check=True)
    assert Path(result.stdout.strip()).resolve().is_relative_to(SRC), f"{result.stdout.strip()} is not under {SRC}"
