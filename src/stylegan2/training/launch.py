"""`--gpus N` and `--nnodes`: start the processes of a run through torch's elastic launcher, as torchrun does.

One node: N local copies of a function, as `torchrun --standalone --nproc_per_node=N` runs N copies of a
command. Several nodes: the same command on every machine, meeting at a c10d rendezvous as
`torchrun --nnodes --rdzv-endpoint` does; a rendezvous that fails (an endpoint nobody answers on, a
node that never comes) is one LaunchError line instead of torchrun's traceback. Each copy gets
torchrun's environment (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, ...), so code that joins the
process group under torchrun (training.distributed.init_distributed) runs unchanged.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import logging
import math
import multiprocessing
import os
import re
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator

from torch.distributed.elastic.multiprocessing.api import SignalException
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.elastic.rendezvous import (
    RendezvousClosedError,
    RendezvousConnectionError,
    RendezvousError,
    RendezvousTimeoutError,
)
from torch.distributed.elastic.rendezvous.utils import _matches_machine_hostname
from torch.distributed.launcher.api import LaunchConfig, elastic_launch

from ..utils.text import escape_unencodable_output
from .distributed import backend_message, format_ranks, launcher_restarts, positive_seconds
from .signals import (
    INTERRUPTED,
    MESSAGES_VARIABLE,
    StoppedTogether,
    ignore_stop_signals,
    interrupt_on_signals,
    launcher_gone,
    mark_finished,
    sigterm_asked,
    sigterm_stops,
)

RDZV_TIMEOUT = 600.0  # seconds the nodes wait for each other to start (torchrun's join_timeout)
RDZV_PORT = 29400  # the rendezvous port when --rdzv-endpoint names a host only (torchrun's c10d default)
RDZV_ID = "stylegan2"  # the job's name at the endpoint when --rdzv-id is not given
SHUTDOWN_SECONDS = 120  # after Ctrl-C or SIGTERM, how long the processes get to write their last snapshot (torchrun: 30)
AGENT_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT")  # what torch's agent handles and passes on: all but Ctrl-C here
TRACKER_WARNINGS = "ignore:resource_tracker:UserWarning:multiprocessing.resource_tracker"  # -W for the tracker process


class Interrupted:
    """What a launched process returns when it stopped after Ctrl-C together with the others (an exit status
    would count as a failure, which --max-restarts answers with a restart)."""


class LaunchError(RuntimeError):
    """The processes could not be started, or one of them stopped with an error: the error itself when they left
    one message, else which process stopped first (the messages and tracebacks printed above)."""


class SignalledAfterFinishing(LaunchError):
    """A SIGTERM (a scheduler ending the job) came after every process of this machine had finished its work, while
    they exited: what they wrote is complete, but their results did not reach the launcher."""


@dataclass(frozen=True)
class ProcessLayout:
    """Where a run's processes go: `nproc_per_node` on each of `nnodes` machines that meet at
    `rdzv_endpoint` (HOST:PORT, one of the machines), restarted up to `max_restarts` times after a failure.
    Bad values are ValueErrors that name the command-line option."""

    nproc_per_node: int = 1
    nnodes: int = 1
    rdzv_endpoint: str | None = None
    rdzv_id: str = RDZV_ID
    rdzv_timeout: float = RDZV_TIMEOUT
    max_restarts: int = 0

    def __post_init__(self) -> None:
        if self.nproc_per_node < 1:
            raise ValueError(f"--gpus {self.nproc_per_node}: must be at least 1")
        if self.nnodes < 1:
            raise ValueError(f"--nnodes {self.nnodes}: must be at least 1")
        if self.max_restarts < 0:
            raise ValueError(f"--max-restarts {self.max_restarts}: must be at least 0")
        if self.nnodes > 1 and not self.rdzv_endpoint:
            raise ValueError(f"--nnodes {self.nnodes} needs --rdzv-endpoint HOST:PORT, the address of one of the machines "
                             "and a free port there, the same on every node")
        if self.rdzv_endpoint:
            self.host_and_port()
        positive_seconds(self.rdzv_timeout, "--rdzv-timeout")

    @property
    def world_size(self) -> int:
        return self.nproc_per_node * self.nnodes

    @property
    def needs_launcher(self) -> bool:
        """Whether this process must start the run's processes rather than train itself."""
        return self.world_size > 1 or self.max_restarts > 0 or self.rdzv_endpoint is not None

    def host_and_port(self) -> tuple[str, int]:
        """--rdzv-endpoint split into host and port (RDZV_PORT when it names a host only)."""
        text = self.rdzv_endpoint or ""
        host, colon, port = text.rpartition(":") if not text.endswith("]") else (text, "", "")
        if not colon:
            host, port = text, str(RDZV_PORT)
        host = host.strip("[]")  # an IPv6 address: [::1]:29500
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"--rdzv-endpoint {text!r}: expected HOST:PORT (e.g. 10.1.0.7:29400), the same on every node")
        return host, int(port)

    def endpoint(self) -> str:
        """--rdzv-endpoint as HOST:PORT, with the default port filled in."""
        host, port = self.host_and_port()
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def run_id(self) -> str:
        """The rendezvous's name, which the processes see as TORCHELASTIC_RUN_ID and a run's training.lock records as
        their job (its restarts are later instances of it): --rdzv-id with the node count, for a node started with
        another --nnodes must not meet these (torch's rendezvous would complete at the smaller count); with the
        endpoint too where --rdzv-id is left at its default, so that two launches without one are two jobs (one
        endpoint serves one at a time); a fresh uuid for one machine's processes."""
        if not self.rdzv_endpoint:
            return str(uuid.uuid4())
        endpoint = f"-{re.sub(r'[^A-Za-z0-9.]+', '-', self.endpoint()).strip('-')}" if self.rdzv_id == RDZV_ID else ""
        return f"{self.rdzv_id}-{self.nnodes}nodes{endpoint}"


