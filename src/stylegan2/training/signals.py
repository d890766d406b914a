"""Signals during a training run: Ctrl-C (or SIGUSR1, a scheduler's warning) asks the run to stop (with a final
snapshot), a second Ctrl-C stops it at once, and SIGTERM (torchrun stopping the job) raises Terminated so that the log
says why the run ended, or, with $STYLEGAN2_SIGTERM=stop (a scheduler's preemption), asks as SIGUSR1 does. Outside
the loop, and in every other command, Ctrl-C and SIGUSR1 interrupt and SIGTERM raises SignalInterrupt
(`interrupt_on_signals`). Once the work is finished (`mark_finished`), none of them changes how the process ends."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

SIGTERM_VARIABLE = "STYLEGAN2_SIGTERM"  # "stop": SIGTERM asks for a stop with a final snapshot, as SIGUSR1 does
SAME_CTRL_C_SECONDS = 2.0  # under a launcher, a SIGINT this soon after the first is the same Ctrl-C (see StopRequest)
MESSAGES_VARIABLE = "STYLEGAN2_LAUNCH_MESSAGES"  # the folder where launched processes leave errors and marks for it
LAUNCHER_CHECK_SECONDS = 1.0  # how often a launched process checks that its launcher is alive
INTERRUPTED = 130  # the exit status after Ctrl-C (the shell's for SIGINT)
INTERRUPTED_BEFORE_TRAINING = "Interrupted before training: nothing was written"  # a stop before there was anything to save
_watched_parent: list[int] = []  # the launcher stop_when_launcher_dies watches, once per process
_sigterm_asked: list[bool] = []  # a SIGTERM asked this process to stop ($STYLEGAN2_SIGTERM=stop)
_finishes: list[bool] = []  # one per mark_finished: a handler ignores its signal once one came after it was installed


class Terminated(Exception):
    """SIGTERM: the launcher is stopping this process (torchrun does when a process of the job fails), or the system is."""

    def __init__(self) -> None:
        super().__init__("stopped by SIGTERM from the launcher or the system")


class SignalInterrupt(KeyboardInterrupt):
    """SIGTERM to a command (`timeout`, `docker stop`, systemd stopping it): it stops as Ctrl-C stops it, a write in
    progress removing its temporary, and exits with the shell's status for the signal (143) instead of 130."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"Stopped by {signal.Signals(signum).name}")
        self.status = 128 + signum


def interrupted_status(err: KeyboardInterrupt) -> int:
    """The exit status of a command that `err` stopped: the shell's for the signal that raised it."""
    return err.status if isinstance(err, SignalInterrupt) else INTERRUPTED


class StoppedTogether(KeyboardInterrupt):
    """The run stopped after Ctrl-C at a step every process agreed on, with its last snapshot written."""

    said = True  # the log says so (see said_in_log)


def said_in_log(err: KeyboardInterrupt) -> None:
    """Mark a Ctrl-C whose effect the log has said ("Interrupted while clustering: ..."), so that no caller says
    it again."""
    err.said = True  # type: ignore[attr-defined]


@contextlib.contextmanager
def interruption_said(log: Callable[[str], None], is_main: bool) -> Iterator[None]:
    """Say a Ctrl-C (or SIGUSR1) that stopped the block before the run had anything to save, unless the log said
    what it stopped already: building the networks or reading a --resume file takes seconds, and a job log that
    ended without a word left its reader guessing."""
    try:
        yield
    except KeyboardInterrupt as err:
        if not getattr(err, "said", False) and is_main:
            log(INTERRUPTED_BEFORE_TRAINING)
        raise


class StopRequest:
    """Whether Ctrl-C asked this process to stop.

    The first SIGINT only sets `requested`: the loop stops where every process agrees to, after a whole step, and
    writes a final snapshot. A later one raises KeyboardInterrupt at once (stop now, write nothing). Under torchrun
    (or `--gpus`) the terminal's Ctrl-C reaches every process and the launcher, which forwards it once more, so
    there a SIGINT within SAME_CTRL_C_SECONDS of the first is the same Ctrl-C.
    """

    def __init__(self, same_within: float = 0.0) -> None:
        self.same_within = same_within
        self._first: float | None = None
        self._finishes = len(_finishes)

    @property
    def requested(self) -> bool:
        return self._first is not None

    def handle(self, signum: int, frame: Any) -> None:
        if _finished_since(self._finishes):  # the run is over: a Ctrl-C now must not turn it into a failure
            return
        now = time.monotonic()
        if self._first is None:
            self._first = now
        elif now - self._first > self.same_within:
            raise KeyboardInterrupt

    def ask(self, signum: int, frame: Any) -> None:
        """SIGUSR1, a scheduler's warning before it stops the job (SLURM's --signal=USR1@SECONDS): a stop as the
        first Ctrl-C asks for it, with a final snapshot; more of them change nothing. (SIGTERM too, when
        $STYLEGAN2_SIGTERM is 'stop'.)"""
        if signum == signal.SIGTERM and not _sigterm_asked:
            _sigterm_asked.append(True)
        if self._first is None:
            self._first = time.monotonic()


