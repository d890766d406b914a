"""What the commands share for reading their command lines: parameter types, common options, and other tools' spellings.

- Types: `FiniteFloat`, `FiniteFloatRange`, `SEED`, `UserPath` (a leading ~ expanded), `PresetChoice` (--cfg);
  options and callbacks: `network_argument` (--network as a file, URL or name, fetched when loaded), `workers_option`.
- On/off options as both projects spell them: ours (`--cond`, `--no-cond`) and NVIDIA's (`--cond=1`, `--cond 0`).
  NVIDIA's scripts declare their switches as `type=bool` options that take a value; ours are flags. A command
  built with `cls=NvidiaFlagsCommand` (`nvidia_command`) rewrites a value given to one of its flags into the flag
  form before click parses the line, so command lines copied from NVIDIA's README run unchanged.
- Other tools' option names (rosinality's stylegan2-pytorch, NVIDIA's TensorFlow StyleGAN2) and another command's
  name for the same thing (`dataset --outdir` for --dest): `foreign_option_hint` answers one with ours instead of
  click's "did you mean" (`OptionHintsCommand`).
- Options several commands share: `device_option`, and train's and swapae train's `max_size_option` and help texts
  (`BATCH_GPU_HELP`, `CBASE_HELP`, `SNAP_HELP`).
- Output and errors: `quiet_option` (-q/--quiet; `group_quiet_option`, the same before the command) and `say` for
  informational lines; `user_error` turns a library error into click's: an OptionError (the arguments themselves)
  exits 2 with the usage line, anything else 1.
"""

from __future__ import annotations

import math
import os
import shlex
from pathlib import Path
from typing import Any, Callable, TypeVar

import click

from ..io.pretrained import cached_file_name
from ..tools.common import MAX_SEED, ToolError, parse_int_list
from ..training.config import NVIDIA_WORKERS, PRESETS
from ..utils.device import DEVICE_HELP
from ..utils.errors import OptionError
from ..utils.progress import is_quiet, quiet


class FiniteFloat(click.ParamType):
    """A float that is a number: 'nan' and 'inf', which Python's float() reads, are refused."""

    name = "FLOAT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


class FiniteFloatRange(click.FloatRange):
    """FloatRange that also refuses 'nan' and 'inf' (its comparisons let NaN through, and inf past an open bound)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        return super().convert(FiniteFloat().convert(value, param, ctx), param, ctx)


class ClassIndex(click.ParamType):
    """A class index (0, 1, ...), or with `several` one or a list of them in the --seeds syntax (0-9, 1,3: a list of
    ints); a class name is answered with where its index is written, a list where one class is taken with why."""

    def __init__(self, several: bool = False) -> None:
        self.several = several
        self.name = "INDICES" if several else "INDEX"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        if any(ch.isalpha() for ch in value):
            self.fail(f"{value!r} is not a class index (0, 1, ...): classes are numbered; `stylegan2 dataset "
                      "--labels-from-folders` keeps each number's folder name in class_names of the dataset's "
                      "dataset.json", param, ctx)
        if value.strip().lstrip("+-").isdigit():  # one class: IntRange's checks and messages
            return click.IntRange(min=0).convert(value, param, ctx)
        try:
            classes = parse_int_list(value, "")
        except ToolError as err:
            if self.several:
                self.fail(str(err), param, ctx)
            classes = None
        if classes is None or (len(classes) > 1 and not self.several):
            command = f"`{ctx.info_name}` takes one class (`generate` takes several)" if classes and ctx else ""
            self.fail(f"{value!r} is not a class index: give one whole number (0, 1, ...)"
                      + (f"; {command}" if command else ""), param, ctx)
        return classes[0] if len(classes) == 1 else classes


SEED = click.IntRange(0, MAX_SEED)  # the training seeds NumPy's RandomState, which takes 0..2**32-1


class UserPath(click.Path):
    """click.Path with a leading ~ expanded first: NVIDIA's README writes --outdir=~/training-runs and
    --dest=~/datasets/x.zip, where the shell leaves the ~ alone."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return super().convert(os.path.expanduser(value) if isinstance(value, str) else value, param, ctx)


def bool_value(option: str, value: str) -> bool:
    """'1', 'true', 'yes', 'on' (and their opposites, any case) as click's own BOOL type reads them."""
    try:
        if value.strip():
            return click.BOOL.convert(value, None, None)
    except click.BadParameter:
        pass
    raise click.UsageError(f"{option}={value}: not an on/off value; use {option}=1 or {option}=0 "
                           "(also true/false, yes/no, on/off)")


