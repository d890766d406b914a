"""PacGAN packing (`--pack`): D judges several samples at once; R1 is taken on D's packed input."""

import numpy as np
import pytest
import torch

from stylegan2.models import Discriminator, Generator
from stylegan2.training.config import resolve_options
from stylegan2.training.loop import TrainingError, train
from stylegan2.training.loss import StyleGAN2Loss, pack_samples
from stylegan2.training.networks import build_networks

TINY = dict(clusters=0, cbase=128, cmax=16, z_dim=16, w_dim=16, map=2, batch=8, workers=0, aug="noaug", tick=0.032, snap=1, kimg=0.016)


def test_pack_samples_stacks_consecutive_samples_along_channels():
    img = torch.arange(6 * 3 * 2 * 2, dtype=torch.float32).reshape(6, 3, 2, 2)
    c = torch.eye(6)[:, :4]
    packed, packed_c = pack_samples(img, c, 2)
    assert packed.shape == (3, 6, 2, 2) and packed_c.shape == (3, 8)
    torch.testing.assert_close(packed[1, :3], img[2])
    torch.testing.assert_close(packed[1, 3:], img[3])
    torch.testing.assert_close(packed_c[1], torch.cat([c[2], c[3]]))


def _tiny_pair(pack: int, c_dim: int = 0) -> tuple[Generator, Discriminator]:
    G = Generator(z_dim=8, c_dim=c_dim, w_dim=8, img_resolution=8, img_channels=1,
                  mapping_kwargs={"num_layers": 1}, synthesis_kwargs={"channel_base": 64, "channel_max": 8})
    D = Discriminator(c_dim=c_dim * pack, img_resolution=8, img_channels=pack, channel_base=64, channel_max=8,
                      epilogue_kwargs={"mbstd_group_size": 2})
    return G, D


@pytest.mark.parametrize("c_dim", [0, 3])
def test_packed_loss_feeds_d_packs_and_takes_r1_on_the_packed_input(c_dim):
    torch.manual_seed(0)
    G, D = _tiny_pair(pack=2, c_dim=c_dim)
    seen = []
    D.register_forward_pre_hook(lambda module, args: seen.append((args[0].shape, args[1].shape)))
    loss = StyleGAN2Loss(G, D, r1_gamma=4.0, style_mixing_prob=0.0, pl_weight=0.0, pack=2)
    real = torch.randn(8, 1, 8, 8)
    c = torch.nn.functional.one_hot(torch.arange(8) % 3, 3).float() if c_dim else torch.zeros(8, 0)
    stats = loss.accumulate_gradients("Dreg", real, c, torch.randn(8, 8), c, gain=1.0)
    assert seen == [(torch.Size([4, 2, 8, 8]), torch.Size([4, 2 * c_dim]))]

    # Independently: R1 is |dD/dx|^2 for D's own (packed) input, one value per pack.
    packed, packed_c = real.reshape(4, 2, 8, 8).requires_grad_(True), c.reshape(4, -1)
    (grad,) = torch.autograd.grad(D(packed, packed_c).sum(), packed)
    torch.testing.assert_close(stats["Loss/r1_penalty"], grad.square().sum(dim=[1, 2, 3]))


def test_pack_one_is_the_official_per_sample_loss():
    torch.manual_seed(0)
    G, D = _tiny_pair(pack=1)
    loss = StyleGAN2Loss(G, D, style_mixing_prob=0.0, pl_weight=0.0)
    stats = loss.accumulate_gradients("Dmain", torch.randn(4, 1, 8, 8), torch.zeros(4, 0), torch.randn(4, 8), torch.zeros(4, 0), gain=1.0)
    assert stats["Loss/scores/real"].shape == (4, 1)


def test_networks_for_a_packed_d_take_pack_times_the_channels_and_labels(tmp_path):
    options = resolve_options("builtin:shapes?n=64", "cpu", 16, 1, dict(TINY, pack=4))
    _, D = build_networks(options, c_dim=5, resolution=16, channels=3)
    assert D.init_kwargs["img_channels"] == 12 and D.init_kwargs["c_dim"] == 20


@pytest.mark.parametrize(("overrides", "message"), [
    (dict(pack=3), "--pack 3 must be at least 1 and divide --batch-gpu 8"),
    (dict(pack=2, mbstd=3), r"--mbstd 3 must divide the 4 packs of 2 D sees per step"),
])
def test_inconsistent_pack_settings_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        resolve_options("builtin:shapes?n=64", "cpu", 16, 1, dict(TINY, **overrides))


