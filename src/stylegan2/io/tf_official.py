"""Import NVIDIA's TensorFlow StyleGAN2 pickles (G, D, Gs) without TensorFlow: variables renamed to ours.

The pickle holds three `dnnlib.tflib.network.Network` objects (read by `safe_pickle` as inert
`TFNetwork` stand-ins): each has its build function's name, its constructor settings
(`static_kwargs`), sub-networks (`components`: G's mapping and synthesis) and its variables as
NumPy arrays. Both layouts NVIDIA released are read: the original StyleGAN2 code
(`G_synthesis_stylegan2`, `D_stylegan2`) and the TensorFlow StyleGAN2-ADA code (`G_synthesis`,
`D_main`), whose conditional networks embed the label (`LabelEmbed`) as our networks do.

TensorFlow stores convolution weights as [k, k, in, out] and dense weights as [in, out]; its
upsampling convolution is a transposed convolution, so those kernels are also flipped; its style
bias excludes the +1 ours includes. Channel counts are read from the shapes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from .channels import channel_arguments
from .checkpoint import Checkpoint, build_network
from .errors import CheckpointError
from .safe_pickle import NumpyArray, TFNetwork
from .validate import check_tensor, plain_value

MIN_VERSION = 4  # Network pickle versions of the StyleGAN2 releases (4) and StyleGAN2-ADA (5)
MAX_COMPONENT_DEPTH = 4
SYNTHESIS_FUNCS = ("G_synthesis_stylegan2", "G_synthesis")  # StyleGAN2, StyleGAN2-ADA (TensorFlow)
# Minibatch std group size when the pickle does not set it: each function's own default.
D_FUNCS = {"D_stylegan2": 4, "D_main": None}

# Settings that only steer training, evaluation or TensorFlow's implementation, not the trained network.
_RUNTIME = {"truncation_psi", "truncation_cutoff", "truncation_psi_val", "truncation_cutoff_val", "style_mixing_prob",
            "dlatent_avg_beta", "randomize_noise", "fused_modconv", "dtype", "structure", "is_template_graph",
            "freeze_layers", "augment_strength", "adaptive_dropout", "pagan_num", "pagan_fade", "score_size",
            "mapping_func", "synthesis_func"}
_G_SETTINGS = {"latent_size", "label_size", "dlatent_size", "resolution", "num_channels", "mapping_layers",
               "mapping_fmaps", "mapping_lrmul", "mapping_nonlinearity", "label_fmaps", "normalize_latents",
               "fmap_base", "fmap_decay", "fmap_min", "fmap_max", "fmap_const", "num_fp16_res", "conv_clamp",
               "architecture", "resample_kernel", "use_noise", "nonlinearity"}
_D_SETTINGS = {"num_channels", "resolution", "label_size", "fmap_base", "fmap_decay", "fmap_min", "fmap_max",
               "mapping_layers", "mapping_fmaps", "mapping_lrmul", "architecture", "nonlinearity", "mbstd_group_size",
               "mbstd_num_features", "num_fp16_res", "conv_clamp", "resample_kernel", "use_pagan", "score_max",
               "use_spectral_norm"}
# Settings our networks cannot reproduce unless they hold these values.
_REQUIRED = {"normalize_latents": True, "use_pagan": False, "use_spectral_norm": False, "score_max": 1}


def is_tf_pickle(data: Any) -> bool:
    """Whether an unpickled object is what NVIDIA's TensorFlow training loop saves: (G, D, Gs)."""
    return isinstance(data, tuple) and len(data) == 3 and all(isinstance(net, TFNetwork) for net in data)


def read_tf_networks(data: tuple, path: Path) -> Checkpoint:
    """Our G, D and G_ema from the (G, D, Gs) of a TensorFlow StyleGAN2 pickle."""
    tf_G, tf_D, tf_Gs = (_TFNet(net, f"{path} [{name}]") for net, name in zip(data, ("G", "D", "Gs")))
    networks = {"G": _generator(tf_G), "D": _discriminator(tf_D), "G_ema": _generator(tf_Gs)}
    source = {"tf_build_funcs": {"G": tf_G.func, "D": tf_D.func}}
    return Checkpoint(format="tf-pkl", networks=networks, source=source)


