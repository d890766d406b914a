"""Check what a network file says before anything is built from it.

Constructor arguments come from the file, so they are untrusted numbers: a `z_dim` of 2**25 asks
for gigabytes, 100,000 mapping layers for minutes of work. The arguments are first checked as
plain settings (types, nesting, size), then the network is built with global registration hooks
counting its modules and parameter elements against fixed limits, and with large tensors on
PyTorch's `meta` device, which allocates nothing. Such a network is rebuilt for real only after
the file's tensors matched its shapes, so memory stays within what the file itself holds.
"""

from __future__ import annotations

import threading
from typing import Any, Iterable, Mapping

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._device import _device_constructors

from ..utils.text import short_int
from .errors import CheckpointError, one_line

MAX_PARAMETERS = 1_000_000_000  # elements in the parameters and buffers of one network (4 GB in float32)
MAX_TENSOR = 2**26  # elements of one tensor (256 MB in float32); far above any layer of these networks
MAX_REAL_TENSOR = 2**24  # larger tensors are planned on the meta device before the file's tensors are matched
MAX_REAL_ELEMENTS = 2**27  # real elements allocated while planning one network (512 MB in float32)
MAX_MODULES = 1_000  # submodules of one network; a 1024 px Generator has under a hundred
MAX_SETTING_DEPTH = 8  # dicts and lists inside constructor arguments
MAX_SETTING_VALUES = 2_000  # values in all constructor arguments of one network
MAX_STRING = 1_000  # characters in one string setting
MAX_INT = 2**31 - 1
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)

_counting = threading.local()  # the meta build in progress on this thread, if any


class _LimitExceeded(Exception):
    """Raised inside a counting hook to stop a meta build that grows past a limit."""


def check_plain(value: Any, where: str, what: str, *, max_depth: int, max_values: int, max_int: int = MAX_INT) -> None:
    """Refuse anything but JSON-like settings: None, bool, int, finite float, short str, list/tuple, str-keyed dict.

    Walks without recursion, so a deeply nested value is reported, not a RecursionError. A non-finite number is named
    by its keys ('training_state.pl_mean = nan'): a damaged file says where.
    """
    todo: list[tuple[Any, int, str]] = [(value, 0, "")]
    count = 0
    while todo:
        item, depth, name = todo.pop()
        count += 1
        if count > max_values:
            raise CheckpointError(f"{where}: {what} hold more than {max_values:,} values")
        if item is None or isinstance(item, bool):
            continue
        if isinstance(item, int):
            if abs(item) > max_int:
                raise CheckpointError(f"{where}: {what} hold the integer {short_int(item)}, beyond +-{max_int:,}")
        elif isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):
                raise CheckpointError(f"{where}: {what} hold a non-finite number ({f'{name} = ' if name else ''}{item})")
        elif isinstance(item, str):
            if len(item) > MAX_STRING:
                raise CheckpointError(f"{where}: {what} hold a string of {len(item):,} characters (limit {MAX_STRING:,})")
        elif isinstance(item, (list, tuple, dict)):
            if depth >= max_depth:
                raise CheckpointError(f"{where}: {what} are nested more than {max_depth} levels deep")
            if isinstance(item, dict):
                if not all(isinstance(k, str) for k in item):
                    raise CheckpointError(f"{where}: {what} have a key that is not a string")
                todo.extend((k, depth + 1, name) for k in item)
            entries = item.items() if isinstance(item, dict) else enumerate(item)
            todo.extend((v, depth + 1, f"{name}.{k}" if name else str(k)) for k, v in entries)
        else:
            raise CheckpointError(f"{where}: {what} hold a {type(item).__name__}, which is not a plain setting")


def check_init_kwargs(init_kwargs: Any, where: str) -> None:
    """Constructor arguments must be a dict of plain settings within the size limits."""
    if not isinstance(init_kwargs, dict):
        raise CheckpointError(f"{where}: constructor arguments are a {type(init_kwargs).__name__}, not a dict")
    check_plain(init_kwargs, where, "constructor arguments", max_depth=MAX_SETTING_DEPTH, max_values=MAX_SETTING_VALUES)


def _count_module(module: nn.Module, name: str, submodule: nn.Module) -> None:
    counts = getattr(_counting, "counts", None)
    if counts is not None:
        counts["modules"] += 1
        if counts["modules"] > MAX_MODULES:
            raise _LimitExceeded(f"more than {MAX_MODULES:,} submodules")


def _count_tensor(module: nn.Module, name: str, tensor: torch.Tensor | None) -> None:
    counts = getattr(_counting, "counts", None)
    if counts is not None and tensor is not None:
        counts["elements"] += tensor.numel()
        if counts["elements"] > MAX_PARAMETERS:
            raise _LimitExceeded(f"more than {MAX_PARAMETERS:,} parameters")


class _Planner(TorchFunctionMode):
    """Creates small tensors for real and large ones on the `meta` device, which allocates nothing.

    Arithmetic on meta tensors works but loads PyTorch's compiler stack (seconds), so ordinary
    networks, whose tensors are all small, are built entirely for real and used as they are.
    """

    def __init__(self, real_budget: int) -> None:
        super().__init__()
        self.real_elements = 0
        self.real_budget = real_budget

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _device_constructors() and kwargs.get("device") is None:
            numel = _requested_numel(func, args, kwargs)
            planned = None
            if numel is None:  # ask the meta device what the call would create
                planned = func(*args, **kwargs, device="meta")
                numel = planned.numel()
            if numel > MAX_TENSOR:
                raise _LimitExceeded(f"a tensor of {numel:,} elements (limit {MAX_TENSOR:,})")
            if numel <= MAX_REAL_TENSOR and self.real_elements + numel <= self.real_budget:
                self.real_elements += numel
                return func(*args, **kwargs)
            return func(*args, **kwargs, device="meta") if planned is None else planned
        return func(*args, **kwargs)


