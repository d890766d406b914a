"""NVIDIA's metric networks (TorchScript `inception-2015-12-05.pt` and `vgg16.pt`) converted once into
safetensors files that load into our PyTorch modules without running code from the file.

A conversion copies the tensors by name into FIDInceptionV3 or VGG16LPIPS and then checks that the
converted network reproduces the TorchScript's outputs on test images; a file that differs is
refused rather than converted into a network with other features. The layer names of NVIDIA's
Inception are those of its TensorFlow graph (`layers.mixed_4.tower_1.conv_2`, each convolution with
`weight`, `beta`, `mean`, `var` and a scale-free batch norm).
"""

from __future__ import annotations

import os
import pickletools
import warnings
import zipfile
from pathlib import Path

import safetensors.torch
import torch
from safetensors import safe_open
from torch import nn

from ..io.native import write_safetensors
from ..utils.files import remove_stale_temps
from .inception import FIDInceptionV3, preprocess_uint8
from .vgg16 import CONVS_PER_BLOCK, VGG16LPIPS

INCEPTION = "fid-inception"
VGG16 = "vgg16-lpips"
FORMAT = "stylegan2-metric-network"
# Largest difference allowed between the TorchScript's outputs and the converted network's, relative
# to the largest output; both compute the same float32 operations, possibly in another order.
MAX_RELATIVE_DIFF = 1e-4
# Attribute names in the pickled module tree of NVIDIA's TorchScript files (as `network_kind` names their tensors),
# and the largest such pickle read to find them (theirs are a few kB: the tensors are stored beside it).
_NVIDIA_LAYER_NAMES = ({"layers", "mixed_10", "output"}, {"layers", "conv13", "lpips0", "fc3"})
MAX_SCRIPT_PICKLE_BYTES = 16 * 2**20

# NVIDIA's Inception: its stem convolutions and mixed blocks, by our (pytorch-fid's) names.
_STEM = {"conv": "Conv2d_1a_3x3", "conv_1": "Conv2d_2a_3x3", "conv_2": "Conv2d_2b_3x3", "conv_3": "Conv2d_3b_1x1",
         "conv_4": "Conv2d_4a_3x3"}
_BLOCK_A = {"conv": "branch1x1", "tower.conv": "branch5x5_1", "tower.conv_1": "branch5x5_2", "tower_1.conv": "branch3x3dbl_1",
            "tower_1.conv_1": "branch3x3dbl_2", "tower_1.conv_2": "branch3x3dbl_3", "tower_2.conv": "branch_pool"}
_BLOCK_B = {"conv": "branch3x3", "tower.conv": "branch3x3dbl_1", "tower.conv_1": "branch3x3dbl_2",
            "tower.conv_2": "branch3x3dbl_3"}
_BLOCK_C = {"conv": "branch1x1", "tower.conv": "branch7x7_1", "tower.conv_1": "branch7x7_2", "tower.conv_2": "branch7x7_3",
            **{f"tower_1.conv{'_' + str(i) if i else ''}": f"branch7x7dbl_{i + 1}" for i in range(5)},
            "tower_2.conv": "branch_pool"}
_BLOCK_D = {"tower.conv": "branch3x3_1", "tower.conv_1": "branch3x3_2",
            **{f"tower_1.conv{'_' + str(i) if i else ''}": f"branch7x7x3_{i + 1}" for i in range(4)}}
_BLOCK_E = {"conv": "branch1x1", "tower_conv": "branch3x3_1", "tower_mixed_conv": "branch3x3_2a",
            "tower_mixed_conv_1": "branch3x3_2b", "tower_1_conv": "branch3x3dbl_1", "tower_1_conv_1": "branch3x3dbl_2",
            "tower_1_mixed_conv": "branch3x3dbl_3a", "tower_1_mixed_conv_1": "branch3x3dbl_3b", "tower_2_conv": "branch_pool"}
_MIXED = {"mixed": ("Mixed_5b", _BLOCK_A), "mixed_1": ("Mixed_5c", _BLOCK_A), "mixed_2": ("Mixed_5d", _BLOCK_A),
          "mixed_3": ("Mixed_6a", _BLOCK_B), "mixed_4": ("Mixed_6b", _BLOCK_C), "mixed_5": ("Mixed_6c", _BLOCK_C),
          "mixed_6": ("Mixed_6d", _BLOCK_C), "mixed_7": ("Mixed_6e", _BLOCK_C), "mixed_8": ("Mixed_7a", _BLOCK_D),
          "mixed_9": ("Mixed_7b", _BLOCK_E), "mixed_10": ("Mixed_7c", _BLOCK_E)}


