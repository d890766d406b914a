"""open_dataset refuses bad input at open time with a DatasetError naming the file and the fix."""

import json
import warnings
from pathlib import Path

import numpy as np
import PIL.Image
import pytest

from stylegan2.data import DatasetError, open_dataset
from stylegan2.data.sources import DATASET_KINDS


def truncate(path: Path) -> None:
    """Cut a PNG short so its header still reads but decoding fails."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_dataset_error_is_a_value_error():
    assert issubclass(DatasetError, ValueError)


def test_missing_path_is_named(tmp_path):
    with pytest.raises(DatasetError, match="nowhere.zip: no such file"):
        open_dataset(tmp_path / "nowhere.zip")


def test_missing_npz_with_key_is_named(tmp_path):
    with pytest.raises(DatasetError, match="gone.npz: no such file"):
        open_dataset(f"{tmp_path / 'gone.npz'}:x")


def test_folder_without_images_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hi")
    with pytest.raises(DatasetError, match="empty: no images found"):
        open_dataset(tmp_path / "empty")


def test_unknown_file_type_is_refused(tmp_path):
    (tmp_path / "data.csv").write_text("1,2")
    with pytest.raises(DatasetError, match="data.csv: not a dataset"):
        open_dataset(tmp_path / "data.csv")


def test_an_unknown_file_type_is_answered_with_every_kind_of_dataset(tmp_path):
    """The refusal lists what `open_source` opens, as the commands' --data helps do, from the one list."""
    (tmp_path / "data.csv").write_text("1,2")
    with pytest.raises(DatasetError) as refused:
        open_dataset(tmp_path / "data.csv")
    assert [kind for kind in DATASET_KINDS if kind not in str(refused.value)] == []


def test_corrupt_zip_is_refused(tmp_path):
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(DatasetError, match="broken.zip: not a readable zip"):
        open_dataset(tmp_path / "broken.zip")


def test_undecodable_image_is_named_at_open(make_folder, images_rgb):
    folder = make_folder(images_rgb)
    (folder / "b" / "img4.png").write_bytes(b"this is not a png")
    with pytest.raises(DatasetError, match=r"b/img4\.png: cannot read image .*; remove it or pass skip_bad=True$"):
        open_dataset(folder)


def test_undecodable_image_in_zip_is_named(make_folder, make_zip, images_rgb):
    folder = make_folder(images_rgb)
    (folder / "a" / "img1.png").write_bytes(b"junk")
    with pytest.raises(DatasetError, match=r"pics\.zip/a/img1\.png: cannot read image"):
        open_dataset(make_zip(folder))


def test_truncated_image_fails_when_read_naming_the_file_and_the_fix(make_folder, images_rgb):
    folder = make_folder(images_rgb)
    truncate(folder / "a" / "img2.png")
    data = open_dataset(folder)  # only headers are read at open
    with pytest.raises(DatasetError, match=r"a/img2\.png: cannot decode image \(.*\); remove it or pass skip_bad=True$"):
        data[2]


def test_file_that_is_no_image_is_named_not_its_handle(make_folder, images_rgb):
    folder = make_folder(images_rgb)
    (folder / "b" / "img4.png").write_bytes(b"this is not a png")
    with pytest.raises(DatasetError) as caught:
        open_dataset(folder)
    assert "b/img4.png: cannot read image (not a known image format, or a damaged header)" in str(caught.value)
    assert "BufferedReader" not in str(caught.value)


def test_skip_bad_skips_unreadable_images_with_a_warning_and_count(make_folder, images_rgb):
    folder = make_folder(images_rgb, labels=[0, 1, 2, 0, 1, 2])
    truncate(folder / "a" / "img2.png")
    (folder / "b" / "img5.png").write_bytes(b"junk")
    with pytest.warns(UserWarning, match=r"skipped 2 image\(s\): 2 unreadable \(damaged, or not an image\): \S*a/img2\.png, "
                                         r"\S*b/img5\.png$"):
        data = open_dataset(folder, skip_bad=True, use_labels=True)
    assert len(data) == 4
    np.testing.assert_array_equal(data[3][0], images_rgb[4].transpose(2, 0, 1))
    np.testing.assert_array_equal(data[3][1], [0, 1, 0])