def flag_spellings(command: click.Command) -> dict[str, tuple[str, str | None]]:
    """Each on/off option's names -> (its 'on' spelling, its 'off' spelling or None when absent means off)."""
    spellings: dict[str, tuple[str, str | None]] = {}
    for param in command.params:
        if isinstance(param, click.Option) and param.is_flag and param.is_bool_flag:
            off = param.secondary_opts[0] if param.secondary_opts else None
            for name in param.opts:
                if name.startswith("--"):
                    spellings[name] = (name, off)
    return spellings


def rewrite_flag_values(args: list[str], spellings: dict[str, tuple[str, str | None]]) -> list[str]:
    """`--cond=1` -> `--cond`, `--cond=0` -> `--no-cond` (or nothing), `--cond true` -> `--cond`; the rest unchanged."""
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            out.extend(args[i - 1:])
            break
        name, has_value, value = arg.partition("=")
        if name not in spellings:
            out.append(arg)
            continue
        if not has_value and i < len(args) and args[i].lower() in _BOOL_WORDS:
            value, has_value = args[i], True  # NVIDIA's `--mirror 1`
            i += 1
        if not has_value:
            out.append(arg)
            continue
        on, off = spellings[name]
        chosen = on if bool_value(name, value) else off
        if chosen is not None:
            out.append(chosen)
    return out


_BOOL_WORDS = {"1", "0", "true", "false", "t", "f", "yes", "no", "y", "n", "on", "off"}


DATASET_DEST = "this command writes its zip to --dest"
EXPORT_OUTPUT = "this command writes its file to --output"
ENCODE_OUT = "this command writes its codes to --out"
INFO_FILE = "the file is an argument: stylegan2 info {value}"
CONVERT_FILE = "the file is the first argument: stylegan2 convert {value} DST"
METRICS_RUN_DIR = "this command appends its results to --run-dir (an existing folder)"
OTHER_COMMANDS_OPTIONS: dict[str, dict[str | None, str]] = {  # another command's name for what this one spells otherwise
    "--outdir": {"dataset": DATASET_DEST, "export": EXPORT_OUTPUT, "encode": ENCODE_OUT, "metrics": METRICS_RUN_DIR},
    "--output": {"dataset": DATASET_DEST, "encode": ENCODE_OUT, "metrics": METRICS_RUN_DIR},
    "--out": {"dataset": DATASET_DEST, "export": EXPORT_OUTPUT},
    "--network": {"info": INFO_FILE, "convert": CONVERT_FILE},
}

# Other tools' spellings and ours, by command (None: any other command that meets one).
_STYLEGAN2 = PRESETS["stylegan2"]  # the preset of their settings (config-f)
ROSINALITY_OPTIONS: dict[str, dict[str | None, str]] = {  # rosinality's stylegan2-pytorch
    "--ckpt": {"train": "use --resume FILE", "info": INFO_FILE, "convert": CONVERT_FILE, None: "use --network FILE"},
    "--iter": {"train": "use --kimg, thousands of real images (their steps x --batch / 1000)"},
    "--r1": {"train": "use --gamma"},
    "--lr": {"train": "use --glr and --dlr"},
    "--path_regularize": {"train": f"the preset sets the path-length weight (--cfg stylegan2: {_STYLEGAN2.pl_weight:g}, as theirs)"},
    "--mixing": {"train": f"the preset sets style mixing (--cfg stylegan2: {_STYLEGAN2.style_mixing_prob:g}, as theirs)"},
    "--augment": {"train": "use --aug ada"},
    "--augment_p": {"train": "use --aug fixed --p P"},
    "--ada_target": {"train": "use --target"},
    "--ada_length": {"train": "use --ada-kimg, their length / 1000"},
    "--size": {"train": "the data sets the size", None: "the network file sets the size"},
    "--channel_multiplier": {"train": f"use --cbase (2 is --cbase {_STYLEGAN2.channel_base}, as --cfg stylegan2)",
                             None: "the network file sets the channels"},
    "--n_sample": {"train": "the data sets the snapshot grids"},
    "--wandb": {"train": "the run directory holds TensorBoard logs instead"},
    "--pics": {"generate": "use --seeds 0-N, one image per seed"},
    "--sample": {"generate": "use --grid COLSxROWS"},
    "--truncation": {None: "use --trunc"},
    "--truncation_mean": {None: "the network's average w is used"},
}


