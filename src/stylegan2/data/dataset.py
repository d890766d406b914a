"""The training dataset: validated power-of-two uint8 images (square, 2:1 or 1:2) with optional one-hot labels."""

import hashlib
import os
import warnings

import numpy as np
import PIL
import torch

from ..models.aspect import ASPECTS, SQUARE, aspect_of
from ..utils.notes import warn
from ..utils.text import first_names
from .errors import DatasetError
from .files import LABELS_FILE
from .image_source import ImageSource
from .images import DECODE_VERSION, check_side, is_power_of_two, pad_center
from .shapes import ShapesSource
from .sources import open_source


def _target_resolution(location: str, height: int, width: int, requested: int | None) -> int:
    """Resolution (shorter side) to serve images at: the requested one (padding smaller square images), or their own."""
    fix = (f"convert with `stylegan2 dataset --source {location} --dest OUT.zip --transform center-crop` and "
           "--resolution N (square) or --width W --height H (2:1 or 1:2; --transform letterbox pads instead of cropping)")
    if height != width:
        short = min(height, width)
        if aspect_of(height, width) is None or short < 4 or not is_power_of_two(short):
            raise DatasetError(f"{location}: images are {width}x{height}, not square, 2:1 or 1:2 with power-of-two sides; {fix}")
        if requested is not None and requested != short:
            raise DatasetError(f"{location}: images are {width}x{height}, so their resolution (shorter side) is {short}, "
                               f"not {requested}; drop --resolution or {fix}")
        return short
    if requested is not None:
        check_side("--resolution", requested)
        if height > requested:
            raise DatasetError(f"{location}: images are {width}x{height}, larger than resolution {requested}; {fix}")
        return int(requested)
    if not is_power_of_two(height) or height < 4:
        padded = max(4, 1 << (height - 1).bit_length())
        raise DatasetError(
            f"{location}: images are {width}x{height}, not a power of two; pass --resolution {padded} "
            f"(resolution={padded}) to pad them with black"
        )
    return height


