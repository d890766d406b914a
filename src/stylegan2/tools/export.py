"""Export a generator as a standalone graph (ONNX or TorchScript) that runs without this package.

The graph is traced on the CPU in eval mode with the truncation psi, noise mode and modulated-convolution
form baked in, then run once in its own runtime (onnxruntime or torch.jit.load) and compared with
PyTorch before this returns. See docs/checkpoints.md, "Exporting (ONNX, TorchScript)".
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch
from torch import nn

from ..io.pretrained import network_name
from ..models import Generator
from .common import (
    DEFAULT_NOISE_MODE,
    DEFAULT_TRUNCATION_PSI,
    Network,
    ToolError,
    ToolOptionError,
    check_psi,
    load_generator,
)
from .files import check_outputs, failed_write, unchanged, write_atomically

EXPORT_FORMATS = ("onnx", "torchscript")
EXPORT_NOISE_MODES = ("const", "none")  # random noise cannot be reproduced, so it is not exported
SUFFIXES = {"onnx": ".onnx", "torchscript": ".torchscript.pt"}  # never a network's own name (rosinality's are .pt)
OUTPUT_SUFFIXES = {"onnx": (".onnx",), "torchscript": (".pt", ".pth")}  # what other tools expect each format named
FORMAT_NAMES = {"onnx": "ONNX", "torchscript": "TorchScript"}
EXPORT_EXTRA_HINT = "ONNX export needs onnx and onnxruntime: pip install \"stylegan2[export]\""
ONNX_OPSET = 17
MAX_ABS_DIFF = 1e-4  # the exported graph must reproduce PyTorch's images to this tolerance


@dataclass(frozen=True)
class ExportResult:
    """Where the graph went, its input names, and how far its images were from PyTorch's on the check."""

    path: Path
    input_names: tuple[str, ...]
    max_abs_diff: float


class GeneratorGraph(nn.Module):
    """z [N, z_dim] (and c [N, c_dim] for a conditional G) -> images [N, C, H, W], settings baked in."""

    def __init__(self, G: Generator, truncation_psi: float, noise_mode: str, fused_modconv: bool) -> None:
        super().__init__()
        self.G = G
        self.truncation_psi = float(truncation_psi)
        self.noise_mode = noise_mode
        self.fused_modconv = fused_modconv

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.G(z, c, truncation_psi=self.truncation_psi, noise_mode=self.noise_mode, force_fp32=True,
                      fused_modconv=self.fused_modconv)


class SynthesisGraph(nn.Module):
    """ws [N, num_ws, w_dim] -> images [N, C, H, W]: the synthesis network alone (truncation happens before ws)."""

    def __init__(self, G: Generator, noise_mode: str, fused_modconv: bool) -> None:
        super().__init__()
        self.synthesis = G.synthesis
        self.noise_mode = noise_mode
        self.fused_modconv = fused_modconv

    def forward(self, ws: torch.Tensor) -> torch.Tensor:
        return self.synthesis(ws, noise_mode=self.noise_mode, force_fp32=True, fused_modconv=self.fused_modconv)


def parse_batch(batch: int | str) -> int | None:
    """'dynamic' -> None (any batch size); a positive integer (or its text) -> that fixed batch size."""
    if isinstance(batch, str) and batch.strip().lower() == "dynamic":
        return None
    try:
        value = int(batch)
    except (TypeError, ValueError):
        raise ToolOptionError(f"--batch: expected a positive integer or 'dynamic', got {batch!r}") from None
    if value < 1:
        raise ToolOptionError(f"--batch: expected a positive integer or 'dynamic', got {value}")
    return value


def check_export_options(format: str, noise_mode: str, fused_modconv: bool, batch: int | None) -> None:
    """Refuse, before any work, the settings a standalone graph cannot honour."""
    if format not in EXPORT_FORMATS:
        raise ToolOptionError(f"--format must be one of {', '.join(EXPORT_FORMATS)}, got {format!r}")
    if noise_mode == "random":
        raise ToolOptionError("--noise-mode random: an exported graph cannot reproduce our random noise; export with const "
                        "(the network's stored noise maps) or none")
    if noise_mode not in EXPORT_NOISE_MODES:
        raise ToolOptionError(f"--noise-mode must be one of {', '.join(EXPORT_NOISE_MODES)}, got {noise_mode!r}")
    if fused_modconv and batch is None:
        raise ToolOptionError("--fused-modconv bakes the batch size into grouped convolutions; give a fixed --batch N, "
                        "or drop --fused-modconv to export with --batch dynamic")


