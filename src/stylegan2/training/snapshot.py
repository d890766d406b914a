"""Training snapshots: networks plus everything needed to continue a run exactly."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..io import load_checkpoint, save_checkpoint

TRAINING_STATE_VERSION = 1


@dataclass
class ResumeState:
    """Counters, optimizer and RNG state of a run, as stored in a snapshot."""

    cur_nimg: int = 0
    cur_tick: int = 0
    batch_idx: int = 0
    optimizers: dict[str, dict[str, Any]] = field(default_factory=dict)
    pl_mean: float = 0.0
    augment: dict[str, Any] = field(default_factory=dict)
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


def _unflatten_optimizer(name: str, meta: dict[str, Any], tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    state = {}
    for idx, entry in meta["state"].items():
        values: dict[str, Any] = dict(entry["scalars"])
        for key in entry["tensors"]:
            values[key] = tensors[f"optim.{name}.{idx}.{key}"]
        state[int(idx)] = values
    return {"state": state, "param_groups": meta["param_groups"]}


def save_training_snapshot(
    path: Path,
    networks: dict[str, torch.nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    state: ResumeState,
    options: dict[str, Any],
) -> None:
    """Write networks, optimizer moments, counters and RNG state in our checkpoint format."""
    tensors: dict[str, torch.Tensor] = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    np_state = np.random.get_state()
    training_state = {
        "version": TRAINING_STATE_VERSION,
        "cur_nimg": state.cur_nimg,
        "cur_tick": state.cur_tick,
        "batch_idx": state.batch_idx,
        "pl_mean": state.pl_mean,
        "augment": state.augment,
        "numpy_rng": {"key": np_state[1].tolist(), "pos": int(np_state[2]), "has_gauss": int(np_state[3]), "cached": float(np_state[4])},
        "optimizers": {name: _flatten_optimizer(name, opt, tensors) for name, opt in optimizers.items()},
        "options": options,
    }
    save_checkpoint(path, networks, extra_tensors=tensors, training_state=training_state)


def read_resume_state(path: str | Path) -> tuple[dict[str, torch.nn.Module], ResumeState | None, list[str]]:
    """Networks of any supported checkpoint, plus the run state when it is one of our snapshots."""
    ckpt = load_checkpoint(path)
    ts = ckpt.training_state or {}
    if "cur_nimg" not in ts:
        return ckpt.networks, None, list(ckpt.notes)
    tensors = ckpt.extra_tensors
    np_rng = ts.get("numpy_rng")
    state = ResumeState(
        cur_nimg=int(ts["cur_nimg"]),
        cur_tick=int(ts["cur_tick"]),
        batch_idx=int(ts["batch_idx"]),
        optimizers={name: _unflatten_optimizer(name, meta, tensors) for name, meta in ts["optimizers"].items()},
        pl_mean=float(ts.get("pl_mean", 0.0)),
        augment=dict(ts.get("augment", {})),
        torch_rng=tensors.get("rng.torch"),
        cuda_rng=tensors.get("rng.cuda"),
        numpy_rng=np_rng,
    )
    return ckpt.networks, state, list(ckpt.notes)


def restore_rng(state: ResumeState) -> None:
    """Put the global RNGs back where the snapshot left them."""
    if state.torch_rng is not None:
        torch.set_rng_state(state.torch_rng.to(torch.uint8))
    if state.cuda_rng is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(state.cuda_rng.to(torch.uint8))
    if state.numpy_rng is not None:
        r = state.numpy_rng
        np.random.set_state(("MT19937", np.array(r["key"], dtype=np.uint32), r["pos"], r["has_gauss"], r["cached"]))
