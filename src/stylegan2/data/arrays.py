"""Images held in memory as arrays: MNIST's and CIFAR-10's downloads once read, and NumPy .npz files.

Arrays are checked once when loaded (uint8, a known layout), and a .npz's labels when they are asked for.
"""

import zipfile
from pathlib import Path

import numpy as np

from ..utils.files import ArchiveError
from ..utils.notes import warn
from ..utils.npz import check_npz
from ..utils.text import first_names
from .errors import DatasetError, labels_off_advice
from .image_source import ImageSource
from .labels import class_index, is_unlabelled, labels_array, unlabelled_error, vector_labels


def _check_npz(path: Path) -> None:
    """`utils.npz.check_npz` for every array, as a DatasetError."""
    try:
        check_npz(path)
    except ArchiveError as err:
        raise DatasetError(f"{err}; save the arrays with numpy.savez") from None


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

    `no_labels` says how to add labels ("put its labels file beside it"), for the error when they are required and
    there are none, which then says how the caller turns labels off. A subclass that checks its labels in its own
    `labels()` may keep them raw.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray | None, *, location: str, name: str,
                 no_labels: str = ""):
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
            raise DatasetError(f"{self.location} has no labels; {self.no_labels}{', or ' if self.no_labels else ''}"
                               f"{labels_off_advice()}")
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
                    f"add a label array, or {labels_off_advice()}"
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
            array, size = labels_array(labels.tolist(), name, str(self.path),
                                        f"for a continuous value store {self.label_key!r} as a column [N, 1] of floats "
                                        f"({self.label_key}[:, None])")
        else:
            array, size = vector_labels(labels, name, str(self.path))
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
            raise unlabelled_error(str(self.path), first, float("nan"), len(unlabelled))
        if len(unlabelled) == len(labels):
            raise DatasetError(f"{self.path}: every label in {self.label_key!r} is NaN, so leaving out unlabelled images "
                               "would leave none; store the labels")
        kept = np.flatnonzero(~np.isnan(labels))
        self.images, self._labels = self.images[kept], self._labels[kept]
        warn(f"{self.path}: skipped {len(unlabelled)} image(s) without a label (NaN in {self.label_key!r}): "
             f"{first_names([f'{self.key}[{i}]' for i in unlabelled[:6]])}")
        return kept


def _is_class_column(labels: np.ndarray) -> bool:
    """Whether an [N, 1] label array holds classes: every number a class index as `class_index` reads one (an integer,
    or a whole-number float; NaN is no label), as in an [N] array. Fractions make it one continuous label."""
    return all(class_index(v) is not None or is_unlabelled(v) for v in labels[:, 0].tolist())
