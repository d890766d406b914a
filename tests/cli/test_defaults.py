"""Option defaults shown by --help come from the library and the presets, not from hand-typed text."""

import dataclasses

import click
import pytest
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.cli.defaults import default_of, format_default
from stylegan2.cli.swapae import shown_default
from stylegan2.swapae.config import SWAPAE_PRESETS, SwapAEOptions, resolve_swapae_options
from stylegan2.tools import render_video
from stylegan2.training.config import auto_workers


def test_default_of_reads_the_signature():
    assert default_of(render_video, "fps") == 30.0
    with pytest.raises(TypeError, match="'network' has no default"):
        default_of(render_video, "network")


@pytest.mark.parametrize("value, shown", [(True, "on"), (False, "off"), (0.5, "0.5"), (4.0, "4"), ((0, 1), "0,1"), ("all", "all")])
def test_format_default(value, shown):
    assert format_default(value) == shown


def test_help_shows_the_video_defaults_of_the_library():
    out = CliRunner().invoke(main, ["video", "--help"], terminal_width=200).output
    assert f"[default: {default_of(render_video, 'frames')}" in out


def test_swapae_help_shows_each_presets_value():
    values = {cfg: format_default(preset.lr) for cfg, preset in SWAPAE_PRESETS.items()}
    shown = shown_default("lr")
    assert all(value in shown for value in values.values()) and all(cfg in shown for cfg in SWAPAE_PRESETS)
    assert shown_default("r1_interval") == f"[default: {SwapAEOptions.__dataclass_fields__['r1_interval'].default}]"


def test_swapae_option_defaults_are_the_cpu_preset():
    resolved = resolve_swapae_options("builtin:shapes", "cpu", 32, 1, {}, device_type="cuda")
    assert resolved == dataclasses.replace(SwapAEOptions(data="builtin:shapes"), resolution=32, workers=auto_workers("cuda"))


def test_train_help_gives_every_option_that_takes_a_value_a_default():
    """Preset-derived settings say where the value comes from; --aug names the presets that turn it off."""
    from stylegan2.training.config import PRESETS

    command = main.commands["train"]
    no_default = [p.opts[0] for p in command.params if not p.is_flag and p.expose_value and p.help
                  and "[default:" not in p.help and not p.show_default and p.opts[0] not in NO_DEFAULT]
    assert no_default == []
    out = CliRunner().invoke(main, ["train", "--help"], terminal_width=400).output
    assert ("Training length in thousands of real images, counted from the run's start (a continued run's snapshot's "
            "images included; fine-tuning from a network's weights starts at 0).  [default: the preset's; --dry-run "
            "shows it]") in out
    large = [f"--cfg {cfg}: noaug from {spec.noaug_min_images:,} images" for cfg, spec in PRESETS.items() if spec.noaug_min_images]
    assert large and f"[default: ada; {'; '.join(large)}]" in out


NO_DEFAULT = {"--data", "--resume", "--max-size", "--resolution", "--rdzv-endpoint"}  # nothing to default to (all data, ...)


LIBRARY_FUNCTIONS = [  # each command and the library function it calls (whose signature states its defaults)
    ("generate", "stylegan2.tools:generate_images"),
    ("mix", "stylegan2.tools:style_mix"),
    ("video", "stylegan2.tools:render_video"),
    ("project", "stylegan2.tools:project_image"),
    ("directions", "stylegan2.tools:find_directions"),
    ("export", "stylegan2.tools:export_generator"),
    ("swapae swap", "stylegan2.swapae.tools:swap"),
    ("swapae encode", "stylegan2.swapae.tools:encode"),
    ("swapae decode", "stylegan2.swapae.tools:decode"),
    ("train", "stylegan2.training.config:TrainingOptions"),
]


@pytest.mark.parametrize("command_name, function_path", LIBRARY_FUNCTIONS)
def test_each_commands_help_defaults_are_its_own_library_functions(command_name, function_path):
    """--outdir, --trunc and --noise-mode of mix, video, project and directions showed generate_images' defaults."""
    import importlib
    import inspect

    module, name = function_path.split(":")
    parameters = inspect.signature(getattr(importlib.import_module(module), name)).parameters
    command = main
    for word in command_name.split():
        command = command.commands[word]
    shown = {param.name: param.default for param in command.params if isinstance(param, click.Option) and param.show_default
             and param.name in parameters and parameters[param.name].default is not inspect.Parameter.empty}
    assert shown, "no option of the command shows a default of its library function"
    assert {name: format_default(value) for name, value in shown.items()} == {
        name: format_default(parameters[name].default) for name in shown}


def test_tool_options_read_the_function_they_are_given():
    """common_options, trunc_option and noise_option read the command's own function, not generate_images' for all."""
    from stylegan2.cli.tools import common_options, noise_option, trunc_option

    def tool(network: str, outdir: str = "elsewhere", *, truncation_psi: float = 0.5, noise_mode: str = "none") -> None:
        """A tool whose defaults are none of generate_images'."""

    command = click.command()(trunc_option(tool)(noise_option(tool)(common_options(tool)(lambda **kwargs: None))))
    assert {p.name: p.default for p in command.params if p.name in ("outdir", "truncation_psi", "noise_mode")} == {
        "outdir": "elsewhere", "truncation_psi": 0.5, "noise_mode": "none"}


def test_the_tools_share_one_outdir_noise_mode_and_truncation_default():
    from stylegan2.swapae.tools import decode, swap
    from stylegan2.tools import export_generator, find_directions, generate_images, project_image, render_video, style_mix
    from stylegan2.tools.common import DEFAULT_NOISE_MODE, DEFAULT_OUTDIR, DEFAULT_TRUNCATION_PSI

    for function in (generate_images, style_mix, render_video, project_image, find_directions, swap, decode):
        assert default_of(function, "outdir") == DEFAULT_OUTDIR, function.__name__
    for function in (generate_images, style_mix, render_video, find_directions, export_generator):
        assert default_of(function, "noise_mode") == DEFAULT_NOISE_MODE, function.__name__
        assert default_of(function, "truncation_psi") == DEFAULT_TRUNCATION_PSI, function.__name__
