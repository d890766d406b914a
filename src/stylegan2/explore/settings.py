"""What the page sends, checked: query parameters -> `GanSettings` / `SwapSettings`, with errors naming the parameter."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Collection, Mapping

from ..tools.common import MAX_SEED, NOISE_MODES, ToolError, parse_label
from ..tools.mix import default_styles
from ..utils.text import number_ranges

MAX_STRENGTH = 100.0  # |psi| and |direction strength| beyond this only produce noise
MAX_SHOWN = 40  # characters of a bad value quoted back in an error message
MAX_IMAGES = 64  # images a Swapping Autoencoder explorer holds at once, so memory stays bounded (see swap.py)
MAX_DIGITS = 30  # a longer whole number is out of every range here (and past what int() reads unasked)
WHOLE_NUMBER = re.compile(r"-?[0-9]+")  # ASCII digits only: not '+5', '1_000' or another script's digits
DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")  # as JavaScript writes numbers


class SettingsError(ToolError):
    """A request parameter the explorer cannot use; the message names the parameter and what is allowed."""


@dataclass(frozen=True)
class GanSettings:
    """Everything that decides one image of a GAN: the seed's w, its truncation, mixing and direction moves."""

    seed: int = 0
    projected: int | None = None  # which w of the explorer's --projected-w file the image starts from (not the seed's)
    truncation_psi: float = 1.0
    truncation_cutoff: int | None = None  # truncate only the first N ws; None = all
    class_idx: int | None = None
    noise_mode: str = "const"
    mix_seed: int | None = None  # the second seed, whose ws replace those listed in mix_styles
    mix_styles: str = ""  # ws indices such as '0-3', or coarse / middle / fine / all; '' = no mixing
    # the second seed's class when it differs from class_idx (cross-class mixing); None: class_idx, or when that is
    # None too, on a network trained on clusters, a cluster the second seed draws itself
    mix_class: int | None = None
    # a network trained on label vectors (`Generator.label_kind`) takes them in place of classes: `label` for the
    # seed (c_dim numbers), `mix_label` for the second seed when it differs from `label` (None: `label`)
    label: tuple[float, ...] | None = None
    mix_label: tuple[float, ...] | None = None
    strengths: tuple[float, ...] = ()  # how far to move along each direction, strongest direction first


@dataclass(frozen=True)
class SwapSettings:
    """One Swapping Autoencoder result: the structure image, the texture image and how much texture to take."""

    structure: int = 0  # image ids of the explorer's image list
    texture: int = 0
    alpha: float = 1.0


def shorten(text: str) -> str:
    """`text` shortened for an error message: a request may send a value of megabytes."""
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 3] + "..."


def _text(query: Mapping[str, str], name: str) -> str:
    """The parameter `name` with surrounding spaces dropped ('' when absent), the same for every parameter."""
    return query.get(name, "").strip()


def _integer(query: Mapping[str, str], name: str, low: int, high: int, default: int | None) -> int | None:
    """The whole number `name` in low..high (`default` when empty), written in plain digits."""
    text = _text(query, name)
    if not text:
        return default
    if not WHOLE_NUMBER.fullmatch(text):
        raise SettingsError(f"{name}: {shorten(text)!r} is not a whole number; use digits 0-9")
    if len(text.lstrip("-")) > MAX_DIGITS or not low <= int(text) <= high:
        raise SettingsError(f"{name}: {shorten(text)} is out of range; use {low}..{high}")
    return int(text)


def _number(query: Mapping[str, str], name: str, low: float, high: float, default: float) -> float:
    """The finite decimal number `name` in [low, high] (`default` when empty)."""
    text = _text(query, name)
    if not text:
        return default
    if not DECIMAL.fullmatch(text):
        raise SettingsError(f"{name}: {shorten(text)!r} is not a number")
    value = float(text)  # 1e400 reads as inf: out of range below
    if not math.isfinite(value) or not low <= value <= high:
        raise SettingsError(f"{name}: {shorten(text)} is out of range; use a number from {low:g} to {high:g}")
    return value


def as_parameter(err: ToolError, name: str, text: str | None = None) -> SettingsError:
    """A tools' message about the option `name` ('label: cannot read...', "label '1,nan': holds...") worded as the
    explorer's about the parameter `name` ('name: ...'), the value `text` quoted short."""
    message = str(err)
    if text:
        message = message.replace(repr(text), repr(shorten(text)))
    return SettingsError(f"{name}: {message.removeprefix(name).removeprefix(':').lstrip()}")


