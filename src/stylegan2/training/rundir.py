"""Run directories: `OUTDIR/NNNNN-<desc>/`, numbered so that a new run never reuses an old one."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable

from ..io.detect import newest_snapshot
from ..utils.files import folder_blocker, remove_stale_temps


def _safe(desc: str) -> str:
    """A run description as it appears in a directory name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", desc)


def check_outdir_outside_data(outdir: str | Path, data: str) -> None:
    """Refuse an --outdir inside a --data folder: the runs' grids and snapshots would become training images."""
    folder = Path(data).expanduser()
    if not folder.is_dir():
        return
    if Path(os.path.realpath(Path(outdir).expanduser())).is_relative_to(os.path.realpath(folder)):
        raise ValueError(f"--outdir {outdir} is inside the --data folder {data}: the runs' image grids would become "
                         "training images; choose an --outdir outside it")


def check_outdir_creatable(outdir: str | Path) -> None:
    """Refuse an --outdir where no run directory can be made (a file on the way, a folder without write
    permission) before the work that comes first (opening and clustering the data); create_run_dir still
    reports what this cannot foresee."""
    blocker = folder_blocker(Path(outdir).expanduser())
    if blocker is not None:
        raise ValueError(f"--outdir {outdir}: cannot create a run directory there ({blocker}); choose another --outdir")


def create_run_dir(outdir: str | Path, desc: str) -> Path:
    """Create and return the next free `NNNNN-desc` directory under `outdir`.

    The number is one more than the largest existing one; `mkdir` without exist_ok means two
    runs started at the same moment cannot share a directory either. Temporaries that killed
    runs left in earlier run directories (half-written snapshots) are removed first.
    """
    check_outdir_creatable(outdir)
    outdir = Path(outdir).expanduser()
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        for name in os.listdir(outdir):
            if re.match(r"^\d+-", name) and (outdir / name).is_dir():
                remove_stale_temps(outdir / name)
        safe_desc = _safe(desc)
        while True:
            numbers = [int(m.group(1)) for name in os.listdir(outdir) if (m := re.match(r"^(\d+)-", name))]
            run_dir = outdir / f"{max(numbers, default=-1) + 1:05d}-{safe_desc}"
            try:
                run_dir.mkdir()
                return run_dir
            except FileExistsError:
                continue
    except OSError as err:  # read-only, no permission, a file on the way, ...
        raise ValueError(f"--outdir {outdir}: cannot create a run directory there ({err.strerror or err}); "
                         "choose another --outdir") from None


def latest_snapshot(outdir: str | Path, desc: str,
                    differs: Callable[[Path], str] = lambda run_dir: "") -> tuple[Path | None, list[str]]:
    """The newest snapshot of the newest `NNNNN-desc` run under `outdir` that has one (None if none does), passing
    over runs for which `differs(run_dir)` says how they differ from this one; and a line per run passed over.

    This is what `--resume auto` continues: a run restarted after a failure (by hand or by torchrun
    --max-restarts) finds the last snapshot of the run it replaces, itself a run directory of its own.
    Snapshots are written atomically, so every one found here is complete.
    """
    outdir = Path(outdir).expanduser()
    passed_over: list[str] = []
    if not outdir.is_dir():
        return None, passed_over
    safe_desc = _safe(desc)
    runs = sorted((int(m.group(1)), outdir / name) for name in os.listdir(outdir)
                  if (m := re.fullmatch(r"(\d+)-" + re.escape(safe_desc), name)) and (outdir / name).is_dir())
    for _, run_dir in reversed(runs):
        newest = newest_snapshot(run_dir, suffixes=("safetensors",))  # our snapshots only: the ones a run continues from
        if newest is None:
            continue
        difference = differs(run_dir)
        if difference:
            passed_over.append(f"{run_dir.name}: {difference}")
            continue
        return newest, passed_over
    return None, passed_over
