"""The optimizer step: foreach Adam, and gradients with non-finite entries replaced before it."""

import torch

from stylegan2.models import Generator
from stylegan2.training.finite import FiniteWatch
from stylegan2.training.phase import Phase, adam, run_phase
from stylegan2.training.snapshot import load_optimizer


def tiny_generator() -> Generator:
    torch.manual_seed(0)
    return Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3, mapping_kwargs={"num_layers": 2},
                     synthesis_kwargs={"channel_base": 64, "channel_max": 8})


def test_foreach_adam_matches_the_per_tensor_loop_bit_for_bit():
    """The training loops' Adam against torch's per-tensor one, on a G with lazy-regularization betas."""
    ratio = 4 / 5
    nets = [tiny_generator(), tiny_generator()]
    opts = [adam(nets[0].parameters(), lr=0.005 * ratio, betas=(0.0, 0.99**ratio)),
            torch.optim.Adam(nets[1].parameters(), lr=0.005 * ratio, betas=(0.0, 0.99**ratio), eps=1e-8, foreach=False)]
    for step in range(6):
        z = torch.randn(4, 8, generator=torch.Generator().manual_seed(step))
        for net, opt in zip(nets, opts):
            opt.zero_grad(set_to_none=True)
            net(z, None, noise_mode="const").square().mean().backward()
            opt.step()
    for (name, a), b in zip(nets[0].named_parameters(), nets[1].parameters()):
        assert torch.equal(a, b), name
    assert any(not torch.equal(a, b) for a, b in zip(nets[0].parameters(), tiny_generator().parameters()))  # it trained


def test_a_resumed_optimizer_keeps_this_runs_implementation():
    """A snapshot from before foreach (its groups say foreach None) loads into a foreach Adam that stays foreach."""
    old = torch.optim.Adam(tiny_generator().parameters(), lr=0.002, betas=(0.0, 0.99), eps=1e-8)
    old.zero_grad()
    net = tiny_generator()
    net(torch.randn(2, 8), None).mean().backward()
    opt = adam(net.parameters(), lr=0.002, betas=(0.0, 0.99))
    opt.step()
    state = old.state_dict()
    assert state["param_groups"][0]["foreach"] is None
    load_optimizer("G", opt, state)
    assert opt.param_groups[0]["foreach"] is True
    assert opt.param_groups[0]["lr"] == 0.002


def test_a_phase_steps_with_non_finite_gradient_entries_replaced_as_nvidias_loop_does():
    """NVIDIA's training_loop.py: nan_to_num(grad, nan=0, posinf=1e5, neginf=-1e5) on each parameter, then opt.step()."""
    G, reference = tiny_generator(), tiny_generator()
    bad = {"synthesis.b4.conv1.weight": float("nan"), "mapping.fc0.bias": float("inf"), "synthesis.b8.torgb.bias": -float("inf")}

    def accumulate(module: torch.nn.Module, gain: float) -> None:
        z = torch.randn(2, 8, generator=torch.Generator().manual_seed(1))
        module.synthesis(module.mapping(z, None), noise_mode="const").square().mean().backward()
        for name, p in module.named_parameters():
            if name in bad:
                p.grad.view(-1)[0] = bad[name]

    phase = Phase("Gmain", G, adam(G.parameters(), lr=0.01, betas=(0.0, 0.99)), interval=1)
    finite = FiniteWatch()
    run_phase(phase, lambda r, gain: accumulate(G, gain) or {}, rounds=1, finite=finite)

    opt = adam(reference.parameters(), lr=0.01, betas=(0.0, 0.99))
    accumulate(reference, 1.0)
    for p in reference.parameters():
        torch.nan_to_num(p.grad, nan=0.0, posinf=1e5, neginf=-1e5, out=p.grad)
    opt.step()
    for (name, a), b in zip(G.named_parameters(), reference.parameters()):
        assert torch.isfinite(a).all() and torch.equal(a, b), name
    finite.check()
    assert finite.take_replaced() == [(0, "phase Gmain")]
