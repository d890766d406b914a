"""Option defaults shown by --help come from the library and the presets, not from hand-typed text."""

import dataclasses

import pytest
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.cli.defaults import default_of, format_default
from stylegan2.cli.swapae import shown_default
from stylegan2.swapae.config import SWAPAE_PRESETS, SwapAEOptions, resolve_swapae_options
from stylegan2.tools import render_video


def test_default_of_reads_the_signature():
    assert default_of(render_video, "space") == "z"
    with pytest.raises(TypeError, match="'seeds' has no default"):
        default_of(render_video, "seeds")


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
    resolved = resolve_swapae_options("builtin:shapes", "cpu", 32, 1, {})
    assert resolved == dataclasses.replace(SwapAEOptions(data="builtin:shapes"), resolution=32)
