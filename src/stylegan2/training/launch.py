"""`--gpus N`: run N local copies of a function through torch's elastic launcher, as `torchrun --standalone
--nproc_per_node=N` runs N copies of a command.

Each copy gets torchrun's environment (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, ...), so code that
joins the process group under torchrun (training.distributed.init_distributed) runs unchanged.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import traceback
import uuid
from typing import Any, Callable, Iterator

from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.launcher.api import LaunchConfig, elastic_launch


class LaunchError(RuntimeError):
    """The processes could not be started, or one of them stopped with an error (printed by that process)."""


def launch_local(num_processes: int, fn: Callable[..., Any], *args: Any,
                 user_errors: tuple[type[BaseException], ...] = (ValueError,)) -> list[Any]:
    """Run `fn(*args)` in `num_processes` new local processes and return their results by rank.

    `fn` must be importable by name (a module-level function), as each process starts a fresh
    interpreter. A process that raises one of `user_errors` prints its message in one line; any
    other exception prints its traceback. Either way the other processes are stopped and a
    LaunchError says which process failed. Like torchrun, OMP_NUM_THREADS defaults to 1 per process.
    """
    if num_processes < 1:
        raise LaunchError(f"--gpus {num_processes}: must be at least 1")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise LaunchError(f"--gpus {num_processes} starts its own processes, but this one already runs under torchrun "
                          f"(WORLD_SIZE={os.environ['WORLD_SIZE']}); leave out --gpus or torchrun")
    config = LaunchConfig(
        min_nodes=1, max_nodes=1, nproc_per_node=num_processes, run_id=str(uuid.uuid4()),
        rdzv_backend="c10d", rdzv_endpoint="localhost:0",  # torchrun --standalone: a free local port
        max_restarts=0, monitor_interval=0.1, start_method="spawn",
    )
    with _environment(OMP_NUM_THREADS="1"), _quiet_launcher():
        try:
            results = elastic_launch(config, _run_process)(fn, args, user_errors)
        except ChildFailedError as err:
            rank, failure = err.get_first_failure()
            raise LaunchError(f"process {rank} of {num_processes} stopped with exit code {failure.exitcode}; "
                              "its message is above") from None
    return [results[rank] for rank in range(num_processes)]


def _run_process(fn: Callable[..., Any], args: tuple[Any, ...], user_errors: tuple[type[BaseException], ...]) -> Any:
    """One launched process: run `fn`, printing a user error as one line and anything else as a traceback."""
    rank = os.environ.get("RANK", "?")
    try:
        return fn(*args)
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except user_errors as err:
        print(f"Error (process {rank}): {err}", file=sys.stderr, flush=True)
    except Exception:  # a bug: the whole traceback, as without the launcher
        traceback.print_exc()
        sys.stderr.flush()
    raise SystemExit(1)


@contextlib.contextmanager
def _environment(**defaults: str) -> Iterator[None]:
    """Set environment variables that are not set already (the launched processes inherit them), then restore."""
    added = [name for name in defaults if name not in os.environ]
    for name in added:
        os.environ[name] = defaults[name]
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


@contextlib.contextmanager
def _quiet_launcher() -> Iterator[None]:
    """Hide the elastic agent's own log lines (start-up notes, a failed child's wrapper traceback): each
    process prints its own error, and launch_local raises one LaunchError."""
    loggers = [logging.getLogger(name) for name in _LAUNCHER_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


_LAUNCHER_LOGGERS = ("torch.distributed.elastic", "torch.distributed.launcher", "torch.multiprocessing.spawn")
