"""training.lock: a heartbeat that keeps it fresh whatever the run does (not only its steps), that stops on every way
the run ends, and a record of the owner's process that a reused pid cannot pass for."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import pytest
import torch

from stylegan2.data import open_dataset
from stylegan2.models import Generator
from stylegan2.training import rundir
from stylegan2.training import session as session_module
from stylegan2.training.config import resolve_options
from stylegan2.training.loop import train
from stylegan2.training.resume import check_resume
from stylegan2.training.rundir import OWNER_FILE, RunLock, claim_run_dir, process_start, run_owner
from stylegan2.training.session import LoopHooks, TrainingError, TrainingSession, start_process

BEAT = 0.02  # seconds between touches in these tests (HEARTBEAT_S is a minute)
LINUX = pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="no /proc: the pid alone names the owner")


@pytest.fixture
def fast_heartbeat(monkeypatch):
    monkeypatch.setattr(rundir, "HEARTBEAT_S", BEAT)


def heartbeats(run_dir: Path) -> list[threading.Thread]:
    """The threads that touch `run_dir`'s training.lock (a session another test left open has its own)."""
    return [thread for thread in threading.enumerate() if thread.name == f"heartbeat of {run_dir / OWNER_FILE}"]


def touched_again(lock: Path, within: float = 10.0) -> bool:
    """Set `lock`'s modification time to 1970 and wait until something touches it again."""
    os.utime(lock, (0, 0))
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if lock.stat().st_mtime > 0:
            return True
        time.sleep(BEAT)
    return False


class TinyOptions:
    """The fields a session reads: 8 images a step, a tick and a snapshot every 2 steps."""

    def __init__(self, outdir: Path) -> None:
        self.data, self.outdir, self.kimg, self.batch, self.batch_gpu = "builtin:shapes", str(outdir), 1.0, 8, 8
        self.tick, self.snap, self.keep_snapshots, self.seed, self.workers = 0.016, 1, 0, 0, 0

    def to_json(self) -> dict:
        return dict(vars(self))


def session(tmp_path: Path, **limits) -> TrainingSession:
    """A session with a tiny G, its run directory open."""
    G = Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3, mapping_kwargs={"num_layers": 1},
                  synthesis_kwargs={"channel_base": 64, "channel_max": 8})
    run = TrainingSession(TinyOptions(tmp_path), start_process("cpu", 0), networks={"G": G},
                          optimizers={"G": torch.optim.Adam(G.parameters())}, log=lambda line: None, **limits)
    run.open_run_dir("test", [])
    return run


def hooks(step: Callable[[], None] = lambda: None, after_snapshot: Callable[[Path], None] = lambda path: None) -> LoopHooks:
    return LoopHooks(step=step, save_grids=lambda label: None, status_losses=(), advice="", after_snapshot=after_snapshot)


def test_the_lock_is_touched_while_a_snapshot_is_scored_between_two_steps(tmp_path, fast_heartbeat):
    """A metric at a snapshot (FID50k: an hour on a slow GPU) takes no step: the run is still trained all the while,
    which --resume auto on another host can tell from the lock's modification time only."""
    run = session(tmp_path, max_steps=2)
    lock = run.run_dir / OWNER_FILE
    seen = []
    run.run(hooks(after_snapshot=lambda path: seen.append(touched_again(lock))))
    assert seen == [True] and not lock.exists()


def test_the_lock_is_touched_before_the_first_step(tmp_path, fast_heartbeat):
    """The first grids, written before run() (slow for a large network on a slow device), count too."""
    run = session(tmp_path, max_steps=1)
    with run.before_first_step():
        assert touched_again(run.run_dir / OWNER_FILE)
    run.run(hooks())
    assert not heartbeats(run.run_dir)


def interrupt() -> None:
    raise KeyboardInterrupt


def fail() -> None:
    raise ValueError("x.png: cannot decode image")


