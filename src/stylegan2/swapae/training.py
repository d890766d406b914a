"""Swapping Autoencoder training: E and G against D and the patch co-occurrence discriminator Dpatch.

Reuses the StyleGAN2 training infrastructure: datasets, phases, and the TrainingSession around the
steps (run directories, statistics, snapshots with exact resume, Ctrl-C, torchrun). One minibatch runs
'Gmain' (E and G), 'Dmain' (D and Dpatch) and, every `r1_interval` minibatches, 'Dreg' (lazy R1 on
both discriminators).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..data import ImageDataset, open_dataset
from ..models import CooccurrenceDiscriminator, Discriminator, SwapEncoder, SwapGenerator
from ..tools.mix import style_mix_grid
from ..training.distributed import DistributedContext, broadcast_
from ..training.errors import TrainingError
from ..training.networks import kept_architecture_note
from ..training.phase import Phase, adam, run_phase
from ..training.session import (
    LoopHooks,
    TrainingSession,
    caller_state_kept,
    check_run_unfinished,
    start_process,
)
from ..training.signals import interruption_said
from ..training.snapshot import ResumeState, read_resume_state
from ..utils.device import configure_backends
from ..utils.image import image_grid, save_image, to_uint8_nhwc
from .config import SwapAEOptions, network_widths, validate_swapae_options
from .loss import SwapAELoss
from .tools import reconstruct_images, swap_images

NETWORK_NAMES = ("E", "G", "D", "Dpatch")
STATUS_LOSSES = (("L1", "Loss/L1"), ("G_rec", "Loss/G/rec"), ("G_swap", "Loss/G/swap"), ("G_patch", "Loss/G/patch"),
                 ("D", "Loss/D/loss"), ("Dpatch", "Loss/D/patch"), ("r1", "Loss/r1_penalty"), ("patch_r1", "Loss/patch_r1_penalty"))


def build_swapae_networks(options: SwapAEOptions, resolution: int, channels: int) -> dict[str, nn.Module]:
    """Fresh E, G, D and Dpatch for the options and the dataset's image size."""
    widths = network_widths(options)
    codes = dict(spatial_code_ch=options.spatial_code_ch, global_code_ch=options.global_code_ch)
    image = dict(img_resolution=resolution, img_channels=channels)
    return {
        "E": SwapEncoder(**image, num_downsampling_sp=options.num_downsampling_sp, num_downsampling_gl=options.num_downsampling_gl,
                         **codes, **widths["E"]),
        "G": SwapGenerator(**image, num_upsampling=options.num_downsampling_sp, use_noise=options.use_noise, **codes, **widths["G"]),
        "D": Discriminator(c_dim=0, **image, architecture="resnet", **widths["D"]),
        "Dpatch": CooccurrenceDiscriminator(img_channels=channels, patch_size=options.patch_size, **widths["Dpatch"]),
    }


def _networks_from_checkpoint(loaded: dict[str, nn.Module], options: SwapAEOptions, resolution: int, channels: int,
                              path: str) -> tuple[dict[str, nn.Module], list[str]]:
    """E and G (and D, Dpatch when present) from a file, missing discriminators fresh; and the notes
    on where the file's architecture differs from the options'."""
    kinds = {"E": SwapEncoder, "G": SwapGenerator, "D": Discriminator, "Dpatch": CooccurrenceDiscriminator}
    for name in ("E", "G"):
        if not isinstance(loaded.get(name), kinds[name]):
            found = ", ".join(sorted(loaded)) or "nothing"
            raise TrainingError(f"--resume {path}: the file holds no Swapping Autoencoder {name} ({kinds[name].__name__}; "
                                f"found {found}); pass a snapshot of `stylegan2 swapae train`")
    kw = loaded["E"].init_kwargs
    if kw["img_resolution"] != resolution or kw["img_channels"] != channels:
        raise TrainingError(
            f"--resume {path}: the network encodes {kw['img_channels']}-channel {kw['img_resolution']} px images, but the "
            f"dataset has {channels}-channel {resolution} px images; resize the dataset or pick a matching network"
        )
    fresh = build_swapae_networks(options, resolution, channels)
    networks = {name: loaded[name] if isinstance(loaded.get(name), kinds[name]) else fresh[name] for name in NETWORK_NAMES}
    return networks, architecture_notes(networks, fresh)


def with_file_codes(options: SwapAEOptions, networks: dict[str, nn.Module]) -> SwapAEOptions:
    """The options with the resumed networks' code sizes and depths, which they keep (training_options.json says
    what the run trains)."""
    E, G = networks["E"].init_kwargs, networks["G"].init_kwargs
    return dataclasses.replace(options, spatial_code_ch=E["spatial_code_ch"], global_code_ch=E["global_code_ch"],
                               num_downsampling_sp=E["num_downsampling_sp"], num_downsampling_gl=E["num_downsampling_gl"],
                               use_noise=G["use_noise"])


