"""Fixtures the training tests share."""

import errno
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest


@pytest.fixture
def live_pid() -> Iterator[int]:
    """The pid of a process that lives while the test runs: another job's trainer, as far as a lock can tell."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process.pid
    process.kill()
    process.wait()


# One of two processes of a --resume auto job that look for the snapshot to continue at the same moment: each waits,
# once it has looked, until the other has too, and stays alive until the other has said how its start went.
TOGETHER = """
import json, sys, time
from pathlib import Path
from stylegan2.training import auto_resume, resume
from stylegan2.training.config import resolve_options
from stylegan2.training.session import TrainingError, start_process
me, other, data_name, overrides = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
found = auto_resume.latest_snapshot
def together(*args, **kwargs):
    chosen = found(*args, **kwargs)
    Path(me + ".found").touch()
    while not Path(other + ".found").exists():
        time.sleep(0.01)
    return chosen
auto_resume.latest_snapshot = together
options = resolve_options("builtin:shapes?n=64", "cpu", 16, 1, overrides)
try:
    resume.load_resume(options, data_name, start_process("cpu", 0))
    said = "goes on"
except TrainingError as err:
    said = str(err)
Path(me + ".said").write_text(said)
while not Path(other + ".said").exists():
    time.sleep(0.01)
"""


@pytest.fixture
def started_together(tmp_path: Path) -> Callable[[dict], tuple[int, str]]:
    """Start two processes of the job of `overrides` (TrainingOptions fields; data builtin:shapes?n=64, --cfg cpu, 16
    pixels) that look for a snapshot at once; check that --resume auto let exactly one of them set its run up, and
    return that one's pid and the message the other gave way with."""

    def start(overrides: dict) -> tuple[int, str]:
        a, b = str(tmp_path / "a"), str(tmp_path / "b")
        jobs = {me: subprocess.Popen([sys.executable, "-c", TOGETHER, me, other, "shapes", json.dumps(overrides)])
                for me, other in ((a, b), (b, a))}
        for job in jobs.values():
            assert job.wait(timeout=120) == 0
        said = {job.pid: Path(me + ".said").read_text() for me, job in jobs.items()}
        assert sorted(said.values()).count("goes on") == 1, said
        (winner,) = [pid for pid, words in said.items() if words == "goes on"]
        (gave_way,) = [words for pid, words in said.items() if pid != winner]
        return winner, gave_way

    return start


class _FullDisk:
    """A file opened on a full disk (os.fdopen's stand-in): its creation succeeded, its line does not fit."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __enter__(self) -> "_FullDisk":
        return self

    def __exit__(self, *exc) -> None:
        os.close(self.fd)

    def write(self, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture
def full_disk_file() -> type:
    """What os.fdopen returns on a full disk, for tests of claims whose line does not fit: `full_disk_file(fd)`."""
    return _FullDisk
