"""The StyleGAN2 training loop: `train` sets a run up (data and its k-means labels, networks fresh or from --resume,
augmentation, loss, phases) and hands `StyleGAN2Step`, one minibatch in the paper's order, to a TrainingSession
(ticks, snapshots, logs); with the run's grids and metrics (its first log lines: `summary`)."""

from __future__ import annotations

import copy
import dataclasses
import functools
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from ..data import ImageDataset, open_dataset
from ..data.clusters import THUMBNAIL_SIZE, cluster_count_problem, cluster_dataset
from ..io.pretrained import cached_file_name, network_file
from ..metrics.calc import OtherRankFailed, SameAsLowerRank, evaluate_for_training
from ..metrics.evaluate import format_results
from ..models import Discriminator, Generator
from ..utils.device import configure_backends
from ..utils.download import DownloadError
from ..utils.image import make_grid, save_image, to_uint8
from .ada import Augmentation, build_augmentation
from .auto_resume import auto_resume, claims_released
from .clusters import clusters_of_snapshot, clusters_to_keep
from .config import TrainingOptions, validate_options
from .distributed import DistributedContext, all_reduce_mean_, broadcast_, gather_all, lost_ranks_named
from .ema import ema_beta, update_ema
from .errors import TrainingError
from .loss import LOSSES, StyleGAN2Loss
from .networks import build_networks
from .phase import Phase, make_phases, run_phase
from .resume import ResumeFile, follow_file_labels, load_resume, resume_from
from .rundir import run_desc
from .session import (
    LoopHooks,
    TickReport,
    TrainingSession,
    caller_state_kept,
    seed_slice,
    start_process,
)
from .signals import Terminated, interruption_said, said_in_log, sigterm_raises_once, usr1_interrupts
from .summary import run_summary

STATUS_LOSSES = (("G", "Loss/G/loss"), ("D", "Loss/D/loss"), ("r1", "Loss/r1_penalty"), ("r2", "Loss/r2_penalty"),
                 ("pl", "Loss/pl_penalty"))


def train(
    options: TrainingOptions,
    *,
    device: str | None = None,
    log: Callable[[str], None] = print,
    max_steps: int | None = None,
    dataset: ImageDataset | None = None,
    dist_timeout: float | None = None,
    notes: Sequence[str] = (),
) -> Path | None:
    """Run training as `options` say; returns the run directory (on rank 0, else None).

    `max_steps` stops after that many minibatches (with a final snapshot); tests use it.
    `dataset` is `options.data` already opened (and validated) by the caller, so it is not read twice.
    `notes`: those the caller showed while it opened the data and resolved the options, before the run directory
    existed; log.txt gets them too.
    `dist_timeout` (seconds; default: distributed.dist_timeout()) bounds every wait for the other
    processes under torchrun.

    The options are checked first (`validate_options`), as `resolve_options` checks them: options edited after it,
    or built by hand, get the same one-line ValueError. Ctrl-C (or SIGUSR1) writes a final snapshot and raises
    StoppedTogether, a KeyboardInterrupt; a run that cannot go on raises TrainingError (RunFinished, when
    `resume='auto'` finds the run already at `kimg`), bad data DatasetError. torch's and NumPy's global random
    states and the CUDA math flags are the caller's again afterwards (the CUDA generators where CUDA was in use before
    the call; see `session.caller_state_kept`).
    """
    validate_options(options)
    with caller_state_kept():  # the caller's random draws and CUDA flags, as they were
        ctx = start_process(device, options.seed, dist_timeout)
        # a rank lost while the run starts (the session names those lost later); a Ctrl-C before the run directory
        with lost_ranks_named(ctx), usr1_interrupts(), interruption_said(log, ctx.is_main), claims_released(options):
            return _train(options, ctx, log=log, max_steps=max_steps, dataset=dataset, notes=notes)


