"""Import rosinality stylegan2-pytorch checkpoints (.pt): rename its tensors to NVIDIA's layout.

rosinality's networks are StyleGAN2 config F with the same equalized-learning-rate gains as
NVIDIA's, so weights transfer unchanged; only names and a few singleton dimensions differ. Its
fixed blur kernels are checked against our [1,3,3,1] resample filters rather than copied. Channel
counts are read from the tensor shapes, so forks that changed rosinality's channel table load too.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any, Mapping

import torch

from ..utils.files import ArchiveError, check_zip_members
from ..utils.text import first_names
from .channels import channel_arguments
from .checkpoint import Checkpoint, build_network
from .errors import CheckpointError, UnsafeCheckpointError, one_line
from .pickle_scan import PickleRejected, ScanLimits, scan_pickle
from .validate import MAX_STRING, check_shared_storage, check_tensor

NETWORK_KEYS = {"g": "G", "d": "D", "g_ema": "G_ema"}
MAX_CHANNEL_MULTIPLIER = 32
MAX_ARGS_DEPTH = 4  # lists inside lists in train.py's args, kept as provenance
W_AVG_SAMPLES = 10_000
W_AVG_SEED = 0
DEFAULT_MULTIPLIER_BASE = 16384  # rosinality's channel table: min(16384 * channel_multiplier / res, 512)
BLUR_TAPS = (1.0, 3.0, 3.0, 1.0)


def read_rosinality(path: Path) -> Checkpoint:
    """Networks of a rosinality training checkpoint or `convert_weight.py` output, loaded without pickle code."""
    ckpt = _torch_load_weights_only(path)
    if not isinstance(ckpt, dict) or not any(isinstance(ckpt.get(k), Mapping) for k in NETWORK_KEYS):
        found = f"keys {first_names(sorted(map(str, ckpt)))}" if isinstance(ckpt, dict) else f"a {type(ckpt).__name__}"
        raise CheckpointError(
            f"{path}: a PyTorch file, but not a rosinality stylegan2-pytorch checkpoint "
            f"(expected a dict with g_ema, g and/or d; found {found}){_what_else(ckpt)}"
        )
    args = vars(ckpt["args"]) if isinstance(ckpt.get("args"), argparse.Namespace) else {}
    arch = args.get("arch", "stylegan2")
    if arch != "stylegan2":
        shown = repr(arch)[:40] if isinstance(arch, str) else f"a {type(arch).__name__}"
        raise CheckpointError(f"{path}: architecture {shown} is not supported; only rosinality's 'stylegan2' is")
    multiplier = args.get("channel_multiplier")
    if multiplier is not None and (type(multiplier) is not int or not 1 <= multiplier <= MAX_CHANNEL_MULTIPLIER):
        shown = multiplier if type(multiplier) is int else f"a {type(multiplier).__name__}"
        raise CheckpointError(f"{path}: args.channel_multiplier is {shown}; expected an integer from 1 to {MAX_CHANNEL_MULTIPLIER}")

    networks: dict[str, torch.nn.Module] = {}
    notes: list[str] = []
    latent_avg = ckpt.get("latent_avg")
    check_shared_storage([value for key in NETWORK_KEYS if isinstance(ckpt.get(key), Mapping)
                          for value in ckpt[key].values() if isinstance(value, torch.Tensor)], str(path))
    w_avg_estimated = []
    for key, name in NETWORK_KEYS.items():
        state = ckpt.get(key)
        if not isinstance(state, Mapping):
            continue
        where = f"{path} [{key}]"
        if key == "d":
            networks[name] = _discriminator(state, multiplier, where)
            continue
        G = _generator(state, multiplier, where, notes, name)
        if key == "g_ema" and isinstance(latent_avg, torch.Tensor):
            check_tensor("latent_avg", latent_avg, str(path))
            if latent_avg.numel() != G.w_dim:
                raise CheckpointError(f"{path}: latent_avg has {latent_avg.numel()} values for a w_dim of {G.w_dim}")
            G.mapping.w_avg.copy_(latent_avg.reshape(-1))
            notes.append(f"{name}: w_avg taken from the file's latent_avg")
        else:
            G.mapping.w_avg.copy_(estimate_w_avg(G))
            w_avg_estimated.append(name)
            notes.append(
                f"{name}: w_avg estimated from {W_AVG_SAMPLES:,} mapped z (seed {W_AVG_SEED}); "
                "rosinality files store no w average"
            )
        networks[name] = G

    source: dict[str, Any] = {"args": {str(k)[:100]: _json_value(v) for k, v in list(args.items())[:1000]}} if args else {}
    if "ada_aug_p" in ckpt:
        source["ada_aug_p"] = _json_value(ckpt["ada_aug_p"])
    return Checkpoint(format="rosinality", networks=networks, notes=notes, source=source, w_avg_estimated=w_avg_estimated)


def _what_else(ckpt: Any) -> str:
    """What a rosinality script's other outputs are, for the message that they are not networks ('' otherwise)."""
    if isinstance(ckpt, dict) and "eigvec" in ckpt:
        return ("; it is closed_form_factorization.py's factor.pt, which holds directions, not a network: pass the "
                "checkpoint it was computed from, and `stylegan2 directions` computes our directions")
    if isinstance(ckpt, dict) and ckpt and all(isinstance(v, dict) and "latent" in v for v in ckpt.values()):
        return ("; it is projector.py's output, which holds latents, not a network: pass the checkpoint, and "
                "`stylegan2 project` writes projected_w.npz for `generate --projected-w`")
    return ""