def launch_local(num_processes: int, fn: Callable[..., Any], *args: Any,
                 user_errors: tuple[type[BaseException], ...] = (ValueError,)) -> list[Any]:
    """Run `fn(*args)` in `num_processes` new processes on this machine and return their results by rank. A script
    calls it under `if __name__ == "__main__":` (check_main_guard)."""
    check_main_guard("launch_local")
    results = launch(ProcessLayout(nproc_per_node=num_processes), fn, *args, user_errors=user_errors)
    return [results[rank] for rank in range(num_processes)]


def check_main_guard(call: str) -> None:
    """Refuse, before any process starts, `call` made at the top level of a script outside `if __name__ ==
    "__main__":`. Each new process imports the script again (Python's spawn start method) and would make the call
    again there, which multiprocessing refuses with a traceback in each of them."""
    main = sys.modules.get("__main__")
    path = _script_imported_again(main) if main is not None else None
    if path is None:
        return
    if not os.path.isfile(path):  # `python - < script.py`: spawn would open '<stdin>' in each process
        raise ValueError(f"{call} starts processes that each import the calling script again, and this one was read "
                         f"from {path}, which they cannot read; save it as a file and run that")
    frame = next((f for f, _ in traceback.walk_stack(None)
                  if f.f_globals is main.__dict__ and f.f_code.co_name == "<module>"), None)
    if frame is None:  # not called from the script's top level: a thread, or a callback of something else
        return
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=path)
    except (OSError, SyntaxError, ValueError):
        return
    if not _under_main_guard(tree, frame.f_lineno):
        raise ValueError(f'{path}, line {frame.f_lineno}: {call} starts processes that each import this script again '
                         f'and would run this line again; put the script\'s top-level code under '
                         f'`if __name__ == "__main__":`')


def _script_imported_again(main: ModuleType) -> str | None:
    """The file a spawned process imports again as its `__main__`, as multiprocessing's spawn decides it: None for an
    interactive session, `python -c`, a package's `__main__` (`python -m stylegan2`) and IPython."""
    name = getattr(getattr(main, "__spec__", None), "name", None)
    if name is not None and (name == "__main__" or name.endswith(".__main__")):
        return None
    path = getattr(main, "__file__", None)
    if path is None or os.path.splitext(os.path.basename(path))[0] == "ipython":
        return None
    return path


