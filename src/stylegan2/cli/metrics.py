"""`stylegan2 metrics`: quality metrics of a saved network (argument parsing only)."""

from pathlib import Path

import click

from stylegan2.data.errors import SKIP_BAD_BY_CONVERTING, advise_skip_bad
from stylegan2.data.sources import DATASET_KINDS_TEXT
from stylegan2.metrics import PRIMARY_METRICS, calc_metrics
from stylegan2.metrics.evaluate import format_results
from stylegan2.metrics.processes import METRICS_USER_ERRORS, notes_of_the_first_process
from stylegan2.training.launch import LaunchError
from stylegan2.utils.device import DEVICE_HELP, explain_unsupported_ops
from stylegan2.utils.progress import is_quiet, quiet

from .defaults import default_of
from .flags import (
    SEED,
    FiniteFloat,
    UserPath,
    cache_dir_option,
    detector_option,
    existing,
    network_argument,
    nvidia_command,
    quiet_option,
    user_error,
    vgg_option,
)


def print_result(index: int, record: dict) -> None:
    """A finished metric's rows (the header before the first): a Ctrl-C during the next metric keeps them."""
    click.echo(format_results([record], header=index == 0))


@nvidia_command("metrics")
@click.option("--network", required=True, callback=network_argument, metavar="FILE|URL|NAME",
              help="Network file (our checkpoint or an importable format), its URL, or NVIDIA's network by name (ffhq, ...; "
                   "downloaded into the cache dir once).")
@click.option("--data", metavar="DATA", type=UserPath(), help=f"Real images: {DATASET_KINDS_TEXT} "
              "[default: the data the network file (or its run directory) records it was trained on].")
@click.option("--metrics", "metric_list", default="fid50k_full", show_default=True, metavar="LIST",
              help=f"Comma-separated: {', '.join(PRIMARY_METRICS)} or variants (fid10k, ...).")
@click.option("--mirror/--no-mirror", default=None,
              help="Add x-flipped real images (the *_full metrics ignore it, as officially); also --mirror=1 "
                   "[default: as the training run did when --data is omitted, else off].")
@detector_option
@vgg_option
@click.option("--device", help=f"{DEVICE_HELP}.  [default: cuda when available; under torchrun or --gpus one GPU per process]")
@click.option("--gpus", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes to start on this machine, one per GPU (as torchrun --nproc_per_node).")
@click.option("--batch", "batch_size", type=click.IntRange(min=1), default=default_of(calc_metrics, "batch_size"), show_default=True,
              help="Images per batch (per rank); the fakes' latents are drawn per batch, so it changes them slightly.")
@click.option("--workers", type=click.IntRange(min=0), default=default_of(calc_metrics, "num_workers"), show_default=True,
              help="Data-loading processes.")
@cache_dir_option
@click.option("--no-cache", is_flag=True, help="Recompute real-data statistics instead of reading the cache.")
@click.option("--seed", type=SEED, default=default_of(calc_metrics, "seed"), show_default=True, help="Seed of the generated samples.")
@click.option("--trunc", "truncation_psi", type=FiniteFloat(), default=default_of(calc_metrics, "truncation_psi"), show_default=True,
              help="Truncation psi of the generated images (FID, KID, precision/recall, IS; PPL is measured without it).")
@click.option("--run-dir", type=UserPath(file_okay=False, path_type=Path), callback=existing("folder"),
              help="Append each result to RUN_DIR/metric-<name>.jsonl [default: the network's run directory, "
                   "the folder holding its training_options.json, as NVIDIA's calc_metrics.py].")
@click.option("--verbose/--no-verbose", default=default_of(calc_metrics, "progress"), show_default=True,
              help="Show progress and informational lines (also --verbose=0, as NVIDIA's calc_metrics.py); "
                   "--no-verbose is --quiet.")
@quiet_option
def metrics_command(network: Path, data: str | None, metric_list: str, mirror: bool | None, detector: Path | None,
                    vgg: Path | None, device: str | None, gpus: int, batch_size: int, workers: int, cache_dir: Path | None,
                    no_cache: bool, seed: int, truncation_psi: float, run_dir: Path | None, verbose: bool) -> None:
    """Compute quality metrics of a network against real data.

    \b
    Examples:
      stylegan2 metrics --network run/network-snapshot-000400.safetensors --data cats.zip --metrics fid50k_full
      stylegan2 metrics --network G.pkl --data ffhq.zip --mirror --metrics fid10k,kid10k_full,pr10k3_full \\
          --detector ~/weights/pt_inception-2015-12-05-6726825d.pth --vgg ~/weights/vgg16.pt
      stylegan2 metrics --metrics=fid50k_full --data=ffhq.zip --mirror=1 --network=ffhq.pkl --gpus=4
      stylegan2 metrics --network run/network-snapshot-000400.safetensors   # against the run's own data
    """
    verbose_given = click.get_current_context().get_parameter_source("verbose") is not click.core.ParameterSource.DEFAULT
    if verbose and verbose_given and is_quiet():
        raise click.UsageError("--verbose and --quiet disagree; pass one of them")
    verbose = verbose and not is_quiet()
    try:
        with notes_of_the_first_process(), explain_unsupported_ops(), advise_skip_bad(SKIP_BAD_BY_CONVERTING), quiet(not verbose):
            calc_metrics(network, data, metric_list, gpus=gpus, mirror=mirror, detector=detector, vgg=vgg, device=device,
                         batch_size=batch_size, num_workers=workers, cache_dir=cache_dir, use_cache=not no_cache,
                         seed=seed, truncation_psi=truncation_psi, run_dir=run_dir, progress=verbose,
                         on_result=print_result)  # under torchrun rank 0 prints; under --gpus this process
    except (*METRICS_USER_ERRORS, LaunchError) as err:
        raise user_error(err) from err
