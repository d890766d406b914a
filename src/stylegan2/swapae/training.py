"""Swapping Autoencoder training: E and G against D and the patch co-occurrence discriminator Dpatch.

Reuses the StyleGAN2 training infrastructure: datasets, run directories, statistics, snapshots with
exact resume, and the torchrun helpers. One minibatch runs 'Gmain' (E and G), 'Dmain' (D and Dpatch)
and, every `r1_interval` minibatches, 'Dreg' (lazy R1 on both discriminators).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..data import ImageDataset, InfiniteSampler, open_dataset
from ..models import CooccurrenceDiscriminator, Discriminator, SwapEncoder, SwapGenerator
from ..tools.files import image_grid, to_uint8
from ..tools.mix import style_mix_grid
from ..training.distributed import barrier, broadcast_, init_distributed
from ..training.loop import NonFiniteError, Phase, TrainingError, run_phase
from ..training.progress import RunLog, kimg_label, tick_status
from ..training.rundir import create_run_dir
from ..training.snapshot import ResumeState, read_resume_state, restore_rng, save_training_snapshot
from ..training.stats import StatsCollector, StatsWriter
from ..utils.image import save_image
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
                              path: str) -> dict[str, nn.Module]:
    """E and G (and D, Dpatch when present) from a file; missing discriminators start fresh."""
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
    return {name: loaded[name] if isinstance(loaded.get(name), kinds[name]) else fresh[name] for name in NETWORK_NAMES}


def make_optimizers(options: SwapAEOptions, networks: dict[str, nn.Module]) -> tuple[list[Phase], dict[str, torch.optim.Optimizer]]:
    """Adam for E+G and for D+Dpatch; lazy R1 scales D's lr and betas by interval/(interval+1), as officially."""
    generator = nn.ModuleDict({"E": networks["E"], "G": networks["G"]})
    discriminators = nn.ModuleDict({"D": networks["D"], "Dpatch": networks["Dpatch"]})
    opt_G = torch.optim.Adam(generator.parameters(), lr=options.lr, betas=(0.0, 0.99), eps=1e-8)
    ratio = options.r1_interval / (options.r1_interval + 1)
    opt_D = torch.optim.Adam(discriminators.parameters(), lr=options.lr * ratio, betas=(0.0, 0.99**ratio), eps=1e-8)
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
        save_image(image_grid(to_uint8(self.reals), *self.grid), path)

    def save_outputs(self, E: SwapEncoder, G: SwapGenerator, run_dir: Path, label: str) -> None:
        """reconstructions<label>.png (laid out as reals.png) and swaps<label>.png (structures in rows, textures in columns)."""
        with torch.random.fork_rng(devices=[]):  # the grids must not move the training RNG (exact resume)
            rec = reconstruct_images(E, G, self.reals, batch=self.batch)
            swapped = swap_images(E, G, self.structures, self.textures, batch=self.batch)  # [S, T, C, H, W]
        save_image(image_grid(to_uint8(rec), *self.grid), run_dir / f"reconstructions{label}.png")
        mixed = to_uint8(swapped.flatten(0, 1))  # [S * T, H, W, C]
        mixed = mixed.reshape(*swapped.shape[:2], *mixed.shape[1:])
        save_image(style_mix_grid(to_uint8(self.structures), to_uint8(self.textures), mixed), run_dir / f"swaps{label}.png")


