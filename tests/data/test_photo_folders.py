"""Folders of real-world photos: EXIF orientation, the file types phones and browsers save, advice fit for the caller."""

import io
import json
import struct
import unicodedata
import warnings
import zlib
from pathlib import Path

import numpy as np
import PIL.Image
import PIL.ImageOps
import pytest
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.data import DatasetError, convert_dataset, open_dataset
from stylegan2.data.errors import SKIP_BAD_BY_CONVERTING, advise_skip_bad
from stylegan2.data.images import decode_image, read_header, to_array

ORIENTATION = 0x0112


def photo(height: int = 4, width: int = 6) -> np.ndarray:
    """uint8 [H, W, 3] with a different colour in every pixel, so any turn or flip shows."""
    values = np.arange(height * width * 3, dtype=np.uint8) * 3
    return values.reshape(height, width, 3)


def save_with_orientation(path: Path, image: np.ndarray, orientation: int, fmt: str = "PNG") -> None:
    """Save `image` as stored pixels tagged with EXIF Orientation `orientation`, as a phone camera does."""
    exif = PIL.Image.Exif()
    exif[ORIENTATION] = orientation
    path.parent.mkdir(parents=True, exist_ok=True)
    PIL.Image.fromarray(image).save(path, format=fmt, exif=exif.tobytes())


@pytest.mark.parametrize("orientation", range(1, 9))
def test_images_are_decoded_upright_as_viewers_show_them(tmp_path, orientation):
    path = tmp_path / "shot.png"
    save_with_orientation(path, photo(), orientation)
    with PIL.Image.open(path) as img:
        upright = np.asarray(PIL.ImageOps.exif_transpose(img))
    with open(path, "rb") as file:
        np.testing.assert_array_equal(decode_image(file, str(path)), upright)
    with open(path, "rb") as file:
        assert read_header(file, str(path))[:2] == upright.shape[:2]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_tiffs_are_turned_upright_once(tmp_path, orientation):
    """Newer Pillows turn a tagged TIFF upright themselves (its size at open, its pixels at load); turning it again
    showed it upside down, or sideways with its sides swapped."""
    path = tmp_path / "scan.tif"
    PIL.Image.fromarray(photo()).save(path, tiffinfo={ORIENTATION: orientation})
    turn = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE", 6: "ROTATE_270",
            7: "TRANSVERSE", 8: "ROTATE_90"}.get(orientation)  # what a viewer does to the stored pixels
    stored = PIL.Image.fromarray(photo())
    upright = np.asarray(stored.transpose(getattr(PIL.Image.Transpose, turn)) if turn else stored)
    with open(path, "rb") as file:
        np.testing.assert_array_equal(decode_image(file, str(path)), upright)
    with open(path, "rb") as file:
        assert read_header(file, str(path))[:2] == upright.shape[:2]


def test_the_header_gives_the_upright_size_without_decoding(tmp_path):
    buffer = io.BytesIO()
    exif = PIL.Image.Exif()
    exif[ORIENTATION] = 6  # a portrait shot, stored landscape
    PIL.Image.fromarray(photo(32, 64)).save(buffer, format="JPEG", exif=exif.tobytes())
    cut = io.BytesIO(buffer.getvalue()[: len(buffer.getvalue()) // 2])  # pixel data cut short: only a decode fails
    assert read_header(cut, "shot.jpg") == (64, 32, 3)


def test_a_phone_portrait_opens_and_converts_upright(tmp_path):
    save_with_orientation(tmp_path / "phone" / "IMG_0002.JPG", photo(32, 64), 6, fmt="JPEG")
    data = open_dataset(tmp_path / "phone")
    summary = convert_dataset(tmp_path / "phone", tmp_path / "out.zip")
    assert data.image_shape == (3, 64, 32) and (summary.width, summary.height) == (32, 64)  # 1:2, as shown
    np.testing.assert_array_equal(open_dataset(tmp_path / "out.zip")[0][0], data[0][0])


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])  # Pillow's JPEG reader ignores such EXIF itself
def test_exif_that_cannot_be_parsed_counts_as_upright(tmp_path, fmt):
    path = tmp_path / "odd" / f"shot.{fmt.lower()}"
    path.parent.mkdir()
    PIL.Image.fromarray(photo(8, 16)).save(path, format=fmt, exif=b"Exif\x00\x00not a TIFF header")
    assert open_dataset(path.parent)[0][0].shape == (3, 8, 16)  # as stored


