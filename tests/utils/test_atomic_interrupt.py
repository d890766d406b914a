"""Atomic writes under Ctrl-C: the write in progress completes (or leaves nothing), then the interrupt is handled."""

import os
import signal

import pytest

from stylegan2.utils.files import atomic_path


def test_ctrl_c_during_an_atomic_write_waits_for_it(tmp_path):
    target = tmp_path / "net.safetensors"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)  # a second Ctrl-C does not cut the write short either
            tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["net.safetensors"]


def test_replace_false_never_replaces_an_existing_file(tmp_path):
    target = tmp_path / "snapshot.safetensors"
    target.write_bytes(b"good")
    with pytest.raises(FileExistsError, match="appeared while this command ran .*; nothing was overwritten"):
        with atomic_path(target, replace=False) as tmp:
            tmp.write_bytes(b"other")
    assert target.read_bytes() == b"good" and [p.name for p in tmp_path.iterdir()] == [target.name]


def test_replace_false_holds_when_the_file_appears_during_the_write(tmp_path):
    target = tmp_path / "snapshot.safetensors"
    with pytest.raises(FileExistsError, match="appeared while this command ran .*; nothing was overwritten"):
        with atomic_path(target, replace=False) as tmp:
            tmp.write_bytes(b"mine")
            target.write_bytes(b"theirs")
    assert target.read_bytes() == b"theirs" and [p.name for p in tmp_path.iterdir()] == [target.name]


def test_the_held_ctrl_c_goes_to_the_handler_that_was_in_place(tmp_path):
    """A training run handles Ctrl-C itself (it asks the run to stop); a write must not turn that into an exception."""
    seen = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))
    try:
        with atomic_path(tmp_path / "a.bin") as tmp:
            os.kill(os.getpid(), signal.SIGINT)
            tmp.write_bytes(b"data")
            assert seen == []  # held while the write is under way
    finally:
        signal.signal(signal.SIGINT, previous)
    assert seen == [signal.SIGINT] and (tmp_path / "a.bin").read_bytes() == b"data"
