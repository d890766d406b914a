"""How sources read labels: class indices in their usual spellings, one bad label named, and dataset.json's limits."""

import json
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from stylegan2.data import DatasetError, open_dataset
from stylegan2.data.sources import LABELS_BYTES_MARGIN, LABELS_BYTES_PER_IMAGE, open_source


def npz(path: Path, labels: np.ndarray, count: int = 6) -> Path:
    """A .npz of `count` 8 px RGB noise images as x with `labels` as y."""
    images = np.random.default_rng(0).integers(0, 256, size=(count, 8, 8, 3), dtype=np.uint8)
    np.savez(path, x=images, y=labels)
    return path


def test_an_integer_label_column_in_npz_is_class_indices_as_keras_cifar_stores_them(tmp_path):
    data = open_dataset(npz(tmp_path / "c.npz", np.array([[0], [1], [2], [0], [1], [2]], np.uint8)), use_labels=True)
    assert data.has_class_labels and data.label_dim == 3
    np.testing.assert_array_equal(data[2][1], [0, 0, 1])


def test_whole_number_float_labels_in_npz_are_class_indices_as_in_dataset_json(tmp_path):
    data = open_dataset(npz(tmp_path / "f.npz", np.array([0.0, 1.0, 2.0, 0.0, 1.0, 3.0])), use_labels=True)
    assert data.has_class_labels and data.label_dim == 4
    with pytest.raises(DatasetError, match=r"f\.npz: y\[1\]: 1\.5 is not a class index"):
        open_dataset(npz(tmp_path / "f.npz", np.array([0.0, 1.5, 2.0, 0.0, 1.0, 3.0])), use_labels=True)


def test_one_hot_labels_are_class_indices_of_their_length(tmp_path, make_folder, images_rgb):
    """keras.utils.to_categorical's vectors: the classes, so class-aware options work; a class no image has counts."""
    one_hot = np.eye(4)[[0, 1, 2, 0, 1, 2]]  # class 3 has no image
    folder = make_folder(images_rgb, labels=one_hot.tolist())
    for spec in (folder, npz(tmp_path / "o.npz", one_hot)):
        with pytest.warns(UserWarning, match="1 of its 4 classes have no image: 3"):
            data = open_dataset(spec, use_labels=True)
        assert data.has_class_labels and data.label_dim == 4
        np.testing.assert_array_equal(data[4][1], [0, 1, 0, 0])
    vectors = open_dataset(npz(tmp_path / "v.npz", one_hot * 0.5), use_labels=True)
    assert not vectors.has_class_labels and vectors.label_dim == 4


@pytest.mark.parametrize("label, message", [
    (None, "null, no label"),
    (float("nan"), "NaN, no label"),
    (2.5, "2.5 is not a class index"),
    ([0, 1, 0], r"\[0, 1, 0\] is not a class index"),
    ("cat", '"cat" is a name'),
    ("0", r'"0" is a string; write 0, not "0"'),
])
def test_one_bad_label_is_named_with_its_image_and_value(make_folder, images_rgb, label, message):
    folder = make_folder(images_rgb, labels=[0, 1, 2, label, 1, 2])
    with pytest.raises(DatasetError, match=rf"pics/dataset\.json: b/img3\.png: {message}") as caught:
        open_dataset(folder, use_labels=True)
    assert "STYLEGAN2_MAX_CLASSES" not in str(caught.value)


def test_the_class_limit_hint_is_given_when_the_limit_is_the_cause(make_folder, images_rgb):
    folder = make_folder(images_rgb, labels=[0, 1, 2, 20_000, 1, 2])
    with pytest.raises(DatasetError, match=r"b/img3\.png: class label 20,000 means more than 10,000 classes.*"
                                           r"STYLEGAN2_MAX_CLASSES"):
        open_dataset(folder, use_labels=True)


def test_null_and_nan_labels_are_images_without_a_label_that_skip_bad_leaves_out(tmp_path, make_folder, images_rgb):
    folder = make_folder(images_rgb, labels=[0, 1, None, 0, float("nan"), 1])
    with pytest.raises(DatasetError, match=r"a/img2\.png: null, no label \(2 image\(s\) without one\).*skip_bad=True"):
        open_dataset(folder, use_labels=True)
    with pytest.warns(UserWarning, match=r"skipped 2 image\(s\) without a label in dataset\.json: a/img2\.png, b/img4\.png"):
        data = open_dataset(folder, use_labels=True, skip_bad=True)
    assert len(data) == 4 and data.label_dim == 2
    path = npz(tmp_path / "n.npz", np.array([0, 1, np.nan, 0, 1, 1]))
    with pytest.raises(DatasetError, match=r"n\.npz: y\[2\]: NaN, no label"):
        open_dataset(path, use_labels=True)
    with pytest.warns(UserWarning, match=r"n\.npz: skipped 1 image\(s\) without a label \(NaN in 'y'\): x\[2\]"):
        data = open_dataset(path, use_labels=True, skip_bad=True)
    assert len(data) == 5 and data.label_dim == 2


def test_the_no_labels_error_says_to_leave_out_cond(tmp_path, make_zip, make_folder, images_rgb):
    np.savez(tmp_path / "n.npz", x=images_rgb)
    for spec in (make_zip(make_folder(images_rgb)), tmp_path / "n.npz"):
        with pytest.raises(DatasetError, match=r" has no labels.*, or leave out --cond \(use_labels=False\)$"):
            open_dataset(spec, use_labels=True)


def test_unlabelled_class_folders_point_at_labels_from_folders(make_folder, images_rgb):
    with pytest.raises(DatasetError, match=r"pics has no labels .*for its class folders \(a/, b/\), write a labelled zip "
                                           r"with `stylegan2 dataset --source \S+pics --dest DATA\.zip --labels-from-folders`"):
        open_dataset(make_folder(images_rgb), use_labels=True)


def test_num_classes_in_dataset_json_sets_the_label_size(make_folder, images_rgb):
    """Data that lack the top classes (a held-out split) keep a network's label size."""
    folder = make_folder(images_rgb, labels=[0, 1, 0, 1, 0, 1])
    meta = json.loads((folder / "dataset.json").read_text())
    (folder / "dataset.json").write_text(json.dumps({**meta, "num_classes": 3}))
    with pytest.warns(UserWarning, match="1 of its 3 classes have no image: 2"):
        assert open_dataset(folder, use_labels=True).label_dim == 3
    (folder / "dataset.json").write_text(json.dumps({**meta, "num_classes": 1}))
    with pytest.raises(DatasetError, match=r'dataset\.json: "num_classes": 1 must be a whole number from 2 \(the labels '
                                           r"go up to class 1\)"):
        open_dataset(folder, use_labels=True)


def test_an_inflated_dataset_json_is_refused_before_it_is_parsed(tmp_path, make_folder, images_rgb):
    """A few KB of deflated spaces would inflate to gigabytes in json.load; it is read only up to the limit."""
    folder = make_folder(images_rgb)
    limit = LABELS_BYTES_PER_IMAGE * len(images_rgb) + LABELS_BYTES_MARGIN
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for path in sorted(folder.rglob("*.png")):
            z.write(path, path.relative_to(folder).as_posix())
        z.writestr("dataset.json", b" " * (limit + 1) + b'{"labels": null}')
    assert bomb.stat().st_size < 50_000
    with pytest.raises(DatasetError, match=rf"bomb\.zip/dataset\.json: larger than {limit:,} bytes \(1 KiB per image plus "
                                           r"1 MiB\)"):
        open_source(bomb).labels(required=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert open_source(folder).labels(required=False) is None  # no dataset.json: nothing to read
