"""Write TensorFlow StyleGAN2 network pickles the way NVIDIA's code does, from random arrays, without TensorFlow.

NVIDIA's TensorFlow training loop pickles `(G, D, Gs)`, three `dnnlib.tflib.network.Network` objects
whose state (`Network.__getstate__`) holds the build function's name and source, its settings
(`static_kwargs`), sub-networks (`components`) and the variables as NumPy arrays. `Network` here is
a stand-in with that name and state; `tf_names()` makes it importable while pickling.

Two layouts: the original StyleGAN2 code (`ada=False`: G_synthesis_stylegan2, D_stylegan2, a `lod`
variable, pickle version 4) and TensorFlow StyleGAN2-ADA (`ada=True`: G_synthesis, D_main, label
embedding `LabelEmbed` for conditional networks, version 5). Variable names and shapes follow
their `networks_stylegan2.py` and `networks.py`.
"""

from __future__ import annotations

import contextlib
import pickle
import sys
import types
from pathlib import Path
from typing import Any, Iterator

import numpy as np

BUILD_SOURCE = "# the TensorFlow build code of the network would be here; a loader must never run it\n"


class Network:
    """Pickles like `dnnlib.tflib.network.Network`: NEWOBJ of the class, then BUILD with its state dict."""

    def __init__(self, name: str, func: str, static_kwargs: dict[str, Any], variables: dict[str, np.ndarray],
                 components: dict[str, Network] | None = None, version: int = 4, build_module_src: str = BUILD_SOURCE):
        self.name, self.func, self.static_kwargs, self.variables = name, func, static_kwargs, variables
        self.components, self.version, self.build_module_src = components or {}, version, build_module_src

    def __getstate__(self) -> dict[str, Any]:
        return {
            "version": self.version, "name": self.name, "static_kwargs": dict(self.static_kwargs),
            "components": dict(self.components), "build_module_src": self.build_module_src,
            "build_func_name": self.func, "variables": list(self.variables.items()),
            "input_shapes": [[None, 1]], "output_shapes": [[None, 1]], "input_names": ["in"], "output_names": ["out"],
        }


Network.__module__ = "dnnlib.tflib.network"


@contextlib.contextmanager
def tf_names() -> Iterator[None]:
    """Make `dnnlib.tflib.network.Network` importable (as the stand-in above) while pickling."""
    module = types.ModuleType("dnnlib.tflib.network")
    module.Network = Network
    added = {"dnnlib.tflib": types.ModuleType("dnnlib.tflib"), "dnnlib.tflib.network": module}
    if "dnnlib" not in sys.modules:
        added["dnnlib"] = types.ModuleType("dnnlib")
    saved = {name: sys.modules.get(name) for name in added}
    sys.modules.update(added)
    try:
        yield
    finally:
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous


def write_tf_pickle(path: Path, G: Network, D: Network, Gs: Network, protocol: int = 4) -> Path:
    """(G, D, Gs) pickled as NVIDIA's TensorFlow training loop does."""
    with tf_names(), open(path, "wb") as f:
        pickle.dump((G, D, Gs), f, protocol=protocol)
    return path


def nf(stage: int, fmap_base: int, fmap_max: int) -> int:
    """TensorFlow StyleGAN2's channel count at a stage (resolution 2**(stage + 1))."""
    return int(np.clip(int(fmap_base / 2.0**stage), 1, fmap_max))


class _Random:
    """Random float32 arrays: weights N(0, 1) as their equalized layers store them, other values smaller."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def weight(self, *shape: int) -> np.ndarray:
        return self.rng.standard_normal(shape).astype(np.float32)

    def small(self, *shape: int) -> np.ndarray | np.float32:
        """Biases and noise strengths; a 0-d value is a NumPy scalar, as TensorFlow's session returns it."""
        value = (0.2 * self.rng.standard_normal(shape)).astype(np.float32)
        return value if shape else np.float32(value)