def test_a_packed_run_trains_and_resuming_with_another_pack_is_refused(tmp_path):
    run = train(resolve_options("builtin:shapes?n=64", "cpu", 16, 1, dict(TINY, pack=2, outdir=str(tmp_path / "a"))),
                device="cpu", log=lambda m: None)
    snapshot = next(run.glob("network-snapshot-*.safetensors"))
    options = resolve_options("builtin:shapes?n=64", "cpu", 16, 1, dict(TINY, pack=1, outdir=str(tmp_path / "b"), resume=str(snapshot)))
    with pytest.raises(TrainingError, match="takes 6-channel input, which is --pack 2 .* pass --pack 2"):
        train(options, device="cpu", log=lambda m: None)


def test_the_cpu_preset_packs_only_unconditional_runs_and_keeps_the_total_r1_weight():
    uncond = resolve_options("builtin:shapes?n=64", "cpu", 16, 1, dict(clusters=0))  # clusters, like labels, unpack
    cond = resolve_options("builtin:shapes?n=64", "cpu", 16, 1, dict(cond=True))
    assert (uncond.pack, uncond.gamma) == (4, 0.25)
    assert (cond.pack, cond.gamma) == (1, 1.0)
    chosen = resolve_options("builtin:shapes?n=64", "cpu", 16, 1, dict(cond=True, pack=2, gamma=0.5))
    assert (chosen.pack, chosen.gamma) == (2, 0.5)
    packed = resolve_options("builtin:shapes?n=64", "cpu", 16, 1, dict(cond=True, pack=4))
    assert (packed.pack, packed.gamma) == (4, 0.25)  # an explicit --pack keeps the preset's gamma


def test_packs_by_class_give_d_packs_of_one_class_real_and_generated(tmp_path, monkeypatch):
    seen = []
    original = StyleGAN2Loss.accumulate_gradients

    def spy(self, phase, real_img, real_c, gen_z, gen_c, gain):
        seen.append((real_c.clone(), gen_c.clone()))
        return original(self, phase, real_img, real_c, gen_z, gen_c, gain)

    monkeypatch.setattr(StyleGAN2Loss, "accumulate_gradients", spy)
    options = resolve_options("builtin:shapes?n=64", "cpu", 16, 1, dict(TINY, clusters=3, pack=2, pack_by_class=True,
                                                                        outdir=str(tmp_path)))
    lines = []
    train(options, device="cpu", log=lines.append, max_steps=3)
    assert "D judges packs of 2 images of one class each" in "\n".join(lines)
    assert len(seen) >= 3
    for real_c, gen_c in seen:
        for c in (real_c, gen_c):
            pairs = c.argmax(1).reshape(-1, 2)
            assert (pairs[:, 0] == pairs[:, 1]).all()
        assert len(set(gen_c.argmax(1).tolist())) > 1  # one class per pack, not per batch


@pytest.mark.parametrize("overrides", [dict(clusters=0, pack=2, pack_by_class=True), dict(clusters=3, pack=1, pack_by_class=True)])
def test_packs_by_class_need_packs_and_labels(overrides):
    with pytest.raises(ValueError, match=r"--pack-by-class needs packs \(--pack 2 or more\) and labels \(--cond or --clusters\)"):
        resolve_options("builtin:shapes?n=64", "cpu", 16, 1, dict(TINY, **overrides))


def test_packs_by_class_refuse_vector_labels(tmp_path):
    """Labels that are vectors of values have no classes to pack by: one line naming the data, before any training."""
    rng = np.random.default_rng(0)
    data = tmp_path / "vectors.npz"
    np.savez(data, x_train=rng.integers(0, 256, (8, 16, 16), dtype=np.uint8), y_train=rng.random((8, 3), dtype=np.float32))
    options = resolve_options(str(data), "cpu", 16, 1, dict(TINY, cond=True, pack=2, pack_by_class=True, outdir=str(tmp_path)))
    with pytest.raises(TrainingError, match=r"--pack-by-class: the labels of .*vectors\.npz are vectors of 3 values, not classes"):
        train(options, device="cpu", log=lambda line: None, max_steps=1)
    assert not any(tmp_path.glob("0*"))  # no run directory
    from stylegan2.training.start import open_and_resolve  # --dry-run makes the same check (it passed, then the run refused)

    with pytest.raises(TrainingError, match=r"--pack-by-class: the labels of .*vectors\.npz are vectors of 3 values"):
        open_and_resolve(str(data), "cpu", dict(TINY, cond=True, pack=2, pack_by_class=True, outdir=str(tmp_path / "r")), 1,
                         "cpu", creates_runs=True, dry_run=True)
