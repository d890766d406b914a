"""Run directories: `OUTDIR/NNNNN-<desc>/`, numbered so that a new run never reuses an old one."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..utils.files import remove_stale_temps


def create_run_dir(outdir: str | Path, desc: str) -> Path:
    """Create and return the next free `NNNNN-desc` directory under `outdir`.

    The number is one more than the largest existing one; `mkdir` without exist_ok means two
    runs started at the same moment cannot share a directory either. Temporaries that killed
    runs left in earlier run directories (half-written snapshots) are removed first.
    """
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise ValueError(f"--outdir {outdir} exists and is not a directory")
    outdir.mkdir(parents=True, exist_ok=True)
    for name in os.listdir(outdir):
        if re.match(r"^\d+-", name) and (outdir / name).is_dir():
            remove_stale_temps(outdir / name)
    safe_desc = re.sub(r"[^A-Za-z0-9_.-]+", "_", desc)
    while True:
        numbers = [int(m.group(1)) for name in os.listdir(outdir) if (m := re.match(r"^(\d+)-", name))]
        run_dir = outdir / f"{max(numbers, default=-1) + 1:05d}-{safe_desc}"
        try:
            run_dir.mkdir()
            return run_dir
        except FileExistsError:
            continue
