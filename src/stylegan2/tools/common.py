"""What every tool shares: parsing seed lists, picking a device, loading G, and seeds -> latents."""

from __future__ import annotations

import copy
import os
import re
from typing import Sequence

import numpy as np
import torch

from ..io import Checkpoint, load_checkpoint
from ..io.info import NonFiniteWarning, nonfinite_summary, nonfinite_tensors, nonfinite_warning
from ..io.pretrained import existing_network_file
from ..io.rosinality import estimated_w_avg_note
from ..models import Generator
from ..models.inputs import check_truncation, is_whole_number
from ..models.synthesis import NOISE_MODES
from ..utils.device import DeviceError, same_device, select_device
from ..utils.errors import OptionError
from ..utils.notes import warn
from ..utils.text import number_ranges, plural

MAX_SEED = 2**32 - 1  # np.random.RandomState accepts seeds in [0, 2**32)
MAX_LIST = 10**6  # values one list option may expand to: a mistyped range stops with a message, not out of memory
DEFAULT_OUTDIR = "out"  # where the tools write unless told (--outdir)
DEFAULT_NOISE_MODE = "const"  # the network's stored noise maps: the same image for a seed every time, as NVIDIA's tools
DEFAULT_TRUNCATION_PSI = 1.0  # no truncation
SEEDS_OR_PROJECTED_W = "give either --seeds or --projected-w (exactly one of them)"

Network = str | os.PathLike | Generator


class ToolError(ValueError):
    """An input a tool cannot use; the message names the option or file and what to do."""


class ToolOptionError(ToolError, OptionError):
    """A tool's option or argument that is wrong in itself, before any file is read (the command line exits 2)."""


def parse_int_list(text: str, option: str, names: Sequence[str] = ()) -> list[int]:
    """'0-7,42' -> [0, 1, ..., 7, 42]; ranges are inclusive and must ascend; no duplicates. `names` are the
    option's other spellings (presets the caller reads itself), for the message about unreadable text."""
    prefix = f"{option}: " if option else ""
    shown = repr(text if len(text) <= 60 else text[:57] + "...")  # messages quote a long list shortened
    ranges: list[range] = []
    for part in text.replace(" ", "").split(","):
        match = re.fullmatch(r"(\d{1,30})(?:-(\d{1,30}))?", part)  # longer numbers: past what int() reads
        if match is None:
            also = f", or one of {', '.join(names)}" if names else ""
            what = "no value given" if not text.strip() else f"cannot read {part[:40]!r}" + (f" in {shown}" if part != text else "")
            raise ToolOptionError(f"{prefix}{what}; use numbers and ranges like 0-7,42{also}")
        start = int(match.group(1))
        stop = int(match.group(2)) if match.group(2) is not None else start
        if stop < start:
            raise ToolOptionError(f"{prefix}range {part!r} runs backwards; write it as {stop}-{start}")
        ranges.append(range(start, stop + 1))
    count = sum(r.stop - r.start for r in ranges)  # not len(): a range past sys.maxsize has no len
    if count > MAX_LIST:
        raise ToolOptionError(f"{prefix}{shown} holds {count} values, more than {MAX_LIST} at once; split it over several runs")
    values = [v for r in ranges for v in r]
    seen: set[int] = set()
    for v in values:
        if v in seen:
            raise ToolOptionError(f"{prefix}{v} is listed more than once in {shown}")
        seen.add(v)
    return values


def parse_seeds(text: str | Sequence[int], option: str = "--seeds") -> list[int]:
    """Seeds from text ('0-7,42'), a list or one int, checked to be valid NumPy seeds."""
    prefix = f"{option}: " if option else ""
    if is_whole_number(text):
        text = [int(text)]
    if isinstance(text, str):
        seeds = parse_int_list(text, option)
    else:
        items = list(text) if isinstance(text, (Sequence, np.ndarray)) else None
        if items is None or not all(is_whole_number(s) for s in items):
            raise ToolOptionError(f"{prefix}seeds are whole numbers: a list of ints, one int or text such as '0-7,42', got {text!r}")
        seeds = [int(s) for s in items]  # 1.7 is not seed 1
    if not seeds:
        raise ToolOptionError(f"{prefix}no seeds given")
    return [check_seed(s, option) for s in seeds]


def check_seed(seed: object, option: str = "") -> int:
    """One seed, as an int, if NumPy's RandomState takes it: a whole number in 0..MAX_SEED; else a ToolOptionError
    that names `option` ('' names none)."""
    prefix = f"{option}: " if option else ""
    if not is_whole_number(seed):
        raise ToolOptionError(f"{prefix}seed {seed!r} is not a whole number in 0..{MAX_SEED}; pass an int")
    if not 0 <= seed <= MAX_SEED:
        raise ToolOptionError(f"{prefix}seed {seed} is outside 0..{MAX_SEED}")
    return int(seed)