@pytest.mark.parametrize("name, fmt", [("web.jfif", "JPEG"), ("old.jpe", "JPEG"), ("anim.gif", "GIF")])
def test_jfif_jpe_and_gif_files_are_read(tmp_path, name, fmt):
    (tmp_path / "pics").mkdir()
    PIL.Image.fromarray(photo(8, 8)).save(tmp_path / "pics" / name, format=fmt)
    assert len(open_dataset(tmp_path / "pics")) == 1


def test_an_animated_gif_gives_its_first_frame(tmp_path):
    first, second = (PIL.Image.new("RGB", (8, 8), color) for color in ((255, 0, 0), (0, 0, 255)))
    (tmp_path / "pics").mkdir()
    first.save(tmp_path / "pics" / "anim.gif", save_all=True, append_images=[second])
    np.testing.assert_array_equal(open_dataset(tmp_path / "pics")[0][0][:, 0, 0], [255, 0, 0])


def test_photos_in_formats_not_read_are_counted_in_a_note(tmp_path):
    folder = tmp_path / "phone"
    folder.mkdir()
    PIL.Image.fromarray(photo(8, 8)).save(folder / "IMG_0001.JPG")
    for name in ("IMG_0002.HEIC", "IMG_0003.heic", "IMG_0004.dng", "._IMG_0005.heic"):  # the last is macOS metadata
        (folder / name).write_bytes(b"not read")
    with pytest.warns(UserWarning, match=r"phone: left out 1 \.dng and 2 \.heic file\(s\), which are not read here; "
                                         r"convert them to JPEG or PNG$"):
        assert len(open_dataset(folder)) == 1


def test_a_folder_of_photos_in_formats_not_read_says_so_not_check_the_path(tmp_path):
    folder = tmp_path / "iphone"
    folder.mkdir()
    (folder / "IMG_0001.HEIC").write_bytes(b"not read")
    with pytest.raises(DatasetError, match=r"iphone: its 1 \.heic file\(s\) are not read here, and it holds no other "
                                           r"images; convert them to JPEG or PNG$"):
        open_dataset(folder)


def test_the_cli_tool_prints_formats_not_read_as_a_note(tmp_path):
    folder = tmp_path / "phone"
    folder.mkdir()
    PIL.Image.fromarray(photo(8, 8)).save(folder / "IMG_0001.JPG")
    (folder / "IMG_0002.avif").write_bytes(b"not read")
    result = CliRunner().invoke(main, ["dataset", "--source", str(folder), "--dest", str(tmp_path / "out.zip")])
    assert result.exit_code == 0, result.output
    assert "note: " in result.output and "left out 1 .avif file(s), which are not read here" in result.output


def test_the_skip_bad_advice_fits_the_caller(tmp_path):
    folder = tmp_path / "pics"
    folder.mkdir()
    (folder / "empty.jpg").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"empty\.jpg: cannot read image .*; remove it or pass skip_bad=True$"):
        open_dataset(folder)
    with advise_skip_bad(SKIP_BAD_BY_CONVERTING), pytest.raises(DatasetError) as caught:
        open_dataset(folder)
    assert str(caught.value).endswith("; remove it or convert the data with `stylegan2 dataset --skip-bad`")
    with pytest.raises(DatasetError, match=r"pass skip_bad=True$"):  # the block's advice ends with it
        open_dataset(folder)


