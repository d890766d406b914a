"""Read NVIDIA's network pickles without running them: an allow-list unpickler with inert stand-ins.

A StyleGAN2-ADA pickle names a handful of Python callables (their persistence hook, tensor
rebuilders, NumPy scalars); a TensorFlow StyleGAN2 pickle names their `Network` class and NumPy's
array rebuilder. A normal unpickler imports and calls whatever a pickle names, so a crafted file
can run any code. Here every name resolves through a fixed table to a small function or class
written below that only builds tensors, dicts and numbers; any other name stops the load before
anything runs. Embedded source code (`module_src`, `build_module_src`) is kept as text and never
executed.

Each stream is first checked by `pickle_scan` (sizes, nesting depth, no BUILD on a class or
function), and each load gets its own copies of the stand-ins, so nothing a file does can change
what a later load sees.
"""

from __future__ import annotations

import collections
import io
import math
import pickle
import types
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable

import numpy as np
import torch

from .pickle_scan import ScanLimits, scan_pickle

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # first object of a legacy (non-zip) torch.save stream
LEGACY_PROTOCOL = 1001
TF_NETWORK = "dnnlib.tflib.network.Network"  # the class of TensorFlow StyleGAN2's pickled networks


class ForbiddenGlobal(Exception):
    """Raised by the unpicklers when a pickle names a global outside the allow-list."""

    def __init__(self, qualified_name: str) -> None:
        super().__init__(qualified_name)
        self.qualified_name = qualified_name


@dataclass
class PersistentObject:
    """A module pickled by NVIDIA's persistence mechanism: class name and instance dict, never run."""

    class_name: str
    state: dict[str, Any]
    module_src: str = ""  # the source of the defining module, as text: read to tell code versions apart, never run


@dataclass
class _Storage:
    """A storage read from a legacy torch.save payload: one flat tensor of its dtype."""

    data: torch.Tensor  # [numel]


class _EasyDict(dict):
    """Stand-in for `dnnlib.util.EasyDict`: a plain dict (the attribute access is not needed)."""


class _NumpyDType:
    """Stand-in for `numpy.dtype`: remembers a numeric type name and its byte order, nothing else."""

    _ALLOWED = {"b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8"}

    def __init__(self, name: str | bytes, align: bool = False, copy: bool = False) -> None:
        if isinstance(name, bytes):  # Python 2's pickles (CIFAR-10's), read with encoding="bytes"
            name = name.decode("latin1")
        if name not in self._ALLOWED:
            raise ValueError(f"numpy dtype {name!r} is not a plain number type")
        self.name = name
        self.byteorder = "<"

    def __setstate__(self, state: tuple) -> None:
        order = state[1] if isinstance(state, tuple) and len(state) >= 2 else None
        order = order.decode("latin1") if isinstance(order, bytes) else order  # Python 2's pickles
        if order not in ("<", ">", "|", "="):
            raise ValueError("malformed numpy dtype state")
        self.byteorder = order

    def numpy(self) -> np.dtype:
        order = "=" if self.byteorder == "|" else self.byteorder
        return np.dtype(self.name).newbyteorder(order)


def _numpy_scalar(dtype: _NumpyDType, data: bytes) -> bool | int | float:
    """Stand-in for `numpy.core.multiarray.scalar`: decode one number (e.g. a float64 weight gain)."""
    if not isinstance(dtype, _NumpyDType) or not isinstance(data, bytes):
        raise ValueError("malformed numpy scalar")
    return np.frombuffer(data, dtype=dtype.numpy(), count=1)[0].item()


def _reconstruct_persistent_obj(meta: dict) -> PersistentObject:
    """Stand-in for `torch_utils.persistence._reconstruct_persistent_obj`: keep name and state only."""
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise ValueError("malformed persistent object (expected type 'class')")
    class_name, state = meta.get("class_name"), meta.get("state")
    if not isinstance(class_name, str) or not isinstance(state, dict):
        raise ValueError("malformed persistent object (class_name or state missing)")
    module_src = meta.get("module_src")
    return PersistentObject(class_name=class_name, state=state, module_src=module_src if isinstance(module_src, str) else "")


class TFNetwork:
    """Stand-in for `dnnlib.tflib.network.Network`: keeps the pickled state dict; its build code is never run."""

    state: dict[str, Any] | None = None

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise ValueError("malformed TensorFlow network state (expected a dict)")
        self.state = state


