"""open_dataset: reading folders, zips, .npz and builtin sets, and the dataset options."""

import io
import json
import pickle
import unicodedata
import warnings
import zipfile
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch

from stylegan2.data import DatasetError, ImageDataset, open_dataset, render_shape
from stylegan2.data.dataset import label_size_mismatch


def test_rgb_png_folder_serves_chw_uint8_images_in_path_order(make_folder, images_rgb):
    data = open_dataset(make_folder(images_rgb))
    assert isinstance(data, torch.utils.data.Dataset) and isinstance(data, ImageDataset)
    assert len(data) == 6 and data.image_shape == (3, 16, 16)
    assert (data.resolution, data.num_channels, data.label_dim, data.has_labels) == (16, 3, 0, False)
    for i in range(6):
        image, label = data[i]
        assert image.dtype == np.uint8 and label.dtype == np.float32 and label.shape == (0,)
        np.testing.assert_array_equal(image, images_rgb[i].transpose(2, 0, 1))


def test_grayscale_jpeg_folder_has_one_channel(make_folder, noise):
    images = noise(4, 16, 1)
    data = open_dataset(make_folder(images, ext="jpg"))
    image, _ = data[0]
    assert data.num_channels == 1 and image.shape == (1, 16, 16)
    assert np.abs(image.astype(int) - images[0].transpose(2, 0, 1)).mean() < 40  # lossy, but the same picture


def test_webp_images_are_read(make_folder, images_rgb):
    data = open_dataset(make_folder(images_rgb[:2], ext="webp"))
    assert data.image_shape == (3, 16, 16)
    assert data[1][0].shape == (3, 16, 16)


def test_name_is_the_folder_or_file_stem(make_folder, make_zip, images_rgb):
    folder = make_folder(images_rgb, name="cats")
    assert open_dataset(folder).name == "cats"
    assert open_dataset(make_zip(folder)).name == "cats"
    assert open_dataset("builtin:shapes?n=4").name == "shapes"


def test_zip_reads_the_same_images_as_its_folder(make_folder, make_zip, images_rgb):
    folder = make_folder(images_rgb)
    from_folder, from_zip = open_dataset(folder), open_dataset(make_zip(folder))
    assert len(from_zip) == len(from_folder)
    for i in range(len(from_folder)):
        np.testing.assert_array_equal(from_zip[i][0], from_folder[i][0])


def test_labels_from_dataset_json_are_one_hot(make_folder, make_zip, images_rgb):
    folder = make_folder(images_rgb, labels=[0, 1, 2, 0, 1, 3])
    for spec in (folder, make_zip(folder)):
        data = open_dataset(spec, use_labels=True)
        assert data.has_labels and data.label_dim == 4
        np.testing.assert_array_equal(data[5][1], [0, 0, 0, 1])
        np.testing.assert_array_equal(data.get_label(1), [0, 1, 0, 0])


def test_whole_number_float_labels_are_class_indices_as_nvidia_reads_them(make_folder, images_rgb):
    """pandas and NumPy write class 2 as 2.0 in dataset.json; a fraction is still refused."""
    data = open_dataset(make_folder(images_rgb, labels=[0.0, 1, 2.0, 0.0, 1.0, 3.0]), use_labels=True)
    assert data.label_dim == 4
    np.testing.assert_array_equal(data[2][1], [0, 0, 1, 0])
    with pytest.raises(DatasetError, match=r"frac/dataset\.json: a/img0\.png: 0\.5 is not a class index"):
        open_dataset(make_folder(images_rgb, name="frac", labels=[0.5, 1, 2, 0, 1, 3]), use_labels=True)


def test_labels_are_empty_when_use_labels_is_off(make_folder, images_rgb):
    data = open_dataset(make_folder(images_rgb, labels=[0, 1, 2, 0, 1, 3]))
    assert data.label_dim == 0 and data[0][1].shape == (0,)


def test_vector_labels_are_served_as_given(make_folder, images_rgb):
    data = open_dataset(make_folder(images_rgb, labels=[[0.5, i] for i in range(6)]), use_labels=True)
    assert data.label_dim == 2
    np.testing.assert_array_equal(data[3][1], np.float32([0.5, 3.0]))


