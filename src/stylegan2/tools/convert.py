"""`stylegan2 convert` as a library function: a network file into our format, or NVIDIA's TorchScript metric networks
into safetensors."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..io import convert_checkpoint
from ..io.detect import is_torchscript_file
from ..io.info import check_convert_destination
from ..metrics.convert import convert_torchscript, names_nvidia_layers


@dataclass(frozen=True)
class Converted:
    """What `convert_network` wrote: its networks' names and the format it read ('torchscript' for NVIDIA's metric
    networks, whose one network is named by its kind: 'fid-inception' or 'vgg16-lpips'); as text, the line that
    `stylegan2 convert` prints."""

    networks: tuple[str, ...]
    format: str
    weights_only: bool = False

    def __str__(self) -> str:
        if self.format == "torchscript":
            return f"wrote NVIDIA's {self.networks[0]} network (converted from TorchScript)"
        return f"wrote {', '.join(self.networks)} (converted from {self.format}{'; the networks alone' * self.weights_only})"


def convert_network(src: str | os.PathLike, dst: str | os.PathLike, *, force: bool = False, weights_only: bool = False,
                    trust_torchscript: bool = False) -> Converted:
    """Convert SRC (any network file `load_checkpoint` reads, or NVIDIA's inception-2015-12-05.pt or vgg16.pt) to DST.

    TorchScript is loaded only with `trust_torchscript` (loading it runs the code stored in it), and only when it
    names NVIDIA's layers. Notes and NaN or Inf weights are warned (`convert_checkpoint`); `weights_only` drops a
    snapshot's training state.
    """
    if not is_torchscript_file(Path(src).expanduser()):
        ckpt = convert_checkpoint(src, dst, force=force, weights_only=weights_only)
        return Converted(tuple(ckpt.networks), ckpt.format, weights_only)
    check_convert_destination(src, dst, force=force)
    if not trust_torchscript and names_nvidia_layers(src):  # any other program is refused by the conversion itself
        raise ValueError(f"{src}: a TorchScript program, and loading TorchScript runs the code stored in it, so it is not "
                         "loaded; if it is NVIDIA's inception-2015-12-05.pt or vgg16.pt from nvlabs-fi-cdn.nvidia.com (or "
                         "another file you trust), pass --trust-torchscript")
    return Converted((convert_torchscript(src, dst),), "torchscript")