class _TFNet:
    """One pickled TensorFlow network: build function name, settings and variables (components prefixed)."""

    def __init__(self, net: TFNetwork, where: str) -> None:
        self.where = where
        self.func, self.kwargs, self.component_funcs, _, _ = _state(net, where)
        self.variables: dict[str, torch.Tensor] = {}
        self._collect(net, "", 0)
        self.used: set[str] = set()

    def _collect(self, net: TFNetwork, prefix: str, depth: int) -> None:
        if depth > MAX_COMPONENT_DEPTH:
            raise CheckpointError(f"{self.where}: sub-networks are nested more than {MAX_COMPONENT_DEPTH} levels deep")
        _, _, _, variables, components = _state(net, self.where)
        for name, value in variables:
            if type(value) is float:  # TensorFlow returns 0-d variables as NumPy scalars (float32 values)
                tensor = torch.tensor(value, dtype=torch.float32)
            elif isinstance(value, NumpyArray) and value.tensor is not None:
                tensor = value.tensor
            else:
                raise CheckpointError(f"{self.where}: variable {prefix}{name} is not a NumPy array")
            check_tensor(prefix + name, tensor, self.where)
            self.variables[prefix + name] = tensor
        for name, component in components.items():
            self._collect(component, f"{prefix}{name}/", depth + 1)

    def setting(self, name: str, default: Any) -> Any:
        """A setting from `static_kwargs`; `default` (the build function's) when absent or None."""
        value = self.kwargs.get(name)
        return default if value is None else value

    def has(self, name: str) -> bool:
        """Whether the network has this variable (components prefixed, e.g. 'synthesis/4x4/Conv/weight')."""
        return name in self.variables

    def __getitem__(self, name: str) -> torch.Tensor:
        """A variable by name, recorded as used (see `check_all_used`)."""
        if name not in self.variables:
            raise CheckpointError(f"{self.where}: variable {name!r} is missing; not a complete StyleGAN2 network")
        self.used.add(name)
        return self.variables[name]

    def count(self, pattern: str) -> int:
        """How many distinct indices a numbered variable pattern has (e.g. mapping/Dense0, Dense1 -> 2)."""
        return len({m.group(1) for k in self.variables if (m := re.fullmatch(pattern, k))})

    def resolutions(self, prefix: str) -> list[int]:
        """The resolutions r with variables under '<prefix>rxr/', ascending."""
        return sorted({int(m.group(1)) for k in self.variables if (m := re.match(prefix + r"(\d+)x\1/", k))})

    def check_settings(self, known: set[str]) -> None:
        """Refuse settings we do not know, and known ones at values our networks cannot reproduce."""
        unknown = sorted(set(self.kwargs) - known - _RUNTIME)
        if unknown:
            raise CheckpointError(f"{self.where}: TensorFlow settings {', '.join(unknown[:5])} are not ones we can reproduce")
        for name, required in _REQUIRED.items():
            if name in self.kwargs and self.kwargs[name] != required:
                raise CheckpointError(f"{self.where}: {name}={self.kwargs[name]!r} is not supported (only {required!r})")

    def check_all_used(self) -> None:
        """Refuse variables no rule mapped (other than progressive growing's `lod`), so nothing is dropped silently."""
        left = sorted(k for k in set(self.variables) - self.used if not re.fullmatch(r"(.*/)?lod", k))
        if left:
            raise CheckpointError(f"{self.where}: unrecognized variables {', '.join(left[:5])}; not a StyleGAN2 network we can map")


