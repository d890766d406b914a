"""What made a run, for its log and snapshots: results are exact only with the same code and libraries."""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import shlex
import subprocess
from pathlib import Path

COMMAND_VARIABLE = "STYLEGAN2_COMMAND"  # the command line, as the `stylegan2` entry point was given it (its processes too)
DIFF_HASH_LENGTH = 7  # hex digits of the uncommitted changes' hash, as many as git's short revisions


@functools.cache
def software() -> dict[str, str]:
    """The versions a run depends on: stylegan2 (with its git revision when it runs from a checkout), torch, NumPy,
    Python."""
    import numpy as np  # here: the entry point imports this module before torch loads
    import torch

    from .. import __version__

    return {"stylegan2": __version__ + _git_revision(), "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def _git_revision() -> str:
    """' (git 1a2b3c4)', with '+changes 5d6e7f8' when the checkout has uncommitted ones (a hash of their `git diff`,
    which tells apart runs of different edits to one revision); '' outside a git checkout, or without git."""
    folder = Path(__file__).resolve().parents[1]
    if not (folder.parents[1] / "pyproject.toml").is_file():  # installed, not a checkout (a venv in another repo, say)
        return ""
    try:
        run = functools.partial(subprocess.run, cwd=folder, capture_output=True, timeout=5, check=True)
        revision = run(["git", "rev-parse", "--short", "HEAD"]).stdout.decode().strip()
        diff = run(["git", "diff", "--no-ext-diff", "--no-color", "--binary", "HEAD", "--", "."]).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    changes = f"+changes {hashlib.sha256(diff).hexdigest()[:DIFF_HASH_LENGTH]}" if diff else ""
    return f" (git {revision}{changes})" if revision else ""


def record_command(args: list[str]) -> None:
    """Note the `stylegan2` command line for the run's log, after a `cd` to the folder it ran in, so that it runs
    again as it did from anywhere (its paths may be relative); kept when set already: the processes a run launches
    inherit their launcher's."""
    try:
        folder = f"cd {shlex.quote(os.getcwd())} && "
    except OSError:  # the folder was deleted under the shell
        folder = ""
    os.environ.setdefault(COMMAND_VARIABLE, folder + shlex.join(["stylegan2", *args]))


def command_line() -> str:
    """The `stylegan2` command this process runs for, as typed, after a `cd` to its folder ('' when called from
    Python)."""
    return os.environ.get(COMMAND_VARIABLE, "")


def describe_software() -> str:
    """'stylegan2 0.1.0 (git 1a2b3c4), torch 2.13.0, numpy 2.1.0, python 3.11.7'."""
    return ", ".join(f"{name} {version}" for name, version in software().items())
