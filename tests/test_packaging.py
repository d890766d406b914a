"""The wheel users install: built as pip builds it, from the package's sources alone, it holds the package's data
files and licence, and its metadata carries the package's one version. An editable install reads these from the checkout, so only a
real build shows a file missing from the package data."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import stylegan2

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The wheel built, as pip builds it for users, from a copy of the package's sources (pyproject, README, LICENSE,
    src/); skipped where no package index offers the build backend pyproject asks for."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    dist = tmp_path_factory.mktemp("dist")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(source)],
                           capture_output=True, text=True)
    if built.returncode != 0 and "No matching distribution found for setuptools" in built.stderr:
        pytest.skip("building the wheel needs setuptools>=77 from a package index, and none offers it here")
    assert built.returncode == 0, built.stderr
    (path,) = dist.glob("stylegan2-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


def test_the_wheel_holds_the_explorer_page_the_type_marker_and_the_licence(wheel):
    names = set(wheel.namelist())
    static = ROOT / "src/stylegan2/explore/static"
    for path in static.rglob("*"):
        if path.is_file():
            assert f"stylegan2/explore/static/{path.relative_to(static).as_posix()}" in names
    assert "stylegan2/py.typed" in names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert not [name for name in names if name.startswith(("tests/", "benchmarks/", "experiments/", "docs/"))]


def test_the_wheel_metadata_has_the_package_version_and_licence(wheel):
    (metadata,) = [name for name in wheel.namelist() if name.endswith(".dist-info/METADATA")]
    lines = wheel.read(metadata).decode().splitlines()
    assert f"Version: {stylegan2.__version__}" in lines
    assert "License-Expression: MIT" in lines
