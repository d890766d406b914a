"""`has_alpha`: an image counts as transparent only when some pixel is, so opaque RGBA files get no "alpha dropped" note."""

import io
import warnings

import numpy as np
import PIL.Image
import pytest

from stylegan2.data import convert_dataset, open_dataset
from stylegan2.data.images import decode_flattened, has_alpha


def reopened(image: PIL.Image.Image, fmt: str = "PNG", **save) -> PIL.Image.Image:
    """`image` as read back from a file of format `fmt`, as the tools read it (transparency in `info`)."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    buffer.seek(0)
    return PIL.Image.open(buffer)


def palette(indices: list[int]) -> PIL.Image.Image:
    """A 2x2 palette image using the entries `indices` (row by row)."""
    image = PIL.Image.fromarray(np.array(indices, np.uint8).reshape(2, 2), "P")
    image.putpalette([10, 20, 30, 200, 50, 50, 0, 255, 0] + [0] * 759)
    return image


@pytest.mark.parametrize("mode", ["RGBA", "LA", "PA"])
def test_an_alpha_channel_counts_only_when_some_pixel_is_below_opaque(mode):
    opaque = PIL.Image.new(mode, (4, 4), (0, 255) if mode != "RGBA" else (9, 9, 9, 255))
    assert not has_alpha(opaque)
    one_pixel = opaque.copy()
    one_pixel.putpixel((3, 3), (0, 254) if mode != "RGBA" else (9, 9, 9, 254))
    assert has_alpha(one_pixel)


def test_a_palette_entry_marked_transparent_counts_only_when_a_pixel_uses_it():
    assert has_alpha(reopened(palette([0, 1, 1, 1]), transparency=0))
    assert not has_alpha(reopened(palette([1, 1, 1, 1]), transparency=0))  # entry 0 marked, never used
    assert has_alpha(reopened(palette([1, 1, 1, 1]), "GIF", transparency=1))
    # a PNG's alpha per entry: entry 0 opaque, entry 1 half transparent
    assert has_alpha(reopened(palette([0, 1, 0, 0]), transparency=b"\xff\x80"))
    assert not has_alpha(reopened(palette([0, 2, 0, 2]), transparency=b"\xff\x80"))


def test_a_colour_marked_transparent_counts_only_when_a_pixel_has_it():
    gray = np.full((2, 2), 7, np.uint8)
    assert not has_alpha(reopened(PIL.Image.fromarray(gray), transparency=0))
    gray[0, 0] = 0
    assert has_alpha(reopened(PIL.Image.fromarray(gray), transparency=0))
    rgb = np.full((2, 2, 3), 7, np.uint8)
    rgb[0, 0] = (0, 0, 7)  # two channels of the key only
    assert not has_alpha(reopened(PIL.Image.fromarray(rgb), transparency=(0, 0, 0)))
    rgb[1, 1] = 0
    assert has_alpha(reopened(PIL.Image.fromarray(rgb), transparency=(0, 0, 0)))


def test_an_opaque_rgba_file_decodes_without_a_dropped_transparency():
    """A screenshot saved as RGBA with every pixel opaque: flattening it loses nothing, so nothing is noted."""
    pixels = np.random.default_rng(0).integers(0, 256, (8, 8, 4), dtype=np.uint8)
    pixels[..., 3] = 255
    buffer = io.BytesIO()
    PIL.Image.fromarray(pixels, "RGBA").save(buffer, format="PNG")
    array, transparent = decode_flattened(io.BytesIO(buffer.getvalue()), "shot.png")
    assert not transparent
    np.testing.assert_array_equal(array, pixels[..., :3])
    pixels[0, 0, 3] = 0
    buffer = io.BytesIO()
    PIL.Image.fromarray(pixels, "RGBA").save(buffer, format="PNG")
    assert decode_flattened(io.BytesIO(buffer.getvalue()), "cut.png")[1]


def test_the_dataset_tool_notes_only_images_with_a_transparent_pixel(tmp_path):
    rng = np.random.default_rng(1)
    (tmp_path / "src").mkdir()
    for name, lowest in (("opaque.png", 255), ("cut.png", 0)):
        pixels = rng.integers(0, 256, (8, 8, 4), dtype=np.uint8)
        pixels[..., 3] = 255
        pixels[0, 0, 3] = lowest
        PIL.Image.fromarray(pixels, "RGBA").save(tmp_path / "src" / name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert convert_dataset(tmp_path / "src", tmp_path / "out.zip").num_images == 2
    notes = [str(w.message) for w in caught if "transparency" in str(w.message)]
    assert len(notes) == 1 and notes[0].startswith("dropped the transparency of 1 image(s)")
    assert "cut.png" in notes[0] and "opaque.png" not in notes[0]
    assert open_dataset(tmp_path / "out.zip")[0][0].shape == (3, 8, 8)
