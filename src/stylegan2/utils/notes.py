"""Warnings that point at the user's line (the first caller outside this package, not a line inside it), and the
commands' way of showing them: `note: ...` lines on stderr."""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from typing import Any, Iterator

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """`warnings.warn`, attributed to the innermost frame outside the package: a notebook or script sees its own call
    that caused the note (and Python's once-per-location filter counts that call), however deep in the library the
    note was raised."""
    frame, stacklevel = sys._getframe(1), 2  # stacklevel 2: warn's caller
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, stacklevel = frame.f_back, stacklevel + 1
    warnings.warn(message, category, stacklevel=stacklevel)


def show_note(message: Warning | str) -> None:
    """One note as the commands show it: a `note: ...` line on stderr."""
    print(f"note: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def warnings_as_notes(kept: list[str] | None = None) -> Iterator[None]:
    """Show library warnings as `note: ...` lines on stderr, not Python's file:line form; each note's text is also
    added to `kept` when given (a training run's log.txt, opened later, gets them)."""
    def show(message: Warning | str, *args: Any, **kwargs: Any) -> None:
        show_note(message)
        if kept is not None:
            kept.append(str(message))
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = show
        yield
