"""`stylegan2 generate | mix | video | project | directions`: argument parsing only; see stylegan2.tools."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Callable, Iterator

import click

from stylegan2.tools import ToolError, find_directions, generate_images, project_image, render_video, style_mix
from stylegan2.tools.common import NOISE_MODES, parse_grid, parse_label, parse_seeds
from stylegan2.tools.files import VIDEO_FORMATS
from stylegan2.tools.mix import DEFAULT_MIX_STYLES
from stylegan2.tools.project import PROJECTION_LOSSES
from stylegan2.tools.video import SPACES
from stylegan2.utils.device import explain_unsupported_ops
from stylegan2.utils.notes import warnings_as_notes

from .defaults import default_of, format_default
from .flags import (
    SEED,
    ClassIndex,
    Command,
    FiniteFloat,
    FiniteFloatRange,
    UserPath,
    device_option,
    network_argument,
    nvidia_command,
    quiet_option,
    say,
    user_error,
)


class SeedList(click.ParamType):
    """'0-7,42' -> [0, ..., 7, 42], with the parser's message on bad input."""

    name = "SEEDS"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> list[int]:
        if isinstance(value, list):
            return value
        try:
            return parse_seeds(value, option="")
        except ToolError as err:
            self.fail(str(err), param, ctx)


class GridSize(click.ParamType):
    """'4x2' -> (4 columns, 2 rows)."""

    name = "COLSxROWS"

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return self.name  # as written: click upper-cases a type's name into COLSXROWS

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[int, int]:
        if isinstance(value, tuple):
            return value
        try:
            return parse_grid(value, option="")
        except ToolError as err:
            self.fail(str(err), param, ctx)


class LabelVector(click.ParamType):
    """'0.5,0,1' -> [0.5, 0.0, 1.0]: a label vector (--label, mix's --col-label), checked against the network's c_dim
    once it is read."""

    name = "V1,V2,..."

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return self.name

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> list[float]:
        if isinstance(value, list):
            return value
        option = param.opts[0] if param is not None else "--label"
        try:
            return parse_label(value, option)
        except ToolError as err:
            self.fail(str(err).removeprefix(f"{option}: "), param, ctx)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Show library warnings as notes and expected errors as one clear line, never a stack trace (exit status 2 for
    the arguments themselves, 1 for a failure: `flags.user_error`)."""
    with warnings_as_notes():
        try:
            with explain_unsupported_ops():
                yield
        except (ValueError, OSError) as err:
            raise user_error(err) from err


def network_option(f: Command) -> Command:
    """--network: a file in any format we read, its URL, or NVIDIA's network by name."""
    return click.option("--network", required=True, callback=network_argument, metavar="FILE|URL|NAME",
                        help="Network file: ours, NVIDIA's .pkl or rosinality's .pt (G_ema is used), its URL, or NVIDIA's "
                             "network by name (ffhq, metfaces, ..., ffhq256; URLs and names downloaded into the cache dir "
                             "once).")(f)


def common_options(function: Callable[..., Any]) -> Callable[[Command], Command]:
    """--outdir (at `function`'s default: the command's own library function), --force, --device and --quiet, shared
    by every tool command."""
    def add(f: Command) -> Command:
        f = quiet_option(f)
        f = device_option(f)
        f = click.option("--force", is_flag=True, help="Overwrite existing outputs.")(f)
        return click.option("--outdir", default=default_of(function, "outdir"), show_default=True,
                            type=UserPath(file_okay=False, path_type=Path), help="Where to write the outputs.")(f)
    return add


def trunc_option(function: Callable[..., Any]) -> Callable[[Command], Command]:
    """--trunc at `function`'s default truncation psi."""
    return click.option("--trunc", "truncation_psi", type=FiniteFloat(), default=default_of(function, "truncation_psi"),
                        show_default=True, help="Truncation psi: 1 = none, 0 = the average image.")


def noise_option(function: Callable[..., Any]) -> Callable[[Command], Command]:
    """--noise-mode at `function`'s default."""
    return click.option("--noise-mode", type=click.Choice(NOISE_MODES), default=default_of(function, "noise_mode"),
                        show_default=True, help="Per-pixel noise: the network's stored maps, fresh random, or none.")