def parse_grid(text: str | Sequence[int], option: str = "--grid") -> tuple[int, int]:
    """'4x2' or (4, 2) -> (columns 4, rows 2)."""
    prefix = f"{option}: " if option else ""
    if isinstance(text, str):
        match = re.fullmatch(r"(\d+)x(\d+)", text.strip().lower())
        if match is None:
            raise ToolOptionError(f"{prefix}expected COLSxROWS such as 4x2, got {text!r}")
        cols, rows = int(match.group(1)), int(match.group(2))
    elif isinstance(text, Sequence) and len(text) == 2 and all(is_whole_number(n) for n in text):
        cols, rows = (int(n) for n in text)
    else:
        raise ToolOptionError(f"{prefix}expected COLSxROWS such as '4x2' or (columns, rows) such as (4, 2), got {text!r}")
    if cols < 1 or rows < 1:
        raise ToolOptionError(f"{prefix}columns and rows must be at least 1, got {cols}x{rows}")
    return cols, rows


def resolve_device(device: str | torch.device | None) -> torch.device:
    """The requested device (default: CUDA when available), checked as every command checks --device."""
    try:
        return select_device(device)
    except DeviceError as err:  # a device name that names none is the argument's fault, a missing GPU the machine's
        raise (ToolOptionError if isinstance(err, OptionError) else ToolError)(str(err)) from None


def load_generator(
    network: Network, device: str | torch.device | None = None, *, truncation_psi: float = DEFAULT_TRUNCATION_PSI,
    refuse_nonfinite: str | None = None,
) -> Generator:
    """G in eval mode on `device`: a Generator as given, or G_ema (else G) from any file `load_network` reads.

    A Generator passed in is left as it is (the caller may be training it, or keep it on a GPU): a copy is used
    when it is in training mode or on another device than `device`. With `truncation_psi` != 1, a file that
    stores no average w (rosinality's training checkpoints) gets a warning: truncation uses our estimate.
    A file's weights holding NaN or Inf get a warning; with `refuse_nonfinite`, what such a network cannot give
    ('there is nothing to export'), they are refused (ToolError), a Generator's passed in as well.
    """
    if isinstance(network, Generator):
        if refuse_nonfinite is not None:
            _check_finite(network, "G", "the Generator", refuse_nonfinite)
        target = resolve_device(device) if device is not None else network_device(network)
        if network.training or not same_device(network_device(network), target):
            network = copy.deepcopy(network)
        return network.eval().to(target)
    if isinstance(network, torch.nn.Module):
        raise ToolError(f"expected a Generator, got a {type(network).__name__}")
    if isinstance(network, dict):
        raise ToolError("expected a Generator or a network file, got a dict of networks; pass one of them, e.g. nets['G_ema']")
    if isinstance(network, Checkpoint):
        raise ToolError("expected a Generator or a network file, got a Checkpoint; pass its generator, e.g. "
                        "checkpoint.networks['G_ema']")
    path = existing_network_file(network)  # a URL or NVIDIA's network name: downloaded once
    checkpoint = load_checkpoint(path)
    networks = checkpoint.networks
    G = networks.get("G_ema") if networks.get("G_ema") is not None else networks.get("G")
    if G is None:
        found = ", ".join(sorted(k for k, v in networks.items() if v is not None)) or "nothing"
        raise ToolError(f"{path}: holds no network named G_ema or G (found: {found}); pass a file with one of them "
                        "(save_network(path, {'G_ema': G}) writes one)")
    if not isinstance(G, Generator):
        raise ToolError(f"{path}: its generator is a {type(G).__name__}, not a stylegan2 Generator")
    if networks.get("G_ema") is None:  # G's images differ from the averaged G_ema's that files usually give
        warn(f"{path}: holds no G_ema; using G, the generator without weight averaging")
    name = "G_ema" if networks.get("G_ema") is not None else "G"
    if truncation_psi != 1 and name in checkpoint.w_avg_estimated:  # the outputs depend on the estimate
        warn(estimated_w_avg_note(path))
    _check_finite(G, name, path, refuse_nonfinite)
    return G.eval().requires_grad_(False).to(resolve_device(device))


def _check_finite(G: Generator, name: str, where: str | os.PathLike, refuse: str | None) -> None:
    """Warn of weights holding NaN or Inf, named as in the file (`name`: G_ema or G), whose images are NaN (written as
    black); with `refuse` (what such a network cannot give), refuse them."""
    bad = nonfinite_tensors({name: G})
    if bad and refuse is not None:
        raise ToolError(f"{where}: {nonfinite_summary(bad)}; its images are NaN, so {refuse}")
    if bad:
        warn(f"{where}: {nonfinite_warning(bad)}", NonFiniteWarning)