def _under_main_guard(tree: ast.Module, line: int) -> bool:
    """Whether `line` of a module lies in the body of an `if` that tests `__name__`."""
    for node in ast.walk(tree):
        if (isinstance(node, ast.If) and node.body[0].lineno <= line <= (node.body[-1].end_lineno or line)
                and any(isinstance(name, ast.Name) and name.id == "__name__" for name in ast.walk(node.test))):
            return True
    return False


def launch(layout: ProcessLayout, fn: Callable[..., Any], *args: Any,
           user_errors: tuple[type[BaseException], ...] = (ValueError,)) -> dict[int, Any]:
    """Run `fn(*args)` in this node's processes of `layout` and return their results by global rank.

    `fn` must be importable by name (a module-level function), as each process starts a fresh
    interpreter. A process that raises one of `user_errors` leaves its message to this process,
    which prints it once however many processes found it (an option all check, say; with
    `max_restarts` each process prints its own when it fails); any other exception prints its
    traceback. Either way the other processes are stopped and a LaunchError says which process
    failed, or is the message they all left; so does a rendezvous that fails. Like torchrun,
    OMP_NUM_THREADS defaults to 1 per process. Ctrl-C (to this process or to them) lets them stop together with a
    last snapshot and raises KeyboardInterrupt here; SIGTERM stops them, each saying why, and is a LaunchError
    (SignalledAfterFinishing when every process had finished its work already). Once they all returned, the work is
    finished (mark_finished): a signal while this process goes on to exit changes nothing.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise LaunchError(f"--gpus and --nnodes start processes themselves, but this one already runs under torchrun "
                          f"(WORLD_SIZE={os.environ['WORLD_SIZE']}); leave out those options or torchrun")
    if layout.rdzv_endpoint:
        wait_for_endpoint(layout)
    config = LaunchConfig(
        min_nodes=layout.nnodes, max_nodes=layout.nnodes, nproc_per_node=layout.nproc_per_node,
        run_id=layout.run_id(), rdzv_backend="c10d",
        rdzv_endpoint=layout.endpoint() if layout.rdzv_endpoint else "localhost:0",  # torchrun --standalone: a free local port
        rdzv_configs={"join_timeout": math.ceil(layout.rdzv_timeout)},  # whole seconds
        max_restarts=layout.max_restarts, monitor_interval=0.1, start_method="spawn",
        **_agent_settings(shutdown_timeout=SHUTDOWN_SECONDS,  # Ctrl-C is _PassCtrlC's
                          signals_to_handle=",".join(name for name in AGENT_SIGNALS if name != "SIGINT")),
    )
    # Each restart gets a fresh rendezvous store: in torch 2.13 a shared one keeps the dead attempt's addresses.
    restarts = {"TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1"} if layout.max_restarts else {}
    no_libuv = {"USE_LIBUV": "0"} if os.name == "nt" else {}  # torch's Windows builds lack the store's libuv backend
    ctrl_c = _PassCtrlC()
    _start_resource_tracker()
    with _signal_handlers_kept():
        with (_environment(OMP_NUM_THREADS="1", **restarts, **no_libuv), _messages_folder(layout.max_restarts == 0) as messages,
              _quiet_launcher()):
            ctrl_c.install()
            try:
                results = elastic_launch(config, _run_process)(fn, args, user_errors)
            except SignalException as err:  # the agent got it, passed it on and waited for the processes
                if err.sigval == signal.SIGINT:  # an older torch, whose agent takes Ctrl-C itself
                    raise KeyboardInterrupt from None
                if err.sigval == signal.SIGTERM and _all_finished(messages, layout.nproc_per_node):
                    raise SignalledAfterFinishing("stopped by SIGTERM after every process had finished its work") from None
                left = _left_messages(messages)
                if err.sigval == signal.SIGTERM and sigterm_stops() and not left:  # they stopped as asked, with a snapshot
                    raise KeyboardInterrupt from None
                if message := _one_message(left):  # at the same step
                    raise LaunchError(message) from None
                _print_messages(left)
                said = left or messages is None  # else they stopped without a word (before training began, say)
                raise LaunchError(f"stopped by {signal.Signals(err.sigval).name}: the processes were stopped too"
                                  + (", each saying where (above)" if said else "")) from None
            except ChildFailedError as err:
                left = _left_messages(messages)
                if ctrl_c.count or all(f.exitcode == INTERRUPTED for f in err.failures.values()):  # stopped at once
                    _print_messages(left)
                    raise KeyboardInterrupt from None
                if set(err.failures) <= set(left) and (message := _one_message(left)):  # one error, found by each that failed
                    found_by = "" if len(left) == layout.nproc_per_node else f" (process {format_ranks(left)} of {layout.world_size})"
                    raise LaunchError(message + found_by) from None
                _print_messages(left)
                rank, failure = err.get_first_failure()
                raise LaunchError(f"process {rank} of {layout.world_size} {_how_it_ended(failure.exitcode)}") from None
            except RendezvousError as err:
                raise LaunchError(rendezvous_failure(layout, err)) from None
        interrupted = any(isinstance(result, Interrupted) for result in results.values())
        if not interrupted:  # a signal from now on, while this process exits, finds the run complete
            mark_finished()
    if interrupted:
        raise KeyboardInterrupt
    return results


def _how_it_ended(exitcode: int) -> str:
    """A failed process's end in words: a signal leaves no message of its own (multiprocessing's -N is signal N)."""
    if exitcode >= 0:
        return f"stopped with exit code {exitcode}; its message is above"
    try:
        name = signal.Signals(-exitcode).name
    except ValueError:
        name = f"signal {-exitcode}"
    return f"was killed by {name}, with no message of its own (out of memory, or the system or a person killed it)"


def wait_for_endpoint(layout: ProcessLayout) -> None:
    """On a node that does not host the rendezvous, wait up to --rdzv-timeout for its endpoint to accept a
    connection, so that a wrong or unreachable endpoint is one line (torch's own client logs C++ errors)."""
    host, port = layout.host_and_port()
    if _matches_machine_hostname(host):  # this node hosts the rendezvous store (torch's own test)
        return
    deadline = time.monotonic() + layout.rdzv_timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=max(min(deadline - time.monotonic(), 5.0), 0.1)):
                return
        except socket.gaierror as err:
            reason = f"unknown host: {err.strerror}"
        except ConnectionRefusedError:
            reason = "connection refused: nothing listens on that port yet"
        except OSError as err:
            reason = err.strerror or "no answer"
        if time.monotonic() >= deadline:
            raise LaunchError(
                f"could not reach the rendezvous at {host}:{port} within {layout.rdzv_timeout:g} s ({reason}); start the "
                f"node at {host} (it hosts the rendezvous), pass the same --rdzv-endpoint to every node and check that the "
                f"port is open to this machine (--rdzv-timeout sets the wait)")
        time.sleep(min(0.5, max(deadline - time.monotonic(), 0.0)))


