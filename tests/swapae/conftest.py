"""Tiny Swapping Autoencoder runs for the training, tools and CLI tests: 16 px builtin:shapes, a few channels."""

from pathlib import Path
from typing import Callable

import pytest
import torch

from stylegan2.swapae.config import SwapAEOptions, resolve_swapae_options

TINY_SWAPAE = dict(cbase=256, cmax=16, spatial_code_ch=4, global_code_ch=16, num_downsampling_sp=2, num_downsampling_gl=1,
                   patch_size=8, num_patches=4, batch=8, batch_gpu=4, workers=0, tick=0.032, snap=1, grid=(4, 2), swap_grid=3)
TINY_SWAPAE_DATA = "builtin:shapes?n=64"


def make_tiny_options(outdir: Path, **overrides) -> SwapAEOptions:
    return resolve_swapae_options(TINY_SWAPAE_DATA, "cpu", 16, 1, dict(TINY_SWAPAE, outdir=str(outdir), **overrides), device_type="cpu")


@pytest.fixture
def tiny_swapae_options() -> Callable[..., SwapAEOptions]:
    """`make(outdir, **overrides)`: options of a tiny 16 px run (8 images a step, a tick and snapshot every 4 steps)."""
    return make_tiny_options


@pytest.fixture(scope="session")
def swapae_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny run shared by the tests: 16 steps (0.128 kimg), snapshots and grids after every 4."""
    from stylegan2.swapae.training import train_swapae

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        options = make_tiny_options(tmp_path_factory.mktemp("swapae-runs"), kimg=0.128)
        lines: list[str] = []
        run_dir = train_swapae(options, device="cpu", log=lines.append)
    finally:
        torch.set_num_threads(threads)
    (run_dir / "console.txt").write_text("\n".join(lines))
    return run_dir


@pytest.fixture(scope="session")
def swapae_snapshot(swapae_run: Path) -> Path:
    """The final snapshot of the shared tiny run."""
    return swapae_run / "network-snapshot-000000-128.safetensors"
