"""SwapAELoss: finite stats per phase, gradients into the right networks only, R1 values, and a working round trip."""

import math

import numpy as np
import pytest
import torch

from stylegan2.data import open_dataset
from stylegan2.models import CooccurrenceDiscriminator, Discriminator, SwapEncoder, SwapGenerator
from stylegan2.swapae.loss import SwapAELoss
from stylegan2.swapae.patches import sample_patches

RES = 16


@pytest.fixture(autouse=True)
def _one_thread(one_thread: None) -> None:
    """Every test here runs its tiny networks on one thread."""


def tiny_networks(channels: int = 3) -> dict[str, torch.nn.Module]:
    codes = dict(spatial_code_ch=4, global_code_ch=32)
    return {
        "E": SwapEncoder(img_resolution=RES, img_channels=channels, channel_base=256, channel_max=32, num_downsampling_sp=2,
                         num_downsampling_gl=1, **codes),
        "G": SwapGenerator(img_resolution=RES, img_channels=channels, num_upsampling=2, channel_base=256, channel_max=32, **codes),
        "D": Discriminator(c_dim=0, img_resolution=RES, img_channels=channels, channel_base=128, channel_max=16),
        "Dpatch": CooccurrenceDiscriminator(img_channels=channels, patch_size=8, channel_base=64, channel_max=16),
    }


def make_loss(nets: dict[str, torch.nn.Module], **overrides) -> SwapAELoss:
    kwargs = dict(num_patches=3, patch_min_scale=0.25, patch_max_scale=0.5)
    kwargs.update(overrides)
    return SwapAELoss(nets["E"], nets["G"], nets["D"], nets["Dpatch"], **kwargs)


def grads_by_network(nets: dict[str, torch.nn.Module]) -> dict[str, list[torch.Tensor | None]]:
    return {name: [p.grad for p in net.parameters()] for name, net in nets.items()}


def reals(n: int = 4) -> torch.Tensor:
    return torch.rand(n, 3, RES, RES) * 2 - 1


EXPECTED_STATS = {
    "Gmain": {"Loss/L1", "Loss/G/rec", "Loss/G/swap", "Loss/G/patch", "Loss/G/loss"},
    "Dmain": {"Loss/D/loss", "Loss/D/patch", "Loss/scores/real", "Loss/scores/fake", "Loss/patch_scores/real",
              "Loss/patch_scores/fake"},
    "Dreg": {"Loss/r1_penalty", "Loss/patch_r1_penalty", "Loss/D/reg"},
}


@pytest.mark.parametrize("phase", ["Gmain", "Dmain", "Dreg"])
def test_every_phase_returns_finite_scalar_stats(phase):
    stats = make_loss(tiny_networks()).accumulate_gradients(phase, reals(), gain=1.0)
    assert set(stats) == EXPECTED_STATS[phase]
    for name, value in stats.items():
        assert value.ndim == 0 and torch.isfinite(value), name
        assert not value.requires_grad, name


@pytest.mark.parametrize("phase, trained", [("Gmain", {"E", "G"}), ("Dmain", {"D", "Dpatch"}), ("Dreg", {"D", "Dpatch"})])
def test_gradients_reach_exactly_the_phase_networks(phase, trained):
    nets = tiny_networks()
    make_loss(nets).accumulate_gradients(phase, reals(), gain=1.0)
    for name, grads in grads_by_network(nets).items():
        if name not in trained:
            assert all(g is None for g in grads), f"{phase} put gradients into {name}"
        elif phase == "Dreg":  # R1 does not reach a discriminator's last bias, so only most weights get gradients
            assert any(g is not None and g.abs().sum() > 0 for g in grads), f"{phase} left {name} without gradients"
        else:
            assert all(g is not None for g in grads), f"{phase} left some of {name} without gradients"
            assert sum(g.abs().sum() for g in grads) > 0


def test_the_generator_phase_restores_the_discriminators_requires_grad_flags():
    nets = tiny_networks()
    nets["D"].requires_grad_(False)
    make_loss(nets).accumulate_gradients("Gmain", reals(), gain=1.0)
    assert not any(p.requires_grad for p in nets["D"].parameters())
    assert all(p.requires_grad for p in nets["Dpatch"].parameters())


