"""`stylegan2 export`: argument parsing only; the work is in `stylegan2.tools.export`."""

from __future__ import annotations

from pathlib import Path

import click

from stylegan2.tools.common import NOISE_MODES
from stylegan2.tools.export import EXPORT_FORMATS, export_generator

from .defaults import default_of
from .flags import FiniteFloat, OptionHintsCommand, UserPath, quiet_option, say
from .tools import network_option, user_errors


@click.command("export", cls=OptionHintsCommand)
@network_option
@click.option("--format", "fmt", required=True, type=click.Choice(EXPORT_FORMATS), help="Graph format.")
@click.option("--output", type=UserPath(dir_okay=False, path_type=Path),
              help="Output file [default: NET.onnx or NET.torchscript.pt in the current folder; NET-synthesis.* with --synthesis-only].")
@click.option("--trunc", "--truncation-psi", "truncation_psi", type=FiniteFloat(),
              default=default_of(export_generator, "truncation_psi"), show_default=True,
              help="Truncation psi baked into the graph: 1 = none, 0 = the average image (also --truncation-psi).")
@click.option("--noise-mode", type=click.Choice(NOISE_MODES),
              default=default_of(export_generator, "noise_mode"), show_default=True,
              help="Per-pixel noise baked in: the network's stored maps or none (random cannot be exported).")
@click.option("--batch", default=str(default_of(export_generator, "batch")), show_default=True,
              help="Batch size of the graph: a number, or 'dynamic' for any.")
@click.option("--synthesis-only", is_flag=True, help="Export the synthesis network alone: ws [N, num_ws, w_dim] in.")
@click.option("--fused-modconv", is_flag=True,
              help="Per-sample weights and grouped convolutions (needs a fixed --batch) instead of scaled activations.")
@click.option("--force", is_flag=True, help="Overwrite the output if it exists.")
@quiet_option
def export_command(network: Path, fmt: str, output: Path | None, truncation_psi: float, noise_mode: str, batch: str,
                   synthesis_only: bool, fused_modconv: bool, force: bool) -> None:
    """Export the generator (G_ema) as a standalone ONNX or TorchScript graph, checked against PyTorch.

    \b
    Examples:
      stylegan2 export --network ffhq.pkl --format onnx --trunc 0.7 --batch dynamic
      stylegan2 export --network ffhq.pkl --format torchscript --synthesis-only --output synthesis.pt
    """
    with user_errors():
        result = export_generator(network, output, format=fmt, truncation_psi=truncation_psi, noise_mode=noise_mode,
                                  fused_modconv=fused_modconv, synthesis_only=synthesis_only, batch=batch, force=force)
    say(f"wrote {result.path} (inputs: {', '.join(result.input_names)}; output: img; "
               f"max abs diff from PyTorch {result.max_abs_diff:.2g})")
