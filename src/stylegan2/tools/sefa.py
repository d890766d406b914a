"""Closed-form factorization (SeFa, Shen & Zhou 2021): latent directions from the style modulation weights.

Each synthesis layer turns w into styles with an affine map A (styles = A w + b). A direction n moves
the styles by A n, so the directions that change the styles most are the top eigenvectors of
A^T A, with A stacked over the chosen layers (each row normalized, as the SeFa code does). No
sampling or training is involved.
"""

from __future__ import annotations

import hashlib
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..models import Generator
from ..nn.layers import FullyConnectedLayer
from ..utils.notes import warn
from ..utils.text import number_ranges
from .common import ToolError, ToolOptionError, parse_int_list
from .files import read_npz, save_npz

LAYER_PRESETS = ("all", "coarse", "middle", "fine")


@dataclass(frozen=True)
class ModulationLayer:
    """One affine (w -> styles) layer of the synthesis network and the ws index it reads."""

    name: str  # e.g. 'b8.conv0.affine'
    ws_index: int
    affine: FullyConnectedLayer


@dataclass(frozen=True)
class Directions:
    """Unit directions in W, strongest first, and the ws indices (layers) they act on."""

    directions: np.ndarray  # [k, w_dim], orthonormal rows
    eigenvalues: np.ndarray  # [k], descending
    layers: list[int]  # ws indices that a move changes
    layer_names: list[str]  # the affine layers factorized
    network: str | None = None  # the name of the network file they were computed from, when known
    fingerprint: str | None = None  # style_fingerprint of those layers (None in files from before it was recorded)

    def check(self, index: int, num_ws: int, w_dim: int) -> None:
        """Fail clearly if direction `index` does not exist or the file belongs to another network shape."""
        if not 0 <= index < len(self.directions):
            raise ToolError(f"--index {index} is out of range: the directions file has {len(self.directions)} "
                            f"directions (0..{len(self.directions) - 1})")
        if self.directions.shape[1] != w_dim or max(self.layers) >= num_ws:
            raise ToolError(f"the directions were computed for w_dim {self.directions.shape[1]} and at least "
                            f"{max(self.layers) + 1} ws, but this network has w_dim {w_dim} and {num_ws} ws")

    def check_network(self, G: Generator, network: str | None, file: str | os.PathLike, option: str) -> None:
        """A note where the directions were computed from other style weights than G's (another run's snapshot of
        the same name, a fine-tune): they still move G's ws, which can be meant (a base network's directions on its
        fine-tune), but not as that network's view of G would. A file without a fingerprint (from an older version)
        cannot be checked: a note says so, with the command that remakes it for `network` (None: a Generator object,
        whose directions `find_directions` makes)."""
        if self.fingerprint is None:
            remake = self.remake_command(network, file) if network is not None else "find_directions(G, ...)"
            network = network if network is not None else "this Generator"
            warn(f"{file}: records no network (written by an older stylegan2), so it cannot be checked against "
                 f"{network} ({option}); to use {network}'s own directions, remake it: {remake}")
            return
        network = network if network is not None else "this Generator"
        ours = style_fingerprint(G, self.layer_names)
        if ours == self.fingerprint:
            return
        theirs = f"{self.network or 'another network'} (style weights {self.fingerprint[:8]})"
        mine = f"style weights {ours[:8]}" if ours else f"no layers {', '.join(self.layer_names)}"
        warn(f"{file}: its directions were computed from {theirs}, not from {network} ({mine}) ({option}); they "
             f"move {network} along the other network's directions (its own: `stylegan2 directions`)")

    def remake_command(self, network: str, file: str | os.PathLike) -> str:
        """`stylegan2 directions` for `network` over this file's layers, into a folder named after the network beside
        `file` (the file itself is left alone: `directions` would refuse to overwrite it)."""
        outdir = Path(file).parent / Path(network).stem
        return (f"stylegan2 directions --network {shlex.quote(network)} --layers {number_ranges(self.layers)} "
                f"--outdir {shlex.quote(str(outdir))}")

    def move(self, ws: torch.Tensor, index: int, strength: float) -> torch.Tensor:
        """ws [N, num_ws, w_dim] moved by `strength` along direction `index` on this file's layers."""
        self.check(index, ws.shape[1], ws.shape[2])
        step = torch.as_tensor(self.directions[index], dtype=ws.dtype, device=ws.device) * float(strength)
        moved = ws.clone()
        moved[:, self.layers] += step
        return moved