def tf_generator(seed: int, *, resolution: int = 32, fmap_base: int = 64, fmap_max: int = 16, latent_size: int = 16,
                 dlatent_size: int = 16, mapping_layers: int = 2, label_size: int = 0, num_channels: int = 3,
                 architecture: str = "skip", ada: bool = False, use_noise: bool = True,
                 extra_kwargs: dict[str, Any] | None = None, channels: dict[int, int] | None = None) -> Network:
    """A G_main Network with G_mapping and a StyleGAN2 synthesis component, every variable random.

    `channels` ({resolution: count}) replaces TensorFlow's table, as a fork might.
    """
    r = _Random(seed)
    log2 = resolution.bit_length() - 1
    ch = channels or {2**s: nf(s - 1, fmap_base, fmap_max) for s in range(2, log2 + 1)}
    kwargs = dict(num_channels=num_channels, resolution=resolution, label_size=label_size, fmap_base=fmap_base,
                  fmap_max=fmap_max, latent_size=latent_size, dlatent_size=dlatent_size, mapping_layers=mapping_layers,
                  mapping_fmaps=dlatent_size, architecture=architecture, **(extra_kwargs or {}))
    if ada:
        kwargs["use_noise"] = use_noise

    mapping: dict[str, np.ndarray] = {}
    features = latent_size
    if label_size:
        if not ada:
            raise ValueError("the original StyleGAN2 layout concatenates labels (LabelConcat); build it by hand")
        mapping["LabelEmbed/weight"], mapping["LabelEmbed/bias"] = r.weight(label_size, latent_size), r.small(latent_size)
        features += latent_size
    for i in range(mapping_layers):  # stored / lrmul (0.01), as their layers store them, so that w is of order 1
        mapping[f"Dense{i}/weight"], mapping[f"Dense{i}/bias"] = 100 * r.weight(features, dlatent_size), 100 * r.small(dlatent_size)
        features = dlatent_size

    synthesis: dict[str, np.ndarray] = {}
    num_layers = 2 * log2 - 2
    if use_noise:
        for i in range(num_layers - 1):
            res = 2 ** ((i + 5) // 2)
            synthesis[f"noise{i}"] = r.weight(1, 1, res, res)

    def modconv(scope: str, cin: int, cout: int, k: int, noise: bool) -> None:
        synthesis[f"{scope}/weight"] = r.weight(k, k, cin, cout)
        synthesis[f"{scope}/mod_weight"] = r.weight(dlatent_size, cin)
        synthesis[f"{scope}/mod_bias"] = r.small(cin)
        if noise and use_noise:
            synthesis[f"{scope}/noise_strength"] = r.small()
        synthesis[f"{scope}/bias"] = r.small(cout)

    synthesis["4x4/Const/const"] = r.weight(1, ch[4], 4, 4)
    modconv("4x4/Conv", ch[4], ch[4], 3, True)
    if architecture == "skip":
        modconv("4x4/ToRGB", ch[4], num_channels, 1, False)
    for s in range(3, log2 + 1):
        res = 2**s
        modconv(f"{res}x{res}/Conv0_up", ch[res // 2], ch[res], 3, True)
        modconv(f"{res}x{res}/Conv1", ch[res], ch[res], 3, True)
        if architecture == "resnet":
            synthesis[f"{res}x{res}/Skip/weight"] = r.weight(1, 1, ch[res // 2], ch[res])
        if architecture == "skip" or res == resolution:
            modconv(f"{res}x{res}/ToRGB", ch[res], num_channels, 1, False)

    version = 5 if ada else 4
    components = {
        "synthesis": Network("G_synthesis", "G_synthesis" if ada else "G_synthesis_stylegan2", kwargs, synthesis, version=version),
        "mapping": Network("G_mapping", "G_mapping", {**kwargs, "dlatent_broadcast": num_layers}, mapping, version=version),
    }
    own = {"dlatent_avg": r.small(dlatent_size)}
    if not ada:
        own["lod"] = np.float32(0.0)
    return Network("G", "G_main", kwargs, own, components, version=version)


def tf_discriminator(seed: int, *, resolution: int = 32, fmap_base: int = 64, fmap_max: int = 16, label_size: int = 0,
                     num_channels: int = 3, architecture: str = "resnet", ada: bool = False, mapping_layers: int = 0,
                     mbstd_group_size: int | None = None, mbstd_num_features: int = 1) -> Network:
    """A D_stylegan2 (or StyleGAN2-ADA D_main) Network, every variable random."""
    r = _Random(seed)
    log2 = resolution.bit_length() - 1
    ch = {2**s: nf(s - 1, fmap_base, fmap_max) for s in range(1, log2 + 1)}  # ch[2] = nf(0): the dense layer
    kwargs: dict[str, Any] = dict(num_channels=num_channels, resolution=resolution, label_size=label_size,
                                  fmap_base=fmap_base, fmap_max=fmap_max, architecture=architecture)
    if mbstd_group_size is not None:
        kwargs["mbstd_group_size"] = mbstd_group_size
    if mbstd_num_features != 1:
        kwargs["mbstd_num_features"] = mbstd_num_features
    v: dict[str, np.ndarray] = {}

    def conv(scope: str, cin: int, cout: int, k: int, bias: bool = True) -> None:
        v[f"{scope}/weight"] = r.weight(k, k, cin, cout)
        if bias:
            v[f"{scope}/bias"] = r.small(cout)

    if label_size:
        if not ada:
            raise ValueError("the original StyleGAN2 D has one output per label; build it by hand")
        kwargs["mapping_layers"] = mapping_layers
        cmap = ch[2]
        v["LabelEmbed/weight"], v["LabelEmbed/bias"] = r.weight(label_size, cmap), r.small(cmap)
        for i in range(mapping_layers):
            v[f"Mapping{i}/weight"], v[f"Mapping{i}/bias"] = 10 * r.weight(cmap, cmap), 10 * r.small(cmap)  # lrmul 0.1
    for s in range(log2, 2, -1):
        res = 2**s
        if architecture == "skip" or res == resolution:
            conv(f"{res}x{res}/FromRGB", num_channels, ch[res], 1)
        conv(f"{res}x{res}/Conv0", ch[res], ch[res], 3)
        conv(f"{res}x{res}/Conv1_down", ch[res], ch[res // 2], 3)
        if architecture == "resnet":
            conv(f"{res}x{res}/Skip", ch[res], ch[res // 2], 1, bias=False)
    if architecture == "skip":
        conv("4x4/FromRGB", num_channels, ch[4], 1)
    conv("4x4/Conv", ch[4] + mbstd_num_features, ch[4], 3)
    v["4x4/Dense0/weight"], v["4x4/Dense0/bias"] = r.weight(ch[4] * 16, ch[2]), r.small(ch[2])
    outputs = ch[2] if label_size else 1
    v["Output/weight"], v["Output/bias"] = r.weight(ch[2], outputs), r.small(outputs)
    return Network("D", "D_main" if ada else "D_stylegan2", kwargs, v, version=5 if ada else 4)
