"""Training statistics: per-tick means of reported values, written to stats.jsonl and TensorBoard."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path

import torch

from ..utils.files import append_line
from .distributed import is_distributed


class StatsCollector:
    """Accumulates sums of reported tensors on their device; `flush` returns the means (reduced over ranks).

    Nothing is read back to the host until `flush` (once per tick): a read per reported value would make
    the CPU wait for the GPU several times per step.
    """

    def __init__(self) -> None:
        self._counts: dict[str, int] = defaultdict(int)
        self._sums: dict[str, torch.Tensor] = {}  # [sum, sum of squares] on the values' device
        self._carried: dict[str, list[float]] = {}  # a resumed tick's sums from before the stop (see `carry`)

    def report(self, name: str, value: torch.Tensor | float) -> None:
        v = torch.as_tensor(value).detach().flatten()
        v = v.to(accumulator_dtype(v.device))
        moments = torch.stack((v.sum(), v.square().sum()))
        if name in self._sums:
            self._sums[name] += moments
        else:
            self._sums[name] = moments
        self._counts[name] += v.numel()

    def partial(self) -> dict[str, list[float]]:
        """The sums so far, reduced over ranks, without clearing them: {name: [count, sum, sum of squares]}, for a
        snapshot taken within a tick (its resumed run adds them back with `carry`). Every rank calls it."""
        names = sorted(self._counts)  # every rank must report the same names, in the same order
        if not names:
            return {}
        first = self._sums[names[0]]  # NCCL reduces tensors on the GPU only: the table is built where the sums are
        counts = torch.tensor([float(self._counts[n]) for n in names], dtype=first.dtype, device=first.device)
        table = torch.cat((counts[:, None], torch.stack([self._sums[n].to(first) for n in names])), dim=1)
        if is_distributed():
            import torch.distributed as dist

            dist.all_reduce(table)
        return {name: row for name, row in zip(names, table.cpu().tolist())}

    def carry(self, partial: dict[str, list[float]]) -> None:
        """A snapshot's `partial` sums (every rank the same), added at the next `flush`, so that the resumed tick's
        statistics cover its steps before the stop too."""
        self._carried = {name: list(row) for name, row in partial.items()}

    def flush(self) -> dict[str, dict[str, float]]:
        """The tick's means and deviations (reduced over ranks, with sums carried from before a resume), then a fresh
        start. Every rank calls it."""
        totals = self.partial()
        self._counts.clear()
        self._sums.clear()
        for name, row in self._carried.items():
            totals[name] = [a + b for a, b in zip(totals.get(name, [0.0, 0.0, 0.0]), row)]
        self._carried = {}
        out: dict[str, dict[str, float]] = {}
        for name in sorted(totals):
            count, total, squares = totals[name]
            if count == 0:
                continue
            mean = total / count
            std = max(squares / count - mean**2, 0.0) ** 0.5
            out[name] = {"num": count, "mean": mean, "std": std}  # NVIDIA's training_stats keys
        return out


def accumulator_dtype(device: torch.device) -> torch.dtype:
    """float64 for sums over a whole tick, where the device has it (Apple's MPS does not)."""
    return torch.float32 if device.type == "mps" else torch.float64


class StatsWriter:
    """Appends one JSON line per tick to stats.jsonl, and to TensorBoard when it is installed; there also the metrics
    of each snapshot, as `Metrics/<name>` (NVIDIA's names; their records are the run's metric-<name>.jsonl)."""

    def __init__(self, run_dir: Path) -> None:
        self.jsonl = run_dir / "stats.jsonl"
        self.tensorboard = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tensorboard = SummaryWriter(str(run_dir))
        except ImportError:
            pass
        self.start = time.time()

    def write(self, stats: dict[str, dict[str, float]], kimg: float) -> None:
        timestamp = time.time()
        append_line(self.jsonl, json.dumps(dict(stats, timestamp=timestamp)))
        if self.tensorboard is not None:
            for name, value in stats.items():
                self.tensorboard.add_scalar(name, value["mean"], global_step=int(kimg), walltime=timestamp - self.start)
            self.tensorboard.flush()

    def write_metrics(self, results: dict[str, float], kimg: float) -> None:
        """A snapshot's metric results ({'fid50k_full': 3.2}) as TensorBoard scalars at its kimg, as NVIDIA's loop
        writes them; stats.jsonl keeps the tick statistics only, as theirs."""
        if self.tensorboard is None:
            return
        for name, value in results.items():
            self.tensorboard.add_scalar(f"Metrics/{name}", value, global_step=int(kimg), walltime=time.time() - self.start)
        self.tensorboard.flush()

    def close(self) -> None:
        if self.tensorboard is not None:
            self.tensorboard.close()