def _train(options: TrainingOptions, ctx: DistributedContext, *, log: Callable[[str], None], max_steps: int | None,
           dataset: ImageDataset | None, notes: Sequence[str]) -> Path | None:
    """train() in a process that has joined the group: the run's parts, set up in turn, then the session's loop."""
    configure_backends(ctx.device, allow_tf32=options.allow_tf32, cudnn_benchmark=not options.nobench)
    if dataset is None:
        dataset = open_dataset(options.data, resolution=options.resolution, max_size=options.max_size,
                               use_labels=options.cond, mirror=options.mirror, skip_bad=options.skip_bad, seed=options.seed)
    if ctx.is_main:  # the others get the file's bytes from this process (load_resume)
        options = fetch_resume(options)
    desc = run_desc(dataset.name, options)
    # The resume file first: a finished run (a requeued job's --resume auto) ends here, before minutes of clustering.
    resume, found_lines = load_resume(options, dataset.name, ctx)
    if resume is not None:  # before the labels: a network trained without clusters (or on K of them) sets them
        options = follow_file_labels(resume, options, dataset)
    if options.clusters:  # they label a copy (sharing the images): the caller's dataset stays as opened, for another run
        dataset = copy.copy(dataset)
    c_prior, clusters_kept, header = _labels(dataset, options, ctx, log, resume)
    options, (G, D, G_ema), resuming, resume_notes = _networks(options, dataset, c_prior, resume, ctx)
    header += found_lines + resuming

    augment = build_augmentation(options.augment, ctx.device)
    loss = LOSSES[options.loss](G, D, augment_pipe=augment.pipe, r1_gamma=options.gamma, style_mixing_prob=options.style_mixing_prob,
                                pl_weight=options.pl_weight, pack=options.pack)
    phases = make_phases(options, G, D)
    optimizers = {"G": phases[0].opt, "D": next(p.opt for p in phases if p.name == "Dmain")}
    session = TrainingSession(options, ctx, networks={"G": G, "D": D, "G_ema": G_ema}, optimizers=optimizers, log=log,
                              max_steps=max_steps)
    state = resume.state if resume is not None else None
    if state is not None:
        session.resume(state, Path(resume.path))
        loss.pl_mean.fill_(float(state.extras.get("pl_mean", 0.0)))
        augment.load_state_dict(state.extras.get("augment", {}))
        _restore_own_state(state.extras.get("per_process"), ctx, loss, G, G_ema, resume.path)
        resume_notes += _thread_note(state.extras.get("threads"), ctx)
    group = options.pack if options.pack_by_class else 1  # real and generated samples come in runs of one class
    step = StyleGAN2Step(options, ctx, session, dataset, minibatches=session.minibatches(dataset, class_packs=group),
                         group=group, G=G, G_ema=G_ema, loss=loss, phases=phases, augment=augment)

    grid = snapshot_grid(options, dataset, G.z_dim, ctx.device)
    summary, start_notes = run_summary(options, dataset, G, D, state, ctx)
    run_dir = session.open_run_dir(desc, header + summary, notes=notes)
    if run_dir is not None:  # rank 0: on stderr, which a quiet terminal keeps, and in log.txt, once each
        for note in [f"--resume {resume.path}: {n}" for n in resume_notes] + start_notes:  # as --dry-run says them
            session.note(note)

    def save_fakes(label: str) -> None:
        _save_fakes(G_ema, grid.z, grid.c, grid.shape, run_dir / f"fakes{label}.png", options.batch_gpu)

    if run_dir is not None:
        with session.before_first_step():  # optional outputs: on a full disk a note each
            session.optional_output(lambda: _save_reals(dataset, grid, run_dir / "reals.png"))
            session.optional_output(lambda: save_fakes("_init"))

    def evaluate_metrics(snapshot_path: Path) -> None:
        results: dict[str, float] = {}
        for metric in options.metrics:
            results.update(_evaluate_metric(metric, G_ema, options, ctx, run_dir, snapshot_path, session.log, session.note))
        session.write_metrics(results)

    labels = _label_kind(options, dataset, G)
    session.run(LoopHooks(
        step=step, save_grids=save_fakes, status_losses=STATUS_LOSSES,
        advice="Lower the learning rates (--glr/--dlr), raise --gamma, or use --precision fp32.",
        on_tick=functools.partial(_tick_report, G, G_ema, augment),
        resume_extras=lambda: {"pl_mean": float(loss.pl_mean), "augment": augment.state_dict(),
                               "threads": torch.get_num_threads(),
                               **({"clusters": clusters_kept} if clusters_kept else {}),
                               **({"labels": labels} if labels else {}),
                               **({"per_process": _own_state(loss, G)} if ctx.world_size > 1 else {})},
        after_snapshot=evaluate_metrics,
        left_out=lambda path: _metrics_left_out(options.metrics, path, run_dir, ctx),
    ))
    return run_dir