TF_DATA = ("use --data with the dataset's zip or image folder (TFRecords are not read: convert the source images "
           "with `stylegan2 dataset`)")
NVIDIA_TF_OPTIONS: dict[str, dict[str | None, str]] = {  # NVIDIA's TensorFlow StyleGAN2 (run_training.py, run_generator.py)
    "--config": {"train": "use --cfg (config-f is --cfg stylegan2)"},
    "--total-kimg": {"train": "use --kimg"},
    "--result-dir": {**OTHER_COMMANDS_OPTIONS["--outdir"], None: "use --outdir"},
    "--data-dir": {"train": TF_DATA},
    "--dataset": {"train": TF_DATA},
    "--mirror-augment": {"train": "use --mirror"},
    "--num-gpus": {None: "use --gpus"},
    "--truncation-psi": {None: "use --trunc"},
}
OTHER_TOOLS = (("rosinality's stylegan2-pytorch", ROSINALITY_OPTIONS), ("NVIDIA's TensorFlow StyleGAN2", NVIDIA_TF_OPTIONS),
               (None, OTHER_COMMANDS_OPTIONS))


def foreign_option_hint(option: str, command: str | None) -> tuple[str | None, str] | None:
    """(the tool, or None for another of our commands; what its `option` is here for `command`) when its users type
    it; None otherwise. A hint may hold {value}, for the value given to the option."""
    for tool, options in OTHER_TOOLS:
        ours = options.get(option, {})
        hint = ours.get(command, ours.get(None))
        if hint is not None:
            return tool, hint
    return None


def option_value(args: list[str], option: str) -> str | None:
    """The value given to `option` on a command line (`--network X` or `--network=X`), or None."""
    for i, arg in enumerate(args):
        name, has_value, value = arg.partition("=")
        if name == option:
            return value if has_value else (args[i + 1] if i + 1 < len(args) else None)
    return None


def option_hint_message(option: str, hint: tuple[str | None, str], args: list[str]) -> str:
    """click's "No such option" message with the hint for `option` in place of "did you mean"; the value given is
    quoted for the shell, so the suggested command can be pasted as it is."""
    tool, ours = hint
    given = option_value(args, option)
    ours = ours.format(value=shlex.quote(given) if given else "FILE")
    if tool is None:
        return f"No such option: {option}; {ours}"
    return f"No such option: {option} is {tool} spelling; {ours}"