def network_device(module: torch.nn.Module) -> torch.device:
    """The device a network's weights live on (inputs are moved there)."""
    return next(module.parameters()).device


def seed_latent(G: Generator, seed: int) -> torch.Tensor:
    """z [1, z_dim] for a seed, drawn exactly as NVIDIA's generate.py draws it (so images match theirs)."""
    z = np.random.RandomState(check_seed(seed)).randn(1, G.z_dim)
    return torch.from_numpy(z).to(device=network_device(G), dtype=torch.float32)


ClassArg = int | Sequence[int] | str | None  # --class: one class index, or (generate) several: [0, 3] or '0-9'
Label = Sequence[float] | str | None  # --label: a label vector of c_dim numbers, [0.5, 0, 1] or '0.5,0,1'


def parse_classes(class_idx: ClassArg, option: str = "--class") -> list[int | None]:
    """The classes --class names, in order: [None] for none, [3] for 3, [0, ..., 9] for '0-9' or range(10)."""
    if class_idx is None:
        return [None]
    if isinstance(class_idx, str):
        return list(parse_int_list(class_idx, option))
    if is_whole_number(class_idx):
        return [int(class_idx)]
    items = list(class_idx) if isinstance(class_idx, (Sequence, np.ndarray)) else None
    if not items or not all(is_whole_number(c) for c in items):
        raise ToolOptionError(f"{option} must be a whole number, or (for generate) several as [0, 3] or '0-9', "
                              f"got {class_idx!r}")
    if len(set(items)) < len(items):
        raise ToolOptionError(f"{option} {items!r} names a class more than once")
    return [int(c) for c in items]


def class_text(classes: Sequence[int | None]) -> str:
    """How the command line writes these classes: '3', '0-9', '1,3'."""
    return number_ranges([c for c in classes if c is not None])


def one_class(class_idx: ClassArg, hint: str, option: str = "--class") -> int | None:
    """A tool's single class: a list of several is refused, saying why (`hint`): an argument error, raised before the
    network is read."""
    classes = parse_classes(class_idx, option)
    if len(classes) > 1:
        raise ToolOptionError(f"{option} {class_text(classes)}: {hint}")
    return classes[0]


def parse_label(label: Label, option: str = "--label") -> list[float] | None:
    """--label (or `option`, such as mix's --col-label) as floats ('0.5,0,1' or numbers), each finite as the float32
    the network takes (1e39 is infinite there, and its image all black); None stays None. Its length is the network's
    to check."""
    if label is None:
        return None
    try:
        values = [float(v) for v in (label.split(",") if isinstance(label, str) else label)]
    except (TypeError, ValueError):
        values = None
    if not values:
        raise ToolOptionError(f"{option}: cannot read {label!r}; give the label vector's numbers separated by commas, "
                              f"e.g. {option} 0.5,0,1")
    with np.errstate(over="ignore"):  # the overflow is the finding, said below
        as_float32 = np.asarray(values, dtype=np.float32)
    if not np.isfinite(as_float32).all():
        raise ToolOptionError(f"{option} {label!r}: holds NaN or infinite values; give finite numbers")
    return values


def check_label_options(class_idx: ClassArg, label: Label, option: str = "--class",
                        label_option: str = "--label") -> list[float] | None:
    """--class and --label (or mix's --col-class and --col-label) both give a conditional network's label: one of
    them at most (an argument error)."""
    values = parse_label(label, label_option)
    if values is not None and class_idx is not None:
        raise ToolOptionError(f"{option} and {label_option} both give the label; pass one of them ({option} K is the "
                              "one-hot vector of class K)")
    return values


def class_label(G: Generator, class_idx: int | None, label: Label = None, option: str = "--class",
                label_option: str = "--label") -> torch.Tensor | None:
    """c [1, c_dim] for a conditional G: one-hot for class_idx (`option`, --class), or the vector `label` as given
    (`label_option`, --label, for networks trained on label vectors); None for an unconditional G. Checks both
    against G.

    A network trained on clusters (`--clusters`) takes --class as a cluster, and without it draws one from z (None).
    """
    if class_idx is not None and not is_whole_number(class_idx):  # one class here; the tools read lists and text
        raise ToolOptionError(f"{option} must be a whole number, got {class_idx!r}")
    values = check_label_options(class_idx, label, option, label_option)
    if values is not None:
        return label_vector(G, values, label_option, option)
    if G.c_dim == 0:
        if class_idx is not None:
            raise ToolError(f"{option} {class_idx}: this network is unconditional (no class labels); drop it")
        return None
    if class_idx is None and G.mapping.draws_labels:
        return None
    if G.label_kind == "vectors":
        raise ToolError(vectors_only(G, class_text([class_idx]), option, label_option))
    if class_idx is None:
        raise ToolError(f"this network is conditional with {G.c_dim} classes: choose one with --class "
                        f"0..{G.c_dim - 1} (or give its label vector of {G.c_dim} numbers with --label)")
    if not 0 <= class_idx < G.c_dim:
        raise ToolError(f"{option} {class_idx} is out of range: this network has classes 0..{G.c_dim - 1}")
    c = torch.zeros([1, G.c_dim], device=network_device(G))
    c[0, class_idx] = 1
    return c