def modulation_layers(G: Generator) -> list[ModulationLayer]:
    """Every affine layer of G's synthesis network in order, with the index of the w it consumes."""
    layers = []
    w_idx = 0
    for res in G.synthesis.block_resolutions:
        block = getattr(G.synthesis, f"b{res}")
        convs = ["conv1"] if block.in_channels == 0 else ["conv0", "conv1"]
        for offset, conv in enumerate(convs):
            layers.append(ModulationLayer(f"b{res}.{conv}.affine", w_idx + offset, getattr(block, conv).affine))
        if block.num_torgb:
            layers.append(ModulationLayer(f"b{res}.torgb.affine", w_idx + block.num_conv, block.torgb.affine))
        w_idx += block.num_conv
    return layers


def style_fingerprint(G: Generator, layer_names: Sequence[str]) -> str | None:
    """sha256 (hex) of the named affine layers' weights, or None when G lacks one of them.

    SeFa directions are a function of exactly these weights, so the fingerprint matches the same weights in any file
    (moved, renamed, converted from a pickle) and no other network's; it hashes a few MB where hashing the whole
    checkpoint would read gigabytes, and a file's path or time would change with a copy.
    """
    affines = {m.name: m.affine for m in modulation_layers(G)}
    digest = hashlib.sha256()
    for name in layer_names:
        if name not in affines:
            return None
        weight = affines[name].weight.detach().to("cpu", torch.float32).contiguous()
        digest.update(f"{name}{tuple(weight.shape)}".encode())
        digest.update(weight.numpy().tobytes())
    return digest.hexdigest()


def _preset_indices(num_ws: int, preset: str) -> list[int]:
    """The ws indices a preset names on a network of `num_ws` ws (none where it is too small for it)."""
    # ws 0-3 drive the 4 and 8 px blocks, 4-7 the 16 and 32 px blocks (the paper's coarse/middle/fine).
    start, stop = {"all": (0, num_ws), "coarse": (0, 4), "middle": (4, 8), "fine": (8, num_ws)}[preset]
    return list(range(start, min(stop, num_ws)))


def layer_presets(G: Generator) -> dict[str, list[int]]:
    """The presets that select layers of G, with their ws indices (a 32 px network has no 'fine')."""
    return {name: indices for name in LAYER_PRESETS if (indices := _preset_indices(G.num_ws, name))}


def select_ws_indices(G: Generator, layers: str | list[int] = "all", option: str = "--layers") -> list[int]:
    """ws indices from 'all', 'coarse' (4-8 px), 'middle' (16-32 px), 'fine' (64 px up) or a list/'0-3'."""
    if isinstance(layers, str) and layers in LAYER_PRESETS:
        indices = _preset_indices(G.num_ws, layers)
        if not indices:
            raise ToolError(f"{option} {layers} selects no layers: this network has only {G.num_ws} ws (0..{G.num_ws - 1}); "
                            f"use {', '.join(layer_presets(G))} or ws indices")
        return indices
    indices = parse_int_list(layers, option, LAYER_PRESETS) if isinstance(layers, str) else [int(i) for i in layers]
    if not indices:
        raise ToolOptionError(f"{option}: no layers given; name ws indices such as 0-3, or one of {', '.join(LAYER_PRESETS)}")
    bad = [i for i in indices if not 0 <= i < G.num_ws]
    if bad:
        given = f"{layers} reaches {max(bad) if max(bad) >= G.num_ws else min(bad)}" if isinstance(layers, str) else str(bad[0])
        raise ToolError(f"{option}: {given}, out of range; this network has ws 0..{G.num_ws - 1}"
                        f" (or use {', '.join(layer_presets(G))})")
    return indices


