"""--resume for StyleGAN2 runs: read the file on every rank (the one `--resume auto` finds: auto_resume), refuse
what the run cannot start from, and work out the options it trains with; --dry-run makes the same checks without
training."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from ..data import ImageDataset
from ..io.errors import CheckpointError
from ..metrics.calc import metric_files_read
from ..metrics.evaluate import parse_metric
from ..metrics.training_data import METRIC_FILES
from ..models import Discriminator, Generator
from ..models.mapping import LR_MULTIPLIER as MAPPING_LR_MULTIPLIER
from .ada import check_augment_state
from .auto_resume import auto_resume, fallback_file, find_auto_resume, recorded_start
from .clusters import check_clusters, clusters_for_transfer
from .config import TrainingOptions, for_transfer_learning, same_file
from .distributed import DistributedContext, broadcast_bytes
from .errors import RunFinished, TrainingError
from .freezing import all_frozen_note, freezable_layers, frozen_layers
from .networks import (
    check_networks_fit,
    file_labels,
    keep_file_architecture,
    networks_from_checkpoint,
)
from .session import check_run_unfinished
from .snapshot import ResumeState, dangling_link, fine_tune_advice, finite_number, read_resume_state


@dataclasses.dataclass
class ResumeFile:
    """A --resume file as read: its networks, its run's state (None: weights only, transfer learning) and notes."""

    path: str
    networks: dict[str, torch.nn.Module]
    state: ResumeState | None
    notes: list[str]


def load_resume(options: TrainingOptions, data_name: str,
                ctx: DistributedContext) -> tuple[ResumeFile | None, list[str]]:
    """The run's --resume file on every rank (None: nothing to resume), and on rank 0 the lines that say what
    `--resume auto` found among the runs of the dataset `data_name`. A run that --resume auto finds finished ends
    here, with those lines (RunFinished)."""
    if not options.resume:
        return None, []
    path, data, found_lines = _resume_file(options, data_name, ctx)
    if path is None:
        return None, found_lines
    try:
        return read_resume(path, options, data), found_lines
    except RunFinished as done:  # with what auto passed over on its way (rank 0's lines)
        raise RunFinished("\n".join([*found_lines, str(done)])) from None


def follow_file_labels(file: ResumeFile, options: TrainingOptions, dataset: ImageDataset) -> TrainingOptions:
    """The options with the file's clusters and pack where none were given (`networks.file_labels`), before the run
    makes its labels; the note joins the file's notes, said with the resume's lines. A network trained on more
    clusters than the dataset has images is refused: each of its classes needs an image."""
    followed, notes = file_labels(options, file.networks.get("G") or file.networks.get("G_ema"), file.networks.get("D"))
    if followed.clusters > dataset.distinct_len and followed.clusters != options.clusters:
        raise TrainingError(f"--resume {file.path}: the network was trained on {followed.clusters} clusters of its run's "
                            f"images (its classes), more than the {dataset.distinct_len:,} images of {options.data}; "
                            f"fine-tune it on at least {followed.clusters} images")
    file.notes.extend(notes)
    return followed


def _resume_file(options: TrainingOptions, data_name: str,
                 ctx: DistributedContext) -> tuple[str | None, bytes | None, list[str]]:
    """Rank 0's resume file on every rank: its path (None: nothing to resume) and, on the other
    ranks, its bytes (None on rank 0, which reads its own copy); and on rank 0 the lines that say
    what `--resume auto` found (having claimed the run it continues or starts: `claims_released`).

    `--resume auto` is resolved on rank 0 (to None when --outdir has no snapshot of this run's
    kind), and the other ranks get the file from it, so they need neither the file nor the run
    directory on their machine.
    """
    path, data, error, found_lines = options.resume, b"", None, []
    auto, fallback = auto_resume(path)
    if ctx.is_main and auto:
        try:
            found, passed_over = find_auto_resume(options, data_name, claim=True)
        except (TrainingError, ValueError) as err:  # a live owner, an unmakable --outdir: said once the others know
            found, passed_over, error = None, [], err
        found_lines = [f"Resume auto: {line}" for line in passed_over]
        path = str(found) if found is not None else ""
        if found is None and error is None:
            these = " with these options" if passed_over else ""
            found_lines.append(f"Resume auto: no snapshot of a {data_name}-{options.cfg} run{these} under {options.outdir}; "
                               + (f"starting from {fallback}" if fallback else "starting a new run"))
            try:
                path = fallback_file(fallback) if fallback else ""
            except TrainingError as err:  # said once the other processes know, after what auto passed over
                error = TrainingError("\n".join([*found_lines[:-1], str(err)]))
    if ctx.is_main and error is None:
        try:
            data = Path(path).read_bytes() if path and ctx.world_size > 1 else b""
        except OSError as err:
            why = dangling_link(path) or f"cannot read it ({err.strerror or err})"
            error = _with_advice(CheckpointError(f"--resume {path}: {why}"), path, options)
    shared = broadcast_bytes(None if error else path.encode(), ctx.device)
    if shared is None:
        raise error or TrainingError("rank 0 could not read the --resume file; its message says why")
    if not shared:
        return None, None, found_lines
    received = broadcast_bytes(data, ctx.device)
    return shared.decode(), None if ctx.is_main else received, found_lines


