"""Non-finite gradients: replaced as NVIDIA's loop replaces them, and a run whose gradients stay non-finite stopped,
all without making the CPU wait for the GPU.

NVIDIA's loop sets NaN gradient entries to 0 and infinities to +-1e5 before every optimizer step, so that a rare
float16 overflow in the backward pass costs one step's update instead of the run; we do the same. A run that has
diverged gives non-finite gradients step after step: MAX_NON_FINITE_STEPS in a row in one phase stop it with a
message naming the phase and the step where it began. Each phase's verdict is computed on the device when its
gradients are ready, copied to the host behind them, and read one step later: by then the GPU has finished that
step, and the read does not wait for the step queued since.
"""

from __future__ import annotations

import torch

from ..utils.device import HostCopy

MAX_NON_FINITE_STEPS = 4  # a phase's steps in a row with non-finite gradients that stop the run
REPLACEMENTS = {"nan": 0.0, "posinf": 1e5, "neginf": -1e5}  # NVIDIA's training_loop.py, before each opt.step()


class NonFiniteError(ArithmeticError):
    """A phase's loss or gradients stayed NaN or infinite, from training step `step` (None: the step under way)."""

    def __init__(self, message: str, step: int | None = None) -> None:
        super().__init__(message)
        self.step = step


def finite_flag(tensors: list[torch.Tensor]) -> torch.Tensor:
    """Whether every entry of `tensors` is finite, as a bool tensor left on their device, in one fused call: a
    tensor's largest magnitude is finite exactly when all its entries are (NaN propagates through the max)."""
    nonempty = [t for t in tensors if t.numel()]  # an empty tensor has no largest magnitude (and nothing to check)
    if not nonempty:
        return torch.tensor(True, device=tensors[0].device if tensors else None)
    return torch.stack(torch._foreach_norm(nonempty, float("inf"))).isfinite().all()


def replace_non_finite_(tensors: list[torch.Tensor]) -> None:
    """NaN entries -> 0, +-inf -> +-1e5, in place (finite entries, however large, are kept), as NVIDIA's loop does."""
    for t in tensors:
        torch.nan_to_num(t, **REPLACEMENTS, out=t)


class FiniteWatch:
    """The verdicts of the steps not yet read; `step` is the step under way (the session sets it)."""

    def __init__(self) -> None:
        self.step = 0
        self._pending: list[tuple[int, str, HostCopy]] = []
        self._streaks: dict[str, list[int]] = {}  # per phase: the steps in a row whose gradients were not finite
        self.replaced: list[tuple[int, str]] = []  # (step, phase) whose gradients were replaced, for the tick's note

    def watch(self, what: str, gradients: list[torch.Tensor]) -> None:
        """Remember whether a phase's `gradients` are all finite, without reading the answer yet, and replace
        their non-finite entries so that the optimizer step that follows stays finite."""
        self._pending.append((self.step, what, HostCopy(finite_flag(gradients))))
        replace_non_finite_(gradients)

    def check(self, before: int | None = None) -> None:
        """Read the verdicts of the steps before `before` (all with None); raise NonFiniteError when a phase has
        had MAX_NON_FINITE_STEPS steps in a row with non-finite gradients."""
        due = [entry for entry in self._pending if before is None or entry[0] < before]
        if not due:
            return
        self._pending = self._pending[len(due):]  # steps only grow, so the due ones come first
        for step, what, flag in due:
            finite = flag.tolist()
            streak = self._streaks.setdefault(what, [])
            if finite:
                streak.clear()
                continue
            streak.append(step)
            self.replaced.append((step, what))
            if len(streak) >= MAX_NON_FINITE_STEPS:
                self._pending.clear()
                raise NonFiniteError(f"non-finite loss or gradients in {what} in {len(streak)} of its steps in a row",
                                     streak[0])

    def take_replaced(self) -> list[tuple[int, str]]:
        """The (step, phase) pairs whose gradients were replaced since the last call."""
        replaced, self.replaced = self.replaced, []
        return replaced
