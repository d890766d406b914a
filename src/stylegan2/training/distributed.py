"""torch.distributed setup for torchrun (single- or multi-node), the collectives we need, and what a failed one means."""

from __future__ import annotations

import contextlib
import datetime
import os
import re
import sys
import time
from dataclasses import dataclass
from typing import Iterable, Iterator

import torch
import torch.distributed as dist

from ..utils.device import HostCopy, rank_cuda_device, select_device
from .signals import stop_when_launcher_dies

DEFAULT_TIMEOUT = 1800.0  # seconds a collective waits for the slowest rank (its share of snapshot metrics included)
TIMEOUT_VARIABLE = "STYLEGAN2_DIST_TIMEOUT"  # overrides DEFAULT_TIMEOUT, in seconds
ROLL_CALL_SECONDS = 3.0  # how long the survivors of a failure wait for each other (torchrun stops them soon after)


class DistributedError(ValueError):
    """The launch's settings do not let this process join the group (bad environment, unreachable
    endpoint, ranks that never came): reported like any bad input, with what to do."""


@dataclass(frozen=True)
class DistributedContext:
    """Where this process sits: its rank among `world_size` and the device it trains on."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, str(default))
    try:
        return int(value)
    except ValueError:
        raise DistributedError(f"the environment variable {name}={value!r} is not an integer; launch with torchrun") from None


def launcher_restarts() -> tuple[int, int]:
    """(restarts so far, restarts allowed) of torch's elastic agent (--max-restarts, torchrun's too); (0, 0) without one."""
    return _env_int("TORCHELASTIC_RESTART_COUNT", 0), _env_int("TORCHELASTIC_MAX_RESTARTS", 0)


def positive_seconds(value: str | float, name: str) -> float:
    """`value` as a positive, finite number of seconds; a DistributedError naming `name` (an option or variable) if not."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise DistributedError(f"{name}={value!r} is not a positive number of seconds")
    return seconds


def dist_timeout() -> float:
    """Seconds to wait for the other ranks: $STYLEGAN2_DIST_TIMEOUT, else DEFAULT_TIMEOUT."""
    value = os.environ.get(TIMEOUT_VARIABLE)
    return DEFAULT_TIMEOUT if value is None else positive_seconds(value, TIMEOUT_VARIABLE)


def check_slurm_tasks(nnodes: int) -> None:
    """Refuse a command that SLURM started as more tasks than the run's machines (`srun --ntasks N`) without
    torchrun's variables: each task would train the whole run alone, into the same --outdir."""
    tasks = _env_int("SLURM_STEP_NUM_TASKS", 1)
    if tasks > 1 and tasks != nnodes and "WORLD_SIZE" not in os.environ:
        raise DistributedError(f"SLURM started this command as {tasks} tasks (SLURM_STEP_NUM_TASKS={tasks}), and each "
                               "would train the whole run alone: start one task per machine (srun --ntasks-per-node=1) "
                               "with --gpus N (and --nnodes M --rdzv-endpoint HOST:PORT), or give each task torchrun's "
                               "variables (RANK=$SLURM_PROCID, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT)")


def init_distributed(device: str | None = None, timeout: float | None = None, *, purpose: str = "train",
                     timeout_option: str | None = "--dist-timeout") -> DistributedContext:
    """Join the process group torchrun describes in the environment (gloo on CPU, NCCL on CUDA).

    Without torchrun's variables this is a single process and nothing is initialized. `timeout`
    (seconds; default dist_timeout()) bounds the wait for the other ranks, when joining and in
    every collective. The messages are the running command's: `purpose` is what it would do in one process ("train",
    "compute the metrics"), `timeout_option` its option that sets the wait (None where it has none).
    """
    timeout = dist_timeout() if timeout is None else timeout
    check_slurm_tasks(nnodes=1)
    world_size = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", 0)
    if world_size < 1 or not 0 <= rank < world_size:
        raise DistributedError(f"RANK={rank} and WORLD_SIZE={world_size} do not fit (0 <= RANK < WORLD_SIZE); launch with "
                               f"torchrun, or unset RANK and WORLD_SIZE (left over from another job?) to {purpose} in one process")
    fix = f"launch the processes with torchrun or --gpus, or unset WORLD_SIZE (left over from another job?) to {purpose} in one process"
    if missing := [name for name in ("MASTER_ADDR", "MASTER_PORT") if world_size > 1 and name not in os.environ]:
        raise DistributedError(f"WORLD_SIZE={world_size} is set but {' and '.join(missing)} not: {fix}")
    if world_size > 1 and "RANK" not in os.environ:  # torch's env:// start refuses it too, naming no fix
        raise DistributedError(f"WORLD_SIZE={world_size} is set but RANK not: {fix}")
    dev = select_device(device)  # a device this machine lacks is a one-line DeviceError, not torch's traceback
    if dev.type == "mps" and world_size > 1:
        raise DistributedError("--device mps runs in one process: MPS has no multi-process backend; drop torchrun")
    if dev.type == "cuda":
        dev = rank_cuda_device(local_rank, dev) if world_size > 1 else torch.device("cuda", dev.index or 0)
        torch.cuda.set_device(dev)
    if world_size > 1:
        stop_when_launcher_dies()
    if world_size > 1 and not dist.is_initialized():
        started = time.monotonic()
        try:
            dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo",
                                    timeout=datetime.timedelta(seconds=timeout))
        except (RuntimeError, ValueError) as err:  # torch's DistError (store, network) is a RuntimeError
            raise DistributedError(join_failure(rank, world_size, backend_message(err), time.monotonic() - started,
                                                timeout, timeout_option)) from None
    return DistributedContext(rank=rank, world_size=world_size, local_rank=local_rank, device=dev)