def factorize(G: Generator, layers: str | list[int] = "all") -> Directions:
    """SeFa: eigenvectors of A^T A for the affine layers reading the chosen ws indices, largest first.

    As in the SeFa code, a ws index read by convolutions uses their affines; the last index, read
    only by the final toRGB, uses that toRGB's affine.
    """
    indices = select_ws_indices(G, layers)
    all_layers = modulation_layers(G)
    conv_indices = {m.ws_index for m in all_layers if ".conv" in m.name}
    chosen = [m for m in all_layers
              if m.ws_index in indices and (".conv" in m.name or m.ws_index not in conv_indices)]
    weight = torch.cat([m.affine.weight.detach().to("cpu", torch.float64) for m in chosen])  # [sum channels, w_dim]
    weight = weight / weight.norm(dim=1, keepdim=True)
    eigenvalues, eigenvectors = torch.linalg.eigh(weight.T @ weight)  # ascending; columns are eigenvectors
    order = torch.argsort(eigenvalues, descending=True)
    names = [m.name for m in chosen]
    return Directions(
        directions=eigenvectors[:, order].T.to(torch.float32).numpy(),  # [w_dim, w_dim]
        eigenvalues=eigenvalues[order].to(torch.float32).numpy(),
        layers=indices,
        layer_names=names,
        fingerprint=style_fingerprint(G, names),
    )


def directions_arrays(found: Directions) -> dict[str, np.ndarray]:
    """What a directions .npz holds: directions [k, w_dim], eigenvalues [k], layers (ws indices), layer_names, and
    the network file's name and the style weights' fingerprint when known (strings)."""
    arrays = {"directions": found.directions, "eigenvalues": found.eigenvalues,
              "layers": np.asarray(found.layers, dtype=np.int64), "layer_names": np.asarray(found.layer_names)}
    known = {"network": found.network, "fingerprint": found.fingerprint}
    return arrays | {key: np.asarray(value) for key, value in known.items() if value is not None}


def save_directions(path: str | os.PathLike, found: Directions, *, replace: bool = True) -> Path:
    """Write directions as .npz (`directions_arrays`), atomically; `replace` as save_npz's."""
    return save_npz(Path(path), replace=replace, **directions_arrays(found))


def load_directions(path: str | os.PathLike, option: str = "--direction") -> Directions:
    """Read a directions .npz written by `save_directions` (no pickled objects are loaded); errors name `option`."""
    path, data = read_npz(path, option, "directions",
                          ("directions", "eigenvalues", "layers", "layer_names", "network", "fingerprint"))
    missing = [k for k in ("directions", "eigenvalues", "layers") if k not in data]
    if missing:
        raise ToolError(f"{path}: not a directions file (missing {', '.join(missing)}; {option}); "
                        "create one with `stylegan2 directions`")
    if not np.isfinite(data["directions"]).all():  # would render black images without a word
        raise ToolError(f"{path}: its directions hold NaN or infinite values ({option}); create it again with "
                        "`stylegan2 directions`")
    bad = [k for k in ("network", "fingerprint") if k in data and (data[k].ndim or data[k].dtype.kind != "U")]
    if bad:
        raise ToolError(f"{path}: its {bad[0]} is not a string ({option}); create it again with `stylegan2 directions`")
    return Directions(
        directions=data["directions"].astype(np.float32),
        eigenvalues=data["eigenvalues"].astype(np.float32),
        layers=[int(i) for i in data["layers"]],
        layer_names=[str(n) for n in data.get("layer_names", [])],
        network=str(data["network"]) if "network" in data else None,
        fingerprint=str(data["fingerprint"]) if "fingerprint" in data else None,
    )
