"""G_ema: an exponential moving average of the generator's weights, which gives better images."""

from __future__ import annotations

import torch


def ema_beta(batch_size: int, ema_kimg: float, cur_nimg: int, ema_rampup: float | None) -> float:
    """Per-step decay giving a half-life of `ema_kimg` thousand images (ramped up early in training).

    With ramp-up the half-life is at most `cur_nimg * ema_rampup`, so the average does not hold
    on to the random initial weights for long.
    """
    ema_nimg = ema_kimg * 1000
    if ema_rampup is not None:
        ema_nimg = min(ema_nimg, cur_nimg * ema_rampup)
    return 0.5 ** (batch_size / max(ema_nimg, 1e-8))


@torch.no_grad()
def update_ema(G_ema: torch.nn.Module, G: torch.nn.Module, beta: float) -> None:
    """p_ema <- beta * p_ema + (1 - beta) * p; buffers (w_avg, noise_const) are copied as they are."""
    ema_params = list(G_ema.parameters())
    params = list(G.parameters())
    torch._foreach_lerp_(ema_params, params, 1.0 - beta)
    for b_ema, b in zip(G_ema.buffers(), G.buffers()):
        b_ema.copy_(b)
