"""Our checkpoint format: safetensors tensors + JSON metadata (constructor arguments, training state).

Tensors are named `<network>.<state_dict key>` (e.g. `G_ema.mapping.fc0.weight`); other tensors
(optimizer moments, RNG state) sit under other prefixes. The safetensors header's metadata key
`stylegan2` holds one JSON document:
`{"format_version": 1, "networks": {"G": {"class": "Generator", "init_kwargs": {...}}, ...},
  "training_state": {...}, "notes": [...], "source": {...}}`. A Generator's entry also holds `"label_kind"`
("classes" or "vectors") where its labels are known, so that a copy of the networks alone keeps it.
Loading reads numbers only: no pickle, nothing executed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as serialize_safetensors
from torch import nn

from ..models import Generator
from ..models.generator import LABEL_KINDS
from ..utils.files import atomic_path, remove_stale_temps, writing
from .checkpoint import NETWORK_CLASSES, Checkpoint, build_network
from .errors import CheckpointError, one_line
from .validate import check_plain

METADATA_KEY = "stylegan2"
FORMAT_VERSION = 1
MAX_HEADER_BYTES = 64 * 2**20  # the safetensors JSON header (tensor table + our metadata)
MAX_METADATA_DEPTH = 32  # dicts and lists inside our JSON document
MAX_METADATA_VALUES = 1_000_000
MAX_NETWORKS = 16


def check_destination(path: Path) -> None:
    """Refuse, before any work, a checkpoint path that cannot be written: a folder, or in a folder that is missing
    or not writable (the error would otherwise name the temporary written beside it)."""
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a directory; give a file name such as {path / 'network.safetensors'}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path}: directory {path.parent} does not exist; create it first")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise PermissionError(f"{path}: cannot write in {path.parent} (no write permission, or a read-only file "
                              "system); choose another folder")


FOREIGN_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".ckpt")  # other formats' names: refused for our files


def save_checkpoint(
    path: str | Path,
    networks: Mapping[str, nn.Module],
    *,
    extra_tensors: Mapping[str, torch.Tensor] | None = None,
    training_state: Mapping[str, Any] | None = None,
    notes: Sequence[str] = (),
    source: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write networks (+ extra tensors and JSON training state) to `path` atomically; returns the path.

    The file appears complete or not at all: it is written beside the target, fsynced, then renamed.
    An existing file is replaced only with `overwrite=True` (else FileExistsError), as the tools' `force`.
    """
    path = Path(path).expanduser()
    if path.suffix.lower() in FOREIGN_SUFFIXES:  # the name would promise a file NVIDIA's or rosinality's code reads
        raise ValueError(f"{path}: this writes our .safetensors format, which NVIDIA's and rosinality's code cannot "
                         f"read; name the file {path.with_suffix('.safetensors').name}")
    check_destination(path)
    remove_stale_temps(path.parent, legacy_names={path.name})  # left by a write that was killed (a conversion, a snapshot)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: already exists; pass overwrite=True to replace it")
    if not isinstance(networks, Mapping) or not all(isinstance(name, str) for name in networks):
        raise TypeError(f"networks must be a dict of names and modules such as {{'G_ema': G}}, got {type(networks).__name__}")
    if isinstance(notes, str):
        raise TypeError("notes must be a list of strings, not one string")
    tensors: dict[str, torch.Tensor] = {}
    specs: dict[str, dict[str, Any]] = {}
    for name, module in networks.items():
        specs[name] = _network_spec(name, module)
        for key, value in module.state_dict().items():
            tensors[f"{name}.{key}"] = value
    for key, value in (extra_tensors or {}).items():
        owner = key.split(".", 1)[0]
        if owner in networks or key in tensors:
            raise ValueError(f"extra tensor {key!r} collides with network {owner!r}; use another prefix (e.g. 'optim.')")
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"extra tensor {key!r} is a {type(value).__name__}, not a torch.Tensor")
        tensors[key] = value
    meta = {
        "format_version": FORMAT_VERSION,
        "networks": specs,
        "training_state": dict(training_state or {}),
        "notes": list(notes),
        "source": dict(source or {}),
    }
    try:
        header = json.dumps(meta, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: checkpoint metadata must be plain JSON (dicts, lists, str, finite numbers): {exc}") from None
    write_safetensors(path, _unshared(tensors), {METADATA_KEY: header}, replace=overwrite)
    return path


def write_safetensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str], *,
                      replace: bool = True) -> None:
    """Write tensors and metadata as a safetensors file, atomically through our own temporary. Not safetensors'
    save_file: it writes a temporary of its own beside the target (`.tmpXXXXXX`), which a killed process leaves
    behind under a name no sweep knows; the bytes cost one more copy of the tensors in memory while they are written."""
    try:
        data = serialize_safetensors(tensors, metadata=metadata)
    except SafetensorError as exc:
        raise OSError(f"could not write {path}: {exc}") from None
    with writing(path), atomic_path(path, replace=replace) as tmp:  # an OSError names `path`, not our temporary
        tmp.write_bytes(data)