@pytest.mark.parametrize("ending, raises", [(None, None), (interrupt, KeyboardInterrupt), (fail, ValueError)])
def test_the_heartbeat_runs_while_the_run_holds_its_lock_and_stops_however_it_ends(tmp_path, fast_heartbeat, ending, raises):
    """Done, a second Ctrl-C, an error: the thread ends with the run and the file is removed, so that a process
    that goes on (a notebook) neither keeps touching a run it trains no more nor keeps the run taken."""
    run = session(tmp_path, max_steps=2)
    running = []

    def step() -> None:
        running.append(len(heartbeats(run.run_dir)))
        if ending is not None and run.batch_idx == 1:
            ending()

    if raises is None:
        run.run(hooks(step))
    else:
        with pytest.raises(raises):
            run.run(hooks(step))
    assert running[0] == 1 and not heartbeats(run.run_dir) and not (run.run_dir / OWNER_FILE).exists()


def test_the_heartbeat_stops_when_what_comes_before_the_first_step_fails(tmp_path, fast_heartbeat):
    run = session(tmp_path)
    running = []
    with pytest.raises(ValueError):
        with run.before_first_step():
            running.append(len(heartbeats(run.run_dir)))
            fail()
    assert running == [1] and not heartbeats(run.run_dir) and not (run.run_dir / OWNER_FILE).exists()


def test_the_heartbeat_stops_when_the_run_directory_cannot_be_filled(tmp_path, fast_heartbeat, monkeypatch):
    """log.txt cannot be opened (a full disk): the run directory is removed, lock and all, and nothing touches it."""
    running, made = [], []

    def full_disk(run_dir, echo):
        running.append(len(heartbeats(run_dir)))
        made.append(run_dir)
        raise OSError(28, "No space left on device", str(run_dir / "log.txt"))

    monkeypatch.setattr(session_module, "RunLog", full_disk)
    with pytest.raises(TrainingError, match=r"log\.txt \(No space left on device\); nothing was written"):
        session(tmp_path)
    assert running == [1] and not heartbeats(made[0]) and list(tmp_path.iterdir()) == []


def test_a_touch_that_fails_is_tried_again_at_the_next_beat(tmp_path, fast_heartbeat, monkeypatch):
    """A full disk's metadata, a mount away for a while: the run goes on and the heartbeat with it."""
    lock = claim_run_dir(tmp_path, None)
    failures = []
    touch = os.utime

    def flaky(path, *args, **kwargs):
        if len(failures) < 3:
            failures.append(path)
            raise OSError(28, "No space left on device", str(path))
        return touch(path, *args, **kwargs)

    os.utime(lock, (0, 0))  # before the heartbeat starts: only it can touch the file again
    monkeypatch.setattr(rundir.os, "utime", flaky)
    held = RunLock(lock)
    try:
        deadline = time.monotonic() + 10
        while lock.stat().st_mtime == 0 and time.monotonic() < deadline:
            time.sleep(BEAT)
        assert len(failures) == 3 and lock.stat().st_mtime > 0
    finally:
        held.release()
    assert not lock.exists() and not heartbeats(tmp_path)


def test_release_returns_while_a_touch_hangs(tmp_path, fast_heartbeat, monkeypatch):
    """A touch stuck on a dead NFS mount must not keep a finished run from exiting: release waits for the heartbeat
    thread a bounded time (it is a daemon, so it does not keep the process alive either)."""
    lock = claim_run_dir(tmp_path, None)
    hanging, unstuck = threading.Event(), threading.Event()

    def hung(path, *args, **kwargs):
        hanging.set()
        unstuck.wait(60)

    monkeypatch.setattr(rundir.os, "utime", hung)
    monkeypatch.setattr(rundir, "RELEASE_WAIT_S", 0.1, raising=False)
    held = RunLock(lock)
    released = threading.Thread(target=held.release, daemon=True)
    try:
        assert hanging.wait(10)
        released.start()
        released.join(10)
        assert not released.is_alive() and not lock.exists()
    finally:
        unstuck.set()


def test_a_lock_deleted_by_hand_ends_the_heartbeat_and_is_not_made_again(tmp_path, fast_heartbeat):
    held = RunLock(claim_run_dir(tmp_path, None))
    assert heartbeats(tmp_path)
    held.path.unlink()
    deadline = time.monotonic() + 10
    while heartbeats(tmp_path) and time.monotonic() < deadline:
        time.sleep(BEAT)
    assert not heartbeats(tmp_path) and not held.path.exists()
    held.release()  # nothing left to remove: no error


