"""The wheel users install: built as pip builds it, from the package's sources alone, it holds the package's data
files and licence, and its metadata carries the package's one version. An editable install reads these from the checkout, so only a
real build shows a file missing from the package data. The source distribution carries what a packager needs to run the tests and
build the docs."""

import shutil
import subprocess
import sys
import tarfile
import zipfile
from fnmatch import fnmatch
from pathlib import Path

import pytest

import stylegan2

ROOT = Path(__file__).resolve().parents[1]
SDIST_FOLDERS = ("tests", "docs", "benchmarks", "experiments")  # the tests import helpers from benchmarks/ and experiments/
CACHES = ("__pycache__", "*.pyc", "*.egg-info", ".pytest_cache")


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


def _checkout_files(folder: Path) -> set[str]:
    """The files of one of the checkout's folders, as paths relative to the checkout, caches left out."""
    return {path.relative_to(ROOT).as_posix() for path in folder.rglob("*")
            if path.is_file() and not any(fnmatch(part, cache) for part in path.relative_to(ROOT).parts for cache in CACHES)}


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, set[str]]:
    """The source distribution setuptools builds from a copy of the checkout: its top folder and its file names."""
    import setuptools

    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip(f"building the sdist needs setuptools>=77 (pyproject's build requirement), this has {setuptools.__version__}")
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "mkdocs.yml"):
        shutil.copy(ROOT / name, source / name)
    for name in ("src", *SDIST_FOLDERS):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns(*CACHES))
    dist = tmp_path_factory.mktemp("dist")
    built = subprocess.run([sys.executable, "-c", f"import setuptools.build_meta as b; print(b.build_sdist({str(dist)!r}))"],
                           cwd=source, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    with tarfile.open(dist / built.stdout.split()[-1]) as archive:
        names = archive.getnames()
    top = names[0].split("/")[0]
    return top, {name.removeprefix(f"{top}/") for name in names}


def test_the_sdist_carries_the_tests_docs_and_their_helpers(sdist):
    _, names = sdist
    for folder in SDIST_FOLDERS:
        missing = _checkout_files(ROOT / folder) - names
        assert not missing, f"left out of the sdist: {sorted(missing)[:5]}"
    assert {"mkdocs.yml", "LICENSE", "README.md", "pyproject.toml", "src/stylegan2/py.typed"} <= names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


def test_the_changelog_describes_the_packages_version():
    """docs/changelog.md's newest entry is this version: a release that changes defaults or files says so there."""
    changelog = ROOT / "docs" / "changelog.md"
    if not changelog.is_file():
        pytest.skip("docs/changelog.md is not in this copy of the sources")
    versions = [line.removeprefix("## ").split()[0] for line in changelog.read_text(encoding="utf-8").splitlines()
                if line.startswith("## ")]
    assert versions and versions[0] == stylegan2.__version__, versions
