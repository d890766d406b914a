"""How sources read labels: class indices in their usual spellings, one bad label named, and dataset.json's limits."""

import json
import warnings
import zipfile
from pathlib import Path

import numpy as np
import PIL.Image
import pytest

from stylegan2.data import DatasetError, open_dataset
from stylegan2.data.errors import LABELS_OFF_OPTION, advise_labels_off
from stylegan2.data.sources import open_source
from stylegan2.utils.files import MAX_ZIP_RATIO


def npz(path: Path, labels: np.ndarray, count: int = 6) -> Path:
    """A .npz of `count` 8 px RGB noise images as x with `labels` as y."""
    images = np.random.default_rng(0).integers(0, 256, size=(count, 8, 8, 3), dtype=np.uint8)
    np.savez(path, x=images, y=labels)
    return path


def test_an_integer_label_column_in_npz_is_class_indices_as_keras_cifar_stores_them(tmp_path):
    data = open_dataset(npz(tmp_path / "c.npz", np.array([[0], [1], [2], [0], [1], [2]], np.uint8)), use_labels=True)
    assert data.has_class_labels and data.label_dim == 3
    np.testing.assert_array_equal(data[2][1], [0, 0, 1])


def test_a_whole_number_float_label_column_in_npz_is_class_indices_as_an_integer_one_is(tmp_path):
    """df[['label']].values of a column that once held NaN is float64 [N, 1]; fractions keep it one continuous label."""
    column = np.array([[0.0], [1.0], [2.0], [0.0], [np.nan], [2.0]])
    with pytest.warns(UserWarning, match=r"skipped 1 image\(s\) without a label \(NaN in 'y'\): x\[4\]"):
        data = open_dataset(npz(tmp_path / "c.npz", column), use_labels=True, skip_bad=True)
    assert data.has_class_labels and data.label_dim == 3
    np.testing.assert_array_equal(data[2][1], [0, 0, 1])
    continuous = open_dataset(npz(tmp_path / "v.npz", column[[0, 1, 2, 3, 5]] + 0.5, count=5), use_labels=True)
    assert not continuous.has_class_labels and continuous.label_dim == 1


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


def test_labels_that_are_all_fractions_are_told_how_to_be_continuous(tmp_path, make_folder, images_rgb):
    """No label is a class index, so "as the other labels are" and "fix the entry" would not fit."""
    fractions = [0.5, 1.5, 2.5, 0.25, 1.25, 2.25]
    folder = make_folder(images_rgb, labels=fractions)
    with pytest.raises(DatasetError, match=r"pics/dataset\.json: a/img0\.png: 0\.5 is not a class index \(an integer >= 0\), "
                                           r"nor is any of the other 5; a label of one number is a class, so for a "
                                           r"continuous value write a list of one number, as \[0\.5\]$") as caught:
        open_dataset(folder, use_labels=True)
    assert "as the other labels are" not in str(caught.value)
    with pytest.raises(DatasetError, match=r"f\.npz: y\[0\]: 0\.5 is not a class index .*nor is any of the other 5; .*"
                                           r"store 'y' as a column \[N, 1\] of floats \(y\[:, None\]\)$"):
        open_dataset(npz(tmp_path / "f.npz", np.array(fractions)), use_labels=True)
    assert open_dataset(npz(tmp_path / "c.npz", np.array(fractions)[:, None]), use_labels=True).label_dim == 1


def test_labels_that_are_all_unlike_labels_say_what_labels_are(make_folder, images_rgb):
    folder = make_folder(images_rgb, labels=[True] * 6)
    with pytest.raises(DatasetError, match=r"a/img0\.png: true is not a class index \(an integer >= 0\), nor is any of "
                                           r"the other 5; labels are class indices \(0, 1, \.\.\.\) or lists of numbers"):
        open_dataset(folder, use_labels=True)


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


