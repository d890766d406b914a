"""Training statistics: per-tick means of reported values, written to stats.jsonl and TensorBoard."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path

import torch

from .distributed import is_distributed


class StatsCollector:
    """Accumulates sums of reported tensors; `flush` returns the means (reduced over ranks)."""

    def __init__(self) -> None:
        self._sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])  # count, sum, sum of squares

    def report(self, name: str, value: torch.Tensor | float) -> None:
        v = torch.as_tensor(value, dtype=torch.float64).detach().flatten().cpu()
        acc = self._sums[name]
        acc[0] += v.numel()
        acc[1] += v.sum().item()
        acc[2] += v.square().sum().item()

    def flush(self) -> dict[str, dict[str, float]]:
        names = sorted(self._sums)
        if is_distributed():  # every rank must report the same names, in the same order
            import torch.distributed as dist

            flat = torch.tensor([self._sums[n] for n in names], dtype=torch.float64).reshape(-1, 3)
            dist.all_reduce(flat)
            sums = {n: flat[i].tolist() for i, n in enumerate(names)}
        else:
            sums = {n: self._sums[n] for n in names}
        self._sums.clear()
        out = {}
        for name, (count, total, squares) in sums.items():
            if count == 0:
                continue
            mean = total / count
            std = max(squares / count - mean**2, 0.0) ** 0.5
            out[name] = {"n": count, "mean": mean, "std": std}
        return out


class StatsWriter:
    """Appends one JSON line per tick to stats.jsonl, and to TensorBoard when it is installed."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.jsonl = open(run_dir / "stats.jsonl", "a", encoding="utf-8")
        self.tensorboard = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tensorboard = SummaryWriter(str(run_dir))
        except ImportError:
            pass
        self.start = time.time()

    def write(self, stats: dict[str, dict[str, float]], kimg: float) -> None:
        timestamp = time.time()
        self.jsonl.write(json.dumps(dict(stats, timestamp=timestamp)) + "\n")
        self.jsonl.flush()
        if self.tensorboard is not None:
            for name, value in stats.items():
                self.tensorboard.add_scalar(name, value["mean"], global_step=int(kimg), walltime=timestamp - self.start)
            self.tensorboard.flush()

    def close(self) -> None:
        self.jsonl.close()
        if self.tensorboard is not None:
            self.tensorboard.close()
