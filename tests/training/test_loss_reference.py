"""StyleGAN2Loss against NVIDIA's training/loss.py (stylegan2-ada-pytorch d72cc7d041b42ec8e806021a205ed9349f87c6a4):
the R1 weight gamma / 2, the path-length mean and its shrunk batch, style mixing and the w_avg update, each computed
here by hand from NVIDIA's formula."""

import math

import pytest
import torch

from stylegan2.models import Discriminator, Generator
from stylegan2.training import loss as loss_module
from stylegan2.training.loss import StyleGAN2Loss


def tiny_networks() -> tuple[Generator, Discriminator]:
    """An 8 px G with 4 ws of 8 channels and its D, trainable (as the training loop's phases make them)."""
    G = Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=8, img_channels=3, mapping_kwargs={"num_layers": 1},
                  synthesis_kwargs={"channel_base": 64, "channel_max": 8})
    D = Discriminator(c_dim=0, img_resolution=8, img_channels=3, channel_base=64, channel_max=8)
    return G.requires_grad_(True), D.requires_grad_(True)


def test_r1_is_weighted_gamma_over_two_in_the_reported_loss_and_in_ds_gradient():
    """NVIDIA: loss_Dr1 = r1_penalty * (r1_gamma / 2), reported as Loss/D/reg, and D's gradient is that of
    gain * mean((gamma / 2) |dD/dx|^2), differentiated here with torch.autograd before the loss runs."""
    G, D = tiny_networks()
    gamma, gain = 3.0, 0.5
    real = torch.randn(4, 3, 8, 8)
    x = real.clone().requires_grad_(True)
    (grad_x,) = torch.autograd.grad(D(x, torch.zeros(4, 0)).sum(), x, create_graph=True)
    by_hand = grad_x.square().sum(dim=[1, 2, 3])
    expected_grads = torch.autograd.grad((by_hand * (gamma / 2)).mean() * gain, list(D.parameters()), allow_unused=True)

    loss = StyleGAN2Loss(G, D, r1_gamma=gamma, style_mixing_prob=0.0, pl_weight=0.0)
    stats = loss.accumulate_gradients("Dreg", real, torch.zeros(4, 0), torch.randn(4, 8), torch.zeros(4, 0), gain=gain)

    torch.testing.assert_close(stats["Loss/r1_penalty"], by_hand.detach())
    torch.testing.assert_close(stats["Loss/D/reg"], by_hand.detach() * gamma / 2)
    for (name, param), expected in zip(D.named_parameters(), expected_grads):  # None: not in dD/dx (the output bias)
        got = torch.zeros_like(param) if param.grad is None else param.grad
        torch.testing.assert_close(got, torch.zeros_like(param) if expected is None else expected, msg=name)
    assert any(param.grad is not None and param.grad.abs().sum() > 0 for param in D.parameters())


@pytest.fixture
def recorded_lengths(monkeypatch) -> list[torch.Tensor]:
    """The path lengths L of each G_reg call, as pl_lengths returned them (detached)."""
    lengths, original = [], loss_module.pl_lengths

    def recording(img: torch.Tensor, ws: torch.Tensor) -> torch.Tensor:
        result = original(img, ws)
        lengths.append(result.detach().clone())
        return result

    monkeypatch.setattr(loss_module, "pl_lengths", recording)
    return lengths


