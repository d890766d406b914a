"""Choosing the augmentation strength: fixed, or tuned during training by the ADA heuristic.

ADA (Karras et al. 2020) measures how sure D is about the training images: r_t = E[sign(D(x_real))]
over the last few minibatches. r_t = 0 means no overfitting, r_t = 1 complete overfitting. Every
`ada_interval` minibatches p moves by a fixed step toward keeping r_t at the target (0.6): up when
D is too sure, down otherwise; the step is sized so that p can go from 0 to 1 in `ada_kimg`
thousand images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from .augment import AUGPIPE_PRESETS, AugmentPipe, augment_pipe_from_preset
from .diffaugment import DEFAULT_POLICY, DiffAugment, parse_policy
from .distributed import is_distributed
from .snapshot import finite_number
from .stats import accumulator_dtype

AUG_MODES = ("ada", "fixed", "noaug", "diffaug")
UNIT_RANGE = (0.0, 1.0)  # where the probability --p and the ADA --target live


def ada_step(batch_size: int, ada_interval: int = 4, ada_kimg: float = 500.0) -> float:
    """How much one ADA adjustment moves p."""
    return batch_size * ada_interval / (ada_kimg * 1000)


@dataclass
class AugmentConfig:
    """How D's inputs are augmented: the training options --aug, --augpipe, --p, --target, --ada-kimg and
    --diffaugment-policy, and ADA's interval (NVIDIA's fixed 4, not an option)."""

    mode: str = "ada"  # ada: tune p; fixed: keep p; noaug: no augmentation; diffaug: DiffAugment
    augpipe: str = "bgc"  # AugmentPipe preset (ada, fixed)
    p: float = 0.0  # probability (fixed), or its starting value (ada)
    target: float = 0.6  # ADA target for r_t
    ada_kimg: float = 500.0  # ADA speed: kimg for p to move by 1
    ada_interval: int = 4  # minibatches between ADA adjustments
    diffaugment_policy: str = DEFAULT_POLICY  # DiffAugment's comma-separated transforms (diffaug)

    def __post_init__(self) -> None:
        if self.mode not in AUG_MODES:
            raise ValueError(f"--aug must be one of {', '.join(AUG_MODES)}; got {self.mode!r}")
        if self.augpipe not in AUGPIPE_PRESETS:
            raise ValueError(f"--augpipe must be one of {', '.join(AUGPIPE_PRESETS)}; got {self.augpipe!r}")
        low, high = UNIT_RANGE
        if not low <= self.p <= high:
            raise ValueError(f"--p must be between 0 and 1; got {self.p}")
        if not low <= self.target <= high:
            raise ValueError(f"--target must be between 0 and 1; got {self.target}")
        if not self.ada_kimg > 0:
            raise ValueError(f"--ada-kimg must be positive; got {self.ada_kimg}")
        if int(self.ada_interval) != self.ada_interval or self.ada_interval < 1:
            raise ValueError(f"ada_interval must be a positive whole number of minibatches; got {self.ada_interval}")
        parse_policy(self.diffaugment_policy)


class AdaController:
    """Tunes the pipe's `p` from the signs of D's outputs on real images (the r_t heuristic).

    Call `accumulate(real_logits)` for every real batch D scores and `adjust(batch_idx, batch_size)`
    after every minibatch. p stays within [0, 1] (NVIDIA's code only stops it at 0). Build the
    controller after moving the pipe to its device: the sign counters live there. Under
    torch.distributed the sign sums of all processes are combined, so every process moves p
    identically.
    """

    def __init__(self, pipe: AugmentPipe, target: float = 0.6, ada_kimg: float = 500.0, ada_interval: int = 4) -> None:
        self.pipe = pipe
        self.target = float(target)
        self.ada_kimg = float(ada_kimg)
        self.ada_interval = int(ada_interval)
        self.r_t: float | None = None  # the last measured E[sign(D(real))]
        self._signs = torch.zeros(2, dtype=accumulator_dtype(pipe.p.device), device=pipe.p.device)  # [sum, count] since the last adjustment

    @property
    def p(self) -> float:
        return float(self.pipe.p)

    def accumulate(self, real_logits: torch.Tensor | None) -> None:
        """Add sign(D(real)) of one batch (logits or their signs; None is ignored)."""
        if real_logits is None:
            return
        signs = real_logits.detach().sign().to(self._signs)
        self._signs[0] += signs.sum()
        self._signs[1] += signs.numel()

    def adjust(self, batch_idx: int, batch_size: int) -> bool:
        """After minibatch `batch_idx` (counted from 1) of `batch_size` images in total over all
        processes: every `ada_interval` minibatches, step p toward the target. True if it adjusted."""
        if batch_idx % self.ada_interval != 0:
            return False
        totals = self._global_signs()
        self._signs.zero_()
        sign_sum, count = totals.tolist()
        if count == 0:
            return False
        self.r_t = sign_sum / count
        direction = (self.r_t > self.target) - (self.r_t < self.target)  # sign(r_t - target)
        step = ada_step(batch_size, self.ada_interval, self.ada_kimg)
        self.pipe.p.copy_((self.pipe.p + direction * step).clamp(0, 1))
        return True

    def _global_signs(self) -> torch.Tensor:
        """[sum, count] of the signs accumulated by all processes."""
        totals = self._signs.clone()
        if is_distributed():
            dist.all_reduce(totals, op=dist.ReduceOp.SUM)
        return totals

    def state_dict(self) -> dict[str, Any]:
        """p, the last r_t and the signs gathered since the last adjustment (JSON-serializable).

        Under torch.distributed this is a collective: call it on every process. The pending signs
        of all processes are summed, and `load_state_dict` hands them to rank 0 alone.
        """
        sign_sum, count = self._global_signs().tolist()
        return {"p": self.p, "r_t": self.r_t, "sign_sum": sign_sum, "sign_count": count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pipe.p.fill_(float(state["p"]))
        self.r_t = None if state.get("r_t") is None else float(state["r_t"])
        first = not is_distributed() or dist.get_rank() == 0
        pending = [float(state.get("sign_sum", 0.0)), float(state.get("sign_count", 0.0))] if first else [0.0, 0.0]
        self._signs.copy_(torch.tensor(pending, dtype=self._signs.dtype))


class Augmentation:
    """What the training loop needs: the pipe D's inputs go through (or None), its strength p, and
    the ADA controller's hooks (no-ops for the fixed modes)."""

    def __init__(self, mode: str, pipe: torch.nn.Module | None, controller: AdaController | None = None) -> None:
        self.mode = mode
        self.pipe = pipe
        self.controller = controller

    @property
    def p(self) -> float:
        """The probability of augmenting an image: the pipe's p; 1 for DiffAugment; 0 without augmentation."""
        if isinstance(self.pipe, AugmentPipe):
            return float(self.pipe.p)
        return 0.0 if self.pipe is None else 1.0

    @property
    def r_t(self) -> float | None:
        return None if self.controller is None else self.controller.r_t

    def accumulate(self, real_logits: torch.Tensor | None) -> None:
        if self.controller is not None:
            self.controller.accumulate(real_logits)

    def adjust(self, batch_idx: int, batch_size: int) -> None:
        if self.controller is not None:
            self.controller.adjust(batch_idx, batch_size)

    def state_dict(self) -> dict[str, Any]:
        """JSON-serializable resume state (a collective under torch.distributed in ada mode)."""
        if self.controller is not None:
            return {"mode": self.mode, **self.controller.state_dict()}
        return {"mode": self.mode, "p": self.p}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the ADA state of a snapshot; fixed modes keep the p they were configured with."""
        if self.controller is not None and "p" in state and state.get("mode", "ada") == "ada":
            self.controller.load_state_dict(state)


def check_augment_state(state: Any) -> None:
    """Raise ValueError unless `state` (a snapshot's 'augment' entry) is one `Augmentation.load_state_dict` can take."""
    malformed = ValueError("'augment' is malformed (p must be a number in [0, 1]; r_t and the sign counts finite numbers)")
    if not isinstance(state, dict):
        raise malformed
    p = state.get("p", 0.0)
    numbers = [p, state.get("sign_sum", 0.0), state.get("sign_count", 0.0)]
    if state.get("r_t") is not None:
        numbers.append(state["r_t"])
    if not all(finite_number(v) for v in numbers) or not 0 <= p <= 1:
        raise malformed


def build_augmentation(config: AugmentConfig, device: torch.device | str = "cpu") -> Augmentation:
    """The augmentation of `config.mode`, on `device`, ready for the training loop."""
    if config.mode == "noaug":
        return Augmentation("noaug", None)
    if config.mode == "diffaug":
        return Augmentation("diffaug", DiffAugment(config.diffaugment_policy).to(device))
    pipe = augment_pipe_from_preset(config.augpipe, config.p).train().requires_grad_(False).to(device)
    if config.mode == "fixed":
        return Augmentation("fixed", pipe)
    controller = AdaController(pipe, target=config.target, ada_kimg=config.ada_kimg, ada_interval=config.ada_interval)
    return Augmentation("ada", pipe, controller)
