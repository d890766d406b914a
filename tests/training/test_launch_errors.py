"""`stylegan2 train --nnodes N --rdzv-endpoint HOST:PORT`: a rendezvous that fails (a partner that never comes,
mismatched --nnodes, an endpoint nobody answers on) stops within --rdzv-timeout with one line, not torchrun's traceback.

The nodes are real agents meeting on this machine: the test process is one node (its rendezvous fails before
any training process starts), a fresh Python process the other.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.training.launch import LaunchError, ProcessLayout, launch

TRAIN = ["train", "--data", "builtin:shapes?n=64", "--cfg", "cpu", "--device", "cpu", "--kimg", "0.008", "--batch", "8",
         "--cbase", "128", "--cmax", "16", "--workers", "0", "--aug", "noaug"]
SAME = "start every node with the same --nnodes, --rdzv-endpoint and --rdzv-id"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def never_runs() -> None:
    raise AssertionError("no process may start when the rendezvous fails")


def launch_error(layout: ProcessLayout) -> tuple[str, float]:
    """The LaunchError's message and the seconds the launch took."""
    started = time.monotonic()
    with pytest.raises(LaunchError) as err:
        launch(layout, never_runs)
    return str(err.value), time.monotonic() - started


def test_a_node_whose_partners_never_come_stops_after_the_rendezvous_timeout():
    endpoint = f"127.0.0.1:{free_port()}"
    message, seconds = launch_error(ProcessLayout(nnodes=2, rdzv_endpoint=endpoint, rdzv_timeout=2))
    assert message == (f"the 2 nodes did not all meet at {endpoint} within 2 s; {SAME}, and start them within "
                       "--rdzv-timeout of each other")
    assert 2 <= seconds < 20


def test_an_endpoint_nobody_listens_on_is_one_line_after_the_timeout():
    """0.0.0.0 is not this machine's address to torch's host test, so this node is a client; nothing listens there."""
    port = free_port()
    message, seconds = launch_error(ProcessLayout(nnodes=2, rdzv_endpoint=f"0.0.0.0:{port}", rdzv_timeout=2))
    assert message == (f"could not reach the rendezvous at 0.0.0.0:{port} within 2 s (connection refused: nothing listens "
                       "on that port yet); start the node at 0.0.0.0 (it hosts the rendezvous), pass the same --rdzv-endpoint "
                       "to every node and check that the port is open to this machine (--rdzv-timeout sets the wait)")
    assert 2 <= seconds < 20


def test_an_unreachable_host_is_one_line_after_the_timeout():
    """192.0.2.1 (TEST-NET-1) is never routed: no answer, or an unreachable network."""
    message, seconds = launch_error(ProcessLayout(nnodes=2, rdzv_endpoint="192.0.2.1:29400", rdzv_timeout=2))
    assert message.startswith("could not reach the rendezvous at 192.0.2.1:29400 within 2 s (")
    assert 2 <= seconds < 20


# The other node: a process of its own (a fork of the test process could inherit a lock held by one of its threads).
OTHER_NODE = """import sys
from stylegan2.training.launch import LaunchError, ProcessLayout, launch
try:
    launch(ProcessLayout(nnodes=int(sys.argv[1]), rdzv_endpoint=sys.argv[2], rdzv_timeout=3), len)
    print("launched")
except LaunchError as err:
    print(err)
"""


