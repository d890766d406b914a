"""Helpers shared by the quality studies in experiments/ (the scripts import these, never each other)."""

from __future__ import annotations

import argparse
from pathlib import Path

MIN_SAMPLES = 2  # a Frechet distance needs a covariance, so at least two samples per side
MNIST_FILE = "MNIST as an .npz, e.g. ../shared/data/mnist/mnist.npz"
SNAPSHOT_FILE = "a snapshot .safetensors"
MNIST_CLASSIFIER = "mnist-lenet.safetensors"  # the scoring LeNet's cache, trained on first use
SHAPES_CLASSIFIER = "shapes-cnn.safetensors"  # the shape classifier's cache, trained on first use


def require_file(parser: argparse.ArgumentParser, option: str, path: str | Path, what: str) -> None:
    """Stop with one line naming the option when `path` is not a file: '--mnist X: no such file (give WHAT)'."""
    if not Path(path).is_file():
        parser.error(f"{option} {path}: no such file (give {what})")


def new_png(path: str) -> Path:
    """argparse type of an output image: a .png name that does not exist yet in a folder that does (~ expanded), checked
    before the slow work (nothing is overwritten)."""
    out = Path(path).expanduser()
    if out.suffix.lower() != ".png":
        raise argparse.ArgumentTypeError(f"{path}: give a .png file name")
    if out.exists():
        raise argparse.ArgumentTypeError(f"{path} exists: choose a new file name (nothing was overwritten)")
    if not out.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{path}: no folder {out.parent}; create it first")
    return out


def classifier_help(default: str) -> str:
    """The --classifier help of every scoring script, naming its default cache."""
    return f"the scoring classifier's cache, trained and written there if absent (default {default}, in the current folder)"
