"""Training snapshots: networks plus everything needed to continue a run exactly; writing and reading them, loading
their optimizer state back, deleting a run's older ones, and the advice on how to go on from one."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..io import CheckpointError, load_checkpoint, save_checkpoint
from ..io.detect import snapshot_nimg, snapshots_in_order
from ..io.info import nonfinite_summary, nonfinite_tensors
from ..utils.provenance import command_line, software
from .distributed import launcher_restarts
from .errors import TrainingError

TRAINING_STATE_VERSION = 1
MAX_COUNTER = 10**12  # images, steps or ticks: a billion kimg is beyond any run


# What every loop's snapshot holds; any other key of the training state is the loop's own.
SESSION_FIELDS = ("version", "cur_nimg", "cur_tick", "batch_idx", "tick_start_nimg", "tick_stats", "numpy_rng", "optimizers",
                  "options")


@dataclass
class ResumeState:
    """Counters, optimizer and RNG state of a run, as stored in a snapshot, and the loop's own fields."""

    cur_nimg: int = 0
    cur_tick: int = 0
    batch_idx: int = 0
    tick_start_nimg: int | None = None  # a snapshot within tick cur_tick (Ctrl-C): where it began; None: one begins here
    tick_stats: dict[str, list[float]] | None = None  # and that tick's statistics so far: name -> [count, sum, squares]
    optimizers: dict[str, dict[str, Any]] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)  # JSON-able, e.g. StyleGAN2's path-length mean and ADA state
    options: dict[str, Any] = field(default_factory=dict)  # the options the run was started with (as saved; not checked)
    torch_rng: torch.Tensor | None = None
    cuda_rng: torch.Tensor | None = None
    numpy_rng: dict[str, Any] | None = None