def read_resume(path: str, options: TrainingOptions, data: bytes | None = None) -> ResumeFile:
    """Read the --resume file `path` (from `data`, where rank 0 sent its bytes). Under --resume auto a run already
    at --kimg raises RunFinished: a requeued job that is done ends before any other work."""
    try:
        networks, state, notes = _read_resume(path, data)
    except CheckpointError as err:
        raise _with_advice(err, path, options) from None
    if auto_resume(options.resume)[0]:
        check_run_unfinished(path, state, options.kimg, auto=True)
    return ResumeFile(path, networks, state, notes)


def _read_resume(path: str, data: bytes | None) -> tuple[dict[str, torch.nn.Module], ResumeState | None, list[str]]:
    """read_resume_state of rank 0's file: the file itself, or a copy of `data`, the bytes rank 0 sent."""
    if data is None:
        return read_resume_state(path, check_extras=check_resume_extras)
    with tempfile.TemporaryDirectory(prefix="stylegan2-resume-") as tmp:
        copy_path = Path(tmp) / Path(path).name  # the suffix tells the format
        copy_path.write_bytes(data)
        try:
            return read_resume_state(copy_path, check_extras=check_resume_extras)
        except (CheckpointError, TrainingError) as err:  # named as the user named it, not by the copy's path
            raise type(err)(str(err).replace(str(copy_path), path)) from None


def _with_advice(err: CheckpointError, path: str, options: TrainingOptions) -> CheckpointError:
    """A resume file that cannot be read; when `--resume auto` found it in a run directory, how to go on (a damaged
    newest snapshot would stop every requeue of the job)."""
    if not auto_resume(options.resume)[0] or Path(path).parent.parent != Path(options.outdir).expanduser():
        return err
    return CheckpointError(f"{err}; move it out of the run directory, and --resume auto continues from the snapshot "
                           "before it")


def check_resume_extras(extras: dict[str, Any]) -> None:
    """StyleGAN2's own resume fields, the path-length mean, the ADA state, the k-means clusters and each process's own
    path-length mean and w_avg; ValueError says what is wrong."""
    pl_mean = extras.get("pl_mean", 0.0)
    if not finite_number(pl_mean):
        raise ValueError(f"pl_mean is {pl_mean!r}, not a finite number")
    check_augment_state(extras.get("augment", {}))
    threads = extras.get("threads", 1)
    if not (isinstance(threads, int) and not isinstance(threads, bool) and threads >= 1):
        raise ValueError(f"threads is {threads!r}, not a positive whole number")
    own = extras.get("per_process", {"pl_mean": [], "w_avg": []})
    means, w_avgs = (own.get("pl_mean"), own.get("w_avg")) if isinstance(own, dict) else (None, None)
    if not (isinstance(means, list) and isinstance(w_avgs, list) and len(means) == len(w_avgs)
            and all(finite_number(m) for m in means)
            and all(isinstance(w, list) and len(w) == len(w_avgs[0]) and all(finite_number(x) for x in w) for w in w_avgs)):
        raise ValueError("per_process holds no path-length means and w_avg vectors of one length, one per process")
    clusters = extras.get("clusters", {})
    k, labels = (clusters.get("k", 0), clusters.get("labels", [])) if isinstance(clusters, dict) else (None, None)
    if not (isinstance(k, int) and isinstance(clusters.get("identity", ""), str) and isinstance(labels, list)
            and all(isinstance(x, int) and 0 <= x < k for x in labels)):
        raise ValueError("clusters holds no k-means labels (k, identity, labels of 0..k-1)")