def _read_resume(options: SwapAEOptions, resolution: int,
                 channels: int) -> tuple[dict[str, nn.Module], ResumeState | None, SwapAEOptions, list[str]]:
    """Read and check the --resume file: its networks, its run's state (None: weights only), the options the run
    trains with (the file's code sizes) and the notes on them."""
    loaded, resume_state, notes = read_resume_state(options.resume)
    check_run_unfinished(options.resume, resume_state, options.kimg)
    networks, kept = _networks_from_checkpoint(loaded, options, resolution, channels, options.resume)
    return networks, resume_state, with_file_codes(options, networks), notes + kept


def check_swapae_resume(options: SwapAEOptions, resolution: int, channels: int) -> tuple[SwapAEOptions, list[str]]:
    """Read and check the --resume file as the run will (for --dry-run): the options it trains with, and the notes."""
    _, _, options, notes = _read_resume(options, resolution, channels)
    return options, notes


def architecture_notes(networks: dict[str, nn.Module], fresh: dict[str, nn.Module]) -> list[str]:
    """A note naming each constructor argument where a resumed network differs from the one the options
    build (`fresh`): the file's networks train as they are; the architecture options are for new networks."""
    differences = []
    for name in NETWORK_NAMES:
        theirs, ours = networks[name].init_kwargs, fresh[name].init_kwargs
        keys = [key for key in theirs if theirs[key] != ours.get(key)]
        if keys:
            differences.append(f"{name} {', '.join(f'{key} {theirs[key]} (not {ours.get(key)})' for key in keys)}")
    if not differences:
        return []
    return [kept_architecture_note(differences)]


def make_optimizers(options: SwapAEOptions, networks: dict[str, nn.Module]) -> tuple[list[Phase], dict[str, torch.optim.Optimizer]]:
    """Adam for E+G and for D+Dpatch; lazy R1 scales D's lr and betas by interval/(interval+1), as officially."""
    generator = nn.ModuleDict({"E": networks["E"], "G": networks["G"]})
    discriminators = nn.ModuleDict({"D": networks["D"], "Dpatch": networks["Dpatch"]})
    opt_G = adam(generator.parameters(), lr=options.lr, betas=(0.0, 0.99))
    ratio = options.r1_interval / (options.r1_interval + 1)
    opt_D = adam(discriminators.parameters(), lr=options.lr * ratio, betas=(0.0, 0.99**ratio))
    phases = [Phase("Gmain", generator, opt_G, 1), Phase("Dmain", discriminators, opt_D, 1)]
    if options.r1_gamma != 0 or options.patch_r1_gamma != 0:
        phases.append(Phase("Dreg", discriminators, opt_D, options.r1_interval))
    return phases, {"G": opt_G, "D": opt_D}


class GridImages:
    """Fixed dataset images for the snapshot grids: reals/reconstructions, and structures x textures for swaps."""

    def __init__(self, dataset: ImageDataset, options: SwapAEOptions, device: torch.device) -> None:
        cols, rows = options.grid
        n = options.swap_grid
        order = np.random.RandomState(options.seed).permutation(len(dataset))
        picks = np.resize(order, cols * rows + 2 * n)  # small datasets repeat images
        images = torch.from_numpy(np.stack([dataset[int(i)][0] for i in picks])).to(device, torch.float32) / 127.5 - 1
        self.grid = options.grid
        self.batch = options.batch_gpu
        self.reals, self.structures, self.textures = images.split([cols * rows, n, n])

    def save_reals(self, path: Path) -> None:
        save_image(image_grid(to_uint8_nhwc(self.reals), *self.grid), path)

    def save_outputs(self, E: SwapEncoder, G: SwapGenerator, run_dir: Path, label: str) -> None:
        """reconstructions<label>.png (laid out as reals.png) and swaps<label>.png (structures in rows, textures in columns)."""
        with torch.random.fork_rng(devices=[]):  # the grids must not move the training RNG (exact resume)
            rec = reconstruct_images(E, G, self.reals, batch=self.batch)
            swapped = swap_images(E, G, self.structures, self.textures, batch=self.batch)  # [S, T, C, H, W]
        save_image(image_grid(to_uint8_nhwc(rec), *self.grid), run_dir / f"reconstructions{label}.png")
        mixed = to_uint8_nhwc(swapped.flatten(0, 1))  # [S * T, H, W, C]
        mixed = mixed.reshape(*swapped.shape[:2], *mixed.shape[1:])
        save_image(style_mix_grid(to_uint8_nhwc(self.structures), to_uint8_nhwc(self.textures), mixed), run_dir / f"swaps{label}.png")