def test_no_warning_without_bad_images(make_folder, images_rgb):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        open_dataset(make_folder(images_rgb), skip_bad=True)


def test_mixed_sizes_name_the_odd_image(make_folder, noise):
    folder = make_folder(noise(4, 16, 3))
    PIL.Image.fromarray(noise(1, 32, 3)[0]).save(folder / "b" / "img3.png")
    with pytest.raises(DatasetError, match=r"b/img3\.png is 32x32 but .*a/img0\.png is 16x16.*stylegan2 dataset"):
        open_dataset(folder)


def test_mixed_channels_name_the_odd_image(make_folder, noise):
    folder = make_folder(noise(4, 16, 3))
    PIL.Image.fromarray(noise(1, 16, 1)[0, :, :, 0]).save(folder / "b" / "img2.png")
    with pytest.raises(DatasetError, match=r"b/img2\.png is grayscale but .* is RGB"):
        open_dataset(folder)


def test_mixed_channels_point_at_the_dataset_tool_never_at_making_colour_images_gray(make_folder, noise):
    folder = make_folder(noise(4, 16, 3))
    PIL.Image.fromarray(noise(1, 16, 1)[0, :, :, 0]).save(folder / "a" / "first.png")  # the first file by name is gray
    with pytest.raises(DatasetError) as caught:
        open_dataset(folder)
    message = str(caught.value)
    assert "a/img0.png is RGB but" in message and "a/first.png is grayscale" in message
    assert "stylegan2 dataset --source" in message and "writes grayscale images as RGB" in message
    assert "to grayscale" not in message


def test_alpha_channel_is_refused_with_the_fix(make_folder, noise):
    folder = make_folder(noise(2, 16, 3))
    PIL.Image.fromarray(noise(1, 16, 4)[0]).save(folder / "a" / "img0.png")
    with pytest.raises(DatasetError, match=r"a/img0\.png: image has an alpha channel .*stylegan2 dataset"):
        open_dataset(folder)


def test_floating_point_images_are_refused(tmp_path):
    (tmp_path / "deep").mkdir()
    PIL.Image.fromarray(np.zeros((8, 8), np.float32)).save(tmp_path / "deep" / "x.tiff")
    with pytest.raises(DatasetError, match=r"x\.tiff: unsupported image mode F \(e\.g\. floating-point\)"):
        open_dataset(tmp_path / "deep")


def test_32_bit_integer_images_outside_the_16_bit_range_are_refused(tmp_path):
    (tmp_path / "deep").mkdir()
    PIL.Image.fromarray(np.full((8, 8), 70000, np.int32)).save(tmp_path / "deep" / "x.tiff")  # mode I
    with pytest.raises(DatasetError, match=r"x\.tiff: 32-bit integer image with values outside 0\.\.65535"):
        open_dataset(tmp_path / "deep")[0]


def test_images_neither_square_nor_two_to_one_are_refused(make_folder, noise):
    folder = make_folder(noise(2, 16, 3)[:, :, :4])
    with pytest.raises(DatasetError, match="images are 4x16, not square, 2:1 or 1:2.*center-crop"):
        open_dataset(folder)


def test_non_power_of_two_suggests_padding(make_folder, noise):
    with pytest.raises(DatasetError, match=r"images are 12x12, not a power of two; pass --resolution 16 \(resolution=16\)"):
        open_dataset(make_folder(noise(2, 12, 3)))


def test_images_larger_than_resolution_point_to_the_tool(make_folder, images_rgb):
    with pytest.raises(DatasetError, match="16x16, larger than resolution 8.*stylegan2 dataset"):
        open_dataset(make_folder(images_rgb), resolution=8)


@pytest.mark.parametrize("resolution", [0, 2, 24, 33, 2048, -8])  # -8 reached NumPy when the shapes were rendered
def test_resolution_must_be_a_power_of_two_the_networks_make(resolution):
    """The dataset tool's rule and message: training refuses larger images anyway."""
    with pytest.raises(DatasetError, match=rf"^--resolution must be a power of two from 4 to 1024 \(the networks' largest\), "
                                           rf"got {resolution}$"):
        open_dataset("builtin:shapes?n=2", resolution=resolution)