def resume_from(
    file: ResumeFile, options: TrainingOptions, dataset: ImageDataset, c_dim: int, world_size: int, *,
    c_prior: list[float] | None = None, build: bool = True,
) -> tuple[TrainingOptions, list[str], tuple[Generator, Discriminator, Generator | None] | None]:
    """The options a run trains with from its --resume file, with notes (the file's first), once the checks that
    refuse a file the run cannot start from have passed; with `build`, also G, D and G_ema rebuilt from the file.
    On clusters (`c_prior`, their shares), a continued run refuses a network trained on other clusters, and fine-tuning
    trains the network's classes on this dataset's clusters. --dry-run leaves the networks out: it does not cluster."""
    options, checked = _check_file_fits_run(file, options, dataset, c_dim, world_size)
    networks = None
    if build:
        transfer = file.state is None and c_prior is not None
        networks = networks_from_checkpoint(file.networks, options, c_dim, dataset.resolution, dataset.num_channels,
                                            dataset.aspect, c_prior=c_prior if transfer else None)
        if transfer:
            checked += clusters_for_transfer(file.networks, c_prior)
        else:
            check_clusters(networks[0], c_prior, file.path)
    options, kept = _options_from_file(file, options)
    return options, file.notes + checked + kept, networks


def _check_file_fits_run(file: ResumeFile, options: TrainingOptions, dataset: ImageDataset, c_dim: int,
                         world_size: int) -> tuple[TrainingOptions, list[str]]:
    """What a run refuses of its --resume file before building networks from it: networks that do not fit the
    dataset or options, and a run that cannot be continued as this one. The options to train with (a continued run
    keeps its frozen D layers) and notes on what differs."""
    state = file.state
    options, notes = _resume_freezed(file.networks, options, file.path, continuing=state is not None)
    check_networks_fit(file.networks, options, c_dim, dataset.resolution, dataset.num_channels, file.path,
                       dataset.aspect, state.options if state else None, dataset if options.cond else None)
    if state is not None:
        notes += _check_continuation(file.path, state, options, world_size)
        try:
            check_run_unfinished(file.path, state, options.kimg)
        except TrainingError as err:
            advice = fine_tune_advice(file.path)
            raise TrainingError(f"{err}; or, to fine-tune its networks from kimg 0 instead, {advice}") from None
    return options, notes


def _resume_freezed(loaded: dict[str, torch.nn.Module], options: TrainingOptions, path: str,
                    continuing: bool) -> tuple[TrainingOptions, list[str]]:
    """--freezed against the file's frozen D layers. A continued run keeps them (its D optimizer state holds only the
    layers that trained): a different --freezed given (0 too) is refused, none keeps the file's. Fine-tuning applies
    --freezed. A --freezed above the layers D can freeze gets a note."""
    theirs = frozen_layers(loaded["D"].init_kwargs) if "D" in loaded else 0
    notes = []
    if theirs != options.freezed and continuing:
        if options.freezed or "freezed" in options.given:
            raise TrainingError(f"--resume {path}: its run froze the first {theirs} layers of D (--freezed {theirs}) but "
                                f"this one would freeze {options.freezed}; pass --freezed {theirs} to continue it")
        options = dataclasses.replace(options, freezed=theirs)
        notes.append(f"D's first {theirs} layers stay frozen, as its run trained (--freezed {theirs})")
    elif theirs != options.freezed and theirs:
        notes.append(f"the file's D had its first {theirs} layers frozen; this run freezes {options.freezed} (--freezed)")
    if "D" in loaded and options.freezed > (layers := freezable_layers(loaded["D"])):
        notes.append(all_frozen_note(options.freezed, layers))
    return options, notes