VIDEO_FORMAT_HELP = "auto: MP4 if imageio-ffmpeg is installed (the video extra), else GIF."
cutoff_option = click.option("--trunc-cutoff", "truncation_cutoff", type=click.IntRange(min=0),
                             help="Truncate only the first N ws (coarse layers) [default: all].")
CLASS_HELP = "required for conditional networks; optional for those trained on --clusters, which draw one"
class_option = click.option("--class", "class_idx", type=ClassIndex(), help=f"Class label: {CLASS_HELP}.")
classes_option = click.option("--class", "class_idx", type=ClassIndex(several=True),
                              help=f"Class label(s), one or several as 0-9 or 1,3 (each seed in each class, class by "
                                   f"class, named seedNNNN-classKK.png): {CLASS_HELP}.")
label_option = click.option("--label", type=LabelVector(),
                            help="Label vector (c_dim numbers) in place of --class, for networks trained on label vectors.")


@nvidia_command("generate")
@network_option
@click.option("--seeds", type=SeedList(), help="Seeds, e.g. 0-7,42 (one image each).")
@trunc_option(generate_images)
@cutoff_option
@classes_option
@label_option
@noise_option(generate_images)
@click.option("--grid", type=GridSize(), help="Save one COLSxROWS grid instead of one PNG per seed (a row per class: "
                                               "SEEDSxCLASSES).")
@click.option("--projected-w", "--projected_w", "projected_w", type=UserPath(dir_okay=False, path_type=Path),
              help="Render the ws saved by `project`.")
@click.option("--direction", type=UserPath(dir_okay=False, path_type=Path), help="Directions file from `directions`.")
@click.option("--index", type=click.IntRange(min=0), default=default_of(generate_images, "index"), show_default=True,
              help="Which direction to move along.")
@click.option("--strength", type=FiniteFloat(),
              help="How far to move along the direction: required with --direction (0 gives the seed's own image).")
@common_options(generate_images)
def generate_command(network: Path, seeds: list[int] | None, truncation_psi: float, truncation_cutoff: int | None,
                     class_idx: int | list[int] | None, label: list[float] | None, noise_mode: str,
                     grid: tuple[int, int] | None, projected_w: Path | None,
                     direction: Path | None, index: int, strength: float | None, outdir: Path, force: bool,
                     device: str | None) -> None:
    """Generate images: seedNNNN.png per seed (the same images as NVIDIA's generate.py), or a grid.

    \b
    Examples:
      stylegan2 generate --network ffhq.pkl --seeds 0-7,42 --trunc 0.7
      stylegan2 generate --network cifar10.pkl --seeds 0-35 --class 1 --grid 6x6
      stylegan2 generate --network cifar10.pkl --seeds 0-7 --class 0-9 --grid 8x10
      stylegan2 generate --network ffhq.pkl --projected-w out/projected_w.npz
      stylegan2 generate --network ffhq.pkl --seeds 5 --direction out/directions.npz --index 0 --strength 3
    """
    if (direction is None) != (strength is None):
        raise click.UsageError("--direction and --strength go together: give both or neither")
    with user_errors():
        paths = generate_images(network, seeds, outdir, truncation_psi=truncation_psi,
                                truncation_cutoff=truncation_cutoff, class_idx=class_idx, label=label,
                                noise_mode=noise_mode,
                                grid=grid, projected_w=projected_w, direction=direction, index=index,
                                strength=strength or 0.0, force=force, device=device, progress=True)
    say(f"wrote {len(paths)} image(s) to {outdir}")


@nvidia_command("mix")
@network_option
@click.option("--rows", type=SeedList(), help="Seeds of the rows (they keep their other styles).")
@click.option("--cols", type=SeedList(), help="Seeds of the columns (they give the chosen styles).")
@click.option("--rows-w", multiple=True, type=UserPath(dir_okay=False, path_type=Path),
              help="Rows from projected_w.npz files instead of seeds (repeatable, in order).")
@click.option("--cols-w", multiple=True, type=UserPath(dir_okay=False, path_type=Path),
              help="Columns from projected_w.npz files instead of seeds (repeatable, in order).")
@click.option("--styles", help=f"ws indices from the columns, e.g. 0-3, or coarse/middle/fine/all [default: 0-{DEFAULT_MIX_STYLES - 1}].")
@trunc_option(style_mix)
@class_option
@click.option("--col-class", type=ClassIndex(),
              help="Class of the column seeds, whose styles cross into the rows' class [default: the --class].")