def test_max_size_must_be_positive(images_rgb, make_folder):
    with pytest.raises(DatasetError, match="max_size must be >= 1"):
        open_dataset(make_folder(images_rgb), max_size=0)


def test_use_labels_without_dataset_json_is_refused(make_folder, images_rgb):
    with pytest.raises(DatasetError, match=r"pics has no labels \(no dataset.json"):
        open_dataset(make_folder(images_rgb), use_labels=True)


def test_use_labels_with_null_labels_is_refused(make_folder, images_rgb):
    folder = make_folder(images_rgb)
    (folder / "dataset.json").write_text(json.dumps({"labels": None}))
    with pytest.raises(DatasetError, match="has no labels"):
        open_dataset(folder, use_labels=True)


def rewrite_labels(folder, change) -> None:
    """Replace the entries of the folder's dataset.json by change(entries)."""
    meta = json.loads((folder / "dataset.json").read_text())
    meta["labels"] = change(meta["labels"])
    (folder / "dataset.json").write_text(json.dumps(meta))


def test_label_for_a_missing_file_is_named(make_folder, images_rgb):
    folder = make_folder(images_rgb, labels=[0] * 6)
    rewrite_labels(folder, lambda entries: entries + [["c/ghost.png", 1]])
    with pytest.raises(DatasetError, match=r"dataset.json lists 'c/ghost.png', which is not an image"):
        open_dataset(folder, use_labels=True)


def test_image_missing_from_labels_is_named(make_folder, images_rgb):
    folder = make_folder(images_rgb, labels=[0] * 6)
    rewrite_labels(folder, lambda entries: [entry for entry in entries if entry[0] != "b/img3.png"])
    with pytest.raises(DatasetError, match=r"b/img3\.png has no label in .*dataset.json .*or pass skip_bad=True to leave such images out"):
        open_dataset(folder, use_labels=True)


def test_skip_bad_leaves_out_images_without_a_label(make_folder, images_rgb):
    folder = make_folder(images_rgb, labels=[0, 1, 2, 0, 1, 2])
    rewrite_labels(folder, lambda entries: [entry for entry in entries if entry[0] != "b/img3.png"])
    with pytest.warns(UserWarning, match=r"skipped 1 image\(s\) without a label in dataset.json: b/img3\.png"):
        data = open_dataset(folder, use_labels=True, skip_bad=True)
    assert len(data) == 5 and data.label_dim == 3
    np.testing.assert_array_equal(data[3][0], images_rgb[4].transpose(2, 0, 1))
    np.testing.assert_array_equal(data[3][1], [0, 1, 0])


def test_skip_bad_ignores_label_entries_for_missing_files(make_folder, images_rgb):
    folder = make_folder(images_rgb, labels=[0] * 6)
    rewrite_labels(folder, lambda entries: entries + [["c/ghost.png", 7]])
    with pytest.warns(UserWarning, match=r"ignored 1 entry for files that are not images here: c/ghost\.png"):
        data = open_dataset(folder, use_labels=True, skip_bad=True)
    assert len(data) == 6 and data.label_dim == 1


def test_skip_bad_refuses_labels_that_name_no_image(make_folder, images_rgb):
    folder = make_folder(images_rgb, labels=[0] * 6)
    meta = json.loads((folder / "dataset.json").read_text())
    meta["labels"] = [["elsewhere/" + name, label] for name, label in meta["labels"]]
    (folder / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match=r"none of the 6 images in .*pics has an entry .*leaving out unlabelled images would leave none"):
        open_dataset(folder, use_labels=True, skip_bad=True)


def test_unparsable_dataset_json_is_named(make_folder, images_rgb):
    folder = make_folder(images_rgb)
    (folder / "dataset.json").write_text("{labels: oops")
    with pytest.raises(DatasetError, match="dataset.json: cannot parse"):
        open_dataset(folder, use_labels=True)


def test_malformed_label_entries_are_refused(make_folder, images_rgb):
    folder = make_folder(images_rgb)
    (folder / "dataset.json").write_text(json.dumps({"labels": [["a/img0.png"]]}))
    with pytest.raises(DatasetError, match=r"dataset.json: expected \{\"labels\""):
        open_dataset(folder, use_labels=True)