def test_the_no_labels_error_says_to_leave_out_cond_in_the_callers_words(tmp_path, make_zip, make_folder, images_rgb):
    """`stylegan2 train` asks for labels with --cond, Python with use_labels=True (photosfix35 L4)."""
    np.savez(tmp_path / "n.npz", x=images_rgb)
    for spec in (make_zip(make_folder(images_rgb)), tmp_path / "n.npz"):
        with pytest.raises(DatasetError, match=r" has no labels.*, or pass use_labels=False$"):
            open_dataset(spec, use_labels=True)
        with advise_labels_off(LABELS_OFF_OPTION), pytest.raises(DatasetError, match=r" has no labels.*, or leave out --cond$"):
            open_dataset(spec, use_labels=True)


def test_unlabelled_class_folders_point_at_labels_from_folders(make_folder, images_rgb):
    with pytest.raises(DatasetError, match=r"pics has no labels .*for its class folders \(a/, b/\), write a labelled zip "
                                           r"with `stylegan2 dataset --source \S+pics --dest DATA\.zip --labels-from-folders`"):
        open_dataset(make_folder(images_rgb), use_labels=True)


def test_unlabelled_class_folders_of_any_size_point_at_labels_from_folders_first(make_folder):
    """80 px photos in class folders were told to pad to 128 px before hearing of the labelling command (docstruth34 L5),
    which converts them to a size of the user's choice."""
    with pytest.raises(DatasetError, match=r"pics has no labels .*--labels-from-folders"):
        open_dataset(make_folder(np.zeros([2, 12, 12, 3], dtype=np.uint8)), use_labels=True)


@pytest.mark.parametrize("labelled", [False, True])
def test_class_folders_of_mixed_sizes_are_told_the_labelling_option_with_the_conversion(make_folder, noise, labelled):
    """The size error comes before the labels are read: its command labels unlabelled class folders too, so that a
    --cond run is not sent to convert twice; a labelled folder keeps its dataset.json, and is told nothing of it."""
    folder = make_folder(noise(4, 16, 3), labels=[0, 0, 1, 1] if labelled else None)
    PIL.Image.fromarray(noise(1, 32, 3)[0]).save(folder / "b" / "img3.png")
    hint = " (add --labels-from-folders to label the images by their class folders, a/, b/)"
    with pytest.raises(DatasetError, match=r"all images must have one size: .*--transform center-crop`(.*)$") as error:
        open_dataset(folder, use_labels=True)
    assert str(error.value).endswith("center-crop`" + ("" if labelled else hint))


def declare_classes(folder, num_classes) -> None:
    """Add "num_classes" to the folder's dataset.json, its labels kept."""
    meta = json.loads((folder / "dataset.json").read_text())
    (folder / "dataset.json").write_text(json.dumps({**meta, "num_classes": num_classes}))


@pytest.mark.parametrize("count, bad, message", [
    # data that lack the top classes (a held-out split) keep a network's label size
    (3, 1, r'dataset\.json: "num_classes": 1 is fewer than the labels use \(they go up to class 1\); write at least 2, '
           r"or remove it"),
    # a json.dump of a NumPy float count writes 3.0, as a label may be
    (3.0, 2.5, r'"num_classes": 2\.5 is not a whole number; write the number of classes'),
])
def test_num_classes_in_dataset_json_sets_the_label_size(make_folder, images_rgb, count, bad, message):
    folder = make_folder(images_rgb, labels=[0, 1, 0, 1, 0, 1])
    declare_classes(folder, count)
    with pytest.warns(UserWarning, match="1 of its 3 classes have no image: 2"):
        assert open_dataset(folder, use_labels=True).label_dim == 3
    declare_classes(folder, bad)
    with pytest.raises(DatasetError, match=message):
        open_dataset(folder, use_labels=True)


