"""Non-square data: 2:1 and 1:2 datasets open as they are; the dataset tool's --width/--height, crop and letterbox."""

import numpy as np
import PIL.Image
import pytest
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.data import DatasetError, convert_dataset, open_dataset
from stylegan2.data.tool import check_size


def rect_images(count: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """uint8 [N, H, W, 3] noise images."""
    return np.random.default_rng(seed).integers(0, 256, size=(count, height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize("height, width, aspect", [(8, 16, "2:1"), (16, 8, "1:2")])
def test_two_to_one_datasets_open_as_they_are(make_folder, height, width, aspect):
    images = rect_images(4, height, width)
    dataset = open_dataset(make_folder(images))
    assert (dataset.aspect, dataset.resolution) == (aspect, 8)  # resolution: the shorter side, as the network's
    assert dataset.image_shape == (3, height, width)
    np.testing.assert_array_equal(dataset[0][0], images[0].transpose(2, 0, 1))


def test_the_shorter_side_may_be_asked_for(make_folder):
    assert open_dataset(make_folder(rect_images(2, 8, 16)), resolution=8).image_shape == (3, 8, 16)


def test_another_resolution_of_a_non_square_dataset_is_refused(make_folder):
    with pytest.raises(DatasetError, match=r"images are 16x8, so their resolution \(shorter side\) is 8, not 16; .*--width W --height H"):
        open_dataset(make_folder(rect_images(2, 8, 16)), resolution=16)


@pytest.mark.parametrize("height, width", [(4, 16), (12, 24), (8, 12)])
def test_other_shapes_point_at_the_dataset_tool(make_folder, height, width):
    message = rf"images are {width}x{height}, not square, 2:1 or 1:2 .*stylegan2 dataset.*--width W --height H"
    with pytest.raises(DatasetError, match=message):
        open_dataset(make_folder(rect_images(2, height, width)))


def test_width_and_height_pad_smaller_images_centred(tmp_path, make_folder):
    image = rect_images(1, 6, 10)
    with pytest.warns(UserWarning, match=r"padded 1 image\(s\) smaller than 16x8 .* pass --width 16 --height 8 --transform"):
        summary = convert_dataset(make_folder(image), tmp_path / "out.zip", width=16, height=8)
    assert (summary.width, summary.height, summary.resolution) == (16, 8, 8)
    assert "at 16x8" in str(summary)
    out = open_dataset(tmp_path / "out.zip")[0][0].transpose(1, 2, 0)  # [8, 16, 3]
    np.testing.assert_array_equal(out[1:7, 3:13], image[0])
    assert out[0].max() == 0 and out[:, :3].max() == 0 and out[:, 13:].max() == 0


def test_center_crop_takes_the_largest_centred_window_of_the_aspect(tmp_path, make_folder):
    image = np.zeros((16, 16, 3), np.uint8)
    image[4:12] = 200  # the middle 16x8 band: what a 2:1 crop keeps
    convert_dataset(make_folder(image[None]), tmp_path / "out.zip", width=8, height=4, transform="center-crop",
                    resize_filter="box")
    out = open_dataset(tmp_path / "out.zip")[0][0]
    assert out.shape == (3, 4, 8) and (out == 200).all()


def test_letterbox_keeps_the_whole_image_and_pads_with_black(tmp_path, make_folder):
    image = np.full((16, 16, 3), 200, np.uint8)
    convert_dataset(make_folder(image[None]), tmp_path / "out.zip", width=8, height=4, transform="letterbox",
                    resize_filter="box")
    out = open_dataset(tmp_path / "out.zip")[0][0]  # [3, 4, 8]: a 4x4 copy between black 2-pixel margins
    assert (out[:, :, 2:6] == 200).all() and out[:, :, :2].max() == 0 and out[:, :, 6:].max() == 0


def test_letterbox_of_a_wide_image_into_a_tall_one(tmp_path, make_folder):
    image = np.full((4, 8, 3), 90, np.uint8)
    convert_dataset(make_folder(image[None]), tmp_path / "out.zip", width=4, height=8, transform="letterbox",
                    resize_filter="box")
    out = open_dataset(tmp_path / "out.zip")[0][0]  # [3, 8, 4]: a 2x4 copy centred on rows 3-4
    assert (out[:, 3:5] == 90).all() and out[:, :3].max() == 0 and out[:, 5:].max() == 0


def test_letterbox_also_fits_square_outputs(tmp_path, make_folder):
    convert_dataset(make_folder(rect_images(1, 8, 16)), tmp_path / "out.zip", resolution=8, transform="letterbox")
    assert open_dataset(tmp_path / "out.zip").image_shape == (3, 8, 8)


def test_builtin_shapes_are_rendered_then_cropped_to_the_aspect(tmp_path):
    convert_dataset("builtin:shapes?n=3", tmp_path / "out.zip", width=8, height=16, transform="center-crop")
    dataset = open_dataset(tmp_path / "out.zip")
    assert (len(dataset), dataset.image_shape, dataset.aspect) == (3, (3, 16, 8), "1:2")


@pytest.mark.parametrize("kwargs, message", [
    ({"width": 16}, "--width and --height go together"),
    ({"height": 16}, "--width and --height go together"),
    ({"width": 16, "height": 8, "resolution": 8}, "pass --resolution .* or --width and --height, not both"),
    ({"width": 24, "height": 12}, "--width must be a power of two >= 4, got 24"),
    ({"width": 8, "height": 2}, "--height must be a power of two >= 4, got 2"),
    ({"width": 32, "height": 8}, r"--width 32 --height 8: the aspect must be 1:1, 2:1, 1:2 \(width:height\)"),
    ({"width": 24, "height": 12, "transform": "center-crop-wide"}, "--width must be a power of two from 4 to 1024"),
    ({"width": 16, "height": 24, "transform": "center-crop-wide"}, r"--height 24: with --transform center-crop-wide it is "
                                                                   r"the height of the band .* must be from 1 to --width 16"),
    ({"transform": "letterbox"}, r"--transform letterbox needs --resolution \(or --width and --height\)"),
    ({"width": 4096, "height": 2048}, r"--width 4096 --height 2048: the networks go up to 1024 px on the shorter side, "
                                      r"so training would refuse these images; pass at most --width 2048 --height 1024"),
    ({"width": 2048, "height": 4096}, r"pass at most --width 1024 --height 2048"),
])
def test_bad_sizes_are_refused_in_one_line(tmp_path, kwargs, message):
    with pytest.raises(DatasetError, match=message) as caught:
        convert_dataset("builtin:shapes?n=2", tmp_path / "out.zip", **kwargs)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "out.zip").exists()


def test_the_largest_network_size_is_accepted():
    check_size(2048, 1024)
    check_size(1024, 1024)


@pytest.mark.parametrize("height, width", [(16, 32), (32, 16)])
def test_by_default_two_to_one_images_keep_their_aspect(tmp_path, make_folder, height, width):
    summary = convert_dataset(make_folder(rect_images(2, height, width)), tmp_path / "out.zip")
    assert (summary.width, summary.height, summary.resolution) == (width, height, 16)
    assert open_dataset(tmp_path / "out.zip").image_shape == open_dataset(tmp_path / "pics").image_shape


def test_by_default_two_to_one_images_round_up_keeping_their_aspect(tmp_path, make_folder):
    summary = convert_dataset(make_folder(rect_images(1, 12, 24)), tmp_path / "out.zip")
    assert (summary.width, summary.height) == (32, 16)


def test_by_default_other_shapes_become_squares_of_their_longer_side(tmp_path, make_folder):
    summary = convert_dataset(make_folder(rect_images(1, 16, 24)), tmp_path / "out.zip")
    assert (summary.width, summary.height) == (32, 32)


def test_a_default_size_above_the_networks_largest_is_refused(tmp_path, make_folder):
    folder = make_folder(rect_images(1, 1040, 1040))
    with pytest.raises(DatasetError, match=r"b/img0\.png is 1040x1040, so the default output is 2048x2048, but the networks "
                                           r"go up to 1024 px .*; pass --resolution 1024"):
        convert_dataset(folder, tmp_path / "out.zip")
    assert list(tmp_path.glob("*.zip")) == [] and list(tmp_path.glob(".out.zip*")) == []


def test_larger_images_without_a_transform_are_refused(tmp_path, make_folder):
    with pytest.raises(DatasetError, match=r"is 32x8, larger than --width 16 --height 8; pass --transform center-crop "
                                           r"\(or letterbox\) to fit it$"):
        convert_dataset(make_folder(rect_images(1, 8, 32)), tmp_path / "out.zip", width=16, height=8)


def test_cli_width_height_letterbox(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    PIL.Image.fromarray(rect_images(1, 20, 30)[0]).save(source / "x.png")
    result = CliRunner().invoke(main, ["dataset", "--source", str(source), "--dest", str(tmp_path / "w.zip"),
                                       "--width", "32", "--height", "16", "--transform", "letterbox"])
    assert result.exit_code == 0, result.output
    assert "Wrote 1 RGB images at 32x16 without labels" in result.output
    assert open_dataset(tmp_path / "w.zip").image_shape == (3, 16, 32)


def test_cli_bad_size_is_one_line(tmp_path):
    result = CliRunner().invoke(main, ["dataset", "--source", "builtin:shapes?n=2", "--dest", str(tmp_path / "w.zip"),
                                       "--width", "48", "--height", "16"])
    assert result.exit_code == 2  # the option itself: a usage error, after click's usage line
    assert result.output.strip().splitlines()[-1] == "Error: --width must be a power of two >= 4, got 48"