class ImageDataset(torch.utils.data.Dataset):
    """Images as uint8 [C, H, W] with float32 one-hot labels, validated when opened.

    max_size keeps a seeded random subset (NVIDIA's rule, so the same seed picks the same images);
    mirror then doubles the set with x-flipped copies. Square images smaller than `resolution` are
    centred on black. Images twice as wide as tall or tall as wide (`aspect` "2:1" or "1:2",
    width:height) are served as they are; `resolution` is then their shorter side, as a network's.
    """

    def __init__(
        self,
        source: ImageSource,
        *,
        resolution: int | None = None,
        max_size: int | None = None,
        use_labels: bool = False,
        mirror: bool = False,
        skip_bad: bool = False,
        seed: int = 0,
    ):
        height, width, channels = source.validate(skip_bad=skip_bad)
        self.source = source
        self.name = source.name
        self._labels = source.labels(required=True, skip_bad=skip_bad) if use_labels else None  # int64 [N] or float32 [N, D]
        if self._labels is None:
            self.label_dim = 0
        elif self._labels.dtype == np.int64:
            self.label_dim = source.num_classes or int(self._labels.max()) + 1
            _note_empty_classes(source.location, self._labels, self.label_dim)
        else:
            self.label_dim = self._labels.shape[1]
        # Labels before sizes: the dataset tool that labels class folders also converts any size (datasets.md).
        self.resolution = _target_resolution(source.location, height, width, resolution)
        self.aspect = aspect_of(height, width) or SQUARE
        factor_h, factor_w = ASPECTS[self.aspect]
        self.height, self.width = self.resolution * factor_h, self.resolution * factor_w
        self.num_channels = channels
        self._pad = (height, width) != (self.height, self.width)

        raw_idx = np.arange(len(source), dtype=np.int64)
        if max_size is not None:
            if max_size < 1:
                raise DatasetError(f"max_size must be >= 1, got {max_size}")
            if max_size < raw_idx.size:
                np.random.RandomState(seed).shuffle(raw_idx)
                raw_idx = np.sort(raw_idx[:max_size])
        flips = np.zeros(raw_idx.size, dtype=bool)
        if mirror:
            raw_idx = np.concatenate([raw_idx, raw_idx])
            flips = np.concatenate([flips, ~flips])
        self._raw_idx = raw_idx
        self._flips = flips

    @property
    def has_labels(self) -> bool:
        """Whether items carry a non-empty label (conditional training)."""
        return self.label_dim > 0

    @property
    def has_class_labels(self) -> bool:
        """Whether the labels are class indices (served one-hot), not vectors of values."""
        return self._labels is not None and self._labels.dtype == np.int64

    def unused_labels(self) -> str | None:
        """What labels the source has though this dataset was opened without them ("labels for 3 classes"), for the
        note that --cond was left out; None when it has none, or none that open. A builtin set's labels are its ground
        truth, not the user's: training on it unconditionally is the usual demo, so they count as none."""
        if self._labels is not None or isinstance(self.source, ShapesSource):
            return None
        try:
            with warnings.catch_warnings():  # its notes belong to a run that uses the labels
                warnings.simplefilter("ignore")
                labels = self.source.labels(required=False)
        except DatasetError:
            return None
        if labels is None:
            return None
        if labels.dtype == np.int64:
            return f"labels for {self.source.num_classes or int(labels.max(initial=-1)) + 1} classes"
        return f"label vectors of {labels.shape[1]} numbers"

    @property
    def distinct_len(self) -> int:
        """Items that are not mirrored copies: the first `distinct_len` items (--mirror appends their flips)."""
        return int((~self._flips).sum())

    def assign_labels(self, labels: np.ndarray, num_classes: int) -> None:
        """Use these class indices (int [distinct_len], mirrored copies share them) as the labels, e.g. clusters."""
        by_raw = np.zeros(len(self.source), dtype=np.int64)
        by_raw[self._raw_idx[: self.distinct_len]] = labels
        self._labels, self.label_dim = by_raw, int(num_classes)

    def assigned_labels(self) -> np.ndarray:
        """The class indices `assign_labels` took (int [distinct_len])."""
        if self._labels is None or self._labels.ndim != 1:
            raise ValueError("no class indices were assigned to this dataset")
        return self._labels[self._raw_idx[: self.distinct_len]]

    def class_indices(self) -> np.ndarray:
        """The class of every item (int64 [len(self)]), mirrored copies included; for class labels only."""
        if not self.has_class_labels:
            raise ValueError("the dataset has no class labels")
        return self._labels[self._raw_idx]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """Shape of every image: (channels, height, width)."""
        return self.num_channels, self.height, self.width

    def file_identity(self) -> str | None:
        """A key of the images this dataset serves that reads no pixels: its source's files (see
        ImageSource.file_identity), which of them and how, and the decoder; None when the source has no files."""
        source = self.source.file_identity()
        if source is None:
            return None
        digest = hashlib.sha256(repr((source, DECODE_VERSION, PIL.__version__, self.image_shape, self.label_dim)).encode())
        labels = () if self._labels is None else (self._labels,)  # clusters assigned in memory, say
        for array in (self._raw_idx, self._flips, *labels):  # the --max-size subset, the mirrored copies
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()

    def summary(self) -> str:
        """One line for run logs and --dry-run: 'cats, 5000 images, 3x256x256, 0 label dims'."""
        return f"{self.name}, {len(self)} images, {self.num_channels}x{self.height}x{self.width}, {self.label_dim} label dims"

    def __len__(self) -> int:
        return int(self._raw_idx.size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(image uint8 [C, H, W], label float32 [label_dim]) of item `index`."""
        image = self.source.load(int(self._raw_idx[index]))  # [h, w, C]
        if self._pad:
            image = pad_center(image, self.height, self.width)  # [H, W, C]
        image = image.transpose(2, 0, 1)  # [C, H, W]
        if self._flips[index]:
            image = image[:, :, ::-1]
        return image.copy(), self.get_label(index)

    def get_label(self, index: int) -> np.ndarray:
        """Label of item `index`: one-hot float32 [label_dim] for classes, the vector itself otherwise."""
        if self._labels is None:
            return np.zeros(0, dtype=np.float32)
        label = self._labels[self._raw_idx[index]]
        if self._labels.dtype != np.int64:
            return label.copy()
        onehot = np.zeros(self.label_dim, dtype=np.float32)
        onehot[label] = 1.0
        return onehot

    def close(self) -> None:
        """Release open files (the zip handle of this process)."""
        close = getattr(self.source, "close", None)
        if close is not None:
            close()

    def __repr__(self) -> str:
        labels = f"{self.label_dim} classes" if self.has_labels else "no labels"
        return (
            f"ImageDataset({self.source.location!r}: {len(self)} images, {self.num_channels}x{self.height}x"
            f"{self.width}, {labels})"
        )


def _note_empty_classes(location: str, labels: np.ndarray, label_dim: int) -> None:
    """A note naming the classes no image has: a conditional network learns nothing for them, yet takes them."""
    empty = np.setdiff1d(np.arange(label_dim), labels)
    if empty.size:
        warn(f"{location}: {empty.size} of its {label_dim} classes have no image: "
             f"{first_names([str(c) for c in empty[:6]])}; a conditional network learns nothing for them")


def label_size_mismatch(dataset: torch.utils.data.Dataset, c_dim: int) -> str:
    """Why a conditional network of `c_dim` label dims cannot take this dataset's labels, and what to do, for the
    errors of metrics and --resume."""
    label_dim = getattr(dataset, "label_dim", 0)
    if label_dim == 0:
        return "the dataset was opened without labels; open it with labels (use_labels=True)"
    if not getattr(dataset, "has_class_labels", True):
        return (f"the dataset's labels are vectors of {label_dim} numbers and the network takes {c_dim}; use data "
                "labelled as its training data were")
    if label_dim < c_dim:
        return (f"the dataset's labels go up to class {label_dim - 1} while the network has {c_dim} classes; for data "
                f'that lack the top classes, write "num_classes": {c_dim} into its {LABELS_FILE}')
    return (f"the dataset's labels go up to class {label_dim - 1} while the network has {c_dim} classes "
            f"(0 to {c_dim - 1}); use data labelled for the network's classes")


def absolute_spec(data: str | os.PathLike) -> str:
    """A dataset spec that names the same data from any directory: a path made absolute (builtin: specs as they are)."""
    spec = os.fspath(data)
    return spec if spec.startswith("builtin:") else os.path.abspath(os.path.expanduser(spec))


def open_dataset(
    spec: str | os.PathLike,
    *,
    resolution: int | None = None,
    max_size: int | None = None,
    use_labels: bool = False,
    mirror: bool = False,
    skip_bad: bool = False,
    seed: int = 0,
) -> ImageDataset:
    """Open and validate a dataset for training.

    spec: a folder of images, a .zip (NVIDIA's dataset format), a .npz of uint8 arrays (`file.npz:KEY`
    picks the array), or `builtin:shapes[?n=N&seed=S]`. Problems found from the files' headers and
    dataset.json (unreadable header, mixed sizes or channels, missing labels, ...) raise DatasetError
    here, before training starts. Image data is decoded only when an item is read, so a file damaged
    after its header fails then; `skip_bad` decodes every image here instead (slower for large images)
    and skips unreadable ones, and images without a label when `use_labels`, with a warning.
    """
    if resolution is not None:
        check_side("--resolution", resolution)  # before a builtin set is rendered at it
    return ImageDataset(
        open_source(spec, resolution=resolution),
        resolution=resolution,
        max_size=max_size,
        use_labels=use_labels,
        mirror=mirror,
        skip_bad=skip_bad,
        seed=seed,
    )
