"""What a training command does before `train`: check the paths and GPUs it was given, open the data, resolve the
options; and what each process of a --gpus run does. `stylegan2 train` and `stylegan2 swapae train` share the checks."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Sequence

import torch

from ..data import ImageDataset, open_dataset
from ..data.errors import SKIP_BAD_OPTION, advise_skip_bad
from ..io import CheckpointError
from ..io.detect import detect_format
from ..utils.device import select_device
from ..utils.errors import OptionError
from ..utils.notes import warn
from . import distributed
from .config import DEFAULT_RUNS_DIR, TrainingOptions, resolve_options
from .loop import check_label_options, train
from .resume import auto_resume, check_resume
from .rundir import check_outdir_creatable, check_outdir_outside_data
from .session import RunFinished
from .signals import mark_finished, usr1_interrupts


def check_gpus(gpus: int, device: str | None) -> torch.device:
    """The device type of a --gpus run, refusing more CUDA processes than GPUs and MPS (a single device)."""
    dev = select_device(device)
    if dev.type == "cuda" and torch.cuda.device_count() < gpus:
        raise ValueError(f"--gpus {gpus}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    if dev.type == "cuda" and dev.index is not None:
        raise OptionError(f"--gpus {gpus} uses cuda:0 to cuda:{gpus - 1}; pass --device cuda, not {device}")
    if dev.type == "mps":
        raise OptionError(f"--gpus {gpus}: Apple's MPS is one device and has no multi-process backend; drop --gpus")
    return dev


def check_run_paths(data: str, overrides: dict[str, Any], creates_runs: bool) -> None:
    """Refuse, before the data opens (and clusters), an --outdir inside the --data folder (its grids would become
    training images); where this process makes the run directory, also an --outdir where none can be made and a
    --resume that is no checkpoint file (loading it is train's work; auto:FILE is checked when FILE is needed)."""
    outdir = overrides.get("outdir") or DEFAULT_RUNS_DIR  # None: not given
    check_outdir_outside_data(outdir, data)
    if not creates_runs:
        return
    check_outdir_creatable(outdir)
    resume = overrides.get("resume")
    if resume is not None and not auto_resume(resume)[0]:
        try:
            detect_format(resume)  # its first bytes
        except (FileNotFoundError, CheckpointError) as err:
            raise ValueError(f"--resume {err}") from None


def open_and_resolve(data: str, cfg: str, overrides: dict[str, Any], world_size: int, device_type: str,
                     creates_runs: bool, dry_run: bool = False) -> tuple[ImageDataset, TrainingOptions]:
    """Open the dataset as the options say and fill the options from the preset for `world_size` processes;
    `creates_runs`: this process makes the run directory (rank 0, or the launcher of one machine's processes).
    `dry_run`: that process also reads the --resume file and checks it as the run will (the run reads it once, in train)."""
    check_run_paths(data, overrides, creates_runs)
    dataset = open_dataset(data, resolution=overrides.get("resolution"), max_size=overrides.get("max_size"),
                           use_labels=bool(overrides.get("cond")), mirror=bool(overrides.get("mirror")),
                           skip_bad=bool(overrides.get("skip_bad")), seed=overrides.get("seed") or 0)
    options = resolve_options(data, cfg, dataset.resolution, world_size, overrides, device_type=device_type,
                              num_images=dataset.distinct_len)
    check_label_options(options, dataset)
    if creates_runs and not options.cond and (unused := dataset.unused_labels()):  # a forgotten --cond trains for hours
        warn(f"{data} has {unused}; pass --cond to train a conditional network on them")
    if dry_run and creates_runs and options.resume is not None:  # the options and notes the run would start with
        options, notes = check_resume(options, dataset)
        for note in notes:
            warn(f"--resume {options.resume}: {note}")
    return dataset, options


def train_process(data: str, cfg: str, device: str | None, overrides: dict[str, Any], dist_timeout: float,
                  notes: Sequence[str] = ()) -> Path | None:
    """One of the processes that --gpus / --nnodes start, doing what each torchrun process does: join the
    group, open the data, resolve the options, train. Returns the run directory on rank 0. `notes`: what the
    launching command showed while it resolved the options, for the run's log.txt."""
    ctx = distributed.init_distributed(device, dist_timeout)
    with advise_skip_bad(SKIP_BAD_OPTION), usr1_interrupts():  # as the launching command says them
        with warnings.catch_warnings():  # the launcher showed the notes of opening and resolving
            warnings.simplefilter("ignore")
            dataset, options = open_and_resolve(data, cfg, overrides, ctx.world_size, ctx.device.type, ctx.is_main)
        try:
            run_dir = train(options, device=device, dataset=dataset, dist_timeout=dist_timeout, notes=list(notes))
        except RunFinished as done:  # every process found it: a success, said once
            mark_finished()
            distributed.barrier()  # all marked before the line: a job's SIGTERM after it is no failure
            if ctx.is_main:
                print(done, flush=True)
            run_dir = None
        distributed.leave_group()
        return run_dir
