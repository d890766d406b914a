"""Import NVIDIA's network pickles (.pkl) without running anything from them.

PyTorch pickles of StyleGAN2-ADA and of the stylegan3 repository's StyleGAN2 (`networks_stylegan2`,
whose constructors take the synthesis arguments flat and default to `conv_clamp=256`) are read
here; TensorFlow StyleGAN2 pickles are handed to `tf_official`.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import torch

from .checkpoint import NETWORK_CLASSES, NETWORK_NAMES, Checkpoint, build_network
from .errors import CheckpointError, UnsafeCheckpointError, one_line
from .pickle_scan import PickleRejected
from .safe_pickle import ForbiddenGlobal, PersistentObject, load_network_pickle
from .tf_official import is_tf_pickle, read_tf_networks
from .validate import plain_value

MAX_MODULE_DEPTH = 32  # submodules inside submodules; StyleGAN2 networks use a handful
GENERATOR_OWN_ARGUMENTS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs")
# Constructor arguments and source text found only in the stylegan3 repository's code.
STYLEGAN3_ARGUMENTS = {"num_critical", "first_cutoff", "first_stopband", "last_stopband_rel", "margin_size",
                       "output_scale", "conv_kernel", "filter_size", "lrelu_upsampling", "use_radial_filters",
                       "magnitude_ema_beta"}
STYLEGAN3_SOURCE = "class SynthesisInput("  # networks_stylegan3.py
STYLEGAN3_REPO_SOURCE = "fused_modconv_default"  # networks_stylegan2.py of the stylegan3 repository
STYLEGAN3_REPO_DEFAULTS = {"conv_clamp": 256, "w_avg_beta": 0.998}  # where it differs from StyleGAN2-ADA


def read_official_pickle(path: Path) -> Checkpoint:
    """Networks, training-set settings and ADA state of an official network pickle."""
    data = _unpickle(path)
    if is_tf_pickle(data):
        return read_tf_networks(data, path)
    if not isinstance(data, dict) or not any(isinstance(data.get(n), PersistentObject) for n in NETWORK_NAMES):
        found = _key_list(data) if isinstance(data, dict) else f"a {type(data).__name__}"
        raise CheckpointError(
            f"{path}: a pickle, but not a StyleGAN2-ADA network pickle (expected a dict with G, D and/or G_ema, or the "
            f"(G, D, Gs) tuple of a TensorFlow StyleGAN2 pickle; found {found})"
        )
    objects = {name: data[name] for name in NETWORK_NAMES if data.get(name) is not None}
    for name, obj in objects.items():
        if not isinstance(obj, PersistentObject):
            raise CheckpointError(f"{path}: entry {name!r} is not a network saved by NVIDIA's training code")
    stylegan3_repo = any(_from_stylegan3_repo(obj) for obj in objects.values())
    networks = {name: _build(obj, f"{path} [{name}]", stylegan3_repo) for name, obj in objects.items()}
    notes = []
    if stylegan3_repo:
        notes.append("networks from NVIDIA's stylegan3 repository (networks_stylegan2): its defaults "
                     f"{STYLEGAN3_REPO_DEFAULTS} apply where the pickle does not set them")

    source: dict[str, Any] = {}
    if isinstance(data.get("training_set_kwargs"), dict):
        source["training_set_kwargs"] = plain_value(data["training_set_kwargs"], f"{path} [training_set_kwargs]")
    pipe = data.get("augment_pipe")
    if isinstance(pipe, PersistentObject):
        source["augment_pipe"] = _augment_pipe_settings(pipe, f"{path} [augment_pipe]")
    return Checkpoint(format="official-pkl", networks=networks, notes=notes, source=source)


def _unpickle(path: Path) -> Any:
    """Run the allow-list unpickler, turning every failure into a message that names the file."""
    try:
        with open(path, "rb") as f:
            return load_network_pickle(f)
    except ForbiddenGlobal as exc:
        raise UnsafeCheckpointError(
            f"refusing to load {path.name}: it references {exc.qualified_name}, which is not a network tensor or "
            "setting (network pickles need only NVIDIA's persistence hook or TensorFlow Network class and "
            "rebuilders of tensors, NumPy arrays, dicts and numbers). Nothing from the file was run."
        ) from None
    except PickleRejected as exc:
        raise CheckpointError(f"{path}: truncated or corrupt network pickle, refused before unpickling ({exc})") from None
    except Exception as exc:  # noqa: BLE001 -- untrusted bytes can fail inside any stand-in
        raise CheckpointError(f"{path}: truncated or corrupt network pickle ({one_line(exc)})") from None


def _build(obj: PersistentObject, where: str, stylegan3_repo: bool = False) -> torch.nn.Module:
    """Our module for one pickled network: class by name, kwargs from `_init_args/_init_kwargs`, tensors."""
    if not isinstance(obj.class_name, str) or not isinstance(obj.state, dict):
        raise CheckpointError(f"{where}: malformed persistent object (class_name or state changed after it was built)")
    if obj.class_name not in NETWORK_CLASSES:
        raise CheckpointError(f"{where}: holds a {obj.class_name[:80]!r}, which is not one of {sorted(NETWORK_CLASSES)}")
    kwargs = _init_kwargs(obj, NETWORK_CLASSES[obj.class_name], where)
    if STYLEGAN3_SOURCE in obj.module_src or STYLEGAN3_ARGUMENTS & set(kwargs):
        raise CheckpointError(
            f"{where}: a StyleGAN3 (alias-free, networks_stylegan3) {obj.class_name}; only StyleGAN2 networks are supported"
        )
    if stylegan3_repo:
        kwargs = _stylegan2_ada_arguments(obj.class_name, kwargs)
    tensors: dict[str, torch.Tensor] = {}
    _collect_tensors(obj, "", tensors, where)
    return build_network(obj.class_name, kwargs, tensors, where)


def _from_stylegan3_repo(obj: PersistentObject) -> bool:
    """Whether a network was pickled by the stylegan3 repository's code: by its source text, or by a
    Generator's flat synthesis arguments (that repository's signature) when the source was stripped."""
    if STYLEGAN3_REPO_SOURCE in obj.module_src:
        return True
    kwargs = obj.state.get("_init_kwargs") if isinstance(obj.state, dict) else None
    return (obj.class_name == "Generator" and isinstance(kwargs, dict)
            and any(k not in GENERATOR_OWN_ARGUMENTS and k != "synthesis_kwargs" for k in kwargs))


def _stylegan2_ada_arguments(class_name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Constructor arguments of the stylegan3 repository's StyleGAN2 networks in StyleGAN2-ADA's form (ours):
    the Generator's flat synthesis arguments gathered into `synthesis_kwargs`, that repository's defaults
    made explicit, and `fused_modconv_default` (a speed choice, same math) dropped."""
    kwargs = dict(kwargs)
    if class_name == "Discriminator":
        kwargs.setdefault("conv_clamp", STYLEGAN3_REPO_DEFAULTS["conv_clamp"])
    if class_name != "Generator":
        return kwargs
    synthesis = {k: kwargs.pop(k) for k in list(kwargs) if k not in GENERATOR_OWN_ARGUMENTS}
    synthesis.pop("fused_modconv_default", None)
    synthesis.setdefault("conv_clamp", STYLEGAN3_REPO_DEFAULTS["conv_clamp"])
    mapping = kwargs.get("mapping_kwargs") if isinstance(kwargs.get("mapping_kwargs"), dict) else {}
    kwargs["mapping_kwargs"] = {"w_avg_beta": STYLEGAN3_REPO_DEFAULTS["w_avg_beta"], **mapping}
    kwargs["synthesis_kwargs"] = synthesis
    return kwargs


