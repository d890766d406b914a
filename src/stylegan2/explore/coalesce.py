"""One render at a time, in arrival order; a request still waiting when a newer one from the same client arrives is
dropped.

A slider dragged across its range sends many requests; rendering them all in order would make the
image lag further and further behind the hand. Only a client's newest waiting request is worth rendering.
Another client's request (another tab, another person) is never a reason to drop one: that client
would be left showing an image its controls no longer describe.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from typing import Callable, Hashable, TypeVar

T = TypeVar("T")


class Superseded(Exception):
    """A newer request from the same client arrived while this one waited; its result would never be shown."""


class LatestOnly:
    """Runs the callables given to `run` one at a time, first come first served; a waiting call raises `Superseded`
    once a newer call with the same `client` arrives. Memory holds only the calls now waiting, however many clients
    have come and gone."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._busy = False
        self._tickets = itertools.count()
        self._waiting: deque[int] = deque()  # tickets of the waiting calls, in arrival order
        self._newest: dict[Hashable, int] = {}  # client -> ticket of its newest waiting call

    def run(self, render: Callable[[], T], client: Hashable = "") -> T:
        """`render()`'s result once the calls before it are done; Superseded if a newer call from `client` came
        while it waited."""
        with self._changed:
            ticket = next(self._tickets)
            self._newest[client] = ticket
            self._waiting.append(ticket)
            self._changed.notify_all()  # the client's older waiting call can give up now
            while self._newest.get(client) == ticket and (self._busy or self._waiting[0] != ticket):
                self._changed.wait()
            self._waiting.remove(ticket)
            if self._newest.get(client) != ticket:
                self._changed.notify_all()  # the call behind this one may be first now
                raise Superseded
            del self._newest[client]
            self._busy = True
        try:
            return render()
        finally:
            with self._changed:
                self._busy = False
                self._changed.notify_all()