def vectors_only(G: Generator, classes: str, option: str = "--class", label_option: str = "--label") -> str:
    """The message for a network trained on label vectors (`G.label_kind`) given the classes `classes` ('' for
    none): it takes a vector only, which `label_option` gives."""
    shape = ",".join(f"V{i}" for i in range(1, G.c_dim + 1)) if G.c_dim <= 3 else f"V1,...,V{G.c_dim}"
    given = f"{option} {classes}: " if classes else ""
    kind = f"label vectors of {plural(G.c_dim, 'number')}"
    return f"{given}this network was trained on {kind}{', not classes' if classes else ''}; give one with {label_option} {shape}"


def label_vector(G: Generator, values: Sequence[float], option: str = "--label",
                 class_option: str = "--class") -> torch.Tensor:
    """c [1, c_dim] from --label's numbers (or `option`'s, whose class is `class_option`): a conditional network that
    was not trained on clusters, c_dim of them."""
    if G.c_dim == 0:
        raise ToolError(f"{option}: this network is unconditional (no labels); drop it")
    if G.mapping.draws_labels:
        raise ToolError(f"{option}: this network was trained on clusters, which are classes; pick one with {class_option} "
                        f"0..{G.c_dim - 1}, or leave both out to draw one per seed")
    if len(values) != G.c_dim:
        raise ToolError(f"{option} gives {plural(len(values), 'value')}, but this network's labels have {G.c_dim} "
                        f"(c_dim); give {G.c_dim} numbers separated by commas")
    return torch.tensor([list(values)], dtype=torch.float32, device=network_device(G))


def check_fps(fps: float) -> None:
    """A video's frame rate: a positive, finite number."""
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps < float("inf"):
        raise ToolOptionError(f"--fps {fps!r}: must be a positive number")


def check_psi(truncation_psi: float) -> float:
    """truncation_psi (--trunc) checked as the mapping network checks it, before any work."""
    try:
        check_truncation(truncation_psi, None)
    except (TypeError, ValueError) as err:
        raise ToolOptionError(f"--trunc: {err}") from None
    return float(truncation_psi)


def check_noise_mode(noise_mode: str) -> str:
    """Reject unknown noise modes by name."""
    if noise_mode not in NOISE_MODES:
        raise ToolOptionError(f"--noise-mode must be one of {', '.join(NOISE_MODES)}, got {noise_mode!r}")
    return noise_mode


def check_truncation_cutoff(G: Generator, truncation_cutoff: int | None) -> int | None:
    """The cutoff counts ws from the coarsest layer; it must lie within 0..num_ws."""
    if truncation_cutoff is None:
        return None
    if not is_whole_number(truncation_cutoff):
        raise ToolOptionError(f"--trunc-cutoff must be a whole number or None, got {truncation_cutoff!r}")
    if not 0 <= truncation_cutoff <= G.num_ws:
        raise ToolError(f"--trunc-cutoff {truncation_cutoff} is out of range: this network has "
                        f"{G.num_ws} ws (0..{G.num_ws})")
    return truncation_cutoff


def check_inputs(G: Generator, class_idx: ClassArg = None, truncation_cutoff: int | None = None,
                 label: Label = None) -> None:
    """Validate the class (or several, for generate), the label vector and truncation_cutoff against the network
    before any work is done."""
    classes = parse_classes(class_idx)
    if G.c_dim == 0 and classes != [None]:  # one line for --class 0-9, not one about class 0
        raise ToolError(f"--class {class_text(classes)}: this network is unconditional (no class labels); drop it")
    if G.label_kind == "vectors" and classes != [None]:
        raise ToolError(vectors_only(G, class_text(classes)))
    for c in classes:
        class_label(G, c, label)
    check_truncation_cutoff(G, truncation_cutoff)


def seed_ws(
    G: Generator,
    seed: int,
    truncation_psi: float = DEFAULT_TRUNCATION_PSI,
    truncation_cutoff: int | None = None,
    class_idx: int | None = None,
    label: Label = None,
) -> torch.Tensor:
    """ws [1, num_ws, w_dim] for a seed (mapping of its z, truncated toward w_avg), of class `class_idx` or with the
    label vector `label`."""
    z = seed_latent(G, seed)
    return G.mapping(z, class_label(G, class_idx, label), truncation_psi=check_psi(truncation_psi),
                     truncation_cutoff=check_truncation_cutoff(G, truncation_cutoff))