def train_swapae(
    options: SwapAEOptions,
    *,
    device: str | None = None,
    log: Callable[[str], None] = print,
    max_steps: int | None = None,
    max_seconds: float | None = None,
    dataset: ImageDataset | None = None,
) -> Path | None:
    """Train a Swapping Autoencoder as `options` say; returns the run directory (on rank 0, else None).

    `max_steps` stops after that many minibatches and `max_seconds` after that much training time,
    each with a final snapshot. `dataset` is `options.data` already opened by the caller.
    """
    ctx = init_distributed(device)
    torch.manual_seed(options.seed * ctx.world_size + ctx.rank)
    np.random.seed(options.seed * ctx.world_size + ctx.rank)
    if ctx.device.type == "cuda":
        torch.backends.cudnn.benchmark = True

    if dataset is None:
        dataset = open_dataset(options.data, resolution=options.resolution, max_size=options.max_size, mirror=options.mirror,
                               seed=options.seed)
    resolution, channels = dataset.resolution, dataset.num_channels
    validate_swapae_options(dataclasses.replace(options, resolution=resolution))

    resume_state: ResumeState | None = None
    resume_message = None
    if options.resume:
        loaded, resume_state, notes = read_resume_state(options.resume)
        networks = _networks_from_checkpoint(loaded, options, resolution, channels, options.resume)
        kind = "continuing the run" if resume_state else "starting from its weights"
        resume_message = f"Resuming from {options.resume}: {kind}" + "".join(f"\n  note: {n}" for n in notes)
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
                      patch_min_scale=options.patch_min_scale, patch_max_scale=options.patch_max_scale)
    phases, optimizers = make_optimizers(options, networks)

    cur_nimg = cur_tick = batch_idx = 0
    if resume_state is not None:
        cur_nimg, cur_tick, batch_idx = resume_state.cur_nimg, resume_state.cur_tick, resume_state.batch_idx
        for name, opt in optimizers.items():
            opt.load_state_dict(resume_state.optimizers[name])
        restore_rng(resume_state)
        if ctx.world_size > 1:  # each rank continues its own stream from the shared state
            torch.manual_seed(options.seed * ctx.world_size + ctx.rank + batch_idx)
            np.random.seed(options.seed * ctx.world_size + ctx.rank + batch_idx)

    batch_per_rank = options.batch // ctx.world_size
    rounds = batch_per_rank // options.batch_gpu
    sampler = InfiniteSampler(dataset, rank=ctx.rank, world_size=ctx.world_size, seed=options.seed, start=batch_idx * batch_per_rank)
    loader = torch.utils.data.DataLoader(
        dataset, sampler=sampler, batch_size=batch_per_rank, num_workers=options.workers,
        pin_memory=ctx.device.type == "cuda", persistent_workers=options.workers > 0,
        prefetch_factor=2 if options.workers > 0 else None,
        generator=torch.Generator().manual_seed(options.seed),  # keeps the global RNG (saved in snapshots) untouched
    )
    data_iter = iter(loader)

    run_dir = writer = run_log = grids = None
    if ctx.is_main:
        run_dir = create_run_dir(options.outdir, f"{dataset.name}-swapae-{options.cfg}")
        with open(run_dir / "training_options.json", "w", encoding="utf-8") as f:
            json.dump(options.to_json(), f, indent=2)
        log = run_log = RunLog(run_dir, log)
        log(f"Run directory: {run_dir}")
        if resume_message is not None:
            log(resume_message)
        log(f"Dataset: {dataset.name}, {len(dataset)} images, {channels}x{resolution}x{resolution}")
        log("Parameters: " + ", ".join(f"{name} {sum(p.numel() for p in m.parameters()):,}" for name, m in networks.items()))
        log(f"Training for {options.kimg} kimg on {ctx.world_size} x {ctx.device.type}, batch {options.batch}"
            f" ({options.batch_gpu} per step x {rounds} rounds per process)")
        grids = GridImages(dataset, options, ctx.device)
        grids.save_reals(run_dir / "reals.png")
        grids.save_outputs(E, G, run_dir, "_init")
        writer = StatsWriter(run_dir)

    collector = StatsCollector()
    last_snapshot: Path | None = None
    start_time = tick_start_time = time.time()
    tick_start_nimg = cur_nimg
    steps_done = 0
    done = False

    def snapshot() -> None:
        nonlocal last_snapshot
        state = ResumeState(cur_nimg=cur_nimg, cur_tick=cur_tick + 1, batch_idx=batch_idx)  # resume at the next tick
        if ctx.is_main:
            path = run_dir / f"network-snapshot-{kimg_label(cur_nimg)}.safetensors"
            nets = {name: copy.deepcopy(m).eval().cpu() for name, m in networks.items()}
            save_training_snapshot(path, nets, optimizers, state, options.to_json())
            last_snapshot = path
            log(f"Saved {path.name}")
        barrier()

    try:
        while not done:
            real_img, _ = next(data_iter)
            real_img = (real_img.to(ctx.device).to(torch.float32) / 127.5 - 1).split(options.batch_gpu)
            for phase in phases:
                if batch_idx % phase.interval != 0:
                    continue
                try:
                    def accumulate(r: int, gain: float) -> dict[str, torch.Tensor]:
                        return loss.accumulate_gradients(phase.name, real_img[r], gain=gain)

                    run_phase(phase, accumulate, len(real_img), collector)
                except NonFiniteError as err:
                    where = f"the last good snapshot is {last_snapshot}" if last_snapshot else "no snapshot was written yet"
                    raise TrainingError(f"{err} at step {batch_idx} (kimg {cur_nimg / 1000:.3f}); {where}. "
                                        "Lower the learning rate (--lr) or raise --r1-gamma.") from None
            cur_nimg += options.batch
            batch_idx += 1
            steps_done += 1

            done = cur_nimg >= options.kimg * 1000 or (max_steps is not None and steps_done >= max_steps)
            if max_seconds is not None:  # rank 0's clock decides, so that every process stops at the same step
                out_of_time = broadcast_(torch.tensor(float(time.time() - start_time >= max_seconds), device=ctx.device))
                done = done or bool(out_of_time)
            if not done and cur_nimg < tick_start_nimg + options.tick * 1000:
                continue

            # Once per tick: status line, statistics, image grids, snapshots.
            tick_end = time.time()
            sec_per_kimg = (tick_end - tick_start_time) / max(cur_nimg - tick_start_nimg, 1) * 1000
            stats = collector.flush()
            for name, value in (("Progress/kimg", cur_nimg / 1000), ("Timing/sec_per_kimg", sec_per_kimg)):
                stats[name] = {"n": 1, "mean": value, "std": 0.0}
            if ctx.is_main:
                log(tick_status(tick=cur_tick, cur_nimg=cur_nimg, elapsed=tick_end - start_time, sec_per_kimg=sec_per_kimg,
                                total_kimg=options.kimg, stats=stats, losses=STATUS_LOSSES, device=ctx.device))
                writer.write(stats, cur_nimg / 1000)
            if done or cur_tick % options.snap == 0:
                if ctx.is_main:
                    grids.save_outputs(E, G, run_dir, kimg_label(cur_nimg))
                snapshot()
            cur_tick += 1
            tick_start_nimg = cur_nimg
            tick_start_time = time.time()
    except KeyboardInterrupt:
        if ctx.is_main:
            log("Interrupted: writing a final snapshot before exiting")
        snapshot()
        raise
    finally:
        if writer is not None:
            writer.close()
        if run_log is not None:
            run_log("Done." if done else "Stopped.")
            run_log.close()
    return run_dir
