"""What --skip-bad leaves out is named with its reason, grouped, and listed in full (photosfix35: a practitioner's
folder of mixed photos)."""

import pickle
import re

import numpy as np
import PIL.Image
import pytest
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.data import DatasetError, convert_dataset, open_dataset
from stylegan2.data.images import DAMAGED, PIXEL_FORMAT, TRANSPARENT, ImageFileError


def opaque_rgba(folder, count, start=0):
    """`count` RGBA PNGs whose every pixel is opaque: valid images that training refuses for their alpha channel."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + count):
        pixels = np.full((8, 8, 4), 255, np.uint8)
        pixels[..., 0] = i
        PIL.Image.fromarray(pixels, "RGBA").save(folder / f"rgba{i}.png")


def rgb(folder, count, size=8):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        PIL.Image.fromarray(np.full((size, size, 3), i, np.uint8)).save(folder / f"ok{i}.png")


def pixel_format_tiffs(folder):
    """A floating-point TIFF and a 32-bit one with values beyond 0..65535: read, but not in a format we take."""
    folder.mkdir(parents=True, exist_ok=True)
    PIL.Image.fromarray(np.zeros((8, 8), np.float32), "F").save(folder / "float.tif")
    PIL.Image.fromarray(np.full((8, 8), 100_000, np.int32), "I").save(folder / "wide.tif")


def test_training_names_each_skipped_images_reason_grouped(tmp_path):
    folder = tmp_path / "photos"
    rgb(folder, 3)
    opaque_rgba(folder, 2)
    (folder / "junk.png").write_bytes(b"not a png")
    with pytest.warns(UserWarning) as caught:
        data = open_dataset(folder, skip_bad=True)
    assert len(data) == 3
    note = next(str(w.message) for w in caught if "skipped" in str(w.message))
    assert re.fullmatch(rf"\S*photos: skipped 3 image\(s\): 1 {re.escape(DAMAGED)}: \S*junk\.png; 2 {re.escape(TRANSPARENT)}: "
                        r"\S*rgba0\.png, \S*rgba1\.png", note), note
    assert [(where.rpartition("/")[2], reason) for where, reason in data.source.skipped] == [
        ("junk.png", DAMAGED), ("rgba0.png", TRANSPARENT), ("rgba1.png", TRANSPARENT)]


def test_a_folder_of_nothing_usable_says_why_in_the_error(tmp_path):
    opaque_rgba(tmp_path / "rgba", 5)
    with pytest.raises(DatasetError, match=rf"rgba: none of its 5 images can be used: 5 {re.escape(TRANSPARENT)}: "
                                           r"\S*rgba0\.png, .*, \S*rgba4\.png$"):
        open_dataset(tmp_path / "rgba", skip_bad=True)


def test_a_broken_setting_is_not_taken_for_bad_images(tmp_path, monkeypatch):
    """A wrong $STYLEGAN2_MAX_IMAGE_PIXELS is about no one file: it stops skip_bad instead of emptying the dataset."""
    rgb(tmp_path / "photos", 2)
    monkeypatch.setenv("STYLEGAN2_MAX_IMAGE_PIXELS", "lots")
    with pytest.raises(DatasetError, match=r"^\$STYLEGAN2_MAX_IMAGE_PIXELS must be a whole number of pixels"):
        open_dataset(tmp_path / "photos", skip_bad=True)


def test_the_mixed_size_command_keeps_skip_bad(tmp_path):
    """The conversion it suggests would stop again at the damaged file without --skip-bad."""
    folder = tmp_path / "photos"
    rgb(folder, 2)
    PIL.Image.new("RGB", (16, 16)).save(folder / "z_big.png")
    (folder / "junk.png").write_bytes(b"not a png")
    with pytest.warns(UserWarning, match="1 unreadable"), pytest.raises(
        DatasetError, match=r"convert with `stylegan2 dataset --source \S*photos --dest OUT\.zip --skip-bad --resolution N "
                            r"--transform center-crop`$"):
        open_dataset(folder, skip_bad=True)
    (folder / "junk.png").unlink()
    with pytest.raises(DatasetError, match=r"--dest OUT\.zip --resolution N"):  # no bad files, no --skip-bad
        open_dataset(folder)


def test_the_mixed_channels_command_keeps_skip_bad(tmp_path):
    folder = tmp_path / "photos"
    rgb(folder, 2)
    PIL.Image.new("L", (8, 8)).save(folder / "z_gray.png")
    (folder / "junk.png").write_bytes(b"not a png")
    with pytest.warns(UserWarning, match="1 unreadable"), pytest.raises(
        DatasetError, match=r"convert with `stylegan2 dataset --source \S*photos --dest OUT\.zip --skip-bad`, which writes"):
        open_dataset(folder, skip_bad=True)


def test_the_dataset_tool_names_pixel_formats_and_broken_links_apart(tmp_path):
    folder = tmp_path / "photos"
    rgb(folder, 1)
    pixel_format_tiffs(folder)
    (folder / "link.png").symlink_to(folder / "gone.png")
    with pytest.warns(UserWarning, match=rf"^skipped 3 image\(s\): 2 {re.escape(PIXEL_FORMAT)}: \S*float\.tif, "
                                         r"\S*wide\.tif; 1 broken symbolic link\(s\): \S*link\.png$"):  # by first name
        summary = convert_dataset(folder, tmp_path / "out.zip", skip_bad=True)
    assert summary.num_images == 1 and summary.num_skipped == 3
    assert [reason for _, reason in summary.skipped] == [PIXEL_FORMAT, "broken symbolic link(s)", PIXEL_FORMAT]
    assert summary.skipped_list is None and not (tmp_path / "out.skipped.txt").exists()  # the note named them all


def test_a_conversion_of_nothing_usable_says_why(tmp_path):
    pixel_format_tiffs(tmp_path / "tiffs")
    with pytest.raises(DatasetError, match=rf"tiffs: no images written: 2 skipped as unusable \(2 {re.escape(PIXEL_FORMAT)}: "):
        convert_dataset(tmp_path / "tiffs", tmp_path / "out.zip", skip_bad=True)


def damaged_folder(tmp_path, count):
    folder = tmp_path / "photos"
    rgb(folder, 1)
    for i in range(count):
        (folder / f"junk{i}.png").write_bytes(b"not a png")
    return folder


def test_every_skipped_image_is_listed_beside_the_zip_when_the_note_cannot_name_them(tmp_path):
    folder = damaged_folder(tmp_path, 7)
    with pytest.warns(UserWarning, match=r"7 unreadable \(damaged, or not an image\): (\S*junk\d\.png, ){5}\.\.\.; all are listed in "
                                         r"\S*out\.skipped\.txt$"):
        summary = convert_dataset(folder, tmp_path / "out.zip", skip_bad=True)
    assert summary.skipped_list == tmp_path / "out.skipped.txt"
    lines = summary.skipped_list.read_text().splitlines()
    assert lines == [f"{folder / f'junk{i}.png'}\t{DAMAGED}" for i in range(7)]
    assert [where for where, _ in summary.skipped] == [str(folder / f"junk{i}.png") for i in range(7)]


def test_the_list_of_skipped_images_never_replaces_a_file(tmp_path):
    folder = damaged_folder(tmp_path, 6)
    (tmp_path / "out.skipped.txt").write_text("mine")
    with pytest.warns(UserWarning, match=r"all are listed in \S*out\.skipped-1\.txt$"):
        summary = convert_dataset(folder, tmp_path / "out.zip", skip_bad=True)
    assert (tmp_path / "out.skipped.txt").read_text() == "mine"
    assert summary.skipped_list == tmp_path / "out.skipped-1.txt" and len(summary.skipped_list.read_text().splitlines()) == 6


def test_the_cli_note_groups_the_reasons_and_names_the_list(tmp_path):
    folder = damaged_folder(tmp_path, 6)
    pixel_format_tiffs(folder)
    result = CliRunner().invoke(main, ["dataset", "--source", str(folder), "--dest", str(tmp_path / "d.zip"), "--skip-bad"])
    assert result.exit_code == 0, result.output
    note = next(line for line in result.output.splitlines() if line.startswith("note: skipped"))
    assert note.startswith(f"note: skipped 8 image(s): 2 {PIXEL_FORMAT}: ")
    assert "; 6 unreadable (damaged, or not an image): " in note and note.endswith(f"; all are listed in {tmp_path / 'd.skipped.txt'}")
    assert "skipped 8 unusable" in result.output.splitlines()[-1]


def test_an_image_error_keeps_its_reason_across_processes():
    """DataLoader workers and launched processes hand errors back pickled."""
    err = pickle.loads(pickle.dumps(ImageFileError("x.tif: unsupported image mode F", PIXEL_FORMAT)))
    assert (str(err), err.reason) == ("x.tif: unsupported image mode F", PIXEL_FORMAT)
