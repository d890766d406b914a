"""What a training command checks before the data opens (training.start)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import PIL.Image
import pytest

from stylegan2.training.launch import INTERRUPTED, ProcessLayout
from stylegan2.training.start import check_restarts, check_run_paths, exit_status_after_stop, open_and_resolve
from stylegan2.utils.errors import OptionError


def image_folder(folder):
    folder.mkdir()
    for i in range(4):
        PIL.Image.fromarray(np.full((16, 16, 3), 40 * i, np.uint8)).save(folder / f"{i}.png")
    return folder


def test_an_outdir_inside_the_data_folder_is_refused_by_every_process(tmp_path):
    data = image_folder(tmp_path / "imgs")
    for creates_runs in (True, False):
        with pytest.raises(ValueError, match=r"^--outdir \S+runs is inside the --data folder \S+imgs"):
            open_and_resolve(str(data), "cpu", {"outdir": str(data / "runs")}, 1, "cpu", creates_runs=creates_runs)


def test_a_resume_that_is_no_checkpoint_is_refused_before_the_data_opens(tmp_path):
    (tmp_path / "notes.pt").write_text("hi")
    with pytest.raises(ValueError, match=r"^--resume \S+notes\.pt: only 2 bytes long; truncated, or not a checkpoint"):
        check_run_paths(str(tmp_path / "no-such-data"), {"outdir": str(tmp_path / "runs"),
                                                         "resume": str(tmp_path / "notes.pt")}, creates_runs=True)
    check_run_paths(str(tmp_path / "no-such-data"), {"outdir": str(tmp_path / "runs"),
                                                     "resume": str(tmp_path / "notes.pt")}, creates_runs=False)


def test_labelled_data_opened_without_cond_gets_a_note_once(tmp_path):
    data = image_folder(tmp_path / "lab")
    (data / "dataset.json").write_text(json.dumps({"labels": [[f"{i}.png", i % 3] for i in range(4)]}))
    overrides = {"outdir": str(tmp_path / "runs")}
    with pytest.warns(UserWarning, match=r"lab has labels for 3 classes; pass --cond to train a conditional network"):
        open_and_resolve(str(data), "cpu", overrides, 1, "cpu", creates_runs=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        open_and_resolve(str(data), "cpu", overrides, 1, "cpu", creates_runs=False)  # another process of the run
        open_and_resolve(str(data), "cpu", {**overrides, "cond": True}, 1, "cpu", creates_runs=True)
        open_and_resolve("builtin:shapes?n=8", "cpu", overrides, 1, "cpu", creates_runs=True)  # the quick start's data


def test_restarts_without_resume_auto_are_refused_by_the_library():
    """A Python caller's --max-restarts without --resume auto would start the run over at each restart (qa-auditor M4)."""
    with pytest.raises(OptionError, match=r"^--max-restarts 2 restarts the processes after a failure; add --resume auto"):
        check_restarts(ProcessLayout(nproc_per_node=2, max_restarts=2), "net.pkl")
    check_restarts(ProcessLayout(nproc_per_node=2, max_restarts=2), "auto:net.pkl")
    check_restarts(ProcessLayout(nproc_per_node=2), None)


def test_a_stopped_run_exits_130_but_0_under_a_launcher_said_once(monkeypatch, capsys):
    """torchrun takes 130 for a failed process; the first process says why the status is 0 (qa-auditor M4)."""
    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    assert exit_status_after_stop() == INTERRUPTED
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "job")
    monkeypatch.setenv("RANK", "1")
    assert exit_status_after_stop() == 0 and capsys.readouterr().err == ""
    monkeypatch.setenv("RANK", "0")
    assert exit_status_after_stop() == 0
    assert capsys.readouterr().err.startswith("Exit status 0: torchrun would take 130 for a failed process")


def test_a_resume_url_or_network_name_is_not_fetched_while_the_paths_are_checked(tmp_path, monkeypatch):
    """The run downloads it, after every option is checked (qa-auditor M3)."""
    monkeypatch.setattr("stylegan2.utils.download.urllib.request.urlopen", lambda *a, **k: pytest.fail("downloaded"))
    for resume in ("https://example.invalid/net.pkl", "ffhq256"):
        check_run_paths(str(tmp_path / "data"), {"outdir": str(tmp_path / "runs"), "resume": resume}, creates_runs=True)
