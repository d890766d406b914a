"""Seeding torch's global random generators for a block, safely across threads."""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

import torch

# G's noise inputs (and a clustered G's labels) draw from torch's global generators, which every thread shares:
# blocks that seed them take turns, so that a web service rendering in threads gets each seed's own images.
GLOBAL_RNG_LOCK = threading.RLock()


@contextlib.contextmanager
def seeded_global_rng(device: torch.device, seed: int) -> Iterator[None]:
    """Seed the global generators that `device`'s draws come from, for the block only: the draws in it are the
    seed's wherever and whenever they are made, and the caller's random state is left as it was (on CPU and CUDA;
    an MPS generator is seeded, not restored). Blocks in other threads wait their turn (code drawing from the
    global generators outside such a block is not held back)."""
    cuda = [torch.cuda.current_device() if device.index is None else device.index] if device.type == "cuda" else []
    with GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=cuda):
        torch.random.default_generator.manual_seed(seed)
        for index in cuda:
            torch.cuda.default_generators[index].manual_seed(seed)
        if device.type == "mps":
            torch.mps.manual_seed(seed)
        yield
