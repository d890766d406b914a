"""--resume auto on a full disk: the claim it cannot write is removed and the error says the disk is full, never that
another process claimed the run (which an empty claim left behind made it say, to this job and its next start)."""

import contextlib
import os
import re
from typing import Iterator

import pytest

from stylegan2.training.config import resolve_options
from stylegan2.training.loop import TrainingError, train

TINY = dict(clusters=0, cbase=128, cmax=16, z_dim=16, w_dim=16, map=2, batch=8, workers=0, aug="noaug", tick=0.008, snap=1)
CLAIM = re.compile(r"(continue|start)-\d+\.lock")

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="tells a claim's file by /proc/self/fd")


def options(tmp_path, **overrides):
    return resolve_options("builtin:shapes?n=64", "cpu", 16, 1, {**TINY, "outdir": str(tmp_path / "runs"), **overrides})


@contextlib.contextmanager
def claims_on_a_full_disk(monkeypatch: pytest.MonkeyPatch, full_disk_file: type) -> Iterator[None]:
    """Within it, claims (`continue-NNNNN.lock`, `start-NNNNN.lock`) are created but their lines do not fit; other
    files are written as usual."""
    fdopen = os.fdopen

    def opened(fd, *args, **kwargs):
        if CLAIM.fullmatch(os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))):
            return full_disk_file(fd)
        return fdopen(fd, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(os, "fdopen", opened)
        yield


def test_a_continuation_whose_claim_the_disk_cannot_write_says_so_and_leaves_no_claim(tmp_path, one_thread, monkeypatch, full_disk_file):
    run_dir = train(options(tmp_path, kimg=0.008), device="cpu", log=lambda line: None)
    with claims_on_a_full_disk(monkeypatch, full_disk_file), pytest.raises(TrainingError) as raised:
        train(options(tmp_path, kimg=0.016, resume="auto"), device="cpu", log=lambda line: None)
    assert str(raised.value) == (f"--resume auto: could not write {run_dir / 'continue-00000.lock'} to claim the run it "
                                 "continues (No space left on device); free space on that disk, then start again")
    assert not [path for path in run_dir.iterdir() if CLAIM.fullmatch(path.name)]


def test_the_next_start_on_a_freed_disk_continues_the_run(tmp_path, one_thread, monkeypatch, full_disk_file):
    """The requeued job, a moment later: no claim of the failed start stops it."""
    train(options(tmp_path, kimg=0.008), device="cpu", log=lambda line: None)
    with claims_on_a_full_disk(monkeypatch, full_disk_file), pytest.raises(TrainingError, match="No space left on device"):
        train(options(tmp_path, kimg=0.016, resume="auto"), device="cpu", log=lambda line: None)
    continued = train(options(tmp_path, kimg=0.016, resume="auto"), device="cpu", log=lambda line: None)
    assert (continued / "network-snapshot-000000-016.safetensors").exists()


def test_a_new_run_whose_claim_the_disk_cannot_write_leaves_no_claim(tmp_path, one_thread, monkeypatch, full_disk_file):
    with claims_on_a_full_disk(monkeypatch, full_disk_file), pytest.raises(ValueError, match="No space left on device"):
        train(options(tmp_path, kimg=0.008, resume="auto"), device="cpu", log=lambda line: None)
    assert not [path for path in (tmp_path / "runs").glob("*") if CLAIM.fullmatch(path.name)]
