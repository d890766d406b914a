"""The official presets (`--cfg`) against what NVIDIA's train.py sets, field by field.

The table is NVIDIA's: stylegan2-ada-pytorch at d72cc7d041b42ec8e806021a205ed9349f87c6a4, `train.py`'s
`setup_training_loop_kwargs(gpus=GPUS, data=FOLDER, cfg=CFG)` run on CPU for each row, FOLDER holding two black PNGs
of RES px, with the values read from what it returns: total_kimg, batch_size, batch_gpu,
D_kwargs.epilogue_kwargs.mbstd_group_size, synthesis_kwargs.channel_base, mapping_kwargs.num_layers,
G_opt_kwargs.lr (= D_opt_kwargs.lr), loss_kwargs.r1_gamma, ema_kimg and ema_rampup. Its 'auto' rows follow
the heuristic in train.py (batch from the resolution and GPU count; mbstd, channels, learning rate, gamma and
EMA from the batch), including GPU counts where the per-GPU batch falls below the mbstd group of 4.
"""

import pytest

from stylegan2.training.config import resolve_options

FIELDS = ("kimg", "batch", "batch_gpu", "mbstd", "cbase", "map", "lrate", "gamma", "ema_kimg", "ema_rampup")
NVIDIA_CFGS = [
    # cfg, res, gpus: kimg, batch, batch_gpu, mbstd, cbase, map, lrate, gamma, ema_kimg, ema_rampup
    ("stylegan2", 64, 1, (25000, 32, 4, 4, 32768, 8, 0.002, 10, 10, None)),
    ("stylegan2", 64, 2, (25000, 32, 4, 4, 32768, 8, 0.002, 10, 10, None)),
    ("stylegan2", 64, 8, (25000, 32, 4, 4, 32768, 8, 0.002, 10, 10, None)),
    ("paper256", 64, 1, (25000, 64, 8, 8, 16384, 8, 0.0025, 1, 20, None)),
    ("paper256", 64, 2, (25000, 64, 8, 8, 16384, 8, 0.0025, 1, 20, None)),
    ("paper256", 64, 8, (25000, 64, 8, 8, 16384, 8, 0.0025, 1, 20, None)),
    ("paper512", 64, 1, (25000, 64, 8, 8, 32768, 8, 0.0025, 0.5, 20, None)),
    ("paper512", 64, 2, (25000, 64, 8, 8, 32768, 8, 0.0025, 0.5, 20, None)),
    ("paper512", 64, 8, (25000, 64, 8, 8, 32768, 8, 0.0025, 0.5, 20, None)),
    ("paper1024", 64, 1, (25000, 32, 4, 4, 32768, 8, 0.002, 2, 10, None)),
    ("paper1024", 64, 2, (25000, 32, 4, 4, 32768, 8, 0.002, 2, 10, None)),
    ("paper1024", 64, 8, (25000, 32, 4, 4, 32768, 8, 0.002, 2, 10, None)),
    ("cifar", 32, 1, (100000, 64, 32, 32, 32768, 2, 0.0025, 0.01, 500, 0.05)),
    ("cifar", 32, 2, (100000, 64, 32, 32, 32768, 2, 0.0025, 0.01, 500, 0.05)),
    ("auto", 64, 1, (25000, 32, 32, 4, 16384, 2, 0.0025, 0.0256, 10.0, 0.05)),
    ("auto", 64, 2, (25000, 64, 32, 4, 16384, 2, 0.0025, 0.0128, 20.0, 0.05)),
    ("auto", 64, 8, (25000, 64, 8, 4, 16384, 2, 0.0025, 0.0128, 20.0, 0.05)),
    ("auto", 256, 1, (25000, 16, 16, 4, 16384, 2, 0.0025, 0.8192, 5.0, 0.05)),
    ("auto", 256, 2, (25000, 32, 16, 4, 16384, 2, 0.0025, 0.4096, 10.0, 0.05)),
    ("auto", 256, 8, (25000, 64, 8, 4, 16384, 2, 0.0025, 0.2048, 20.0, 0.05)),
    ("auto", 512, 1, (25000, 8, 8, 4, 32768, 2, 0.0025, 6.5536, 2.5, 0.05)),
    ("auto", 512, 32, (25000, 64, 2, 2, 32768, 2, 0.0025, 0.8192, 20.0, 0.05)),
    ("auto", 1024, 1, (25000, 4, 4, 4, 32768, 2, 0.002, 52.4288, 1.25, 0.05)),
    ("auto", 1024, 2, (25000, 8, 4, 4, 32768, 2, 0.002, 26.2144, 2.5, 0.05)),
    ("auto", 1024, 8, (25000, 32, 4, 4, 32768, 2, 0.002, 6.5536, 10.0, 0.05)),
    ("auto", 1024, 64, (25000, 64, 1, 1, 32768, 2, 0.002, 3.2768, 20.0, 0.05)),
]


@pytest.mark.parametrize("cfg, res, gpus, expected", NVIDIA_CFGS, ids=[f"{c}-{r}px-{g}gpu" for c, r, g, _ in NVIDIA_CFGS])
def test_each_preset_sets_what_nvidias_train_py_sets(cfg, res, gpus, expected):
    options = resolve_options("builtin:shapes", cfg, res, gpus, {})
    assert options.glr == options.dlr  # NVIDIA gives G and D the one lrate
    ours = (options.kimg, options.batch, options.batch_gpu, options.mbstd, options.cbase, options.map, options.glr,
            options.gamma, options.ema_kimg, options.ema_rampup)
    exact = tuple(value if value is None else pytest.approx(value, rel=1e-12) for value in expected)  # None: no ramp-up
    assert ours == exact, dict(zip(FIELDS, zip(ours, expected)))


@pytest.mark.parametrize("cfg", ["auto", "stylegan2", "paper256", "paper512", "paper1024", "cifar"])
def test_every_official_preset_keeps_nvidias_fixed_settings(cfg):
    """What train.py and training_loop.py set for every cfg: 512-dim z and w, channel_max 512, 4 fp16 resolutions,
    lazy regularization every 4 (G) and 16 (D) minibatches, ADA on bgc with target 0.6 and ada_kimg 500, a snapshot
    every 50 ticks; and nothing NVIDIA lacks (packing, clusters, another loss)."""
    options = resolve_options("builtin:shapes", cfg, 32, 1, {})
    assert (options.z_dim, options.w_dim, options.cmax, options.precision) == (512, 512, 512, "fp16")
    assert (options.g_reg_interval, options.d_reg_interval, options.snap) == (4, 16, 50)
    assert (options.aug, options.augpipe, options.target, options.ada_kimg) == ("ada", "bgc", 0.6, 500)
    assert (options.pack, options.clusters, options.loss) == (1, 0, "stylegan2")


@pytest.mark.parametrize("cfg, pl_weight, style_mixing_prob, d_architecture", [
    ("auto", 2.0, 0.9, "resnet"), ("stylegan2", 2.0, 0.9, "resnet"), ("paper256", 2.0, 0.9, "resnet"),
    ("paper512", 2.0, 0.9, "resnet"), ("paper1024", 2.0, 0.9, "resnet"),
    ("cifar", 0.0, 0.0, "orig"),  # train.py: no path-length term, no style mixing, D without residual skips
])
def test_the_loss_and_d_architecture_of_each_preset_are_nvidias(cfg, pl_weight, style_mixing_prob, d_architecture):
    options = resolve_options("builtin:shapes", cfg, 32, 1, {})
    assert (options.pl_weight, options.style_mixing_prob, options.d_architecture) == (pl_weight, style_mixing_prob, d_architecture)