def test_mismatched_nnodes_stop_both_nodes_with_one_line():
    """One node started with --nnodes 3, the other with --nnodes 2: torch's rendezvous alone would start a run of
    2 processes; ours never completes. The node that hosts it gives up after the timeout, the other then or
    when the host leaves, and no training process starts."""
    port = free_port()
    endpoint = f"127.0.0.1:{port}"
    host = subprocess.Popen([sys.executable, "-c", OTHER_NODE, "3", endpoint], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:  # the other node hosts the rendezvous store, so that this node is the client
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and host.poll() is None
                time.sleep(0.05)
        message, seconds = launch_error(ProcessLayout(nnodes=2, rdzv_endpoint=endpoint, rdzv_timeout=3))
        host_message = host.communicate(timeout=60)[0].strip()
    finally:
        host.kill()
        host.wait()
    assert host_message == (f"the 3 nodes did not all meet at {endpoint} within 3 s; {SAME}, and start them within "
                            "--rdzv-timeout of each other")
    assert message in (
        f"the 2 nodes did not all meet at {endpoint} within 3 s; {SAME}, and start them within --rdzv-timeout of each other",
    ) or (message.startswith(f"lost the rendezvous at {endpoint} (") and message.endswith(
        f": the node that hosts it stopped (its own message says why); {SAME}"))
    assert seconds < 20


def test_the_command_line_prints_one_line():
    """The whole `stylegan2 train` process: stderr is the error line and nothing else."""
    endpoint = f"127.0.0.1:{free_port()}"
    result = subprocess.run([sys.executable, "-m", "stylegan2", *TRAIN, "--nnodes", "2", "--rdzv-endpoint", endpoint,
                             "--rdzv-timeout", "2", "--outdir", os.devnull], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert result.stderr == (f"Error: the 2 nodes did not all meet at {endpoint} within 2 s; {SAME}, and start them "
                             "within --rdzv-timeout of each other\n")


@pytest.mark.parametrize("args, message", [
    (["--nnodes", "2"], "Error: --nnodes 2 needs --rdzv-endpoint HOST:PORT, the address of one of the machines and a free "
                        "port there, the same on every node"),
    (["--nnodes", "2", "--rdzv-endpoint", "node0:http"], "Error: --rdzv-endpoint 'node0:http': expected HOST:PORT "
                                                         "(e.g. 10.1.0.7:29400), the same on every node"),
    (["--max-restarts", "2"], "Error: --max-restarts 2 restarts the processes after a failure; add --resume auto so that "
                              "they continue from the last snapshot instead of starting over"),
    (["--rdzv-timeout", "0"], "Error: Invalid value for '--rdzv-timeout': --rdzv-timeout='0' is not a positive number of seconds"),
    (["--dist-timeout", "soon"], "Error: Invalid value for '--dist-timeout': --dist-timeout='soon' is not a positive "
                                 "number of seconds"),
])
def test_bad_launch_options_are_one_line(tmp_path, args, message):
    result = CliRunner().invoke(main, [*TRAIN, "--outdir", str(tmp_path), *args])
    assert result.exit_code in (1, 2) and result.output.splitlines()[-1] == message, result.output
    assert not list(tmp_path.iterdir())


def test_a_bad_timeout_in_the_environment_names_the_variable(tmp_path):
    result = CliRunner().invoke(main, [*TRAIN, "--outdir", str(tmp_path)], env={"STYLEGAN2_DIST_TIMEOUT": "-3"})
    assert result.exit_code == 1
    assert result.output.splitlines() == ["Error: STYLEGAN2_DIST_TIMEOUT='-3' is not a positive number of seconds"]


def test_a_leftover_world_size_without_a_launcher_is_named(monkeypatch):
    from stylegan2.training.distributed import DistributedError, init_distributed

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    monkeypatch.delenv("MASTER_PORT", raising=False)
    with pytest.raises(DistributedError, match=r"^WORLD_SIZE=2 is set but MASTER_ADDR and MASTER_PORT not: launch .* unset WORLD_SIZE"):
        init_distributed("cpu", timeout=5)


def test_a_process_killed_by_a_signal_is_not_said_to_have_a_message():
    from stylegan2.training.launch import _how_it_ended

    assert _how_it_ended(1) == "stopped with exit code 1; its message is above"
    assert _how_it_ended(-9).startswith("was killed by SIGKILL, with no message of its own")


def _exit_on_usr1(ready) -> None:
    import signal as signals

    signals.signal(signals.SIGUSR1, lambda signum, frame: os._exit(7))  # not an Event: its lock is the waiter's
    ready.set()
    time.sleep(10)


@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGUSR1"), reason="no SIGUSR1 on this platform")
def test_the_launcher_passes_sigusr1_on_without_counting_a_ctrl_c():
    """SLURM's --signal=USR1@N reaches the launching process; its processes stop with a final snapshot on it."""
    import multiprocessing
    import signal as signals

    from stylegan2.training.launch import _PassCtrlC, _signal_handlers_kept

    context = multiprocessing.get_context("fork")
    ready = context.Event()
    child = context.Process(target=_exit_on_usr1, args=(ready,))
    child.start()
    try:
        assert ready.wait(10)
        ctrl_c = _PassCtrlC()
        with _signal_handlers_kept():
            ctrl_c.install()
            os.kill(os.getpid(), signals.SIGUSR1)
            child.join(10)
            assert child.exitcode == 7 and ctrl_c.count == 0
        assert signals.getsignal(signals.SIGUSR1) == signals.SIG_DFL
    finally:
        child.kill()


CHECK_TRACKER = """
import signal
from multiprocessing import resource_tracker
from stylegan2.training.launch import _start_resource_tracker
_start_resource_tracker()
pid = resource_tracker._resource_tracker._pid
ignored = next(int(line.split()[1], 16) for line in open(f"/proc/{pid}/status") if line.startswith("SigIgn:"))
print(bool(ignored & (1 << (signal.SIGUSR1 - 1))), signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc")
def test_the_resource_tracker_is_started_deaf_to_sigusr1():
    """SLURM's --signal=USR1@N without B: signals the whole step: the processes' shared tracker must survive it.
    In a fresh process: this one's tracker may be running already."""
    result = subprocess.run([sys.executable, "-c", CHECK_TRACKER], capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["True", "True"], result.stderr  # deaf tracker; this process's handling as it was
