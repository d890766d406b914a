"""swap, decode and encode put their outputs in place as one set or not at all: a full disk or a file another command
wrote meanwhile leaves nothing of the run, and the message names the file and what the user has."""

import errno
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
from PIL import Image

from stylegan2.data.shapes import render_shape
from stylegan2.swapae.tools import decode, encode, swap
from stylegan2.tools import ToolError

pytestmark = pytest.mark.usefixtures("one_thread")
NO_SPACE = OSError(errno.ENOSPC, "No space left on device")  # as a write to an open file on a full disk says it


@pytest.fixture
def shape_files(tmp_path) -> list[Path]:
    """Three 16 px builtin:shapes images saved as PNG."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    paths = [folder / f"shape{i}.png" for i in range(3)]
    for i, path in enumerate(paths):
        Image.fromarray(render_shape(i, 16, seed=7).image.transpose(1, 2, 0)).save(path)
    return paths


def png_saves(monkeypatch, at_call: int, action) -> None:
    """Run `action` on the `at_call`-th PNG written (1-based), then go on as PIL would (if `action` returns)."""
    real, calls = PIL.Image.Image.save, []

    def save(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == at_call:
            action()
        return real(self, *args, **kwargs)
    monkeypatch.setattr(PIL.Image.Image, "save", save)


def full_disk() -> None:
    raise NO_SPACE


def test_swap_that_meets_a_cell_written_meanwhile_keeps_nothing_of_its_own(swapae_snapshot, shape_files, tmp_path,
                                                                             monkeypatch):
    """Before, the grid and the cells written before the other command's file stayed beside it, though the message
    said this command's output was not kept."""
    outdir = tmp_path / "out"
    theirs = outdir / "swap_s00_t01.png"
    png_saves(monkeypatch, 2, lambda: theirs.write_bytes(b"theirs"))
    with pytest.raises(ToolError) as caught:
        swap(swapae_snapshot, shape_files[:1], shape_files[1:], outdir, device="cpu")
    assert str(caught.value) == (f"{theirs} appeared while this command ran (another command?); nothing was "
                                 "overwritten; this command's output was not kept")
    assert [p.name for p in outdir.iterdir()] == ["swap_s00_t01.png"] and theirs.read_bytes() == b"theirs"


def test_decode_on_a_full_disk_names_the_file_and_leaves_no_image_nor_its_new_outdir(swapae_snapshot, shape_files,
                                                                                       tmp_path, monkeypatch):
    codes = encode(swapae_snapshot, shape_files, tmp_path / "codes.npz", device="cpu")
    png_saves(monkeypatch, 2, full_disk)
    outdir = tmp_path / "decoded"
    with pytest.raises(ToolError) as caught:
        decode(swapae_snapshot, codes, outdir, device="cpu")
    assert str(caught.value) == (f"could not write {outdir / 'decoded0001.png'}: No space left on device; "
                                 "nothing was written")
    assert not outdir.exists()


def test_swap_with_force_on_a_full_disk_leaves_the_earlier_set_unchanged(swapae_snapshot, shape_files, tmp_path,
                                                                           monkeypatch):
    outdir = tmp_path / "out"
    paths = swap(swapae_snapshot, shape_files[:1], shape_files[1:], outdir, device="cpu")
    before = {p.name: p.read_bytes() for p in paths}
    for path in paths:
        path.write_bytes(b"earlier " + path.name.encode())
    png_saves(monkeypatch, 3, full_disk)
    with pytest.raises(ToolError) as caught:
        swap(swapae_snapshot, shape_files[1:2], shape_files[:2], outdir, force=True, device="cpu")
    assert str(caught.value) == (f"could not write {outdir / 'swap_s00_t01.png'}: No space left on device; the earlier "
                                 "swap_grid.png, swap_s00_t00.png, swap_s00_t01.png are unchanged")
    assert {p.name: p.read_bytes() for p in outdir.iterdir()} == {name: b"earlier " + name.encode() for name in before}


def test_encode_on_a_full_disk_names_the_file_and_leaves_no_new_folder(swapae_snapshot, shape_files, tmp_path,
                                                                        monkeypatch):
    def full(*args, **kwargs):
        raise NO_SPACE
    monkeypatch.setattr(np, "savez", full)
    out = tmp_path / "new" / "codes.npz"
    with pytest.raises(ToolError) as caught:
        encode(swapae_snapshot, shape_files, out, device="cpu")
    assert str(caught.value) == f"could not write {out}: No space left on device; nothing was written"
    assert not out.parent.exists()
