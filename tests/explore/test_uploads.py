"""Uploads are decoded with the dataset tool's checks and brought to the network's size and channels."""

import io
import struct
import zlib

import numpy as np
import PIL.Image
import pytest

from stylegan2.explore.settings import SettingsError
from stylegan2.explore.uploads import MAX_UPLOAD_PIXELS, decode_upload


def test_an_image_of_the_right_size_is_kept_pixel_for_pixel(png_file):
    data = png_file(16, 16)
    np.testing.assert_array_equal(decode_upload(data, "a.png", 16, 3), np.asarray(PIL.Image.open(io.BytesIO(data))))


def test_other_sizes_modes_and_alpha_are_converted(png_file):
    assert decode_upload(png_file(40, 20), "wide.png", 16, 3).shape == (16, 16, 3)
    gray = decode_upload(png_file(16, 16, "L"), "gray.png", 16, 3)
    np.testing.assert_array_equal(gray[..., 0], gray[..., 2])
    assert decode_upload(png_file(16, 16, "RGBA"), "alpha.png", 16, 3).shape == (16, 16, 3)
    assert decode_upload(png_file(16, 16), "rgb.png", 16, 1).shape == (16, 16, 1)


def test_files_that_are_not_images_are_refused_by_name(png_file):
    with pytest.raises(SettingsError,
                       match=r"upload 'notes.txt': cannot decode as an image \(not a known image format\); use a PNG, JPEG or WebP"):
        decode_upload(b"hello", "notes.txt", 16, 3)
    with pytest.raises(SettingsError, match="upload 'cut.png': cannot decode as an image"):
        decode_upload(png_file(64, 64)[:200], "cut.png", 16, 3)


def test_16_bit_images_are_refused_with_the_dataset_tools_message():
    buffer = io.BytesIO()
    PIL.Image.new("I;16", (16, 16)).save(buffer, format="PNG")
    with pytest.raises(ValueError, match=r"upload 'deep.png': unsupported image mode I.*save it as 8-bit grayscale or RGB"):
        decode_upload(buffer.getvalue(), "deep.png", 16, 3)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG (8-bit gray) whose header claims width x height, with no pixel data at all."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")


def test_huge_images_are_refused_from_the_header_before_decoding():
    side = int(MAX_UPLOAD_PIXELS**0.5) + 1
    with pytest.raises(SettingsError, match=rf"upload 'bomb.png': {side}x{side} pixels is too large"):
        decode_upload(png_header_only(side, side), "bomb.png", 16, 3)
