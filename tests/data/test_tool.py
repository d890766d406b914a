"""convert_dataset and `stylegan2 dataset`: NVIDIA's zip layout, transforms, labels, safety."""

import errno
import json
import warnings
import zipfile

import numpy as np
import PIL.Image
import pytest
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.data import DatasetError, convert_dataset, open_dataset, render_shape


def test_folder_round_trips_through_the_tool(tmp_path, make_folder, images_rgb):
    folder = make_folder(images_rgb, labels=[2, 0, 1, 1, 0, 2])
    summary = convert_dataset(folder, tmp_path / "out.zip")
    assert (summary.num_images, summary.resolution, summary.num_channels, summary.has_labels) == (6, 16, 3, True)
    original, converted = open_dataset(folder, use_labels=True), open_dataset(tmp_path / "out.zip", use_labels=True)
    for i in range(6):
        np.testing.assert_array_equal(converted[i][0], original[i][0])
        np.testing.assert_array_equal(converted[i][1], original[i][1])


def test_output_uses_nvidias_layout_uncompressed(tmp_path, make_folder, images_rgb):
    convert_dataset(make_folder(images_rgb, labels=[0, 1, 0, 1, 0, 1]), tmp_path / "out.zip")
    with zipfile.ZipFile(tmp_path / "out.zip") as z:
        names = z.namelist()
        assert names == [f"00000/img{i:08d}.png" for i in range(6)] + ["dataset.json"]
        assert all(info.compress_type == zipfile.ZIP_STORED for info in z.infolist())
        assert json.loads(z.read("dataset.json")) == {"labels": [[f"00000/img{i:08d}.png", i % 2] for i in range(6)]}


def test_folder_index_changes_every_thousand_images(tmp_path):
    convert_dataset("builtin:shapes?n=1001", tmp_path / "s.zip", resolution=4)
    with zipfile.ZipFile(tmp_path / "s.zip") as z:
        assert "00001/img00001000.png" in z.namelist() and "00000/img00000999.png" in z.namelist()


def test_no_labels_are_written_as_null(tmp_path, make_folder, images_rgb):
    convert_dataset(make_folder(images_rgb), tmp_path / "out.zip")
    with zipfile.ZipFile(tmp_path / "out.zip") as z:
        assert json.loads(z.read("dataset.json")) == {"labels": None}


def partly_labelled(make_folder, images, *, extra: bool = False):
    """A folder whose dataset.json lacks b/img5.png's entry, or instead (extra) also lists a missing c/ghost.png."""
    folder = make_folder(images, labels=list(range(len(images))))
    entries = json.loads((folder / "dataset.json").read_text())["labels"]
    entries = entries + [["c/ghost.png", 0]] if extra else entries[:-1]
    (folder / "dataset.json").write_text(json.dumps({"labels": entries}))
    return folder


@pytest.mark.parametrize("extra, message", [
    (False, r"b/img5\.png has no label in .*dataset\.json \(1 image\(s\) unlabelled\); add its entry or remove the image"),
    (True, r"dataset\.json lists 'c/ghost\.png', which is not an image in .*; remove the entry or add the file"),
])
def test_labels_that_do_not_match_the_images_are_refused(tmp_path, make_folder, images_rgb, extra, message):
    folder = partly_labelled(make_folder, images_rgb, extra=extra)
    with pytest.raises(DatasetError, match=message + r", or pass skip_bad=True to"):
        convert_dataset(folder, tmp_path / "out.zip")
    assert list(tmp_path.glob("*.zip")) == [] and list(tmp_path.glob(".out.zip*")) == []


def test_skip_bad_leaves_out_unlabelled_images_and_keeps_the_labels(tmp_path, make_folder, images_rgb):
    folder = partly_labelled(make_folder, images_rgb)
    with pytest.warns(UserWarning, match=r"skipped 1 image\(s\) without a label in dataset\.json: b/img5\.png"):
        summary = convert_dataset(folder, tmp_path / "out.zip", skip_bad=True)
    assert (summary.num_images, summary.num_unlabelled, summary.has_labels) == (5, 1, True)
    assert "skipped 0 unusable and 1 unlabelled" in str(summary)
    data = open_dataset(tmp_path / "out.zip", use_labels=True)
    assert [int(data[i][1].argmax()) for i in range(5)] == [0, 1, 2, 3, 4]


