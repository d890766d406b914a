"""Hostile datasets: odd zip entries, FIFOs, absurd labels, size bombs and links, crafted here.

Each is a one-line DatasetError (or a skip with a warning), never a hang, traceback or huge
allocation. The memory bombs are opened in a child process under an address-space limit.
"""

from __future__ import annotations

import io
import os
import signal
import struct
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from stylegan2.data import DatasetError, convert_dataset, open_dataset
from stylegan2.data.labels import MAX_CLASSES_VARIABLE
from stylegan2.data.sources import open_source
from stylegan2.utils.files import atomic_path


@pytest.fixture
def deadline():
    """Fail (instead of hanging the suite) when the test body blocks for more than 20 seconds."""
    def expire(signum, frame):
        raise TimeoutError("blocked for 20 s (opened a FIFO?)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def png_bytes(image: np.ndarray) -> bytes:
    import PIL.Image

    buffer = io.BytesIO()
    PIL.Image.fromarray(image).save(buffer, format="png")
    return buffer.getvalue()


def zip_with_entry(path: Path, images: np.ndarray, bad_name: str, *, encrypted: bool = False, method: int | None = None) -> Path:
    """A zip of PNGs where `bad_name` is flagged encrypted or claims compression method `method`."""
    with zipfile.ZipFile(path, "w") as archive:
        for i, image in enumerate(images):
            archive.writestr(f"img{i}.png", png_bytes(image))
    if method is not None or encrypted:
        data = bytearray(path.read_bytes())
        name = bad_name.encode()
        # (signature, offset of the flags, offset of the method, offset of the name) in local and central headers
        for signature, flags_at, method_at, name_at in ((b"PK\x03\x04", 6, 8, 30), (b"PK\x01\x02", 8, 10, 46)):
            start = data.find(signature)
            while start != -1:
                if data[start + name_at:start + name_at + len(name)] == name:
                    if encrypted:
                        data[start + flags_at] |= 0x1
                    if method is not None:
                        data[start + method_at:start + method_at + 2] = struct.pack("<H", method)
                start = data.find(signature, start + 4)
        path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("kind", ["encrypted", "method"])
def test_unreadable_zip_entries_are_named_or_skipped(tmp_path, images_rgb, kind):
    options = {"encrypted": True} if kind == "encrypted" else {"method": 99}
    path = zip_with_entry(tmp_path / "set.zip", images_rgb[:4], "img2.png", **options)
    reason = "the entry is encrypted" if kind == "encrypted" else "compression method 99"
    with pytest.raises(DatasetError, match=rf"^{path}/img2\.png: cannot open \({reason}.*or pass skip_bad=True$"):
        open_dataset(path)
    with pytest.warns(UserWarning, match=r"skipped 1 image\(s\): 1 that could not be opened: \S*img2\.png$"):
        assert len(open_dataset(path, skip_bad=True)) == 3
    with pytest.warns(UserWarning, match=r"skipped 1 image\(s\): 1 that could not be opened: \S*img2\.png$"):
        assert convert_dataset(path, tmp_path / "out.zip", skip_bad=True).num_images == 3


def test_fifos_are_never_opened(tmp_path, make_folder, images_rgb, deadline):
    folder = make_folder(images_rgb)
    os.mkfifo(folder / "a" / "pipe.png")
    with pytest.warns(UserWarning, match=r"skipped 1 non-regular file\(s\): a/pipe\.png"):
        assert len(open_dataset(folder)) == len(images_rgb)
    os.mkfifo(tmp_path / "pipe.zip")
    os.mkfifo(tmp_path / "pipe.npz")
    for name in ("pipe.zip", "pipe.npz"):
        with pytest.raises(DatasetError, match="not a regular file"):
            open_source(tmp_path / name)
    os.mkfifo(folder / "dataset.json")
    with pytest.warns(UserWarning, match=r"a/pipe\.png, dataset\.json"), pytest.raises(DatasetError, match="has no labels"):
        open_dataset(folder, use_labels=True)


@pytest.mark.parametrize("label, message", [
    (2**70, "class label 1,180,591,620,717,411,303,424 means more than 10,000 classes"),
    (2**300, "class label of 301 bits means more than 10,000 classes"),
    (1_000_000, "class label 1,000,000 means more than 10,000 classes; check the labels, or set \\$STYLEGAN2_MAX_CLASSES"),
    (1e12, "class label 1,000,000,000,000 means more than 10,000 classes"),  # a whole float is a class index
    (1e300, "class label of 997 bits means more than 10,000 classes"),
    (2.5, "a/img0.png: 2.5 is not a class index"),
    ([float("nan")] * 3, "NaN or infinite"),
    ([0.5] * 20_000, "at most 10,000 numbers"),
])
def test_labels_are_bounded(make_folder, images_rgb, label, message):
    labels = [label if i == 0 else (0 if not isinstance(label, list) else [0.0] * len(label)) for i in range(6)]
    folder = make_folder(images_rgb, labels=labels)
    with pytest.raises(DatasetError, match=message):
        open_dataset(folder, use_labels=True)


def test_the_class_limit_can_be_raised(make_folder, images_rgb, monkeypatch):
    folder = make_folder(images_rgb, labels=[0, 1, 2, 3, 4, 20_000])
    monkeypatch.setenv(MAX_CLASSES_VARIABLE, "30000")
    assert open_dataset(folder, use_labels=True).label_dim == 20_001


def test_deep_labels_file_is_one_line(make_folder, images_rgb):
    folder = make_folder(images_rgb)
    (folder / "dataset.json").write_text('{"labels": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(DatasetError, match=r"dataset\.json: cannot parse \(RecursionError"):
        open_dataset(folder, use_labels=True)


def npy_header_bomb() -> bytes:
    """A .npy whose header declares a 1 TiB uint8 array but holds 16 bytes."""
    header = "{'descr': '|u1', 'fortran_order': False, 'shape': (1048576, 1024, 1024), }"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + bytes(16)


def write_bombs(directory: Path) -> list[Path]:
    header = directory / "header.npz"
    with zipfile.ZipFile(header, "w") as archive:
        archive.writestr("x.npy", npy_header_bomb())
    deflated = directory / "deflated.npz"
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((3000, 256, 256), np.uint8))  # 197 MB of zeros, a few hundred KB deflated
    with zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x.npy", buffer.getvalue())
    png = directory / "wide_png.zip"
    ihdr = struct.pack(">IIBBBBB", 12800, 12800, 8, 0, 0, 0, 0)
    chunks = b"".join(struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
                      for t, d in ((b"IHDR", ihdr), (b"IDAT", zlib.compress(bytes(12801) * 100)), (b"IEND", b"")))
    with zipfile.ZipFile(png, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("big.png", b"\x89PNG\r\n\x1a\n" + chunks)
    return [header, deflated, png]


CHILD = """
import sys
from stylegan2.data import DatasetError, convert_dataset
for path in sys.argv[1:]:
    try:
        convert_dataset(path, path + ".out.zip")
    except DatasetError as exc:
        assert "\\n" not in str(exc), str(exc)
        print("refused |", exc, flush=True)
    else:
        raise SystemExit(f"{path} was converted")
"""


def test_size_bombs_are_refused_before_allocating(tmp_path, memory_limited_python):
    paths = write_bombs(tmp_path)
    result = memory_limited_python(CHILD, *map(str, paths))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert "header declares 1,099,511,627,776 bytes but the entry holds 16" in lines[0]
    assert "(more than 200:1)" in lines[1]
    assert "image is 12800x12800, more than 67,108,864 pixels" in lines[2]


def test_links_are_followed_only_inside_the_folder(tmp_path, make_folder, images_rgb, noise):
    folder = make_folder(images_rgb)
    outside = make_folder(noise(2, 16, 3, seed=9), name="elsewhere")
    (folder / "c").symlink_to(outside / "a", target_is_directory=True)  # a folder outside: skipped
    (folder / "a" / "secret.png").symlink_to(outside / "b" / "img1.png")  # a file outside: skipped
    (folder / "d").symlink_to(folder / "b", target_is_directory=True)  # a folder inside: followed once (as b/)
    (folder / "0").symlink_to(folder / "b", target_is_directory=True)  # ... or as 0/, first in name order
    (folder / "a" / "again.png").symlink_to(folder / "b" / "img3.png")  # a file inside: followed
    (folder / "a" / "loop").symlink_to(folder, target_is_directory=True)  # a loop: visited once
    with pytest.warns(UserWarning, match=r"skipped 2 symbolic link\(s\) pointing outside the folder: a/secret\.png, c"):
        source = open_source(folder)
    assert source.files == ["0/img3.png", "0/img4.png", "0/img5.png", "a/again.png", "a/img0.png", "a/img1.png", "a/img2.png"]


def test_dataset_tool_respects_the_umask(tmp_path, make_folder, images_rgb):
    folder = make_folder(images_rgb)
    old = os.umask(0o027)
    try:
        convert_dataset(folder, tmp_path / "out.zip")
    finally:
        os.umask(old)
    assert (tmp_path / "out.zip").stat().st_mode & 0o777 == 0o640


def test_atomic_path_leaves_the_umask_alone(tmp_path, monkeypatch):
    def no_umask(mask):
        raise AssertionError("atomic_path must not change the process umask")

    monkeypatch.setattr(os, "umask", no_umask)
    with atomic_path(tmp_path / "f.txt") as tmp:
        tmp.write_text("x")
    assert (tmp_path / "f.txt").read_text() == "x"


def test_dataset_tool_removes_its_stale_temporaries(tmp_path, make_folder, images_rgb):
    folder = make_folder(images_rgb)
    old = time.time() - 3600
    stale = [tmp_path / ".out.zip.ab12cd_9.tmp", tmp_path / f".other.zip.{2**22 + 12345}.0123abcd.tmp.zip"]
    kept = [tmp_path / f".out.zip.{os.getpid()}.0123abcd.tmp.zip", tmp_path / ".out.zip.notours", tmp_path / "x.tmp"]
    for path in stale + kept:
        path.write_bytes(b"partial")
        os.utime(path, (old, old))
    fresh = tmp_path / ".out.zip.zz12cd_9.tmp"  # just written: may belong to a run in progress
    fresh.write_bytes(b"partial")
    convert_dataset(folder, tmp_path / "out.zip")
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in kept + [fresh])
    assert not any(".tmp" in p.name and p not in kept + [fresh] for p in tmp_path.iterdir())



def test_a_large_trusted_photo_passes_under_a_raised_pixel_limit_without_pillows_warning(tmp_path, monkeypatch):
    """A 90 MP photo: refused by default in words that say how to accept it, then read once the limit is raised, with
    Pillow's decompression-bomb warning (which named no file, twice per image) left out."""
    import warnings

    import PIL.Image

    from stylegan2.data.images import MAX_IMAGE_PIXELS_VARIABLE, read_header

    path = tmp_path / "large.png"
    PIL.Image.new("L", (9500, 9500)).save(path)
    with open(path, "rb") as file, pytest.raises(DatasetError, match=r"large\.png: image is 9500x9500, more than 67,108,864 "
                                                 r"pixels \(a guard against decompression bombs\); raise \$STYLEGAN2_MAX_IMAGE_PIXELS"):
        read_header(file, str(path))
    monkeypatch.setenv(MAX_IMAGE_PIXELS_VARIABLE, "100000000")
    with open(path, "rb") as file, warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_header(file, str(path)) == (9500, 9500, 1)
    monkeypatch.setenv(MAX_IMAGE_PIXELS_VARIABLE, "lots")
    with open(path, "rb") as file, pytest.raises(DatasetError, match=r"STYLEGAN2_MAX_IMAGE_PIXELS must be a whole number"):
        read_header(file, str(path))


def test_a_raised_pixel_limit_is_not_undone_by_pillows_own_limit(tmp_path, monkeypatch):
    """Pillow refuses images over twice its own limit (178 MP by default) when it opens them: a 200 MP photo was
    refused with Pillow's words although $STYLEGAN2_MAX_IMAGE_PIXELS allowed it. Pillow's limit is left as it was."""
    import PIL.Image

    from stylegan2.data.images import decode_image, read_header

    path = tmp_path / "photo.png"
    PIL.Image.new("RGB", (40, 30), (9, 8, 7)).save(path)
    monkeypatch.setattr(PIL.Image, "MAX_IMAGE_PIXELS", 500)  # 1,200 pixels are over twice this: Pillow's error
    monkeypatch.setenv("STYLEGAN2_MAX_IMAGE_PIXELS", "2000")
    with open(path, "rb") as file:
        assert read_header(file, str(path)) == (30, 40, 3)
    with open(path, "rb") as file:
        assert decode_image(file, str(path)).shape == (30, 40, 3)
    assert PIL.Image.MAX_IMAGE_PIXELS == 500


@pytest.mark.parametrize("value", ["0", "-5", "lots"])
def test_a_limit_variable_that_is_not_a_positive_whole_number_is_refused(tmp_path, monkeypatch, value):
    from stylegan2.data.images import max_image_pixels

    monkeypatch.setenv("STYLEGAN2_MAX_IMAGE_PIXELS", value)
    with pytest.raises(DatasetError, match=rf"^\$STYLEGAN2_MAX_IMAGE_PIXELS must be a whole number of pixels \(1 or more\), "
                                           rf"got '{value}'$"):
        max_image_pixels()


def test_only_the_listed_formats_are_decoded_whatever_a_files_bytes_say(tmp_path):
    """An EPS file named .png went to Pillow's EPS reader, which runs Ghostscript on the file's PostScript."""
    import PIL.EpsImagePlugin

    from stylegan2.data.images import decode_image

    path = tmp_path / "1.png"
    path.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 32 32\nnewpath 0 0 moveto 32 32 lineto stroke\nshowpage\n")
    assert PIL.Image.open(path).format == "EPS"  # what Pillow alone would do with it
    with open(path, "rb") as file, pytest.raises(DatasetError, match=r"1\.png: cannot decode image \(not a known image "
                                                                       r"format, or a damaged header\)"):
        decode_image(file, str(path))


def test_zip_entries_whose_path_leaves_the_top_are_skipped_with_a_note(tmp_path):
    """They were left out silently (nothing is extracted, so they were never a danger; but images went missing)."""
    import PIL.Image

    from stylegan2.data import open_dataset

    buffer = io.BytesIO()
    PIL.Image.new("RGB", (8, 8)).save(buffer, "PNG")
    with zipfile.ZipFile(tmp_path / "mixed.zip", "w") as archive:
        for name in ("../../evil0.png", "a/../../b2.png", "ok1.png", "ok3.png"):
            info = zipfile.ZipInfo(name)
            archive.writestr(info, buffer.getvalue())
    with pytest.warns(UserWarning, match=r"mixed\.zip: skipped 2 image entries whose path leaves the zip's top \('\.\.' or "
                                         r"a leading '/'\): \.\./\.\./evil0\.png, a/\.\./\.\./b2\.png"):
        data = open_dataset(tmp_path / "mixed.zip")
    assert len(data) == 2
