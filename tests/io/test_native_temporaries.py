"""Checkpoints are written through our own temporaries only: a write cut short or killed leaves nothing in the folder
that the sweep of killed runs' temporaries does not know (safetensors' save_file wrote a `.tmpXXXXXX` of its own)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from stylegan2.io import native, save_checkpoint, save_network
from stylegan2.metrics.convert import save_converted
from stylegan2.utils.files import STALE_AFTER_SECONDS, remove_stale_temps


def _cut_short(monkeypatch, seen):
    """Make the next file write stop halfway with a full disk, noting the folder's names at that moment in `seen`."""
    def write_half(self, data):
        with open(self, "wb") as f:
            f.write(data[: len(data) // 2])
        seen.append(sorted(os.listdir(self.parent)))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(native.Path, "write_bytes", write_half)


WRITERS = {
    "save_checkpoint": lambda path, nets: save_checkpoint(path, nets, extra_tensors={"optim.x": torch.ones(8)},
                                                          overwrite=True),
    "save_network": lambda path, nets: save_network(path, nets, overwrite=True),
    "save_converted": lambda path, nets: save_converted({"w": torch.ones(8)}, "vgg16", "vgg16.pt", path),
}


@pytest.mark.parametrize("writer", WRITERS)
def test_a_write_cut_short_leaves_only_the_earlier_file(tmp_path, tiny_networks, monkeypatch, writer):
    path = tmp_path / "net.safetensors"
    path.write_bytes(b"the user's earlier file")
    seen: list[list[str]] = []
    _cut_short(monkeypatch, seen)
    with pytest.raises(OSError, match="No space left") as raised:
        WRITERS[writer](path, {"G": tiny_networks["G"]})
    assert raised.value.filename == str(path)  # the error names the file, not a temporary
    (during,) = seen
    assert [name for name in during if name != "net.safetensors"] == [
        name for name in during if name.startswith(".net.safetensors.") and ".tmp" in name]  # ours alone, mid-write
    assert sorted(os.listdir(tmp_path)) == ["net.safetensors"]
    assert path.read_bytes() == b"the user's earlier file"


KILLED_WRITER = textwrap.dedent("""
    import sys, torch
    from stylegan2.io import save_checkpoint
    big = torch.ones(16 * 2**20)  # 64 MB: long enough a write to be killed within
    while True:
        save_checkpoint(sys.argv[1], {}, extra_tensors={"optim.big": big}, overwrite=True)
""")


def _size(entry: os.DirEntry) -> int:
    """The size of a folder entry, 0 once it is gone (renamed into place meanwhile)."""
    try:
        return entry.stat().st_size
    except FileNotFoundError:
        return 0


def test_a_killed_write_leaves_only_a_temporary_the_sweep_removes(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    path = folder / "network-snapshot-000000.safetensors"
    child = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path)])
    try:
        deadline = time.time() + 120
        while time.time() < deadline and child.poll() is None:
            if any(entry.name != path.name and _size(entry) > 0 for entry in os.scandir(folder)):
                break  # a temporary being filled: kill the writer mid-write
        else:
            pytest.fail(f"the writer never started a write (exit status {child.returncode})")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    left = sorted(name for name in os.listdir(folder) if name != path.name)
    assert left, "the kill should leave the write's temporary"
    old = time.time() - STALE_AFTER_SECONDS - 10  # the sweep leaves a temporary alone for a minute
    for name in left:
        os.utime(folder / name, (old, old))
    remove_stale_temps(folder)
    assert sorted(os.listdir(folder)) in ([], [path.name]), f"left behind: {left}"
