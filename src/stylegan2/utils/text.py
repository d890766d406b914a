"""Text for messages and logs: durations, option values as typed, lists of names in one-line messages, and output
that any console can print."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any


def short_int(value: int) -> str:
    """An integer for a message ("12,345"), or its size ("of 301 bits") when printing it would take a screen."""
    bits = int(value).bit_length()
    return f"{int(value):,}" if bits < 128 else f"of {bits:,} bits"


def format_time(seconds: float) -> str:
    """Seconds as NVIDIA's logs write them (dnnlib's format_time): '42s', '3m 07s', '2h 05m 00s', '3d 02h 00m'."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s // 60 % 60:02d}m {s % 60:02d}s"
    return f"{s // 86400}d {s // 3600 % 24:02d}h {s // 60 % 60:02d}m"


def option_value(value: Any) -> str:
    """An option's value as a command line or a run's name gives it: a float in the shortest form that reads back as
    itself (10, 0.7, 1e-05, 1.23456789: rounded, a copied command would train with another value), else str()."""
    if isinstance(value, float):
        return repr(value).removesuffix(".0")
    return str(value)


def plural(count: int, noun: str) -> str:
    """'1 cell', '4 cells': a count with its noun (a regular plural)."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def first_names(names: Sequence[str], shown: int = 5) -> str:
    """The first `shown` of `names`, comma-separated, with ', ...' when there are more."""
    return ", ".join(names[:shown]) + (", ..." if len(names) > shown else "")


def word_list(words: Sequence[str], conjunction: str = "and") -> str:
    """'a', 'a and b', 'a, b and c' (or another conjunction)."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


def escape_unencodable_output() -> None:
    """Print characters the console's encoding lacks as escapes (a path in Windows' code page, output redirected)
    instead of failing on them; every process that prints calls it (the launched ones too)."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def number_ranges(numbers: Sequence[int]) -> str:
    """[0, 1, 2, 5] -> '0-2,5': ascending whole numbers in the syntax --seeds, --styles and mix_styles read."""
    parts: list[str] = []
    for n in numbers:
        if parts and int(parts[-1].split("-")[-1]) == n - 1:
            parts[-1] = f"{parts[-1].split('-')[0]}-{n}"
        else:
            parts.append(str(n))
    return ",".join(parts)