@label_option
@click.option("--col-label", type=LabelVector(),
              help="Label vector of the column seeds, in place of --col-class, for networks trained on label vectors "
                   "[default: the --label].")
@noise_option(style_mix)
@common_options(style_mix)
def mix_command(network: Path, rows: list[int] | None, cols: list[int] | None, rows_w: tuple[Path, ...],
                cols_w: tuple[Path, ...], styles: str | None, truncation_psi: float, class_idx: int | None,
                col_class: int | None, label: list[float] | None, col_label: list[float] | None, noise_mode: str,
                outdir: Path, force: bool, device: str | None) -> None:
    """Style mixing figure: column seeds' styles copied onto the row seeds, saved as stylemix.png.

    \b
    Examples:
      stylegan2 mix --network ffhq.pkl --rows 85,100,75,458,1500 --cols 55,821,1789,293
      stylegan2 mix --network ffhq.pkl --rows 85,100 --cols 55,821 --styles fine
      stylegan2 mix --network ffhq.pkl --rows-w me/projected_w.npz --cols 55,821 --styles coarse
      stylegan2 mix --network cifar10.pkl --rows 1,2 --cols 3,4 --class 3 --col-class 5 --styles 4-7
      stylegan2 mix --network net.pkl --rows 1,2 --cols 3,4 --label 1,0,0.5 --col-label 0,1,0.5
    """
    with user_errors():
        path = style_mix(network, rows, cols, outdir, rows_w=rows_w or None, cols_w=cols_w or None, styles=styles,
                         truncation_psi=truncation_psi,
                         class_idx=class_idx, col_class=col_class, label=label, col_label=col_label,
                         noise_mode=noise_mode, force=force, device=device)
    say(f"wrote {path}")


@nvidia_command("video")
@network_option
@click.option("--seeds", type=SeedList(), help="Keyframe seeds, visited in order and looping back.")
@click.option("--projected-w", "--projected_w", "projected_w", multiple=True, type=UserPath(dir_okay=False, path_type=Path),
              help="Keyframes from projected_w.npz files instead of seeds (repeat it: one file per photo, in order).")
@click.option("--frames", type=click.IntRange(min=1), default=default_of(render_video, "frames"), show_default=True,
              help="Frames in the whole video.")
@click.option("--fps", type=FiniteFloatRange(min=0, min_open=True), default=default_of(render_video, "fps"), show_default=True,
              help="Frames per second when the video plays.")
@click.option("--space", type=click.Choice(SPACES),
              help="Interpolate spherically in z or linearly in w [default: z; w with --projected-w].")
@trunc_option(render_video)
@cutoff_option
@class_option
@label_option
@noise_option(render_video)
@click.option("--grid", type=GridSize(), help="COLSxROWS videos side by side; the seeds are split among them.")
@click.option("--format", "video_format", type=click.Choice(VIDEO_FORMATS), default=default_of(render_video, "video_format"),
              show_default=True, help=VIDEO_FORMAT_HELP)
@common_options(render_video)
def video_command(network: Path, seeds: list[int] | None, projected_w: tuple[Path, ...], frames: int, fps: float,
                  space: str | None, truncation_psi: float, truncation_cutoff: int | None, class_idx: int | None,
                  label: list[float] | None, noise_mode: str, grid: tuple[int, int] | None, video_format: str, outdir: Path, force: bool,
                  device: str | None) -> None:
    """Looping interpolation video through seeds or projected ws (video.mp4, or video.gif without imageio-ffmpeg).

    \b
    Examples:
      stylegan2 video --network ffhq.pkl --seeds 0-9 --frames 240 --trunc 0.7
      stylegan2 video --network ffhq.pkl --seeds 0-15 --grid 2x2 --space w
      stylegan2 video --network ffhq.pkl --projected-w me/projected_w.npz --projected-w you/projected_w.npz
    """
    with user_errors():
        path = render_video(network, seeds, outdir, projected_w=projected_w or None, frames=frames, fps=fps, grid=grid, space=space,
                            truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff, class_idx=class_idx,
                            label=label, noise_mode=noise_mode, video_format=video_format, force=force, device=device,
                            progress=True)
    say(f"wrote {path}")


@nvidia_command("project")
@network_option
@click.option("--target", "targets", required=True, multiple=True, type=UserPath(dir_okay=False, path_type=Path),
              help="Image to reproduce (one per run).")