def _state(net: Any, where: str) -> tuple[str, dict[str, Any], dict[str, str], list, dict[str, TFNetwork]]:
    """(build function, settings, component build functions, variables, components) of one network, checked."""
    state = net.state if isinstance(net, TFNetwork) else None
    if not isinstance(state, dict):
        raise CheckpointError(f"{where}: not a TensorFlow network (no pickled state)")
    version, func = state.get("version"), state.get("build_func_name")
    if not isinstance(version, int) or version < MIN_VERSION:
        raise CheckpointError(f"{where}: TensorFlow network pickle version {version!r} is older than StyleGAN2's ({MIN_VERSION})")
    kwargs = plain_value(state.get("static_kwargs") or {}, where)
    variables, components = state.get("variables") or [], state.get("components") or {}
    if not isinstance(func, str) or not isinstance(kwargs, dict):
        raise CheckpointError(f"{where}: malformed TensorFlow network (build_func_name or static_kwargs)")
    if not isinstance(variables, list) or not all(isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str) for v in variables):
        raise CheckpointError(f"{where}: malformed TensorFlow network (variables)")
    if not isinstance(components, dict) or not all(isinstance(k, str) and isinstance(v, TFNetwork) for k, v in components.items()):
        raise CheckpointError(f"{where}: malformed TensorFlow network (components)")
    funcs = {name: str((c.state or {}).get("build_func_name")) for name, c in components.items()}
    return func, kwargs, funcs, variables, components


def _conv(weight: torch.Tensor, flip: bool = False) -> torch.Tensor:
    """TensorFlow [k, k, in, out] (flipped for its transposed upsampling convolution) -> [out, in, k, k]."""
    if flip:
        weight = weight.flip([0, 1])
    return weight.permute(3, 2, 0, 1)


