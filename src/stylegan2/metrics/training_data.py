"""The data a network was trained on, and the files its run's metrics read, as its file or run directory records them.

`stylegan2 metrics` without `--data` scores a network against that data, as NVIDIA's calc_metrics.py
does with the `training_set_kwargs` of its pickles; without `--detector`, `--vgg` or `--cache-dir`, with
the files the run's metrics read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from stylegan2.io.checkpoint import Checkpoint

RUN_OPTIONS_FILE = "training_options.json"  # written into every run directory by `stylegan2 train`
METRIC_FILES = {"detector": "--detector", "vgg": "--vgg", "cache_dir": "--cache-dir"}  # options naming what metrics read


def _recorded(ckpt: Checkpoint, path: Path) -> tuple[str, Any, Any, Any] | None:
    """(where it was found, the data, mirror, resolution) from the first record that names the training data.

    The resolution is what our runs loaded the data at (smaller images padded to it); NVIDIA's loader
    never pads, so their records give None.
    """
    options = ckpt.training_state.get("options")
    if isinstance(options, dict) and options.get("data"):  # our training snapshots
        return "its training options", options["data"], options.get("mirror", False), options.get("resolution")
    kwargs = ckpt.source.get("training_set_kwargs")
    if isinstance(kwargs, dict) and kwargs.get("path"):  # NVIDIA's network pickles
        return "its training_set_kwargs", kwargs["path"], kwargs.get("xflip", False), None
    run_options = path.parent / RUN_OPTIONS_FILE  # our snapshots converted or stripped, still in their run directory
    if run_options.is_file():
        try:
            saved = json.loads(run_options.read_text())
        except (OSError, ValueError) as err:
            raise ValueError(f"{run_options}: unreadable ({err}); pass --data") from None
        if isinstance(saved, dict) and saved.get("data"):
            return str(run_options), saved["data"], saved.get("mirror", False), saved.get("resolution")
    return None


def recorded_metric_files(ckpt: Checkpoint, path: str | os.PathLike) -> tuple[dict[str, str], str]:
    """The METRIC_FILES that the run which made the network file recorded (those it was given), and where they were
    found: its snapshot's training options, else the training_options.json beside it; ({}, '') when none records them.
    A record that cannot be read counts as none: these are defaults, and the user may give each."""
    options = ckpt.training_state.get("options")
    where = "its training options"
    if not isinstance(options, dict):
        run_options, where = Path(path).parent / RUN_OPTIONS_FILE, str(Path(path).parent / RUN_OPTIONS_FILE)
        try:
            options = json.loads(run_options.read_text()) if run_options.is_file() else {}
        except (OSError, ValueError):
            options = {}
    if not isinstance(options, dict):
        return {}, ""
    found = {name: options[name] for name in METRIC_FILES if isinstance(options.get(name), str)}
    return found, where if found else ""


def run_directory_of(network: str | os.PathLike) -> Path | None:
    """The run directory a network file (or a run directory given as the network) sits in: the folder holding
    training_options.json, ours or NVIDIA's. NVIDIA's calc_metrics.py appends its records there by default."""
    path = Path(network)
    folder = path if path.is_dir() else path.parent
    return folder if (folder / RUN_OPTIONS_FILE).is_file() else None


def same_data(a: str, b: str) -> bool:
    """Whether two dataset specs name the same data: equal, or paths (~ expanded) that resolve to the same place."""
    if a == b:
        return True
    if a.startswith("builtin:") or b.startswith("builtin:"):
        return False
    return os.path.realpath(os.path.expanduser(a)) == os.path.realpath(os.path.expanduser(b))


def training_resolution(ckpt: Checkpoint, path: str | os.PathLike, data: str) -> int | None:
    """The resolution the run that made the network file loaded `data` at, when its record names that data; else None.

    Our runs pad square images smaller than `--resolution` with black (MNIST's 28 px to 32), and record the
    resolution with the data; metrics load that data the same way. A record that cannot be read gives None.
    """
    try:
        found = _recorded(ckpt, Path(path))
    except ValueError:
        return None
    if found is None:
        return None
    _, recorded, _, resolution = found
    if not isinstance(recorded, str) or not isinstance(resolution, int) or not same_data(recorded, data):
        return None
    return resolution


def training_data(ckpt: Checkpoint, path: str | os.PathLike) -> tuple[str, bool]:
    """(dataset spec, whether the run mirrored it) of the run that made the network file at `path`.

    A ValueError naming the file says what to pass instead when nothing records the data, or when the
    recorded dataset is not found from here (our runs record it as an absolute path; NVIDIA's, as typed).
    """
    path = Path(path)
    found = _recorded(ckpt, path)
    if found is None:
        raise ValueError(f"{path}: the file does not say which data it was trained on (and no {RUN_OPTIONS_FILE} is "
                         f"beside it); pass --data")
    where, data, mirror, _ = found
    if not isinstance(data, str) or not isinstance(mirror, bool):
        raise ValueError(f"{path}: {where} name the training data as {data!r} (mirror {mirror!r}), not a dataset; pass --data")
    location = os.path.expanduser(data.split("?", 1)[0])
    if not data.startswith("builtin:") and not Path(location).exists() and not Path(location.rsplit(":", 1)[0]).exists():
        raise ValueError(f"{path}: trained on {data} ({where}), which is not found from here; pass --data")
    return data, mirror