def _check_torch_file(path: Path) -> None:
    """Check a torch.save file before torch reads it: zip entries stored uncompressed and no larger than
    the file, and every pickle stream within the nesting and size limits (see `pickle_scan`)."""
    size = path.stat().st_size
    try:
        with open(path, "rb") as f:
            if f.read(4) != b"PK\x03\x04":  # legacy format: five pickles, then raw storage bytes
                f.seek(0)
                for _ in range(5):
                    scan_pickle(f, size, ScanLimits(allow_persistent=True))
                return
        with zipfile.ZipFile(path) as archive:
            members = check_zip_members(archive, str(path), compressed=False)
            for member in [m for m in members if m.filename.endswith(".pkl")]:
                with archive.open(member) as stream:
                    data = stream.read()
                scan_pickle(io.BytesIO(data), len(data), ScanLimits(allow_persistent=True))
    except zipfile.BadZipFile as exc:
        raise CheckpointError(f"{path}: truncated or corrupt PyTorch file ({one_line(exc)})") from None
    except (ArchiveError, PickleRejected) as exc:
        raise CheckpointError(f"{path}: refusing this PyTorch file before unpickling ({exc})") from None


def _torch_load_weights_only(path: Path) -> Any:
    """`torch.load(weights_only=True)` with only `argparse.Namespace` (train.py's args) allowed besides."""
    _check_torch_file(path)
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        match = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if match is None:
            raise CheckpointError(f"{path}: truncated or corrupt PyTorch file ({one_line(exc)})") from None
        raise UnsafeCheckpointError(
            f"refusing to load {path.name}: it references {match.group(1)}, which is not a tensor or plain "
            "setting; rosinality checkpoints hold only tensors, dicts and argparse.Namespace. Nothing from the file was run."
        ) from None
    except Exception as exc:  # noqa: BLE001 -- zip reader and unpickler errors come in many types
        raise CheckpointError(f"{path}: truncated or corrupt PyTorch file ({one_line(exc)})") from None


def estimated_w_avg_note(path: str | os.PathLike) -> str:
    """What truncating a network from `path` means when its average w was estimated (rosinality's training files)."""
    return (f"{path}: stores no average w; truncation pulls toward one estimated from {W_AVG_SAMPLES:,} mapped z "
            f"(seed {W_AVG_SEED}), so truncated images differ slightly from rosinality's generate.py, which "
            "estimates its own at every run")


@torch.no_grad()
def estimate_w_avg(G: torch.nn.Module, num_samples: int = W_AVG_SAMPLES, seed: int = W_AVG_SEED) -> torch.Tensor:
    """Mean of mapping(z) over `num_samples` normal z from a fixed seed: the w that truncation pulls toward."""
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn([num_samples, G.z_dim], generator=rng)
    total = torch.zeros(G.w_dim, dtype=torch.float64)
    for chunk in z.split(1000):
        total += G.mapping(chunk, None)[:, 0].sum(dim=0, dtype=torch.float64)  # [w_dim]
    return (total / num_samples).to(torch.float32)


