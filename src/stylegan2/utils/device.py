"""Which device a command runs on: `--device` parsed and checked in one place, for training, metrics and tools.

CUDA is the default when PyTorch sees a GPU, else the CPU. Apple Silicon's GPU (`--device mps`) is used
only when asked for; an operation that MPS lacks stops with advice (PYTORCH_ENABLE_MPS_FALLBACK=1 runs
such operations on the CPU) instead of a traceback from inside torch.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch

from .errors import OptionError

DEVICE_TYPES = ("cpu", "cuda", "mps")
DEVICE_HELP = "cpu, cuda, cuda:N or mps (Apple Silicon)"


class DeviceError(ValueError):
    """A --device that does not exist on this machine or in this PyTorch build; the message says what to use."""


class DeviceNameError(DeviceError, OptionError):
    """A --device that names no device anywhere (`gpu`): wrong in itself, whatever the machine has."""


def mps_built() -> bool:
    """Whether this PyTorch build includes the Metal (MPS) backend."""
    backend = getattr(torch.backends, "mps", None)
    return backend is not None and backend.is_built()


def mps_available() -> bool:
    """Whether an Apple GPU can be used now (MPS built in, macOS 12.3+ on Apple Silicon)."""
    backend = getattr(torch.backends, "mps", None)
    return backend is not None and backend.is_available()


def default_device() -> torch.device:
    """CUDA when PyTorch sees a GPU, else the CPU (MPS only on request: some operations lack MPS kernels)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def select_device(name: str | torch.device | None) -> torch.device:
    """The device `name` names ('cpu', 'cuda', 'cuda:1', 'mps'; None = the default), checked to exist here."""
    if name is None:
        return default_device()
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise DeviceNameError(f"--device {name}: not a device; use {DEVICE_HELP}") from None
    if device.type not in DEVICE_TYPES:
        raise DeviceNameError(f"--device {name}: not supported; use {DEVICE_HELP}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"--device {name}: no CUDA device is available here; use --device cpu"
                              + (" or --device mps" if mps_available() else ""))
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise DeviceError(f"--device {name}: this machine has {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}")
    if device.type == "mps":
        if not mps_built():
            raise DeviceError(f"--device mps: this PyTorch {torch.__version__} was built without Apple's MPS backend; "
                              "install the macOS build of PyTorch, or use --device cpu")
        if not mps_available():
            raise DeviceError("--device mps: no usable Apple GPU (MPS needs Apple Silicon and macOS 12.3 or later); "
                              "use --device cpu")
    return device


def same_device(a: torch.device, b: torch.device) -> bool:
    """Whether `a` and `b` are one device: "cuda" means the current GPU, which a tensor on it calls cuda:0 (or its index),
    and "mps" is mps:0."""
    def index(device: torch.device) -> int:
        if device.index is not None:
            return device.index
        return torch.cuda.current_device() if device.type == "cuda" else 0
    return a.type == b.type and index(a) == index(b)


def check_gpus(gpus: int, device: str | None) -> torch.device:
    """The device type of a --gpus run, refusing more CUDA processes than GPUs and MPS (a single device)."""
    dev = select_device(device)
    if dev.type == "cuda" and torch.cuda.device_count() < gpus:
        raise DeviceError(f"--gpus {gpus}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    if dev.type == "cuda" and dev.index is not None:
        raise OptionError(f"--gpus {gpus} uses cuda:0 to cuda:{gpus - 1}; pass --device cuda, not {device}")
    if dev.type == "mps":
        raise OptionError(f"--gpus {gpus}: Apple's MPS is one device and has no multi-process backend; drop --gpus")
    return dev


def rank_cuda_device(local_rank: int, requested: torch.device) -> torch.device:
    """The GPU of the process with `local_rank` among several on a node: cuda:LOCAL_RANK, or cuda:0 when each process
    sees only its own GPU (a scheduler that sets CUDA_VISIBLE_DEVICES per task). An explicit cuda:N is refused:
    every process would use that one GPU."""
    if requested.index is not None:
        raise DeviceError(f"--device {requested}: with several processes each uses the GPU of its LOCAL_RANK; pass --device cuda "
                          "(CUDA_VISIBLE_DEVICES picks which GPUs a node uses)")
    count = torch.cuda.device_count()
    if local_rank < count:
        return torch.device("cuda", local_rank)
    if count == 1:
        return torch.device("cuda", 0)
    raise DeviceError(f"LOCAL_RANK {local_rank}, but this process sees {count} CUDA GPU(s): start at most {count} processes "
                      "per node (torchrun --nproc_per_node)")


def configure_backends(device: torch.device, *, allow_tf32: bool = False, cudnn_benchmark: bool = True) -> None:
    """CUDA math settings for training, as NVIDIA's train.py sets them: TF32 (10-bit mantissa) matmuls and
    convolutions only when allowed, and cuDNN's kernel autotuning unless disabled. No effect elsewhere."""
    if device.type != "cuda":
        return
    torch.backends.cuda.matmul.allow_tf32 = allow_tf32
    torch.backends.cudnn.allow_tf32 = allow_tf32
    torch.backends.cudnn.benchmark = cudnn_benchmark


def unsupported_op_message(err: BaseException) -> str | None:
    """A one-line explanation when `err` is Apple's MPS backend lacking an operation or a dtype, else None."""
    text = str(err)
    if "MPS" not in text:
        return None
    if "not currently implemented for the MPS device" in text:
        op = text.split("'")[1] if text.count("'") >= 2 else "an operation"
        return (f"{op} is not implemented on Apple's MPS backend in PyTorch {torch.__version__}: rerun with "
                "PYTORCH_ENABLE_MPS_FALLBACK=1 set in the environment (that operation then runs on the CPU), "
                "or use --device cpu")
    if "float64" in text:
        return f"Apple's MPS backend has no float64 (PyTorch {torch.__version__}): use --device cpu for this command"
    first_line = text.strip().splitlines()[0]
    return f"Apple's MPS backend cannot run this ({first_line}): use --device cpu"


@contextlib.contextmanager
def explain_unsupported_ops() -> Iterator[None]:
    """Re-raise an error of an operation or dtype that MPS lacks as a one-line DeviceError; others pass unchanged."""
    try:
        yield
    except (NotImplementedError, RuntimeError, TypeError) as err:
        message = unsupported_op_message(err)
        if message is None:
            raise
        raise DeviceError(message) from None


class HostCopy:
    """A tensor's value now, on its way to the host: the copy is queued behind the work that makes the tensor,
    and reading it waits for that work only, not for what was queued on the device since (CUDA: pinned memory
    and an event). On the CPU it is a copy made at once."""

    def __init__(self, tensor: torch.Tensor) -> None:
        self._event = None
        if tensor.device.type == "cuda":
            self._host = torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True)
            self._host.copy_(tensor, non_blocking=True)
            self._event = torch.cuda.Event()
            self._event.record()
        else:
            self._host = tensor.detach().clone()

    def tolist(self) -> bool | int | float | list:
        if self._event is not None:
            self._event.synchronize()
        return self._host.tolist()
