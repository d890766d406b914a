"""Metrics on several processes of this machine (`stylegan2 metrics --gpus N`, `calc_metrics(gpus=N)`), each taking its
share as under torchrun, and their notes said once: by the first process."""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Callable, Iterator

from ..data.errors import advise_skip_bad, skip_bad_advice
from ..training.distributed import is_first_process
from ..training.launch import launch_local
from ..utils.device import check_gpus
from ..utils.notes import warnings_as_notes
from ..utils.progress import is_quiet, quiet

# What a metrics process reports as a one-line error rather than a traceback: bad options, data, network or detector files.
METRICS_USER_ERRORS = (ValueError, OSError)


@contextlib.contextmanager
def notes_of_the_first_process() -> Iterator[None]:
    """Library warnings as `note:` lines on stderr, said once: by rank 0 (the other processes' are dropped)."""
    if is_first_process():
        with warnings_as_notes():
            yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def on_local_processes(gpus: int, fn: Callable[..., Any], kwargs: dict[str, Any], device: str | None) -> list[Any]:
    """`fn(**kwargs)` in `gpus` new processes on this machine, one per GPU of `device` (as torchrun --nproc_per_node),
    which it joins to one group as torchrun's; their results by rank. Each process says what this one would: notes by
    rank 0, the same advice on bad files, as quiet. A LaunchError says why one failed (once, however many did)."""
    check_gpus(gpus, device)  # more processes than GPUs failed in each extra process with a traceback
    return launch_local(gpus, _process, fn, kwargs, skip_bad_advice(), is_quiet(), user_errors=METRICS_USER_ERRORS)


def _process(fn: Callable[..., Any], kwargs: dict[str, Any], advice: str, silent: bool) -> Any:
    """One of the processes `on_local_processes` starts (a new interpreter: the caller's settings are passed on)."""
    with notes_of_the_first_process(), advise_skip_bad(advice), quiet(silent):
        return fn(**kwargs)
