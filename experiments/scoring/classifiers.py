"""The scoring classifiers are trained once per machine and cached: the same weights wherever they are trained."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, TypeVar

import torch
from safetensors.torch import load_file, save_file
from torch import nn

Net = TypeVar("Net", bound=nn.Module)


def cached_classifier(path: Path, build: Callable[[], Net], fit: Callable[[Net], None]) -> Net:
    """The classifier cached at `path`; else `build()` it from seed 0 (its initial weights too), `fit` it and cache it."""
    if path.exists():
        net = build()
        net.load_state_dict(load_file(str(path)))
        return net.eval()
    torch.manual_seed(0)
    net = build()
    fit(net)
    save_file(net.state_dict(), str(path))
    print(f"classifier cached at {path}")
    return net.eval()