def train_swapae(
    options: SwapAEOptions,
    *,
    device: str | None = None,
    log: Callable[[str], None] = print,
    max_steps: int | None = None,
    max_seconds: float | None = None,
    dataset: ImageDataset | None = None,
    notes: Sequence[str] = (),
) -> Path | None:
    """Train a Swapping Autoencoder as `options` say; returns the run directory (on rank 0, else None).

    `max_steps` stops after that many minibatches and `max_seconds` after that much training time,
    each with a final snapshot. `dataset` is `options.data` already opened by the caller, and `notes` those it showed
    meanwhile, which log.txt gets too (as `train`'s). torch's and NumPy's
    global random states and the CUDA math flags are the caller's again afterwards.
    """
    with caller_state_kept():
        ctx = start_process(device, options.seed)
        with interruption_said(log, ctx.is_main):
            return _train_swapae(options, ctx, log=log, max_steps=max_steps, max_seconds=max_seconds, dataset=dataset,
                                 notes=notes)


def _train_swapae(options: SwapAEOptions, ctx: DistributedContext, *, log: Callable[[str], None],
                  max_steps: int | None, max_seconds: float | None, dataset: ImageDataset | None,
                  notes: Sequence[str]) -> Path | None:
    """train_swapae() in a process that has joined the group, with the caller's state kept."""
    configure_backends(ctx.device)  # no TF32, as in StyleGAN2 training and NVIDIA's
    if dataset is None:
        dataset = open_dataset(options.data, resolution=options.resolution, max_size=options.max_size, mirror=options.mirror,
                               seed=options.seed)
    resolution, channels = dataset.resolution, dataset.num_channels
    validate_swapae_options(dataclasses.replace(options, resolution=resolution))

    resume_state: ResumeState | None = None
    header: list[str] = []
    resume_notes: list[str] = []
    if options.resume:
        networks, resume_state, options, resume_notes = _read_resume(options, resolution, channels)
        kind = "continuing the run" if resume_state else "starting from its weights"
        header.append(f"Resuming from {options.resume}: {kind}")
    else:
        networks = build_swapae_networks(options, resolution, channels)
    for module in networks.values():
        module.to(ctx.device).train().requires_grad_(False)
        for tensor in list(module.parameters()) + list(module.buffers()):  # every rank starts from rank 0's weights
            broadcast_(tensor.data)
    E, G, D, Dpatch = (networks[name] for name in NETWORK_NAMES)

    loss = SwapAELoss(E, G, D, Dpatch, lambda_l1=options.lambda_l1, lambda_gan_rec=options.lambda_gan_rec,
                      lambda_gan_swap=options.lambda_gan_swap, lambda_patch=options.lambda_patch, r1_gamma=options.r1_gamma,
                      patch_r1_gamma=options.patch_r1_gamma, num_patches=options.num_patches, patch_size=options.patch_size,
                      patch_min_scale=options.patch_min_scale, patch_max_scale=options.patch_max_scale,
                      lambda_l2=options.lambda_l2, recolor_structure=options.recolor_structure)
    phases, optimizers = make_optimizers(options, networks)

    session = TrainingSession(options, ctx, networks=networks, optimizers=optimizers, log=log, max_steps=max_steps,
                              max_seconds=max_seconds)
    if resume_state is not None:
        session.resume(resume_state, Path(options.resume))
    minibatches = session.minibatches(dataset)

    header.append(f"Dataset: {dataset.summary()}")
    header.append("Parameters: " + ", ".join(f"{name} {sum(p.numel() for p in m.parameters()):,}" for name, m in networks.items()))
    run_dir = session.open_run_dir(f"{dataset.name}-swapae-{options.cfg}", header, notes=notes)
    grids = None
    if run_dir is not None:
        for note in resume_notes:  # on stderr, which a quiet terminal keeps, and in log.txt, once each; as --dry-run says them
            session.note(f"--resume {options.resume}: {note}")
        grids = GridImages(dataset, options, ctx.device)
        with session.before_first_step():  # as the GAN loop's: a failure closes the log and releases the run
            session.optional_output(lambda: grids.save_reals(run_dir / "reals.png"))
            session.optional_output(lambda: grids.save_outputs(E, G, run_dir, "_init"))

    def step() -> None:
        """One minibatch: the phases due at this step."""
        real_img, _ = next(minibatches)
        real_img = (real_img.to(ctx.device, non_blocking=True).to(torch.float32) / 127.5 - 1).split(options.batch_gpu)
        for phase in phases:
            if session.batch_idx % phase.interval != 0:
                continue

            def accumulate(r: int, gain: float) -> dict[str, torch.Tensor]:
                return loss.accumulate_gradients(phase.name, real_img[r], gain=gain)

            run_phase(phase, accumulate, len(real_img), session.finite, session.collector)

    session.run(LoopHooks(
        step=step, save_grids=lambda label: grids.save_outputs(E, G, run_dir, label), status_losses=STATUS_LOSSES,
        advice="Lower the learning rate (--lr) or raise --r1-gamma.",
    ))
    return run_dir
