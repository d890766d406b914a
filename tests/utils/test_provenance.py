"""What made a run (utils.provenance)."""

import re

import torch

from stylegan2.utils import provenance


def test_the_command_is_recorded_once_and_launched_processes_keep_their_launchers(monkeypatch):
    monkeypatch.setenv(provenance.COMMAND_VARIABLE, "")  # so that monkeypatch removes it again
    monkeypatch.delenv(provenance.COMMAND_VARIABLE)
    assert provenance.command_line() == ""  # called from Python: no command
    provenance.record_command(["train", "--data", "my photos", "--kimg", "4"])
    assert provenance.command_line() == "stylegan2 train --data 'my photos' --kimg 4"
    provenance.record_command(["train", "--gpus", "2"])  # a launched process: the launcher's command stays
    assert provenance.command_line() == "stylegan2 train --data 'my photos' --kimg 4"


def test_the_software_names_each_version():
    described = provenance.describe_software()
    assert re.fullmatch(r"stylegan2 \S+( \(git [0-9a-f]+(\+changes)?\))?, torch \S+, numpy \S+, python \S+", described)
    assert f"torch {torch.__version__}" in described