def _generator(state: Mapping[str, torch.Tensor], multiplier: int | None, where: str, notes: list[str], name: str) -> torch.nn.Module:
    """Our Generator from a rosinality `Generator` state dict."""
    s = _Keys(state, where)
    n_mlp = _count(state, r"style\.(\d+)\.weight")
    num_pairs = _count(state, r"convs\.(\d+)\.conv\.weight") // 2
    if n_mlp == 0 or "input.input" not in state:
        raise CheckpointError(f"{where}: not a rosinality Generator state dict (no style.* or input.input)")
    resolution = 4 * 2**num_pairs
    w_dim = s["style.1.weight"].shape[1]
    channels = {4: s["input.input"].shape[1]}
    channels.update({8 * 2**k: s[f"convs.{2 * k}.conv.weight"].shape[1] for k in range(num_pairs)})

    out: dict[str, torch.Tensor] = {}
    for i in range(1, n_mlp + 1):
        out[f"mapping.fc{i - 1}.weight"] = s[f"style.{i}.weight"]
        out[f"mapping.fc{i - 1}.bias"] = s[f"style.{i}.bias"]
    out["synthesis.b4.const"] = s["input.input"][0]  # [1, C, 4, 4] -> [C, 4, 4]
    layers = [("conv1", "synthesis.b4.conv1")]
    rgbs = [("to_rgb1", "synthesis.b4.torgb")]
    for k in range(num_pairs):
        res = 8 * 2**k
        layers += [(f"convs.{2 * k}", f"synthesis.b{res}.conv0"), (f"convs.{2 * k + 1}", f"synthesis.b{res}.conv1")]
        rgbs.append((f"to_rgbs.{k}", f"synthesis.b{res}.torgb"))
        s.check_kernel(f"convs.{2 * k}.conv.blur.kernel", factor=2)
        s.check_kernel(f"to_rgbs.{k}.upsample.kernel", factor=2)
    for src, dst in layers:
        out[f"{dst}.weight"] = s[f"{src}.conv.weight"][0]  # [1, O, I, k, k] -> [O, I, k, k]
        out[f"{dst}.affine.weight"] = s[f"{src}.conv.modulation.weight"]
        out[f"{dst}.affine.bias"] = s[f"{src}.conv.modulation.bias"]
        out[f"{dst}.noise_strength"] = s[f"{src}.noise.weight"].reshape([])
        out[f"{dst}.bias"] = s[f"{src}.activate.bias"]
    for src, dst in rgbs:
        out[f"{dst}.weight"] = s[f"{src}.conv.weight"][0]
        out[f"{dst}.affine.weight"] = s[f"{src}.conv.modulation.weight"]
        out[f"{dst}.affine.bias"] = s[f"{src}.conv.modulation.bias"]
        out[f"{dst}.bias"] = s[f"{src}.bias"].reshape(-1)  # [1, 3, 1, 1] -> [3]
    has_noise = all(f"noises.noise_{j}" in state for j in range(len(layers)))
    if has_noise:
        for j, (_, dst) in enumerate(layers):
            out[f"{dst}.noise_const"] = s[f"noises.noise_{j}"][0, 0]  # [1, 1, r, r] -> [r, r]
    s.check_all_used()

    kwargs = dict(
        z_dim=w_dim, c_dim=0, w_dim=w_dim, img_resolution=resolution, img_channels=s["to_rgb1.conv.weight"].shape[1],
        mapping_kwargs={"num_layers": n_mlp},
        synthesis_kwargs={**_channel_table(channels, multiplier), "num_fp16_res": 0, "conv_clamp": None},
    )
    if not has_noise:
        notes.append(f"{name}: the file has no noises.noise_* maps; noise_mode='const' uses random fixed maps")
    keep_own = ("resample_filter", "w_avg") if has_noise else ("resample_filter", "w_avg", "noise_const")
    return build_network("Generator", kwargs, out, where, keep_own=keep_own)


