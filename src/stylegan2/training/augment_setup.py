"""Glue between the training options and the augmentation pipeline with its ADA controller."""

from __future__ import annotations

from typing import Any, Callable

import torch

from .config import TrainingOptions


class AugmentSetup:
    """The augmentation the loss applies to every image D sees, and the rule that tunes its p."""

    def __init__(self, pipe: Callable[[torch.Tensor], torch.Tensor] | None) -> None:
        self.pipe = pipe
        self.r_t: float | None = None

    @property
    def p(self) -> float:
        return 0.0

    def accumulate(self, signs: torch.Tensor | None) -> None:
        """Collect sign(D(real)) for the next adjustment."""

    def adjust(self, batch_idx: int, batch_size: int) -> None:
        """Move p toward the target overfitting heuristic."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def build_augment(options: TrainingOptions, device: torch.device) -> AugmentSetup:
    return AugmentSetup(None)
