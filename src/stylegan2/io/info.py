"""`stylegan2 info` and `stylegan2 convert` as library functions: describe a file, convert it to ours."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..models import Discriminator, Generator, SwapEncoder
from ..utils.errors import OptionError
from ..utils.notes import warn
from ..utils.text import option_value
from .checkpoint import Checkpoint
from .loading import load_checkpoint
from .native import check_destination, save_checkpoint

FORMAT_NAMES = {
    "stylegan2": "our safetensors + JSON checkpoint",
    "official-pkl": "NVIDIA StyleGAN2-ADA network pickle",
    "tf-pkl": "NVIDIA TensorFlow StyleGAN2 network pickle",
    "rosinality": "rosinality stylegan2-pytorch checkpoint",
}


def checkpoint_info(path: str | Path) -> dict[str, Any]:
    """Format, networks, sizes, constructor arguments, parameter counts and notes of a network file (JSON-able)."""
    return describe_checkpoint(load_checkpoint(path), path)


def describe_checkpoint(ckpt: Checkpoint, path: str | Path) -> dict[str, Any]:
    """`checkpoint_info` for an already loaded checkpoint."""
    info: dict[str, Any] = {"path": str(path), "format": ckpt.format, "networks": {}}
    for name, net in ckpt.networks.items():
        info["networks"][name] = {
            "class": type(net).__name__,
            "parameters": sum(p.numel() for p in net.parameters()),
            "init_kwargs": net.init_kwargs,
        }
    info.update(_sizes(ckpt.networks))
    pipe = ckpt.augment_pipe
    if pipe is not None:
        info["augment_p"] = pipe.get("p")
    if ckpt.training_state:
        info["training_state_keys"] = sorted(ckpt.training_state)
        info.update(_training_run(ckpt.training_state, ckpt.source))
    if ckpt.extra_tensors:
        info["extra_tensors"] = len(ckpt.extra_tensors)
    info["notes"] = list(ckpt.notes)
    info["nonfinite_tensors"] = nonfinite_tensors(ckpt.networks)
    return info


def _training_run(state: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """What a `stylegan2 train` snapshot records of its run: the kimg it was taken at, ADA's p, the compute threads,
    the options typed (`given`, with their values) and all the options it trained with, and the command and software
    that wrote it; {} for what it lacks (another trainer's training state)."""
    run: dict[str, Any] = {}
    if isinstance(state.get("cur_nimg"), int):
        run["kimg"] = state["cur_nimg"] / 1000
    augment = state.get("augment")
    if isinstance(augment, dict) and "p" in augment:
        run["augment_p"] = augment["p"]
    if "threads" in state:
        run["threads"] = state["threads"]
    options = state.get("options")
    if isinstance(options, dict):
        given = options.get("given")  # None where the run did not record it (SwapAE runs before they did)
        run["given"] = {name: options[name] for name in given if name in options} if isinstance(given, list) else None
        run["options"] = options
    for key in ("command", "software"):
        if key in source:
            run[key] = source[key]
    return run


def _as_options(values: dict[str, Any]) -> str:
    """Options as a command line gives them: '--gamma 10 --mirror --metrics fid50k_full,kid50k_full'."""
    words = []
    for name, value in values.items():
        flag = f"--{name.replace('_', '-')}"
        if isinstance(value, bool):
            words.append(flag if value else f"--no-{name.replace('_', '-')}")
        elif isinstance(value, list):
            words.append(f"{flag} {','.join(map(str, value)) or 'none'}")
        elif value is None:
            words.append(f"{flag} none")
        else:
            words.append(f"{flag} {option_value(value)}")
    return " ".join(words)


def _as_pairs(values: dict[str, Any]) -> str:
    """Every option a run trained with as 'name=value' (as --json names them): many are not command-line flags
    (num_gpus, started_from), so they are not spelled as if they were. null, true and false as in --json."""
    def spelled(value: Any) -> str:
        if isinstance(value, list):
            return ",".join(map(spelled, value)) if value else "[]"
        if isinstance(value, float):
            return option_value(value)
        return json.dumps(value) if value is None or isinstance(value, bool) else str(value)
    return " ".join(f"{name}={spelled(value)}" for name, value in values.items())


def _brief(value: Any, longest: int = 8) -> Any:
    """`value` with its long lists of numbers (a clustered G's 100 cluster odds, c_prior) summed up in words: the
    text view stays a screen; --json keeps every value."""
    if isinstance(value, dict):
        return {key: _brief(item, longest) for key, item in value.items()}
    if isinstance(value, list) and len(value) > longest and all(isinstance(x, (int, float)) for x in value):
        return f"{len(value)} values, {min(value):.4g} to {max(value):.4g} (--json lists them)"
    return value


def format_info(info: dict[str, Any], verbose: bool = False) -> str:
    """Human-readable text for `checkpoint_info`'s result; `verbose` adds every option a training snapshot's run
    trained with (--json has them always)."""
    lines = [
        f"file:        {info['path']}",
        f"format:      {info['format']} ({FORMAT_NAMES[info['format']]})",
        f"networks:    {', '.join(info['networks']) or 'none'}",
    ]
    if "resolution" in info:
        lines.append(f"resolution:  {info['img_width']}x{info['img_height']}, {info['img_channels']} channels")
    if "z_dim" in info:
        lines.append(f"latents:     z_dim {info['z_dim']}, w_dim {info['w_dim']}, c_dim {info['c_dim']}, num_ws {info['num_ws']}")
    elif "c_dim" in info:
        lines.append(f"labels:      c_dim {info['c_dim']}")
    if "label_kind" in info:  # what the run trained on, where its snapshot records it
        lines.append(f"labels:      {_label_words(info)}")
    if "texture_code" in info:
        lines.append(f"codes:       structure {'x'.join(map(str, info['structure_code']))}, texture {info['texture_code']}")
    if "augment_p" in info:
        p = info["augment_p"]
        lines.append(f"augment p:   {f'{p:.6g}' if isinstance(p, float) else p}")  # float32's 0.3 is 0.30000001192...
    if "training_state_keys" in info:
        lines.append(f"training:    {', '.join(info['training_state_keys'])}")
    lines += _run_lines(info, verbose)
    if "extra_tensors" in info:
        lines.append(f"extra:       {info['extra_tensors']} tensors besides the networks")
    for name, net in info["networks"].items():
        lines.append(f"{name} ({net['class']}): {net['parameters']:,} parameters")
        lines.append(f"  arguments: {json.dumps(_brief(net['init_kwargs']), sort_keys=True)}")
    if info["notes"]:
        lines.append("notes:")
        lines.extend(f"  - {note}" for note in info["notes"])
    if info.get("nonfinite_tensors"):
        lines.append(f"warning:     {nonfinite_warning(info['nonfinite_tensors'])}")
    return "\n".join(lines)


def _run_lines(info: dict[str, Any], verbose: bool) -> list[str]:
    """`format_info`'s lines on a training snapshot's run (`_training_run`)."""
    lines = []
    if "kimg" in info:
        lines.append(f"kimg:        {info['kimg']:g}")
    if "threads" in info:
        lines.append(f"threads:     {info['threads']} compute thread(s) (an exact resume needs as many)")
    if info.get("given") is not None:
        lines.append(f"given:       {_as_options(info['given']) or 'none (the preset and defaults)'}")
    if verbose and "options" in info:
        options = {name: value for name, value in info["options"].items() if name not in ("given", "from_file")}
        lines.append(f"options:     {_as_pairs(options)}")
    if "command" in info:
        lines.append(f"command:     {info['command']}")
    software = info.get("software")
    if isinstance(software, dict):
        lines.append(f"software:    {', '.join(f'{name} {version}' for name, version in software.items())}")
    return lines


def nonfinite_summary(names: list[str]) -> str:
    """'N tensors hold NaN or Inf values (a, b, ...)' for `nonfinite_tensors`' names."""
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    counted = "1 tensor holds" if len(names) == 1 else f"{len(names)} tensors hold"
    return f"{counted} NaN or Inf values ({', '.join(names[:5])}{more})"


class NonFiniteWarning(UserWarning):
    """A loaded network holds NaN or Inf values (the message says which, and what that spoils)."""


def nonfinite_warning(names: list[str]) -> str:
    """One line about tensors holding NaN or Inf (`nonfinite_tensors`); the average w only spoils truncation."""
    if all(name.endswith(".w_avg") for name in names):
        return f"{nonfinite_summary(names)}; truncated images (truncation psi below 1) will be NaN"
    return f"{nonfinite_summary(names)}; the network will produce NaN images"


def check_convert_destination(src: str | Path, dst: str | Path, *, force: bool = False) -> None:
    """Refuse, before reading SRC, a DST that would not say what it holds or would replace SRC or another file."""
    src, dst = Path(src).expanduser(), Path(dst).expanduser()
    if dst.suffix.lower() != ".safetensors":  # a .pkl or .pt name would promise a file NVIDIA's or rosinality's code reads
        raise OptionError(f"{dst}: convert writes our .safetensors format, which NVIDIA's and rosinality's code cannot "
                          f"read; name the output {dst.with_suffix('.safetensors').name}")
    if dst.exists() and src.exists() and dst.samefile(src):
        raise ValueError(f"{dst}: the destination is the source; choose another DST")
    if dst.exists() and not force:
        raise FileExistsError(f"{dst}: already exists; pass --force to overwrite it")
    check_destination(dst)


def convert_checkpoint(src: str | Path, dst: str | Path, *, force: bool = False, weights_only: bool = False) -> Checkpoint:
    """Load any supported network file and write it in our format (refuses to overwrite unless `force`).
    `weights_only`: the networks alone, without the training state (optimizers, counters, RNG, augmentation) that an
    exact resume needs: less than half a training snapshot's size. The file's notes (an estimated average w, say)
    are warned, and so are weights holding NaN or Inf (NonFiniteWarning): the file is written all the same."""
    check_convert_destination(src, dst, force=force)
    ckpt = load_checkpoint(src)
    source = dict(ckpt.source)
    if ckpt.format != "stylegan2":
        source["converted_from"] = {"format": ckpt.format, "file": Path(src).name}
    if weights_only:
        source.pop("augment_pipe", None)
    save_checkpoint(dst, ckpt.networks, extra_tensors=None if weights_only else ckpt.extra_tensors,
                    training_state=None if weights_only else ckpt.training_state, notes=ckpt.notes, source=source,
                    overwrite=force)
    for note in ckpt.notes:
        warn(note)
    bad = nonfinite_tensors(ckpt.networks)
    if bad:
        warn(f"{src}: {nonfinite_warning(bad)}", NonFiniteWarning)
    return ckpt


def nonfinite_tensors(networks: dict[str, nn.Module]) -> list[str]:
    """Names (`<network>.<state_dict key>`) of the floating-point tensors holding NaN or Inf."""
    return [f"{name}.{key}" for name, net in networks.items() for key, value in net.state_dict().items()
            if value.is_floating_point() and not bool(torch.isfinite(value).all())]


def _label_words(info: dict[str, Any]) -> str:
    """What a network's labels are, with the option that gives one: classes, k-means clusters or label vectors."""
    if info["label_kind"] == "vectors":
        return f"vectors of {info['c_dim']} numbers (--label)"
    if info.get("draws_labels"):
        return f"{info['c_dim']} k-means clusters (--class picks one; without it one is drawn from z)"
    return f"{info['c_dim']} classes (--class)"


def _sizes(networks: dict[str, nn.Module]) -> dict[str, Any]:
    """Resolution (NVIDIA's img_resolution, the shorter side), width x height, channels and latent or code
    sizes, from the StyleGAN2 G_ema (else G), a Swapping Autoencoder's encoder, or else D."""
    G = networks.get("G_ema", networks.get("G"))
    if isinstance(G, Generator):
        return {"resolution": G.img_resolution, "img_width": G.img_width, "img_height": G.img_height,
                "img_channels": G.img_channels, "z_dim": G.z_dim,
                "w_dim": G.w_dim, "c_dim": G.c_dim, "num_ws": G.num_ws,
                **({"label_kind": G.label_kind, "draws_labels": G.mapping.draws_labels} if G.label_kind else {})}
    E = networks.get("E")
    if isinstance(E, SwapEncoder):
        kw = E.init_kwargs
        return {"resolution": kw["img_resolution"], "img_width": kw["img_resolution"],
                "img_height": kw["img_resolution"], "img_channels": kw["img_channels"],
                "structure_code": [kw["spatial_code_ch"], E.code_resolution, E.code_resolution],
                "texture_code": kw["global_code_ch"]}
    D = networks.get("D")
    if isinstance(D, Discriminator):
        return {"resolution": D.img_resolution, "img_width": D.img_width, "img_height": D.img_height,
                "img_channels": D.img_channels, "c_dim": D.c_dim}
    return {}