def test_skip_bad_ignores_entries_for_missing_files(tmp_path, make_folder, images_rgb):
    folder = partly_labelled(make_folder, images_rgb, extra=True)
    with pytest.warns(UserWarning, match=r"ignored 1 entry for files that are not images here: c/ghost\.png"):
        summary = convert_dataset(folder, tmp_path / "out.zip", skip_bad=True)
    assert (summary.num_images, summary.has_labels) == (6, True)


def test_cli_refuses_labels_that_do_not_match_the_images(tmp_path, make_folder, images_rgb):
    folder = partly_labelled(make_folder, images_rgb)
    result = CliRunner().invoke(main, ["dataset", "--source", str(folder), "--dest", str(tmp_path / "s.zip")])
    assert result.exit_code == 1 and not (tmp_path / "s.zip").exists()
    error = result.output.strip().splitlines()[-1]
    assert error.startswith("Error: ") and "b/img5.png has no label in" in error and "dataset.json" in error
    assert "--skip-bad" in error and "Traceback" not in result.output


def test_npz_is_padded_to_the_next_power_of_two_with_labels(tmp_path, noise):
    images = noise(5, 6, 1)[..., 0] | 1
    np.savez(tmp_path / "digits.npz", x_train=images, y_train=np.array([3, 1, 4, 1, 5]))
    summary = convert_dataset(tmp_path / "digits.npz", tmp_path / "digits8.zip")
    assert summary.resolution == 8 and summary.num_channels == 1
    data = open_dataset(tmp_path / "digits8.zip", use_labels=True)
    np.testing.assert_array_equal(data[2][0][0, 1:7, 1:7], images[2])
    assert data[2][0][0, 0].max() == 0 and data[4][1].argmax() == 5


def test_mnist_converts_to_32_pixels(tmp_path, mnist_path):
    convert_dataset(mnist_path, tmp_path / "mnist.zip", resolution=32, max_images=20)
    data, raw = open_dataset(tmp_path / "mnist.zip", use_labels=True), np.load(mnist_path)
    assert len(data) == 20 and data.image_shape == (1, 32, 32)
    np.testing.assert_array_equal(data[7][0][0, 2:30, 2:30], raw["x_train"][7])
    assert data[7][1].argmax() == raw["y_train"][7]


def test_shapes_convert_with_their_labels(tmp_path):
    convert_dataset("builtin:shapes?n=6&seed=2", tmp_path / "shapes.zip", resolution=16)
    data = open_dataset(tmp_path / "shapes.zip", use_labels=True)
    sample = render_shape(4, 16, seed=2)
    np.testing.assert_array_equal(data[4][0], sample.image)
    assert data[4][1].argmax() == sample.label and data.label_dim == 5


def test_center_crop_keeps_the_middle_square(tmp_path):
    image = np.zeros((8, 16, 3), np.uint8)
    image[:, 4:12] = 200  # the centred 8x8 square; the outer quarters stay black
    (tmp_path / "wide").mkdir()
    PIL.Image.fromarray(image).save(tmp_path / "wide" / "x.png")
    convert_dataset(tmp_path / "wide", tmp_path / "out.zip", resolution=4, transform="center-crop", resize_filter="box")
    np.testing.assert_array_equal(open_dataset(tmp_path / "out.zip")[0][0], np.full((3, 4, 4), 200))


