"""StyleGAN2 in PyTorch: NVIDIA-faithful networks, safe checkpoints, training and tools."""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, Any

__version__ = "0.4.0"

__all__ = ["load_checkpoint", "load_network", "save_checkpoint", "save_network"]

if TYPE_CHECKING:
    from .io import load_checkpoint, load_network, save_checkpoint, save_network


def __getattr__(name: str) -> Any:
    """Load torch on first use, not on `import stylegan2`: the console command can then treat a Ctrl-C during
    its first seconds (loading torch) as it treats a later one."""
    if name in __all__:
        return getattr(importlib.import_module(".io", __name__), name)
    # `stylegan2.models` after `import stylegan2`; not `__main__`, whose import runs the command line and exits
    if name != "__main__" and name in {module.name for module in pkgutil.iter_modules(__path__)}:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
