"""Fixtures the cli tests share with the tests of the packages behind the commands: taken from those packages'
conftest.py files, loaded by path (tests are not a package)."""

import importlib.util
import types
from pathlib import Path


def _conftest(package: str) -> types.ModuleType:
    """tests/<package>/conftest.py as a module of its own."""
    spec = importlib.util.spec_from_file_location(f"{package}_conftest", Path(__file__).parents[1] / package / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_io, _metrics, _explore, _swapae = (_conftest(package) for package in ("io", "metrics", "explore", "swapae"))

official_path, official_ckpt, rosinality_path, rosinality_ckpt = \
    _io.official_path, _io.official_ckpt, _io.rosinality_path, _io.rosinality_ckpt  # test_convert.py
tiny_G = _metrics.tiny_G  # test_metrics.py
gan_file = _explore.gan_file  # test_explore.py
swapae_run, swapae_snapshot = _swapae.swapae_run, _swapae.swapae_snapshot  # test_swapae.py