def _check_continuation(path: str, state: ResumeState, options: TrainingOptions, world_size: int) -> list[str]:
    """Refuse to continue a run with another global batch; notes on what else differs from its run (the process
    count, --precision, --batch-gpu, --aug, the data)."""
    saved = state.options
    if isinstance(saved.get("batch"), int) and saved["batch"] != options.batch:
        raise TrainingError(f"--resume {path}: its run trained with a global batch of {saved['batch']} (--batch, over all"
                            f" processes) but this one would use {options.batch}; pass --batch {saved['batch']} to continue it")
    notes = []
    if isinstance(saved.get("num_gpus"), int) and saved["num_gpus"] != world_size:
        notes.append(f"its run had {_processes(saved['num_gpus'])}, this one has {world_size}; the global batch is kept")
    saved_precision = saved.get("precision")
    if saved_precision is None and isinstance(saved.get("fp32"), bool):  # runs saved before --precision recorded --fp32
        saved_precision = "fp32" if saved["fp32"] else "fp16"
    if isinstance(saved_precision, str) and saved_precision != options.precision:
        notes.append(f"its run trained with --precision {saved_precision}, this one with --precision {options.precision}")
    if isinstance(saved.get("batch_gpu"), int) and saved["batch_gpu"] != options.batch_gpu:
        notes.append(f"--batch-gpu was {saved['batch_gpu']}, now {options.batch_gpu}: the steps draw other latents and noise")
    if isinstance(saved.get("aug"), str) and saved["aug"] != options.aug:
        notes.append(f"its run trained with --aug {saved['aug']}, this one with --aug {options.aug}; pass --aug {saved['aug']} to keep it")
    if isinstance(saved.get("data"), str) and not same_file(options.data, saved["data"]):
        notes.append(f"its run trained on {saved['data']}: this continues that run (its {state.cur_nimg / 1000:g} kimg, "
                     f"optimizer state and ADA p); to fine-tune on {options.data} from kimg 0 instead, "
                     f"{fine_tune_advice(path)}")
    return notes


def _processes(count: int) -> str:
    return f"{count} process" if count == 1 else f"{count} processes"


def _options_from_file(file: ResumeFile, options: TrainingOptions) -> tuple[TrainingOptions, list[str]]:
    """The options a resume trains with: the file's architecture and mapping multiplier; when it starts from weights
    only, the official fine-tuning adjustments and the file as the network the run started from; when it continues a
    run, that run's start and settings (`_keep_run_settings`); with notes where the options said otherwise."""
    G = file.networks.get("G") or file.networks["G_ema"]
    options, notes = keep_file_architecture(options, G, file.networks.get("D"))
    if "D" not in file.networks:
        notes.append("the file holds no discriminator: D starts from random weights, as wide as the file's G")
    file_lrmul = (G.init_kwargs.get("mapping_kwargs") or {}).get("lr_multiplier", MAPPING_LR_MULTIPLIER)
    if file_lrmul != options.map_lrmul:  # the weights are stored divided by it: another one would change G
        notes.append(f"the mapping layers keep the file's learning-rate multiplier {file_lrmul:g} "
                     f"(--map-lrmul {options.map_lrmul:g} is for new networks)")
        options = dataclasses.replace(options, map_lrmul=file_lrmul)
    if file.state is None:
        options = dataclasses.replace(for_transfer_learning(options), started_from=os.path.abspath(file.path))
        notes.append(_fine_tuning_note(options))
    else:
        options = dataclasses.replace(options, started_from=recorded_start(file.state.options))
        options, kept = _keep_run_settings(options, file.state.options)
        options, files = _keep_metric_files(options, file.state.options)
        notes += kept + files
    return options, notes


# The settings a continued run keeps from its snapshot's options unless given (a fine-tune's adjustments among them),
# each with the check that a recorded value is one.
RUN_SETTINGS = {"ada_kimg": lambda value: finite_number(value) and value > 0,
                "ema_rampup": lambda value: value is None or (finite_number(value) and value >= 0)}