@dataclasses.dataclass
class StyleGAN2Step:
    """One minibatch of StyleGAN2 training, in the paper's order: the phases due (Gmain and Dmain every minibatch,
    Greg and Dreg, the lazy regularization, every interval), then G_ema, then the ADA strength."""

    options: TrainingOptions
    ctx: DistributedContext
    session: TrainingSession
    dataset: ImageDataset
    minibatches: Iterator[tuple[torch.Tensor, torch.Tensor]]  # this rank's real images and labels
    group: int  # G's labels come in runs of one class, as the real ones do (--pack-by-class: --pack, else 1)
    G: Generator
    G_ema: Generator
    loss: StyleGAN2Loss
    phases: list[Phase]
    augment: Augmentation

    def __call__(self) -> None:
        real_img, real_c = self._reals()
        for phase_index, phase in enumerate(self.phases):
            if self.session.batch_idx % phase.interval == 0:
                accumulate = functools.partial(self._accumulate, phase.name, phase_index, real_img, real_c)
                run_phase(phase, accumulate, self.session.rounds, self.session.finite, self.session.collector,
                          on_stats=self._count_real_signs)
        options = self.options
        update_ema(self.G_ema, self.G, ema_beta(options.batch, options.ema_kimg, self.session.cur_nimg, options.ema_rampup))
        self.augment.adjust(self.session.batch_idx + 1, options.batch)  # the minibatch just taken, counted from 1

    def _reals(self) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
        """The next real images (scaled to [-1, 1]) and labels on the device, in --batch-gpu slices: one per round."""
        real_img, real_c = next(self.minibatches)
        real_img = (real_img.to(self.ctx.device, non_blocking=True).to(torch.float32) / 127.5 - 1).split(self.options.batch_gpu)
        return real_img, real_c.to(self.ctx.device, non_blocking=True).split(self.options.batch_gpu)

    def _count_real_signs(self, stats: dict[str, torch.Tensor]) -> None:
        """ADA's overfitting heuristic r_t: the signs of D's outputs on the reals of each round."""
        self.augment.accumulate(stats.get("Loss/signs/real"))

    def _accumulate(self, phase: str, phase_index: int, real_img: tuple[torch.Tensor, ...],
                    real_c: tuple[torch.Tensor, ...], r: int, gain: float) -> dict[str, torch.Tensor]:
        """Round `r` of a phase (run_phase's accumulate): the gradients of its slice's loss, scaled by `gain`."""
        rng = seed_slice(self.options.seed, self.session.batch_idx, phase_index, self.ctx.rank * self.session.rounds + r)
        gen_z = torch.randn(self.options.batch_gpu, self.G.z_dim, device=self.ctx.device)
        drawn = np.repeat(rng.integers(len(self.dataset), size=self.options.batch_gpu // self.group), self.group)
        gen_c = torch.from_numpy(np.stack([self.dataset.get_label(int(i)) for i in drawn]))
        if self.ctx.device.type == "cuda":  # from pageable memory the copy may wait for the GPU; NVIDIA pins too
            gen_c = gen_c.pin_memory()
        gen_c = gen_c.to(self.ctx.device, non_blocking=True)
        return self.loss.accumulate_gradients(phase, real_img[r], real_c[r], gen_z, gen_c, gain=gain)


def _labels(dataset: ImageDataset, options: TrainingOptions, ctx: DistributedContext, log: Callable[[str], None],
            resume: ResumeFile | None) -> tuple[list[float] | None, dict[str, Any], list[str]]:
    """With --clusters (self-conditioning), k-means clusters of the images become their class labels: the resume
    snapshot's when its run clustered these same files, else made now. Returns their shares (None without clusters),
    the record the snapshots keep of them, and the run's first lines on them. Refuses --pack-by-class without classes
    and more clusters than images (`check_label_options`)."""
    check_label_options(options, dataset)
    c_prior, kept, header = None, {}, []
    if options.clusters:
        identity = dataset.file_identity()  # before the labels, which it includes
        c_prior = clusters_of_snapshot(dataset, options.clusters, identity, resume.state if resume is not None else None)
        if c_prior is None:
            c_prior = _cluster(dataset, options, ctx, log)
        elif ctx.is_main:
            header.append(f"Clusters: read from {Path(resume.path).name}, whose run clustered these same image files")
        if identity is not None:  # a resume of a snapshot then skips the clustering (minutes for a large dataset)
            kept = clusters_to_keep(dataset, options.clusters, identity)
        header.append(f"Clusters: {options.clusters} k-means clusters of the images as labels (--clusters), "
                      f"{min(c_prior):.1%}-{max(c_prior):.1%} of the images each; G draws them with these odds")
    return c_prior, kept, header


def _label_kind(options: TrainingOptions, dataset: ImageDataset, G: Generator) -> str | None:
    """What the run's labels are, recorded in its snapshots for the tools (`Generator.label_kind`): "classes" (the
    dataset's or its --clusters) or "vectors"; None for an unconditional run."""
    if G.c_dim == 0:
        return None
    return "classes" if options.clusters or dataset.has_class_labels else "vectors"


def fetch_resume(options: TrainingOptions) -> TrainingOptions:
    """The options with a --resume URL or NVIDIA network name (`ffhq256`) replaced by its file, downloaded into the cache
    dir once: when the run needs it, after every option was checked (--resume auto:FILE fetches FILE only when the run
    has no snapshot to continue)."""
    if options.resume is None or auto_resume(options.resume)[0] or cached_file_name(options.resume) is None:
        return options
    try:
        return dataclasses.replace(options, resume=str(network_file(options.resume)))
    except DownloadError as err:  # a failure, not a usage error: the option was right
        raise TrainingError(f"--resume: {err}, or pass the file's path") from None


def check_label_options(options: TrainingOptions, dataset: ImageDataset) -> None:
    """Refuse, before any clustering (and at --dry-run), more --clusters than the dataset has images, and
    --pack-by-class on label vectors: packs need one class per image."""
    if options.clusters and (problem := cluster_count_problem(options.clusters, dataset.distinct_len, options.data)):
        raise TrainingError(problem)
    if options.pack_by_class and not options.clusters and not dataset.has_class_labels:
        raise TrainingError(f"--pack-by-class: the labels of {options.data} are vectors of {dataset.label_dim} values, not "
                            "classes; packs need one class per image (class labels, or --clusters)")


def _cluster(dataset: ImageDataset, options: TrainingOptions, ctx: DistributedContext,
             log: Callable[[str], None]) -> list[float]:
    """k-means clusters of the images as their labels (each rank for itself: same seed, same clusters); their shares."""
    if ctx.is_main:
        log(f"Clustering {dataset.distinct_len:,} images into {options.clusters} clusters (k-means of "
            f"{THUMBNAIL_SIZE}x{THUMBNAIL_SIZE} thumbnails; --clusters 0 trains without)...")
    try:
        with sigterm_raises_once():
            return cluster_dataset(dataset, options.clusters, seed=options.seed, progress=ctx.is_main)
    except KeyboardInterrupt as err:  # minutes on a large dataset: say that the Ctrl-C took, and that nothing is lost
        if ctx.is_main:
            log("Interrupted while clustering: nothing was written")
        said_in_log(err)
        raise
    except Terminated as stop:  # a scheduler's SIGTERM: one line, as during training
        raise TrainingError(f"{stop} while clustering; nothing was written") from None


def _networks(options: TrainingOptions, dataset: ImageDataset, c_prior: list[float] | None, resume: ResumeFile | None,
              ctx: DistributedContext) -> tuple[TrainingOptions, tuple[Generator, Discriminator, Generator], list[str], list[str]]:
    """G, D and G_ema on the device, set to train (G_ema to evaluate), with rank 0's weights on every rank: new ones,
    or the --resume file's. The options to train with (a resume's are partly the file's), a line on the resume and
    its notes."""
    c_dim, resolution, channels = dataset.label_dim, dataset.resolution, dataset.num_channels
    G_ema, lines, notes = None, [], []
    if resume is not None:
        options = dataclasses.replace(options, resume=resume.path)  # training_options.json names the file, not 'auto'
        options, notes, (G, D, G_ema) = resume_from(resume, options, dataset, c_dim, ctx.world_size, c_prior=c_prior)
        kind = "continuing the run" if resume.state else "transfer learning from its weights"
        lines.append(f"Resuming from {resume.path}: {kind}")
    else:
        G, D = build_networks(options, c_dim, resolution, channels, c_prior, dataset.aspect)
    if G_ema is None:
        G_ema = copy.deepcopy(G)
    G, D, G_ema = (m.to(ctx.device) for m in (G, D, G_ema))
    G.train().requires_grad_(False)
    D.train().requires_grad_(False)
    G_ema.eval().requires_grad_(False)
    for module in (G, D, G_ema):  # every rank starts from rank 0's weights
        for tensor in list(module.parameters()) + list(module.buffers()):
            broadcast_(tensor.data)
    return options, (G, D, G_ema), lines, notes


def _thread_note(threads: int | None, ctx: DistributedContext) -> list[str]:
    """A note when a CPU run resumes on another number of compute threads than its snapshot's: its sums go in another
    order, and the difference, a rounding error at first, grows with every step."""
    if threads is None or ctx.device.type != "cpu" or threads == torch.get_num_threads() or not ctx.is_main:
        return []
    return [f"its run used {threads} compute thread(s) and this one {torch.get_num_threads()}: it continues close to, "
            f"not exactly as, its run would have; OMP_NUM_THREADS={threads} resumes it exactly"]


def _own_state(loss: StyleGAN2Loss, G: Generator) -> dict[str, list]:
    """What each process tracks on its own (every rank calls this: it gathers): its path-length mean, and its w_avg,
    which the processes average at tick ends only. Snapshots keep them so that a resume on as many processes is exact."""
    return {"pl_mean": gather_all(loss.pl_mean.detach().reshape(1))[:, 0].tolist(),
            "w_avg": gather_all(G.mapping.w_avg.detach()).tolist()}


def _restore_own_state(own: dict[str, list] | None, ctx: DistributedContext, loss: StyleGAN2Loss, G: Generator,
                       G_ema: Generator, path: str) -> None:
    """This process's own path-length mean and w_avg from a snapshot of as many processes; with another count (or a
    snapshot of one process) every process keeps rank 0's, which the snapshot holds."""
    if not own or len(own["pl_mean"]) != ctx.world_size:
        return
    w_avg = torch.tensor(own["w_avg"][ctx.rank], dtype=torch.float32)
    if w_avg.shape != G.mapping.w_avg.shape:
        raise TrainingError(f"--resume {path}: its per-process w_avg has {w_avg.numel()} values for a w_dim of {G.w_dim}")
    loss.pl_mean.fill_(float(own["pl_mean"][ctx.rank]))
    G.mapping.w_avg.copy_(w_avg)
    G_ema.mapping.w_avg.copy_(w_avg)  # G_ema copies G's buffers at every step


def _tick_report(G: Generator, G_ema: Generator, augment: Augmentation) -> TickReport:
    """Each process tracked w_avg on its own data; their mean is the w_avg of the whole batch. With the ADA strength."""
    all_reduce_mean_(G.mapping.w_avg)
    G_ema.mapping.w_avg.copy_(G.mapping.w_avg)
    progress = {"Progress/augment": augment.p}
    if augment.r_t is not None:
        progress["Progress/ada_rt"] = augment.r_t
    return TickReport(progress, status=f"augment {augment.p:.3f} ")


@dataclasses.dataclass
class SnapshotGrid:
    """What reals.png and every fakes*.png show: `shape` (columns, rows), the dataset items of reals.png, and the
    fakes' fixed latents z and labels c (None: G draws its clusters)."""

    shape: tuple[int, int]
    reals: np.ndarray
    z: torch.Tensor
    c: torch.Tensor | None


MAX_GRID_ROWS = 32  # rows added so that every class shows, at most this many (NVIDIA's grids' limit)


def snapshot_grid(options: TrainingOptions, dataset: ImageDataset, z_dim: int, device: torch.device) -> SnapshotGrid:
    """The grids, as NVIDIA's: with class labels, one class per row in class order (rows added up to MAX_GRID_ROWS
    so that every class shows), reals.png's row of a class showing its images in turn and the fakes' row drawn for
    it; with label vectors, the fakes take the labels of the reals above them; otherwise reals drawn at random."""
    cols, rows = options.grid
    labelled = dataset.has_class_labels and not options.clusters  # clusters: G draws its own, as it will for users
    every_class = dataset.class_indices() if labelled else None  # of every item, mirrored copies included
    present = np.unique(every_class) if labelled else None
    if labelled:
        rows = max(rows, min(len(present), MAX_GRID_ROWS))
    z = torch.from_numpy(np.random.RandomState(options.seed).randn(cols * rows, z_dim).astype(np.float32)).to(device)
    order = np.random.RandomState(options.seed).permutation(len(dataset))
    if not labelled:
        reals = order[: cols * rows]
        if options.clusters:
            return SnapshotGrid((cols, rows), reals, z, None)
        # label vectors as the reals above have them (cycled when the dataset is smaller than the grid), or none
        c = np.stack([dataset.get_label(int(order[i % len(order)])) for i in range(cols * rows)])
        return SnapshotGrid((cols, rows), reals, z, torch.from_numpy(c).to(device))
    classes = every_class[order]
    by_class = {int(k): order[classes == k] for k in present}  # each class's items, in the seed's order
    reals, c = [], np.zeros((cols * rows, dataset.label_dim), np.float32)
    for row in range(rows):
        k = int(present[row % len(present)])
        turn = row // len(present)  # a class shown again in a later row shows its next images
        items = by_class[k]
        reals += [items[(turn * cols + col) % len(items)] for col in range(cols)]
        c[row * cols: (row + 1) * cols, k] = 1
    return SnapshotGrid((cols, rows), np.asarray(reals), z, torch.from_numpy(c).to(device))


@torch.no_grad()
def _save_fakes(G_ema: Generator, z: torch.Tensor, c: torch.Tensor | None, grid: tuple[int, int], path: Path, batch: int) -> None:
    cs = c.split(batch) if c is not None else [None] * len(z.split(batch))
    images = torch.cat([G_ema(zz, cc, noise_mode="const").cpu() for zz, cc in zip(z.split(batch), cs)])
    save_image(make_grid(to_uint8(images).numpy(), *grid), path)


def _save_reals(dataset: ImageDataset, grid: SnapshotGrid, path: Path) -> None:
    save_image(make_grid(np.stack([dataset[int(i)][0] for i in grid.reals]), *grid.shape), path)


def _metrics_left_out(metrics: list[str], snapshot: Path, run_dir: Path, ctx: DistributedContext) -> str:
    """The session's `left_out` note: the command that scores the Ctrl-C snapshot as the run scores the others (on
    as many processes), whose metrics the run leaves out (they may take long)."""
    if not metrics:
        return ""
    processes = f" --gpus {ctx.world_size}" + (" --device cpu" if ctx.device.type == "cpu" else "") if ctx.world_size > 1 else ""
    return (f"metrics are left out at this snapshot; to add them: stylegan2 metrics --network {snapshot} "
            f"--metrics {','.join(metrics)} --run-dir {run_dir}{processes}")


def _evaluate_metric(metric: str, G_ema: Generator, options: TrainingOptions, ctx: DistributedContext,
                     run_dir: Path | None, snapshot_path: Path, log: Callable[[str], None],
                     note: Callable[[str], None]) -> dict[str, float]:
    """Score the snapshot, every process taking its share of the images (as NVIDIA's loop does); returns the results
    ({} when it failed); its notes go to `note` (stderr and log.txt, as every command's notes). A metric that cannot
    run (say, a detector file missing on one machine) is a note too, once per reason, by a process that saw it; not
    fatal."""
    try:
        with warnings.catch_warnings(record=True) as notes:  # the metric's notes go to the run log, not Python's form
            warnings.simplefilter("always")
            record = evaluate_for_training(metric, G_ema, options.data, run_dir=run_dir, snapshot=snapshot_path,
                                           mirror=options.mirror, device=ctx.device, rank=ctx.rank, world_size=ctx.world_size,
                                           detector=options.detector, vgg=options.vgg, cache_dir=options.cache_dir)
    except (ValueError, FileNotFoundError) as err:
        if ctx.is_main:
            note(f"Metric {metric} failed: {err}")
        elif not isinstance(err, (OtherRankFailed, SameAsLowerRank)):  # rank 0's log names this process; the reason is here
            note(f"Metric {metric} failed on process {ctx.rank}: {err}")
        return {}
    if ctx.is_main:
        for said in dict.fromkeys(str(n.message) for n in notes):
            note(said)
        log(format_results([record]))
    return record["results"]