class _NumpyArrayClass:
    """Stand-in for the class `numpy.ndarray`, which NumPy's pickles pass to `_reconstruct`."""


class NumpyArray:
    """A NumPy array read from a pickle: its bytes become a tensor of the same shape and type, nothing else."""

    tensor: torch.Tensor | None = None

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 5:
            state = state[1:]  # (version, shape, dtype, is_fortran, data)
        if not isinstance(state, tuple) or len(state) != 4:
            raise ValueError("malformed numpy array state")
        shape, dtype, fortran, data = state
        if (not isinstance(shape, tuple) or not all(type(n) is int and n >= 0 for n in shape)
                or not isinstance(dtype, _NumpyDType) or not isinstance(fortran, bool) or not isinstance(data, bytes)):
            raise ValueError("malformed numpy array state")
        numel = math.prod(shape)
        array = np.frombuffer(data, dtype=dtype.numpy())
        if array.size != numel:
            raise ValueError(f"numpy array of shape {list(shape)} holds {array.size} values")
        array = array.reshape(shape, order="F" if fortran else "C")
        self.tensor = torch.from_numpy(np.ascontiguousarray(array.astype(array.dtype.newbyteorder("="))))


def _numpy_reconstruct(cls: Any, shape: Any, typecode: Any) -> NumpyArray:
    """Stand-in for `numpy.core.multiarray._reconstruct`: an empty array that BUILD then fills."""
    if not (isinstance(cls, type) and issubclass(cls, _NumpyArrayClass)):
        raise ValueError("numpy _reconstruct of something other than a plain ndarray")
    return NumpyArray()


def _rebuild_tensor(storage: _Storage, offset: int, size: tuple, stride: tuple, *_: Any) -> torch.Tensor:
    """Stand-in for `torch._utils._rebuild_tensor_v2`: a strided view, bounds-checked first."""
    ints = (offset, *size, *stride)
    if not isinstance(storage, _Storage) or not all(isinstance(v, int) and v >= 0 for v in ints) or len(size) != len(stride):
        raise ValueError("malformed tensor record")
    if all(s > 0 for s in size):
        last = offset + sum((s - 1) * st for s, st in zip(size, stride))
        if last >= storage.data.numel():
            raise ValueError(f"tensor of size {list(size)} reaches past its storage of {storage.data.numel()} elements")
    return storage.data.as_strided(size, stride, offset)


def _rebuild_parameter(data: torch.Tensor, requires_grad: bool, backward_hooks: Any, *_: Any) -> torch.Tensor:
    """Stand-in for `torch._utils._rebuild_parameter(_with_state)`: the tensor inside the Parameter."""
    if not isinstance(data, torch.Tensor):
        raise ValueError("malformed parameter record")
    return data


_STORAGE_DTYPES = {
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}


