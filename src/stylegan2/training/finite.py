"""Non-finite gradients, found without making the CPU wait for the GPU.

Each phase's verdict is computed on the device when its gradients are ready and read on the host one step
later, when the GPU has finished that step anyway. The run stops with the same message a step later; the
networks it stepped with NaN in the meantime are never saved (ticks and snapshots read every verdict first).
"""

from __future__ import annotations

import torch


class NonFiniteError(ArithmeticError):
    """A loss or gradient became NaN or infinite, in training step `step` (None: the step under way)."""

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


class FiniteWatch:
    """The verdicts of the steps not yet read; `step` is the step under way (the session sets it)."""

    def __init__(self) -> None:
        self.step = 0
        self._pending: list[tuple[int, str, torch.Tensor]] = []

    def watch(self, what: str, tensors: list[torch.Tensor]) -> None:
        """Remember whether `tensors` (say, a phase's gradients) are all finite, without reading the answer yet."""
        self._pending.append((self.step, what, finite_flag(tensors)))

    def check(self, before: int | None = None) -> None:
        """Read the verdicts of the steps before `before` (all with None) and raise NonFiniteError for the first bad one."""
        due = [entry for entry in self._pending if before is None or entry[0] < before]
        if not due:
            return
        self._pending = self._pending[len(due):]  # steps only grow, so the due ones come first
        verdicts = torch.stack([flag.to(due[0][2].device) for _, _, flag in due]).tolist()  # one read for them all
        for (step, what, _), finite in zip(due, verdicts):
            if not finite:
                self._pending.clear()
                raise NonFiniteError(f"non-finite loss or gradients in {what}", step)
