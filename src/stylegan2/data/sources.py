"""Where images come from: a folder or zip of image files, a .npz of arrays, MNIST's idx files, CIFAR-10's
python tarball, or a builtin synthetic set.

A source reads raw images (any size, [H, W, C] uint8) and their labels by index; `ImageDataset` and the
dataset tool build on it. Sources never write to what they read.
"""

import hashlib
import json
import math
import os
import unicodedata
import zipfile
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qs

import numpy as np

from ..utils.files import MAX_ZIP_RATIO, ArchiveError, check_zip_entry, open_regular
from ..utils.notes import warn
from ..utils.npz import check_npz
from ..utils.text import first_names, short_int
from .downloads import idx_labels_path, is_idx_images, read_cifar10, read_mnist
from .errors import DatasetError, DatasetOptionError, limit_from_environment, skip_bad_advice
from .images import IMAGE_EXTENSIONS, IMAGE_FORMATS, decode_flattened, decode_image, is_image_name, read_header, unread_images
from .shapes import SHAPE_CLASSES, render_shape, shape_label

LABELS_FILE = "dataset.json"
LMDB_DATA = "data.mdb"  # the data file of an LMDB database, as LSUN ships its images
BUILTINS = ("shapes",)
SHAPES_SIZE = 10_000  # items in builtin:shapes unless its n says otherwise
MAX_CLASSES = 10_000  # class labels (or label-vector length) accepted by default; raise it with the variable below
MAX_CLASSES_VARIABLE = "STYLEGAN2_MAX_CLASSES"
NO_LABELS_FIX = "leave out --cond (use_labels=False)"  # how a caller that asked for labels turns them off
OPEN_ERRORS = (OSError, zipfile.BadZipFile, ArchiveError, KeyError, RuntimeError, NotImplementedError)  # opening a file


def max_classes() -> int:
    """The largest number of classes (or label-vector length) a dataset may have: $STYLEGAN2_MAX_CLASSES or MAX_CLASSES."""
    return limit_from_environment(MAX_CLASSES_VARIABLE, MAX_CLASSES, "an integer")


class ImageSource(ABC):
    """Raw images and labels addressed by index."""

    name: str  # short name for run directories, e.g. "mnist"
    location: str  # what the user passed, for messages
    num_classes: int | None = None  # number of classes when known up front (else max label + 1)
    class_names: Any = None  # what the source records as its classes' names (dataset.json's "class_names"), kept as read

    @abstractmethod
    def __len__(self) -> int:
        """Number of images."""

    @abstractmethod
    def describe(self, index: int) -> str:
        """Where image `index` lives, for messages."""

    @abstractmethod
    def load(self, index: int, *, drop_alpha: bool = False) -> np.ndarray:
        """Image `index` as uint8 [H, W, C], C = 1 or 3."""

    def load_flattened(self, index: int) -> tuple[np.ndarray, bool]:
        """`load(index, drop_alpha=True)`, and whether it dropped transparency (only image files have any)."""
        return self.load(index, drop_alpha=True), False

    @abstractmethod
    def has_color(self) -> bool:
        """Whether any image is RGB once alpha is dropped (from headers where there are files)."""

    @abstractmethod
    def validate(self, *, skip_bad: bool = False) -> tuple[int, int, int]:
        """Check that all images share one (H, W, C) and return it; with `skip_bad`, drop unreadable ones first."""

    def file_identity(self) -> str | None:
        """A cheap key of the files the images come from, which changes when any is rewritten; None where there are
        no files to decode (arrays in memory hash fast enough)."""
        return None

    @abstractmethod
    def labels(self, *, required: bool, skip_bad: bool = False) -> np.ndarray | None:
        """Labels aligned with the images: int64 [N] classes or float32 [N, D] vectors, or None when there are none.

        required: raise when the source has no labels at all. Labels that do not match the images raise,
        never drop every label; with `skip_bad`, images without a label are left out with a warning instead,
        and entries for files that are not there are ignored with one.
        """


def file_stamp(path: str | os.PathLike) -> tuple[int, int, int, int]:
    """What shows that a file was rewritten, without reading it: size, modification and change times (the change time
    moves with any rewrite, also one that keeps the modification time, as `cp -p` and `rsync -a` do) and inode."""
    info = os.stat(path)
    return info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino


def _labels_array(values: list, name: Callable[[int], str], where: str, continuous: str) -> tuple[np.ndarray, int]:
    """Labels as read (JSON values, or an array's as Python numbers) as int64 [N] class indices or float32 [N, D]
    vectors, with the label size they make: max class + 1, or D. `name(i)` says whose label i is, for messages;
    `continuous` how this source writes a continuous value instead, for when no single-number label is a class.

    A class is an integer or a whole-number float (pandas and NumPy write class 2 as 2.0; NVIDIA's loader reads it
    as 2); a one-hot vector is one too (see `_vector_labels`). Callers leave out "no label" values (null, NaN) first.
    """
    if sum(isinstance(v, (list, tuple)) for v in values) * 2 > len(values):
        length = Counter(len(v) for v in values if isinstance(v, (list, tuple))).most_common(1)[0][0]
        bad = [i for i, v in enumerate(values) if not _is_number_list(v, length)]
        if bad:
            raise _bad_label_error(values, bad, name, where, f"a list of {length} numbers")
        try:
            vectors = np.asarray(values, dtype=np.float64)
        except OverflowError:
            raise DatasetError(f"{where}: label vectors hold numbers too large for a float") from None
        return _vector_labels(vectors, name, where)
    classes = [_class_index(v) for v in values]
    bad = [i for i, c in enumerate(classes) if c is None]
    if bad:
        if len(bad) == len(values) and all(_is_real(v) for v in values):  # continuous values, read as classes
            raise DatasetError(f"{where}: {name(0)}: {_shown(values[0])} is not a class index (an integer >= 0)"
                               f"{_nor_others(len(values))}; a label of one number is a class, so {continuous}")
        raise _bad_label_error(values, bad, name, where, "a class index (an integer >= 0)")
    return _checked_classes(classes, name, where)


