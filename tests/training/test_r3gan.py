"""The R3GAN objective (`--loss r3gan`): relativistic pairing with R1 and R2, against independent computations."""

import pytest
import torch
import torch.nn.functional as F

from stylegan2.training.config import resolve_options
from stylegan2.training.loss import LOSSES, R3GANLoss, gradient_penalty

GAMMA = 3.0


class TinyMapping(torch.nn.Module):
    def __init__(self, z_dim: int, c_dim: int) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(z_dim + c_dim, 6)

    def forward(self, z, c, update_emas=False):
        return torch.tanh(self.fc(torch.cat([z, c], dim=1))).unsqueeze(1).repeat(1, 2, 1)  # [N, num_ws = 2, 6]


class TinySynthesis(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(12, 64)

    def forward(self, ws):
        return torch.tanh(self.fc(ws.flatten(1))).reshape(-1, 1, 8, 8)


class TinyG(torch.nn.Module):
    """A float64 stand-in with StyleGAN2's interface (G.mapping, G.synthesis); its output is deterministic."""

    def __init__(self, c_dim: int) -> None:
        super().__init__()
        self.mapping, self.synthesis = TinyMapping(8, c_dim), TinySynthesis()

    def forward(self, z, c):
        return self.synthesis(self.mapping(z, c))


class TinyD(torch.nn.Module):
    """A float64 critic on (packed) images with a label projection, smooth so its gradients are well defined."""

    def __init__(self, channels: int, c_dim: int) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(channels, 4, 3, padding=1)
        self.fc = torch.nn.Linear(4 * 64, 5)
        self.out = torch.nn.Linear(5, 1)
        self.embed = torch.nn.Linear(c_dim, 5) if c_dim else None

    def forward(self, img, c):
        h = torch.nn.functional.softplus(self.fc(torch.tanh(self.conv(img)).flatten(1)))
        logits = self.out(h)
        return logits + (self.embed(c) * h).sum(dim=1, keepdim=True) if self.embed is not None else logits


def tiny_pair(pack: int = 1, c_dim: int = 0) -> tuple[TinyG, TinyD]:
    torch.manual_seed(0)
    G, D = TinyG(c_dim).double(), TinyD(pack, c_dim * pack).double()
    return G.train().requires_grad_(False), D.train().requires_grad_(False)


def batch(c_dim: int = 0, n: int = 8):
    gen = torch.Generator().manual_seed(1)
    real = torch.randn(n, 1, 8, 8, generator=gen, dtype=torch.float64)
    z = torch.randn(n, 8, generator=gen, dtype=torch.float64)
    c = F.one_hot(torch.arange(n) % 3, 3).double() if c_dim else torch.zeros(n, 0, dtype=torch.float64)
    return real, c, z


def grads_of(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.grad.clone() for name, p in module.named_parameters() if p.grad is not None}


def run_phase(loss: R3GANLoss, module: torch.nn.Module, phase: str, real, c, z, gain: float = 1.0):
    module.requires_grad_(True)
    # gen_c is unused: each fake takes its real partner's label.
    stats = loss.accumulate_gradients(phase, real, c, z, torch.zeros_like(c), gain=gain)
    module.requires_grad_(False)
    return stats, grads_of(module)


def packed(img: torch.Tensor, c: torch.Tensor, pack: int):
    return img.reshape(img.shape[0] // pack, -1, *img.shape[2:]), c.reshape(c.shape[0] // pack, -1)


@pytest.mark.parametrize("pack,c_dim", [(1, 0), (2, 0), (2, 3)])
def test_d_loss_is_softplus_of_fake_minus_real_logits_over_pairs(pack, c_dim):
    G, D = tiny_pair(pack, c_dim)
    real, c, z = batch(c_dim)
    loss = R3GANLoss(G, D, r1_gamma=GAMMA, style_mixing_prob=0.0, pl_weight=0.0, pack=pack)
    stats, grads = run_phase(loss, D, "Dmain", real, c, z)

    D.requires_grad_(True)
    fake = G(z, c)  # each fake is made with its real partner's label
    d_fake, d_real = D(*packed(fake, c, pack)), D(*packed(real, c, pack))
    expected = torch.log1p(torch.exp(d_fake - d_real))  # softplus written out
    expected_grads = torch.autograd.grad(expected.mean(), [p for p in D.parameters()], allow_unused=True)
    torch.testing.assert_close(stats["Loss/D/loss"], expected.detach())
    torch.testing.assert_close(stats["Loss/signs/real"], (d_real - d_fake).detach().sign())
    for (name, p), g in zip(D.named_parameters(), expected_grads):
        if g is not None:
            torch.testing.assert_close(grads[name], g, msg=name)


@pytest.mark.parametrize("pack,c_dim", [(1, 0), (2, 3)])
def test_g_loss_is_softplus_of_real_minus_fake_logits_and_trains_only_g(pack, c_dim):
    G, D = tiny_pair(pack, c_dim)
    real, c, z = batch(c_dim)
    loss = R3GANLoss(G, D, r1_gamma=GAMMA, style_mixing_prob=0.0, pl_weight=0.0, pack=pack)
    stats, grads = run_phase(loss, G, "Gmain", real, c, z)
    assert all(p.grad is None for p in D.parameters())

    G.requires_grad_(True)
    d_fake, d_real = D(*packed(G(z, c), c, pack)), D(*packed(real, c, pack))
    expected = torch.log1p(torch.exp(d_real - d_fake))
    params = [p for p in G.parameters()]
    expected_grads = torch.autograd.grad(expected.mean(), params, allow_unused=True)
    torch.testing.assert_close(stats["Loss/G/loss"], expected.detach())
    checked = 0
    for (name, p), g in zip(G.named_parameters(), expected_grads):
        if g is not None:
            torch.testing.assert_close(grads[name], g, msg=name)
            checked += 1
    assert checked > 0


@pytest.mark.parametrize("pack,c_dim", [(1, 0), (2, 0), (2, 3)])
def test_d_reg_is_r1_on_reals_plus_r2_on_fakes(pack, c_dim):
    G, D = tiny_pair(pack, c_dim)
    real, c, z = batch(c_dim)
    loss = R3GANLoss(G, D, r1_gamma=GAMMA, style_mixing_prob=0.0, pl_weight=0.0, pack=pack)
    stats, grads = run_phase(loss, D, "Dreg", real, c, z, gain=16.0)

    # Independently: gradients of D with respect to its own (packed) inputs, by autograd in float64.
    D.requires_grad_(True)
    x_real, c_packed = packed(real, c, pack)
    x_fake, _ = packed(G(z, c), c, pack)
    x_real, x_fake = x_real.clone().requires_grad_(True), x_fake.detach().clone().requires_grad_(True)
    (g_real,) = torch.autograd.grad(D(x_real, c_packed).sum(), x_real, create_graph=True)
    (g_fake,) = torch.autograd.grad(D(x_fake, c_packed).sum(), x_fake, create_graph=True)
    r1, r2 = g_real.square().sum(dim=[1, 2, 3]), g_fake.square().sum(dim=[1, 2, 3])
    torch.testing.assert_close(stats["Loss/r1_penalty"], r1.detach())
    torch.testing.assert_close(stats["Loss/r2_penalty"], r2.detach())
    objective = ((r1 + r2) * GAMMA / 2).mean() * 16.0
    expected_grads = torch.autograd.grad(objective, [p for p in D.parameters()], allow_unused=True)
    for (name, p), g in zip(D.named_parameters(), expected_grads):
        if g is not None:
            torch.testing.assert_close(grads[name], g, msg=name)


def test_r2_penalty_matches_finite_differences():
    G, D = tiny_pair()
    _, c, z = batch()
    fake = G(z[:2], c[:2]).detach().requires_grad_(True)
    penalty = gradient_penalty(D(fake, c[:2]), fake)
    eps = 1e-6
    for n in range(2):
        x = fake[n: n + 1].detach()
        grad = torch.zeros(64, dtype=torch.float64)
        for i in range(64):
            delta = torch.zeros(64, dtype=torch.float64)
            delta[i] = eps
            plus, minus = fake.detach().clone(), fake.detach().clone()
            plus[n] = (x.flatten() + delta).reshape(1, 8, 8)
            minus[n] = (x.flatten() - delta).reshape(1, 8, 8)
            grad[i] = (D(plus, c[:2]).sum() - D(minus, c[:2]).sum()).item() / (2 * eps)
        torch.testing.assert_close(penalty[n], grad.square().sum(), rtol=1e-5, atol=1e-9)


def test_accumulating_slices_equals_one_pass_over_the_batch():
    """With --batch-gpu below the batch, the step's gradient is the same mean over all pairs."""
    G, D = tiny_pair()
    real, c, z = batch()
    for phase, module in (("Dmain", D), ("Gmain", G), ("Dreg", D)):
        loss = R3GANLoss(G, D, r1_gamma=GAMMA, style_mixing_prob=0.0, pl_weight=0.0)
        _, whole = run_phase(loss, module, phase, real, c, z)
        for p in module.parameters():
            p.grad = None
        module.requires_grad_(True)
        for r in range(2):
            s = slice(4 * r, 4 * r + 4)
            loss.accumulate_gradients(phase, real[s], c[s], z[s], c[s], gain=0.5)
        module.requires_grad_(False)
        sliced = grads_of(module)
        for name in whole:
            torch.testing.assert_close(sliced[name], whole[name], msg=f"{phase} {name}")
        for p in module.parameters():
            p.grad = None


def test_loss_option_is_validated_with_the_choices():
    with pytest.raises(ValueError, match=r"--loss must be one of stylegan2, r3gan; got 'r4gan'"):
        resolve_options("builtin:shapes", "cpu", 16, 1, dict(loss="r4gan"))


def test_official_presets_keep_the_official_objective():
    for cfg in ("auto", "stylegan2", "paper256", "paper512", "paper1024", "cifar"):
        assert resolve_options("builtin:shapes", cfg, 32, 1, {}).loss == "stylegan2"
    assert set(LOSSES) == {"stylegan2", "r3gan"}
