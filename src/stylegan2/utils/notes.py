"""Warnings that point at the user's line: the first caller outside this package, not a line inside it."""

from __future__ import annotations

import os
import sys
import warnings

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """`warnings.warn`, attributed to the innermost frame outside the package: a notebook or script sees its own call
    that caused the note (and Python's once-per-location filter counts that call), however deep in the library the
    note was raised."""
    frame, stacklevel = sys._getframe(1), 2  # stacklevel 2: warn's caller
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, stacklevel = frame.f_back, stacklevel + 1
    warnings.warn(message, category, stacklevel=stacklevel)
