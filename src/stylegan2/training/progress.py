"""Progress reporting shared by the training loops: run log, kimg labels, durations, memory."""

from __future__ import annotations

import errno
import math
import sys
from pathlib import Path
from typing import Callable

import torch

from ..utils.files import writing
from ..utils.text import format_time

# Within a tick longer than this, a line says it is under way (then one every PROGRESS_EVERY_S): a large network
# on CPU can take many minutes per tick, and a silent terminal looks hung.
PROGRESS_FIRST_S = 60.0
PROGRESS_EVERY_S = 300.0


class RunLog:
    """Prints messages through `echo` and appends them to the run's log.txt (flushed, so a crash keeps them)."""

    def __init__(self, run_dir: Path, echo: Callable[[str], None] = print) -> None:
        self.echo = echo
        self.file = open(run_dir / "log.txt", "a", encoding="utf-8")

    def __call__(self, message: str) -> None:
        try:
            self.echo(message)
        except UnicodeEncodeError:  # a path the output's code page lacks (Windows, output redirected)
            self.echo(message.encode("ascii", "backslashreplace").decode("ascii"))
        except OSError as err:  # the terminal or log shipper went away (`| head`): log.txt goes on alone
            if err.errno not in (errno.EPIPE, errno.EINVAL):  # Windows says EINVAL for a closed pipe
                raise
            self.echo = _silent
        self.record(message)

    def record(self, message: str) -> None:
        """Append to log.txt only (an error the command line prints itself)."""
        with writing(self.file.name):
            self.file.write(message + "\n")
            self.file.flush()

    def close(self) -> None:
        self.file.close()


def _silent(message: str) -> None:
    """An echo that prints nothing."""


def kimg_label(nimg: int) -> str:
    """'000012' for 12,000 images, as the official file names; '000000-064' for 64 images."""
    kimg, rest = divmod(nimg, 1000)
    return f"{kimg:06d}" if rest == 0 else f"{kimg:06d}-{rest:03d}"


def ticks_to_go(nimg: int, kimg: float, tick: float) -> int:
    """How many ticks of `tick` kimg train from `nimg` images to `kimg` thousand (the last may be shorter)."""
    return max(math.ceil((kimg * 1000 - nimg) / (tick * 1000) - 1e-9), 0)


def snapshots_due(first_tick: int, last_tick: int, snap: int) -> int:
    """How many of the ticks first_tick..last_tick write a snapshot: every `snap`-th from tick 0, and the run's last."""
    return last_tick // snap - (first_tick - 1) // snap + (0 if last_tick % snap == 0 else 1)


def memory_usage(device: torch.device) -> str:
    """Peak GPU memory since the last call, or the process's peak resident memory on CPU, in GiB."""
    if device.type == "cuda":
        mem = torch.cuda.max_memory_allocated(device) / 2**30
        torch.cuda.reset_peak_memory_stats(device)
        return f"gpumem {mem:.2f}"
    try:
        import resource

        unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
        return f"cpumem {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit / 2**30:.2f}"
    except ImportError:
        return ""


def tick_image_count(*, tick_start_nimg: int, tick_kimg: float, batch: int, total_kimg: float) -> int:
    """The images a tick trains on: whole batches until it has `tick_kimg` thousand, or until the run's `total_kimg`
    when the run ends first (the tick ends with it)."""
    def images_until(nimg: float) -> int:
        return math.ceil(max(nimg - tick_start_nimg, 0) / batch) * batch
    return min(images_until(tick_start_nimg + tick_kimg * 1000), images_until(total_kimg * 1000))


def tick_progress(*, tick: int, cur_nimg: int, tick_images: int, tick_target: int, sec_per_kimg: float) -> str:
    """A line within a long tick, so that a slow run (a large network on CPU) does not look hung: how far the tick
    is, its pace so far and when it should end."""
    left = max(tick_target - tick_images, 0) / 1000 * sec_per_kimg
    return (f"under way: tick {tick}, kimg {_kimg(cur_nimg)} ({tick_images:,} of the tick's {tick_target:,} images), "
            f"sec/kimg {sec_per_kimg:.2f}, the tick ends in about {format_time(left)}")


def _kimg(nimg: int) -> str:
    """kimg with one decimal, or three where the count is not a multiple of 100 (tiny ticks, as snapshots name them)."""
    return f"{nimg / 1000:.1f}" if nimg % 100 == 0 else f"{nimg / 1000:.3f}"


def tick_status(*, tick: int, cur_nimg: int, elapsed: float, sec_per_kimg: float, total_kimg: float,
                stats: dict[str, dict[str, float]], losses: tuple[tuple[str, str], ...], device: torch.device, extra: str = "",
                maintenance: float = 0.0) -> str:
    """A tick's progress line: kimg, time, sec/kimg, the (label, stat) losses present, `extra`, memory, ETA (the
    training left at sec/kimg, plus `maintenance` seconds of snapshots to come)."""
    eta = max(total_kimg * 1000 - cur_nimg, 0) / 1000 * sec_per_kimg + maintenance
    values = " ".join(f"{label} {stats[key]['mean']:.3f}" for label, key in losses if key in stats)
    return (f"tick {tick:<4d} kimg {_kimg(cur_nimg):<7s} time {format_time(elapsed):<12s} sec/kimg {sec_per_kimg:<7.2f} "
            f"{values} {extra}{memory_usage(device)} eta {format_time(eta)}")