class PresetChoice(click.Choice):
    """--cfg: NVIDIA's TensorFlow config names (config-a ... config-f) get an answer, not only the list."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value.startswith("config-") and value not in self.choices:
            self.fail(f"{value!r} is NVIDIA's TensorFlow StyleGAN2 config name; config-f is --cfg stylegan2 (the others "
                      f"have no preset here); choose from {', '.join(map(str, self.choices))}", param, ctx)
        return super().convert(value, param, ctx)


class OptionHintsCommand(click.Command):
    """A click command that answers other tools' spellings of its options, and our other commands' names for the same
    thing, with its own (click's "did you mean" pointed --r1 at --dlr, --ckpt at --p, dataset --outdir at --source)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        given = list(args)  # click's parser takes the arguments off the list it is given
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as err:
            found = foreign_option_hint(err.option_name, self.name)
            if found is None:
                raise
            raise click.NoSuchOption(err.option_name, option_hint_message(err.option_name, found, given), ctx=ctx) from None


class FlagValuesCommand(click.Command):
    """A click command whose flags also take NVIDIA's `--flag=1` / `--flag=0` values."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, rewrite_flag_values(list(args), flag_spellings(self)))


class NvidiaFlagsCommand(OptionHintsCommand, FlagValuesCommand):
    """A FlagValuesCommand that also answers rosinality's and NVIDIA's TensorFlow spellings of its options with ours."""


def nvidia_command(name: str, **kwargs: Any):
    """`click.command(name)` whose flags take NVIDIA's values too."""
    return click.command(name, cls=NvidiaFlagsCommand, **kwargs)


SUMMARY_LIMIT = 200  # characters of a command's first sentence that a group's --help shows (wrapped)


class WholeSummariesGroup(click.Group):
    """A command group whose --help lists each command with its first sentence whole, wrapped over lines (click
    cuts it to one line with '...')."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        commands = [(name, self.get_command(ctx, name)) for name in self.list_commands(ctx)]
        rows = [(name, command.get_short_help_str(limit=SUMMARY_LIMIT)) for name, command in commands
                if command is not None and not command.hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def network_argument(ctx: click.Context, param: click.Parameter, value: str | None) -> str | Path | None:
    """--network as NVIDIA's tools take it: a file, a URL or NVIDIA's network by name. A URL or name is downloaded
    (into the cache dir, once) when the command loads the network, after click has checked every other option: a
    typo in --seeds is not reported after a 360 MB download, and a failed download is a failure (status 1), not a
    usage error."""
    if value is None:
        return None
    return value if cached_file_name(value) is not None else Path(value).expanduser()


Command = TypeVar("Command", bound=Callable[..., Any])  # a command function, before or after click wraps it


def _set_quiet(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    """Turn bars and informational lines off for the rest of the command (click leaves the switch when it ends)."""
    if value:
        ctx.with_resource(quiet())
    return value


QUIET_HELP = "Print no progress and no informational lines, only warnings (note: ...) and errors."


def _quiet_switch(help: str) -> Callable[[Command], Command]:
    """The -q/--quiet flag with `help`: turns quiet on as soon as it is read (eager), before any other option's work."""
    return click.option("-q", "--quiet", is_flag=True, expose_value=False, is_eager=True, callback=_set_quiet, help=help)


def quiet_option(f: Command) -> Command:
    """-q/--quiet: no progress and no informational lines; warnings (`note:` lines) and errors are still printed."""
    return _quiet_switch(QUIET_HELP)(f)


def group_quiet_option(f: Command) -> Command:
    """-q/--quiet given to the `stylegan2` group, before the command: the command's own --quiet (the switch stays on
    until the group's context closes, after the command), so `stylegan2 -q generate` is `stylegan2 generate -q`."""
    return _quiet_switch(f"{QUIET_HELP} The same as the command's own -q: stylegan2 -q COMMAND ...")(f)


def say(message: str, err: bool = False) -> None:
    """An informational line (what was written, where): not printed under --quiet."""
    if not is_quiet():
        click.echo(message, err=err)


def user_error(err: Exception) -> click.ClickException:
    """A library error as click reports it: the arguments themselves (OptionError) exit 2 with the usage line, as
    click's own checks do; a failure (a file, a download, a network that does not fit) exits 1."""
    if isinstance(err, OptionError):
        return click.UsageError(str(err), click.get_current_context(silent=True))
    return click.ClickException(str(err))


def existing(what: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """An option callback refusing a path that is not there with exit status 1, as every other missing input file
    (click's Path(exists=True) exits 2, the status of a bad value)."""
    def check(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is not None and not os.path.exists(value):
            raise click.ClickException(f"{value}: no such {what} ({param.opts[0]})")
        return value
    return check


# The files a metric reads, for `stylegan2 metrics` and for the metrics `stylegan2 train` computes at its snapshots.
detector_option = click.option(
    "--detector", type=UserPath(dir_okay=False, path_type=Path), callback=existing("file"),
    help="Feature network: FID Inception .pth/.safetensors, NVIDIA inception-2015-12-05.pt, or a TorchScript feature "
         "extractor [default: from the cache dir].")
vgg_option = click.option("--vgg", type=UserPath(dir_okay=False, path_type=Path), callback=existing("file"),
                          help="NVIDIA's vgg16.pt (LPIPS for PPL, features for precision/recall) [default: from the cache dir].")
cache_dir_option = click.option(
    "--cache-dir", type=UserPath(file_okay=False, path_type=Path),
    help="Detector files and cached real statistics [default: $STYLEGAN2_CACHE, else $XDG_CACHE_HOME/stylegan2, "
         "else ~/.cache/stylegan2].")

workers_option = click.option("--workers", type=click.IntRange(min=0),  # both trainers pick them by training.config.auto_workers
                              help=f"Data loader worker processes.  [default: 0 when training on the CPU, else up to {NVIDIA_WORKERS}]")

device_option = click.option("--device", help=f"{DEVICE_HELP}.  [default: cuda when available]")

# train's and swapae train's: the same option, or the same words before each trainer's own default
max_size_option = click.option("--max-size", "--subset", "max_size", type=click.IntRange(min=1),
                               help="Train on this many of the dataset's images (a fixed random subset, picked by --seed).")
BATCH_GPU_HELP = "Images per forward pass; smaller values accumulate gradients."
CBASE_HELP = "Channel base: channels at resolution r are cbase / r (capped)."
SNAP_HELP = "Ticks between snapshots and image grids."
