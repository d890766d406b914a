"""Training phases: one optimizer step of a phase, shared by the StyleGAN2 and Swapping Autoencoder loops, and
StyleGAN2's lazy-regularization schedule of phases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import torch

from ..models import Discriminator, Generator
from .config import TrainingOptions
from .distributed import average_gradients
from .finite import FiniteWatch
from .stats import StatsCollector


@dataclass
class Phase:
    """One optimizer step kind: which network, which loss terms, how often."""

    name: str
    module: torch.nn.Module
    opt: torch.optim.Optimizer
    interval: int


def adam(params: Iterable[torch.nn.Parameter], *, lr: float, betas: tuple[float, float]) -> torch.optim.Adam:
    """Adam with NVIDIA's epsilon, each update op applied to all parameters in one call (foreach):
    the numbers of torch's per-tensor loop, with a fraction of its Python calls (the CPU default
    otherwise; CUDA picks foreach already). See docs/experiments/speed.md#the-loop-around-the-networks."""
    return torch.optim.Adam(params, lr=lr, betas=betas, eps=1e-8, foreach=True)


def make_phases(options: TrainingOptions, G: Generator, D: Discriminator) -> list[Phase]:
    """StyleGAN2's phases: Gmain and Dmain every minibatch, Greg and Dreg (lazy regularization) every
    g_reg_interval / d_reg_interval minibatches; Adam per network, with lr and betas scaled by interval/(interval+1)."""
    phases = []
    for name, module, lr, reg_interval in (("G", G, options.glr, options.g_reg_interval), ("D", D, options.dlr, options.d_reg_interval)):
        ratio = reg_interval / (reg_interval + 1)
        betas = (0.0, 0.99**ratio)
        opt = adam(module.parameters(), lr=lr * ratio, betas=betas)
        phases.append(Phase(name + "main", module, opt, 1))
        regularized = options.pl_weight != 0 if name == "G" else options.gamma != 0
        if regularized:  # a disabled penalty needs no phase (the lr and betas keep the official scaling)
            phases.append(Phase(name + "reg", module, opt, reg_interval))
    return phases


def run_phase(
    phase: Phase,
    accumulate: Callable[[int, float], dict[str, torch.Tensor]],
    rounds: int,
    finite: FiniteWatch,
    collector: StatsCollector | None = None,
    on_stats: Callable[[dict[str, torch.Tensor]], None] | None = None,
) -> None:
    """One optimizer step of `phase`: accumulate over the rounds (batch_gpu slices), average over
    processes, hand the gradients to `finite` (which replaces non-finite entries, as NVIDIA's loop does,
    and stops a run whose gradients stay non-finite), step.

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
    finite.watch(f"phase {phase.name}", [p.grad for p in params if p.grad is not None])
    phase.opt.step()
