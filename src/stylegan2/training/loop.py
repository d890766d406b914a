"""The training loop: phases with lazy regularization, G_ema, ADA, ticks, snapshots and logs."""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..data import ImageDataset, InfiniteSampler, open_dataset
from ..models import Discriminator, Generator
from ..utils.image import make_grid, save_image, to_uint8
from .ada import Augmentation
from .augment_setup import build_augment
from .config import TrainingOptions, for_transfer_learning
from .distributed import DistributedContext, all_reduce_mean_, average_gradients, barrier, broadcast_, init_distributed
from .ema import ema_beta, update_ema
from .loss import StyleGAN2Loss
from .progress import RunLog, kimg_label, tick_status
from .rundir import create_run_dir
from .snapshot import ResumeState, read_resume_state, restore_rng, save_training_snapshot
from .stats import StatsCollector, StatsWriter


class TrainingError(RuntimeError):
    """Training cannot go on (non-finite loss, bad resume file); the message says what to do."""


@dataclass
class Phase:
    """One optimizer step kind: which network, which loss terms, how often."""

    name: str
    module: torch.nn.Module
    opt: torch.optim.Optimizer
    interval: int


class NonFiniteError(ArithmeticError):
    """A loss or gradient became NaN or infinite."""


def run_phase(
    phase: Phase,
    accumulate: Callable[[int, float], dict[str, torch.Tensor]],
    rounds: int,
    collector: StatsCollector | None = None,
    on_stats: Callable[[dict[str, torch.Tensor]], None] | None = None,
) -> None:
    """One optimizer step of `phase`: accumulate over the rounds (batch_gpu slices), average over
    processes, refuse non-finite gradients, step.

    `accumulate(round, gain)` back-propagates one slice's loss scaled by `gain` and returns its
    statistics. Each round gets `interval / rounds`, so the step sees the mean over the whole batch
    (times the lazy-regularization interval) whatever --batch-gpu is.
    """
    phase.module.requires_grad_(True)
    phase.opt.zero_grad(set_to_none=True)
    for r in range(rounds):
        stats = accumulate(r, phase.interval / rounds)
        if collector is not None:
            for name, value in stats.items():
                collector.report(name, value)
        if on_stats is not None:
            on_stats(stats)
    phase.module.requires_grad_(False)
    params = [p for p in phase.module.parameters()]
    average_gradients(params)
    grads = [p.grad for p in params if p.grad is not None]
    if grads and not bool(torch.stack([torch.isfinite(g).all() for g in grads]).all()):
        raise NonFiniteError(f"non-finite loss or gradients in phase {phase.name}")
    phase.opt.step()


def build_networks(options: TrainingOptions, c_dim: int, resolution: int, channels: int) -> tuple[Generator, Discriminator]:
    """Fresh G and D for the options (official kwargs layout, so snapshots load everywhere)."""
    fp16 = dict(num_fp16_res=0, conv_clamp=None) if options.fp32 else dict(num_fp16_res=4, conv_clamp=256)
    G = Generator(
        z_dim=options.z_dim, c_dim=c_dim, w_dim=options.w_dim, img_resolution=resolution, img_channels=channels,
        mapping_kwargs={"num_layers": options.map},
        synthesis_kwargs={"channel_base": options.cbase, "channel_max": options.cmax, **fp16},
    )
    D = Discriminator(
        c_dim=c_dim, img_resolution=resolution, img_channels=channels, architecture=options.d_architecture,
        channel_base=options.cbase, channel_max=options.cmax, **fp16,
        block_kwargs={"freeze_layers": options.freezed} if options.freezed else {},
        epilogue_kwargs={"mbstd_group_size": options.mbstd},
    )
    return G, D