def _class_index(value: Any) -> int | None:
    """A label (or a count of classes) as a class index: an integer, or a float with a whole value; None for anything
    else."""
    if _is_index(value):
        return int(value)
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
        return int(value)
    return None


def _is_number_list(value: Any, length: int) -> bool:
    """Whether a label is a list of `length` numbers (a label vector)."""
    return isinstance(value, (list, tuple)) and len(value) == length and all(
        _is_index(x) or isinstance(x, (float, np.floating)) for x in value)


def _is_real(value: Any) -> bool:
    """Whether a label is one finite number."""
    return _is_index(value) or (isinstance(value, (float, np.floating)) and math.isfinite(value))


def _is_unlabelled(value: Any) -> bool:
    """Whether a label says "no label": null in dataset.json, or NaN (what pandas writes for a missing value)."""
    return value is None or (isinstance(value, (float, np.floating)) and math.isnan(value))


def _checked_classes(classes: list[int], name: Callable[[int], str], where: str) -> tuple[np.ndarray, int]:
    """Class indices as int64 [N] and their count (max + 1), refusing negative ones and more than `max_classes()`."""
    limit = max_classes()
    lowest, highest = min(classes, default=0), max(classes, default=-1)
    if lowest < 0:
        raise DatasetError(f"{where}: {name(classes.index(lowest))}: {short_int(lowest)} is not a class index; classes "
                           "are numbered from 0")
    if highest >= limit:
        raise DatasetError(f"{where}: {name(classes.index(highest))}: class label {short_int(highest)} means more than "
                           f"{limit:,} classes; check the labels, or set ${MAX_CLASSES_VARIABLE} to raise the limit")
    return np.asarray(classes, dtype=np.int64), highest + 1


def _vector_labels(vectors: np.ndarray, name: Callable[[int], str], where: str) -> tuple[np.ndarray, int]:
    """Label vectors [N, D] as float32, or as class indices when every one is one-hot (one 1, the rest 0, as
    keras.utils.to_categorical writes classes): the network's label is then the same, and class-aware options work.
    The label size is D either way, so classes no image has still count."""
    limit = max_classes()
    if vectors.shape[1] > limit:
        raise DatasetError(f"{where}: label vectors of {vectors.shape[1]:,} numbers; they may have at most {limit:,} "
                           f"numbers (check the labels, or set ${MAX_CLASSES_VARIABLE} to raise the limit)")
    with np.errstate(over="ignore"):  # beyond float32's range: infinite, refused below
        vectors = vectors.astype(np.float32)
    finite = np.isfinite(vectors).all(axis=1)
    if not finite.all():
        first = int(np.argmin(finite))
        raise DatasetError(f"{where}: {name(first)}: label vectors hold NaN or infinite numbers "
                           f"({int((~finite).sum()):,} label(s) like this); fix them")
    if len(vectors) and np.isin(vectors, (0, 1)).all() and (vectors.sum(axis=1) == 1).all():
        return vectors.argmax(axis=1).astype(np.int64), vectors.shape[1]
    return vectors, vectors.shape[1]


def _bad_label_error(values: list, bad: list[int], name: Callable[[int], str], where: str, expected: str) -> DatasetError:
    """Refuse labels that are not `expected` (`bad`: their indices in `values`), naming the first one's image and
    value and saying what to write instead."""
    value, count, first = values[bad[0]], len(bad), f"{where}: {name(bad[0])}"
    more = f" ({count:,} labels like this)" if count > 1 else ""
    if isinstance(value, str) and _is_number_text(value):  # a CSV export's "0"
        return DatasetError(f'{first}: {_shown(value)} is a string{more}; write {value.strip()}, not "{value.strip()}"')
    if isinstance(value, str):
        return DatasetError(f"{first}: {_shown(value)} is a name{more}; labels are class indices (0, 1, ...) or "
                            "number lists, so number the classes (e.g. in sorted order of their names, as `stylegan2 "
                            "dataset --labels-from-folders` numbers class folders)")
    if count == len(values):
        return DatasetError(f"{first}: {_shown(value)} is not {expected}{_nor_others(count)}; labels are class indices "
                            "(0, 1, ...) or lists of numbers, all of one length")
    return DatasetError(f"{first}: {_shown(value)} is not {expected}, as the other labels are{more}; fix the entry")


def _nor_others(count: int) -> str:
    """What a message about the first of `count` labels says when every label is alike (so "fix the entry" fails)."""
    return f", nor is any of the other {count - 1:,}" if count > 1 else ""


def _unlabelled_error(where: str, name: str, value: Any, count: int) -> DatasetError:
    """Refuse images whose label is null or NaN, naming the first: an image without a label, which skip_bad leaves out."""
    return DatasetError(f"{where}: {name}: {_shown(value)}, no label ({count:,} image(s) without one); give each its "
                        f"label or remove the image, or {skip_bad_advice()} to leave such images out")


def _declared_classes(meta: dict, size: int, where: str) -> int:
    """The label size of class labels: dataset.json's "num_classes" when given (data that lack the top classes, a
    held-out split say, keep a network's label size), else `size`, the largest class + 1."""
    declared = meta.get("num_classes")
    if declared is None:
        return size
    count, limit, field = _class_index(declared), max_classes(), f'{where}: "num_classes": {_shown(declared)}'
    if count is None:
        raise DatasetError(f"{field} is not a whole number; write the number of classes (at least {max(size, 1)}), or "
                           "remove it")
    if count < max(size, 1):
        raise DatasetError(f"{field} is fewer than the labels use (they go up to class {size - 1}); write at least "
                           f"{max(size, 1)}, or remove it")
    if count > limit:
        raise DatasetError(f"{field} means more than {limit:,} classes; check it, or set ${MAX_CLASSES_VARIABLE} to "
                           "raise the limit")
    return count


