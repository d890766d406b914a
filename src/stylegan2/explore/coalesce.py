"""One render at a time, newest first: a request still waiting when a newer one arrives is dropped.

A slider dragged across its range sends many requests; rendering them all in order would make the
image lag further and further behind the hand. Only the newest waiting request is worth rendering.
"""

from __future__ import annotations

import threading
from typing import Callable, TypeVar

T = TypeVar("T")


class Superseded(Exception):
    """A newer request arrived while this one waited; its result would never be shown."""


class LatestOnly:
    """Runs the callables given to `run` one at a time; a waiting call raises `Superseded` once a newer call arrives."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._busy = False
        self._newest = 0  # ticket of the latest call to `run`

    def run(self, render: Callable[[], T]) -> T:
        """`render()`'s result once the calls before it are done; Superseded if a newer call came while it waited."""
        with self._changed:
            self._newest += 1
            ticket = self._newest
            self._changed.notify_all()  # a waiting older call can give up now
            while self._busy and ticket == self._newest:
                self._changed.wait()
            if ticket != self._newest:
                raise Superseded
            self._busy = True
        try:
            return render()
        finally:
            with self._changed:
                self._busy = False
                self._changed.notify_all()
