"""Swapping Autoencoder training options: presets (`--cfg cpu|256|512`) and user overrides."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass
from typing import Any

from ..models import DiscriminatorEpilogue
from ..training.config import (
    DEFAULT_RUNS_DIR,
    NVIDIA_WORKERS,
    apply_overrides,
    auto_workers,
    check_batch_split,
    check_keep_snapshots,
    check_max_size,
    check_numbers,
    check_preset_batch,
    derived_batch_gpu_explained,
    given_options,
    resolves,
)
from ..training.rundir import check_outdir_outside_data
from ..utils.errors import OptionError


@dataclass(frozen=True)
class SwapAEPreset:
    """A base configuration: network sizes, batch, learning rate and regularization for one kind of run."""

    kimg: float
    batch: int
    batch_gpu: int  # images per forward pass on one process (the batch is split into rounds of this size)
    lr: float
    lambda_l1: float
    r1_gamma: float
    patch_r1_gamma: float
    cbase: int
    cmax: int
    spatial_code_ch: int
    global_code_ch: int
    num_downsampling_sp: int
    num_downsampling_gl: int
    use_noise: bool
    patch_size: int
    num_patches: int
    patch_min_scale: float
    patch_max_scale: float
    tick: float
    snap: int
    lambda_l2: float = 0.0
    recolor_structure: bool = False


SWAPAE_PRESETS: dict[str, SwapAEPreset] = {
    # Small images (32 px builtin:shapes) on a 2-core CPU: narrow networks (32 channels), an 8x8
    # structure code with 2 channels (8 carry colour and swap worse), a 64-d texture code, no noise
    # inputs (flat colours have no stochastic detail), 4 patches covering 1/2 to all of the side
    # (smaller crops mostly show background, so the patch discriminator never sees the shape's
    # colour). Three changes of ours: structure codes from recoloured copies, so colour cannot travel
    # in them; a squared-error term, without which reconstructions stay plain backgrounds; and twice
    # the paper's learning rate. Measurements: docs/experiments/swapae-shapes.md.
    "cpu": SwapAEPreset(kimg=100, batch=16, batch_gpu=16, lr=0.004, lambda_l1=4.0, r1_gamma=1.0, patch_r1_gamma=1.0,
                        cbase=1024, cmax=32, spatial_code_ch=2, global_code_ch=64, num_downsampling_sp=2, num_downsampling_gl=2,
                        use_noise=False, patch_size=8, num_patches=4, patch_min_scale=1 / 2, patch_max_scale=1.0, tick=1.0, snap=10,
                        lambda_l2=32.0, recolor_structure=True),
    # The paper's settings (Park et al. 2020, official code): 16x16 structure code with 8 channels,
    # 2048-d texture code, lr 0.002, R1 gamma 10 on D and 1 on the patch discriminator.
    "256": SwapAEPreset(kimg=25000, batch=16, batch_gpu=16, lr=0.002, lambda_l1=1.0, r1_gamma=10.0, patch_r1_gamma=1.0,
                        cbase=32768, cmax=512, spatial_code_ch=8, global_code_ch=2048, num_downsampling_sp=4, num_downsampling_gl=2,
                        use_noise=True, patch_size=128, num_patches=8, patch_min_scale=1 / 8, patch_max_scale=1 / 4, tick=4.0, snap=50),
    "512": SwapAEPreset(kimg=25000, batch=16, batch_gpu=8, lr=0.002, lambda_l1=1.0, r1_gamma=10.0, patch_r1_gamma=1.0,
                        cbase=32768, cmax=512, spatial_code_ch=8, global_code_ch=2048, num_downsampling_sp=4, num_downsampling_gl=2,
                        use_noise=True, patch_size=128, num_patches=8, patch_min_scale=1 / 8, patch_max_scale=1 / 4, tick=4.0, snap=50),
}
SWAPAE_CFG_NAMES = tuple(SWAPAE_PRESETS)
CPU_PRESET = SWAPAE_PRESETS["cpu"]
# The minibatch-std group size of the StyleGAN2 discriminator a run trains, which keeps its default.
MBSTD_GROUP = inspect.signature(DiscriminatorEpilogue).parameters["mbstd_group_size"].default


@dataclass
class SwapAEOptions:
    """Everything a Swapping Autoencoder run depends on; saved as training_options.json in the run directory.

    The defaults of the preset settings are the cpu preset's.
    """

    data: str
    outdir: str = DEFAULT_RUNS_DIR
    cfg: str = "cpu"
    # Dataset.
    mirror: bool = False
    max_size: int | None = None
    resolution: int | None = None
    # Schedule and batch.
    kimg: float = CPU_PRESET.kimg
    batch: int = CPU_PRESET.batch
    batch_gpu: int = CPU_PRESET.batch_gpu
    tick: float = CPU_PRESET.tick
    snap: int = CPU_PRESET.snap
    keep_snapshots: int = 0  # as TrainingOptions.keep_snapshots
    seed: int = 0
    workers: int = NVIDIA_WORKERS
    # Networks.
    cbase: int = CPU_PRESET.cbase
    cmax: int = CPU_PRESET.cmax
    spatial_code_ch: int = CPU_PRESET.spatial_code_ch
    global_code_ch: int = CPU_PRESET.global_code_ch
    num_downsampling_sp: int = CPU_PRESET.num_downsampling_sp
    num_downsampling_gl: int = CPU_PRESET.num_downsampling_gl
    use_noise: bool = CPU_PRESET.use_noise
    # Optimization and loss.
    lr: float = CPU_PRESET.lr
    lambda_l1: float = CPU_PRESET.lambda_l1
    lambda_gan_rec: float = 0.5
    lambda_gan_swap: float = 1.0
    lambda_patch: float = 1.0
    r1_gamma: float = CPU_PRESET.r1_gamma
    patch_r1_gamma: float = CPU_PRESET.patch_r1_gamma
    r1_interval: int = 16
    patch_size: int = CPU_PRESET.patch_size
    num_patches: int = CPU_PRESET.num_patches
    patch_min_scale: float = CPU_PRESET.patch_min_scale
    patch_max_scale: float = CPU_PRESET.patch_max_scale
    lambda_l2: float = CPU_PRESET.lambda_l2  # ours: weight of a squared-error reconstruction term (0 = off, as the paper)
    recolor_structure: bool = CPU_PRESET.recolor_structure  # ours: structure codes from recoloured copies in training (off in the paper)
    # Resume and misc.
    resume: str | None = None
    grid: tuple[int, int] = (8, 4)
    swap_grid: int = 6
    num_gpus: int = 1
    given: tuple[str, ...] = ()  # the options the caller set (given_options), as `train` records them

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def resolve_swapae_options(data: str, cfg: str, resolution: int, num_gpus: int, overrides: dict[str, Any], *,
                           device_type: str = "cpu", num_images: int | None = None) -> SwapAEOptions:
    """Fill SwapAEOptions from a preset, then apply the user's overrides (None = not given), then validate
    them for `resolution` px images. `device_type` ('cpu', 'cuda', ...) picks the data-loader workers, as for
    StyleGAN2 training; a --max-size above `num_images` (the dataset's distinct images) is refused, as there."""
    if cfg not in SWAPAE_PRESETS:
        raise OptionError(f"--cfg must be one of {', '.join(SWAPAE_CFG_NAMES)}; got {cfg!r}")
    spec = SWAPAE_PRESETS[cfg]
    batch = overrides.get("batch") or spec.batch  # total over all processes
    check_preset_batch(cfg, batch, num_gpus, given=bool(overrides.get("batch")),
                       fits=lambda b: resolves(resolve_swapae_options, data, cfg, resolution, num_gpus,
                                                dict(overrides, batch=b), device_type=device_type, num_images=num_images))
    base = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}
    base.update(data=data, cfg=cfg, batch=batch, batch_gpu=min(spec.batch_gpu, max(batch // num_gpus, 1)), num_gpus=num_gpus,
                resolution=resolution, workers=auto_workers(device_type))
    options = SwapAEOptions(**base)
    apply_overrides(options, overrides, "Swapping Autoencoder option")
    options.given = given_options(overrides)
    with derived_batch_gpu_explained(options, overrides):
        validate_swapae_options(options)
    check_max_size(options.max_size, num_images, data)
    return options


def network_widths(o: SwapAEOptions) -> dict[str, dict[str, int]]:
    """channel_base and channel_max of E, G, D and Dpatch from --cbase/--cmax (G's and D's, as in StyleGAN2).

    E and Dpatch keep the paper's proportions to G: a quarter of its channel base for E (8192 vs 32768),
    an eighth for Dpatch, whose widest layer is 3/4 of channel_max (384 vs 512).
    """
    return {
        "E": dict(channel_base=o.cbase // 4, channel_max=o.cmax),
        "G": dict(channel_base=o.cbase, channel_max=o.cmax),
        "D": dict(channel_base=o.cbase, channel_max=o.cmax),
        "Dpatch": dict(channel_base=o.cbase // 8, channel_max=max(o.cmax * 3 // 4, 1)),
    }


def validate_swapae_options(o: SwapAEOptions) -> None:
    """Reject inconsistent settings with a message that names the option."""
    check_batch_split(o.batch, o.batch_gpu, o.num_gpus)
    if o.batch_gpu < 2:
        raise OptionError(f"--batch-gpu {o.batch_gpu}: swapping pairs images within a forward pass, so it needs at least 2")
    if o.batch_gpu % min(MBSTD_GROUP, o.batch_gpu) != 0:
        raise OptionError(f"--batch-gpu {o.batch_gpu} must be below {MBSTD_GROUP} or a multiple of it "
                         "(the image discriminator's minibatch-std group)")
    check_numbers(o, positive=("kimg", "tick", "lr"), non_negative=(
        "lambda_l1", "lambda_l2", "lambda_gan_rec", "lambda_gan_swap", "lambda_patch", "r1_gamma", "patch_r1_gamma"))
    check_keep_snapshots(o.keep_snapshots)
    check_outdir_outside_data(o.outdir, o.data)
    for name in ("snap", "r1_interval", "spatial_code_ch", "global_code_ch", "num_patches", "patch_size", "swap_grid"):
        if getattr(o, name) < 1:
            raise OptionError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(o, name)}")
    if o.num_downsampling_sp < 0 or o.num_downsampling_gl < 0:
        raise OptionError("--netE-num-downsampling-sp and --netE-num-downsampling-gl must be >= 0, "
                         f"got {o.num_downsampling_sp} and {o.num_downsampling_gl}")
    if not 0 < o.patch_min_scale <= o.patch_max_scale <= 1:
        raise ValueError(f"patch scales must satisfy 0 < min <= max <= 1, got {o.patch_min_scale} and {o.patch_max_scale}")
    if min(o.grid) < 1:
        raise ValueError(f"grid must be at least 1x1, got {o.grid[0]}x{o.grid[1]}")
    if o.resolution is not None:
        _check_sizes(o)


def _check_sizes(o: SwapAEOptions) -> None:
    """Code and patch sizes the networks can be built with, named by their options (and by --cfg when its preset
    was made for images of another size, the likely mistake)."""
    resolution = o.resolution
    code = resolution >> o.num_downsampling_sp
    hint = (f" (--cfg {o.cfg} is made for {o.cfg} px images and these are {resolution} px: --cfg cpu suits small images)"
            if o.cfg.isdigit() and int(o.cfg) != resolution else "")
    if resolution < 4 or resolution & (resolution - 1) != 0:
        raise ValueError(f"the images must be square with a power-of-two side of at least 4 px, got {resolution}")
    if code < 2:
        raise ValueError(f"--netE-num-downsampling-sp {o.num_downsampling_sp} leaves a {code}x{code} structure code for {resolution} px "
                         f"images; it must be at least 2x2, so use at most {resolution.bit_length() - 2}{hint}")
    if code >> o.num_downsampling_gl < 1:
        raise ValueError(f"--netE-num-downsampling-gl {o.num_downsampling_gl} halves the {code}x{code} structure code too often; "
                         f"use at most {code.bit_length() - 1}{hint}")
    if o.patch_size < 4 or o.patch_size & (o.patch_size - 1) != 0:
        raise OptionError(f"--patch-size must be a power of two of at least 4, got {o.patch_size}")
    for name, widths in network_widths(o).items():
        smallest = o.patch_size if name == "Dpatch" else resolution
        if widths["channel_base"] < smallest:
            raise ValueError(f"--cbase {o.cbase} is too small for {name} ({widths['channel_base']} < {smallest}); raise --cbase{hint}")