def sigterm_stops() -> bool:
    """Whether $STYLEGAN2_SIGTERM is 'stop': SIGTERM then asks the training loop for a stop with a final snapshot, as
    SIGUSR1 does, for schedulers whose preemption is a SIGTERM followed by SIGKILL after a grace time (SLURM's). Off by
    default: torchrun's SIGTERM also means that another process of the job failed. 'exit' (or unset): the default."""
    value = os.environ.get(SIGTERM_VARIABLE, "").strip().lower()
    if value not in ("", "exit", "stop"):
        raise ValueError(f"{SIGTERM_VARIABLE}={os.environ[SIGTERM_VARIABLE]!r}: use 'stop' (a final snapshot, as SIGUSR1) "
                         "or 'exit' (the default: stop at once)")
    return value == "stop"


def mark_finished() -> None:
    """Mark this process's work as finished, before the line that says so (`Done.`): from then on the handlers of this
    module ignore Ctrl-C, SIGUSR1 and SIGTERM, so that a job's end while the process exits is no failure, and under a
    launcher, one that a SIGTERM reaches takes the run as complete."""
    _finishes.append(True)
    folder = os.environ.get(MESSAGES_VARIABLE)
    if folder:
        with contextlib.suppress(OSError):
            Path(folder, f"{os.environ.get('RANK', '?')}.finished").touch()


def _finished_since(count: int) -> bool:
    """Whether mark_finished came since `len(_finishes)` was `count` (when a handler was installed): a later run in the
    same process (a Python caller's) counts from its own start."""
    return len(_finishes) > count


def interrupt_on_signals(*, sigterm: bool) -> None:
    """For the rest of this process (the command line's, or a launched one's): Ctrl-C and SIGUSR1 (a scheduler's
    warning) raise KeyboardInterrupt, and with `sigterm` the first SIGTERM raises SignalInterrupt, so that whatever
    is being written removes its temporary. Once the work is finished (mark_finished), or the command has its exit
    status (ignore_stop_signals), they change nothing. The training loop's own handlers take over while it runs, and
    a signal ignored already (Ctrl-C under nohup) stays ignored. Main thread only."""
    if threading.current_thread() is not threading.main_thread():
        return
    count, terminated = len(_finishes), []

    def interrupt(signum: int, frame: Any) -> None:
        if not _finished_since(count):
            raise KeyboardInterrupt

    def terminate(signum: int, frame: Any) -> None:
        if not terminated and not _finished_since(count):  # once: a second SIGTERM must not cut the cleanup short
            terminated.append(signum)
            raise SignalInterrupt(signum)

    handlers = {signal.SIGINT: interrupt, **({signal.SIGTERM: terminate} if sigterm else {})}
    if hasattr(signal, "SIGUSR1"):  # not on Windows
        handlers[signal.SIGUSR1] = interrupt
    for signum, handler in handlers.items():
        if signal.getsignal(signum) != signal.SIG_IGN:
            signal.signal(signum, handler)


def ignore_stop_signals(*, sigterm: bool) -> None:
    """Ignore Ctrl-C and SIGUSR1 (with `sigterm`, SIGTERM too) from now on: the process has its outcome, and a signal
    while it exits (its exit handlers take a second or so, and Python drops its own handlers at the very end) would
    replace its exit status or print a traceback. A launched process leaves SIGTERM as it is: its launcher ends it
    with one after taking its result. Main thread only."""
    if threading.current_thread() is not threading.main_thread():
        return
    for name in ("SIGINT", "SIGUSR1", *(["SIGTERM"] if sigterm else [])):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)