def rendezvous_failure(layout: ProcessLayout, err: RendezvousError) -> str:
    """What a failed rendezvous means and what to do, on one line."""
    endpoint = layout.endpoint() if layout.rdzv_endpoint else "this machine"
    same = "start every node with the same --nnodes, --rdzv-endpoint and --rdzv-id"
    if isinstance(err, RendezvousTimeoutError):
        return (f"the {layout.nnodes} nodes did not all meet at {endpoint} within {layout.rdzv_timeout:g} s; {same}, "
                "and start them within --rdzv-timeout of each other")
    if isinstance(err, RendezvousConnectionError):
        cause = f" ({backend_message(err.__cause__)})" if err.__cause__ else ""
        return (f"lost the rendezvous at {endpoint}{cause}: the node that hosts it stopped (its own message says why); {same}")
    if isinstance(err, RendezvousClosedError):
        return f"the rendezvous {layout.rdzv_id!r} at {endpoint} is closed: another node of the job stopped; {same}"
    return f"the rendezvous at {endpoint} failed ({type(err).__name__}: {backend_message(err)}); {same}"


def _run_process(fn: Callable[..., Any], args: tuple[Any, ...], user_errors: tuple[type[BaseException], ...]) -> Any:
    """One launched process: run `fn`, leaving a user error to the launcher and printing anything else as a
    traceback; Interrupted after Ctrl-C."""
    escape_unencodable_output()  # as the launching command's own output
    interrupt_on_signals(sigterm=False)  # Ctrl-C, SIGUSR1 as in the launching command; SIGTERM stays the run's
    rank, (restarts, allowed) = os.environ.get("RANK", "?"), launcher_restarts()
    if restarts and os.environ.get("LOCAL_RANK") == "0":  # what ended the attempt before was printed then
        print(f"Restarting the processes (restart {restarts} of {allowed})", file=sys.stderr, flush=True)
    try:
        result = fn(*args)
    except StoppedTogether:
        result = Interrupted()
    except KeyboardInterrupt:  # stopped at once: the others may wait in a collective for this one, which must end
        raise SystemExit(INTERRUPTED) from None
    except user_errors as err:
        _leave_message(str(err), rank)
        raise SystemExit(1) from None
    except Exception:  # a bug: the whole traceback, as without the launcher
        traceback.print_exc()
        sys.stderr.flush()
        raise SystemExit(1) from None
    finally:  # the launcher's copy of a Ctrl-C, a second one or SIGUSR1 while the interpreter shuts down changes nothing
        ignore_stop_signals(sigterm=False)
    if not isinstance(result, Interrupted):
        mark_finished()  # where `fn` did not, before its last line
    # torch's wrapper would wait for the launcher to take the result: forever when it is gone, and until it kills this
    # process when it is shutting down after a SIGTERM
    if launcher_gone() or sigterm_asked():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(INTERRUPTED if isinstance(result, Interrupted) else 0)
    return result


