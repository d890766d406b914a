"""Standard datasets as they are downloaded: MNIST's idx files and CIFAR-10's python tarball.

These are the sources NVIDIA's dataset_tool.py converts besides folders and zips. Both are read into
uint8 arrays without running anything from the file: idx files are a header and raw bytes, and the
pickles in CIFAR-10's tarball go through a scan and an unpickler that builds only what those batches
hold (dicts, lists, ints, bytes and uint8 NumPy arrays).
"""

import gzip
import io
import math
import pickle
import struct
import tarfile
import zlib
from pathlib import Path

import numpy as np
import torch

from ..io.pickle_scan import PickleRejected, ScanLimits, scan_pickle
from ..io.safe_pickle import ForbiddenGlobal, NumpyArray, NumpyArrayUnpickler
from ..utils.files import MAX_ZIP_RATIO
from .errors import DatasetError

IDX_UBYTE = 0x08  # the idx type code of unsigned bytes, the only one MNIST uses
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"
CIFAR10_BATCHES = tuple(f"cifar-10-batches-py/data_batch_{i}" for i in range(1, 6))  # the 50,000 training images
CIFAR10_CLASSES = 10
CIFAR10_MAX_MEMBERS = 16  # entries in the tarball (it has 8), so a crafted one cannot make us skip through millions
CIFAR10_MAX_MEMBER_BYTES = 64 * 2**20  # bytes of one entry (a batch is 31 MB), so skipping one is cheap


def is_idx_images(path: Path) -> bool:
    """Whether a file is named as MNIST's image files are: train-images-idx3-ubyte[.gz], t10k-images.idx3-ubyte, ..."""
    return path.name.lower().removesuffix(".gz").endswith("idx3-ubyte")


def idx_labels_path(images_path: Path) -> Path:
    """Where MNIST keeps the labels of an images file: train-images-idx3-ubyte.gz -> train-labels-idx1-ubyte.gz."""
    name = images_path.name.replace("idx3", "idx1")
    head, found, tail = name.rpartition("images")
    return images_path.with_name(head + "labels" + tail if found else name)


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """A uint8 array from an idx file, gzipped (.gz) or not.

    The format: bytes 0, 0, IDX_UBYTE, ndim; then `ndim` big-endian uint32 sizes; then the values. A file may
    declare at most its own size, or MAX_ZIP_RATIO times that when gzipped, so a small crafted file cannot claim
    gigabytes.
    """
    gzipped = path.suffix.lower() == ".gz"
    opener = gzip.open if gzipped else open
    try:
        with opener(path, "rb") as file:
            header = file.read(4 + 4 * ndim)
            if header[:4] != bytes([0, 0, IDX_UBYTE, ndim]) or len(header) != 4 + 4 * ndim:
                raise DatasetError(f"{path}: not an idx{ndim}-ubyte file (MNIST's format); check the file, or download "
                                   "it again")
            shape = struct.unpack(f">{ndim}I", header[4:])
            declared = math.prod(shape)
            if min(shape) == 0:
                raise DatasetError(f"{path}: its header declares an empty array {list(shape)}")
            if declared > (MAX_ZIP_RATIO if gzipped else 1) * path.stat().st_size:
                raise DatasetError(f"{path}: its header declares {declared:,} bytes, more than the file can hold; "
                                   "the file is corrupt or crafted")
            data = file.read(declared)
            extra = file.read(1)
    except (OSError, EOFError, zlib.error) as err:
        raise DatasetError(f"{path}: cannot read ({err}); download it again") from None
    if len(data) < declared:
        raise DatasetError(f"{path}: ends after {len(data):,} of the {declared:,} bytes its header declares; the file "
                           "is cut short, download it again")
    if extra:
        raise DatasetError(f"{path}: holds more than the {declared:,} bytes its header declares; the file is altered, "
                           "download it again")
    return np.frombuffer(data, np.uint8).reshape(shape)


