"""The error classes of the data layer, and how their messages tell the caller to leave bad files out."""

import contextlib
import os
from collections.abc import Iterator
from contextvars import ContextVar

from ..utils.errors import OptionError

SKIP_BAD_OPTION = "pass --skip-bad"  # the advice of a command that has the option
SKIP_BAD_BY_CONVERTING = "convert the data with `stylegan2 dataset --skip-bad`"  # of one that reads data without it

LABELS_OFF_OPTION = "leave out --cond"  # how a command that asks for labels with --cond turns them off

_SKIP_BAD_ADVICE = ContextVar("skip_bad_advice", default="pass skip_bad=True")
_LABELS_OFF_ADVICE = ContextVar("labels_off_advice", default="pass use_labels=False")


class DatasetError(ValueError):
    """A dataset cannot be used as given; the message names the file and the fix."""


class DatasetOptionError(DatasetError, OptionError):
    """A dataset option wrong in itself, whatever the data holds (a resolution that is no power of two)."""


def limit_from_environment(variable: str, default: int, what: str) -> int:
    """A limit of the data layer that an environment variable raises (or lowers): its whole number (1 or more), else
    `default`."""
    value = os.environ.get(variable, "")
    try:
        limit = int(value) if value else default
    except ValueError:
        limit = 0
    if limit < 1:
        raise DatasetError(f"${variable} must be {what} (1 or more), got {value!r}")
    return limit


def skip_bad_advice() -> str:
    """How the caller leaves bad files out, for the end of a message: "pass skip_bad=True" (the Python API) unless
    an `advise_skip_bad` block says otherwise."""
    return _SKIP_BAD_ADVICE.get()


@contextlib.contextmanager
def advise_skip_bad(advice: str) -> Iterator[None]:
    """Inside, messages tell the user to `advice` to leave bad files out: SKIP_BAD_OPTION in a command that has the
    option, SKIP_BAD_BY_CONVERTING in one that has not."""
    token = _SKIP_BAD_ADVICE.set(advice)
    try:
        yield
    finally:
        _SKIP_BAD_ADVICE.reset(token)


def labels_off_advice() -> str:
    """How the caller turns labels off, for the end of a no-labels error: "pass use_labels=False" (the Python API)
    unless an `advise_labels_off` block says otherwise."""
    return _LABELS_OFF_ADVICE.get()


@contextlib.contextmanager
def advise_labels_off(advice: str) -> Iterator[None]:
    """Inside, no-labels errors tell the user to `advice` to train without labels: LABELS_OFF_OPTION where the
    labels were asked for with --cond."""
    token = _LABELS_OFF_ADVICE.set(advice)
    try:
        yield
    finally:
        _LABELS_OFF_ADVICE.reset(token)