def _flatten_optimizer(name: str, opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Put the optimizer's tensors into `tensors` and return its JSON-able remainder."""
    sd = opt.state_dict()
    state_keys: dict[str, dict[str, Any]] = {}
    for idx, entry in sd["state"].items():
        scalars = {}
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"optim.{name}.{idx}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[key] = value
        state_keys[str(idx)] = {"tensors": [k for k, v in entry.items() if torch.is_tensor(v)], "scalars": scalars}
    return {"param_groups": sd["param_groups"], "state": state_keys}


def _unflatten_optimizer(name: str, meta: Any, tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    """An optimizer's state_dict from its JSON part and its tensors; a malformed one raises _BadState."""
    try:
        state = {}
        for idx, entry in meta["state"].items():
            values: dict[str, Any] = dict(entry["scalars"])
            for key in entry["tensors"]:
                values[key] = tensors[f"optim.{name}.{idx}.{key}"]
            state[int(idx)] = values
        groups = meta["param_groups"]
    except (TypeError, KeyError, ValueError, AttributeError) as err:
        raise _BadState(f"the {name} optimizer state is malformed ({type(err).__name__}: {err})") from None
    if not isinstance(groups, list) or not all(isinstance(g, dict) and isinstance(g.get("params"), list) for g in groups):
        raise _BadState(f"the {name} optimizer's param_groups are malformed")
    return {"state": state, "param_groups": groups}


def save_training_snapshot(
    path: Path,
    networks: dict[str, torch.nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    state: ResumeState,
    options: dict[str, Any],
    device: torch.device = torch.device("cpu"),
) -> None:
    """Write networks, optimizer moments, counters and RNG state (the CUDA one of `device` when the run is on a GPU:
    a CPU run on a GPU machine must not open a CUDA context) in our checkpoint format, with the software and command
    that made it as its source."""
    tensors: dict[str, torch.Tensor] = {"rng.torch": torch.get_rng_state()}
    if device.type == "cuda":
        tensors["rng.cuda"] = torch.cuda.get_rng_state(device)
    np_state = np.random.get_state()
    training_state = {
        "version": TRAINING_STATE_VERSION,
        "cur_nimg": state.cur_nimg,
        "cur_tick": state.cur_tick,
        "batch_idx": state.batch_idx,
        **({} if state.tick_start_nimg is None else {"tick_start_nimg": state.tick_start_nimg}),
        **({} if state.tick_stats is None else {"tick_stats": state.tick_stats}),
        "numpy_rng": {"key": np_state[1].tolist(), "pos": int(np_state[2]), "has_gauss": int(np_state[3]), "cached": float(np_state[4])},
        "optimizers": {name: _flatten_optimizer(name, opt, tensors) for name, opt in optimizers.items()},
        "options": options,
    }
    clashes = sorted(set(state.extras) & set(SESSION_FIELDS))
    if clashes:
        raise ValueError(f"a loop's resume fields cannot be named {', '.join(clashes)}")
    training_state.update(state.extras)
    made_by = {"software": software(), **({"command": command_line()} if command_line() else {})}
    save_checkpoint(path, networks, extra_tensors=tensors, training_state=training_state, source=made_by, overwrite=False)


def read_resume_state(
    path: str | Path, check_extras: Callable[[dict[str, Any]], None] | None = None
) -> tuple[dict[str, torch.nn.Module], ResumeState | None, list[str]]:
    """Networks of any supported checkpoint, plus the run state when it is one of our snapshots.

    The run state is checked before anything uses it, the loop's own fields by `check_extras`
    (which raises ValueError); a bad one is a CheckpointError naming the file.
    """
    try:
        ckpt = load_checkpoint(path)
    except CheckpointError as err:
        raise CheckpointError(f"--resume {err}") from None
    except FileNotFoundError:
        if (link := dangling_link(path)) is not None:
            raise CheckpointError(f"--resume {path}: {link}") from None
        raise
    ts = ckpt.training_state or {}
    ours = "cur_nimg" in ts and "version" in ts  # else free-form state that save_checkpoint's caller chose
    bad = nonfinite_tensors(ckpt.networks) + (_nonfinite_state(ckpt.extra_tensors) if ours else [])
    if bad:
        raise CheckpointError(f"--resume {path}: {nonfinite_summary(bad)}, so training cannot start from it; "
                              "resume from an earlier snapshot")
    notes = list(ckpt.notes)
    if not ours:
        if ts:
            notes.append("its training_state is not one `stylegan2 train` wrote (it has no version), so training "
                         "starts from its weights")
        return ckpt.networks, None, notes
    try:
        state = _resume_state(ts, ckpt.extra_tensors)
        if check_extras is not None:
            check_extras(state.extras)
    except ValueError as err:  # _BadState included
        raise CheckpointError(f"--resume {path}: cannot resume from this snapshot: {err}") from None
    named = snapshot_nimg(Path(path).name, suffixes=("safetensors",))
    if named is not None and named != state.cur_nimg:  # the name is written from the same count as the state
        raise CheckpointError(f"--resume {path}: its name says {named / 1000:g} kimg but it records {state.cur_nimg / 1000:g} "
                              f"kimg (cur_nimg {state.cur_nimg}): the file is damaged or was renamed; resume from an "
                              "earlier snapshot")
    return ckpt.networks, state, notes


def dangling_link(path: str | Path) -> str | None:
    """'a symbolic link to X, which does not exist' for a link whose target is gone (a run directory linked or moved by
    hand: the name is there, its file is not), else None."""
    return f"a symbolic link to {os.readlink(path)}, which does not exist" if os.path.islink(path) and not os.path.exists(path) else None


def _nonfinite_state(tensors: dict[str, torch.Tensor]) -> list[str]:
    """Names of a snapshot's state tensors (the optimizers' moments) that hold NaN or Inf. A run never saves such a
    state (it stops instead), so one is damage. (Its JSON numbers cannot be: the reader refuses non-finite ones.)"""
    return [name for name, value in tensors.items() if value.is_floating_point() and not bool(torch.isfinite(value).all())]


class _BadState(ValueError):
    """What is wrong with a snapshot's training state."""


def _resume_state(ts: dict[str, Any], tensors: dict[str, torch.Tensor]) -> ResumeState:
    """A ResumeState from a snapshot's `training_state` and extra tensors, every field checked."""
    if ts.get("version") != TRAINING_STATE_VERSION:
        raise _BadState(f"training state version {ts.get('version')!r}; this stylegan2 reads version {TRAINING_STATE_VERSION}")
    counters = {key: _counter(ts, key) for key in ("cur_nimg", "cur_tick", "batch_idx")}
    if counters["batch_idx"] > counters["cur_nimg"] or counters["cur_tick"] > counters["batch_idx"] + 1:
        raise _BadState(f"inconsistent counters {counters} (each step takes images, each tick at least a step)")
    tick_start = _counter(ts, "tick_start_nimg") if "tick_start_nimg" in ts else None
    if tick_start is not None and tick_start > counters["cur_nimg"]:
        raise _BadState(f"tick_start_nimg {tick_start} is after cur_nimg {counters['cur_nimg']}")
    tick_stats = ts.get("tick_stats")
    if tick_stats is not None and not (isinstance(tick_stats, dict) and all(
            isinstance(name, str) and isinstance(row, list) and len(row) == 3 and all(map(finite_number, row))
            for name, row in tick_stats.items())):
        raise _BadState("tick_stats holds no statistics ([count, sum, sum of squares] per name)")
    optimizers = ts.get("optimizers")
    if not isinstance(optimizers, dict):
        raise _BadState("'optimizers' is missing")
    torch_rng = tensors.get("rng.torch")
    if torch_rng is not None and (torch_rng.dtype != torch.uint8 or torch_rng.shape != torch.get_rng_state().shape):
        raise _BadState("rng.torch is not a torch RNG state")
    return ResumeState(
        **counters,
        tick_start_nimg=tick_start,
        tick_stats=tick_stats,
        optimizers={name: _unflatten_optimizer(name, meta, tensors) for name, meta in optimizers.items()},
        extras={key: value for key, value in ts.items() if key not in SESSION_FIELDS},
        torch_rng=torch_rng,
        cuda_rng=tensors.get("rng.cuda"),
        numpy_rng=_numpy_rng(ts.get("numpy_rng")),
        options=ts["options"] if isinstance(ts.get("options"), dict) else {},
    )


def _counter(ts: dict[str, Any], key: str) -> int:
    value = ts.get(key)
    if type(value) is not int or not 0 <= value <= MAX_COUNTER:
        raise _BadState(f"{key} is {value!r}; expected an integer from 0 to {MAX_COUNTER:,}")
    return value


def finite_number(value: Any) -> bool:
    """Whether a JSON value is a finite int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _numpy_rng(value: Any) -> dict[str, Any] | None:
    """The saved NumPy MT19937 state, checked (624 32-bit words, a position, the cached Gaussian)."""
    if value is None:
        return None
    try:
        key, pos, has_gauss, cached = value["key"], value["pos"], value["has_gauss"], value["cached"]
    except (TypeError, KeyError) as err:
        raise _BadState(f"numpy_rng lacks {err}") from None
    if not (isinstance(key, list) and len(key) == 624 and all(type(k) is int and 0 <= k < 2**32 for k in key)
            and type(pos) is int and 0 <= pos <= 624 and has_gauss in (0, 1) and finite_number(cached)):
        raise _BadState("numpy_rng is not a NumPy MT19937 state")
    return value


def restore_rng(state: ResumeState, device: torch.device = torch.device("cpu")) -> None:
    """Put the global RNGs back where the snapshot left them; the CUDA one only on a GPU run, and only when the
    snapshot's is the same kind of state (another torch build's is skipped: every slice reseeds it anyway)."""
    if state.torch_rng is not None:
        torch.set_rng_state(state.torch_rng.to(torch.uint8))
    if state.cuda_rng is not None and device.type == "cuda":
        current = torch.cuda.get_rng_state(device)
        if state.cuda_rng.dtype == torch.uint8 and state.cuda_rng.shape == current.shape:
            torch.cuda.set_rng_state(state.cuda_rng, device)
    if state.numpy_rng is not None:
        r = state.numpy_rng
        np.random.set_state(("MT19937", np.array(r["key"], dtype=np.uint32), r["pos"], r["has_gauss"], r["cached"]))


def load_optimizer(name: str, opt: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """Load a snapshot's optimizer state, checking that its moments fit this run's parameters."""
    implementation = [{key: group.get(key) for key in ("foreach", "fused")} for group in opt.param_groups]
    try:
        opt.load_state_dict(state)
    except (ValueError, KeyError, TypeError, IndexError) as err:
        raise TrainingError(f"the resume snapshot's {name} optimizer state does not fit this network ({err})") from None
    for group, how in zip(opt.param_groups, implementation):  # how Adam computes is this run's choice, not the snapshot's
        group.update(how)
    for group in opt.param_groups:
        for param in group["params"]:
            for key, value in opt.state.get(param, {}).items():
                if isinstance(value, torch.Tensor) and value.ndim > 0 and value.shape != param.shape:
                    raise TrainingError(
                        f"the resume snapshot's {name} optimizer holds {key} of shape {list(value.shape)} for a parameter "
                        f"of shape {list(param.shape)}; it is not from this network"
                    )


def prune_snapshots(run_dir: Path, keep: int, *, log: Callable[[str], None], note: Callable[[str], None]) -> None:
    """With --keep-snapshots N (`keep`), delete the snapshots of `run_dir` older than its newest N (after the new one
    was written and scored; their grids and metric records stay). Other runs' files, a --resume file among them, are
    never touched. `log` says what was deleted, `note` what could not be."""
    if not keep:
        return
    for old in snapshots_in_order(run_dir, suffixes=("safetensors",))[:-keep]:
        try:
            old.unlink()
        except FileNotFoundError:
            continue
        except OSError as err:  # a file held open elsewhere (Windows), a read-only mount: the run goes on
            note(f"could not delete {old.name} (--keep-snapshots {keep}): {err.strerror or err}")
            continue
        log(f"Deleted {old.name} (--keep-snapshots {keep})")


def how_to_continue(snapshot: Path, outdir: str) -> str:
    """After a lost process or SIGTERM. While --max-restarts has restarts left the launcher may restart the
    processes itself (not after it was stopped itself), so the advice fits either restart. --resume auto looks in
    --outdir only: a snapshot elsewhere (the file this run resumed from) is named, as auto:FILE."""
    done, allowed = launcher_restarts()
    inside = Path(snapshot).resolve().parent.parent == Path(outdir).expanduser().resolve()
    resume = "auto" if inside else f"auto:{snapshot}"
    return f"With --resume {resume} a restart continues from it" if done < allowed else (
        f"Restart the job with --resume {resume} to continue from it")


def fine_tune_advice(path: str) -> str:
    """How to fine-tune a snapshot's networks (a new schedule from kimg 0, fresh optimizers, the fine-tuning
    adjustments) rather than continue its run: a copy without the training state."""
    name = Path(path).name
    snapshot = name.startswith("network-snapshot-")
    weights = name.replace("network-snapshot-", "weights-", 1) if snapshot else f"{Path(path).stem}-weights.safetensors"
    return f"convert it with `stylegan2 convert {path} {weights} --weights-only` and --resume {weights}"