def _init_kwargs(obj: PersistentObject, cls: type, where: str) -> dict[str, Any]:
    """The constructor's keyword arguments, with positional `_init_args` named after the signature."""
    args = obj.state.get("_init_args", ())
    kwargs = plain_value(obj.state.get("_init_kwargs", {}), where)
    if not isinstance(kwargs, dict):
        raise CheckpointError(f"{where}: _init_kwargs is a {type(kwargs).__name__}, not a dict")
    names = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    if not isinstance(args, (tuple, list)) or len(args) > len(names):
        shown = f"{len(args)} values" if isinstance(args, (tuple, list)) else f"a {type(args).__name__}"
        raise CheckpointError(f"{where}: malformed positional constructor arguments ({shown} for {len(names)} parameters)")
    for name, value in zip(names, args):
        if name in kwargs:
            raise CheckpointError(f"{where}: constructor argument {name!r} given both by position and by name")
        kwargs[name] = plain_value(value, where)
    return kwargs


def _collect_tensors(obj: PersistentObject, prefix: str, out: dict[str, torch.Tensor], where: str, depth: int = 0) -> None:
    """Flatten parameters and persistent buffers of a pickled module tree into state_dict names."""
    if depth > MAX_MODULE_DEPTH:
        raise CheckpointError(f"{where}: submodules are nested more than {MAX_MODULE_DEPTH} levels deep")
    state = obj.state
    if not isinstance(state, dict):
        raise CheckpointError(f"{where}: submodule {prefix or 'state'} is malformed")
    parameters, buffers, modules = (_table(state, key, where) for key in ("_parameters", "_buffers", "_modules"))
    skip = state.get("_non_persistent_buffers_set") or set()
    if not isinstance(skip, (set, list, tuple)) or not all(isinstance(k, str) for k in skip):
        raise CheckpointError(f"{where}: malformed _non_persistent_buffers_set")
    tensors = {**parameters, **{k: v for k, v in buffers.items() if k not in skip}}
    for name, value in tensors.items():
        if value is None:
            continue
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{where}: {prefix}{name} is not a tensor")
        out[prefix + name] = value
    for name, child in modules.items():
        if child is None:
            continue
        if not isinstance(child, PersistentObject):
            raise CheckpointError(f"{where}: submodule {prefix}{name} was not saved by NVIDIA's persistence code")
        _collect_tensors(child, f"{prefix}{name}.", out, where, depth + 1)


def _table(state: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    """A module's `_parameters`, `_buffers` or `_modules`: a dict with string keys (None counts as empty)."""
    table = state.get(key) or {}
    if not isinstance(table, dict) or not all(isinstance(k, str) for k in table):
        raise CheckpointError(f"{where}: malformed {key} table")
    return table


def _key_list(data: dict) -> str:
    """A few of a dict's keys for a message."""
    keys = [repr(k)[:40] for k in list(data)[:10]]
    return "keys " + ", ".join(keys) + (" ..." if len(data) > 10 else "") if keys else "an empty dict"


def _augment_pipe_settings(pipe: PersistentObject, where: str) -> dict[str, Any]:
    """ADA pipeline arguments and its current probability `p`, so training can resume from them."""
    if not isinstance(pipe.class_name, str) or not isinstance(pipe.state, dict):
        raise CheckpointError(f"{where}: malformed persistent object")
    p = _table(pipe.state, "_buffers", where).get("p")
    return {
        "class_name": pipe.class_name,
        "init_kwargs": plain_value(pipe.state.get("_init_kwargs", {}), where),
        "p": float(p) if isinstance(p, torch.Tensor) and p.numel() == 1 and bool(torch.isfinite(p).all()) else None,
    }