@pytest.mark.parametrize("layout", ["nhw", "nhwc", "nchw"])
def test_npz_layouts_give_the_same_images(tmp_path, noise, layout):
    images = noise(5, 8, 1)[..., 0]  # [N, H, W]
    stored = {"nhw": images, "nhwc": images[..., None], "nchw": images[:, None]}[layout]
    np.savez(tmp_path / "digits.npz", x_train=stored, y_train=np.arange(5))
    data = open_dataset(tmp_path / "digits.npz", use_labels=True)
    assert data.image_shape == (1, 8, 8) and data.label_dim == 5 and data.name == "digits"
    np.testing.assert_array_equal(data[2][0][0], images[2])
    np.testing.assert_array_equal(data[2][1], [0, 0, 1, 0, 0])


def test_npz_rgb_nchw_is_transposed(tmp_path, noise):
    images = noise(3, 8, 3)  # [N, H, W, C]
    np.savez(tmp_path / "rgb.npz", images=images.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(open_dataset(tmp_path / "rgb.npz")[1][0], images[1].transpose(2, 0, 1))


def test_npz_key_suffix_picks_the_array_and_its_labels(tmp_path, noise):
    np.savez(tmp_path / "d.npz", x_train=noise(4, 8, 1), y_train=np.zeros(4, int), x_test=noise(2, 8, 1, seed=1),
             y_test=np.array([1, 2]))
    data = open_dataset(f"{tmp_path / 'd.npz'}:x_test", use_labels=True)
    assert len(data) == 2
    np.testing.assert_array_equal(data[1][1], [0, 0, 1])


def test_smaller_images_are_centred_on_black_at_the_requested_resolution(make_folder, noise):
    images = noise(2, 12, 3) | 1  # no zero pixels, so the border is visibly the padding
    image, _ = open_dataset(make_folder(images), resolution=16)[0]
    assert image.shape == (3, 16, 16)
    np.testing.assert_array_equal(image[:, 2:14, 2:14], images[0].transpose(2, 0, 1))
    assert image[:, :2].max() == 0 and image[:, 14:].max() == 0 and image[:, :, :2].max() == 0


def test_mnist_is_padded_two_pixels_to_32(mnist_path):
    data = open_dataset(mnist_path, resolution=32, use_labels=True, max_size=50)
    raw = np.load(mnist_path)
    image, label = data[0]
    index = int(data._raw_idx[0])
    assert data.name == "mnist" and data.image_shape == (1, 32, 32) and data.label_dim == 10
    np.testing.assert_array_equal(image[0, 2:30, 2:30], raw["x_train"][index])
    assert image[0, :2].max() == 0 and image[0, 30:].max() == 0
    assert label.argmax() == raw["y_train"][index]


def test_mirror_doubles_the_dataset_with_flipped_copies(make_folder, images_rgb):
    data = open_dataset(make_folder(images_rgb), mirror=True)
    assert len(data) == 12
    np.testing.assert_array_equal(data[6 + 2][0], data[2][0][:, :, ::-1])


def test_max_size_takes_a_seeded_sorted_subset(tmp_path, noise):
    np.savez(tmp_path / "d.npz", x=noise(20, 4, 1))
    picks = [open_dataset(tmp_path / "d.npz", max_size=5, seed=s)._raw_idx for s in (0, 0, 1)]
    assert len(picks[0]) == 5 and list(picks[0]) == sorted(picks[0])
    np.testing.assert_array_equal(picks[0], picks[1])
    assert not np.array_equal(picks[0], picks[2])


def test_max_size_applies_before_mirror(make_folder, images_rgb):
    data = open_dataset(make_folder(images_rgb), max_size=4, mirror=True)
    assert len(data) == 8
    np.testing.assert_array_equal(data[4][0], data[0][0][:, :, ::-1])


def test_builtin_shapes_items_are_the_rendered_shapes():
    data = open_dataset("builtin:shapes?n=7&seed=3", resolution=16, use_labels=True)
    assert len(data) == 7 and data.image_shape == (3, 16, 16) and data.label_dim == 5
    sample = render_shape(6, 16, seed=3)
    np.testing.assert_array_equal(data[6][0], sample.image)
    assert data[6][1].argmax() == sample.label


def test_builtin_shapes_default_to_32_pixels():
    assert open_dataset("builtin:shapes?n=2").resolution == 32


def test_dataset_survives_pickling_for_worker_processes(make_folder, make_zip, images_rgb):
    data = open_dataset(make_zip(make_folder(images_rgb)))
    data[0]  # opens the zip handle, which must not be pickled
    clone = pickle.loads(pickle.dumps(data))
    np.testing.assert_array_equal(clone[3][0], data[3][0])


def test_dataloader_workers_read_a_zip(make_folder, make_zip, images_rgb):
    data = open_dataset(make_zip(make_folder(images_rgb)), mirror=True)
    loader = torch.utils.data.DataLoader(data, batch_size=4, num_workers=2)
    images = torch.cat([batch for batch, _ in loader])
    assert images.shape == (12, 3, 16, 16) and images.dtype == torch.uint8
    np.testing.assert_array_equal(images[5].numpy(), data[5][0])


def test_opening_reads_without_touching_the_source(make_folder, images_rgb, digest):
    folder = make_folder(images_rgb, labels=list(range(6)))
    before = digest(folder)
    data = open_dataset(folder, use_labels=True, skip_bad=True)
    [data[i] for i in range(len(data))]
    assert digest(folder) == before


def test_macos_metadata_files_are_ignored(make_folder, images_rgb):
    folder = make_folder(images_rgb)
    (folder / "a" / "._img0.png").write_bytes(b"\x00\x05\x16\x07 resource fork")
    assert len(open_dataset(folder)) == 6


def test_labels_in_json_may_use_backslashes(make_folder, images_rgb):
    folder = make_folder(images_rgb)
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png"))
    entries = [[n.replace("/", "\\"), i % 2] for i, n in enumerate(names)]
    (folder / "dataset.json").write_text(json.dumps({"labels": entries}))
    assert open_dataset(folder, use_labels=True).label_dim == 2


def test_a_zip_of_a_labelled_folder_reads_the_folders_labels(make_folder, images_rgb, tmp_path: Path):
    """Finder's Compress (or `zip -r photos.zip photos/`) puts everything under one folder: its dataset.json is
    the dataset's, with paths relative to it (it was left unread, and --cond said the zip had none)."""
    folder = make_folder(images_rgb, name="photos", labels=[0, 1, 2, 0, 1, 3])
    (tmp_path / "outer").mkdir()
    folder.rename(tmp_path / "outer" / "photos")
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted((tmp_path / "outer").rglob("*")):
            if path.is_file():
                z.write(path, path.relative_to(tmp_path / "outer").as_posix())
        z.writestr("__MACOSX/photos/._dataset.json", b"\x00\x05\x16\x07")
    data = open_dataset(archive, use_labels=True)
    assert data.label_dim == 4
    np.testing.assert_array_equal(data[5][1], [0, 0, 0, 1])


def test_a_dataset_json_that_labels_nothing_it_can_reach_is_named(make_folder, images_rgb, tmp_path: Path):
    folder = make_folder(images_rgb)  # images in a/ and b/: no one folder holds them all
    (folder / "a" / "dataset.json").write_text(json.dumps({"labels": [["img0.png", 0]]}))
    with pytest.warns(UserWarning, match=r"a[/\\]dataset\.json: not read, as it is not at the top of .*pics \(nor in the "
                                         r"one folder holding every image\); move it there, with paths relative to it"):
        assert not open_dataset(folder).has_labels


def test_grayscale_palette_png_reads_as_rgb(tmp_path: Path):
    folder = tmp_path / "pal"
    folder.mkdir()
    PIL.Image.fromarray(np.zeros((8, 8, 3), np.uint8)).convert("P").save(folder / "x.png")
    assert open_dataset(folder).num_channels == 3


def _png(value: int) -> bytes:
    buffer = io.BytesIO()
    PIL.Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def test_zip_names_without_the_utf8_flag_are_read_as_utf8(tmp_path: Path):
    """macOS Compress stores 'café.png' as decomposed UTF-8 without the zip's UTF-8 flag; zipfile reads it as cp437
    ('cafe╠ü.png'), so dataset.json's 'café.png' was 'not an image in the zip'."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("plain.png", _png(10))
        z.writestr(unicodedata.normalize("NFD", "café.png"), _png(200))
        z.writestr("dataset.json", json.dumps({"labels": [["plain.png", 0], ["café.png", 1]]}))
    data = bytearray(buffer.getvalue())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # clear the UTF-8 flag, as macOS leaves it
        at = data.find(signature)
        while at >= 0:
            data[at + offset + 1] &= 0xF7  # bit 11 of the little-endian flags is bit 3 of their second byte
            at = data.find(signature, at + 4)
    archive = tmp_path / "mac.zip"
    archive.write_bytes(bytes(data))
    assert unicodedata.normalize("NFD", "café.png") not in zipfile.ZipFile(archive).namelist()  # zipfile reads cp437
    data = open_dataset(archive, use_labels=True)
    assert data.label_dim == 2 and int(data[0][0][0, 0, 0]) == 200  # sorted: 'café.png' before 'plain.png'
    np.testing.assert_array_equal(data[0][1], [0, 1])


def test_a_zip_with_two_entries_of_one_name_is_refused(tmp_path: Path):
    archive = tmp_path / "dup.zip"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile's "Duplicate name"
        with zipfile.ZipFile(archive, "w") as z:
            for name, value in (("a.png", 10), ("b.png", 100), ("a.png", 200)):
                z.writestr(name, _png(value))
    with pytest.raises(DatasetError, match=r"dup\.zip: holds 2 entries named 'a\.png' \(a zip appended to twice\?\), of "
                                           r"which only the last can be read; re-create the zip"):
        open_dataset(archive)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(tmp_path / "readme.zip", "w") as z:  # a file that is not read may repeat
            for name, value in (("README.txt", 1), ("a.png", 10), ("README.txt", 2)):
                z.writestr(name, _png(value) if name.endswith(".png") else b"notes")
    assert len(open_dataset(tmp_path / "readme.zip")) == 1


def test_an_image_listed_twice_with_two_labels_is_noted(make_folder, images_rgb):
    folder = make_folder(images_rgb)
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png"))
    entries = [[n, i % 2] for i, n in enumerate(names)] + [[names[0], 1], [names[1], 1]]  # names[1] again, same label
    (folder / "dataset.json").write_text(json.dumps({"labels": entries}))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = open_dataset(folder, use_labels=True)
    said = [str(w.message) for w in caught]
    assert said == [f"{folder / 'dataset.json'}: lists 1 image(s) again with another label, of which the last is used: "
                    f"{names[0]}"]
    np.testing.assert_array_equal(data[0][1], [0, 1])  # the last entry, as NVIDIA's loader reads it


def test_label_mistakes_get_a_message_that_says_what_to_do(make_folder, images_rgb, tmp_path: Path):
    folder = make_folder(images_rgb)
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png"))
    (folder / "dataset.json").write_text(json.dumps({"labels": [[n, "cat" if i % 2 else "dog"] for i, n in enumerate(names)]}))
    with pytest.raises(DatasetError, match=r'dataset\.json: a/img0\.png: "dog" is a name \(6 labels like this\); labels are '
                                           r"class indices \(0, 1, \.\.\.\) or number lists, so number the classes"):
        open_dataset(folder, use_labels=True)
    (folder / "dataset.json").write_text(json.dumps({"labels": [["./" + n, i % 2] for i, n in enumerate(names)]}))
    assert open_dataset(folder, use_labels=True).label_dim == 2  # `find .` paths
    with zipfile.ZipFile(tmp_path / "outer.zip", "w") as z:
        z.writestr("inner.zip", b"PK")
    with pytest.raises(DatasetError, match=r"outer\.zip: holds no images but inner\.zip, an archive; unzip it"):
        open_dataset(tmp_path / "outer.zip")


def test_classes_without_images_get_a_note(make_folder, images_rgb):
    with pytest.warns(UserWarning, match=r"pics: 1 of its 3 classes have no image: 1; a conditional network learns "
                                         "nothing for them"):
        assert open_dataset(make_folder(images_rgb, labels=[0, 2, 0, 2, 0, 2]), use_labels=True).label_dim == 3


def test_labels_left_unused_are_described_except_a_builtin_sets(make_folder, images_rgb):
    assert open_dataset(make_folder(images_rgb, labels=[0, 1, 2, 0, 1, 2])).unused_labels() == "labels for 3 classes"
    assert open_dataset(make_folder(images_rgb, name="vec", labels=[[0.5, 1]] * 6)).unused_labels() == \
        "label vectors of 2 numbers"
    assert open_dataset(make_folder(images_rgb, name="none")).unused_labels() is None
    assert open_dataset(make_folder(images_rgb, name="used", labels=[0] * 6), use_labels=True).unused_labels() is None
    assert open_dataset("builtin:shapes?n=6").unused_labels() is None  # its ground truth; unconditional demos use it


def test_a_label_size_mismatch_says_where_the_labels_stop(make_folder, images_rgb):
    data = open_dataset(make_folder(images_rgb, labels=[0, 1, 0, 1, 0, 1]), use_labels=True)
    assert label_size_mismatch(data, 3) == ("the dataset's labels go up to class 1 while the network has 3 classes; for "
                                            'data that lack the top classes, write "num_classes": 3 into its dataset.json')
    assert "open it with labels" not in label_size_mismatch(data, 1)
    assert "open it with labels" in label_size_mismatch(open_dataset(make_folder(images_rgb, name="u")), 3)
