"""G_ema arithmetic: the half-life rule and the update."""

import copy
import math

import torch

from stylegan2.training.ema import ema_beta, update_ema


def test_ema_beta_gives_the_requested_half_life():
    beta = ema_beta(batch_size=32, ema_kimg=10, cur_nimg=10**6, ema_rampup=None)
    steps_per_half_life = 10_000 / 32
    assert math.isclose(beta**steps_per_half_life, 0.5, rel_tol=1e-9)


def test_ema_rampup_shortens_the_half_life_early_in_training():
    early = ema_beta(batch_size=32, ema_kimg=10, cur_nimg=1000, ema_rampup=0.05)
    assert math.isclose(early, 0.5 ** (32 / 50), rel_tol=1e-9)  # half-life min(10k, 1000 * 0.05) = 50 images
    assert ema_beta(32, 10, 10**7, 0.05) == ema_beta(32, 10, 10**7, None)


def test_update_ema_lerps_parameters_and_copies_buffers():
    net = torch.nn.BatchNorm1d(3)
    with torch.no_grad():
        net.weight.fill_(2.0)
        net.running_mean.fill_(5.0)
    ema = copy.deepcopy(net)
    with torch.no_grad():
        ema.weight.fill_(1.0)
        ema.running_mean.fill_(0.0)
    update_ema(ema, net, beta=0.75)
    torch.testing.assert_close(ema.weight, torch.full((3,), 0.75 * 1.0 + 0.25 * 2.0))
    torch.testing.assert_close(ema.running_mean, torch.full((3,), 5.0))
