"""StyleGAN2Step, one minibatch of the training loop, against NVIDIA's training_loop.py
(stylegan2-ada-pytorch d72cc7d041b42ec8e806021a205ed9349f87c6a4): when ADA adjusts p."""

from types import SimpleNamespace

import pytest
import torch

from stylegan2.training.ada import AugmentConfig, ada_step, build_augmentation
from stylegan2.training.loop import StyleGAN2Step


def test_ada_adjusts_p_after_every_fourth_minibatch_counting_from_one():
    """NVIDIA, after each minibatch's phases: `batch_idx += 1; if batch_idx % ada_interval == 0:` adjust p from the
    signs gathered since the last adjustment. So the first adjustment comes after the 4th minibatch (batch_idx 0..3
    done), with the signs of all four, and the next after the 8th. The phases are left out here: the signs of D's
    real outputs (all positive, so r_t = 1 > 0.6 and p rises) are added before each step as Dmain would."""
    options = SimpleNamespace(batch=8, batch_gpu=8, ema_kimg=10.0, ema_rampup=None)
    session = SimpleNamespace(batch_idx=0, cur_nimg=0)
    augment = build_augmentation(AugmentConfig(mode="ada", target=0.6))
    G, G_ema = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)
    minibatches = iter(lambda: (torch.zeros(8, 3, 4, 4, dtype=torch.uint8), torch.zeros(8, 0)), None)
    step = StyleGAN2Step(options, SimpleNamespace(device=torch.device("cpu")), session, dataset=None,
                         minibatches=minibatches, group=1, G=G, G_ema=G_ema, loss=None, phases=[], augment=augment)
    p_after = []
    for batch_idx in range(8):
        session.batch_idx, session.cur_nimg = batch_idx, batch_idx * options.batch
        augment.accumulate(torch.ones(8))
        step()
        p_after.append(augment.p)
    one = ada_step(options.batch)  # batch * ada_interval / (ada_kimg * 1000)
    assert p_after == pytest.approx([0.0, 0.0, 0.0, one, one, one, one, 2 * one])  # p is a float32 buffer
    assert augment.r_t == 1.0