def inception_conv_names() -> dict[str, str]:
    """NVIDIA's name of each Inception convolution (under `layers.`) -> ours (a BasicConv2d of FIDInceptionV3)."""
    names = {f"layers.{theirs}": ours for theirs, ours in _STEM.items()}
    for block, (ours_block, branches) in _MIXED.items():
        names.update({f"layers.{block}.{theirs}": f"{ours_block}.{ours}" for theirs, ours in branches.items()})
    return names


def network_kind(tensors: dict[str, torch.Tensor]) -> str | None:
    """INCEPTION or VGG16 for the tensors of NVIDIA's metric files, else None."""
    if "output.weight" in tensors and "layers.mixed_10.conv.weight" in tensors:
        return INCEPTION
    if "lpips0" in tensors and "layers.conv13.weight" in tensors:
        return VGG16
    return None


def inception_state_dict(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """NVIDIA's Inception tensors as a FIDInceptionV3 (pytorch-fid layout) state dict; their batch norms have no scale."""
    state = {"fc.weight": tensors["output.weight"], "fc.bias": tensors["output.bias"]}
    for theirs, ours in inception_conv_names().items():
        state[f"{ours}.conv.weight"] = tensors[f"{theirs}.weight"]
        state[f"{ours}.bn.weight"] = torch.ones_like(tensors[f"{theirs}.beta"])
        state[f"{ours}.bn.bias"] = tensors[f"{theirs}.beta"]
        state[f"{ours}.bn.running_mean"] = tensors[f"{theirs}.mean"]
        state[f"{ours}.bn.running_var"] = tensors[f"{theirs}.var"]
    return {key: value.detach().to(torch.float32).contiguous() for key, value in state.items()}


def vgg16_sizes(tensors: dict[str, torch.Tensor], source: str) -> tuple[tuple[int, ...], int, int]:
    """(channels of each block, feature size, classes) of VGG16 weights named as NVIDIA's (VGG16LPIPS's arguments)."""
    try:
        channels = tuple(int(tensors[f"lpips{i}"].shape[0]) for i in range(len(CONVS_PER_BLOCK)))
        return channels, int(tensors["layers.fc1.weight"].shape[0]), int(tensors["layers.fc3.weight"].shape[0])
    except (KeyError, IndexError):
        raise ValueError(f"{source}: not NVIDIA's {VGG16} network (its lpips0..4 and layers.fc1/fc3 tensors are "
                         "missing or malformed)") from None


def build_network(kind: str, state_dict: dict[str, torch.Tensor], source: str) -> nn.Module:
    """FIDInceptionV3 or VGG16LPIPS holding `state_dict` (exactly its keys and shapes), in eval mode."""
    net = FIDInceptionV3() if kind == INCEPTION else VGG16LPIPS(*vgg16_sizes(state_dict, source))
    expected = {k for k in net.state_dict() if not k.endswith("num_batches_tracked")}
    if set(state_dict) != expected:
        missing, unexpected = sorted(expected - set(state_dict)), sorted(set(state_dict) - expected)
        raise ValueError(f"{source}: not NVIDIA's {kind} network ({len(missing)} tensors missing, e.g. {missing[:2]}; "
                         f"{len(unexpected)} unexpected, e.g. {unexpected[:2]})")
    try:
        net.load_state_dict(state_dict, strict=False)
    except RuntimeError as err:
        raise ValueError(f"{source}: tensor shapes differ from NVIDIA's {kind} network ({err})") from None
    return net.eval().requires_grad_(False)


def test_images(kind: str) -> list[torch.Tensor]:
    """Fixed uint8 images the converted network must answer as the TorchScript does: one that is resized
    and one at the network's own size."""
    gen = torch.Generator().manual_seed(0)
    sizes = (64, 299) if kind == INCEPTION else (64, 224)
    return [torch.randint(0, 256, (1, 3, size, size), generator=gen, dtype=torch.uint8) for size in sizes]


def check_same_outputs(kind: str, script: nn.Module, net: nn.Module, source: str) -> None:
    """Refuse a conversion whose network answers differently from the TorchScript it came from."""
    calls = ([dict(return_features=True), dict()] if kind == INCEPTION else
             [dict(return_features=True), dict(resize_images=False, return_lpips=True)])
    with torch.no_grad():
        for images in test_images(kind):
            for kwargs in calls:
                expected = script(images, **kwargs)
                got = net(images, **kwargs)
                scale = float(expected.abs().max()) or 1.0
                diff = float((expected - got).abs().max()) / scale
                if expected.shape != got.shape or not diff <= MAX_RELATIVE_DIFF:
                    raise ValueError(f"{source}: the converted {kind} network does not reproduce the file's outputs "
                                     f"({kwargs or 'default call'}: relative difference {diff:.2g}); keep using the "
                                     "file as it is and report this")


class InceptionCalledLikeNvidia(nn.Module):
    """FIDInceptionV3 called as NVIDIA's Inception is: uint8 images in; 2048-d features, or class probabilities."""

    def __init__(self, net: FIDInceptionV3) -> None:
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        features = self.net.features(preprocess_uint8(images))
        return features if return_features else self.net.fc(features).softmax(dim=1)


def jit_load(path: str | os.PathLike) -> torch.jit.ScriptModule:
    """torch.jit.load without torch's deprecation warning: NVIDIA ships its metric networks as TorchScript, so the
    warning would reach users as if they had chosen the format."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"`torch\.jit\.load` is deprecated", DeprecationWarning)
        return torch.jit.load(str(path), map_location="cpu")


def convert_script_module(script: torch.jit.ScriptModule, source: str) -> tuple[str, dict[str, torch.Tensor], nn.Module]:
    """(kind, our state dict, our network) for NVIDIA's loaded TorchScript, checked to answer as it does."""
    tensors = dict(script.state_dict())
    kind = network_kind(tensors)
    if kind is None:
        raise ValueError(f"{source}: not NVIDIA's inception-2015-12-05.pt or vgg16.pt (no tensors named as theirs)")
    state = (inception_state_dict(tensors) if kind == INCEPTION else  # VGG16: its weights, not its constants
             {key: value.detach().to(torch.float32).contiguous() for key, value in tensors.items()
              if key.startswith(("layers.", "lpips"))})
    net = build_network(kind, state, source)
    check_same_outputs(kind, script.eval(), InceptionCalledLikeNvidia(net) if kind == INCEPTION else net, source)
    return kind, state, net


def save_converted(state: dict[str, torch.Tensor], kind: str, source_name: str, destination: str | os.PathLike) -> None:
    """Write a converted network as safetensors (tensors and metadata only), replacing `destination` whole, through a
    temporary of its own (commands converting at once never share one); stale temporaries beside it are removed."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(destination.parent, legacy_names={destination.name})
    write_safetensors(destination, state, {"format": FORMAT, "network": kind, "source": source_name})


def names_nvidia_layers(path: str | os.PathLike) -> bool:
    """Whether a TorchScript archive's module tree names the layers of NVIDIA's Inception or VGG16, read from its
    pickled attribute names without loading it (loading runs its code): any other program is not converted."""
    try:
        with zipfile.ZipFile(path) as archive:
            entry = next((info for info in archive.infolist() if info.filename.endswith("/data.pkl")), None)
            if entry is None or entry.file_size > MAX_SCRIPT_PICKLE_BYTES:
                return False
            names = {arg for _, arg, _ in pickletools.genops(archive.read(entry)) if isinstance(arg, str)}
    except (OSError, ValueError, zipfile.BadZipFile):  # pickletools raises ValueError on a malformed stream
        return False
    return any(required <= names for required in _NVIDIA_LAYER_NAMES)


def convert_torchscript(source: str | os.PathLike, destination: str | os.PathLike) -> str:
    """Convert NVIDIA's inception-2015-12-05.pt or vgg16.pt into a safetensors file; returns the network kind.

    Loading the TorchScript runs code from it (once, here), so only a program whose layers are named as NVIDIA's is
    loaded: convert only files from NVIDIA or another source you trust.
    """
    source = Path(source)
    if not names_nvidia_layers(source):
        raise ValueError(f"{source}: a TorchScript program, but not NVIDIA's inception-2015-12-05.pt or vgg16.pt (no "
                         "layers named as theirs), so it is not loaded: loading TorchScript runs its code. A generator "
                         "exported with `stylegan2 export` cannot be converted back; convert the network file it was "
                         "exported from")
    kind, state, _ = convert_script_module(jit_load(source), str(source))
    save_converted(state, kind, source.name, destination)
    return kind


def read_converted(path: str | os.PathLike) -> tuple[str, nn.Module] | None:
    """(kind, network) of a file `convert_torchscript` wrote; None for any other safetensors file."""
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() or {}
    if metadata.get("format") != FORMAT or metadata.get("network") not in (INCEPTION, VGG16):
        return None
    kind = metadata["network"]
    return kind, build_network(kind, safetensors.torch.load_file(str(path)), str(path))