def _generator(net: _TFNet) -> torch.nn.Module:
    """Our Generator from a TensorFlow G or Gs (G_main with G_mapping and a StyleGAN2 synthesis network)."""
    synthesis_func = net.component_funcs.get("synthesis")
    if net.func != "G_main" or synthesis_func not in SYNTHESIS_FUNCS or net.component_funcs.get("mapping") != "G_mapping":
        raise CheckpointError(
            f"{net.where}: a TensorFlow {net.func} network with synthesis {synthesis_func}; only StyleGAN2's G_main with "
            f"{' or '.join(SYNTHESIS_FUNCS)} is supported (StyleGAN 1 and StyleGAN2 configs A-D are not)"
        )
    net.check_settings(_G_SETTINGS)
    if net.has("mapping/LabelConcat/weight"):
        raise CheckpointError(
            f"{net.where}: a conditional network of the original StyleGAN2 code (labels concatenated to z before "
            "normalizing); only StyleGAN2-ADA's label embedding (LabelEmbed) is supported"
        )
    num_mapping = net.count(r"mapping/Dense(\d+)/weight")
    resolutions = net.resolutions("synthesis/")
    if num_mapping == 0 or not resolutions or resolutions[0] != 4:
        raise CheckpointError(f"{net.where}: no mapping/Dense* or synthesis/4x4 variables; not a StyleGAN2 generator")
    resolution = resolutions[-1]
    first = net["mapping/Dense0/weight"]
    w_dim = net[f"mapping/Dense{num_mapping - 1}/weight"].shape[1]
    c_dim, embed_features = net["mapping/LabelEmbed/weight"].shape if net.has("mapping/LabelEmbed/weight") else (0, None)
    counts = {4: net["synthesis/4x4/Const/const"].shape[1]}
    counts.update({res: net[f"synthesis/{res}x{res}/Conv0_up/weight"].shape[3] for res in resolutions[1:]})
    use_noise = bool(net.setting("use_noise", True))
    beta = net.setting("dlatent_avg_beta", 0.995)

    mapping_kwargs = {
        "num_layers": num_mapping, "embed_features": embed_features,
        "layer_features": first.shape[1] if num_mapping > 1 else None,
        "activation": net.setting("mapping_nonlinearity", "lrelu"), "lr_multiplier": net.setting("mapping_lrmul", 0.01),
        "w_avg_beta": beta if isinstance(beta, float) else 0.995,
    }
    synthesis_kwargs = {
        **channel_arguments(counts, [2 * net.setting("fmap_base", 16384)]),
        "num_fp16_res": net.setting("num_fp16_res", 0), "conv_clamp": net.kwargs.get("conv_clamp"),
        "architecture": net.setting("architecture", "skip"), "resample_filter": net.setting("resample_kernel", [1, 3, 3, 1]),
        "use_noise": use_noise, "activation": net.setting("nonlinearity", "lrelu"),
    }
    img_channels = net[f"synthesis/{resolution}x{resolution}/ToRGB/weight"].shape[3]
    kwargs = dict(z_dim=first.shape[0] - (embed_features or 0), c_dim=c_dim, w_dim=w_dim, img_resolution=resolution,
                  img_channels=img_channels, mapping_kwargs=mapping_kwargs, synthesis_kwargs=synthesis_kwargs)

    out: dict[str, torch.Tensor] = {"mapping.w_avg": net["dlatent_avg"]}
    for i in range(num_mapping):
        out[f"mapping.fc{i}.weight"] = net[f"mapping/Dense{i}/weight"].T
        out[f"mapping.fc{i}.bias"] = net[f"mapping/Dense{i}/bias"]
    if c_dim:
        out["mapping.embed.weight"] = net["mapping/LabelEmbed/weight"].T
        out["mapping.embed.bias"] = net["mapping/LabelEmbed/bias"]
    out["synthesis.b4.const"] = net["synthesis/4x4/Const/const"][0]  # [1, C, 4, 4] -> [C, 4, 4]
    layers = [("4x4/Conv", "b4.conv1", False, 0)]
    for res in resolutions[1:]:
        log2 = res.bit_length() - 1
        layers += [(f"{res}x{res}/Conv0_up", f"b{res}.conv0", True, 2 * log2 - 5),
                   (f"{res}x{res}/Conv1", f"b{res}.conv1", False, 2 * log2 - 4)]
        if net.has(f"synthesis/{res}x{res}/Skip/weight"):
            out[f"synthesis.b{res}.skip.weight"] = _conv(net[f"synthesis/{res}x{res}/Skip/weight"], flip=True)
    for scope, ours, flip, noise_index in layers:
        tf, dst = f"synthesis/{scope}", f"synthesis.{ours}"
        out[f"{dst}.weight"] = _conv(net[f"{tf}/weight"], flip)
        out[f"{dst}.bias"] = net[f"{tf}/bias"]
        out[f"{dst}.affine.weight"] = net[f"{tf}/mod_weight"].T
        out[f"{dst}.affine.bias"] = net[f"{tf}/mod_bias"] + 1
        if use_noise:
            out[f"{dst}.noise_strength"] = net[f"{tf}/noise_strength"]
            out[f"{dst}.noise_const"] = net[f"synthesis/noise{noise_index}"][0, 0]  # [1, 1, r, r] -> [r, r]
    for res in resolutions:
        tf = f"synthesis/{res}x{res}/ToRGB"
        if net.has(f"{tf}/weight"):
            out[f"synthesis.b{res}.torgb.weight"] = _conv(net[f"{tf}/weight"])
            out[f"synthesis.b{res}.torgb.bias"] = net[f"{tf}/bias"]
            out[f"synthesis.b{res}.torgb.affine.weight"] = net[f"{tf}/mod_weight"].T
            out[f"synthesis.b{res}.torgb.affine.bias"] = net[f"{tf}/mod_bias"] + 1
    net.check_all_used()
    return build_network("Generator", kwargs, out, net.where, keep_own=("resample_filter",))


