"""StatsCollector: per-tick means and deviations, kept on the values' device until the tick, reduced over ranks there."""

import numpy as np
import pytest
import torch

from stylegan2.training import stats as stats_module
from stylegan2.training.stats import StatsCollector, accumulator_dtype


def test_flush_gives_count_mean_and_std_of_everything_reported_since_the_last():
    collector = StatsCollector()
    values = [torch.tensor([1.0, 2.0, 4.0]), torch.tensor([[0.5], [-3.0]]), 7.0, torch.zeros(0)]
    for value in values:
        collector.report("Loss/x", value)
    collector.report("Loss/empty", torch.zeros(0))
    everything = np.array([1.0, 2.0, 4.0, 0.5, -3.0, 7.0])
    out = collector.flush()
    assert set(out) == {"Loss/x"}  # nothing reported under Loss/empty
    assert out["Loss/x"]["num"] == 6
    assert out["Loss/x"]["mean"] == pytest.approx(everything.mean(), abs=1e-12)
    assert out["Loss/x"]["std"] == pytest.approx(everything.std(), abs=1e-12)
    assert collector.flush() == {}  # the next tick starts empty


def test_sums_are_float64_whatever_the_reported_dtype():
    collector = StatsCollector()
    for _ in range(3):
        collector.report("Loss/half", torch.full((1000,), 0.1, dtype=torch.float16))
    assert collector.flush()["Loss/half"]["mean"] == pytest.approx(float(torch.tensor(0.1, dtype=torch.float16)), abs=1e-12)
    assert accumulator_dtype(torch.device("cpu")) == torch.float64
    assert accumulator_dtype(torch.device("mps")) == torch.float32  # Apple's GPU has no float64


def test_under_torch_distributed_one_table_is_reduced_where_the_sums_are(monkeypatch):
    reduced = []

    def all_reduce(table):  # two ranks that reported the same
        reduced.append((table.device, table.dtype, tuple(table.shape)))
        table.mul_(2)

    monkeypatch.setattr(stats_module, "is_distributed", lambda: True)
    monkeypatch.setattr(torch.distributed, "all_reduce", all_reduce)
    collector = StatsCollector()
    collector.report("b", torch.tensor([1.0, 3.0]))
    collector.report("a", torch.tensor([5.0]))
    out = collector.flush()
    assert reduced == [(torch.device("cpu"), torch.float64, (2, 3))]  # one collective per tick, names in sorted order
    assert out == {"a": {"num": 2.0, "mean": 5.0, "std": 0.0}, "b": {"num": 4.0, "mean": 2.0, "std": 1.0}}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_cuda_reports_never_wait_for_the_gpu_and_nccl_gets_a_cuda_tensor(monkeypatch):
    devices = []
    monkeypatch.setattr(stats_module, "is_distributed", lambda: True)
    monkeypatch.setattr(torch.distributed, "all_reduce", lambda table: devices.append(table.device.type))
    collector = StatsCollector()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(5):
            collector.report("Loss/x", torch.randn(64, device="cuda"))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert collector.flush()["Loss/x"]["num"] == 320 and devices == ["cuda"]


def test_a_tick_after_a_line_cut_short_is_written_on_a_line_of_its_own(tmp_path):
    """stats.jsonl ended by a full disk or a kill mid-line: the next tick's record is not glued onto it."""
    import json

    (tmp_path / "stats.jsonl").write_text('{"Progress/tick": {"num": 1, "mean"')
    writer = stats_module.StatsWriter(tmp_path)
    with pytest.warns(UserWarning, match="stats.jsonl: its last line was cut short"):
        writer.write({"Progress/tick": {"num": 1, "mean": 1.0, "std": 0.0}}, kimg=1.0)
    writer.close()
    last = (tmp_path / "stats.jsonl").read_text().splitlines()[-1]
    assert json.loads(last)["Progress/tick"]["mean"] == 1.0