def read_mnist(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """MNIST-style images (uint8 [N, H, W, 1]) and, when the labels file lies beside them, their classes (int64 [N])."""
    images = read_idx(path, 3)[..., None]
    labels_path = idx_labels_path(path)
    if not labels_path.exists():
        return images, None
    labels = read_idx(labels_path, 1)
    if len(labels) != len(images):
        raise DatasetError(f"{labels_path} has {len(labels):,} labels for the {len(images):,} images in {path}; "
                           "download the matching pair")
    return images, labels.astype(np.int64)


def _read_cifar_batch(data: bytes) -> tuple[np.ndarray, list]:
    """(images uint8 [N, 3072], labels) from one batch's pickle, after scan_pickle has passed it."""
    stream = io.BytesIO(data)
    scan_pickle(stream, len(data), ScanLimits())
    stream.seek(0)
    try:
        batch = NumpyArrayUnpickler(stream, encoding="bytes").load()  # Python 2's str becomes bytes
    except ForbiddenGlobal as err:
        raise pickle.UnpicklingError(f"it names {err.qualified_name}, which a CIFAR-10 batch does not hold") from None
    if not isinstance(batch, dict):
        raise pickle.UnpicklingError("it holds no dict")
    batch = {key.decode("latin1") if isinstance(key, bytes) else key: value for key, value in batch.items()}
    images, labels = batch.get("data"), batch.get("labels")
    if (not isinstance(images, NumpyArray) or images.tensor is None or images.tensor.dtype != torch.uint8
            or images.tensor.ndim != 2 or images.tensor.shape[1] != 3072):
        raise pickle.UnpicklingError("its 'data' is not a uint8 array of 32x32x3 rows")
    if (not isinstance(labels, list) or len(labels) != len(images.tensor)
            or not all(type(v) is int and 0 <= v < CIFAR10_CLASSES for v in labels)):
        raise pickle.UnpicklingError(f"its 'labels' is not a list of one class (0 to {CIFAR10_CLASSES - 1}) per image")
    return images.tensor.numpy(), labels


def read_cifar10(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10's 50,000 training images (uint8 [N, 32, 32, 3]) and classes (int64 [N]) from its python tarball.

    The five batches hold NCHW rows in pickles; NVIDIA's dataset_tool reads the same five, in the same order.
    """
    batches: dict[str, tuple[np.ndarray, list]] = {}
    again = f"download cifar-10-python.tar.gz again from {CIFAR10_URL}"
    try:
        with tarfile.open(path, "r:*") as tar:
            for count, member in enumerate(tar, start=1):
                if count > CIFAR10_MAX_MEMBERS or member.size > CIFAR10_MAX_MEMBER_BYTES:
                    break  # not CIFAR-10's tarball
                if member.name in CIFAR10_BATCHES and member.isfile():
                    where = f"{path}/{member.name}"
                    try:
                        batches[member.name] = _read_cifar_batch(tar.extractfile(member).read())
                    except (pickle.UnpicklingError, PickleRejected, ValueError, TypeError, EOFError) as err:
                        raise DatasetError(f"{where}: not a CIFAR-10 batch ({err}); {again}") from None
                if len(batches) == len(CIFAR10_BATCHES):
                    break
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise DatasetError(f"{path}: cannot read as a tar archive ({err}); {again}") from None
    if len(batches) != len(CIFAR10_BATCHES):
        raise DatasetError(f"{path}: a tar archive, but not CIFAR-10's python version (no cifar-10-batches-py/data_batch_1 "
                           "to 5); extract it and pass the folder of images, or get CIFAR-10's python version from "
                           f"{CIFAR10_URL}")
    images = np.concatenate([batches[name][0] for name in CIFAR10_BATCHES])  # [N, 3072]
    labels = np.concatenate([np.asarray(batches[name][1], np.int64) for name in CIFAR10_BATCHES])
    return np.ascontiguousarray(images.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)), labels  # NCHW -> NHWC
