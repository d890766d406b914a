"""Once a run is finished (its log says Done.), Ctrl-C, SIGUSR1 and SIGTERM change nothing while it exits; a later
run in the same process (a Python caller's) handles them again from its own start."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from typing import Iterator

import pytest

from stylegan2.training import signals
from stylegan2.training.signals import StopRequest, mark_finished, usr1_interrupts


@pytest.fixture(autouse=True)
def no_launcher(monkeypatch):
    monkeypatch.delenv(signals.MESSAGES_VARIABLE, raising=False)  # mark_finished leaves no file


@contextlib.contextmanager
def not_interrupted() -> Iterator[None]:
    """A KeyboardInterrupt in the block fails the test (pytest would take it for the user's Ctrl-C and stop)."""
    try:
        yield
    except KeyboardInterrupt:
        pytest.fail("interrupted after the run had finished")


def test_a_ctrl_c_after_the_run_finished_is_not_a_second_one():
    request = StopRequest()
    request.handle(signal.SIGINT, None)
    mark_finished()
    with not_interrupted():
        request.handle(signal.SIGINT, None)  # before: KeyboardInterrupt, a stop at once after Done.


def test_a_later_run_in_the_same_process_stops_on_ctrl_c_again():
    mark_finished()
    request = StopRequest()
    request.handle(signal.SIGINT, None)
    with pytest.raises(KeyboardInterrupt):
        request.handle(signal.SIGINT, None)


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="no SIGUSR1 on Windows")
def test_sigusr1_after_the_run_finished_interrupts_nothing():
    with not_interrupted(), usr1_interrupts():
        mark_finished()
        os.kill(os.getpid(), signal.SIGUSR1)  # the handler runs at the next bytecode


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="no SIGUSR1 on Windows")
@pytest.mark.parametrize("sigterm", [True, False])
def test_a_process_whose_work_is_finished_exits_0_whatever_signal_comes(sigterm):
    """The command line's handlers (sigterm=True) and a launched process's (SIGTERM left to its launcher): before
    mark_finished each signal interrupts; after it none does, nor while the interpreter exits."""
    code = f"""
import os, signal, sys, time
from stylegan2.training.signals import SignalInterrupt, ignore_stop_signals, interrupt_on_signals, mark_finished
interrupt_on_signals(sigterm={sigterm})
names = ["SIGINT", "SIGUSR1"] + (["SIGTERM"] if {sigterm} else [])
for name in names:
    try:
        os.kill(os.getpid(), getattr(signal, name))
        time.sleep(1)
        sys.exit(name + " did not interrupt")
    except SignalInterrupt as err:
        print(name, err.status)
    except KeyboardInterrupt:
        print(name, "interrupted")
mark_finished()
for name in names:
    os.kill(os.getpid(), getattr(signal, name))
    time.sleep(0.05)
ignore_stop_signals(sigterm={sigterm})
import atexit
atexit.register(lambda: [os.kill(os.getpid(), getattr(signal, name)) for name in names])
print("done")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    expected = "SIGINT interrupted\nSIGUSR1 interrupted\n" + ("SIGTERM 143\n" if sigterm else "") + "done\n"
    assert result.returncode == 0 and result.stdout == expected and result.stderr == "", result