_FROM_DATA = {torch.tensor, torch.as_tensor, torch.asarray}  # sized by their data, which the checked settings bound
_SIZE_FIRST = {torch.empty, torch.zeros, torch.ones, torch.rand, torch.randn, torch.full}  # (size..., ...) factories


def _requested_numel(func: Any, args: tuple, kwargs: dict[str, Any]) -> int | None:
    """Elements a factory call asks for, read from its size argument; None when that is not plain."""
    if func in _FROM_DATA:
        return 0
    if func not in _SIZE_FIRST:
        return None
    size = kwargs.get("size", args[0] if args and isinstance(args[0], (tuple, list, torch.Size)) else args)
    if isinstance(size, (tuple, list, torch.Size)) and size and all(type(n) is int for n in size):
        numel = 1
        for n in size:
            numel *= max(n, 0)  # a negative size fails at once in the real call
        return numel
    return None


def plan_network(cls: type[nn.Module], init_kwargs: dict[str, Any], where: str,
                 real_budget: int = MAX_REAL_ELEMENTS) -> nn.Module:
    """`cls(**init_kwargs)` built with limits: modules and parameter elements counted as they are
    registered, large tensors left on the `meta` device (see `is_materialized`), and at most `real_budget`
    elements built for real (a file's loader passes what its tensors hold, so memory follows the file's size)."""
    check_init_kwargs(init_kwargs, where)
    handles = [
        nn.modules.module.register_module_module_registration_hook(_count_module),
        nn.modules.module.register_module_parameter_registration_hook(_count_tensor),
        nn.modules.module.register_module_buffer_registration_hook(_count_tensor),
    ]
    _counting.counts = {"modules": 0, "elements": 0}
    try:
        with _Planner(min(real_budget, MAX_REAL_ELEMENTS)):
            return cls(**init_kwargs)
    except _LimitExceeded as exc:
        raise CheckpointError(
            f"{where}: the stored arguments describe a {cls.__name__} with {exc}; refusing to build it"
        ) from None
    except Exception as exc:  # noqa: BLE001 -- any constructor error means the arguments are unusable
        raise CheckpointError(f"{where}: cannot build {cls.__name__} from the stored arguments ({one_line(exc)})") from None
    finally:
        _counting.counts = None
        for handle in handles:
            handle.remove()


def is_materialized(module: nn.Module) -> bool:
    """Whether every tensor of a planned network is real (none was left on the meta device)."""
    return all(value.device.type != "meta" for value in module.state_dict().values())


def check_tensor(name: str, value: Any, where: str) -> None:
    """A network tensor must be a dense floating-point CPU tensor with real storage (not `meta`)."""
    if not isinstance(value, torch.Tensor):
        raise CheckpointError(f"{where}: {name} is a {type(value).__name__}, not a tensor")
    if value.device.type != "cpu" or value.layout != torch.strided or value.dtype not in FLOAT_DTYPES:
        raise CheckpointError(
            f"{where}: tensor {name} is a {value.dtype} {value.layout} tensor on {value.device}; "
            "network weights must be dense floating-point CPU tensors"
        )
    if not has_distinct_elements(value):
        raise CheckpointError(f"{where}: tensor {name} of size {list(value.shape)} repeats stored values (strides "
                              f"{list(value.stride())}); a saved network's tensors never do, and building from it "
                              "would allocate what the file does not hold")


def has_distinct_elements(tensor: torch.Tensor) -> bool:
    """Whether no two elements of a strided tensor share a place in its storage (a stride of 0, or strides that
    interleave, make one stored value appear many times). Checked from sizes and strides alone."""
    extent = 1  # storage elements spanned by the dimensions with smaller strides
    for size, stride in sorted((d for d in zip(tensor.shape, tensor.stride()) if d[0] > 1), key=lambda d: d[1]):
        if stride < extent:
            return False
        extent += (size - 1) * stride
    return True


def check_state(state_dict: Mapping[str, Any], where: str) -> None:
    """`check_tensor` for every entry of a state dict, and `check_shared_storage` over them all."""
    for name, value in state_dict.items():
        check_tensor(name, value, where)
    check_shared_storage(state_dict.values(), where)


def stored_bytes(tensors: Iterable[torch.Tensor]) -> int:
    """Bytes of the distinct storages under `tensors`: what a file's tensors really hold, however they view it."""
    return sum({t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}.values())


def check_shared_storage(tensors: Iterable[torch.Tensor], where: str) -> None:
    """Refuse tensors that together view more than twice the bytes of the storages they share: one stored array
    seen through many views would become many real arrays once a network is built from them."""
    tensors = list(tensors)
    viewed, stored = sum(t.numel() * t.element_size() for t in tensors), stored_bytes(tensors)
    if viewed > 2 * stored:
        raise CheckpointError(f"{where}: its tensors view {viewed:,} bytes of {stored:,} stored "
                              "(many tensors over the same data); not a saved network")


def plain_value(value: Any, where: str, depth: int = 0) -> Any:
    """Constructor settings as JSON types: EasyDicts become dicts, tuples lists; tensors are refused."""
    if depth > MAX_SETTING_DEPTH:
        raise CheckpointError(f"{where}: settings are nested more than {MAX_SETTING_DEPTH} levels deep")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        if not all(isinstance(k, (str, int)) for k in value):
            raise CheckpointError(f"{where}: a settings dict has a key that is not a string")
        return {str(k): plain_value(v, where, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_value(v, where, depth + 1) for v in value]
    raise CheckpointError(f"{where}: constructor argument of type {type(value).__name__} is not a plain setting")
