"""Errors raised while reading or writing network files."""

from __future__ import annotations


class CheckpointError(ValueError):
    """A network file is missing, truncated, corrupt, or not in a format we read."""


class UnsafeCheckpointError(CheckpointError):
    """A pickle asks for a Python object outside the allow-list; nothing from it was run."""


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception as `Type: first line of its message`, shortened, for one-line error messages."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