def test_negative_class_labels_are_refused(make_folder, images_rgb):
    folder = make_folder(images_rgb, labels=[0, 1, -1, 0, 1, 0])
    with pytest.raises(DatasetError, match=r"dataset\.json: a/img2\.png: -1 is not a class index; classes are numbered from 0"):
        open_dataset(folder, use_labels=True)


def test_npz_without_labels_is_refused_when_labels_are_used(tmp_path, noise):
    np.savez(tmp_path / "d.npz", x_train=noise(3, 8, 1))
    with pytest.raises(DatasetError, match=r"d.npz has no labels for 'x_train' \(looked for y_train, labels\)"):
        open_dataset(tmp_path / "d.npz", use_labels=True)


def test_npz_label_count_mismatch_is_refused(tmp_path, noise):
    np.savez(tmp_path / "d.npz", x_train=noise(3, 8, 1), y_train=np.arange(2))
    with pytest.raises(DatasetError, match="d.npz:y_train has 2 labels for 3 images"):
        open_dataset(tmp_path / "d.npz", use_labels=True)


def test_npz_without_an_image_array_lists_its_keys(tmp_path):
    np.savez(tmp_path / "d.npz", pixels=np.zeros((2, 8, 8), np.uint8))
    message = r"d.npz: no image array named x_train / images / x; it has pixels: pick one with .*d.npz:KEY"
    with pytest.raises(DatasetError, match=message):
        open_dataset(tmp_path / "d.npz")


def test_npz_unknown_key_is_named(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(DatasetError, match="no array 'nope'"):
        open_dataset(f"{tmp_path / 'd.npz'}:nope")


def test_npz_float_images_are_refused(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((2, 8, 8), np.float32))
    with pytest.raises(DatasetError, match="images are float32; store them as uint8"):
        open_dataset(tmp_path / "d.npz")


def test_npz_with_four_channels_is_refused(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((2, 8, 8, 4), np.uint8))
    with pytest.raises(DatasetError, match=r"images have shape \[2, 8, 8, 4\]"):
        open_dataset(tmp_path / "d.npz")


def test_empty_npz_array_is_refused(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((0, 8, 8), np.uint8))
    with pytest.raises(DatasetError, match="image array is empty"):
        open_dataset(tmp_path / "d.npz")


def test_non_npz_file_with_npz_name_is_refused(tmp_path):
    (tmp_path / "d.npz").write_text("nope")
    with pytest.raises(DatasetError, match=r"d.npz: cannot read as .npz"):
        open_dataset(tmp_path / "d.npz")


def test_unknown_builtin_lists_the_available_ones():
    with pytest.raises(DatasetError, match="unknown builtin dataset 'faces'; available: shapes"):
        open_dataset("builtin:faces")


@pytest.mark.parametrize("query, message", [("?size=3", "unknown parameter 'size'"), ("?n=x", "must be integers"),
                                            ("?n=0", "n must be >= 1")])
def test_bad_builtin_parameters_are_refused(query, message):
    with pytest.raises(DatasetError, match=message):
        open_dataset(f"builtin:shapes{query}")



def test_a_broken_link_is_named_as_one_with_its_target(make_folder, images_rgb):
    """`ls` lists it, so 'No such file or directory' would puzzle (photosfix35 L5); skip_bad gives it its own reason."""
    folder = make_folder(images_rgb)
    (folder / "a" / "img1.png").unlink()
    (folder / "a" / "img1.png").symlink_to(folder / "gone.png")  # listed, but opening it fails
    with pytest.raises(DatasetError, match=r"a/img1\.png: broken symbolic link to \S*gone\.png, which does not exist; fix "
                                           r"or remove the link, or pass skip_bad=True$"):
        open_dataset(folder)
    with pytest.warns(UserWarning, match=r"skipped 1 image\(s\): 1 broken symbolic link\(s\): \S*a/img1\.png$"):
        assert len(open_dataset(folder, skip_bad=True)) == 5


def test_a_folder_of_tfrecords_is_named_as_such(tmp_path):
    (tmp_path / "ffhq").mkdir()
    (tmp_path / "ffhq" / "ffhq-r05.tfrecords").write_bytes(b"\0" * 16)
    with pytest.raises(DatasetError, match=r"holds TensorFlow .tfrecords, which are not read here; convert the source images"):
        open_dataset(tmp_path / "ffhq")
