"""Option defaults read from the library, so that `--help` and the Python API cannot disagree."""

from __future__ import annotations

import inspect
from typing import Any, Callable


def default_of(function: Callable[..., Any], name: str) -> Any:
    """The default value of argument `name` in `function`'s signature."""
    value = inspect.signature(function).parameters[name].default
    if value is inspect.Parameter.empty:
        raise TypeError(f"{function.__qualname__}: argument {name!r} has no default")
    return value


def format_default(value: Any) -> str:
    """A value as `--help` shows it: numbers without trailing zeros, flags as on/off, sequences comma-separated."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (tuple, list)):
        return ",".join(format_default(v) for v in value)
    return str(value)