def _networks_from_checkpoint(
    loaded: dict[str, torch.nn.Module], options: TrainingOptions, c_dim: int, resolution: int, channels: int, path: str
) -> tuple[Generator, Discriminator, Generator | None]:
    """Rebuild G and D with the checkpoint's architecture and copy its weights (transfer learning)."""
    source_G = loaded.get("G") or loaded.get("G_ema")
    if source_G is None:
        raise TrainingError(f"--resume {path}: the file holds no generator (G or G_ema), so training cannot start from it")
    kw = source_G.init_kwargs
    if kw["img_resolution"] != resolution or kw["img_channels"] != channels or kw["c_dim"] != c_dim:
        raise TrainingError(
            f"--resume {path}: the network makes {kw['img_channels']}-channel {kw['img_resolution']} px images"
            f" with {kw['c_dim']} label dims, but the dataset has {channels}-channel {resolution} px images"
            f" with {c_dim} label dims; resize the dataset (stylegan2 dataset --resolution) or pick a matching network"
        )
    G = Generator(**kw)
    G.load_state_dict(source_G.state_dict())
    if "D" in loaded:
        d_kw = dict(loaded["D"].init_kwargs)
        if options.freezed:
            d_kw["block_kwargs"] = dict(d_kw.get("block_kwargs") or {}, freeze_layers=options.freezed)
        D = Discriminator(**d_kw)
        D.load_state_dict(loaded["D"].state_dict())
    else:
        _, D = build_networks(options, c_dim, resolution, channels)
    G_ema = None
    if "G_ema" in loaded:
        G_ema = Generator(**loaded["G_ema"].init_kwargs)
        G_ema.load_state_dict(loaded["G_ema"].state_dict())
    return G, D, G_ema


def _make_phases(options: TrainingOptions, G: Generator, D: Discriminator) -> list[Phase]:
    """Adam per network; with lazy regularization, lr and betas are scaled by interval/(interval+1)."""
    phases = []
    for name, module, lr, reg_interval in (("G", G, options.glr, options.g_reg_interval), ("D", D, options.dlr, options.d_reg_interval)):
        ratio = reg_interval / (reg_interval + 1)
        betas = (0.0, 0.99**ratio)
        opt = torch.optim.Adam(module.parameters(), lr=lr * ratio, betas=betas, eps=1e-8)
        phases.append(Phase(name + "main", module, opt, 1))
        regularized = options.pl_weight != 0 if name == "G" else options.gamma != 0
        if regularized:  # a disabled penalty needs no phase (the lr and betas keep the official scaling)
            phases.append(Phase(name + "reg", module, opt, reg_interval))
    return phases