def under_launcher() -> bool:
    """Whether torch's elastic agent (torchrun, or `--gpus`) started this process: it forwards the signals it gets."""
    return "TORCHELASTIC_RUN_ID" in os.environ


def stop_when_launcher_dies() -> None:
    """Under a launcher (torchrun, `--gpus`), ask this process to stop as SIGUSR1 does (as Ctrl-C, with a final
    snapshot) when the launcher is gone (SIGKILLed, or killed for memory). torch's processes get SIGINT then on
    Linux, but not where SIGINT is ignored (nohup, a script's background job): they would go on training, unseen,
    beside a requeued job. POSIX only, where a dead process's children are adopted (their parent changes)."""
    if not under_launcher() or not hasattr(signal, "SIGUSR1") or _watched_parent:
        return
    _watched_parent.append(os.getppid())

    def watch() -> None:
        while os.getppid() == _watched_parent[0]:
            time.sleep(LAUNCHER_CHECK_SECONDS)
        print(f"The launcher (process {_watched_parent[0]}) is gone: stopping", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGUSR1)

    threading.Thread(target=watch, name="launcher-watch", daemon=True).start()


def sigterm_asked() -> bool:
    """Whether a SIGTERM asked this process to stop: its launcher is shutting down and will not read a result."""
    return bool(_sigterm_asked)


def launcher_gone() -> bool:
    """Whether the launcher stop_when_launcher_dies watches has died (then nobody reads what it was to be left)."""
    return bool(_watched_parent) and os.getppid() != _watched_parent[0]


@contextlib.contextmanager
def ctrl_c_requests_stop() -> Iterator[StopRequest]:
    """Handle SIGINT as StopRequest says inside the block, and SIGUSR1 (and SIGTERM, with $STYLEGAN2_SIGTERM=stop) as
    its `ask`. Only the main thread handles signals; elsewhere the request stays unset and the signals do what they
    did. Where SIGINT is ignored (a background job of a script, nohup), it stays ignored; SIGUSR1 still asks."""
    request = StopRequest(SAME_CTRL_C_SECONDS if under_launcher() else 0.0)
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        if signal.getsignal(signal.SIGINT) != signal.SIG_IGN:
            handlers[signal.SIGINT] = request.handle
        if hasattr(signal, "SIGUSR1"):  # not on Windows
            handlers[signal.SIGUSR1] = request.ask
        if sigterm_stops():
            handlers[signal.SIGTERM] = request.ask
    previous = {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}
    try:
        yield request
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)  # None: not set from Python


@contextlib.contextmanager
def usr1_interrupts() -> Iterator[None]:
    """Inside the block SIGUSR1 raises KeyboardInterrupt, as Ctrl-C does by default: before the training loop (opening
    and clustering the data, building the networks) a scheduler's warning stops the command as Ctrl-C does there,
    instead of ending it without a word (SIGUSR1's default). The loop's own handler (`ctrl_c_requests_stop`)
    takes over while it runs. SIGTERM too, with $STYLEGAN2_SIGTERM=stop. Main thread only; nothing on platforms
    without SIGUSR1."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGUSR1"):
        yield
        return
    count = len(_finishes)

    def interrupt(signum: int, frame: Any) -> None:
        if not _finished_since(count):  # after Done., nothing
            raise KeyboardInterrupt

    signums = [signal.SIGUSR1, *([signal.SIGTERM] if sigterm_stops() else [])]  # SIGTERM as SIGUSR1, when asked
    previous = {signum: signal.signal(signum, interrupt) for signum in signums}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


@contextlib.contextmanager
def sigterm_raises_once() -> Iterator[list[int]]:
    """Turn the first SIGTERM into Terminated (KeyboardInterrupt with $STYLEGAN2_SIGTERM=stop), so that the log says
    why the run stopped. Once the yielded list is not empty (a SIGTERM came, or the caller is already stopping),
    SIGTERM is ignored while the message is written (torchrun's SIGKILL follows if that takes too long). Main thread
    only."""
    stopping: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield stopping
        return
    count = len(_finishes)

    def terminate(signum: int, frame: Any) -> None:
        if not stopping and not _finished_since(count):
            stopping.append(signum)
            if sigterm_stops():  # $STYLEGAN2_SIGTERM=stop: a stop as Ctrl-C asks it, wherever the run is
                raise KeyboardInterrupt
            raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield stopping
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
