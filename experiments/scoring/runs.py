"""Reading training runs: snapshot progress, per-tick statistics, and saving plot panels."""

from __future__ import annotations

import json
from pathlib import Path


def snapshot_kimg(path: Path) -> float:
    """The training progress a snapshot's file name records (network-snapshot-000123-456 -> 123.456)."""
    return float(path.stem.removeprefix("network-snapshot-").replace("-", "."))


METRICS = "Metrics/"  # a statistic named Metrics/<result> is read from the run's metric-*.jsonl, as TensorBoard names it


def read_series(run: str, stat: str) -> tuple[list[float], list[float]]:
    """(kimg, value) of one statistic of a run, or of a run and its resumptions ("A,B"): a per-tick mean from stats.jsonl,
    or, for `Metrics/<result>` (Metrics/fid50k_full, Metrics/pr50k3_full_recall), each snapshot's score from its
    metric-*.jsonl."""
    kimg, values = [], []
    for run_dir in map(Path, run.split(",")):
        if stat.startswith(METRICS):
            for record in _metric_records(run_dir):
                if stat[len(METRICS):] in record["results"] and record.get("snapshot_pkl"):
                    kimg.append(snapshot_kimg(Path(Path(record["snapshot_pkl"]).name)))
                    values.append(record["results"][stat[len(METRICS):]])
            continue
        for record in _tick_records(run_dir):
            if stat in record:
                kimg.append(record["Progress/kimg"]["mean"])
                values.append(record[stat]["mean"])
    return kimg, values


def stat_names(run: str) -> set[str]:
    """The statistics a run (or "A,B") holds: stats.jsonl's, and Metrics/<result> for its metric records."""
    names: set[str] = set()
    for run_dir in map(Path, run.split(",")):
        names.update(name for record in _tick_records(run_dir) for name in record if name != "timestamp")
        names.update(METRICS + name for record in _metric_records(run_dir) for name in record["results"])
    return names


def _tick_records(run_dir: Path) -> list[dict]:
    """stats.jsonl's lines, one per tick."""
    path = run_dir / "stats.jsonl"
    if not path.is_file():
        raise SystemExit(f"{run_dir}: no stats.jsonl here; pass a training run directory")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _metric_records(run_dir: Path) -> list[dict]:
    """The metric records of a run directory (metric-<name>.jsonl, a line per snapshot scored), in file-name order."""
    return [json.loads(line) for path in sorted(run_dir.glob("metric-*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


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