def padding_notes(source, dest, **options) -> list[str]:
    """The warnings convert_dataset gives."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        convert_dataset(source, dest, **options)
    return [str(w.message) for w in caught]


def test_padding_to_nvidias_width_and_height_says_their_tool_resizes(tmp_path, make_folder, images_rgb):
    assert padding_notes(make_folder(images_rgb), tmp_path / "out.zip", width=32, height=32) == [
        "padded 6 image(s) smaller than 32x32 with black borders (up to 75% of the image) (NVIDIA's dataset_tool, "
        "given --width and --height, resizes them); to scale them to 32x32 instead, pass --width 32 --height 32 "
        "--transform center-crop (or letterbox)"
    ]


def test_padding_up_to_resolution_is_counted_with_its_share_of_black(tmp_path, make_folder, noise):
    folder = make_folder(noise(2, 28, 1))  # MNIST's 28 px digits, padded to 32 as the docs do it
    assert padding_notes(folder, tmp_path / "out.zip", resolution=32) == [
        "padded 2 image(s) smaller than 32x32 with black borders (up to 23% of the image); to scale them to 32x32 "
        "instead, pass --resolution 32 --transform center-crop (or letterbox)"
    ]


def test_padding_up_to_the_size_the_first_image_set_is_counted(tmp_path, make_folder, noise):
    folder = make_folder(noise(1, 64, 3))
    PIL.Image.fromarray(noise(1, 16, 3)[0]).save(folder / "b" / "small.png")  # 94% of the 64x64 output is black
    assert padding_notes(folder, tmp_path / "out.zip") == [
        "padded 1 image(s) smaller than 64x64 with black borders (up to 94% of the image); to scale them to 64x64 "
        "instead, pass --resolution 64 --transform center-crop (or letterbox)"
    ]


def test_images_that_fill_the_output_or_are_fitted_by_a_transform_give_no_padding_note(tmp_path, make_folder, noise):
    assert padding_notes(make_folder(noise(2, 16, 3)), tmp_path / "a.zip") == []
    assert padding_notes(make_folder(noise(2, 12, 3), name="small"), tmp_path / "b.zip", resolution=16,
                         transform="letterbox") == []


def test_cli_prints_the_padding_as_one_note(tmp_path, make_folder, images_rgb):
    args = ["dataset", "--source", str(make_folder(images_rgb)), "--dest", str(tmp_path / "s.zip"), "--resolution=32"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert [line for line in result.output.splitlines() if line.startswith("note:")] == [
        "note: padded 6 image(s) smaller than 32x32 with black borders (up to 75% of the image); to scale them to "
        "32x32 instead, pass --resolution 32 --transform center-crop (or letterbox)"
    ]


@pytest.mark.parametrize("size", [{"resolution": 16}, {"width": 16, "height": 8}])
def test_center_crop_wide_pads_a_two_to_one_band(tmp_path, size):
    image = np.full((32, 32, 3), 100, np.uint8)
    image[8:24] = 200  # the centred 2:1 band
    (tmp_path / "src").mkdir()
    PIL.Image.fromarray(image).save(tmp_path / "src" / "x.png")
    convert_dataset(tmp_path / "src", tmp_path / "out.zip", transform="center-crop-wide", resize_filter="box", **size)
    out = open_dataset(tmp_path / "out.zip")[0][0]
    assert out[:, :4].max() == 0 and out[:, 12:].max() == 0
    np.testing.assert_array_equal(out[:, 4:12], 200)


def test_center_crop_wide_crops_a_band_of_the_width_to_height_aspect_given(tmp_path):
    image = np.full((48, 64, 3), 200, np.uint8)  # already 4:3
    image[16:32, 24:40] = 50  # a centred square, which must stay square
    (tmp_path / "src").mkdir()
    PIL.Image.fromarray(image).save(tmp_path / "src" / "x.png")
    summary = convert_dataset(tmp_path / "src", tmp_path / "out.zip", width=16, height=12, transform="center-crop-wide",
                              resize_filter="box")
    assert (summary.width, summary.height) == (16, 16)
    out = open_dataset(tmp_path / "out.zip")[0][0][0]  # [16, 16]: the 16x12 band on rows 2 to 13
    assert out[:2].max() == 0 and out[14:].max() == 0
    assert (out[6:10, 6:10] == 50).all() and (out == 50).sum() == 16


def test_center_crop_wide_drops_images_wider_than_the_band_given(tmp_path, make_folder):
    folder = make_folder(np.zeros((2, 24, 32, 3), np.uint8))  # 4:3: kept
    PIL.Image.fromarray(np.zeros((16, 32, 3), np.uint8)).save(folder / "b" / "wide.png")  # 2:1: dropped
    with pytest.warns(UserWarning, match=r"^--transform center-crop-wide left out 1 image\(s\) narrower than 16 px or "
                                         r"shorter than its band: .*wide\.png$"):
        summary = convert_dataset(folder, tmp_path / "out.zip", width=16, height=12, transform="center-crop-wide")
    assert (summary.num_images, summary.num_dropped) == (2, 1)


@pytest.mark.parametrize("transform", ["center-crop", "letterbox"])
def test_images_enlarged_to_a_blur_are_named(tmp_path, make_folder, noise, transform):
    folder = make_folder(noise(2, 32, 3))
    PIL.Image.fromarray(noise(1, 4, 3)[0]).save(folder / "b" / "thumb.png")  # 8 times smaller than the output
    with pytest.warns(UserWarning, match=rf"^--transform {transform} enlarged 1 image\(s\) more than 2 times \(up to 8 "
                                         r"times\), which blurs them: .*thumb\.png$"):
        convert_dataset(folder, tmp_path / "out.zip", resolution=32, transform=transform)


def test_cli_takes_nvidias_center_crop_wide_line(tmp_path, make_folder):
    folder = make_folder(np.zeros((2, 48, 64, 3), np.uint8))
    args = ["dataset", f"--source={folder}", f"--dest={tmp_path / 'car.zip'}", "--transform=center-crop-wide",
            "--width=16", "--height=12"]  # NVIDIA's README: --width=512 --height=384 for LSUN Car
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "Wrote 2 RGB images at 16x16" in result.output


def test_center_crop_wide_drops_images_that_are_too_small(tmp_path, make_folder, noise):
    folder = make_folder(noise(2, 16, 3))
    PIL.Image.fromarray(noise(1, 64, 3)[0]).save(folder / "b" / "big.png")
    summary = convert_dataset(folder, tmp_path / "out.zip", resolution=32, transform="center-crop-wide")
    assert (summary.num_images, summary.num_dropped) == (1, 2)


def test_larger_images_need_a_transform(tmp_path, make_folder, images_rgb):
    with pytest.raises(DatasetError, match=r"a/img0\.png is 16x16, larger than --resolution 8; pass --transform "
                                           r"center-crop \(or letterbox\) to fit it$"):
        convert_dataset(make_folder(images_rgb), tmp_path / "out.zip", resolution=8)


def test_an_image_larger_than_the_size_the_first_image_set_gets_the_whole_fix(tmp_path, make_folder, noise):
    folder = make_folder(noise(2, 16, 3))
    PIL.Image.fromarray(noise(1, 24, 3)[0, :8]).save(folder / "b" / "wide.png")  # 24x8: wider than the first's 16
    with pytest.raises(DatasetError, match=r"b/wide\.png is 24x8, larger than the 16x16 that the first image "
                                           r"\(.*a/img0\.png\) set; pass --resolution 16 --transform center-crop "
                                           r"\(or letterbox\) to fit every image to one size$"):
        convert_dataset(folder, tmp_path / "out.zip")
    convert_dataset(folder, tmp_path / "out.zip", resolution=16, transform="center-crop")  # the fix works


def test_max_images_stops_early(tmp_path, make_folder, images_rgb):
    assert convert_dataset(make_folder(images_rgb), tmp_path / "out.zip", max_images=4).num_images == 4
    assert len(open_dataset(tmp_path / "out.zip")) == 4


def test_a_folder_is_read_folder_by_folder_as_nvidias_tool_reads_it(tmp_path):
    """NVIDIA's tool sorts a folder's paths part by part (`sorted(Path.rglob('*'))`): 'cats/' before 'cats-2/',
    which a plain string sort puts first ('-' < '/'). --max-images must keep the images theirs keeps."""
    for folder, value in [("cats", 50), ("cats-2", 200), ("cats.old", 120)]:
        (tmp_path / "src" / folder).mkdir(parents=True)
        for i in range(2):
            PIL.Image.fromarray(np.full((8, 8, 3), value + i, np.uint8)).save(tmp_path / "src" / folder / f"{i}.png")
    PIL.Image.fromarray(np.full((8, 8, 3), 10, np.uint8)).save(tmp_path / "src" / "cats-1.png")
    convert_dataset(tmp_path / "src", tmp_path / "out.zip", max_images=4)
    with zipfile.ZipFile(tmp_path / "out.zip") as z:
        firsts = [int(np.asarray(PIL.Image.open(z.open(f"00000/img{i:08d}.png")))[0, 0, 0]) for i in range(4)]
    assert firsts == [50, 51, 10, 200]  # cats/0, cats/1, cats-1.png, cats-2/0


def test_alpha_is_dropped(tmp_path, noise):
    (tmp_path / "rgba").mkdir()
    rgba = noise(1, 8, 4)[0]
    PIL.Image.fromarray(rgba).save(tmp_path / "rgba" / "x.png")
    convert_dataset(tmp_path / "rgba", tmp_path / "out.zip")
    np.testing.assert_array_equal(open_dataset(tmp_path / "out.zip")[0][0], rgba[..., :3].transpose(2, 0, 1))


def test_unreadable_image_is_named(tmp_path, make_folder, images_rgb):
    folder = make_folder(images_rgb)
    (folder / "b" / "img4.png").write_bytes(b"junk")
    with pytest.raises(DatasetError, match=r"b/img4\.png: cannot decode image .*; remove it or pass skip_bad=True$"):
        convert_dataset(folder, tmp_path / "out.zip")
    assert list(tmp_path.glob("*.zip")) == [] and list(tmp_path.glob(".out.zip*")) == []


def test_skip_bad_skips_and_counts_unreadable_images(tmp_path, make_folder, images_rgb):
    folder = make_folder(images_rgb, labels=[0, 1, 2, 3, 4, 5])
    (folder / "b" / "img4.png").write_bytes(b"junk")
    with pytest.warns(UserWarning, match=r"skipped 1 image\(s\): 1 unreadable \(damaged, or not an image\): \S*b/img4\.png$"):
        summary = convert_dataset(folder, tmp_path / "out.zip", skip_bad=True)
    assert (summary.num_images, summary.num_skipped) == (5, 1)
    assert open_dataset(tmp_path / "out.zip", use_labels=True)[4][1].argmax() == 5


@pytest.mark.parametrize("gray_name", ["a/first.png", "b/last.png"])  # before or after the RGB images, by name
def test_grayscale_images_among_rgb_ones_are_written_as_rgb_with_a_note(tmp_path, make_folder, noise, gray_name):
    folder = make_folder(noise(2, 8, 3))
    gray = noise(1, 8, 1, seed=1)[0]
    PIL.Image.fromarray(gray[:, :, 0]).save(folder / gray_name)
    with pytest.warns(UserWarning, match=rf"^wrote 1 grayscale image\(s\) as RGB, as other images are RGB: .*{gray_name}$"):
        summary = convert_dataset(folder, tmp_path / "out.zip")
    assert (summary.num_images, summary.num_channels) == (3, 3)
    data = open_dataset(tmp_path / "out.zip")
    index = 0 if gray_name.startswith("a/") else 2
    np.testing.assert_array_equal(data[index][0], np.repeat(gray.transpose(2, 0, 1), 3, axis=0))


def test_dropped_transparency_is_counted_in_a_note(tmp_path, make_folder, noise):
    """A logo or sprite dataset: what lay under the transparent pixels becomes the image, so say it happened."""
    folder = make_folder(noise(2, 8, 3))
    rgba = np.concatenate([noise(1, 8, 3, seed=1)[0], np.full((8, 8, 1), 128, np.uint8)], axis=2)
    PIL.Image.fromarray(rgba, "RGBA").save(folder / "b" / "logo.png")
    palette = PIL.Image.fromarray(noise(1, 8, 3, seed=2)[0]).convert("P")
    palette.putpixel((0, 0), 0)  # a pixel of the entry marked transparent: one unused would drop nothing
    palette.save(folder / "b" / "sprite.png", transparency=0)
    with pytest.warns(UserWarning, match=r"^dropped the transparency of 2 image\(s\), keeping the colour stored under "
                                         r"it: .*logo\.png, .*sprite\.png$"):
        summary = convert_dataset(folder, tmp_path / "out.zip")
    assert summary.num_images == 4
    np.testing.assert_array_equal(open_dataset(tmp_path / "out.zip")[2][0], rgba[:, :, :3].transpose(2, 0, 1))


def test_grayscale_sources_stay_grayscale(tmp_path, make_folder, noise):
    assert convert_dataset(make_folder(noise(2, 8, 1)), tmp_path / "out.zip").num_channels == 1


def test_existing_dest_needs_force(tmp_path, make_folder, images_rgb):
    (tmp_path / "out.zip").write_bytes(b"precious")
    with pytest.raises(DatasetError, match=r"out\.zip already exists; .*--force"):
        convert_dataset(make_folder(images_rgb), tmp_path / "out.zip")
    assert (tmp_path / "out.zip").read_bytes() == b"precious"
    convert_dataset(make_folder(images_rgb), tmp_path / "out.zip", force=True)
    assert len(open_dataset(tmp_path / "out.zip")) == 6


def test_source_is_unchanged_by_the_tool(tmp_path, make_folder, make_zip, images_rgb, digest):
    folder = make_folder(images_rgb, labels=[0] * 6)
    archive = make_zip(folder)
    before = digest(folder), digest(archive)
    convert_dataset(folder, tmp_path / "a.zip")
    convert_dataset(archive, tmp_path / "b.zip")
    assert (digest(folder), digest(archive)) == before


def test_dest_must_not_be_the_source(tmp_path, make_folder, make_zip, images_rgb, digest):
    archive = make_zip(make_folder(images_rgb))
    before = digest(archive)
    with pytest.raises(DatasetError, match="the destination is the source"):
        convert_dataset(archive, archive, force=True)
    assert digest(archive) == before


@pytest.mark.parametrize("kwargs, message", [
    ({"resolution": 24}, "--resolution must be a power of two"),
    ({"resolution": 2048}, r"--resolution must be a power of two from 4 to 1024 \(the networks' largest\), got 2048"),
    ({"transform": "center-crop"}, "--transform center-crop needs --resolution"),
    ({"transform": "stretch", "resolution": 8}, "transform must be one of"),
    ({"resize_filter": "bicubic"}, "resize_filter must be one of"),
    ({"max_images": 0}, "--max-images must be >= 1"),
])
def test_bad_options_are_refused(tmp_path, kwargs, message):
    with pytest.raises(DatasetError, match=message):
        convert_dataset("builtin:shapes?n=2", tmp_path / "out.zip", **kwargs)


def test_dest_must_be_a_zip(tmp_path):
    with pytest.raises(DatasetError, match=r"out\.tar: the destination must be a \.zip"):
        convert_dataset("builtin:shapes?n=2", tmp_path / "out.tar")


def test_cli_converts_and_prints_a_summary(tmp_path):
    result = CliRunner().invoke(main, ["dataset", "--source", "builtin:shapes?n=3", "--dest", str(tmp_path / "s.zip"),
                                       "--resolution", "8"])
    assert result.exit_code == 0, result.output
    assert "Wrote 3 RGB images at 8x8 with labels" in result.output
    assert len(open_dataset(tmp_path / "s.zip")) == 3


def test_cli_reports_errors_without_a_traceback(tmp_path):
    args = ["dataset", "--source", str(tmp_path / "missing"), "--dest", str(tmp_path / "s.zip")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "Error: " in result.output and "missing: no such file" in result.output
    assert "Traceback" not in result.output


def test_cli_prints_skipped_images_as_a_note(tmp_path, make_folder, images_rgb):
    folder = make_folder(images_rgb)
    (folder / "a" / "img1.png").write_bytes(b"junk")
    args = ["dataset", "--source", str(folder), "--dest", str(tmp_path / "s.zip"), "--skip-bad"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "note: skipped 1 image(s): 1 unreadable (damaged, or not an image): " in result.output
    assert "a/img1.png" in result.output
    assert "skipped 1 unusable" in result.output.splitlines()[-1]


def test_cli_prints_its_notes_before_an_error_they_explain(tmp_path, make_folder, images_rgb):
    """A curated folder of links into a master collection: the links are skipped (they point outside it), and the
    note saying so must not be lost behind "no images found"."""
    master = make_folder(images_rgb, name="master")
    (tmp_path / "curated").mkdir()
    for name in ("img0.png", "img1.png"):
        (tmp_path / "curated" / name).symlink_to(master / "a" / name)
    result = CliRunner().invoke(main, ["dataset", "--source", str(tmp_path / "curated"), "--dest", str(tmp_path / "c.zip")])
    assert result.exit_code == 1
    note, error = result.output.splitlines()[-2:]
    assert note.startswith("note: ") and "skipped 2 symbolic link(s) pointing outside the folder" in note
    assert error.startswith("Error: ") and "no images found" in error


def test_cli_expands_a_tilde_in_source_and_dest(tmp_path, make_folder, images_rgb, monkeypatch):
    make_folder(images_rgb, name="pics")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path / "pics")
    result = CliRunner().invoke(main, ["dataset", "--source=~/pics", "--dest=~/out/s.zip"])
    assert result.exit_code == 0, result.output
    assert len(open_dataset(tmp_path / "out" / "s.zip")) == 6
    assert not (tmp_path / "pics" / "~").exists()


def test_unwritable_dest_is_named_not_the_temporary(tmp_path, monkeypatch):
    def read_only(path):
        raise OSError(errno.EROFS, "Read-only file system", str(path.parent / f".{path.name}.123.tmp.zip"))

    monkeypatch.setattr("stylegan2.data.tool.create_temp", read_only)
    with pytest.raises(DatasetError, match=r"^--dest .*out\.zip: cannot write it \(read-only file system\); choose another --dest$"):
        convert_dataset("builtin:shapes?n=2", tmp_path / "out.zip", resolution=8)


def test_dest_below_a_file_is_named(tmp_path):
    (tmp_path / "afile").write_text("precious")
    with pytest.raises(DatasetError, match=r"afile/sub/out\.zip: cannot write it \(.*afile is a file, not a folder\)"):
        convert_dataset("builtin:shapes?n=2", tmp_path / "afile" / "sub" / "out.zip", resolution=8)
    assert (tmp_path / "afile").read_text() == "precious"


def test_a_zip_that_may_not_fit_on_its_disk_is_noted_at_the_first_image(tmp_path, monkeypatch):
    """20,000 images at 512 px take up to 15.7 GB: a full disk hours in stopped the tool after all that work."""
    import collections
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda path: collections.namedtuple("Usage", "total used free")(1, 0, 100))
    with pytest.warns(UserWarning, match=r"out\.zip: the zip may take up to 7\.68e-07 GB \(4 PNGs of 8x8x3\) and its disk "
                                         r"has 1e-07 GB free; a full disk stops it with nothing written"):
        convert_dataset("builtin:shapes?n=4", tmp_path / "out.zip", resolution=8)


def test_a_conversion_that_writes_no_image_says_why(tmp_path):
    (tmp_path / "broken").mkdir()
    for name in ("a.png", "b.png"):
        (tmp_path / "broken" / name).write_bytes(b"not a png")
    with pytest.raises(DatasetError, match=r"broken: no images written: 2 skipped as unusable \(2 unreadable \(damaged, or not an image\): "
                                         r"\S*a\.png, \S*b\.png\)$"):
        convert_dataset(tmp_path / "broken", tmp_path / "out.zip", skip_bad=True)


def class_folders(root, names=("dog", "cat", "fish"), per_class: int = 2):
    """`root/NAME/i.png` noise images, `per_class` in each class folder."""
    rng = np.random.default_rng(0)
    for name in names:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            PIL.Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(root / name / f"{i}.png")
    return root


def test_labels_from_folders_numbers_the_class_folders_in_sorted_order(tmp_path):
    source = class_folders(tmp_path / "pets")
    result = CliRunner().invoke(main, ["dataset", "--source", str(source), "--dest", str(tmp_path / "p.zip"),
                                       "--labels-from-folders"])
    assert result.exit_code == 0, result.output
    assert "labelled by folder as 3 classes (0 cat, 1 dog, 2 fish; the names are class_names in its dataset.json)" \
        in result.output
    meta = json.loads(zipfile.ZipFile(tmp_path / "p.zip").read("dataset.json"))
    assert meta["class_names"] == ["cat", "dog", "fish"] and [c for _, c in meta["labels"]] == [0, 0, 1, 1, 2, 2]
    data = open_dataset(tmp_path / "p.zip", use_labels=True)
    np.testing.assert_array_equal(data[2][0], open_dataset(source / "dog")[0][0])  # a dog is class 1
    np.testing.assert_array_equal(data[2][1], [0, 1, 0])


def test_labels_from_folders_reads_a_zip_of_the_folder_of_class_folders(tmp_path):
    """Finder's Compress puts every entry under the folder's name."""
    source = class_folders(tmp_path / "pets")
    with zipfile.ZipFile(tmp_path / "pets.zip", "w") as z:
        for path in sorted(source.rglob("*.png")):
            z.write(path, path.relative_to(tmp_path).as_posix())
    assert convert_dataset(tmp_path / "pets.zip", tmp_path / "p.zip", labels_from_folders=True).class_names == \
        ("cat", "dog", "fish")


def test_labels_from_folders_keeps_the_class_count_when_max_images_leaves_out_the_last_classes(tmp_path):
    """--max-images takes images in path order, so a quick subset of class folders holds the first classes only; it
    still trains a network of every class, as its class_names say."""
    summary = convert_dataset(class_folders(tmp_path / "pets"), tmp_path / "p.zip", labels_from_folders=True,
                              max_images=3)
    assert summary.class_names == ("cat", "dog", "fish")
    meta = json.loads(zipfile.ZipFile(tmp_path / "p.zip").read("dataset.json"))
    assert [c for _, c in meta["labels"]] == [0, 0, 1] and meta["num_classes"] == 3
    with pytest.warns(UserWarning, match="1 of its 3 classes have no image: 2"):
        assert open_dataset(tmp_path / "p.zip", use_labels=True).label_dim == 3


def test_reconverting_a_labelled_zip_keeps_its_class_names_and_count(tmp_path):
    """Resizing a zip written with --labels-from-folders keeps the only record of which number is which folder."""
    convert_dataset(class_folders(tmp_path / "pets", per_class=4), tmp_path / "p.zip", labels_from_folders=True,
                    max_images=10)
    summary = convert_dataset(tmp_path / "p.zip", tmp_path / "p4.zip", resolution=4, transform="center-crop")
    meta = json.loads(zipfile.ZipFile(tmp_path / "p4.zip").read("dataset.json"))
    assert meta["class_names"] == ["cat", "dog", "fish"] and meta["num_classes"] == 3
    assert [c for _, c in meta["labels"]] == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
    assert summary.class_names == () and "labelled by folder" not in str(summary)  # the tool did not number folders


def test_a_source_dataset_jsons_class_names_are_kept_as_written(tmp_path, make_folder, images_rgb):
    folder = make_folder(images_rgb, labels=[0, 1, 0, 1, 0, 1])
    meta = json.loads((folder / "dataset.json").read_text())
    (folder / "dataset.json").write_text(json.dumps({**meta, "class_names": ["cat", "dog"]}))
    convert_dataset(folder, tmp_path / "out.zip", max_images=2)
    written = json.loads(zipfile.ZipFile(tmp_path / "out.zip").read("dataset.json"))
    assert written["class_names"] == ["cat", "dog"] and written["num_classes"] == 2


def test_labels_from_folders_refuses_sources_without_class_folders(tmp_path, make_folder, images_rgb, noise):
    np.savez(tmp_path / "n.npz", x=noise(2, 8, 3))
    labelled = make_folder(images_rgb, labels=[0, 1, 0, 1, 0, 1])
    loose = class_folders(tmp_path / "loose")
    PIL.Image.fromarray(images_rgb[0]).save(loose / "stray.png")
    for source, message in [
        (tmp_path / "n.npz", r"--labels-from-folders: \S+n\.npz is not a folder or zip of images"),
        (labelled, r"--labels-from-folders: \S+dataset\.json labels the images already; leave out --labels-from-folders"),
        (loose, r"--labels-from-folders: \S+stray\.png is not in a class folder \(1 image\(s\) like this\)"),
        (class_folders(tmp_path / "one", names=("cat",)), r"every image of \S+one lies in cat/, which would be one class"),
    ]:
        with pytest.raises(DatasetError, match=message):
            convert_dataset(source, tmp_path / "out.zip", labels_from_folders=True)


def test_one_hot_labels_are_written_as_classes_keeping_their_count(tmp_path, noise):
    np.savez(tmp_path / "o.npz", x=noise(4, 8, 3), y=np.eye(4)[[0, 1, 2, 0]])  # class 3 has no image
    convert_dataset(tmp_path / "o.npz", tmp_path / "o.zip")
    meta = json.loads(zipfile.ZipFile(tmp_path / "o.zip").read("dataset.json"))
    assert [c for _, c in meta["labels"]] == [0, 1, 2, 0] and meta["num_classes"] == 4
    with pytest.warns(UserWarning, match="1 of its 4 classes have no image: 3"):
        assert open_dataset(tmp_path / "o.zip", use_labels=True).label_dim == 4


def test_the_same_images_give_the_same_zip_byte_for_byte(tmp_path, monkeypatch):
    """Entries carried the time of writing, so two conversions differed (reproducibility QA L2)."""
    import time

    from stylegan2.data import convert_dataset

    convert_dataset("builtin:shapes?n=4", tmp_path / "a.zip", resolution=16)
    real_localtime = time.localtime
    monkeypatch.setattr(time, "localtime", lambda *args: real_localtime(0 if not args else args[0] + 86400 * 400))
    convert_dataset("builtin:shapes?n=4", tmp_path / "b.zip", resolution=16)
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
