"""Reading training runs: snapshot progress, per-tick statistics, and saving plot panels."""

from __future__ import annotations

import json
from pathlib import Path


def snapshot_kimg(path: Path) -> float:
    """The training progress a snapshot's file name records (network-snapshot-000123-456 -> 123.456)."""
    return float(path.stem.removeprefix("network-snapshot-").replace("-", "."))


def read_series(run: str, stat: str) -> tuple[list[float], list[float]]:
    """(kimg, per-tick mean) of one statistic of a run, or of a run and its resumptions ("A,B")."""
    kimg, values = [], []
    for run_dir in map(Path, run.split(",")):
        path = run_dir / "stats.jsonl"
        if not path.is_file():
            raise SystemExit(f"{run_dir}: no stats.jsonl here; pass a training run directory")
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if stat in record:
                kimg.append(record["Progress/kimg"]["mean"])
                values.append(record[stat]["mean"])
    return kimg, values


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend, or a one-line exit naming the extra that installs it."""
    try:
        import matplotlib
    except ModuleNotFoundError:
        raise SystemExit("plotting needs matplotlib: pip install -e \".[plot]\"") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_panels(fig, axes, out: Path) -> None:
    """Give every panel a kimg axis, a grid and a legend, and write the figure."""
    for ax in axes:
        ax.set_xlabel("kimg")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print(f"wrote {out}")