def test_zero_weights_skip_their_terms_and_discriminators():
    nets = tiny_networks()
    loss = make_loss(nets, lambda_gan_rec=0.0, lambda_gan_swap=0.0)
    assert set(loss.accumulate_gradients("Gmain", reals(), gain=1.0)) == {"Loss/L1", "Loss/G/patch", "Loss/G/loss"}
    assert set(loss.accumulate_gradients("Dmain", reals(), gain=1.0)) == {"Loss/D/patch", "Loss/patch_scores/real",
                                                                          "Loss/patch_scores/fake"}
    assert set(loss.accumulate_gradients("Dreg", reals(), gain=1.0)) == {"Loss/patch_r1_penalty", "Loss/D/reg"}
    assert all(p.grad is None for p in nets["D"].parameters())


def test_generator_loss_is_the_weighted_sum_of_its_terms():
    loss = make_loss(tiny_networks(), lambda_l1=2.0, lambda_gan_rec=0.3, lambda_gan_swap=0.7, lambda_patch=1.5)
    stats = loss.accumulate_gradients("Gmain", reals(), gain=1.0)
    expected = 2.0 * stats["Loss/L1"] + 0.3 * stats["Loss/G/rec"] + 0.7 * stats["Loss/G/swap"] + 1.5 * stats["Loss/G/patch"]
    torch.testing.assert_close(stats["Loss/G/loss"], expected)


def test_swaps_take_the_neighbours_structure_and_their_own_texture():
    nets = tiny_networks()
    loss = make_loss(nets)
    for net in nets.values():
        net.eval()  # constant noise: the same codes decode to the same image
    img = reals(3)
    with torch.no_grad():
        rec, swapped, _ = loss.run_EG(img)
        structure, texture = nets["E"](img)
        torch.testing.assert_close(rec, nets["G"](structure, texture))
        torch.testing.assert_close(swapped[1], nets["G"](structure[0:1], texture[1:2])[0])


def test_r1_terms_equal_an_independent_autograd_computation():
    nets = tiny_networks()
    r1_gamma, patch_r1_gamma, gain = 3.0, 5.0, 4.0
    loss = make_loss(nets, r1_gamma=r1_gamma, patch_r1_gamma=patch_r1_gamma)
    img = reals(2)
    torch.manual_seed(123)
    stats = loss.accumulate_gradients("Dreg", img, gain=gain)
    got_grad = nets["Dpatch"].pairlinear[0].weight.grad.clone()

    # Image R1: |dD/dx|^2 per image.
    x = img.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(nets["D"](x, None).sum(), x)
    torch.testing.assert_close(stats["Loss/r1_penalty"], g.square().sum(dim=[1, 2, 3]).mean())

    # Patch R1 on the same crops (same seed, same draw order), as the official compute_R1_loss: each logit's
    # gradient w.r.t. its own judged patch, one logit at a time, plus the gradient of all of an image's logits
    # w.r.t. its reference patches (their mean feature is shared), squared and summed per image.
    torch.manual_seed(123)
    patches = sample_patches(img, 3, 8, 0.25, 0.5).requires_grad_(True)
    reference = sample_patches(img, 3, 8, 0.25, 0.5).requires_grad_(True)
    logits = nets["Dpatch"](patches, reference)
    per_image = torch.zeros(2)
    for n in range(2):
        (g_ref,) = torch.autograd.grad(logits[n].sum(), reference, retain_graph=True, create_graph=True)
        per_image[n] = per_image[n] + g_ref[n].square().sum()
        for k in range(3):
            (gk,) = torch.autograd.grad(logits[n, k], patches, retain_graph=True, create_graph=True)
            others = gk.clone()
            others[n, k] = 0
            assert others.abs().max() == 0  # a logit depends on its own patch only
            per_image[n] = per_image[n] + gk[n, k].square().sum()
    torch.testing.assert_close(stats["Loss/patch_r1_penalty"], per_image.mean().detach())

    # Weights: gamma/2 for D's R1 (StyleGAN2's), gamma/4 for Dpatch's two terms (the official 0.5 * 0.5 * lambda)
    expected_reg = stats["Loss/r1_penalty"] * r1_gamma / 2 + per_image.mean() * patch_r1_gamma / 4
    torch.testing.assert_close(stats["Loss/D/reg"], expected_reg.detach())
    (expected_grad,) = torch.autograd.grad(per_image.mean() * patch_r1_gamma / 4 * gain, nets["Dpatch"].pairlinear[0].weight)
    torch.testing.assert_close(got_grad, expected_grad)