def _leave_message(message: str, rank: str) -> None:
    """A process's one-line error: left whole (a process killed while writing leaves nothing) in the launcher's
    folder, or printed when there is none (--max-restarts: an attempt's errors are printed as they happen) or the
    launcher is gone."""
    folder = os.environ.get(MESSAGES_VARIABLE)
    if folder and not launcher_gone():
        partial = Path(folder, f"{rank}.partial")
        try:
            partial.write_text(message, encoding="utf-8")
            partial.replace(partial.with_suffix(".txt"))
            return
        except OSError:
            pass
    print(f"Error (process {rank}): {message}", file=sys.stderr, flush=True)


def _all_finished(folder: Path | None, count: int) -> bool:
    """Whether all `count` processes of this machine marked their work finished."""
    return folder is not None and len(list(folder.glob("*.finished"))) == count


@contextlib.contextmanager
def _messages_folder(collect: bool) -> Iterator[Path | None]:
    """With `collect`, a fresh folder for the processes' errors, named to them by MESSAGES_VARIABLE and removed
    afterwards; else None (the processes print their own)."""
    previous = os.environ.pop(MESSAGES_VARIABLE, None)
    try:
        if not collect:
            yield None
            return
        with tempfile.TemporaryDirectory(prefix="stylegan2-launch-") as folder:
            os.environ[MESSAGES_VARIABLE] = folder
            yield Path(folder)
    finally:
        os.environ.pop(MESSAGES_VARIABLE, None)
        if previous is not None:
            os.environ[MESSAGES_VARIABLE] = previous


