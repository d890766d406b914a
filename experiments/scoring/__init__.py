"""Helpers shared by the quality studies in experiments/ (the scripts import these, never each other)."""

from __future__ import annotations

import argparse
from pathlib import Path

MIN_SAMPLES = 2  # a Frechet distance needs a covariance, so at least two samples per side
MNIST_FILE = "MNIST as an .npz, e.g. ../shared/data/mnist/mnist.npz"
SNAPSHOT_FILE = "a snapshot .safetensors"


def require_file(parser: argparse.ArgumentParser, option: str, path: str | Path, what: str) -> None:
    """Stop with one line naming the option when `path` is not a file: '--mnist X: no such file (give WHAT)'."""
    if not Path(path).is_file():
        parser.error(f"{option} {path}: no such file (give {what})")