def require_onnx() -> None:
    """Import onnx and onnxruntime, or fail with one line naming the extra that installs them."""
    for name in ("onnx", "onnxruntime"):
        try:
            importlib.import_module(name)
        except ImportError:
            raise ToolError(f"{EXPORT_EXTRA_HINT} ({name} is not installed)") from None


def graph_module(G: Generator, truncation_psi: float = DEFAULT_TRUNCATION_PSI, noise_mode: str = DEFAULT_NOISE_MODE,
                 fused_modconv: bool = False, synthesis_only: bool = False) -> nn.Module:
    """The module that is traced: G from z (and c), or its synthesis network from ws."""
    if synthesis_only:
        return SynthesisGraph(G, noise_mode, fused_modconv).eval()
    return GeneratorGraph(G, truncation_psi, noise_mode, fused_modconv).eval()


def example_inputs(G: Generator, batch: int, synthesis_only: bool = False, seed: int = 0) -> dict[str, torch.Tensor]:
    """Named inputs of the exported graph: {'ws'}, {'z'} or {'z', 'c'} (one-hot labels)."""
    generator = torch.Generator().manual_seed(seed)
    if synthesis_only:
        return {"ws": torch.randn(batch, G.num_ws, G.w_dim, generator=generator)}
    inputs = {"z": torch.randn(batch, G.z_dim, generator=generator)}
    if G.c_dim > 0:
        labels = torch.randint(G.c_dim, (batch,), generator=generator)
        inputs["c"] = nn.functional.one_hot(labels, G.c_dim).to(torch.float32)
    return inputs


def default_output(network: Network, format: str, synthesis_only: bool) -> Path:
    """NET.onnx / NET.torchscript.pt in the current folder (NET-synthesis.* for the synthesis network alone), as the
    other tools write to the current folder's out/: never into a downloaded network's cache or a shared folder."""
    if isinstance(network, nn.Module):
        raise ToolOptionError("--output is required when exporting a Generator object")
    name = network_name(Path(str(network).split("?", 1)[0].rstrip("/")))  # a path's, a URL's or its cached copy's
    stem = Path(name).stem + ("-synthesis" if synthesis_only else "")
    return Path(stem + SUFFIXES[format])


