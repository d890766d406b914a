"""Using a trained Swapping Autoencoder: swap structure and texture between images, save codes and decode them.

`swap`, `encode` and `decode` are the functions behind `stylegan2 swapae swap | encode | decode`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..io import load_network
from ..io.pretrained import existing_network_file
from ..models import SwapEncoder, SwapGenerator
from ..tools.common import DEFAULT_OUTDIR, ToolError, ToolOptionError, network_device, resolve_device
from ..tools.files import (
    check_not_inputs,
    check_outputs,
    load_target_image,
    note_earlier_outputs,
    output_set,
    read_npz,
    write_npz,
)
from ..tools.mix import style_mix_grid
from ..utils.files import writing
from ..utils.image import image_grid, to_uint8_nhwc, write_png

SWAP_GRID_FILE = "swap_grid.png"
Paths = Sequence[str | os.PathLike]


def load_swapae(network: str | os.PathLike, device: str | torch.device | None = None) -> tuple[SwapEncoder, SwapGenerator]:
    """The encoder E and generator G of a Swapping Autoencoder file (a `swapae train` snapshot), in eval mode on `device`."""
    # NVIDIA's names are GANs, so none here; a run directory gets load_network's own message (its newest snapshot)
    path = existing_network_file(network, names=False)
    networks = load_network(path)
    E, G = networks.get("E"), networks.get("G")
    if not isinstance(E, SwapEncoder) or not isinstance(G, SwapGenerator):
        found = ", ".join(f"{k} ({type(v).__name__})" for k, v in sorted(networks.items())) or "nothing"
        raise ToolError(f"{path}: not a Swapping Autoencoder (found {found}); pass a snapshot of `stylegan2 swapae train` "
                        "holding E (SwapEncoder) and G (SwapGenerator)")
    target = resolve_device(device)
    return E.eval().requires_grad_(False).to(target), G.eval().requires_grad_(False).to(target)


def read_images(paths: Paths, E: SwapEncoder, option: str) -> torch.Tensor:
    """Images [N, C, H, W] in [-1, 1] at E's size and channels (converted, cropped and resized with a warning)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if not paths:
        raise ToolOptionError(f"{option}: no images given")
    resolution, channels = E.init_kwargs["img_resolution"], E.init_kwargs["img_channels"]
    arrays = []
    for path in paths:
        path = Path(path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such image file ({option})")
        arrays.append(load_target_image(path, resolution, channels))  # uint8 [H, W, C]
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
    return images.to(network_device(E), torch.float32) / 127.5 - 1


@torch.no_grad()
def encode_images(E: SwapEncoder, images: torch.Tensor, batch: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """(structure [N, spatial_code_ch, h, w], texture [N, global_code_ch]) of images in [-1, 1]."""
    codes = [E(chunk) for chunk in images.split(batch)]
    return torch.cat([s for s, _ in codes]), torch.cat([t for _, t in codes])


@torch.no_grad()
def decode_codes(G: SwapGenerator, structure: torch.Tensor, texture: torch.Tensor, batch: int = 16) -> torch.Tensor:
    """Images [N, C, H, W] from paired structure and texture codes (G's stored noise maps: deterministic)."""
    return torch.cat([G(s, t, noise_mode="const") for s, t in zip(structure.split(batch), texture.split(batch))])


def reconstruct_images(E: SwapEncoder, G: SwapGenerator, images: torch.Tensor, batch: int = 16) -> torch.Tensor:
    """G(E(x)): each image decoded from its own codes."""
    return decode_codes(G, *encode_images(E, images, batch), batch=batch)


def check_alpha(alpha: float) -> float:
    """--alpha runs from 0 (the structure image's own texture) to 1 (the texture image's)."""
    if not 0 <= alpha <= 1:
        raise ToolOptionError(f"--alpha must be between 0 and 1, got {alpha}")
    return float(alpha)


def parse_alphas(alpha: float | str | Sequence[float]) -> list[float]:
    """One --alpha, or several for a sweep: 0.5, '0,0.25,0.5', [0, 0.5, 1]; each checked by check_alpha."""
    if isinstance(alpha, str):
        try:
            values = [float(part) for part in alpha.split(",")]
        except ValueError:
            raise ToolOptionError(f"--alpha {alpha!r}: give a number from 0 to 1, or several separated by commas "
                            "(0,0.25,0.5)") from None
    else:
        values = [float(alpha)] if np.ndim(alpha) == 0 else [float(a) for a in np.asarray(alpha).ravel()]
    if not values:
        raise ToolOptionError("--alpha: give at least one value")
    return [check_alpha(value) for value in values]


def mix_textures(own: torch.Tensor, given: torch.Tensor, alpha: float) -> torch.Tensor:
    """Texture codes moved from `own` (alpha 0) to `given` (alpha 1), back on the unit sphere like the encoder's."""
    alpha = check_alpha(alpha)
    if alpha == 0:
        return own
    if alpha == 1:
        return given
    return F.normalize(torch.lerp(own, given, float(alpha)), dim=1)


@torch.no_grad()
def swap_images(E: SwapEncoder, G: SwapGenerator, structures: torch.Tensor, textures: torch.Tensor, alpha: float = 1.0,
                batch: int = 16) -> torch.Tensor:
    """Every structure image with every texture image: [S, T, C, H, W], the structure's layout in the texture's look."""
    structure_codes, own_textures = encode_images(E, structures, batch)
    _, given = encode_images(E, textures, batch)
    rows = []
    for code, own in zip(structure_codes, own_textures):
        mixed = mix_textures(own[None].expand_as(given), given, alpha)
        rows.append(decode_codes(G, code[None].expand(len(given), *code.shape), mixed, batch))
    return torch.stack(rows)


def swap(
    network: str | os.PathLike,
    structure: Paths,
    texture: Paths,
    outdir: str | os.PathLike = DEFAULT_OUTDIR,
    *,
    alpha: float | str | Sequence[float] = 1.0,
    force: bool = False,
    device: str | torch.device | None = None,
) -> list[Path]:
    """Write swap_grid.png (structures in rows, textures in columns, the inputs on the borders) and one
    swap_sII_tJJ.png per pair; returns [grid, swapped images...].

    Several alphas make a sweep (the paper's interpolation figures): swap_sII_tJJ_aKK.png per pair and alpha, and a
    grid with a row per pair: its structure image, one image per alpha, its texture image. The grid and the images
    are put in place together or none (write_set)."""
    alphas = parse_alphas(alpha)
    structure = [structure] if isinstance(structure, (str, os.PathLike)) else list(structure)
    texture = [texture] if isinstance(texture, (str, os.PathLike)) else list(texture)
    outdir = Path(outdir)
    pairs = [(i, j) for i in range(len(structure)) for j in range(len(texture))]
    sweep = [f"_a{k:02d}" for k in range(len(alphas))] if len(alphas) > 1 else [""]
    paths = [outdir / SWAP_GRID_FILE] + [outdir / f"swap_s{i:02d}_t{j:02d}{a}.png" for i, j in pairs for a in sweep]
    check_not_inputs(paths, structure, "--structure")
    check_not_inputs(paths, texture, "--texture")
    check_outputs(paths, force)
    note_earlier_outputs(paths, "swap_s*_t*.png")
    E, G = load_swapae(network, device)
    structures = read_images(structure, E, "--structure")
    textures = read_images(texture, E, "--texture")
    swapped = torch.stack([swap_images(E, G, structures, textures, a) for a in alphas], dim=2)  # [S, T, A, C, H, W]
    cells = to_uint8_nhwc(swapped.flatten(0, 2)).reshape(*swapped.shape[:3], *swapped.shape[-2:], -1)  # [S, T, A, H, W, C]
    if len(alphas) == 1:
        grid = style_mix_grid(to_uint8_nhwc(structures), to_uint8_nhwc(textures), cells[:, :, 0])
    else:  # a row per pair: structure, the sweep, texture
        rows = [np.concatenate([to_uint8_nhwc(structures[i:i + 1]), cells[i, j], to_uint8_nhwc(textures[j:j + 1])])
                for i, j in pairs]
        grid = image_grid(np.concatenate(rows), cols=len(alphas) + 2, rows=len(pairs))
    write_set(paths, [grid, *cells.reshape(-1, *cells.shape[3:])], force)
    return paths


def write_set(paths: Sequence[Path], images: Sequence[np.ndarray], force: bool) -> None:
    """Write uint8 [H, W, C] images as PNGs at `paths`, one set put in place together or none (see atomic_paths): a
    full disk or a file that appears meanwhile leaves no image of this run beside the earlier ones or another's."""
    with output_set(paths, force=force) as temps:
        for path, tmp, image in zip(paths, temps, images):
            with writing(path):
                write_png(image, tmp)


def encode(
    network: str | os.PathLike,
    images: Paths,
    out: str | os.PathLike = "codes.npz",
    *,
    force: bool = False,
    device: str | torch.device | None = None,
) -> Path:
    """Save the codes of images to an .npz: `structure` [N, C, h, w], `texture` [N, D] (float32) and `names` (the files)."""
    images = [images] if isinstance(images, (str, os.PathLike)) else list(images)
    out = Path(out)
    if out.suffix.lower() != ".npz":
        raise ToolOptionError(f"--out {out}: codes are saved as .npz; name the file like codes.npz")
    check_outputs([out], force, option="--out")
    E, _ = load_swapae(network, device)
    structure, texture = encode_images(E, read_images(images, E, "IMAGES"))
    with output_set([out], force=force) as temps, writing(out):  # a new folder goes again if this fails
        write_npz(temps[0], {"structure": structure.cpu().numpy(), "texture": texture.cpu().numpy(),
                             "names": np.array([Path(p).name for p in images])})
    return out


def read_codes(path: str | os.PathLike, G: SwapGenerator, option: str,
               *, texture_only: bool = False) -> tuple[torch.Tensor | None, torch.Tensor]:
    """(structure, texture) of a codes .npz written by `encode`, checked against G's code sizes; with `texture_only`
    (a file whose textures replace others'), (None, texture), and a structure array it may hold is not read."""
    needed = ("texture",) if texture_only else ("structure", "texture")
    path, arrays = read_npz(path, option, "codes", needed)
    missing = [key for key in needed if key not in arrays]
    if missing:
        raise ToolError(f"{path}: holds no {' or '.join(missing)} array ({option}); write codes with `stylegan2 swapae encode`")
    for name in needed:
        if not (np.issubdtype(arrays[name].dtype, np.floating) or np.issubdtype(arrays[name].dtype, np.integer)):
            raise ToolError(f"{path}: {name} codes are {arrays[name].dtype}, not numbers ({option}); "
                            "write codes with `stylegan2 swapae encode`")
    structure, texture = (None if texture_only else arrays["structure"]), arrays["texture"]
    count = len(texture) if structure is None else len(structure)
    if count == 0:
        raise ToolError(f"{path}: holds no codes (0 images) ({option}); encode at least one image")
    kw = G.init_kwargs
    size = kw["img_resolution"] >> kw["num_upsampling"]
    expected = (kw["spatial_code_ch"], size, size)
    if structure is not None and (structure.ndim != 4 or tuple(structure.shape[1:]) != expected):
        raise ToolError(f"{path}: structure codes have shape {list(structure.shape)}, but this network takes "
                        f"[N, {', '.join(map(str, expected))}] ({option}); encode with the same network")
    if texture.ndim != 2 or texture.shape[1] != kw["global_code_ch"] or len(texture) != count:
        raise ToolError(f"{path}: texture codes have shape {list(texture.shape)}, but this network takes "
                        f"[{'N' if structure is None else count}, {kw['global_code_ch']}] ({option}); encode with the same network")
    codes = []
    for name in needed:
        values = torch.from_numpy(arrays[name]).to(torch.float32)  # checked as the network gets them: 1e300 is inf in float32
        if not torch.isfinite(values).all():
            raise ToolError(f"{path}: {name} codes hold NaN or infinite values (as float32) ({option}); encode the images again")
        codes.append(values.to(network_device(G)))
    return (None, codes[0]) if texture_only else (codes[0], codes[1])


def decode(
    network: str | os.PathLike,
    codes: str | os.PathLike,
    outdir: str | os.PathLike = DEFAULT_OUTDIR,
    *,
    texture_from: str | os.PathLike | None = None,
    force: bool = False,
    device: str | torch.device | None = None,
) -> list[Path]:
    """Render saved codes as decodedNNNN.png, all put in place together or none (write_set); `texture_from` (one
    code, or one per image) replaces their textures."""
    _, G = load_swapae(network, device)
    structure, texture = read_codes(codes, G, "--codes")
    if texture_from is not None:
        _, texture = read_codes(texture_from, G, "--texture-from", texture_only=True)
        if len(texture) == 1:
            texture = texture.expand(len(structure), -1)
        elif len(texture) != len(structure):
            raise ToolError(f"--texture-from {texture_from} holds {len(texture)} texture codes but --codes {codes} holds "
                            f"{len(structure)} structures; give one texture for all, or one per structure")
    outdir = Path(outdir)
    paths = [outdir / f"decoded{i:04d}.png" for i in range(len(structure))]
    check_outputs(paths, force)
    note_earlier_outputs(paths, "decoded*.png")
    write_set(paths, to_uint8_nhwc(decode_codes(G, structure, texture)), force)
    return paths