def _label(query: Mapping[str, str], name: str) -> tuple[float, ...] | None:
    """The label vector `name` ('0.5,0,1'), read as the tools read --label (None when empty); its length is the
    network's to check (see GanExplorer.parse)."""
    text = _text(query, name)
    if not text:
        return None
    try:
        return tuple(parse_label(text, name))
    except ToolError as err:
        raise as_parameter(err, name, text) from None


def _reject_unknown(query: Mapping[str, str], known: set[str]) -> None:
    """Refuse a parameter the explorer does not read, rather than render as if it were absent."""
    unknown = sorted(set(query) - known)
    if unknown:
        raise SettingsError(f"unknown parameter {shorten(unknown[0])!r}; the explorer takes {', '.join(sorted(known))}")


def default_mix_styles(num_ws: int) -> str:
    """The ws a second seed gives when no mix_styles are named, as `stylegan2 mix` and the page take them."""
    return number_ranges(default_styles(num_ws))


def parse_gan_settings(
    query: Mapping[str, str], num_ws: int, c_dim: int, num_directions: int, draws_labels: bool = False,
    num_projected: int = 0, label_vectors: bool = False,
) -> GanSettings:
    """Check a render request against the network: seeds in NumPy's range, class present iff conditional (and the
    image comes from a seed's w), etc.

    `draws_labels`: the network was trained on clusters, so a class (cluster) is optional.
    `num_projected`: the ws of the explorer's --projected-w file; the image starts from one of them (parameter `w`)
    instead of a seed's w.
    `label_vectors`: the network was trained on label vectors, so it takes `label` (and `mix_label`) in place of
    `class` (and `mix_class`).
    """
    strength_names = [f"d{i}" for i in range(num_directions)]
    start = "w" if num_projected else "seed"
    other = "seed" if num_projected else "w"
    if _text(query, other):
        raise SettingsError("seed: this explorer starts from the ws of --projected-w; choose one with "
                            f"w=0..{num_projected - 1}" if num_projected else
                            "w: this explorer starts from seeds (start it with --projected-w to use a projected w)")
    _reject_unknown(query, {start, "psi", "cutoff", "class", "noise", "mix_seed", "mix_styles", "mix_class", "label",
                            "mix_label", *strength_names})
    if not _text(query, start):
        raise SettingsError(f"w: missing; give w in 0..{num_projected - 1}" if num_projected else
                            f"seed: missing; give a seed in 0..{MAX_SEED}")
    if not c_dim and _text(query, "class"):  # before the range check, which would offer 0..0
        raise SettingsError("class: this network is unconditional (no class labels); leave class out")
    mix_seed = _integer(query, "mix_seed", 0, MAX_SEED, None)
    label, mix_label = _labels(query, c_dim, label_vectors, mix_seed, num_projected)
    class_idx = _integer(query, "class", 0, max(c_dim - 1, 0), None)
    if c_dim and class_idx is None and not draws_labels and not label_vectors and (not num_projected or mix_seed is not None):
        # a projected w holds its class: only a seed's w (the start, or the seed mixed in) needs one
        raise SettingsError(f"class: missing; this network is conditional, choose a class in 0..{c_dim - 1}"
                            + (" for mix_seed" if num_projected else ""))
    noise_mode = _text(query, "noise") or "const"
    if noise_mode not in NOISE_MODES:
        raise SettingsError(f"noise: {shorten(noise_mode)!r} is not a noise mode; use one of {', '.join(NOISE_MODES)}")
    mix_styles = _text(query, "mix_styles")
    if mix_styles and mix_seed is None:
        raise SettingsError("mix_styles: needs mix_seed, the seed whose styles are mixed in")
    if mix_seed is not None and not mix_styles:
        mix_styles = default_mix_styles(num_ws)  # as the page and `stylegan2 mix` do
    mix_class = _mix_class(query, c_dim, mix_seed, num_projected)
    if mix_class == class_idx:  # the same image as without it: one w-file name and command for both
        mix_class = None
    return GanSettings(
        seed=_integer(query, "seed", 0, MAX_SEED, 0),
        projected=_integer(query, "w", 0, num_projected - 1, None) if num_projected else None,
        truncation_psi=_number(query, "psi", -MAX_STRENGTH, MAX_STRENGTH, 1.0),
        truncation_cutoff=_integer(query, "cutoff", 0, num_ws, None),
        class_idx=class_idx,
        noise_mode=noise_mode,
        mix_seed=mix_seed,
        mix_styles=mix_styles,
        mix_class=mix_class,
        label=label,
        mix_label=mix_label,
        strengths=tuple(_number(query, name, -MAX_STRENGTH, MAX_STRENGTH, 0.0) for name in strength_names),
    )