def test_a_held_lock_does_not_keep_its_process_alive(tmp_path):
    """A script that ends without releasing its lock (an uncaught error) exits at once; the file stays, as a killed
    process's does, for --resume auto to pass once its pid is gone."""
    script = ("import sys; from pathlib import Path; from stylegan2.training.rundir import RunLock, claim_run_dir; "
              "RunLock(claim_run_dir(Path(sys.argv[1]), None)); print('held', flush=True)")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout == "held\n", done.stderr
    assert (tmp_path / OWNER_FILE).is_file()


def lock_of(run_dir: Path, pid: int, **fields) -> Path:
    """`run_dir`'s training.lock as process `pid` of this host writes it (`fields`: more, or others)."""
    record = {"host": socket.gethostname(), "pid": pid, "started": time.time(), "resumed": None, "job": None, **fields}
    (run_dir / OWNER_FILE).write_text(json.dumps(record))
    return run_dir / OWNER_FILE


@LINUX
def test_a_lock_records_its_process_start_as_proc_tells_it(tmp_path):
    recorded = json.loads(claim_run_dir(tmp_path, None).read_text())["process_start"]
    stat = Path("/proc/self/stat").read_text()
    assert isinstance(recorded, int) and recorded == int(stat[stat.rindex(")") + 2:].split()[19])


@LINUX
def test_a_process_named_with_spaces_and_parentheses_still_tells_its_start():
    """/proc/PID/stat gives the command's name in parentheses, as is: 'a) b c' in it shifts naive fields."""
    rename = "import sys, time; open('/proc/self/comm', 'w').write('a) b c'); print(flush=True); time.sleep(120)"
    process = subprocess.Popen([sys.executable, "-c", rename], stdout=subprocess.PIPE)
    try:
        before = process_start(process.pid)
        process.stdout.readline()  # renamed
        assert Path(f"/proc/{process.pid}/comm").read_text() == "a) b c\n"
        assert before is not None and process_start(process.pid) == before
    finally:
        process.kill()
        process.wait()


@LINUX
def test_a_lock_whose_pid_another_process_was_given_since_is_a_dead_owners(tmp_path, live_pid):
    """The pid exists on this host, but its process started at another time than the lock's writer."""
    start = process_start(live_pid)
    lock_of(tmp_path, live_pid, process_start=start + 1)
    assert not run_owner(tmp_path).alive()
    lock_of(tmp_path, live_pid, process_start=start)
    assert run_owner(tmp_path).alive()


def test_a_lock_without_a_process_start_counts_by_its_pid_alone(tmp_path, live_pid):
    """Written by an older version, or where the system does not tell a process's start."""
    lock_of(tmp_path, live_pid)
    assert run_owner(tmp_path).alive()
    lock_of(tmp_path, live_pid, process_start=None)
    assert run_owner(tmp_path).alive()
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    lock_of(tmp_path, ended.pid)
    assert not run_owner(tmp_path).alive()


@LINUX
def test_resume_auto_passes_a_lock_whose_pid_was_reused_with_the_note_on_a_dead_owner(tmp_path, one_thread, live_pid):
    overrides = dict(clusters=0, cbase=128, cmax=16, z_dim=16, w_dim=16, map=2, batch=8, workers=0, aug="noaug",
                     tick=0.008, snap=1, outdir=str(tmp_path / "runs"))
    run_dir = train(resolve_options("builtin:shapes?n=64", "cpu", 16, 1, {**overrides, "kimg": 0.008}), device="cpu",
                    log=lambda line: None)
    lock_of(run_dir, live_pid, process_start=process_start(live_pid) + 1)
    options = resolve_options("builtin:shapes?n=64", "cpu", 16, 1, {**overrides, "kimg": 0.016, "resume": "auto"})
    notes = check_resume(options, open_dataset("builtin:shapes?n=64", resolution=16))[1]
    assert f"continues {run_dir / 'network-snapshot-000000-008.safetensors'}" in notes
    assert any(note.startswith(f"{run_dir.name} was left by process {live_pid} on host {socket.gethostname()} ")
               and note.endswith(", which is gone (its pid now names another process): continuing it") for note in notes), notes
