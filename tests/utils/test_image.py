"""The image helpers: quantization as NVIDIA's tools do it, the two layouts, grids and PNG files."""

import numpy as np
import PIL.Image
import pytest
import torch

from stylegan2.utils.image import GridCanvas, image_grid, make_grid, save_image, to_uint8, to_uint8_nhwc


def test_to_uint8_rounds_like_the_official_tools():
    img = torch.tensor([-2.0, -1.0, -0.5, 0.0, 0.5, 0.999, 1.0, 3.0]).view(1, 1, 2, 4)
    expected = (img * 127.5 + 128).clamp(0, 255).to(torch.uint8)  # generate.py: (img * 127.5 + 128).clamp(0, 255)
    assert torch.equal(to_uint8(img), expected)
    assert to_uint8(img).shape == img.shape


def test_to_uint8_nhwc_moves_channels_last():
    img = torch.rand(2, 3, 4, 5) * 2 - 1
    out = to_uint8_nhwc(img)
    assert isinstance(out, np.ndarray) and out.shape == (2, 4, 5, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, to_uint8(img).permute(0, 2, 3, 1).numpy())


def test_image_grid_fills_rows_first_and_leaves_missing_cells_black():
    images = np.stack([np.full((2, 2, 1), i + 1, dtype=np.uint8) for i in range(3)])
    grid = image_grid(images, cols=2, rows=2)
    assert grid.shape == (4, 4, 1)
    assert grid[0, 0, 0] == 1 and grid[0, 2, 0] == 2 and grid[2, 0, 0] == 3 and grid[2, 2, 0] == 0


def test_image_grid_refuses_more_images_than_cells():
    with pytest.raises(ValueError, match="enlarge the grid"):
        image_grid(np.zeros((5, 2, 2, 3), dtype=np.uint8), cols=2, rows=2)


def test_a_grid_canvas_filled_one_by_one_is_the_image_grid():
    images = np.random.default_rng(0).integers(0, 256, (5, 2, 3, 4), dtype=np.uint8)
    canvas = GridCanvas(3, 2, height=2, width=3, channels=4)
    for image in images:
        canvas.add(image)
    np.testing.assert_array_equal(canvas.array, image_grid(images, cols=3, rows=2))


def test_a_full_grid_canvas_refuses_another_image():
    canvas = GridCanvas(1, 1, height=2, width=2, channels=3)
    canvas.add(np.zeros((2, 2, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="full; enlarge the grid"):
        canvas.add(np.zeros((2, 2, 3), dtype=np.uint8))


def test_make_grid_takes_channels_first_and_keeps_the_first_cells():
    images = np.random.default_rng(0).integers(0, 256, (5, 3, 2, 2), dtype=np.uint8)
    np.testing.assert_array_equal(make_grid(images, 2, 2), image_grid(images[:4].transpose(0, 2, 3, 1), 2, 2))


@pytest.mark.parametrize("channels, mode", [(1, "L"), (3, "RGB"), (4, "RGBA")])
def test_save_image_writes_a_png_that_reads_back(tmp_path, channels, mode):
    image = np.random.default_rng(channels).integers(0, 256, (4, 6, channels), dtype=np.uint8)
    path = save_image(image, tmp_path / "sub" / "img.png")
    assert path == tmp_path / "sub" / "img.png"
    with PIL.Image.open(path) as png:
        assert png.format == "PNG" and png.mode == mode
        np.testing.assert_array_equal(np.array(png).reshape(image.shape), image)
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["img.png"]  # no temporary left behind


def test_save_image_refuses_two_channels(tmp_path):
    with pytest.raises(ValueError, match="2 channels"):
        save_image(np.zeros((2, 2, 2), dtype=np.uint8), tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
