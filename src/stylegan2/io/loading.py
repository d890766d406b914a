"""Load any supported network file: ours, NVIDIA StyleGAN2-ADA pickles, rosinality checkpoints."""

from __future__ import annotations

import os
from pathlib import Path

from torch import nn

from .checkpoint import Checkpoint
from .detect import detect_format
from .errors import CheckpointError, one_line
from .native import read_native
from .official import read_official_pickle
from .pretrained import network_file
from .rosinality import read_rosinality

_READERS = {"safetensors": read_native, "pickle": read_official_pickle, "torch": read_rosinality}


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a network file of any supported format (detected from its content) without running code from it.

    `path` may be an http(s) URL, as in NVIDIA's tools: the file is downloaded into the cache dir once.
    Every failure is a CheckpointError (or FileNotFoundError, or DownloadError) whose one-line message names the file;
    something other than a path or URL is a TypeError.
    """
    if not isinstance(path, (str, os.PathLike)):
        loaded = "; it is loaded already" if isinstance(path, nn.Module) else ""
        raise TypeError(f"expected a network file's path or URL (str or Path), got {type(path).__name__}{loaded}")
    path = network_file(path)
    try:
        return _READERS[detect_format(path)](path)
    except (CheckpointError, FileNotFoundError):
        raise
    except MemoryError:
        raise CheckpointError(f"{path}: ran out of memory while reading it") from None
    except Exception as exc:  # noqa: BLE001 -- the readers check what they can; nothing may escape as a traceback
        raise CheckpointError(f"{path}: cannot read this network file ({one_line(exc)})") from None


def load_network(path: str | Path) -> dict[str, nn.Module]:
    """{'G', 'D', 'G_ema'}: whichever networks the file holds, as our modules in eval mode on the CPU with
    requires_grad False, as NVIDIA's pickles hold them (call `.requires_grad_(True)` to train one)."""
    return load_checkpoint(path).networks
