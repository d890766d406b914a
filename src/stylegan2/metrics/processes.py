"""Metrics on several processes of this machine (`stylegan2 metrics --gpus N`, `calc_metrics(gpus=N)`), each taking its
share as under torchrun, their notes said once (by the first process) and their results passed to the caller's
`on_result` in the caller's process."""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
import warnings
from multiprocessing.connection import Connection
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
    rank 0, the same advice on bad files, as quiet. A callable `kwargs["on_result"]` is called here, in this process
    (from a thread, as the calls come), with what the processes pass theirs: a lambda or a list's append works, and
    nothing of it need be picklable. A LaunchError says why one failed (once, however many did)."""
    check_gpus(gpus, device)  # more processes than GPUs failed in each extra process with a traceback
    with _calls_passed_here(kwargs.get("on_result")) as on_result:
        kwargs = kwargs if on_result is None else {**kwargs, "on_result": on_result}
        return launch_local(gpus, _process, fn, kwargs, skip_bad_advice(), is_quiet(), user_errors=METRICS_USER_ERRORS)


class _CallSender:
    """A callback in a launched process that sends its arguments to the launching process, which makes the call."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def __call__(self, *args: Any) -> None:
        self.connection.send(args)


@contextlib.contextmanager
def _calls_passed_here(callback: Callable[..., Any] | None) -> Iterator[_CallSender | None]:
    """A _CallSender for the launched processes whose calls `callback` receives in this process, from a thread, while
    the block runs; the first error of `callback` is raised as the block ends (later calls are dropped). None for None."""
    if callback is None:
        yield None
        return
    receiver, sender = multiprocessing.Pipe(duplex=False)
    done, failed = threading.Event(), []

    def receive() -> None:
        while not done.is_set() or receiver.poll():
            if not receiver.poll(0.1):
                continue
            args = receiver.recv()
            if not failed:
                try:
                    callback(*args)
                except Exception as err:  # raised in the caller's thread, once the processes are done
                    failed.append(err)

    thread = threading.Thread(target=receive, name="on_result", daemon=True)
    thread.start()
    try:
        yield _CallSender(sender)
    finally:
        done.set()
        thread.join()
        receiver.close()
        sender.close()
    if failed:
        raise failed[0]


def _process(fn: Callable[..., Any], kwargs: dict[str, Any], advice: str, silent: bool) -> Any:
    """One of the processes `on_local_processes` starts (a new interpreter: the caller's settings are passed on)."""
    with notes_of_the_first_process(), advise_skip_bad(advice), quiet(silent):
        return fn(**kwargs)