def _is_number_text(text: str) -> bool:
    """Whether a string spells a finite number ("0", " 2.0")."""
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _shown(value: Any) -> str:
    """A label as dataset.json writes it (null, NaN, 2.5, [0, 1]), cut short for a message."""
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_index(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


class FileSource(ImageSource):
    """Image files (PNG, JPEG, WebP, ...) in a folder tree or a zip archive, ordered by relative path.

    Labels come from an optional `dataset.json` at the top, as written by NVIDIA's dataset tool:
    {"labels": [["relative/path.png", class_index], ...]} or {"labels": null}, with an optional "num_classes" (the
    label size, when the images lack the top classes) and "class_names" (a record for people, which the dataset tool
    keeps).
    """

    def __init__(self, path: Path):
        self.path = path
        self.location = str(path)
        self.name = path.stem if path.is_file() else path.resolve().name
        self.is_zip = path.is_file()
        self._zip: zipfile.ZipFile | None = None
        self._zip_pid: int | None = None
        self._entries: dict[str, str] = {}  # a zip's names as read here -> as zipfile reads them, where they differ
        if self.is_zip:
            names, self._entries = _zip_names(self._archive(), path)
        else:
            names = _walk_folder(path)
        self.all_files = sorted(n for n in names if is_image_name(n))
        self.files = list(self.all_files)
        self._labels_file = _labels_file(names, self.all_files)
        unread = unread_images(names)
        if not self.files:
            if not self.is_zip and (LMDB_DATA in names or path.name.endswith("_lmdb")):
                raise _lmdb_error(path)
            if any(name.endswith(".tfrecords") for name in names):  # NVIDIA's TensorFlow StyleGAN2 datasets
                raise DatasetError(f"{path}: holds TensorFlow .tfrecords, which are not read here; convert the source "
                                   "images with `stylegan2 dataset --source IMAGES --dest DATA.zip` (or train on their folder)")
            if unread:
                raise DatasetError(f"{path}: its {unread} are not read here, and it holds no other images; convert "
                                   "them to JPEG or PNG")
            archives = sorted(name for name in names if name.lower().endswith(".zip"))
            if archives:
                raise DatasetError(f"{path}: holds no images but {archives[0]}, an archive; unzip it, or pass it as "
                                   "the data")
            raise DatasetError(f"{path}: no images found (looked for {IMAGE_FORMATS} files); check the path")
        if unread:
            warn(f"{path}: left out {unread}, which are not read here; convert them to JPEG or PNG")
        stray = sorted(n for n in names if n.rpartition("/")[2] == LABELS_FILE and n != self._labels_file)
        if stray and self._labels_file is None:
            warn(f"{self.where(stray[0])}: not read, as it is not at the top of {path} (nor in the one "
                 f"folder holding every image); move it there, with paths relative to it")

    def sort_by_folder(self) -> None:
        """Order the images folder by folder ('cats/1.png' before 'cats-2/1.png', which a plain string sort puts
        after it), as NVIDIA's dataset tool lists a folder (its training, and zips, sort the plain strings)."""
        self.all_files.sort(key=lambda name: name.split("/"))
        self.files = list(self.all_files)

    def _archive(self) -> zipfile.ZipFile:
        """The zip handle, opened once per process (a handle shared across a fork would race on its offset)."""
        if self._zip is None or self._zip_pid != os.getpid():
            try:
                self._zip = zipfile.ZipFile(self.path)
            except (zipfile.BadZipFile, OSError) as err:
                raise DatasetError(f"{self.path}: not a readable zip archive ({err}); re-create it") from err
            self._zip_pid = os.getpid()
        return self._zip

    def __getstate__(self) -> dict:
        """Pickle without the zip handle, so DataLoader workers open their own."""
        return dict(self.__dict__, _zip=None, _zip_pid=None)

    def close(self) -> None:
        """Close the zip handle of this process, if open."""
        if self._zip is not None and self._zip_pid == os.getpid():
            self._zip.close()
        self._zip = None

    def _open(self, name: str) -> BinaryIO:
        """Open an image of the source for binary reading (folders: regular files only; zips: readable entries only)."""
        try:
            return self._open_file(name, max_ratio=None)
        except OPEN_ERRORS as err:
            reason = str(err).removeprefix(f"{self.where(name)}: ")
            raise DatasetError(f"{self.where(name)}: cannot open ({reason}); fix or remove it, or {skip_bad_advice()}") from None

    def _open_file(self, name: str, *, max_ratio: float | None) -> BinaryIO:
        """Open a file of the source for binary reading: a folder's if it is a regular file, a zip's entry if
        `check_zip_entry` passes it (`max_ratio`: the most its declared size may exceed its compressed size)."""
        if self.is_zip:
            archive = self._archive()
            info = archive.getinfo(self._entries.get(name, name))
            check_zip_entry(info, str(self.path), max_ratio=max_ratio)
            return archive.open(info)
        return open_regular(self.path / name)

    def __len__(self) -> int:
        return len(self.files)

    def file_identity(self) -> str:
        """The files' names and `file_stamp`s: a zip's own, a folder's images' and dataset.json's."""
        names = [""] if self.is_zip else [*self.files, *([self._labels_file] if self._labels_file else [])]
        digest = hashlib.sha256(str(self.path.resolve()).encode())
        for name in names:
            digest.update(repr((name, file_stamp(self.path / name if name else self.path))).encode())
        return digest.hexdigest()

    def where(self, name: str) -> str:
        """A file of the source in messages: a zip's entries after the archive's path, a folder's as a path of the
        platform (Windows' separators throughout)."""
        return f"{self.path}/{name}" if self.is_zip else str(self.path / name)

    def describe(self, index: int) -> str:
        return self.where(self.files[index])

    def load(self, index: int, *, drop_alpha: bool = False) -> np.ndarray:
        with self._open(self.files[index]) as file:
            return decode_image(file, self.describe(index), drop_alpha=drop_alpha)

    def load_flattened(self, index: int) -> tuple[np.ndarray, bool]:
        with self._open(self.files[index]) as file:
            return decode_flattened(file, self.describe(index))

    def has_color(self) -> bool:
        for index, name in enumerate(self.files):  # stops at the first RGB image, often the first file
            try:
                with self._open(name) as file:
                    if read_header(file, self.describe(index), drop_alpha=True)[2] == 3:
                        return True
            except DatasetError:
                continue  # named (or skipped) when it is decoded
        return False

    def validate(self, *, skip_bad: bool = False) -> tuple[int, int, int]:
        shapes: dict[str, tuple[int, int, int]] = {}
        bad: list[str] = []
        for index, name in enumerate(self.files):
            try:
                with self._open(name) as file:
                    shapes[name] = read_header(file, self.describe(index), full=skip_bad)
            except DatasetError:
                if not skip_bad:
                    raise
                bad.append(name)
        if bad:
            skipped = set(bad)
            self.files = [name for name in self.files if name not in skipped]
            warn(f"{self.path}: skipped {len(bad)} image(s) that could not be read (damaged, or over the pixel limit): "
                 f"{first_names(bad)}")
        if not self.files:
            raise DatasetError(f"{self.path}: none of the {len(bad)} images could be read")
        first = self.files[0]
        for name in self.files[1:]:
            if shapes[name] != shapes[first]:
                raise DatasetError(_mismatch_message(self.path, first, shapes[first], name, shapes[name]))
        return shapes[first]

    def _read_labels_file(self) -> Any:
        """dataset.json parsed, or None when there is none. A zip's entry is refused before it is inflated when it
        declares more than MAX_ZIP_RATIO times its compressed size (a few hundred KB of deflated JSON could inflate
        to gigabytes); a folder's file is read as it is, whatever its size: that size is real, not claimed."""
        if self._labels_file is None:
            return None
        where = self.where(self._labels_file)
        try:
            with self._open_file(self._labels_file, max_ratio=MAX_ZIP_RATIO) as file:
                text = file.read()
        except OPEN_ERRORS as err:
            reason = str(err).removeprefix(f"{where}: ")
            fix = f"store a genuine {LABELS_FILE} in the zip uncompressed (zip -0)" if self.is_zip else "fix it"
            raise DatasetError(f"{where}: cannot read ({reason}); {fix}, or delete it") from None
        try:
            return json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
            raise DatasetError(f"{where}: cannot parse ({type(err).__name__}: {err}); fix the JSON or delete the file") from None

    def _label_table(self, meta: Any) -> dict | None:
        """Path -> label from dataset.json's contents, or None when there is no file or its labels are null."""
        where = self.where(self._labels_file or LABELS_FILE)
        root = (self._labels_file or LABELS_FILE).removesuffix(LABELS_FILE)  # its paths are relative to its folder
        entries = meta.get("labels", ()) if isinstance(meta, dict) else ()
        if entries is None:
            return None
        if not isinstance(entries, list) or not all(
            isinstance(e, list) and len(e) == 2 and isinstance(e[0], str) for e in entries
        ):
            raise DatasetError(
                f'{where}: expected {{"labels": [["path/in/dataset.png", label], ...]}} or {{"labels": null}}'
            )
        # A name written in another Unicode normalization (macOS file systems give NFD, most editors NFC) is the file.
        files = {unicodedata.normalize("NFC", name): name for name in self.all_files}
        table: dict = {}
        conflicting = []
        for path, label in entries:
            name = root + path.replace("\\", "/").removeprefix("./")  # `find .` writes ./cat.png
            key = files.get(unicodedata.normalize("NFC", name), name)
            if key in table and table[key] != label:
                conflicting.append(key)
            table[key] = label
        if conflicting:  # NVIDIA's loader keeps the last entry too; a labelling mistake deserves a word
            warn(f"{where}: lists {len(conflicting)} image(s) again with another label, of which the last is "
                 f"used: {first_names(conflicting)}")
        return table

    def labels(self, *, required: bool, skip_bad: bool = False) -> np.ndarray | None:
        meta = self._read_labels_file()
        self.class_names = meta.get("class_names") if isinstance(meta, dict) else None
        table = None if meta is None else self._label_table(meta)
        where = self.where(self._labels_file or LABELS_FILE)
        if table is None:
            if required:
                raise DatasetError(f"{self.path} has no labels (no {LABELS_FILE}, or its labels are null); "
                                   f"{self._class_folders_advice()}add a {LABELS_FILE} with "
                                   f'{{"labels": [["path.png", class_index], ...]}}, or {NO_LABELS_FIX}')
            return None
        unknown = sorted(set(table) - set(self.all_files))
        if unknown and not skip_bad:
            more = f" ({len(unknown)} entries are like this)" if len(unknown) > 1 else ""
            raise DatasetError(
                f"{where} lists {unknown[0]!r}, which is not an image in {self.path}{more}; remove the entry or add "
                f"the file, or {skip_bad_advice()} to ignore such entries"
            )
        self._drop_unlabelled(table, skip_bad=skip_bad)
        if unknown:
            warn(f"{where}: ignored {len(unknown)} entr{'y' if len(unknown) == 1 else 'ies'} for files that "
                 f"are not images here: {first_names(unknown)}")
        # Every image's label is checked and counted, so images skipped as unreadable do not shrink the classes.
        labelled = [name for name in self.all_files if name in table and not _is_unlabelled(table[name])]
        every, size = _labels_array([table[name] for name in labelled], labelled.__getitem__, where,
                                    "for a continuous value write a list of one number, as [0.5]")
        if every.dtype == np.int64:
            self.num_classes = _declared_classes(meta, size, where)
        elif "num_classes" in meta:
            raise DatasetError(f'{where}: "num_classes" is for class labels, and these are vectors of {size} numbers; '
                               "remove it")
        position = {name: index for index, name in enumerate(labelled)}
        return every[[position[name] for name in self.files]]

    def _class_folders_advice(self) -> str:
        """When the images lie in several folders (one per class, as torchvision's ImageFolder reads them), how to
        label them by folder, to start the advice of the no-labels error; else nothing."""
        folders = sorted({name.partition("/")[0] + "/" for name in self.all_files if "/" in name})
        if len(folders) < 2:
            return ""
        return (f"for its class folders ({first_names(folders, 3)}), write a labelled zip with `stylegan2 dataset "
                f"--source {self.path} --dest DATA.zip --labels-from-folders` and use that; or ")

    def folder_labels(self) -> tuple[np.ndarray, list[str]]:
        """Each image's class from the folder it lies in (sorted folder names are classes 0, 1, ...) and those names,
        for `stylegan2 dataset --labels-from-folders`. In a zip or folder whose images all lie in one folder (a zip of
        the folder of class folders, as Finder's Compress makes), the class folders are inside that one."""
        option = "--labels-from-folders"
        meta = self._read_labels_file()
        if meta is not None and self._label_table(meta) is not None:
            raise DatasetError(f"{option}: {self.where(self._labels_file)} labels the images already; leave out "
                               f"{option} to keep its labels, or delete it")
        parts = [name.split("/") for name in self.files]
        if len({p[0] for p in parts}) == 1 and all(len(p) > 2 for p in parts):
            parts = [p[1:] for p in parts]
        loose = [name for name, p in zip(self.files, parts) if len(p) < 2]
        if loose:
            raise DatasetError(f"{option}: {self.where(loose[0])} is not in a class folder ({len(loose)} image(s) like "
                               "this); move each image into the folder of its class")
        names = sorted({p[0] for p in parts})
        if len(names) < 2:
            raise DatasetError(f"{option}: every image of {self.path} lies in {names[0]}/, which would be one class; "
                               "pass the folder that holds one folder per class")
        index = {folder: i for i, folder in enumerate(names)}
        classes = [index[p[0]] for p in parts]
        return _checked_classes(classes, lambda i: self.files[i], option)[0], names

    def _drop_unlabelled(self, table: dict, *, skip_bad: bool) -> None:
        """Refuse images that have no label (no entry in the label table, or null or NaN), or with `skip_bad` leave
        them out with a warning.

        When no image has a label (the table's paths follow another layout), `skip_bad` refuses too: it would
        leave nothing.
        """
        where = self.where(self._labels_file or LABELS_FILE)
        missing = [name for name in self.files if _is_unlabelled(table.get(name))]
        if not missing:
            return
        if not skip_bad and missing[0] in table:
            raise _unlabelled_error(where, missing[0], table[missing[0]], len(missing))
        if not skip_bad:
            raise DatasetError(
                f"{self.where(missing[0])} has no label in {where} ({len(missing)} image(s) unlabelled); "
                f"add its entry or remove the image, or {skip_bad_advice()} to leave such images out"
            )
        if len(missing) == len(self.files):
            raise DatasetError(
                f"{where}: none of the {len(missing)} images in {self.path} has an entry with a label (e.g. "
                f"{missing[0]!r}), so leaving out unlabelled images would leave none; add their labels, with paths "
                f"relative to {self.path} ('sub/img.png')"
            )
        dropped = set(missing)
        self.files = [name for name in self.files if name not in dropped]
        warn(f"{self.path}: skipped {len(missing)} image(s) without a label in {LABELS_FILE}: {first_names(missing)}")


def _zip_names(archive: zipfile.ZipFile, path: Path) -> tuple[list[str], dict[str, str]]:
    """The entries' names, and those that differ from zipfile's: a name stored without the zip's UTF-8 flag (macOS
    Compress writes them so) is read as UTF-8 where it is valid UTF-8, not as the cp437 zipfile assumes
    ('café.png', not 'cafe╠ü.png'). Two entries of one name (a zip appended to twice) are refused: only the last
    could be read."""
    names, entries = [], {}
    for info in archive.infolist():
        name = info.filename
        if not info.flag_bits & 0x800 and not name.isascii():
            try:
                name = name.encode("cp437").decode("utf-8")
                entries[name] = info.filename
            except UnicodeError:  # not UTF-8: a genuine cp437 name
                pass
        names.append(name)
    leaving = [name for name in names if name.lower().endswith(IMAGE_EXTENSIONS)
               and (name.startswith("/") or ".." in name.replace("\\", "/").split("/"))]
    if leaving:  # never extracted, only looked up; but a zip made elsewhere should not lose images without a word
        warn(f"{path}: skipped {len(leaving)} image entr{'y' if len(leaving) == 1 else 'ies'} whose path leaves the "
             f"zip's top ('..' or a leading '/'): {first_names(leaving)}")
    read = [name for name in names if is_image_name(name) or name.rpartition("/")[2] == LABELS_FILE]  # not a README
    repeated = [name for name, count in Counter(read).items() if count > 1]
    if repeated:
        raise DatasetError(f"{path}: holds {Counter(names)[repeated[0]]} entries named {repeated[0]!r} (a zip appended "
                           "to twice?), of which only the last can be read; re-create the zip")
    return names, entries


def _labels_file(names: list[str], images: list[str]) -> str | None:
    """The dataset.json that labels the images: the one at the top or, when every image lies in one folder (a zip
    of a folder, as Finder's Compress makes), that folder's."""
    if LABELS_FILE in names:
        return LABELS_FILE
    folders = {name.partition("/")[0] for name in images}
    if len(folders) == 1 and all("/" in name for name in images) and f"{next(iter(folders))}/{LABELS_FILE}" in names:
        return f"{next(iter(folders))}/{LABELS_FILE}"
    return None


def _lmdb_error(folder: Path) -> DatasetError:
    """Refuse an LMDB database (LSUN's images, or rosinality's prepare_data.py output), saying what to pass instead."""
    return DatasetError(f"{folder}: an LMDB database (LSUN's or rosinality's prepare_data.py format), which is not read "
                        "here; pass the folder of images it was made from (rosinality's prepare_data.py reads one), or "
                        f"export LSUN's images with their tool (github.com/fyu/lsun: python data.py export {folder} "
                        "--out_dir DIR) and pass that folder")


def _walk_folder(root: Path) -> list[str]:
    """Relative paths of the regular files under `root`, in no particular order.

    Symbolic links (to files or folders alike) are followed only when they resolve inside `root`;
    links pointing outside it, and FIFOs, sockets and devices, are skipped with a warning. Each
    folder is visited once, under its first path in name order, so a link loop ends. A link inside
    `root` to a missing file is listed, so that opening it reports the problem.
    """
    top = root.resolve()
    names: list[str] = []
    outside: list[str] = []
    special: list[str] = []
    seen = {top}
    todo = [(root, "")]
    while todo:
        folder, prefix = todo.pop()
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda e: e.name)
        subfolders = []
        for entry in entries:
            name = prefix + entry.name
            if entry.is_symlink():
                resolved = Path(entry.path).resolve()
                if resolved != top and top not in resolved.parents:
                    outside.append(name)
                    continue
                is_dir, is_file = resolved.is_dir(), not resolved.is_dir()  # a broken link fails when opened
            else:
                resolved = None
                is_dir, is_file = entry.is_dir(follow_symlinks=False), entry.is_file(follow_symlinks=False)
            if is_dir:
                real = resolved or Path(entry.path).resolve()
                if real not in seen:
                    seen.add(real)
                    subfolders.append((Path(entry.path), name + "/"))
            elif is_file:
                names.append(name)
            else:
                special.append(name)
        todo.extend(reversed(subfolders))  # depth first, in name order: the first path to a folder is kept
    for found, what in ((outside, "symbolic link(s) pointing outside the folder"), (special, "non-regular file(s)")):
        if found:
            warn(f"{root}: skipped {len(found)} {what}: {first_names(sorted(found))}")
    return names


