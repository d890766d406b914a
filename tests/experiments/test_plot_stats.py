"""experiments/plot_stats.py: a --stat no run holds is refused naming those they hold; Metrics/<result> reads the run's
metric records."""

import json
import sys
from pathlib import Path

import pytest

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


def tiny_run(folder: Path) -> Path:
    """A run directory as training writes it: two ticks in stats.jsonl, and FID records of two snapshots."""
    run = folder / "00000-shapes-cpu"
    run.mkdir()
    ticks = [{"Loss/G/loss": {"num": 8, "mean": 0.7 - tick / 10, "std": 0.1}, "Progress/kimg": {"num": 1, "mean": kimg, "std": 0},
              "timestamp": 1.0 + tick} for tick, kimg in enumerate((0.008, 0.016))]
    (run / "stats.jsonl").write_text("".join(json.dumps(tick) + "\n" for tick in ticks))
    records = [{"results": {"fid1k_full": fid}, "metric": "fid1k_full", "snapshot_pkl": f"network-snapshot-{name}.safetensors"}
               for fid, name in ((30.0, "000000-008"), (20.0, "000000-016"))]
    (run / "metric-fid1k_full.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    return run


@pytest.fixture
def runs_module(monkeypatch):
    monkeypatch.syspath_prepend(str(EXPERIMENTS))
    monkeypatch.delitem(sys.modules, "scoring.runs", raising=False)
    from scoring import runs

    return runs


def test_an_unknown_stat_is_refused_naming_the_ones_the_runs_hold(tmp_path, run_script):
    tiny_run(tmp_path)
    result = run_script(EXPERIMENTS / "plot_stats.py", ["00000-shapes-cpu", "--stat", "Loss/G/los", "--out", "plot.png"],
                        tmp_path, blocked=("matplotlib",))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert ("--stat Loss/G/los: no run here holds it; they hold Loss/G/loss, Metrics/fid1k_full, Progress/kimg"
            in result.stderr), result.stderr


def test_metrics_are_read_from_the_metric_records_at_their_snapshots_kimg(tmp_path, runs_module):
    run = tiny_run(tmp_path)
    assert runs_module.read_series(str(run), "Metrics/fid1k_full") == ([0.008, 0.016], [30.0, 20.0])
    assert runs_module.read_series(str(run), "Loss/G/loss") == ([0.008, 0.016], pytest.approx([0.7, 0.6]))
