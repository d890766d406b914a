"""One optimizer step of a training phase, shared by the StyleGAN2 and Swapping Autoencoder loops."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from .distributed import average_gradients
from .session import NonFiniteError
from .stats import StatsCollector


@dataclass
class Phase:
    """One optimizer step kind: which network, which loss terms, how often."""

    name: str
    module: torch.nn.Module
    opt: torch.optim.Optimizer
    interval: int


def run_phase(
    phase: Phase,
    accumulate: Callable[[int, float], dict[str, torch.Tensor]],
    rounds: int,
    collector: StatsCollector | None = None,
    on_stats: Callable[[dict[str, torch.Tensor]], None] | None = None,
) -> None:
    """One optimizer step of `phase`: accumulate over the rounds (batch_gpu slices), average over
    processes, refuse non-finite gradients, step.

    `accumulate(round, gain)` back-propagates one slice's loss scaled by `gain` and returns its
    statistics. Each round gets `interval / rounds`, so the step sees the mean over the whole batch
    (times the lazy-regularization interval) whatever --batch-gpu is.
    """
    phase.module.requires_grad_(True)
    phase.opt.zero_grad(set_to_none=True)
    for r in range(rounds):
        stats = accumulate(r, phase.interval / rounds)
        if collector is not None:
            for name, value in stats.items():
                collector.report(name, value)
        if on_stats is not None:
            on_stats(stats)
    phase.module.requires_grad_(False)
    params = [p for p in phase.module.parameters()]
    average_gradients(params)
    grads = [p.grad for p in params if p.grad is not None]
    if grads and not bool(torch.stack([torch.isfinite(g).all() for g in grads]).all()):
        raise NonFiniteError(f"non-finite loss or gradients in phase {phase.name}")
    phase.opt.step()