def _fresh(stand_in: Any) -> Any:
    """A private copy of a stand-in for one load: functions and our classes are mutable objects."""
    if isinstance(stand_in, types.FunctionType):
        copy = types.FunctionType(stand_in.__code__, stand_in.__globals__, stand_in.__name__, stand_in.__defaults__,
                                  stand_in.__closure__)
        copy.__kwdefaults__ = stand_in.__kwdefaults__
        return copy
    if isinstance(stand_in, type) and stand_in.__module__ == __name__:
        return type(stand_in.__name__, (stand_in,), {"__module__": __name__})
    return stand_in  # built-in types and torch dtypes cannot be changed


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler whose globals come only from `allowed`; anything else raises `ForbiddenGlobal`.

    Each instance resolves names to its own fresh copies of the stand-ins.
    """

    allowed: dict[tuple[str, str], Any] = {}

    def __init__(self, file: BinaryIO, **options: Any) -> None:
        super().__init__(file, **options)
        self._stand_ins = {key: _fresh(value) for key, value in self.allowed.items()}

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._stand_ins[(module, name)]
        except (KeyError, TypeError):
            raise ForbiddenGlobal(f"{module}.{name}") from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("unexpected persistent id (not written by NVIDIA's training loop)")


class _LegacyStorageUnpickler(_RestrictedUnpickler):
    """Reads the small pickles of a legacy storage payload; storage types resolve to their dtype."""

    allowed = {("torch", name): dtype for name, dtype in _STORAGE_DTYPES.items()}

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r} in a storage payload")
        _, dtype, key, _location, numel = pid[:5]
        if not isinstance(dtype, torch.dtype) or not isinstance(key, str) or not isinstance(numel, int) or numel < 0:
            raise pickle.UnpicklingError("malformed storage record")
        if len(pid) > 5 and pid[5] is not None:
            raise pickle.UnpicklingError("storage views (PyTorch < 1.0 pickles) are not supported")
        return (dtype, key, numel)


def _load_storage_bytes(payload: bytes) -> _Storage:
    """Stand-in for `torch.storage._load_from_bytes`: parse a legacy torch.save stream of one storage.

    The stream is five small pickles (magic number, protocol version, system info, the storage's
    persistent id, the list of keys), then the element count as 8 little-endian bytes and the raw data.
    """
    if not isinstance(payload, (bytes, bytearray)):
        raise ValueError("malformed storage payload")
    stream = io.BytesIO(payload)
    header = [_checked_load(_LegacyStorageUnpickler, stream, len(payload), _STORAGE_LIMITS) for _ in range(5)]
    magic, protocol, sys_info, record, keys = header
    if magic != LEGACY_MAGIC or protocol != LEGACY_PROTOCOL:
        raise ValueError("storage payload is not a legacy torch.save stream")
    if not isinstance(sys_info, dict) or not sys_info.get("little_endian", False):
        raise ValueError("storage payload is big-endian or lacks system info; only little-endian files are supported")
    if not isinstance(record, tuple) or keys != [record[1]]:
        raise ValueError("storage payload does not hold exactly one storage")
    dtype, _key, numel = record
    count = int.from_bytes(stream.read(8), "little")
    itemsize = torch.empty(0, dtype=dtype).element_size()
    raw = stream.read(numel * itemsize)
    if count != numel or len(raw) != numel * itemsize:
        raise ValueError(f"storage payload is truncated ({len(raw)} of {numel * itemsize} bytes)")
    data = torch.frombuffer(bytearray(raw), dtype=dtype) if numel else torch.empty(0, dtype=dtype)
    return _Storage(data=data)


class NetworkPickleUnpickler(_RestrictedUnpickler):
    """Unpickler for StyleGAN2-ADA network pickles: every allowed global maps to an inert stand-in."""

    allowed: dict[tuple[str, str], Callable[..., Any] | type] = {
        ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
        ("dnnlib.util", "EasyDict"): _EasyDict,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch.storage", "_load_from_bytes"): _load_storage_bytes,
        ("numpy.core.multiarray", "scalar"): _numpy_scalar,
        ("numpy._core.multiarray", "scalar"): _numpy_scalar,
        ("numpy", "dtype"): _NumpyDType,
        ("builtins", "set"): set,
        ("__builtin__", "set"): set,
    }


class NumpyArrayUnpickler(_RestrictedUnpickler):
    """Unpickler for plain NumPy arrays of numbers (each a NumpyArray) in dicts and lists, as CIFAR-10's batches hold."""

    allowed = {
        ("numpy", "dtype"): _NumpyDType,
        ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
        ("numpy", "ndarray"): _NumpyArrayClass,
    }


class TFNetworkPickleUnpickler(NetworkPickleUnpickler):
    """Unpickler for TensorFlow StyleGAN2 pickles: adds their `Network` class and NumPy's array rebuilder."""

    allowed = {**NetworkPickleUnpickler.allowed, **NumpyArrayUnpickler.allowed, ("dnnlib.tflib.network", "Network"): TFNetwork}


_STORAGE_LIMITS = ScanLimits(allow_persistent=True)


def _checked_load(unpickler: type[_RestrictedUnpickler], file: BinaryIO, end: int, limits: ScanLimits) -> Any:
    """Scan one pickle stream from the file's position, then unpickle it (the file ends after its STOP)."""
    start = file.tell()
    scan_pickle(file, end, limits)
    file.seek(start)
    return unpickler(file).load()


def load_network_pickle(file: BinaryIO) -> Any:
    """Unpickle a network pickle with the allow-list, after `scan_pickle` passed it.

    A pickle that names TensorFlow's `Network` is read again with that allow-list, which adds it and
    NumPy's array rebuilder. Raises `PickleRejected` (limits) or `ForbiddenGlobal` (allow-list)
    before running anything else.
    """
    start = file.tell()
    end = file.seek(0, io.SEEK_END)
    file.seek(start)
    try:
        return _checked_load(NetworkPickleUnpickler, file, end, ScanLimits())
    except ForbiddenGlobal as exc:
        if exc.qualified_name != TF_NETWORK:
            raise
    file.seek(start)
    return _checked_load(TFNetworkPickleUnpickler, file, end, ScanLimits())
