"""Progress for the commands: a bar on a terminal, a plain line now and then in a log or a pipe.

A tqdm bar redraws itself with carriage returns; in a job log or a pipe those redraws pile up into one
long line. Every command's progress therefore comes from `progress_bar`, which draws a bar only when its
stream (stderr unless `file=` says otherwise) is a terminal, and elsewhere writes a line every
LOG_INTERVAL seconds, none for work that ends sooner. Within `quiet()` (a command's --quiet) it shows nothing;
`WarningsOnly` passes a quiet training run's warnings to the terminal and drops its progress lines.
"""

from __future__ import annotations

import contextlib
import io
import sys
from typing import IO, Any, Iterable, Iterator

from tqdm import tqdm

LOG_INTERVAL = 60.0  # seconds between a log's progress lines (and before the first): short work writes none
LOG_LINE = "{desc}: {n_fmt}/{total_fmt} ({percentage:.0f}%) [{elapsed}<{remaining}, {rate_fmt}]"
LOG_LINE_UNSIZED = "{desc}: {n_fmt} [{elapsed}, {rate_fmt}]"  # work of unknown size has no remaining time
# Lines of a training run a quiet terminal still shows: notes, interruptions, and what --resume auto found (a requeued
# job that passed its run over says why there).
WARNING_PREFIXES = ("note:", "warning:", "Interrupted", "Resume auto:")

_quiet = [False]  # set by quiet(): one switch for every bar of the command, downloads included


@contextlib.contextmanager
def quiet(on: bool = True) -> Iterator[None]:
    """Within it (when `on`), `progress_bar` shows nothing and `is_quiet()` is true: a command's --quiet."""
    before = _quiet[0]
    _quiet[0] = on or before
    try:
        yield
    finally:
        _quiet[0] = before


def is_quiet() -> bool:
    """Whether informational output is off (within `quiet()`): warnings and errors are still shown."""
    return _quiet[0]


def is_terminal(stream: IO[str] | None) -> bool:
    """Whether `stream` is a terminal, where a bar redraws in place."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and not getattr(stream, "closed", False) and isatty())


class LogLines(io.TextIOBase):
    """A stream for tqdm in a log: each redraw (a carriage return, the status, padding) becomes one line."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        line = text.replace("\r", "").strip()
        if line:
            self.stream.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


class WarningsOnly(io.TextIOBase):
    """A quiet training run's stdout: lines that warn (WARNING_PREFIXES: notes, interruptions, --resume auto) go on to
    `stream`; progress and informational lines are dropped (log.txt keeps them all)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.pending = ""

    def write(self, text: str) -> int:
        *lines, self.pending = (self.pending + text).split("\n")
        for line in lines:
            if line.startswith(WARNING_PREFIXES):
                self.stream.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


class LogProgress(tqdm):
    """tqdm for a log or a pipe: one line in each LOG_INTERVAL of elapsed time (01:00, 02:00, ...) and one at the end,
    each with the count, the average rate and the time left of its moment.

    tqdm's own timing misleads in a log: it reads the clock only every so many items (a count learned in a faster
    phase, so a slower one skips a minute), and its monitor thread then prints mid-iteration with the count the
    iteration last stored, the previous line's, under the new time. `miniters=1` reads the clock after every item
    and keeps the monitor off the bar (it refreshes only bars with miniters > 1); `smoothing=0` makes the rate the
    count over the elapsed time, as a reader checks it.
    """

    def __init__(self, iterable: Iterable[Any] | None, stream: IO[str], **kwargs: Any) -> None:
        super().__init__(iterable, file=LogLines(stream), mininterval=LOG_INTERVAL, delay=LOG_INTERVAL, miniters=1,
                         smoothing=0, **kwargs)

    def update(self, n: float = 1) -> bool | None:
        """tqdm's update, then the next line is due at the next whole interval, however late in its own this one came."""
        shown = super().update(n)
        if shown:  # as if shown on the interval's boundary: lines late by an item's time do not drift into skipping one
            elapsed = self.last_print_t - self.start_t
            self.last_print_t = self.start_t + elapsed // self.mininterval * self.mininterval
        return shown


def progress_bar(iterable: Iterable[Any] | None = None, *, show: bool = True, **kwargs: Any) -> tqdm:
    """A tqdm bar over `iterable` (or updated by hand): drawn on a terminal, a line every LOG_INTERVAL seconds
    elsewhere; nothing unless `show`, or within `quiet()`."""
    stream = kwargs.pop("file", sys.stderr)
    if not show or stream is None or is_quiet():
        return tqdm(iterable, disable=True, **kwargs)
    if is_terminal(stream):
        return tqdm(iterable, file=stream, **kwargs)
    total = kwargs.get("total", len(iterable) if hasattr(iterable, "__len__") else None)  # type: ignore[arg-type]
    return LogProgress(iterable, stream, bar_format=LOG_LINE if total else LOG_LINE_UNSIZED, **kwargs)
