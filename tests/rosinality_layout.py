"""Write our networks' tensors under rosinality's stylegan2-pytorch names: the inverse of the importer,
spelled out independently so that tests can build rosinality checkpoints (a helper module, not a test)."""

from __future__ import annotations

import torch

from stylegan2.models import Discriminator, Generator

TAPS = torch.tensor([1.0, 3.0, 3.0, 1.0])
BLUR = torch.outer(TAPS, TAPS) / 64  # rosinality's make_kernel([1, 3, 3, 1])


def generator_state(G: Generator) -> dict[str, torch.Tensor]:
    """G's tensors under rosinality's names."""
    sd, out = G.state_dict(), {}
    for i in range(G.mapping.num_layers):
        out[f"style.{i + 1}.weight"] = sd[f"mapping.fc{i}.weight"]
        out[f"style.{i + 1}.bias"] = sd[f"mapping.fc{i}.bias"]
    out["input.input"] = sd["synthesis.b4.const"][None]
    layers = [("conv1", "synthesis.b4.conv1")]
    rgbs = [("to_rgb1", "synthesis.b4.torgb")]
    for k, res in enumerate(8 * 2**k for k in range(G.synthesis.img_resolution_log2 - 2)):
        layers += [(f"convs.{2 * k}", f"synthesis.b{res}.conv0"), (f"convs.{2 * k + 1}", f"synthesis.b{res}.conv1")]
        rgbs.append((f"to_rgbs.{k}", f"synthesis.b{res}.torgb"))
        out[f"convs.{2 * k}.conv.blur.kernel"] = BLUR * 4
        out[f"to_rgbs.{k}.upsample.kernel"] = BLUR * 4
    for j, (ros, ours) in enumerate(layers):
        out[f"{ros}.noise.weight"] = sd[f"{ours}.noise_strength"].reshape(1)
        out[f"{ros}.activate.bias"] = sd[f"{ours}.bias"]
        out[f"noises.noise_{j}"] = sd[f"{ours}.noise_const"][None, None]
    for ros, ours in layers + rgbs:
        out[f"{ros}.conv.weight"] = sd[f"{ours}.weight"][None]
        out[f"{ros}.conv.modulation.weight"] = sd[f"{ours}.affine.weight"]
        out[f"{ros}.conv.modulation.bias"] = sd[f"{ours}.affine.bias"]
    for ros, ours in rgbs:
        out[f"{ros}.bias"] = sd[f"{ours}.bias"].reshape(1, -1, 1, 1)
    return out


def discriminator_state(D: Discriminator) -> dict[str, torch.Tensor]:
    """D's tensors under rosinality's names."""
    sd, size = D.state_dict(), D.img_resolution
    out = {"convs.0.0.weight": sd[f"b{size}.fromrgb.weight"], "convs.0.1.bias": sd[f"b{size}.fromrgb.bias"]}
    for i, res in enumerate(D.block_resolutions, start=1):
        out[f"convs.{i}.conv1.0.weight"] = sd[f"b{res}.conv0.weight"]
        out[f"convs.{i}.conv1.1.bias"] = sd[f"b{res}.conv0.bias"]
        out[f"convs.{i}.conv2.0.kernel"] = BLUR
        out[f"convs.{i}.conv2.1.weight"] = sd[f"b{res}.conv1.weight"]
        out[f"convs.{i}.conv2.2.bias"] = sd[f"b{res}.conv1.bias"]
        out[f"convs.{i}.skip.0.kernel"] = BLUR
        out[f"convs.{i}.skip.1.weight"] = sd[f"b{res}.skip.weight"]
    for ros, ours in [("final_conv.0.weight", "b4.conv.weight"), ("final_conv.1.bias", "b4.conv.bias"),
                      ("final_linear.0.weight", "b4.fc.weight"), ("final_linear.0.bias", "b4.fc.bias"),
                      ("final_linear.1.weight", "b4.out.weight"), ("final_linear.1.bias", "b4.out.bias")]:
        out[ros] = sd[ours]
    return out