@torch.no_grad()
def export_generator(
    network: Network,
    output: str | os.PathLike | None = None,
    *,
    format: str = "onnx",
    truncation_psi: float = DEFAULT_TRUNCATION_PSI,
    noise_mode: str = DEFAULT_NOISE_MODE,
    fused_modconv: bool = False,
    synthesis_only: bool = False,
    batch: int | str = 1,
    force: bool = False,
) -> ExportResult:
    """Export G_ema (else G) of any network file `load_network` reads as an ONNX or TorchScript graph.

    batch='dynamic' gives a graph for any batch size; an integer fixes it (needed by fused_modconv, whose
    grouped convolutions have one group per sample). Raises ToolError if the graph's images differ from
    PyTorch's by more than MAX_ABS_DIFF.
    """
    fixed_batch = parse_batch(batch)
    truncation_psi = check_psi(truncation_psi)
    check_export_options(format, noise_mode, fused_modconv, fixed_batch)
    if format == "onnx":
        require_onnx()
    if synthesis_only and truncation_psi != 1:
        raise ToolOptionError("--trunc truncates in the mapping network, which --synthesis-only leaves out; truncate "
                        "the ws you feed it (w_avg + psi * (ws - w_avg)), or export the whole generator")
    path = Path(output).expanduser() if output is not None else default_output(network, format, synthesis_only)
    if path.suffix.lower() not in OUTPUT_SUFFIXES[format]:
        named = " or ".join(OUTPUT_SUFFIXES[format])
        raise ToolOptionError(f"--output {path}: name the {FORMAT_NAMES[format]} file {named}, as the tools that read it "
                        f"expect (e.g. {path.with_name(path.stem + SUFFIXES[format])})")
    if not isinstance(network, nn.Module) and path.resolve() == Path(network).expanduser().resolve():
        raise ToolError(f"--output {path} is the network file itself; choose another --output")
    check_outputs([path], force, option="--output")
    G = load_generator(network, device="cpu", truncation_psi=truncation_psi, refuse_nonfinite="there is nothing to export")
    if truncation_psi != 1 and G.mapping.w_avg_beta is None:
        raise ToolError("--trunc: this network has no w_avg, so it cannot be truncated; use 1")

    module = graph_module(G, truncation_psi, noise_mode, fused_modconv, synthesis_only)
    inputs = example_inputs(G, fixed_batch or 2, synthesis_only)
    check_inputs = example_inputs(G, fixed_batch or 3, synthesis_only, seed=1)  # other values (and batch, if dynamic)
    diffs = []

    def write(tmp: Path) -> None:  # a graph that fails the check never replaces `path`
        if format == "onnx":
            _export_onnx(module, inputs, tmp, dynamic=fixed_batch is None)
        else:
            _export_torchscript(module, inputs, tmp)
        diffs.append(float((run_exported(tmp, format, check_inputs) - module(**check_inputs)).abs().max()))
        if not diffs[0] <= MAX_ABS_DIFF:
            raise ToolError(f"{path}: the exported graph's images differ from PyTorch's by up to {diffs[0]:.3g} "
                            f"(more than {MAX_ABS_DIFF}); nothing was written; please report this network and these options")

    outcome = unchanged([path])
    try:
        write_atomically(path, write, replace=force)
    except OSError as err:
        raise failed_write(err, outcome) from None
    return ExportResult(path, tuple(inputs), diffs[0])


def run_exported(path: str | os.PathLike, format: str, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Run an exported graph in its own runtime (onnxruntime, or torch.jit.load) on named inputs."""
    if format == "onnx":
        require_onnx()
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        (images,) = session.run(None, {name: value.numpy() for name, value in inputs.items()})
        return torch.from_numpy(images)
    with _quiet_tracing():
        graph = torch.jit.load(str(path), map_location="cpu")
    return graph(*inputs.values())


@contextlib.contextmanager
def _quiet_tracing() -> Iterator[None]:
    """Silence the expected warnings: tracing's about Python-side shape checks, and deprecation notes on jit and the exporter."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.(onnx|jit)")
        # torch.onnx.export warns about its legacy exporter at our call (stacklevel 2), so the module filter misses it.
        warnings.filterwarnings("ignore", message=r"You are using the legacy TorchScript-based ONNX export",
                                category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=r".*[Cc]onstant folding.*")
        yield


def _export_onnx(module: nn.Module, inputs: dict[str, torch.Tensor], path: Path, dynamic: bool) -> None:
    """The TorchScript-based ONNX exporter: seconds per network, where the torch.export-based one takes minutes."""
    names = list(inputs)
    axes = {name: {0: "batch"} for name in [*names, "img"]} if dynamic else None
    with _quiet_tracing():
        torch.onnx.export(module, tuple(inputs.values()), str(path), dynamo=False, input_names=names,
                          output_names=["img"], dynamic_axes=axes, opset_version=ONNX_OPSET)


def _export_torchscript(module: nn.Module, inputs: dict[str, torch.Tensor], path: Path) -> None:
    """torch.jit.trace records sizes as graph values, so the non-fused graph also runs at other batch sizes (it needs
    no flag for a dynamic batch).

    The archive is built in memory and written from Python: torch.jit.save into a file aborts the whole process when
    the disk is full."""
    with _quiet_tracing():
        graph = torch.jit.trace(module, tuple(inputs.values()), check_trace=False)
        archive = io.BytesIO()
        torch.jit.save(graph, archive)
    path.write_bytes(archive.getbuffer())
