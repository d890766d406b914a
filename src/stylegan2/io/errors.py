"""Errors raised while reading or writing network files."""

from __future__ import annotations


class CheckpointError(ValueError):
    """A network file is missing, truncated, corrupt, or not in a format we read."""


class UnsafeCheckpointError(CheckpointError):
    """A pickle asks for a Python object outside the allow-list; nothing from it was run."""
