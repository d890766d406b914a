"""`stylegan2 train`: parse options and call `stylegan2.training.start` and `stylegan2.training.loop.train` (in --gpus
processes, `stylegan2.training.start.train_process`).

NVIDIA's train.py command lines run unchanged: its on/off options take values (`--cond=1`), and
`--subset`, `-n`, `--gpus`, `--nhwc`, `--nobench`, `--allow-tf32` and `--resume=ffhq1024` mean what they mean there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import sys
from typing import Any, Callable, Iterator

import click

from ..data import ImageDataset
from ..data.errors import SKIP_BAD_OPTION, advise_skip_bad
from ..data.sources import DATASET_KINDS_TEXT
from ..io.pretrained import NVIDIA_NETWORKS, is_url
from ..metrics import PRIMARY_METRICS
from ..metrics.training_data import METRIC_FILES
from ..models.aspect import MAX_RESOLUTION
from ..models.mapping import LR_MULTIPLIER as MAPPING_LR_MULTIPLIER
from ..training import distributed
from ..training.ada import AUG_MODES, UNIT_RANGE
from ..training.augment import AUGPIPE_PRESETS
from ..training.auto_resume import AUTO_RESUME, auto_resume
from ..training.config import CFG_NAMES, FINE_TUNE_ADA_KIMG, PRECISIONS, PRESETS, TrainingOptions
from ..training.diffaugment import DiffAugment
from ..training.distributed import DEFAULT_TIMEOUT, TIMEOUT_VARIABLE, init_distributed, positive_seconds
from ..training.errors import RunFinished
from ..training.launch import RDZV_ID, RDZV_PORT, RDZV_TIMEOUT, LaunchError, ProcessLayout, SignalledAfterFinishing, launch
from ..training.loop import train
from ..training.loss import LOSSES
from ..training.networks import precision_kwargs
from ..training.signals import INTERRUPTED_BEFORE_TRAINING, StoppedTogether, interrupted_status, sigterm_stops, usr1_interrupts
from ..training.start import (
    TRAINING_USER_ERRORS,
    check_restarts,
    exit_status_after_stop,
    open_and_resolve,
    train_process,
)
from ..training.summary import dry_run_summary
from ..utils.device import check_gpus, explain_unsupported_ops, select_device
from ..utils.errors import OptionError
from ..utils.notes import show_note, warnings_as_notes
from ..utils.progress import WarningsOnly, is_quiet, quiet
from .defaults import default_of, format_default
from .flags import (
    BATCH_GPU_HELP,
    CBASE_HELP,
    SEED,
    SNAP_HELP,
    FiniteFloatRange,
    PresetChoice,
    UserPath,
    cache_dir_option,
    detector_option,
    device_option,
    max_size_option,
    nvidia_command,
    quiet_option,
    say,
    user_error,
    vgg_option,
    workers_option,
)


def _default(name: str) -> str:
    """'[default: X]' for a TrainingOptions field whose preset does not set it (one source of truth)."""
    value = next(f.default for f in dataclasses.fields(TrainingOptions) if f.name == name)
    return f"  [default: {format_default(value)}]"


PRESET_DEFAULT = "  [default: the preset's; --dry-run shows it]"  # settings the presets derive from the data and GPUs


def _aug_default() -> str:
    """'[default: ada; ...]' with the presets that turn augmentation off on large datasets."""
    large = "".join(f"; --cfg {cfg}: noaug from {spec.noaug_min_images:,} images"
                    for cfg, spec in PRESETS.items() if spec.noaug_min_images)
    return f"  [default: ada{large}]"


def _preset_default(name: str) -> str:
    """'[default: X, or Y for --cfg cpu]' for a setting the presets choose (one source of truth)."""
    values = {cfg: getattr(preset, name) for cfg, preset in PRESETS.items()}
    common = max(set(values.values()), key=list(values.values()).count)
    others = "".join(f", or {format_default(v)} for --cfg {cfg}" for cfg, v in values.items() if v != common)
    return f"  [default: {format_default(common)}{others}]"


def _cluster_map_lrmuls() -> str:
    """'; 0.1 in the cpu preset on clusters' for each preset whose runs on clusters change the mapping layers' multiplier."""
    return "".join(f"; {spec.cluster_map_lrmul:g} in the {cfg} preset on clusters"
                   for cfg, spec in PRESETS.items() if spec.cluster_map_lrmul != MAPPING_LR_MULTIPLIER)