def _check_npz(path: Path) -> None:
    """`utils.npz.check_npz` for every array, as a DatasetError."""
    try:
        check_npz(path)
    except ArchiveError as err:
        raise DatasetError(f"{err}; save the arrays with numpy.savez") from None


def _mismatch_message(
    root: Path, first: str, first_shape: tuple[int, int, int], name: str, shape: tuple[int, int, int]
) -> str:
    """Say how image `name` differs from the first image and how to make the set uniform."""
    (h0, w0, c0), (h, w, c) = first_shape, shape
    if (h, w) != (h0, w0):
        return (
            f"{root}/{name} is {w}x{h} but {root}/{first} is {w0}x{h0}; all images must have one size: "
            f"convert with `stylegan2 dataset --source {root} --dest OUT.zip --resolution N "
            "--transform center-crop`"
        )
    kinds = {1: "grayscale", 3: "RGB"}
    return (
        f"{root}/{name} is {kinds[c]} but {root}/{first} is {kinds[c0]}; all images must have the same channels: "
        f"convert with `stylegan2 dataset --source {root} --dest OUT.zip`, which writes grayscale images as RGB "
        "when any image is RGB"
    )


def _to_nhwc(images: np.ndarray, location: str) -> np.ndarray:
    """Images as uint8 [N, H, W, C], inferring the layout from where the 1 or 3 channels are."""
    if images.dtype != np.uint8:
        raise DatasetError(f"{location}: images are {images.dtype}; store them as uint8 in 0..255")
    if images.ndim == 3:
        return images[..., None]  # [N, H, W] -> [N, H, W, 1]
    if images.ndim == 4 and images.shape[3] in (1, 3):
        return images
    if images.ndim == 4 and images.shape[1] in (1, 3):
        return np.ascontiguousarray(images.transpose(0, 2, 3, 1))  # [N, C, H, W] -> [N, H, W, C]
    raise DatasetError(
        f"{location}: images have shape {list(images.shape)}; expected [N, H, W], [N, H, W, C] or "
        "[N, C, H, W] with C = 1 (grayscale) or 3 (RGB)"
    )


