"""Signals during a training run: Ctrl-C asks the run to stop (with a final snapshot), a second Ctrl-C stops it at
once, and SIGTERM (torchrun stopping the job) raises Terminated so that the log says why the run ended."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from typing import Any, Iterator

SAME_CTRL_C_SECONDS = 2.0  # under a launcher, a SIGINT this soon after the first is the same Ctrl-C (see StopRequest)


class Terminated(Exception):
    """SIGTERM: the launcher is stopping this process (torchrun does when a process of the job fails), or the system is."""

    def __init__(self) -> None:
        super().__init__("stopped by SIGTERM from the launcher or the system")


class StoppedTogether(KeyboardInterrupt):
    """The run stopped after Ctrl-C at a step every process agreed on, with its last snapshot written."""


class StopRequest:
    """Whether Ctrl-C asked this process to stop.

    The first SIGINT only sets `requested`: the loop stops where every process agrees to, after a whole step, and
    writes a final snapshot. A later one raises KeyboardInterrupt at once (stop now, write nothing). Under torchrun
    (or `--gpus`) the terminal's Ctrl-C reaches every process and the launcher, which forwards it once more, so
    there a SIGINT within SAME_CTRL_C_SECONDS of the first is the same Ctrl-C.
    """

    def __init__(self, same_within: float = 0.0) -> None:
        self.same_within = same_within
        self._first: float | None = None

    @property
    def requested(self) -> bool:
        return self._first is not None

    def handle(self, signum: int, frame: Any) -> None:
        now = time.monotonic()
        if self._first is None:
            self._first = now
        elif now - self._first > self.same_within:
            raise KeyboardInterrupt


def under_launcher() -> bool:
    """Whether torch's elastic agent (torchrun, or `--gpus`) started this process: it forwards the signals it gets."""
    return "TORCHELASTIC_RUN_ID" in os.environ


@contextlib.contextmanager
def ctrl_c_requests_stop() -> Iterator[StopRequest]:
    """Handle SIGINT as StopRequest says inside the block. Only the main thread handles signals; elsewhere, and
    where SIGINT is ignored (a background job of a script, nohup), the request stays unset and Ctrl-C does what
    it did."""
    request = StopRequest(SAME_CTRL_C_SECONDS if under_launcher() else 0.0)
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        yield request
        return
    previous = signal.signal(signal.SIGINT, request.handle)
    try:
        yield request
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)  # None: not set from Python


@contextlib.contextmanager
def sigterm_raises_once() -> Iterator[list[int]]:
    """Turn the first SIGTERM into Terminated, so that the log says why the run stopped. Once the
    yielded list is not empty (a SIGTERM came, or the caller is already stopping), SIGTERM is ignored
    while the message is written (torchrun's SIGKILL follows if that takes too long). Main thread only."""
    stopping: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield stopping
        return

    def terminate(signum: int, frame: Any) -> None:
        if not stopping:
            stopping.append(signum)
            raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield stopping
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