def join_failure(rank: int, world_size: int, reason: str, waited: float, timeout: float,
                 timeout_option: str | None) -> str:
    """Why rank `rank` could not join the group at MASTER_ADDR:MASTER_PORT, on one line: the wait and what sets it are
    named only when the wait ran out (a refused connection fails at once), the setting by the command's own option."""
    endpoint = f"{os.environ.get('MASTER_ADDR', '?')}:{os.environ.get('MASTER_PORT', '?')}"
    advice = "check that every node was started with the same --nnodes and rendezvous endpoint and that the endpoint is reachable"
    if waited < timeout:
        return f"rank {rank} of {world_size} could not join the process group at {endpoint} ({reason}); {advice}"
    setting = " or ".join(name for name in (timeout_option, TIMEOUT_VARIABLE) if name)
    return (f"rank {rank} of {world_size} could not join the process group at {endpoint} within {timeout:g} s ({reason});"
            f" {advice} ({setting} sets the wait)")


def is_first_process() -> bool:
    """Whether this process is rank 0 of torchrun's (or --gpus') processes, or the only one: the one that says for all
    what each of them meets (notes, results, the end of a run). Read from the environment, so it holds before the
    process joins the group."""
    return _env_int("RANK", 0) == 0


def leave_group() -> None:
    """Tear down the process group after a run that ended well on every process. Left to the interpreter's exit,
    gloo's threads can end a finished process with std::terminate (SIGABRT), and NCCL warns."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def end_torchrun_process() -> None:
    """After a run that ended well on every process torchrun started: tear the group down and leave at once, with
    stdout and stderr flushed. The interpreter's own exit can be cut short by torch's threads (gloo's, the store's)
    with std::terminate (SIGABRT), which torchrun reports as a failed job although the run is done."""
    if not is_distributed():
        return
    leave_group()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def is_distributed() -> bool:
    """Whether this process is one of several in a joined process group."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def all_reduce_mean_(tensor: torch.Tensor) -> torch.Tensor:
    """Average a tensor over all processes, in place (no-op in a single process)."""
    if is_distributed():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        tensor /= dist.get_world_size()
    return tensor


def gather_all(tensor: torch.Tensor) -> torch.Tensor:
    """Every process's `tensor`, stacked in rank order: [world_size, ...] ([1, ...] in a single process)."""
    if not is_distributed():
        return tensor[None].clone()
    gathered = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, tensor.contiguous())
    return torch.stack(gathered)


def broadcast_(tensor: torch.Tensor, src: int = 0) -> torch.Tensor:
    """Copy rank `src`'s tensor to every process, in place."""
    if is_distributed():
        dist.broadcast(tensor, src=src)
    return tensor


def broadcast_bytes(data: bytes | None, device: torch.device) -> bytes | None:
    """Rank 0's `data` on every process (what other ranks pass is ignored); None from rank 0 says
    that it could not produce them."""
    if not is_distributed():
        return data
    sending = dist.get_rank() == 0 and data is not None
    size = broadcast_(torch.tensor([len(data) if sending else -1], dtype=torch.int64, device=device))
    if int(size) <= 0:
        return None if int(size) < 0 else b""
    buffer = torch.empty(int(size), dtype=torch.uint8, device=device)
    if sending:
        buffer.copy_(torch.frombuffer(bytearray(data), dtype=torch.uint8))
    return broadcast_(buffer).cpu().numpy().tobytes()