def test_num_classes_over_the_limit_names_the_variable_that_raises_it(make_folder, images_rgb, monkeypatch):
    folder = make_folder(images_rgb, labels=[0, 1, 0, 1, 0, 1])
    declare_classes(folder, 100_000)
    with pytest.raises(DatasetError, match=r'"num_classes": 100000 means more than 10,000 classes; check it, or set '
                                           r"\$STYLEGAN2_MAX_CLASSES to raise the limit"):
        open_dataset(folder, use_labels=True)
    monkeypatch.setenv("STYLEGAN2_MAX_CLASSES", "100000")
    with pytest.warns(UserWarning, match="99998 of its 100000 classes have no image"):
        assert open_dataset(folder, use_labels=True).label_dim == 100_000


def test_a_deflated_dataset_json_bomb_is_refused_before_it_is_inflated(tmp_path, make_folder, images_rgb):
    """A few KB of deflated spaces would inflate to gigabytes in json.loads; the zip ratio check refuses the entry."""
    folder = make_folder(images_rgb)
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for path in sorted(folder.rglob("*.png")):
            z.write(path, path.relative_to(folder).as_posix())
        z.writestr("dataset.json", b" " * 2_000_000 + b'{"labels": null}')
    info = zipfile.ZipFile(bomb).getinfo("dataset.json")
    assert info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1024) and bomb.stat().st_size < 50_000
    with pytest.raises(DatasetError, match=rf"bomb\.zip/dataset\.json: cannot read \(declares 2,000,016 bytes from "
                                           rf"{info.compress_size:,} compressed \(more than {MAX_ZIP_RATIO}:1\)\); store a "
                                           r"genuine dataset\.json in the zip uncompressed \(zip -0\), or delete it$"):
        open_source(bomb).labels(required=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert open_source(folder).labels(required=False) is None  # no dataset.json: nothing to read


def long_vector_folder(root: Path, count: int = 200, length: int = 512) -> Path:
    """`count` 4 px images with label vectors of `length` random numbers (CLIP or face embeddings) in dataset.json."""
    rng = np.random.default_rng(0)
    root.mkdir()
    images = rng.integers(0, 256, size=(count, 4, 4, 3), dtype=np.uint8)
    for i, image in enumerate(images):
        PIL.Image.fromarray(image).save(root / f"{i:03d}.png")
    labels = [[f"{i:03d}.png", rng.standard_normal(length).tolist()] for i in range(count)]
    (root / "dataset.json").write_text(json.dumps({"labels": labels}))
    return root


def test_long_label_vectors_are_read_from_a_folder_and_a_zip(tmp_path, make_zip):
    """512 numbers for 200 images take 2 MB of JSON: as large as the labels are, and deflated only about 2:1."""
    folder = long_vector_folder(tmp_path / "vec512")
    assert (folder / "dataset.json").stat().st_size > 2_000_000
    for spec in (folder, make_zip(folder)):
        data = open_dataset(spec, use_labels=True)
        assert len(data) == 200 and data.label_dim == 512 and not data.has_class_labels


def test_a_full_datasets_dataset_json_labels_a_subset_of_its_images_with_skip_bad(tmp_path, make_folder, images_rgb):
    """A split keeping the full dataset's dataset.json: its entries for absent files are ignored with --skip-bad, and
    named without it, however many there are."""
    folder = make_folder(images_rgb)
    names = [path.relative_to(folder).as_posix() for path in sorted(folder.rglob("*.png"))]
    entries = [[name, i % 3] for i, name in enumerate(names)] + [[f"{i // 1000:05d}/img{i:08d}.png", i % 3] for i in range(40_000)]
    (folder / "dataset.json").write_text(json.dumps({"labels": entries}))
    assert (folder / "dataset.json").stat().st_size > 1_000_000
    with pytest.raises(DatasetError, match=r"lists '00000/img00000000\.png', which is not an image in \S+pics \(40000 entries are "
                                           r"like this\); remove the entry or add the file, or pass skip_bad=True"):
        open_dataset(folder, use_labels=True)
    with pytest.warns(UserWarning, match=r"dataset\.json: ignored 40000 entries for files that are not images here"):
        data = open_dataset(folder, use_labels=True, skip_bad=True)
    assert len(data) == 6 and data.label_dim == 3
