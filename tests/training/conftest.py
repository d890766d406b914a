"""Fixtures the training tests share."""

import subprocess
import sys
from typing import Iterator

import pytest


@pytest.fixture
def live_pid() -> Iterator[int]:
    """The pid of a process that lives while the test runs: another job's trainer, as far as a lock can tell."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process.pid
    process.kill()
    process.wait()
