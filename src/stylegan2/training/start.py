"""What a training command does before `train`: check the paths and restarts it was given, open the data, resolve the
options; what each process of a --gpus run does; and the errors and exit status a training command ends with.
`stylegan2 train` and `stylegan2 swapae train` share the checks."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

from ..data import DatasetError, ImageDataset, open_dataset
from ..data.errors import LABELS_OFF_OPTION, SKIP_BAD_OPTION, advise_labels_off, advise_skip_bad
from ..io import CheckpointError
from ..io.detect import detect_format
from ..io.pretrained import cached_file_name
from ..utils.errors import OptionError
from ..utils.notes import warn
from . import distributed
from .auto_resume import auto_resume
from .config import DEFAULT_RUNS_DIR, TrainingOptions, resolve_options
from .errors import RunFinished, TrainingError
from .launch import INTERRUPTED, ProcessLayout
from .loop import check_label_options, fetch_resume, train
from .resume import check_resume
from .rundir import check_outdir_creatable, check_outdir_outside_data
from .signals import mark_finished, under_launcher, usr1_interrupts

# What a training process reports as a one-line error rather than a traceback (a bug's traceback stays).
TRAINING_USER_ERRORS = (TrainingError, DatasetError, ValueError, FileNotFoundError)


def check_restarts(layout: ProcessLayout, resume: str | None) -> None:
    """Refuse restarts (`layout.max_restarts`) without --resume auto: each restart would start the run over from
    scratch, where auto continues it from its last snapshot."""
    if layout.max_restarts and not auto_resume(resume)[0]:
        raise OptionError(f"--max-restarts {layout.max_restarts} restarts the processes after a failure; add --resume auto "
                          "so that they continue from the last snapshot instead of starting over")


def exit_status_after_stop() -> int:
    """The exit status of a run stopped on request (Ctrl-C, SIGUSR1) with its final snapshot: INTERRUPTED, the shell's;
    0 under a launcher such as plain torchrun, which takes 130 for a failed process (and restarts the run under
    --max-restarts), said once by the first process. A torchrun process ends here (`end_torchrun_process`)."""
    if not under_launcher():
        return INTERRUPTED
    if distributed.is_first_process():
        print("Exit status 0: torchrun would take 130 for a failed process and restart the run (with --max-restarts) "
              "or report it failed", file=sys.stderr, flush=True)
    distributed.end_torchrun_process()
    return 0


def check_run_paths(data: str, overrides: dict[str, Any], creates_runs: bool) -> None:
    """Refuse, before the data opens (and clusters), an --outdir inside the --data folder (its grids would become
    training images); where this process makes the run directory, also an --outdir where none can be made and a
    --resume that is no checkpoint file (loading it is train's work; a URL, a network name and auto:FILE are checked
    when the run fetches the file)."""
    outdir = overrides.get("outdir") or DEFAULT_RUNS_DIR  # None: not given
    check_outdir_outside_data(outdir, data)
    if not creates_runs:
        return
    check_outdir_creatable(outdir)
    resume = overrides.get("resume")
    if resume is not None and not auto_resume(resume)[0] and cached_file_name(resume) is None:  # a URL or name: fetched later
        try:
            detect_format(resume)  # its first bytes
        except (FileNotFoundError, CheckpointError) as err:
            raise ValueError(f"--resume {err}") from None


Options = TypeVar("Options")


def open_data_and_resolve(data: str, overrides: dict[str, Any], creates_runs: bool, dry_run: bool,
                          resolve: Callable[[ImageDataset], Options],
                          check_resume: Callable[[Options, ImageDataset], tuple[Options, list[str]]],
                          ) -> tuple[ImageDataset, Options]:
    """What both trainers do before training: check the paths, open the dataset as the options say and `resolve` the
    options for it. `creates_runs`: this process makes the run directory (rank 0, or the launcher of one machine's
    processes). `dry_run`: that process also reads the --resume file (a URL or network name downloaded once) and
    `check_resume`s it as the run will (the run reads it once, in train), saying its notes."""
    check_run_paths(data, overrides, creates_runs)
    with advise_labels_off(LABELS_OFF_OPTION):  # labels are asked for with --cond
        dataset = open_dataset(data, resolution=overrides.get("resolution"), max_size=overrides.get("max_size"),
                               use_labels=bool(overrides.get("cond")), mirror=bool(overrides.get("mirror")),
                               skip_bad=bool(overrides.get("skip_bad")), seed=overrides.get("seed") or 0)
    options = resolve(dataset)
    if dry_run and creates_runs and options.resume is not None:  # the options and notes the run would start with
        options, notes = check_resume(options, dataset)
        for note in notes:
            warn(f"--resume {options.resume}: {note}")
    return dataset, options


def open_and_resolve(data: str, cfg: str, overrides: dict[str, Any], world_size: int, device_type: str,
                     creates_runs: bool, dry_run: bool = False) -> tuple[ImageDataset, TrainingOptions]:
    """`open_data_and_resolve` for a StyleGAN2 run of `world_size` processes on `device_type`: the options filled
    from the preset, checked against the dataset's labels."""
    def resolve(dataset: ImageDataset) -> TrainingOptions:
        options = resolve_options(data, cfg, dataset.resolution, world_size, overrides, device_type=device_type,
                                  num_images=dataset.distinct_len)
        check_label_options(options, dataset)
        if creates_runs and not options.cond and (unused := dataset.unused_labels()):  # a forgotten --cond trains for hours
            warn(f"{data} has {unused}; pass --cond to train a conditional network on them")
        return options

    return open_data_and_resolve(data, overrides, creates_runs, dry_run, resolve,
                                 lambda options, dataset: check_resume(fetch_resume(options), dataset))


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