class ArraySource(ImageSource):
    """Images held in memory as uint8 [N, H, W, C], with int64 [N] classes or no labels (None).

    `no_labels` says how to add labels, for the error when they are required and there are none. A subclass
    that checks its labels in its own `labels()` may keep them raw.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray | None, *, location: str, name: str,
                 no_labels: str = NO_LABELS_FIX):
        self.images, self._labels = images, labels
        self.location, self.name, self.no_labels = location, name, no_labels

    def __len__(self) -> int:
        return len(self.images)

    def describe(self, index: int) -> str:
        return f"{self.location}[{index}]"

    def load(self, index: int, *, drop_alpha: bool = False) -> np.ndarray:
        return self.images[index]

    def has_color(self) -> bool:
        return self.images.shape[3] == 3

    def validate(self, *, skip_bad: bool = False) -> tuple[int, int, int]:
        if len(self.images) == 0:
            raise DatasetError(f"{self.location}: the image array is empty")
        return tuple(self.images.shape[1:])

    def labels(self, *, required: bool, skip_bad: bool = False) -> np.ndarray | None:
        if self._labels is None and required:
            raise DatasetError(f"{self.location} has no labels; {self.no_labels}")
        return self._labels


class NpzSource(ArraySource):
    """uint8 image arrays in a NumPy .npz, loaded into memory once; labels from the matching y/labels array.

    Images may be laid out [N, H, W], [N, H, W, C] or [N, C, H, W] with C = 1 or 3.
    """

    IMAGE_KEYS = ("x_train", "images", "x")

    def __init__(self, path: Path, key: str | None = None):
        self.path = path
        location = str(path) + (f":{key}" if key else "")
        if not path.exists():
            raise DatasetError(f"{path}: no such file; check the path")
        if not path.is_file():
            raise DatasetError(f"{path}: not a regular file; pass a .npz saved with numpy.savez")
        try:
            _check_npz(path)
            with np.load(path, allow_pickle=False) as archive:
                keys = list(archive.files)
                self.key = key or next((k for k in self.IMAGE_KEYS if k in keys), None)
                if self.key not in keys:
                    wanted = f"array {key!r}" if key else f"image array named {' / '.join(self.IMAGE_KEYS)}"
                    raise DatasetError(
                        f"{path}: no {wanted}; it has {', '.join(keys) or 'no arrays'}: "
                        f"pick one with {path}:KEY"
                    )
                images = archive[self.key]
                self.label_key = next((k for k in self._label_keys(self.key) if k in keys), None)
                labels = archive[self.label_key] if self.label_key else None  # checked by labels()
        except DatasetError:
            raise
        except (OSError, ValueError, zipfile.BadZipFile, RuntimeError, NotImplementedError) as err:
            raise DatasetError(f"{path}: cannot read as .npz ({err}); save it with numpy.savez") from None
        super().__init__(_to_nhwc(images, location), labels, location=location, name=path.stem)

    @staticmethod
    def _label_keys(image_key: str) -> list[str]:
        """Label arrays that go with an image array: x_train -> y_train, images -> labels, then `labels`."""
        keys = ["y" + image_key[1:]] if image_key.startswith("x") else []
        keys += [image_key.replace("images", "labels"), "labels"]
        return [k for k in dict.fromkeys(keys) if k != image_key]

    def labels(self, *, required: bool, skip_bad: bool = False) -> np.ndarray | None:
        if self._labels is None:
            if required:
                raise DatasetError(
                    f"{self.path} has no labels for {self.key!r} (looked for {', '.join(self._label_keys(self.key))}); "
                    f"add a label array, or {NO_LABELS_FIX}"
                )
            return None
        where = f"{self.path}:{self.label_key}"
        if len(self._labels) != len(self.images):
            raise DatasetError(
                f"{where} has {len(self._labels)} labels for {len(self.images)} images in {self.key!r}; "
                "store one label per image"
            )
        labels = self._labels
        if not np.issubdtype(labels.dtype, np.number) or labels.ndim not in (1, 2):
            raise DatasetError(
                f"{where}: labels must be classes [N] (or a column [N, 1]) or number vectors [N, D], got "
                f"{self._labels.dtype} {list(self._labels.shape)}"
            )
        if labels.ndim == 2 and labels.shape[1] == 1 and _is_class_column(labels):
            labels = labels[:, 0]  # [N, 1] classes, as Keras's CIFAR-10 and df[['label']].values give them
        kept = self._drop_unlabelled(labels, skip_bad=skip_bad) if labels.ndim == 1 else np.arange(len(labels))
        labels = labels[kept]

        def name(index: int) -> str:
            return f"{self.label_key}[{kept[index]}]"

        if labels.ndim == 1:
            array, size = _labels_array(labels.tolist(), name, str(self.path),
                                        f"for a continuous value store {self.label_key!r} as a column [N, 1] of floats "
                                        f"({self.label_key}[:, None])")
        else:
            array, size = _vector_labels(labels, name, str(self.path))
        if array.dtype == np.int64:
            self.num_classes = size
        return array

    def _drop_unlabelled(self, labels: np.ndarray, *, skip_bad: bool) -> np.ndarray:
        """The indices of the images whose label is not NaN (no label); with `skip_bad` the others are left out, with a
        warning, else refused."""
        unlabelled = np.flatnonzero(np.isnan(labels)) if np.issubdtype(labels.dtype, np.floating) else []
        if len(unlabelled) == 0:
            return np.arange(len(labels))
        first = f"{self.label_key}[{unlabelled[0]}]"
        if not skip_bad:
            raise _unlabelled_error(str(self.path), first, float("nan"), len(unlabelled))
        if len(unlabelled) == len(labels):
            raise DatasetError(f"{self.path}: every label in {self.label_key!r} is NaN, so leaving out unlabelled images "
                               "would leave none; store the labels")
        kept = np.flatnonzero(~np.isnan(labels))
        self.images, self._labels = self.images[kept], self._labels[kept]
        warn(f"{self.path}: skipped {len(unlabelled)} image(s) without a label (NaN in {self.label_key!r}): "
             f"{first_names([f'{self.key}[{i}]' for i in unlabelled[:6]])}")
        return kept


def _is_class_column(labels: np.ndarray) -> bool:
    """Whether an [N, 1] label array holds classes: every number a class index as `_class_index` reads one (an integer,
    or a whole-number float; NaN is no label), as in an [N] array. Fractions make it one continuous label."""
    return all(_class_index(v) is not None or _is_unlabelled(v) for v in labels[:, 0].tolist())


SHAPES_CACHE_BYTES = 256 * 2**20  # builtin:shapes keeps its renders in memory up to this size (the default set: 30 MB)


class ShapesSource(ImageSource):
    """`builtin:shapes`: `size` coloured shapes rendered on demand at `resolution`, labelled by shape class.

    Each render is kept (read-only) once made, when all of them fit in SHAPES_CACHE_BYTES: a training
    run draws every item many times, and rendering one costs more than copying it.
    """

    num_classes = len(SHAPE_CLASSES)

    def __init__(self, *, size: int = SHAPES_SIZE, seed: int = 0, resolution: int = 32):
        if size < 1:
            raise DatasetOptionError(f"builtin:shapes: n must be >= 1, got {size}")
        self.size, self.seed, self.resolution = size, seed, resolution
        self.name = "shapes"
        self.location = f"builtin:shapes?n={size}&seed={seed}"
        fits = size * resolution * resolution * 3 <= SHAPES_CACHE_BYTES
        self._renders = np.empty((size, resolution, resolution, 3), np.uint8) if fits else None  # pages fill as used
        self._rendered = np.zeros(size, bool)

    def __getstate__(self) -> dict:
        """Pickled (to data-loader workers) without the renders: each process renders its own."""
        return {"size": self.size, "seed": self.seed, "resolution": self.resolution}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)

    def __len__(self) -> int:
        return self.size

    def describe(self, index: int) -> str:
        return f"{self.location}[{index}]"

    def load(self, index: int, *, drop_alpha: bool = False) -> np.ndarray:
        if not 0 <= index < self.size:
            raise IndexError(f"shape index {index} out of range for {self.size} items")
        if self._renders is None:
            return render_shape(index, self.resolution, self.seed).image.transpose(1, 2, 0)  # [H, W, 3]
        if not self._rendered[index]:
            self._renders[index] = render_shape(index, self.resolution, self.seed).image.transpose(1, 2, 0)
            self._rendered[index] = True
        image = self._renders[index]
        image.flags.writeable = False  # a view of the cache: nobody may paint over a render
        return image

    def has_color(self) -> bool:
        return True

    def validate(self, *, skip_bad: bool = False) -> tuple[int, int, int]:
        return self.resolution, self.resolution, 3

    def labels(self, *, required: bool, skip_bad: bool = False) -> np.ndarray:
        return np.array([shape_label(i) for i in range(self.size)], dtype=np.int64)


def _open_builtin(spec: str, resolution: int | None) -> ShapesSource:
    """Parse `builtin:NAME?key=value&...` into a builtin source."""
    name, _, query = spec.removeprefix("builtin:").partition("?")
    if name not in BUILTINS:
        raise DatasetOptionError(f"{spec}: unknown builtin dataset {name!r}; available: {', '.join(BUILTINS)}")
    params = {key: values[-1] for key, values in parse_qs(query, keep_blank_values=True).items()}
    unknown = sorted(set(params) - {"n", "seed"})
    if unknown:
        raise DatasetOptionError(f"{spec}: unknown parameter {unknown[0]!r}; builtin:shapes takes n and seed")
    try:
        size, seed = int(params.get("n", SHAPES_SIZE)), int(params.get("seed", 0))
    except ValueError as err:
        raise DatasetOptionError(f"{spec}: n and seed must be integers ({err})") from err
    return ShapesSource(size=size, seed=seed, resolution=resolution or 32)


def open_source(spec: str | os.PathLike, *, resolution: int | None = None) -> ImageSource:
    """Open a source from a dataset spec: a folder, a .zip, a .npz[:KEY], MNIST's *-images-idx3-ubyte[.gz] (with
    the labels file beside it when there), CIFAR-10's python tarball, or builtin:shapes[?n=N&seed=S].

    `resolution` only matters to builtin sets, which are rendered at it (default 32).
    """
    spec = os.fspath(spec)
    if spec.startswith("builtin:"):
        return _open_builtin(spec, resolution)
    path_part, _, key = spec.rpartition(":")
    if path_part.lower().endswith(".npz") and key:
        return NpzSource(Path(path_part), key)
    path = Path(spec)
    if not path.exists():
        raise DatasetError(f"{spec}: no such file or folder; check the path (or use builtin:shapes)")
    if path.is_dir():
        return FileSource(path)
    if not path.is_file():
        raise DatasetError(f"{spec}: not a regular file or folder (a FIFO or device?); pass a folder, a .zip or a .npz")
    if path.suffix.lower() == ".npz":
        return NpzSource(path)
    if path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
        return FileSource(path)
    if is_idx_images(path):
        images, labels = read_mnist(path)
        return ArraySource(images, labels, location=spec, name=path.name.removesuffix(".gz"),
                           no_labels=f"put {idx_labels_path(path).name} beside it, or {NO_LABELS_FIX}")
    if path.name.lower().endswith((".tar", ".tar.gz", ".tgz")):
        images, labels = read_cifar10(path)
        name = path.name.removesuffix(".gz").removesuffix(".tgz").removesuffix(".tar")  # cifar-10-python
        return ArraySource(images, labels, location=spec, name=name)
    if path.name == LMDB_DATA:
        raise _lmdb_error(path.parent)
    raise DatasetError(f"{spec}: not a dataset; pass a folder of images, a .zip, a .npz, MNIST's "
                       "train-images-idx3-ubyte.gz, CIFAR-10's cifar-10-python.tar.gz or builtin:shapes")