def _keep_run_settings(options: TrainingOptions, saved: dict[str, Any]) -> tuple[TrainingOptions, list[str]]:
    """A continued run trains with the ADA speed and EMA ramp-up its snapshot recorded, so that it goes on as the run
    would have (exactly, as resumes do), with a line naming those that differ from this run's options; one given
    otherwise (`options.given`) is used, with a note."""
    kept, notes = {}, []
    for name, valid in RUN_SETTINGS.items():
        if name not in saved or not valid(saved[name]) or saved[name] == getattr(options, name):
            continue
        if name in options.given:
            notes.append(f"its run trained with {_setting(name, saved[name])}, this one with "
                         f"{_setting(name, getattr(options, name))} as given; leave it out to keep its run's")
        else:
            kept[name] = saved[name]
    if kept:
        options = dataclasses.replace(options, **kept)
        said = [_setting(name, value) for name, value in kept.items() if name != "ada_kimg" or options.aug == "ada"]
        notes += [f"as its run trained: {', '.join(said)}"] if said else []
    return options, notes


def _keep_metric_files(options: TrainingOptions, saved: dict[str, Any]) -> tuple[TrainingOptions, list[str]]:
    """A continued run scores its snapshots with the files its run's metrics read (--detector, --vgg, --cache-dir,
    as its snapshot recorded them) where none is given, so that its metric records stay comparable. All are kept, so
    that its training_options.json hands them on to a later continuation that computes metrics; a note names those
    that this run's metrics read (`metric_files_read`), and one of them that is no longer there (the metrics then fail, and
    training goes on, until it is given)."""
    kept = {name: saved[name] for name in METRIC_FILES
            if name not in options.given and isinstance(saved.get(name), str) and saved[name] != getattr(options, name)}
    options = dataclasses.replace(options, **kept)
    files_read = metric_files_read([parse_metric(name) for name in options.metrics], vgg_given=options.vgg is not None)
    read = {name: value for name, value in kept.items() if name in files_read}
    if not read:
        return options, []
    notes = [f"metrics as its run scored them: {', '.join(f'{METRIC_FILES[name]} {value}' for name, value in read.items())}"]
    notes += [f"{METRIC_FILES[name]} {value}, which its run's metrics read, is not found: pass {METRIC_FILES[name]} "
              "with the one to use" for name, value in read.items() if not os.path.exists(value)]
    return options, notes


def _setting(name: str, value: Any) -> str:
    """A RUN_SETTINGS value in words, with its option: 'ADA speed 100 kimg (--ada-kimg 100)'."""
    if name == "ada_kimg":
        return f"ADA speed {value:g} kimg (--ada-kimg {value:g})"
    return "EMA without ramp-up" if value is None else f"EMA ramp-up {value:g} (ema_rampup)"


def _fine_tuning_note(options: TrainingOptions) -> str:
    """The run's line on NVIDIA's fine-tuning adjustments (`for_transfer_learning`) as they apply to it."""
    said = []
    if options.aug == "ada":
        said.append(_setting("ada_kimg", options.ada_kimg) + (" as given" if "ada_kimg" in options.given else ""))
    said.append(_setting("ema_rampup", options.ema_rampup) + (" as given" if "ema_rampup" in options.given else ""))
    return f"fine-tuning: {', '.join(said)}"


def check_resume(options: TrainingOptions, dataset: ImageDataset) -> tuple[TrainingOptions, list[str]]:
    """Read the --resume file (--resume auto: the snapshot it finds) and make the run's checks of it (`resume_from`)
    against the opened dataset, without training: what --dry-run adds. Returns the options the run would train with
    and its notes on them. A run on clusters is checked for their number only (which clusters the file was trained on
    needs the k-means that the run does)."""
    path, notes = options.resume, []
    auto, fallback = auto_resume(path)
    if auto:
        found, notes = find_auto_resume(options, dataset.name)
        if found is None and fallback is None:
            return options, [*notes, "no snapshot to continue: a new run starts"]
        try:
            path = str(found) if found is not None else fallback_file(fallback)
        except TrainingError as err:  # after what auto passed over, as the run says it
            raise TrainingError("\n".join([*(f"Resume auto: {note}" for note in notes), str(err)])) from None
        notes.append(f"continues {path}" if found is not None else f"no snapshot to continue: starts from {path}")
    file = read_resume(path, options)
    options = follow_file_labels(file, options, dataset)
    c_dim = options.clusters or dataset.label_dim  # the run's labels: its clusters (made when it starts) or the dataset's
    options, resumed, _ = resume_from(file, options, dataset, c_dim, options.num_gpus, build=False)
    return options, notes + resumed
