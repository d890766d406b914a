"""R1 and path-length penalties against independent computations; the statistics the losses report."""

import math

import pytest
import torch

from stylegan2.models import Discriminator, Generator
from stylegan2.training.loss import R3GANLoss, StyleGAN2Loss, gradient_penalty, pl_lengths


def test_r1_penalty_of_a_linear_critic_is_the_squared_weight_norm():
    weight = torch.randn(1, 2, 4, 4)
    img = torch.randn(3, 2, 4, 4, requires_grad=True)
    logits = (img * weight).sum(dim=[1, 2, 3]).unsqueeze(1)  # D(x) = <w, x>, so dD/dx = w
    penalty = gradient_penalty(logits, img)
    torch.testing.assert_close(penalty, weight.square().sum().expand(3))


def test_r1_penalty_matches_finite_differences_for_a_nonlinear_critic():
    torch.manual_seed(3)
    w1 = torch.randn(8, 12, dtype=torch.float64)

    def critic(x):
        return torch.tanh(x.flatten(1) @ w1.t()).sum(dim=1, keepdim=True)

    img = torch.randn(2, 3, 2, 2, dtype=torch.float64, requires_grad=True)
    penalty = gradient_penalty(critic(img), img)
    eps = 1e-6
    for n in range(2):
        grad = torch.zeros(12, dtype=torch.float64)
        for i in range(12):
            delta = torch.zeros(12, dtype=torch.float64)
            delta[i] = eps
            x = img[n].detach().flatten()
            plus = critic((x + delta).reshape(1, 3, 2, 2))
            minus = critic((x - delta).reshape(1, 3, 2, 2))
            grad[i] = (plus - minus).item() / (2 * eps)
        assert math.isclose(penalty[n].item(), grad.square().sum().item(), rel_tol=1e-6)


def test_r1_penalty_is_differentiable_with_respect_to_the_critic():
    weight = torch.randn(1, 1, 2, 2, requires_grad=True)
    img = torch.randn(2, 1, 2, 2, requires_grad=True)
    penalty = gradient_penalty((img * weight).sum(dim=[1, 2, 3]).unsqueeze(1), img)
    (grad,) = torch.autograd.grad(penalty.sum(), weight)
    torch.testing.assert_close(grad, 2 * 2 * weight.detach())  # d/dw of N * |w|^2 with N = 2


def test_pl_lengths_equal_the_jacobian_formula():
    torch.manual_seed(0)
    num_ws, w_dim, side = 3, 4, 2
    A = torch.randn(num_ws * w_dim, side * side, dtype=torch.float64)
    ws = torch.randn(2, num_ws, w_dim, dtype=torch.float64, requires_grad=True)

    def synth(w):
        return torch.sin(w.reshape(w.shape[0], -1) @ A).reshape(-1, 1, side, side)

    img = synth(ws)
    gen = torch.random.get_rng_state()
    lengths = pl_lengths(img, ws)
    torch.random.set_rng_state(gen)
    y = torch.randn_like(img) / side  # the same random image, scaled by 1/sqrt(H*W)
    for n in range(2):
        jac = torch.autograd.functional.jacobian(lambda w: synth(w.unsqueeze(0))[0], ws[n].detach())  # [1, s, s, num_ws, w_dim]
        jty = (jac * y[n].unsqueeze(-1).unsqueeze(-1)).sum(dim=[0, 1, 2])  # [num_ws, w_dim]
        expected = jty.square().sum(dim=1).mean().sqrt()
        assert math.isclose(lengths[n].item(), expected.item(), rel_tol=1e-9)


@pytest.mark.parametrize("loss_class", [StyleGAN2Loss, R3GANLoss])
@pytest.mark.parametrize("phase", ["Gmain", "Dmain"])
def test_the_fake_scores_signs_are_reported_as_nvidias_loss_reports_them(loss_class, phase):
    """Loss/signs/fake beside Loss/scores/fake in Gmain and Dmain (NVIDIA's Dgen), as stats.jsonl has them there."""
    torch.manual_seed(0)
    G = Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=8, img_channels=3, mapping_kwargs={"num_layers": 1},
                  synthesis_kwargs={"channel_base": 64, "channel_max": 8})
    D = Discriminator(c_dim=0, img_resolution=8, img_channels=3, channel_base=64, channel_max=8)
    loss = loss_class(G.requires_grad_(True), D.requires_grad_(True), style_mixing_prob=0.0, pl_weight=0.0)
    stats = loss.accumulate_gradients(phase, torch.randn(4, 3, 8, 8), torch.zeros(4, 0), torch.randn(4, 8), torch.zeros(4, 0),
                                      gain=1.0)
    assert torch.equal(stats["Loss/signs/fake"], stats["Loss/scores/fake"].sign())
