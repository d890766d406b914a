"""Where images come from: a folder or zip of image files, a .npz of arrays, MNIST's idx files, CIFAR-10's
python tarball, or a builtin synthetic set.

A source reads raw images (any size, [H, W, C] uint8) and their labels by index; `ImageDataset` and the
dataset tool build on it. Sources never write to what they read. `open_source` picks the source for a spec;
the sources themselves live in files, arrays and shapes.
"""

import os
import zipfile
from pathlib import Path
from urllib.parse import parse_qs

from ..utils.text import word_list
from .arrays import ArraySource, NpzSource
from .downloads import idx_labels_path, is_idx_images, read_cifar10, read_mnist
from .errors import DatasetError, DatasetOptionError
from .files import LMDB_DATA, FileSource, lmdb_error
from .image_source import ImageSource
from .shapes import SHAPES_SIZE, ShapesSource

DATASET_KINDS = (
    "a folder of images",
    "a .zip",
    "a .npz[:KEY]",
    "MNIST's train-images-idx3-ubyte[.gz]",
    "CIFAR-10's cifar-10-python.tar.gz",
    "builtin:shapes[?n=N&seed=S]",
)
"""What `open_source` opens, as users write it: its error and every command's --data (or --source) help list them."""
DATASET_KINDS_TEXT = word_list(DATASET_KINDS, "or")
BUILTINS = ("shapes",)


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
    """Open a source from a dataset spec, one of `DATASET_KINDS` (MNIST's labels come from the labels file beside
    its images when there).

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
                           no_labels=f"put {idx_labels_path(path).name} beside it")
    if path.name.lower().endswith((".tar", ".tar.gz", ".tgz")):
        images, labels = read_cifar10(path)
        name = path.name.removesuffix(".gz").removesuffix(".tgz").removesuffix(".tar")  # cifar-10-python
        return ArraySource(images, labels, location=spec, name=name)
    if path.name == LMDB_DATA:
        raise lmdb_error(path.parent)
    raise DatasetError(f"{spec}: not a dataset; pass {DATASET_KINDS_TEXT}")