def _labels(query: Mapping[str, str], c_dim: int, label_vectors: bool, mix_seed: int | None,
            num_projected: int) -> tuple[tuple[float, ...] | None, tuple[float, ...] | None]:
    """The label vectors of the seed and of the second seed (None: the seed's), checked: only for a network trained
    on label vectors, which takes no class; needed where a seed's w is (as a class is on other networks)."""
    if not label_vectors:
        for name, other in (("label", "class"), ("mix_label", "mix_class")):
            if _text(query, name):
                raise SettingsError(f"{name}: this network is unconditional (no labels); leave {name} out" if not c_dim
                                    else f"{name}: this network takes classes, not label vectors; use {other}")
        return None, None
    shape = f"{c_dim} numbers separated by commas"
    for name, other in (("class", "label"), ("mix_class", "mix_label")):
        if _text(query, name):
            raise SettingsError(f"{name}: this network was trained on label vectors, not classes; give {other} "
                                f"({shape}) instead")
    label = _label(query, "label")
    if label is None and (not num_projected or mix_seed is not None):
        raise SettingsError(f"label: missing; this network was trained on label vectors, give {shape}"
                            + (" for mix_seed" if num_projected else ""))
    mix_label = _label(query, "mix_label")
    if mix_label is not None and mix_seed is None:
        raise SettingsError("mix_label: needs mix_seed, the seed it is the label of")
    if mix_label is not None and num_projected:
        raise SettingsError("mix_label: starting from a projected w, label is already the second seed's; use label")
    return label, None if mix_label == label else mix_label  # the same image as without it: one name for both


def _mix_class(query: Mapping[str, str], c_dim: int, mix_seed: int | None, num_projected: int) -> int | None:
    """The second seed's own class (None: the first seed's), checked: only for a conditional network's mixing."""
    if not _text(query, "mix_class"):
        return None
    if not c_dim:
        raise SettingsError("mix_class: this network is unconditional (no class labels); leave mix_class out")
    if mix_seed is None:
        raise SettingsError("mix_class: needs mix_seed, the seed it is the class of")
    if num_projected:
        raise SettingsError("mix_class: starting from a projected w, class is already the second seed's; use class")
    return _integer(query, "mix_class", 0, c_dim - 1, None)


def parse_swap_settings(query: Mapping[str, str], ids: Collection[int], issued: int | None = None) -> SwapSettings:
    """Check a swap request: both image ids name images the explorer holds (`ids`), alpha lies in [0, 1].

    `issued`: how many ids the explorer has given out; an id below it that is not held was replaced by a newer
    upload, and the message says so (an id is never given twice, so an old address never shows another image)."""
    _reject_unknown(query, {"structure", "texture", "alpha"})
    if not ids:
        raise SettingsError("no images yet: upload a structure and a texture image")
    held = number_ranges(sorted(ids))
    for name in ("structure", "texture"):
        if not _text(query, name):
            raise SettingsError(f"{name}: missing; give an image id the explorer holds: {held}")
    structure, texture = (_held_id(query, name, ids, held, issued) for name in ("structure", "texture"))
    return SwapSettings(structure=structure, texture=texture, alpha=_number(query, "alpha", 0.0, 1.0, 1.0))


def _held_id(query: Mapping[str, str], name: str, ids: Collection[int], held: str, issued: int | None) -> int:
    """The image id `name`, checked against the ids held (`held`: them as ranges, for the message)."""
    text = _text(query, name)
    if not WHOLE_NUMBER.fullmatch(text):
        raise SettingsError(f"{name}: {shorten(text)!r} is not a whole number; give an image id the explorer holds: {held}")
    value = int(text) if len(text.lstrip("-")) <= MAX_DIGITS else None
    if value is None or value not in ids:
        raise SettingsError(f"{name}: {missing_image(shorten(text), held, value is not None and 0 <= value < (issued or 0))}")
    return value


def missing_image(image_id: int | str, held: str, replaced: bool = False) -> str:
    """Why image `image_id` cannot be used, naming the ids held (`held`, as ranges such as '0-4,9'); `replaced`: it
    was held, and a newer upload took its place."""
    why = f" (a newer upload replaced it: the explorer keeps at most {MAX_IMAGES} images)" if replaced else ""
    return f"no image {image_id} here{why}; the explorer holds images {held}"
