"""What `stylegan2 swapae train` does before `train_swapae`, with the GAN trainer's checks (training.start): open the
data and resolve the options; and what each process of a --gpus run does."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Sequence

from ..data import ImageDataset
from ..data.errors import SKIP_BAD_BY_CONVERTING, advise_skip_bad
from ..training import distributed
from ..training.signals import usr1_interrupts
from ..training.start import open_data_and_resolve
from .config import SwapAEOptions, resolve_swapae_options
from .training import check_swapae_resume, train_swapae

PURPOSE = "train the Swapping Autoencoder"  # what one process would do, in the process group's messages


def open_and_resolve(data: str, cfg: str, overrides: dict[str, Any], world_size: int, device_type: str,
                     creates_runs: bool, dry_run: bool = False) -> tuple[ImageDataset, SwapAEOptions]:
    """The GAN trainer's `open_data_and_resolve` for a swapping-autoencoder run of `world_size` processes on
    `device_type`: the options filled from the preset; `dry_run` reads and checks the --resume file as the run will."""
    return open_data_and_resolve(
        data, overrides, creates_runs, dry_run,
        lambda dataset: resolve_swapae_options(data, cfg, dataset.resolution, world_size, overrides,
                                               device_type=device_type, num_images=dataset.distinct_len),
        lambda options, dataset: check_swapae_resume(options, dataset.resolution, dataset.num_channels))


def train_process(data: str, cfg: str, device: str | None, overrides: dict[str, Any],
                  notes: Sequence[str] = ()) -> Path | None:
    """One of the processes --gpus starts, doing what each torchrun process does: join the group, open the data,
    resolve the options, train. Returns the run directory on rank 0. `notes`: what the launching command showed
    while it resolved the options, for the run's log.txt."""
    ctx = distributed.init_distributed(device, purpose=PURPOSE, timeout_option=None)
    with advise_skip_bad(SKIP_BAD_BY_CONVERTING), usr1_interrupts():  # as the launching command says them
        with warnings.catch_warnings():  # the launcher showed the notes of opening and resolving
            warnings.simplefilter("ignore")
            dataset, options = open_and_resolve(data, cfg, overrides, ctx.world_size, ctx.device.type, ctx.is_main)
        run_dir = train_swapae(options, device=device, dataset=dataset, notes=list(notes))
    distributed.leave_group()
    return run_dir
