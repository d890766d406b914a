"""What made a run (utils.provenance)."""

import hashlib
import re
import subprocess

import torch

from stylegan2.utils import provenance


def test_the_command_is_recorded_once_with_its_folder_and_launched_processes_keep_their_launchers(monkeypatch, tmp_path):
    """The command's relative paths could not be followed: no record said where it ran (tuner QA L4)."""
    folder = tmp_path / "my runs"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.setenv(provenance.COMMAND_VARIABLE, "")  # so that monkeypatch removes it again
    monkeypatch.delenv(provenance.COMMAND_VARIABLE)
    assert provenance.command_line() == ""  # called from Python: no command
    provenance.record_command(["train", "--data", "../my photos", "--kimg", "4"])
    expected = f"cd '{folder}' && stylegan2 train --data '../my photos' --kimg 4"
    assert provenance.command_line() == expected
    monkeypatch.chdir(tmp_path)
    provenance.record_command(["train", "--gpus", "2"])  # a launched process: the launcher's command stays
    assert provenance.command_line() == expected


def fake_git(diff: bytes):
    """subprocess.run as git answers in a checkout at 1a2b3c4 whose `git diff HEAD` is `diff`."""
    def run(args, **kwargs):
        out = b"1a2b3c4\n" if args[1] == "rev-parse" else diff if args[1] == "diff" else b""
        return subprocess.CompletedProcess(args, 0, stdout=out, stderr=b"")
    return run


def test_uncommitted_changes_are_told_apart_by_a_hash_of_their_diff(monkeypatch):
    """Two arms of a sweep with other local edits both recorded 'git 337dcc8+changes' (tuner QA L4)."""
    revisions, edit = [], b"-gamma = 1\n+gamma = 2\n"
    for diff in (b"", edit, b"-gamma = 1\n+gamma = 3\n"):
        monkeypatch.setattr(provenance.subprocess, "run", fake_git(diff))
        revisions.append(provenance._git_revision())
    assert revisions[0] == " (git 1a2b3c4)"
    assert revisions[1] == f" (git 1a2b3c4+changes {hashlib.sha256(edit).hexdigest()[:7]})"
    assert revisions[2] != revisions[1] and revisions[2].startswith(" (git 1a2b3c4+changes ")


def test_without_git_the_software_names_no_revision(monkeypatch):
    def no_git(args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory", "git")
    monkeypatch.setattr(provenance.subprocess, "run", no_git)
    assert provenance._git_revision() == ""


def test_the_software_names_each_version():
    described = provenance.describe_software()
    assert re.fullmatch(r"stylegan2 \S+( \(git [0-9a-f]+(\+changes [0-9a-f]{7})?\))?, torch \S+, numpy \S+, python \S+", described)
    assert f"torch {torch.__version__}" in described