def test_l1_training_of_encoder_and_generator_reduces_reconstruction_error():
    dataset = open_dataset("builtin:shapes?n=64", resolution=RES)
    img = torch.from_numpy(np.stack([dataset[i][0] for i in range(8)])).to(torch.float32) / 127.5 - 1
    nets = tiny_networks(channels=img.shape[1])
    loss = make_loss(nets, lambda_gan_rec=0.0, lambda_gan_swap=0.0, lambda_patch=0.0)
    params = list(nets["E"].parameters()) + list(nets["G"].parameters())
    opt = torch.optim.Adam(params, lr=0.005, betas=(0.0, 0.99))
    errors = []
    for _ in range(60):
        opt.zero_grad(set_to_none=True)
        errors.append(loss.accumulate_gradients("Gmain", img, gain=1.0)["Loss/L1"].item())
        opt.step()
    assert math.isfinite(errors[-1])
    assert np.mean(errors[-5:]) < 0.5 * errors[0]  # errors[0]: the untrained model's


def test_a_single_image_batch_is_refused_for_swapping():
    with pytest.raises(ValueError, match="at least 2 images"):
        make_loss(tiny_networks()).accumulate_gradients("Gmain", reals(1), gain=1.0)


def test_bad_settings_are_refused_with_a_message():
    nets = tiny_networks()
    with pytest.raises(ValueError, match="patch_size 16 differs"):
        make_loss(nets, patch_size=16)
    with pytest.raises(ValueError, match="must be >= 0"):
        make_loss(nets, lambda_patch=-1.0)
    with pytest.raises(ValueError, match="unknown Swapping Autoencoder training phase"):
        make_loss(nets).accumulate_gradients("Greg", reals(), gain=1.0)


def test_squared_error_term_adds_its_weighted_mean():
    torch.manual_seed(0)
    nets = tiny_networks()
    loss = make_loss(nets, lambda_l1=2.0, lambda_l2=3.0, lambda_gan_rec=0, lambda_gan_swap=0, lambda_patch=0)
    img = reals()
    stats = loss.accumulate_gradients("Gmain", img, gain=1.0)
    with torch.no_grad():
        rec = nets["G"](*nets["E"](img))
    torch.testing.assert_close(stats["Loss/L2"], (rec - img).square().mean())
    torch.testing.assert_close(stats["Loss/G/loss"], 2.0 * stats["Loss/L1"] + 3.0 * stats["Loss/L2"])
    assert "Loss/L2" not in make_loss(nets).accumulate_gradients("Gmain", img, gain=1.0)  # off by default


def test_recolor_structure_takes_structure_from_recoloured_copies_and_texture_from_originals():
    torch.manual_seed(0)
    nets = tiny_networks()
    E, G = nets["E"], nets["G"]
    loss = make_loss(nets, recolor_structure=True)
    img = reals()
    state = torch.random.get_rng_state()
    rec, swapped, structure = loss.run_EG(img)
    # Independently: the same recolouring draw, then each code from its own image.
    torch.random.set_rng_state(state)
    recolored = loss.recolor(img).clamp(-1, 1)
    assert not torch.allclose(recolored, img)
    expected_structure, _ = E(recolored)
    _, texture = E(img)
    torch.testing.assert_close(structure, expected_structure, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(rec, G(expected_structure, texture), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(swapped, G(expected_structure.roll(1, dims=0), texture), rtol=1e-4, atol=1e-5)

    loss.recolor = torch.nn.Identity()  # no recolouring: the paper's codes
    rec_plain, _, structure_plain = loss.run_EG(img)
    torch.testing.assert_close(structure_plain, E(img)[0], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(rec_plain, G(*E(img)), rtol=1e-4, atol=1e-5)


def test_recolor_structure_works_on_grayscale_images():
    torch.manual_seed(0)
    nets = tiny_networks(channels=1)
    loss = make_loss(nets, recolor_structure=True, lambda_l2=1.0)
    img = torch.rand(4, 1, RES, RES) * 2 - 1
    for phase in ("Gmain", "Dmain", "Dreg"):
        stats = loss.accumulate_gradients(phase, img, gain=1.0)
        assert stats and all(torch.isfinite(v) for v in stats.values()), (phase, stats)
    assert all(p.grad is not None for p in nets["E"].parameters())