def _discriminator(state: Mapping[str, torch.Tensor], multiplier: int | None, where: str) -> torch.nn.Module:
    """Our Discriminator (resnet, minibatch std group 4) from a rosinality `Discriminator` state dict."""
    s = _Keys(state, where)
    num_blocks = _count(state, r"convs\.(\d+)\.conv1\.0\.weight")
    if "convs.0.0.weight" not in state or "final_conv.0.weight" not in state:
        raise CheckpointError(f"{where}: not a rosinality Discriminator state dict (no convs.0 or final_conv)")
    resolution = 4 * 2**num_blocks
    channels = {resolution >> (i - 1): s[f"convs.{i}.conv1.0.weight"].shape[0] for i in range(1, num_blocks + 1)}
    channels[4] = s["final_conv.0.weight"].shape[0]

    out: dict[str, torch.Tensor] = {
        f"b{resolution}.fromrgb.weight": s["convs.0.0.weight"],
        f"b{resolution}.fromrgb.bias": s["convs.0.1.bias"],
        "b4.conv.weight": s["final_conv.0.weight"],
        "b4.conv.bias": s["final_conv.1.bias"],
        "b4.fc.weight": s["final_linear.0.weight"],
        "b4.fc.bias": s["final_linear.0.bias"],
        "b4.out.weight": s["final_linear.1.weight"],
        "b4.out.bias": s["final_linear.1.bias"],
    }
    for i in range(1, num_blocks + 1):
        b = f"b{resolution >> (i - 1)}"
        out[f"{b}.conv0.weight"] = s[f"convs.{i}.conv1.0.weight"]
        out[f"{b}.conv0.bias"] = s[f"convs.{i}.conv1.1.bias"]
        out[f"{b}.conv1.weight"] = s[f"convs.{i}.conv2.1.weight"]
        out[f"{b}.conv1.bias"] = s[f"convs.{i}.conv2.2.bias"]
        out[f"{b}.skip.weight"] = s[f"convs.{i}.skip.1.weight"]
        s.check_kernel(f"convs.{i}.conv2.0.kernel", factor=1)
        s.check_kernel(f"convs.{i}.skip.0.kernel", factor=1)
    s.check_all_used()

    kwargs = dict(
        c_dim=0, img_resolution=resolution, img_channels=s["convs.0.0.weight"].shape[1], architecture="resnet",
        **_channel_table(channels, multiplier), num_fp16_res=0, conv_clamp=None,
        epilogue_kwargs={"mbstd_group_size": 4},
    )
    return build_network("Discriminator", kwargs, out, where, keep_own=("resample_filter",))


class _Keys:
    """Reads a state dict by name, recording which entries were used so leftovers can be reported."""

    def __init__(self, state: Mapping[str, torch.Tensor], where: str) -> None:
        self.state = state
        self.where = where
        self.used: set[str] = set()

    def __getitem__(self, key: str) -> torch.Tensor:
        value = self.state.get(key)
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{self.where}: tensor {key!r} is missing; the file is not a complete rosinality network")
        check_tensor(key, value, self.where)
        self.used.add(key)
        return value

    def check_kernel(self, key: str, factor: int) -> None:
        """rosinality stores its blur kernels; ours are fixed, so they must be the [1,3,3,1] default."""
        if key not in self.state:
            return
        taps = torch.tensor(BLUR_TAPS)
        expected = torch.outer(taps, taps) / taps.sum() ** 2 * factor**2
        kernel = self[key]
        if kernel.shape != expected.shape or not torch.allclose(kernel.float(), expected):
            raise CheckpointError(f"{self.where}: {key} is not the [1,3,3,1] blur kernel; custom blur kernels are not supported")

    def check_all_used(self) -> None:
        left = sorted(set(self.state) - self.used - {k for k in self.state if k.startswith("noises.")})
        if left:
            raise CheckpointError(f"{self.where}: unrecognized tensors {', '.join(left[:5])}; not a rosinality stylegan2 network")


def _count(state: Mapping[str, Any], pattern: str) -> int:
    """How many distinct indices a numbered key pattern has (e.g. style.1, style.2 -> 2)."""
    return len({m.group(1) for k in state if (m := re.fullmatch(pattern, k))})


def _channel_table(channels: dict[int, int], multiplier: int | None) -> dict[str, Any]:
    """Channel arguments for the stored counts; rosinality's own table (16384 * multiplier / res) is tried first."""
    return channel_arguments(channels, [DEFAULT_MULTIPLIER_BASE * (multiplier or 1), DEFAULT_MULTIPLIER_BASE])


def _json_value(value: Any, depth: int = 0) -> Any:
    """Settings from `args` as JSON types; anything else (or nested too deep, or too long) as a short description."""
    if value is None or isinstance(value, bool) or (isinstance(value, int) and abs(value) < 2**63):
        return value
    if isinstance(value, str):
        return value if len(value) <= MAX_STRING else f"<a string of {len(value):,} characters>"
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (list, tuple)) and depth < MAX_ARGS_DEPTH and len(value) <= 1000:
        return [_json_value(v, depth + 1) for v in value]
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.device.type == "cpu" and value.dtype.is_floating_point:
        return _json_value(value.item(), depth)
    return f"<{type(value).__name__}>"