def test_pl_mean_moves_one_hundredth_of_the_way_and_the_penalty_uses_the_updated_mean(recorded_lengths):
    """NVIDIA: pl_mean = self.pl_mean.lerp(L.mean(), pl_decay=0.01), stored, and then pl_penalty = (L - pl_mean)^2
    with that updated mean; Loss/G/reg = pl_penalty * pl_weight. Twice: from pl_mean 0, then from where it went."""
    G, D = tiny_networks()
    loss = StyleGAN2Loss(G, D, style_mixing_prob=0.0, pl_weight=3.0)  # pl_decay: the default, NVIDIA's 0.01
    z, c = torch.randn(8, 8), torch.zeros(8, 0)
    previous = 0.0
    for call in range(2):
        stats = loss.accumulate_gradients("Greg", torch.zeros(8, 3, 8, 8), c, z, c, gain=1.0)
        lengths = recorded_lengths[call].double()
        mean = previous + 0.01 * (lengths.mean().item() - previous)
        assert math.isclose(loss.pl_mean.item(), mean, rel_tol=1e-5)
        penalty = (lengths - mean).square()
        torch.testing.assert_close(stats["Loss/pl_penalty"].double(), penalty, rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(stats["Loss/G/reg"].double(), penalty * 3.0, rtol=1e-5, atol=1e-7)
        previous = loss.pl_mean.item()
    assert previous > 0


@pytest.mark.parametrize("shrink, batch", [(2, 4), (4, 2)])
def test_the_path_length_term_runs_g_on_the_batch_divided_by_pl_batch_shrink(monkeypatch, recorded_lengths, shrink, batch):
    """NVIDIA: batch_size = gen_z.shape[0] // pl_batch_shrink, and G runs on gen_z[:batch_size] only."""
    G, D = tiny_networks()
    loss = StyleGAN2Loss(G, D, style_mixing_prob=0.0, pl_batch_shrink=shrink)
    z = torch.randn(8, 8)
    seen = []
    run_G = loss.run_G
    monkeypatch.setattr(loss, "run_G", lambda z_, c_: seen.append(z_.clone()) or run_G(z_, c_))
    loss.accumulate_gradients("Greg", torch.zeros(8, 3, 8, 8), torch.zeros(8, 0), z, torch.zeros(8, 0), gain=1.0)
    assert len(seen) == 1
    torch.testing.assert_close(seen[0], z[:batch])
    assert recorded_lengths[0].shape == (batch,)


def test_pl_batch_shrink_is_two_by_default():
    G, D = tiny_networks()
    assert StyleGAN2Loss(G, D).pl_batch_shrink == 2


class TaggedMapping(torch.nn.Module):
    """A stand-in G whose mapping returns ws filled with its call's number (1, 2, ...) and records the calls'
    update_emas; synthesis returns nothing of interest: run_G's ws are what these tests read."""

    def __init__(self, num_ws: int = 6, w_dim: int = 2) -> None:
        super().__init__()
        self.num_ws, self.w_dim = num_ws, w_dim
        self.weight = torch.nn.Parameter(torch.zeros([]))  # StyleGAN2Loss takes its device from G's parameters
        self.calls = []

    def mapping(self, z: torch.Tensor, c: torch.Tensor, update_emas: bool = False) -> torch.Tensor:
        self.calls.append(update_emas)
        return torch.full([z.shape[0], self.num_ws, self.w_dim], float(len(self.calls)))

    def synthesis(self, ws: torch.Tensor) -> torch.Tensor:
        return ws.sum(dim=[1, 2])


def mixed_draws(prob: float, draws: int, num_ws: int = 6) -> list[int]:
    """The cutoff of each of `draws` run_G calls (num_ws: not mixed), checking that each ws takes its layers
    [0, cutoff) from the first z's mapping and [cutoff, num_ws) from the second's."""
    G = TaggedMapping(num_ws)
    loss = StyleGAN2Loss(G, torch.nn.Identity(), style_mixing_prob=prob)
    cutoffs = []
    for _ in range(draws):
        G.calls.clear()
        _, ws = loss.run_G(torch.randn(3, 4), torch.zeros(3, 0))
        first = (ws == 1).all(dim=2).all(dim=0)  # [num_ws]: the layer is the first mapping's for every sample
        cutoff = int(first.sum())
        expected = torch.tensor([1.0] * cutoff + [2.0] * (num_ws - cutoff)).reshape(1, -1, 1).expand_as(ws)
        torch.testing.assert_close(ws, expected)
        cutoffs.append(cutoff)
    return cutoffs


@pytest.mark.parametrize("prob", [0.9, 0.25])
def test_style_mixing_happens_at_style_mixing_prob(prob):
    """NVIDIA: torch.where(torch.rand([]) < style_mixing_prob, cutoff, num_ws): a draw mixes with probability prob.
    2000 seeded draws; the bounds are 6 binomial standard deviations wide."""
    torch.manual_seed(1)
    draws = 2000
    mixed = sum(cutoff < 6 for cutoff in mixed_draws(prob, draws))
    sd = math.sqrt(draws * prob * (1 - prob))
    assert abs(mixed - draws * prob) < 6 * sd


def test_the_style_mixing_cutoff_is_uniform_over_one_to_num_ws_minus_one():
    """NVIDIA: cutoff = torch.empty([], dtype=int64).random_(1, ws.shape[1]), uniform over [1, num_ws): the first z
    always keeps layer 0 and the second always gets the last; ws[:, cutoff:] are the second z's."""
    torch.manual_seed(2)
    cutoffs = [cutoff for cutoff in mixed_draws(1.0, 1000) if cutoff < 6]
    assert len(cutoffs) == 1000
    counts = [cutoffs.count(k) for k in range(1, 6)]
    assert sum(counts) == 1000  # no other cutoff (0, or 6 when mixing is certain)
    sd = math.sqrt(1000 * 0.2 * 0.8)
    assert all(abs(count - 200) < 6 * sd for count in counts), counts


def test_without_style_mixing_every_layer_is_the_first_zs():
    torch.manual_seed(3)
    assert set(mixed_draws(0.0, 50)) == {6}


def test_only_the_first_mapping_of_run_g_updates_w_avg():
    """NVIDIA: ws = G_mapping(z, c) (updates w_avg in training), the mixing z's G_mapping(..., skip_w_avg_update=True)."""
    G = TaggedMapping()
    loss = StyleGAN2Loss(G, torch.nn.Identity(), style_mixing_prob=0.9)
    loss.run_G(torch.randn(3, 4), torch.zeros(3, 0))
    assert G.calls == [True, False]


@pytest.mark.parametrize("phase", ["Gmain", "Greg", "Dmain"])
def test_each_phase_that_runs_g_moves_w_avg_once_toward_the_mean_w_of_its_zs(phase):
    """NVIDIA's MappingNetwork in training: w_avg <- mean_batch(w).lerp(w_avg, 0.995) on each run_G's own z (Gmain
    and Dmain: the whole slice; Greg: its shrunk batch), never on the style-mixing z."""
    torch.manual_seed(4)
    G, D = tiny_networks()
    G.mapping.w_avg.normal_()
    before = G.mapping.w_avg.clone()
    z, c = torch.randn(4, 8), torch.zeros(4, 0)
    used = z[:2] if phase == "Greg" else z
    with torch.no_grad():
        w = G.mapping(used, c[: len(used)])[:, 0]  # without update_emas: w_avg stays
    expected = w.mean(dim=0).lerp(before, 0.995)
    loss = StyleGAN2Loss(G, D, style_mixing_prob=0.9)
    loss.accumulate_gradients(phase, torch.randn(4, 3, 8, 8), c, z, c, gain=1.0)
    torch.testing.assert_close(G.mapping.w_avg, expected)