def average_gradients(params: list[torch.nn.Parameter]) -> None:
    """One all-reduce for all gradients of a phase (missing gradients count as zeros)."""
    if not is_distributed() or not params:
        return
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    flat = torch.cat([p.grad.flatten() for p in params])
    all_reduce_mean_(flat)
    for p, g in zip(params, flat.split([p.numel() for p in params])):
        p.grad.copy_(g.reshape(p.shape))


class StopVote:
    """Whether the processes stop because one of them wants to (Ctrl-C reaches them at different points of a
    step), decided without making the host wait for the device: each call adds this process's wish to an
    all-reduce and returns the outcome of the call before, so all stop together one step after the first wish.
    In a single process the wish is the outcome, at once."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._pending: HostCopy | None = None

    def __call__(self, wants: bool) -> bool:
        if not is_distributed():
            return wants
        if self._pending is not None and self._pending.tolist():
            return True
        vote = torch.full((), float(wants), device=self.device)  # a fill, not a copy from the host
        dist.all_reduce(vote, op=dist.ReduceOp.MAX)
        self._pending = HostCopy(vote)
        return False


def barrier() -> None:
    """Wait for every process of the group (nothing to wait for in one process)."""
    if is_distributed():
        dist.barrier()


def is_collective_failure(err: BaseException) -> bool:
    """Whether an exception is a collective broken by a lost or hung rank: torch's DistError (NCCL,
    store, network), or the plain RuntimeError that gloo raises, whose message names gloo's source."""
    return is_distributed() and (isinstance(err, dist.DistError) or (type(err) is RuntimeError and "gloo" in str(err)))


def backend_message(err: BaseException) -> str:
    """The gist of a torch.distributed error on one line: no source-file prefix, no boilerplate advice."""
    text = " ".join(str(err).split())
    text = re.sub(r"\[[^\]]*\.(?:cpp|cc|h|hpp):\d+\]\s*", "", text)
    return text.split(". This is typically")[0].strip() or type(err).__name__


def lost_ranks(ctx: DistributedContext, wait: float = ROLL_CALL_SECONDS) -> list[int] | None:
    """After a failed collective, the ranks that do not answer a roll call in the rendezvous store within `wait` s.

    Every survivor of the failure answers (and so stays off the list); a killed or hung rank cannot.
    None when the store itself is gone (it lived with a lost rank or its torchrun agent).
    """
    prefix = "stylegan2/roll-call/"
    try:
        store = dist.distributed_c10d._get_default_store()  # the group's rendezvous store outlives its broken connections
        store.set_timeout(datetime.timedelta(seconds=wait))
        store.set(f"{prefix}{ctx.rank}", "here")
        deadline = time.monotonic() + wait
        while True:
            missing = [r for r in range(ctx.world_size) if not store.check([f"{prefix}{r}"])]
            if not missing or time.monotonic() >= deadline:
                return missing
            time.sleep(0.2)
    except (RuntimeError, ValueError):  # DistStoreError, DistNetworkError, no default group
        return None


def format_ranks(ranks: Iterable[int]) -> str:
    """'1' or '0, 2'."""
    return ", ".join(map(str, sorted(ranks)))


def describe_lost_ranks(ctx: DistributedContext, reason: str) -> str:
    """'lost rank 1: ... (reason)': which ranks a failure lost, on one line; `reason` is what this rank saw."""
    missing = lost_ranks(ctx)
    if missing is None:
        others = [r for r in range(ctx.world_size) if r != ctx.rank]
        if len(others) == 1:
            return f"lost rank {others[0]} ({reason})"
        endpoint = f"{os.environ.get('MASTER_ADDR', '?')}:{os.environ.get('MASTER_PORT', '?')}"
        return f"lost the rendezvous store at {endpoint}, so the node that held it is gone ({reason})"
    if not missing:
        return f"every rank answered a roll call, yet the group failed ({reason})"
    return f"lost rank{'s' if len(missing) > 1 else ''} {format_ranks(missing)}: no answer within {ROLL_CALL_SECONDS:g} s ({reason})"


@contextlib.contextmanager
def lost_ranks_named(ctx: DistributedContext) -> Iterator[None]:
    """Turn a collective broken by a lost rank into a one-line DistributedError that names it."""
    try:
        yield
    except RuntimeError as err:
        if not is_collective_failure(err):
            raise
        raise DistributedError(f"{describe_lost_ranks(ctx, backend_message(err))} while the run was starting") from None