@click.option("--steps", "--num-steps", "steps", type=click.IntRange(min=1), default=default_of(project_image, "steps"),
              show_default=True, help="Optimization steps.")
@click.option("--w-plus", is_flag=True, help="Optimize one w per layer (W+) instead of a single w.")
@click.option("--seed", type=SEED, default=default_of(project_image, "seed"), show_default=True,
              help="Seed of the initial noise maps and w noise.")
@class_option
@label_option
@click.option("--vgg", type=UserPath(path_type=Path),
              help="NVIDIA's vgg16.pt (or a folder holding it) for the LPIPS loss [default: the cache dir's].")
@click.option("--loss", type=click.Choice(PROJECTION_LOSSES), default=default_of(project_image, "loss"), show_default=True,
              help="auto: LPIPS when vgg16.pt is found, else a multi-scale pixel loss.")
@click.option("--save-video/--no-save-video", default=default_of(project_image, "save_video"), show_default=True,
              help="Write the progression video.")
@click.option("--format", "video_format", type=click.Choice(VIDEO_FORMATS), default=default_of(project_image, "video_format"),
              show_default=True, help=VIDEO_FORMAT_HELP)
@common_options(project_image)
def project_command(network: Path, targets: tuple[Path, ...], steps: int, w_plus: bool, seed: int, class_idx: int | None,
                    label: list[float] | None, vgg: Path | None, loss: str, save_video: bool, video_format: str, outdir: Path, force: bool,
                    device: str | None) -> None:
    """Project an image into the latent space: target.png, proj.png, projected_w.npz, proj.mp4 (proj.gif without the video extra).

    \b
    Examples:
      stylegan2 project --network ffhq.pkl --target face.png --vgg vgg16.pt
      stylegan2 project --network ffhq.pkl --target face.png --w-plus --steps 500
    """
    if len(targets) > 1:  # click would keep the last one alone
        raise click.UsageError(f"--target is given {len(targets)} times; a run projects one image: run `stylegan2 project` "
                               "once per image, each with its own --outdir")
    with user_errors():
        result = project_image(network, targets[0], outdir, steps=steps, w_plus=w_plus, seed=seed, class_idx=class_idx,
                               label=label, vgg=vgg, loss=loss, save_video=save_video, video_format=video_format, force=force,
                               device=device, progress=True)
    say(f"wrote {outdir} ({result.loss} distance {result.distances[-1]:.4f})")


@nvidia_command("directions")
@network_option
@click.option("--layers", default=default_of(find_directions, "layers"), show_default=True,
              help="ws indices to factorize, e.g. 0-3, or coarse/middle/fine/all.")
@click.option("--strips", type=click.IntRange(min=0), default=default_of(find_directions, "strips"), show_default=True,
              help="Write a strip image for this many of the strongest directions.")
@click.option("--seeds", type=SeedList(), default=format_default(default_of(find_directions, "seeds")), show_default=True,
              help="Seeds shown in the strips (one row each).")
@click.option("--strength", type=FiniteFloat(), default=default_of(find_directions, "strength"), show_default=True,
              help="Strips go from -strength to +strength.")
@click.option("--steps", type=click.IntRange(min=2), default=default_of(find_directions, "steps"), show_default=True,
              help="Images per strip row.")
@trunc_option(find_directions)
@class_option
@label_option
@noise_option(find_directions)
@common_options(find_directions)
def directions_command(network: Path, layers: str, strips: int, seeds: list[int], strength: float, steps: int,
                       truncation_psi: float, class_idx: int | None, label: list[float] | None, noise_mode: str, outdir: Path, force: bool,
                       device: str | None) -> None:
    """Latent directions by closed-form factorization (SeFa): directions.npz and directionNN.png strips.

    \b
    Examples:
      stylegan2 directions --network ffhq.pkl --layers coarse --seeds 0-3
      stylegan2 generate --network ffhq.pkl --seeds 0 --direction out/directions.npz --index 1 --strength -4
    """
    with user_errors():
        paths = find_directions(network, outdir, layers=layers, strips=strips, seeds=seeds, strength=strength,
                                steps=steps, truncation_psi=truncation_psi, class_idx=class_idx, label=label,
                                noise_mode=noise_mode, force=force, device=device)
    say(f"wrote {paths[0]} and {len(paths) - 1} strip(s)")


tool_commands = [generate_command, mix_command, video_command, project_command, directions_command]