_FP16 = precision_kwargs("fp16")[0]  # NVIDIA's mixed precision as network kwargs: num_fp16_res, conv_clamp


def _metric_list(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str] | None:
    if value is None or value.lower() == "none":
        return None if value is None else []
    return [m.strip() for m in value.split(",") if m.strip()]


def _resume_path(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--resume: a file (~ expanded), NVIDIA's 'noresume' (none), one of their network names or a URL (kept as given:
    the run downloads it once, after every option is checked), auto, or auto:FILE (FILE any of these)."""
    if value is None or value == "noresume":
        return None
    auto, fallback = auto_resume(value)
    if not auto:
        return _network_spec(value)
    if fallback is not None and (not fallback or fallback == "noresume" or auto_resume(fallback)[0]):
        raise click.BadParameter(f"{value}: give the network file to start from after 'auto:'", ctx, param)
    return value if fallback is None else f"{AUTO_RESUME}:{_network_spec(fallback)}"


def _network_spec(value: str) -> str:
    """A network given as a URL or NVIDIA's name as it is, a path with ~ expanded."""
    return value if value in NVIDIA_NETWORKS or is_url(value) else os.path.expanduser(value)


def _seconds(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """A timeout option: a positive, finite number of seconds."""
    try:
        return None if value is None else positive_seconds(value, param.opts[0])
    except ValueError as err:
        raise click.BadParameter(str(err), ctx, param) from None


@nvidia_command("train")
@click.option("--data", required=True, type=UserPath(), help=f"Dataset: {DATASET_KINDS_TEXT}.")
@click.option("--outdir", default=TrainingOptions.outdir, show_default=True, type=UserPath(), help="Where run directories are created.")
@click.option("--gpus", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes to start on this machine, one per GPU (as torchrun --nproc_per_node); gloo processes on the CPU.")
@click.option("--nnodes", type=click.IntRange(min=1), default=1, show_default=True,
              help="Machines in the run (as torchrun --nnodes): start the same command on each, with --rdzv-endpoint.")
@click.option("--rdzv-endpoint", metavar="HOST[:PORT]",
              help=f"Where the nodes meet: one machine's address and a free port there, the same on every node "
                   f"(torchrun's c10d rendezvous; port {RDZV_PORT} if left out).")
@click.option("--rdzv-id", default=RDZV_ID, show_default=True, help="The job's name at the rendezvous, the same on every node.")
@click.option("--rdzv-timeout", metavar="SECONDS", callback=_seconds,
              help=f"How long a node waits for the others to start, and for the endpoint to answer.  [default: {RDZV_TIMEOUT:g}]")
@click.option("--max-restarts", type=click.IntRange(min=0), default=0, show_default=True,
              help="After a failure, restart every process up to this many times (as torchrun's); needs --resume auto, "
                   "so that they continue from the last snapshot.")
@click.option("--dist-timeout", metavar="SECONDS", callback=_seconds,
              help=f"How long a process waits for the others (in a collective, or to join) before it names the lost "
                   f"ones and stops the run.  [default: ${TIMEOUT_VARIABLE}, else {DEFAULT_TIMEOUT:g}]")
@click.option("--cfg", type=PresetChoice(CFG_NAMES), default=default_of(TrainingOptions, "cfg"), show_default=True,
              help="Base configuration.")
@click.option("--cond/--no-cond", default=False,
              help="Train a class-conditional model on the dataset's labels (also --cond=1)." + _default("cond"))
@click.option("--mirror/--no-mirror", default=False,
              help="Add x-flipped copies of the images (also --mirror=1)." + _default("mirror"))
@max_size_option
@click.option("--resolution", type=int,
              help=f"Pad smaller images to this size: a power of two from 4 to {MAX_RESOLUTION}, at least the images' "
                   "own.  [default: the data's]")
@click.option("--skip-bad", is_flag=True,
              help="Skip images that cannot be used (damaged, transparent, unsupported pixel formats; with --cond, also images "
                   "without a label) with a note naming them by reason instead of stopping."
                   + _default("skip_bad"))
@click.option("--kimg", type=FiniteFloatRange(min=0, min_open=True),
              help="Training length in thousands of real images, counted from the run's start (a continued run's "
                   "snapshot's images included; fine-tuning from a network's weights starts at 0)." + PRESET_DEFAULT)
@click.option("--batch", type=click.IntRange(min=1), help="Total batch size (all processes)." + PRESET_DEFAULT)
@click.option("--batch-gpu", type=click.IntRange(min=1), help=BATCH_GPU_HELP + PRESET_DEFAULT)
@click.option("--loss", type=click.Choice(list(LOSSES)),
              help="Objective: stylegan2 (NVIDIA's logistic loss + R1) or r3gan (relativistic pairing + R1 + R2)." + PRESET_DEFAULT)
@click.option("--gamma", type=FiniteFloatRange(min=0),
              help="R1 regularization weight (R1 and R2 each, with --loss r3gan)." + PRESET_DEFAULT)
@click.option("--glr", type=FiniteFloatRange(min=0, min_open=True), help="Generator learning rate." + PRESET_DEFAULT)
@click.option("--dlr", type=FiniteFloatRange(min=0, min_open=True), help="Discriminator learning rate." + PRESET_DEFAULT)
@click.option("--ema-kimg", type=FiniteFloatRange(min=0, min_open=True),
              help="Half-life of G_ema's weight average, in kimg (the preset's ramp-up still shortens it early on, "
                   "except when fine-tuning)." + PRESET_DEFAULT)
@click.option("--map", "map_layers", type=click.IntRange(min=1), help="Number of mapping network layers." + PRESET_DEFAULT)
@click.option("--map-lrmul", type=FiniteFloatRange(min=0, min_open=True),
              help=f"The mapping layers' learning-rate multiplier (a fixed {MAPPING_LR_MULTIPLIER:g} in NVIDIA's code"
                   f"{_cluster_map_lrmuls()})." + PRESET_DEFAULT)
@click.option("--cbase", type=click.IntRange(min=1), help=CBASE_HELP + PRESET_DEFAULT)
@click.option("--cmax", type=click.IntRange(min=1), help="Maximum channels per layer." + PRESET_DEFAULT)
@click.option("--mbstd", type=click.IntRange(min=1), help="Minibatch standard deviation group size." + PRESET_DEFAULT)
@click.option("--pack", type=click.IntRange(min=1),
              help="D judges this many images at once (PacGAN; fights mode collapse). 1 = the official D." + PRESET_DEFAULT)
@click.option("--pack-by-class/--no-pack-by-class", default=None,
              help="With --pack and labels (--cond or --clusters): each pack holds images of one class, so D sees "
                   "collapse within a class." + _default("pack_by_class"))
@click.option("--clusters", type=click.IntRange(min=0),
              help="Unlabeled data: train on this many k-means clusters of the images as classes (self-conditioning; "
                   "covers modes an unconditional run drops). 0 = off." + PRESET_DEFAULT)
@click.option("--precision", type=click.Choice(PRECISIONS),
              help=f"What the layers of the top {_FP16['num_fp16_res']} resolutions compute in: fp16 (NVIDIA's mixed "
                   f"precision, conv_clamp {_FP16['conv_clamp']}, CUDA only), bf16 (no clamp; fast on CUDA or a CPU with "
                   "AVX-512 BF16 or AMX, emulated elsewhere) or fp32." + PRESET_DEFAULT)
@click.option("--fp32/--no-fp32", default=None,
              help="NVIDIA's spelling of --precision fp32 (--fp32=0: --precision fp16).  [default: off: the preset's --precision]")
@click.option("--nhwc/--no-nhwc", default=None, help="Channels-last (NHWC) memory format for the fp16 layers on CUDA." + _default("nhwc"))
@click.option("--nobench/--bench", default=None, help="Disable cuDNN's kernel benchmarking (CUDA)." + _default("nobench"))
@click.option("--allow-tf32/--no-allow-tf32", default=None,
              help="Let CUDA use TF32 (10-bit mantissa) in matmuls and convolutions." + _default("allow_tf32"))
@click.option("--freezed", type=click.IntRange(min=0),
              help=f"Freeze the first N layers of D (transfer learning).  [default: {TrainingOptions.freezed}, or a continued run's]")
@click.option("--aug", type=click.Choice(AUG_MODES), help="Augmentation mode." + _aug_default())
@click.option("--augpipe", type=click.Choice(list(AUGPIPE_PRESETS)), help="Augmentation pipeline preset." + _default("augpipe"))
@click.option("--p", "aug_p", type=FiniteFloatRange(*UNIT_RANGE),
              help="Augmentation probability for --aug fixed, which needs it (with --aug ada, the p it starts from)." + _default("p"))
@click.option("--target", type=FiniteFloatRange(*UNIT_RANGE), help="ADA target for r_t = E[sign(D(real))]." + _default("target"))
@click.option("--ada-kimg", type=FiniteFloatRange(min=0, min_open=True),
              help=f"ADA speed: kimg for p to move by 1.  [default: {format_default(TrainingOptions.ada_kimg)}; "
                   f"{FINE_TUNE_ADA_KIMG} when fine-tuning from a network's weights; a continued run's]")
@click.option("--diffaugment-policy", metavar="T1,T2,...",
              help=f"DiffAugment's transforms for --aug diffaug, applied in the order given: any of "
                   f"{', '.join(DiffAugment.TRANSFORMS)}." + _default("diffaugment_policy"))
@click.option("--metrics", callback=_metric_list,
              help=f"Comma-separated metrics to evaluate at each snapshot: {', '.join(PRIMARY_METRICS)} or variants "
                   "(fid10k, ...; docs/metrics.md), or none.  [default: none]")
@detector_option
@vgg_option
@cache_dir_option
@click.option("--seed", type=SEED, help="Random seed." + _default("seed"))
@click.option("--tick", type=FiniteFloatRange(min=0, min_open=True), help="kimg between progress lines." + _default("tick"))
@click.option("--snap", type=click.IntRange(min=1), help=SNAP_HELP + _preset_default("snap"))
@click.option("--keep-snapshots", type=click.IntRange(min=0),
              help="Keep the newest N snapshots of the run, deleting older ones as new ones are written (0: keep all)."
                   + _default("keep_snapshots"))
@workers_option
@click.option("--resume", callback=_resume_path,
              help="Continue a run from our snapshot, or fine-tune any network file (also a URL, or NVIDIA's "
                   "networks by name: ffhq, ffhq256, ...; downloaded once); auto: the newest snapshot of this run (this dataset, "
                   "--cfg, options and starting network) under --outdir, else a new run; auto:FILE: that, else start "
                   "from FILE.")
@device_option
@click.option("-n", "--dry-run", is_flag=True, help="Print the resolved options and exit.")
@quiet_option
def train_command(data: str, outdir: str, cfg: str, device: str | None, gpus: int, nnodes: int, rdzv_endpoint: str | None,
                  rdzv_id: str, rdzv_timeout: float | None, max_restarts: int, dist_timeout: float | None, dry_run: bool,
                  map_layers: int | None, aug_p: float | None, fp32: bool | None, **overrides) -> None:
    """Train a StyleGAN2 on a dataset (the official StyleGAN2-ADA recipe).

    \b
    Examples:
      stylegan2 train --data builtin:shapes --cfg cpu --kimg 20
      stylegan2 train --data ~/datasets/ffhq256.zip --cfg paper256 --mirror --gpus 4
      stylegan2 train --outdir=~/training-runs --data=~/mydataset.zip --gpus=1 --cond=1 --mirror=1
      torchrun --nproc_per_node=4 -m stylegan2 train --data ffhq.zip --cfg stylegan2 --batch 32
      stylegan2 train --data ffhq.zip --cfg stylegan2 --batch 64 --gpus 8 --nnodes 2 --rdzv-endpoint HOST:29400
    """
    overrides = typed_only({**overrides, "outdir": outdir})
    overrides.update(map=map_layers, p=aug_p, **{name: _absolute(overrides[name]) for name in METRIC_FILES})
    try:
        overrides["precision"] = _precision_option(overrides["precision"], fp32)
        layout = ProcessLayout(nproc_per_node=gpus, nnodes=nnodes, rdzv_endpoint=rdzv_endpoint, rdzv_id=rdzv_id,
                               rdzv_timeout=rdzv_timeout or RDZV_TIMEOUT, max_restarts=max_restarts)
        dist_timeout = distributed.dist_timeout() if dist_timeout is None else dist_timeout
        check_restarts(layout, overrides.get("resume"))
        distributed.check_slurm_tasks(layout.nnodes)  # the environment, checked before anything runs (also by --dry-run)
        sigterm_stops()
    except ValueError as err:
        raise user_error(err) from None
    if not layout.needs_launcher:  # this process trains (alone, or as one of torchrun's)
        def resolve() -> tuple[ImageDataset, TrainingOptions]:
            select_device(device)
            ctx = init_distributed(device, dist_timeout)
            return open_and_resolve(data, cfg, overrides, ctx.world_size, ctx.device.type, ctx.is_main, dry_run)

        def run(options: TrainingOptions, dataset: ImageDataset, notes: list[str]) -> None:
            train(options, device=device, dataset=dataset, dist_timeout=dist_timeout, notes=notes)

        run_training_command(resolve, run, dry_run, SKIP_BAD_OPTION, dry_run_summary)
        return

    def resolve_for_launch() -> tuple[ImageDataset, TrainingOptions]:
        return open_and_resolve(data, cfg, overrides, layout.world_size, check_gpus(gpus, device).type,
                                creates_runs=layout.nnodes == 1, dry_run=dry_run)  # with several machines, rank 0's may be another

    def run_processes(options: TrainingOptions, dataset: ImageDataset, notes: list[str]) -> None:
        launch(layout, process_for(train_process), data, cfg, device, overrides, dist_timeout, notes,
               user_errors=TRAINING_USER_ERRORS)

    run_training_command(resolve_for_launch, run_processes, dry_run, SKIP_BAD_OPTION, dry_run_summary)


def typed_only(values: dict[str, Any]) -> dict[str, Any]:
    """`values` with None for each option not typed (at its declared default), so that the run's `given` lists exactly
    what was typed (`--no-cond` too)."""
    source = click.get_current_context().get_parameter_source
    return {name: None if source(name) is click.core.ParameterSource.DEFAULT else value for name, value in values.items()}


def _absolute(path: os.PathLike | None) -> str | None:
    """A file option's path as the run records it: absolute, so that the record names the file from any folder."""
    return None if path is None else os.path.abspath(path)


def _precision_option(precision: str | None, fp32: bool | None) -> str | None:
    """--precision, or what NVIDIA's --fp32 (=1: fp32, =0: fp16) says; a ValueError when the two disagree."""
    if fp32 is None:
        return precision
    if precision is None:
        return "fp32" if fp32 else "fp16"
    if fp32 != (precision == "fp32"):
        raise OptionError(f"--{'' if fp32 else 'no-'}fp32 and --precision {precision} disagree; pass one of them")
    return precision


DryRunSummary = Callable[[Any, ImageDataset], tuple[list[str], list[str]]]  # (options, dataset) -> (lines, notes)


@contextlib.contextmanager
def quiet_terminal() -> Iterator[None]:
    """Under --quiet, a training run's stdout shows only its warnings (notes, interruptions, --resume auto's
    findings): the tick lines and the rest still go into the run's log.txt, which the run writes itself."""
    if not is_quiet():
        yield
        return
    with contextlib.redirect_stdout(WarningsOnly(sys.stdout)):
        yield


def quietly(process: Callable[..., Any], *args: Any) -> Any:
    """One of the processes --gpus starts, as quiet as the command (--quiet does not reach a new process by itself)."""
    with quiet(), quiet_terminal():
        return process(*args)


def process_for(process: Callable[..., Any]) -> Callable[..., Any]:
    """`process`, run `quietly` under --quiet (a module-level function, as the processes' start method needs)."""
    return functools.partial(quietly, process) if is_quiet() else process


def run_training_command(resolve: Callable[[], tuple[ImageDataset, Any]], run: Callable[[Any, ImageDataset, list[str]], object],
                         dry_run: bool, skip_bad: str, summary: DryRunSummary | None = None) -> None:
    """Open the dataset and resolve the options (errors become one-line messages), print them for
    --dry-run, else train; Ctrl-C exits with status 130 after the loop's final snapshot. `skip_bad`: how the
    command's messages say to leave bad files out (SKIP_BAD_OPTION, or SKIP_BAD_BY_CONVERTING without the option).
    `summary`: the lines and notes --dry-run prints, the data's first, of what the run would say at its start. `run`
    gets the notes shown meanwhile, for the run's log.txt, which does not exist yet."""
    notes: list[str] = []
    try:
        with warnings_as_notes(notes), advise_skip_bad(skip_bad), usr1_interrupts():  # e.g. the images --skip-bad left out
            dataset, options = resolve()
    except KeyboardInterrupt as err:  # Ctrl-C, a scheduler's SIGUSR1 or SIGTERM, while the data opens
        click.echo(INTERRUPTED_BEFORE_TRAINING, err=True)
        raise SystemExit(interrupted_status(err)) from None
    except RunFinished as done:  # --dry-run of a requeued job whose run is over: exit status 0, as the run's
        say(str(done))
        return
    except TRAINING_USER_ERRORS as err:
        raise user_error(err) from None
    if dry_run:  # the data it opened on stderr, as notes are, so that stdout stays the options' JSON
        lines, run_notes = summary(options, dataset) if summary is not None else ([f"Dataset: {dataset.summary()}"], [])
        for line in lines:
            say(line, err=True)
        for note in run_notes:
            show_note(note)
        click.echo(json.dumps(options.to_json(), indent=2))
        return
    try:
        with explain_unsupported_ops(), advise_skip_bad(skip_bad), usr1_interrupts(), quiet_terminal():
            run(options, dataset, notes)
    except RunFinished as done:  # a requeued job whose run is over: exit status 0
        say(str(done))
    except SignalledAfterFinishing as err:  # a job ended while the finished processes exited: a success
        show_note(f"{err}; the run is complete")
    except (*TRAINING_USER_ERRORS, LaunchError) as err:
        raise user_error(err) from None
    except StoppedTogether:  # stopped on request, with its final snapshot
        raise SystemExit(exit_status_after_stop()) from None
    except KeyboardInterrupt as err:
        raise SystemExit(interrupted_status(err)) from None
    distributed.end_torchrun_process()  # the run ended well on every process