def _discriminator(net: _TFNet) -> torch.nn.Module:
    """Our Discriminator from a TensorFlow D (D_stylegan2 or StyleGAN2-ADA's D_main)."""
    if net.func not in D_FUNCS:
        raise CheckpointError(f"{net.where}: a TensorFlow {net.func} network; only StyleGAN2's {' or '.join(D_FUNCS)} is supported")
    net.check_settings(_D_SETTINGS)
    if net.setting("label_size", 0) and not net.has("LabelEmbed/weight"):
        raise CheckpointError(
            f"{net.where}: a conditional discriminator of the original StyleGAN2 code (one output per label); "
            "only StyleGAN2-ADA's projection discriminator (LabelEmbed) is supported"
        )
    resolutions = net.resolutions("")
    if not resolutions or resolutions[0] != 4:
        raise CheckpointError(f"{net.where}: no 4x4 variables; not a StyleGAN2 discriminator")
    resolution = resolutions[-1]
    counts = {res: net[f"{res}x{res}/Conv0/weight"].shape[3] for res in resolutions[1:]}
    counts[4] = net["4x4/Conv/weight"].shape[3]
    num_mapping = net.count(r"Mapping(\d+)/weight")
    c_dim, cmap_dim = net["LabelEmbed/weight"].shape if net.has("LabelEmbed/weight") else (0, None)
    activation = net.setting("nonlinearity", "lrelu")
    kwargs = dict(
        c_dim=c_dim, img_resolution=resolution, img_channels=net[f"{resolution}x{resolution}/FromRGB/weight"].shape[2],
        architecture=net.setting("architecture", "resnet"), **channel_arguments(counts, [2 * net.setting("fmap_base", 16384)]),
        num_fp16_res=net.setting("num_fp16_res", 0), conv_clamp=net.kwargs.get("conv_clamp"), cmap_dim=cmap_dim,
        block_kwargs={"activation": activation, "resample_filter": net.setting("resample_kernel", [1, 3, 3, 1]),
                      "freeze_layers": net.setting("freeze_layers", 0)},
        mapping_kwargs={"num_layers": num_mapping, "embed_features": cmap_dim, "layer_features": cmap_dim,
                        "activation": activation, "lr_multiplier": net.setting("mapping_lrmul", 0.1)},
        epilogue_kwargs={"mbstd_group_size": net.kwargs.get("mbstd_group_size", D_FUNCS[net.func]),
                         "mbstd_num_channels": net["4x4/Conv/weight"].shape[2] - counts[4], "activation": activation},
    )

    out: dict[str, torch.Tensor] = {}
    for res in resolutions:
        tf = f"{res}x{res}"
        if net.has(f"{tf}/FromRGB/weight"):
            out[f"b{res}.fromrgb.weight"] = _conv(net[f"{tf}/FromRGB/weight"])
            out[f"b{res}.fromrgb.bias"] = net[f"{tf}/FromRGB/bias"]
        if res == 4:
            continue
        for i, scope in enumerate(("Conv0", "Conv1_down")):
            out[f"b{res}.conv{i}.weight"] = _conv(net[f"{tf}/{scope}/weight"])
            out[f"b{res}.conv{i}.bias"] = net[f"{tf}/{scope}/bias"]
        if net.has(f"{tf}/Skip/weight"):
            out[f"b{res}.skip.weight"] = _conv(net[f"{tf}/Skip/weight"])
    if c_dim:
        out["mapping.embed.weight"] = net["LabelEmbed/weight"].T
        out["mapping.embed.bias"] = net["LabelEmbed/bias"]
        for i in range(num_mapping):
            out[f"mapping.fc{i}.weight"] = net[f"Mapping{i}/weight"].T
            out[f"mapping.fc{i}.bias"] = net[f"Mapping{i}/bias"]
    out["b4.conv.weight"] = _conv(net["4x4/Conv/weight"])
    out["b4.conv.bias"] = net["4x4/Conv/bias"]
    out["b4.fc.weight"] = net["4x4/Dense0/weight"].T
    out["b4.fc.bias"] = net["4x4/Dense0/bias"]
    out["b4.out.weight"] = net["Output/weight"].T
    out["b4.out.bias"] = net["Output/bias"]
    net.check_all_used()
    return build_network("Discriminator", kwargs, out, net.where, keep_own=("resample_filter",))
