"""Uploads are decoded with the dataset tool's checks and brought to the network's size and channels."""

import io
import struct
import warnings
import zlib

import numpy as np
import PIL.Image
import pytest

from stylegan2.explore.settings import SettingsError
from stylegan2.explore.uploads import MAX_UPLOAD_PIXELS, decode_upload


def pixels(data: bytes, name: str, resolution: int = 16, channels: int = 3) -> np.ndarray:
    image, _ = decode_upload(data, name, resolution, channels)
    return image


def test_an_image_of_the_right_size_is_kept_pixel_for_pixel(png_file):
    data = png_file(16, 16)
    assert decode_upload(data, "a.png", 16, 3)[1] == ""  # nothing to note
    np.testing.assert_array_equal(pixels(data, "a.png"), np.asarray(PIL.Image.open(io.BytesIO(data))))


def test_other_sizes_modes_and_alpha_are_converted(png_file):
    assert pixels(png_file(40, 20), "wide.png").shape == (16, 16, 3)
    gray = pixels(png_file(16, 16, "L"), "gray.png")
    np.testing.assert_array_equal(gray[..., 0], gray[..., 2])
    assert pixels(png_file(16, 16, "RGBA"), "alpha.png").shape == (16, 16, 3)
    assert pixels(png_file(16, 16), "rgb.png", channels=1).shape == (16, 16, 1)


def rgba_png(lowest_alpha: int) -> bytes:
    """A 16x16 RGBA PNG of noise, opaque but for pixel (0, 0), whose alpha is `lowest_alpha`."""
    pixels = np.random.default_rng(3).integers(0, 256, (16, 16, 4), dtype=np.uint8)
    pixels[..., 3] = 255
    pixels[0, 0, 3] = lowest_alpha
    buffer = io.BytesIO()
    PIL.Image.fromarray(pixels, "RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def test_alpha_is_noted_only_when_some_pixel_is_transparent():
    """Many screenshots are RGBA with every pixel opaque: dropping that alpha changes nothing, so it is not noted."""
    assert decode_upload(rgba_png(255), "shot.png", 16, 3)[1] == ""
    assert decode_upload(rgba_png(254), "cut.png", 16, 3)[1] == "alpha dropped: transparent pixels keep their stored colour"


@pytest.mark.parametrize("size, note", [
    ((32, 32), ""),  # a plain downscale
    ((40, 20), "40x20 image center-cropped to 20x20"),
    ((1, 1), "1x1 image enlarged to the network's 16x16"),
    ((400, 2), "400x2 image center-cropped to 2x2 and enlarged to the network's 16x16"),
])
def test_a_crop_or_an_enlargement_is_noted(png_file, size, note):
    image, said = decode_upload(png_file(*size), "a.png", 16, 3)
    assert image.shape == (16, 16, 3) and said == note


def test_files_that_are_not_images_are_refused_by_name(png_file):
    with pytest.raises(SettingsError,
                       match=r"upload 'notes.txt': cannot decode as an image \(not a known image format\); use a PNG, JPEG or WebP"):
        decode_upload(b"hello", "notes.txt", 16, 3)
    with pytest.raises(SettingsError, match="upload 'cut.png': cannot decode as an image"):
        decode_upload(png_file(64, 64)[:200], "cut.png", 16, 3)


def test_16_bit_grayscale_uploads_are_scaled_as_the_dataset_reader_scales_them():
    values = np.linspace(0, 65535, 16 * 16).round().astype(np.uint16).reshape(16, 16)
    buffer = io.BytesIO()
    PIL.Image.fromarray(values).save(buffer, format="PNG")  # mode I;16: PIL's convert would clip it to white
    image, _ = decode_upload(buffer.getvalue(), "deep.png", 16, 1)
    np.testing.assert_array_equal(image[:, :, 0], np.rint(values / 257).astype(np.uint8))


def test_floating_point_uploads_are_refused_with_the_dataset_tools_message():
    buffer = io.BytesIO()
    PIL.Image.fromarray(np.zeros((16, 16), np.float32)).save(buffer, format="TIFF")
    with pytest.raises(ValueError, match=r"upload 'deep.tiff': unsupported image mode F.*save it as 8- or 16-bit"):
        decode_upload(buffer.getvalue(), "deep.tiff", 16, 3)


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


@pytest.mark.parametrize("side", [10_000, 20_000])  # over PIL's warning limit, over its error limit
def test_images_past_pils_bomb_limits_get_the_same_message_and_no_warning(side):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(SettingsError, match=r"upload 'bomb.png': .* pixels is too large; the explorer takes images of at most 67,1"):
            decode_upload(png_header_only(side, side), "bomb.png", 16, 3)


def test_a_phone_portrait_is_taken_upright():
    """A phone stores a portrait shot sideways with EXIF Orientation 6; the user sees (and means) it upright."""
    stored = np.zeros((16, 16, 3), np.uint8)
    stored[:, :4] = 255  # a white band on the stored image's left: the top of the upright picture
    exif = PIL.Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    PIL.Image.fromarray(stored).save(buffer, format="PNG", exif=exif.tobytes())
    image = pixels(buffer.getvalue(), "portrait.png")
    assert image[:4].min() == 255 and image[4:].max() == 0


def test_an_upload_is_decoded_only_in_the_dataset_formats(png_file):
    """An EPS named face.png reached Pillow's EPS reader, which hands the file to Ghostscript."""
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 32 32\nnewpath 0 0 moveto 32 32 lineto stroke\nshowpage\n"
    with pytest.raises(SettingsError, match=r"upload 'face\.png': cannot decode as an image \(not a known image format\)"):
        decode_upload(eps, "face.png", 16, 3)