def _grid_inputs(options: TrainingOptions, dataset, z_dim: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed latents (and labels: one class per row) for the snapshot grids."""
    cols, rows = options.grid
    rnd = np.random.RandomState(options.seed)
    z = torch.from_numpy(rnd.randn(cols * rows, z_dim).astype(np.float32)).to(device)
    if dataset.label_dim > 0:
        labels = np.zeros((cols * rows, dataset.label_dim), dtype=np.float32)
        for row in range(rows):
            labels[row * cols: (row + 1) * cols, row % dataset.label_dim] = 1
    else:
        labels = np.zeros((cols * rows, 0), dtype=np.float32)
    return z, torch.from_numpy(labels).to(device)


@torch.no_grad()
def _save_fakes(G_ema: Generator, z: torch.Tensor, c: torch.Tensor, grid: tuple[int, int], path: Path, batch: int) -> None:
    images = torch.cat([G_ema(zz, cc, noise_mode="const").cpu() for zz, cc in zip(z.split(batch), c.split(batch))])
    save_image(make_grid(to_uint8(images).numpy(), *grid), path)


def _save_reals(dataset, grid: tuple[int, int], path: Path, seed: int) -> None:
    cols, rows = grid
    indices = np.random.RandomState(seed).permutation(len(dataset))[: cols * rows]
    save_image(make_grid(np.stack([dataset[int(i)][0] for i in indices]), cols, rows), path)


STATUS_LOSSES = (("G", "Loss/G/loss"), ("D", "Loss/D/loss"), ("r1", "Loss/r1_penalty"), ("pl", "Loss/pl_penalty"))


def train(
    options: TrainingOptions,
    *,
    device: str | None = None,
    log: Callable[[str], None] = print,
    max_steps: int | None = None,
    dataset: ImageDataset | None = None,
) -> Path | None:
    """Run training as `options` say; returns the run directory (on rank 0, else None).

    `max_steps` stops after that many minibatches (with a final snapshot); tests use it.
    `dataset` is `options.data` already opened (and validated) by the caller, so it is not read twice.
    """
    ctx = init_distributed(device)
    torch.manual_seed(options.seed * ctx.world_size + ctx.rank)
    np.random.seed(options.seed * ctx.world_size + ctx.rank)
    if ctx.device.type == "cuda":
        torch.backends.cudnn.benchmark = True

    if dataset is None:
        dataset = open_dataset(options.data, resolution=options.resolution, max_size=options.max_size,
                               use_labels=options.cond, mirror=options.mirror, skip_bad=options.skip_bad, seed=options.seed)
    c_dim, resolution, channels = dataset.label_dim, dataset.resolution, dataset.num_channels

    resume_state: ResumeState | None = None
    resume_message = None
    G_ema = None
    if options.resume:
        loaded, resume_state, notes = read_resume_state(options.resume)
        G, D, G_ema = _networks_from_checkpoint(loaded, options, c_dim, resolution, channels, options.resume)
        if resume_state is None:
            options = for_transfer_learning(options)
        kind = "continuing the run" if resume_state else "transfer learning from its weights"
        resume_message = f"Resuming from {options.resume}: {kind}" + "".join(f"\n  note: {n}" for n in notes)
    else:
        G, D = build_networks(options, c_dim, resolution, channels)
    if G_ema is None:
        G_ema = copy.deepcopy(G)
    G, D, G_ema = (m.to(ctx.device) for m in (G, D, G_ema))
    G.train().requires_grad_(False)
    D.train().requires_grad_(False)
    G_ema.eval().requires_grad_(False)
    for module in (G, D, G_ema):  # every rank starts from rank 0's weights
        for tensor in list(module.parameters()) + list(module.buffers()):
            broadcast_(tensor.data)

    augment: Augmentation = build_augment(options, ctx.device)
    loss = StyleGAN2Loss(G, D, augment_pipe=augment.pipe, r1_gamma=options.gamma, style_mixing_prob=options.style_mixing_prob,
                         pl_weight=options.pl_weight)
    phases = _make_phases(options, G, D)
    optimizers = {"G": phases[0].opt, "D": next(p.opt for p in phases if p.name == "Dmain")}

    cur_nimg = cur_tick = batch_idx = 0
    if resume_state is not None:
        cur_nimg, cur_tick, batch_idx = resume_state.cur_nimg, resume_state.cur_tick, resume_state.batch_idx
        for name, opt in optimizers.items():
            opt.load_state_dict(resume_state.optimizers[name])
        loss.pl_mean.fill_(resume_state.pl_mean)
        augment.load_state_dict(resume_state.augment)
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

    run_dir = writer = run_log = None
    grid_z, grid_c = _grid_inputs(options, dataset, G.z_dim, ctx.device)
    if ctx.is_main:
        run_dir = create_run_dir(options.outdir, f"{dataset.name}-{options.cfg}")
        with open(run_dir / "training_options.json", "w", encoding="utf-8") as f:
            json.dump(options.to_json(), f, indent=2)
        log = run_log = RunLog(run_dir, log)
        log(f"Run directory: {run_dir}")
        if resume_message is not None:
            log(resume_message)
        log(f"Dataset: {dataset.name}, {len(dataset)} images, {channels}x{resolution}x{resolution}, {c_dim} label dims")
        log(f"G: {sum(p.numel() for p in G.parameters()):,} parameters; D: {sum(p.numel() for p in D.parameters()):,}")
        log(f"Training for {options.kimg} kimg on {ctx.world_size} x {ctx.device.type}, batch {options.batch}"
            f" ({options.batch_gpu} per step x {rounds} rounds per process)")
        _save_reals(dataset, options.grid, run_dir / "reals.png", options.seed)
        _save_fakes(G_ema, grid_z, grid_c, options.grid, run_dir / "fakes_init.png", options.batch_gpu)
        writer = StatsWriter(run_dir)

    collector = StatsCollector()
    last_snapshot: Path | None = None
    start_time = tick_start_time = time.time()
    tick_start_nimg = cur_nimg
    steps_done = 0
    done = False

    def snapshot() -> None:
        nonlocal last_snapshot
        state = ResumeState(cur_nimg=cur_nimg, cur_tick=cur_tick + 1, batch_idx=batch_idx,  # resume at the next tick
                            pl_mean=float(loss.pl_mean), augment=augment.state_dict())
        if ctx.is_main:
            path = run_dir / f"network-snapshot-{kimg_label(cur_nimg)}.safetensors"
            nets = {name: copy.deepcopy(m).eval().cpu() for name, m in (("G", G), ("D", D), ("G_ema", G_ema))}
            save_training_snapshot(path, nets, optimizers, state, options.to_json())
            last_snapshot = path
            log(f"Saved {path.name}")
            for metric in options.metrics:
                _evaluate_metric(metric, G_ema, options, ctx, run_dir, path, log)
        barrier()

    try:
        while not done:
            real_img, real_c = next(data_iter)
            real_img = (real_img.to(ctx.device).to(torch.float32) / 127.5 - 1).split(options.batch_gpu)
            real_c = real_c.to(ctx.device).split(options.batch_gpu)
            for phase in phases:
                if batch_idx % phase.interval != 0:
                    continue
                gen_z = torch.randn(batch_per_rank, G.z_dim, device=ctx.device).split(options.batch_gpu)
                labels = [dataset.get_label(np.random.randint(len(dataset))) for _ in range(batch_per_rank)]
                gen_c = torch.from_numpy(np.stack(labels)).to(ctx.device).split(options.batch_gpu)
                try:
                    def accumulate(r: int, gain: float) -> dict[str, torch.Tensor]:
                        return loss.accumulate_gradients(phase.name, real_img[r], real_c[r], gen_z[r], gen_c[r], gain=gain)

                    run_phase(phase, accumulate, rounds, collector, on_stats=lambda stats: augment.accumulate(stats.get("Loss/signs/real")))
                except NonFiniteError as err:
                    where = f"the last good snapshot is {last_snapshot}" if last_snapshot else "no snapshot was written yet"
                    raise TrainingError(
                        f"{err} at step {batch_idx} (kimg {cur_nimg / 1000:.3f}); {where}. "
                        "Lower the learning rates (--glr/--dlr), raise --gamma, or use --fp32."
                    ) from None

            update_ema(G_ema, G, ema_beta(options.batch, options.ema_kimg, cur_nimg, options.ema_rampup))
            cur_nimg += options.batch
            batch_idx += 1
            steps_done += 1
            augment.adjust(batch_idx, options.batch)

            done = cur_nimg >= options.kimg * 1000 or (max_steps is not None and steps_done >= max_steps)
            if not done and cur_nimg < tick_start_nimg + options.tick * 1000:
                continue

            # Once per tick: status line, statistics, images, snapshots. Each process tracked w_avg on
            # its own data; their mean is the w_avg of the whole batch.
            all_reduce_mean_(G.mapping.w_avg)
            G_ema.mapping.w_avg.copy_(G.mapping.w_avg)
            tick_end = time.time()
            sec_per_kimg = (tick_end - tick_start_time) / max(cur_nimg - tick_start_nimg, 1) * 1000
            stats = collector.flush()
            for name, value in (("Progress/kimg", cur_nimg / 1000), ("Progress/augment", augment.p),
                                ("Timing/sec_per_kimg", sec_per_kimg)):
                stats[name] = {"n": 1, "mean": value, "std": 0.0}
            if augment.r_t is not None:
                stats["Progress/ada_rt"] = {"n": 1, "mean": augment.r_t, "std": 0.0}
            if ctx.is_main:
                log(tick_status(tick=cur_tick, cur_nimg=cur_nimg, elapsed=tick_end - start_time, sec_per_kimg=sec_per_kimg,
                                total_kimg=options.kimg, stats=stats, losses=STATUS_LOSSES, device=ctx.device,
                                extra=f"augment {augment.p:.3f} "))
                writer.write(stats, cur_nimg / 1000)
            if done or cur_tick % options.snap == 0:
                if ctx.is_main:
                    _save_fakes(G_ema, grid_z, grid_c, options.grid, run_dir / f"fakes{kimg_label(cur_nimg)}.png", options.batch_gpu)
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


def _evaluate_metric(metric: str, G_ema: Generator, options: TrainingOptions, ctx: DistributedContext,
                     run_dir: Path, snapshot_path: Path, log: Callable[[str], None]) -> None:
    """Score the snapshot; a failing metric (say, a missing detector file) is reported, not fatal."""
    from ..metrics import evaluate_for_training
    from ..metrics.evaluate import format_results

    try:
        record = evaluate_for_training(metric, G_ema, options.data, run_dir=run_dir, snapshot=snapshot_path,
                                       mirror=options.mirror, device=ctx.device)
    except (ValueError, FileNotFoundError) as err:
        log(f"Metric {metric} failed: {err}")
        return
    log(format_results([record]))