def save_network(path: str | Path, networks: Mapping[str, nn.Module], *, overwrite: bool = False) -> Path:
    """Write just the networks (e.g. {'G_ema': G}) in our format; an existing file only with `overwrite=True`."""
    return save_checkpoint(path, networks, overwrite=overwrite)


def read_native(path: Path) -> Checkpoint:
    """Rebuild the networks of one of our checkpoints and return everything it holds."""
    _check_header_size(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            raw = (f.metadata() or {}).get(METADATA_KEY)
            if raw is None:
                raise CheckpointError(
                    f"{path}: a safetensors file without '{METADATA_KEY}' metadata, so not a stylegan2 checkpoint "
                    "(we need the constructor arguments stored with the weights)"
                )
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001 -- safetensors reports bad files with its own error type
        raise CheckpointError(f"{path}: truncated or corrupt safetensors file ({exc})") from None
    meta = _parse_metadata(raw, path)

    networks = {}
    for name, spec in meta["networks"].items():
        prefix = f"{name}."
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        networks[name] = build_network(spec["class"], spec["init_kwargs"], state, f"{path} [{name}]")
    extra = {k: v for k, v in tensors.items() if k.split(".", 1)[0] not in networks}
    training_state = meta.get("training_state") or {}
    for name, net in networks.items():
        if isinstance(net, Generator):  # files written before the network entry held it record the run's labels only
            net.label_kind = meta["networks"][name].get("label_kind") or _run_label_kind(training_state)
    return Checkpoint(
        format="stylegan2",
        networks=networks,
        extra_tensors=extra,
        training_state=training_state,
        notes=meta.get("notes") or [],
        source=meta.get("source") or {},
    )


def read_training_state(path: str | Path) -> dict[str, Any]:
    """The training_state of one of our checkpoints from its header alone, no tensor read: what a run's snapshot
    records of the run (its options) where the run directory's own record cannot be read."""
    path = Path(path)
    _check_header_size(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            raw = (f.metadata() or {}).get(METADATA_KEY)
    except Exception as exc:  # noqa: BLE001 -- safetensors reports bad files with its own error type
        raise CheckpointError(f"{path}: truncated or corrupt safetensors file ({exc})") from None
    if raw is None:
        raise CheckpointError(f"{path}: a safetensors file without '{METADATA_KEY}' metadata, so not a stylegan2 checkpoint")
    return _parse_metadata(raw, path).get("training_state") or {}


def _run_label_kind(training_state: Mapping[str, Any]) -> str | None:
    """What a training snapshot's run trained on ("classes" or "vectors"), as its training state records it."""
    kind = training_state.get("labels")
    return kind if kind in LABEL_KINDS else None


def _check_header_size(path: Path) -> None:
    """Refuse a safetensors header that claims more than MAX_HEADER_BYTES, before anything parses it."""
    with open(path, "rb") as f:
        head = f.read(8)
    if len(head) < 8:
        raise CheckpointError(f"{path}: truncated safetensors file (no header)")
    size = int.from_bytes(head, "little")
    if size > MAX_HEADER_BYTES:
        raise CheckpointError(
            f"{path}: the safetensors header claims {size:,} bytes (limit {MAX_HEADER_BYTES:,}); not a checkpoint we wrote"
        )


def _network_spec(name: str, module: nn.Module) -> dict[str, Any]:
    """The JSON that rebuilds `module`: its class name and constructor keyword arguments."""
    class_name = type(module).__name__
    if not name or "." in name:
        raise ValueError(f"network name {name!r} must be non-empty and contain no '.'")
    if NETWORK_CLASSES.get(class_name) is not type(module) or not hasattr(module, "init_kwargs"):
        raise ValueError(f"network {name!r} is a {class_name}; only {sorted(NETWORK_CLASSES)} from stylegan2.models can be saved")
    spec: dict[str, Any] = {"class": class_name, "init_kwargs": module.init_kwargs}
    if isinstance(module, Generator) and module.label_kind is not None:  # describes the network, not its training
        spec["label_kind"] = module.label_kind
    return spec


def _unshared(tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Contiguous CPU copies where needed; tensors sharing memory get their own (safetensors forbids sharing)."""
    out: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for key, value in tensors.items():
        value = value.detach().cpu().contiguous()
        ptr = value.untyped_storage().data_ptr()
        if ptr in seen and value.numel() > 0:
            value = value.clone()
        seen.add(value.untyped_storage().data_ptr())
        out[key] = value
    return out


def _parse_metadata(raw: str, path: Path) -> dict[str, Any]:
    """Validate the JSON document of a checkpoint and return it."""
    try:
        meta = json.loads(raw)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(f"{path}: '{METADATA_KEY}' metadata is not valid JSON ({one_line(exc)})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("networks"), dict):
        raise CheckpointError(f"{path}: '{METADATA_KEY}' metadata lacks the 'networks' table")
    check_plain(meta, str(path), f"'{METADATA_KEY}' metadata", max_depth=MAX_METADATA_DEPTH, max_values=MAX_METADATA_VALUES,
                max_int=2**63 - 1)
    for key, kind in (("training_state", dict), ("notes", list), ("source", dict)):
        if not isinstance(meta.get(key) or kind(), kind):
            raise CheckpointError(f"{path}: '{METADATA_KEY}' metadata: {key!r} must be a {kind.__name__}")
    if not all(isinstance(note, str) for note in meta.get("notes") or ()):
        raise CheckpointError(f"{path}: '{METADATA_KEY}' metadata: 'notes' must be a list of strings")
    if len(meta["networks"]) > MAX_NETWORKS:
        raise CheckpointError(f"{path}: '{METADATA_KEY}' metadata lists {len(meta['networks'])} networks (limit {MAX_NETWORKS})")
    version = meta.get("format_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {version}; this stylegan2 reads version {FORMAT_VERSION} (upgrade stylegan2?)"
        )
    if version != FORMAT_VERSION:  # missing, not a number, or below the first version: the header was changed
        found = "has no format_version" if version is None else f"has format_version {str(version)[:40]!r}"
        raise CheckpointError(f"{path}: its '{METADATA_KEY}' metadata {found}, which no stylegan2 writes: the file is "
                              "damaged or not a stylegan2 checkpoint")
    for name, spec in meta["networks"].items():
        if not name or "." in name:
            raise CheckpointError(f"{path}: network name {name[:40]!r} must be non-empty and contain no '.'")
        if not isinstance(spec, dict) or not isinstance(spec.get("class"), str) or not isinstance(spec.get("init_kwargs"), dict):
            raise CheckpointError(f"{path}: network entry {name[:40]!r} needs 'class' and 'init_kwargs'")
        kind = spec.get("label_kind")
        if kind is not None and (spec["class"] != "Generator" or kind not in LABEL_KINDS):
            raise CheckpointError(f"{path}: network entry {name[:40]!r} has label_kind {str(kind)[:40]!r}; only a Generator "
                                  f"has one, {' or '.join(map(repr, LABEL_KINDS))}: the file is damaged")
    return meta
