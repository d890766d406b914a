"""Option types shared by the commands (cli.flags)."""

import shlex

import pytest
from click.testing import CliRunner

from stylegan2.cli import main


@pytest.mark.parametrize("command", ["generate", "mix", "video", "project", "directions"])
def test_a_class_name_is_answered_with_where_class_numbers_are_written(tmp_path, command):
    """A labels QA tester typed --class cat after --labels-from-folders: click said it was not a valid integer range."""
    result = CliRunner().invoke(main, [command, "--network", str(tmp_path / "x.pkl"), "--class", "cat"])
    assert result.exit_code == 2
    assert ("Invalid value for '--class': 'cat' is not a class index (0, 1, ...): classes are numbered; `stylegan2 "
            "dataset --labels-from-folders` keeps each number's folder name in class_names of the dataset's "
            "dataset.json") in " ".join(result.output.split())


@pytest.mark.parametrize("command, value, message", [
    ("generate", "-1", "-1 is not in the range x>=0"),
    ("video", "0-2", "'0-2' is not a class index: give one whole number (0, 1, ...)"),  # generate takes several
])
def test_other_bad_class_values_get_their_own_messages(tmp_path, command, value, message):
    result = CliRunner().invoke(main, [command, "--network", str(tmp_path / "x.pkl"), "--class", value])
    assert result.exit_code == 2 and message in " ".join(result.output.split()) and "class_names" not in result.output


@pytest.mark.parametrize("command, args", [("generate", ["--seeds", "0", "--outdir"]),
                                           ("metrics", ["--data", "builtin:shapes", "--run-dir"]),
                                           ("export", ["--format", "torchscript", "--output"])])
def test_a_network_that_cannot_be_downloaded_is_a_failure_not_a_usage_error(tmp_path, monkeypatch, command, args):
    """It printed the usage banner and exited 2, as for a mistyped option, though the command line was right."""
    monkeypatch.setenv("STYLEGAN2_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("STYLEGAN2_OFFLINE", "1")
    out = tmp_path / ("g.pt" if command == "export" else "")
    result = CliRunner().invoke(main, [command, "--network", "https://example.invalid/net.pkl", *args, str(out)])
    assert result.exit_code == 1 and "Usage:" not in result.output, result.output
    assert result.output.startswith("Error: ") and "example.invalid/net.pkl by hand" in result.output


def test_other_options_are_checked_before_a_network_is_downloaded(tmp_path, monkeypatch):
    """A typo in --seeds was reported only after --network's download (cliux L8)."""
    monkeypatch.setenv("STYLEGAN2_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("stylegan2.utils.download.urllib.request.urlopen", lambda *a, **k: pytest.fail("downloaded"))
    for network in ("https://example.invalid/net.pkl", "ffhq256"):
        result = CliRunner().invoke(main, ["generate", "--network", network, "--seeds", "3-0"])
        assert result.exit_code == 2 and "range '3-0' runs backwards" in result.output, result.output


def test_a_resume_network_that_cannot_be_downloaded_is_a_failure_not_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEGAN2_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("STYLEGAN2_OFFLINE", "1")
    result = CliRunner().invoke(main, ["train", "--data", "builtin:shapes", "--resume", "https://example.invalid/net.pkl",
                                       "--outdir", str(tmp_path / "runs"), "--dry-run"])
    assert result.exit_code == 1 and "Usage:" not in result.output, result.output
    last = result.output.splitlines()[-1]  # after the notes of resolving the options, which come before the download
    assert last.startswith("Error: --resume: ") and last.endswith("or pass the file's path"), result.output


@pytest.mark.parametrize("args, command", [
    (["convert", "--ckpt", "a b.pt"], ["stylegan2", "convert", "a b.pt", "DST"]),
    (["info", "--network", "my net's.pkl"], ["stylegan2", "info", "my net's.pkl"]),
])
def test_the_other_spelling_hint_quotes_the_value_so_the_command_can_be_pasted(args, command):
    """The hint printed `stylegan2 convert a b.pt DST`, which the shell splits into other arguments (qa-reviewer33 L2)."""
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    suggested = " ".join(result.output.split("argument: ", 1)[1].split())
    assert shlex.split(suggested) == command, result.output


def test_every_command_explains_device_in_the_same_words():
    """The help was typed six times and explore's had drifted ('cuda if available')."""
    from stylegan2.utils.device import DEVICE_HELP

    def commands(group, prefix=""):
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                yield from commands(command, f"{prefix}{name} ")
            else:
                yield f"{prefix}{name}", command

    helps = {name: param.help for name, command in commands(main) for param in command.params if param.name == "device"}
    assert len(helps) >= 10
    assert {name: text for name, text in helps.items() if not text.startswith(f"{DEVICE_HELP}.  [default: cuda when available")} == {}