def test_the_cli_tool_advises_its_own_option_only(tmp_path):
    folder = tmp_path / "pics"
    folder.mkdir()
    (folder / "empty.jpg").write_bytes(b"")
    result = CliRunner().invoke(main, ["dataset", "--source", str(folder), "--dest", str(tmp_path / "out.zip")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].endswith("empty.jpg: cannot decode image (not a known image format, "
                                                           "or a damaged header); remove it or pass --skip-bad")


@pytest.mark.parametrize("on_disk, listed", [("NFD", "NFC"), ("NFC", "NFD")])
def test_a_label_entry_in_another_unicode_normalization_names_the_file(tmp_path, on_disk, listed):
    """macOS writes 'café.png' decomposed (NFD), an editor's dataset.json composed (NFC): the same name to the user."""
    folder = tmp_path / "pics"
    folder.mkdir()
    name = "caf\u00e9.png"
    for index, file in enumerate((unicodedata.normalize(on_disk, name), "plain.png")):
        PIL.Image.fromarray(photo(4, 4) + index).save(folder / file)
    labels = [[unicodedata.normalize(listed, name), 1], ["plain.png", 0]]
    (folder / "dataset.json").write_text(json.dumps({"labels": labels}))
    data = open_dataset(folder, use_labels=True)
    assert sorted(int(data.get_label(i).argmax()) for i in range(len(data))) == [0, 1]
    first = data[0][0] if data.get_label(0).argmax() == 1 else data[1][0]  # the café image, by its label
    np.testing.assert_array_equal(first.transpose(1, 2, 0), photo(4, 4))


def png_16_bit(values: np.ndarray) -> bytes:
    """A 16-bit PNG of uint16 [H, W] (grayscale) or [H, W, 3] (RGB) values, which Pillow cannot write for colour."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    height, width = values.shape[:2]
    color_type = 2 if values.ndim == 3 else 0
    rows = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in values)
    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def test_16_bit_grayscale_scans_are_scaled_to_8_bits_not_refused_or_clipped(tmp_path):
    """A scanner's 16-bit grayscale PNG: PIL's own convert would clip every value above 255 to white."""
    values = np.linspace(0, 65535, 8 * 8).round().astype(np.uint16).reshape(8, 8)
    (tmp_path / "scans").mkdir()
    (tmp_path / "scans" / "scan.png").write_bytes(png_16_bit(values))
    expected = np.rint(values / 257).astype(np.uint8)
    np.testing.assert_array_equal(open_dataset(tmp_path / "scans")[0][0][0], expected)
    summary = convert_dataset(tmp_path / "scans", tmp_path / "out.zip", skip_bad=True)
    assert summary.num_images == 1 and summary.num_channels == 1
    np.testing.assert_array_equal(open_dataset(tmp_path / "out.zip")[0][0][0], expected)


@pytest.mark.parametrize("top, scale", [(255, 1), (65535, 257)])
def test_32_bit_integer_images_are_read_by_their_range(tmp_path, top, scale):
    """A 32-bit integer TIFF has no fixed range: 8-bit values were divided by 257, to black."""
    values = np.linspace(0, top, 8 * 8).round().astype(np.int32).reshape(8, 8)
    (tmp_path / "sci").mkdir()
    PIL.Image.fromarray(values, "I").save(tmp_path / "sci" / "b.tif")
    with PIL.Image.open(tmp_path / "sci" / "b.tif") as img:
        assert img.mode == "I"
    np.testing.assert_array_equal(open_dataset(tmp_path / "sci")[0][0][0], np.rint(values / scale).astype(np.uint8))


def test_a_dark_16_bit_png_opened_as_mode_i_is_scaled_as_16_bit():
    """Pillow 9 opens 16-bit grayscale PNGs as mode "I", the 32-bit mode; a PNG holds no 32-bit integers, so its
    values up to 255 are scaled from 16 bits (nearly black), not taken as 8-bit (257 times brighter)."""
    values = np.arange(64, dtype=np.int32).reshape(8, 8) * 4  # 0..252
    as_pillow_9_opens_it = PIL.Image.fromarray(values, "I")
    as_pillow_9_opens_it.format = "PNG"
    np.testing.assert_array_equal(to_array(as_pillow_9_opens_it, "a.png", "L"), np.rint(values / 257).astype(np.uint8))
    np.testing.assert_array_equal(to_array(PIL.Image.fromarray(values, "I"), "a.tif", "L"), values)  # a 32-bit TIFF's


def test_16_bit_grayscale_and_colour_pngs_convert_together(tmp_path):
    """16-bit colour PNGs were always read (PIL gives 8-bit RGB); their grayscale siblings join them as RGB."""
    (tmp_path / "mixed").mkdir()
    gray = np.full((8, 8), 0x8080, np.uint16)
    (tmp_path / "mixed" / "a_gray.png").write_bytes(png_16_bit(gray))
    (tmp_path / "mixed" / "b_colour.png").write_bytes(png_16_bit(np.full((8, 8, 3), 0xFFFF, np.uint16)))
    summary = convert_dataset(tmp_path / "mixed", tmp_path / "out.zip")
    assert summary.num_channels == 3
    data = open_dataset(tmp_path / "out.zip")
    assert {int(data[i][0].max()) for i in range(2)} == {128, 255}


def palette_with_transparency(path: Path) -> None:
    """A palette image whose entry 0 is marked transparent (a web graphic's background), as PNG or GIF."""
    image = PIL.Image.fromarray(np.array([[0, 1], [1, 0]] * 4, np.uint8).repeat(4, axis=1)[:8, :8], "P")
    image.putpalette([0, 0, 0, 200, 50, 50] + [0] * 762)
    image.save(path, transparency=0)


@pytest.mark.parametrize("name", ["logo.png", "logo.gif"])
def test_a_palette_image_with_a_transparent_entry_is_refused_as_alpha_is(tmp_path, name):
    """Its transparent pixels have an arbitrary colour, as an RGBA image's have; both go through the tool."""
    (tmp_path / "web").mkdir()
    palette_with_transparency(tmp_path / "web" / name)
    with PIL.Image.open(tmp_path / "web" / name) as img:
        assert img.mode == "P" and "transparency" in img.info
    with pytest.raises(DatasetError, match=rf"{name}: image has transparency \(a palette entry marked transparent\); "
                                           r"flatten it, or convert the dataset with `stylegan2 dataset`"):
        open_dataset(tmp_path / "web")
    summary = convert_dataset(tmp_path / "web", tmp_path / "out.zip")
    assert summary.num_channels == 3
    assert open_dataset(tmp_path / "out.zip")[0][0][:, 0, 0].tolist() == [0, 0, 0]  # the entry's colour, alpha dropped


def test_a_grayscale_png_with_a_transparent_colour_is_refused_as_alpha_is(tmp_path):
    (tmp_path / "web").mkdir()
    PIL.Image.fromarray(photo(8, 8)[:, :, 0]).save(tmp_path / "web" / "key.png", transparency=0)
    with pytest.raises(DatasetError, match=r"key\.png: image has transparency \(a colour marked transparent\)"):
        open_dataset(tmp_path / "web")
    assert convert_dataset(tmp_path / "web", tmp_path / "out.zip").num_channels == 1


def test_a_palette_png_with_partial_transparency_converts_without_pils_warning(tmp_path):
    (tmp_path / "web").mkdir()
    image = PIL.Image.fromarray(np.zeros((8, 8), np.uint8), "P")
    image.putpalette([10, 20, 30] * 256)
    image.save(tmp_path / "web" / "soft.png", transparency=b"\x00\x80")  # alpha per entry, as bytes
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert convert_dataset(tmp_path / "web", tmp_path / "out.zip").num_channels == 3
    assert [str(w.message).split(":")[0] for w in caught] == ["dropped the transparency of 1 image(s), keeping the "
                                                               "colour stored under it"]  # ours, not PIL's
    assert open_dataset(tmp_path / "out.zip")[0][0][:, 0, 0].tolist() == [10, 20, 30]
