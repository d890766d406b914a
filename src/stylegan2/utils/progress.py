"""Progress bars for the commands: drawn on a terminal, left out of logs and pipes.

A tqdm bar redraws itself with carriage returns; in a job log or a pipe those redraws pile up into one
long line. Every command's bar therefore comes from `progress_bar`, which shows it only when asked
and only when its stream (stderr unless `file=` says otherwise) is a terminal.
"""

from __future__ import annotations

import sys
from typing import IO, Any, Iterable

from tqdm import tqdm


def is_terminal(stream: IO[str] | None) -> bool:
    """Whether `stream` is a terminal, where a bar redraws in place."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and not getattr(stream, "closed", False) and isatty())


def progress_bar(iterable: Iterable[Any] | None = None, *, show: bool = True, **kwargs: Any) -> tqdm:
    """A tqdm bar over `iterable` (or updated by hand); none unless `show` and its stream is a terminal."""
    stream = kwargs.get("file", sys.stderr)
    return tqdm(iterable, disable=not (show and is_terminal(stream)), **kwargs)