def _left_messages(folder: Path | None) -> dict[int, str]:
    """The errors this node's processes left, by global rank."""
    if folder is None:
        return {}
    return {int(path.stem): path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.txt")) if path.stem.isdigit()}


def _one_message(messages: dict[int, str]) -> str | None:
    """The message when every process that left one left the same (each found the same bad option, say)."""
    texts = set(messages.values())
    return texts.pop() if len(texts) == 1 else None


def _print_messages(messages: dict[int, str]) -> None:
    """Each distinct message once, with the processes that left it."""
    ranks_by_text: dict[str, list[int]] = {}
    for rank in sorted(messages):
        ranks_by_text.setdefault(messages[rank], []).append(rank)
    for text, ranks in ranks_by_text.items():
        print(f"Error (process {format_ranks(ranks)}): {text}", file=sys.stderr, flush=True)


def _agent_settings(**settings: Any) -> dict[str, Any]:
    """The LaunchConfig fields of `settings` that this torch has (older ones wait 30 s before killing the
    processes, and their agent takes Ctrl-C itself: a second one then stops the processes with SIGTERM)."""
    names = {field.name for field in dataclasses.fields(LaunchConfig)}
    return {key: value for key, value in settings.items() if key in names}


class _PassCtrlC:
    """Ctrl-C in the launching process, passed on to the processes, which agree among themselves where to stop.
    torch's agent must not see it: it answers a second Ctrl-C by stopping them with SIGTERM, without a snapshot.
    From a terminal they get the Ctrl-C too; they take a copy that follows within seconds for the same one."""

    def __init__(self) -> None:
        self.count = 0

    def install(self) -> None:
        """Where Ctrl-C can reach this process: not off the main thread, nor where SIGINT is ignored. SIGUSR1 (a
        scheduler's warning, which asks the processes to stop as Ctrl-C does) is passed on too, not counted."""
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGINT) != signal.SIG_IGN:
            signal.signal(signal.SIGINT, self.handle)
        if hasattr(signal, "SIGUSR1"):
            signal.signal(signal.SIGUSR1, _pass_on)

    def handle(self, signum: int, frame: Any) -> None:
        self.count += 1
        _pass_on(signum, frame)


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker (which the processes share) deaf to SIGUSR1: a scheduler's warning
    sent to the whole process group would otherwise kill it, and each process would print its tracebacks. Its
    warning about semaphores it cleans up (left when this process was SIGKILLed) is silenced: nothing to do there."""
    if not hasattr(signal, "SIGUSR1") or threading.current_thread() is not threading.main_thread():
        return
    from multiprocessing import resource_tracker

    previous = signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # an ignored signal stays ignored in the new process
    sys.warnoptions.append(TRACKER_WARNINGS)  # passed to the new interpreter as -W
    try:
        resource_tracker.ensure_running()
    finally:
        signal.signal(signal.SIGUSR1, previous)
        sys.warnoptions.remove(TRACKER_WARNINGS)


def _pass_on(signum: int, frame: Any) -> None:
    """Send the signal this process got to the processes it launched. Not on Windows, where the console gives each
    of them the Ctrl-C itself and os.kill would terminate them."""
    if os.name == "nt":
        return
    for child in multiprocessing.active_children():
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signum)


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
def _signal_handlers_kept() -> Iterator[None]:
    """Restore the signal handlers the elastic agent replaces (it leaves its own behind, which would turn a later
    Ctrl-C in this process into its SignalException), and SIGUSR1's, which _PassCtrlC replaces."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = (*AGENT_SIGNALS, "SIGUSR1")
    kept = {sig: signal.getsignal(sig) for sig in (getattr(signal, name) for name in names if hasattr(signal, name))}
    try:
        yield
    finally:
        for sig, handler in kept.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)


@contextlib.contextmanager
def _quiet_launcher() -> Iterator[None]:
    """Hide the elastic agent's own log lines (start-up notes, a failed child's wrapper traceback, the signal it
    passes on): each process prints its own error, and launch raises one LaunchError."""
    names = [name for name in logging.Logger.manager.loggerDict if name.startswith(_LAUNCHER_LOGGERS)]
    loggers = [logging.getLogger(name) for name in {*_LAUNCHER_LOGGERS, *names}]  # torch sets each module's own level
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


_LAUNCHER_LOGGERS = ("torch.distributed.elastic", "torch.distributed.launcher", "torch.multiprocessing.spawn")
