"""`stylegan2 info` on a training snapshot of ours shows its run: kimg, ADA p, threads, the options given (and all with
--verbose), the command and software; `--json` carries the same."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from stylegan2.io import checkpoint_info, format_info, save_checkpoint
from stylegan2.models import Generator
from stylegan2.training.config import resolve_options
from stylegan2.training.loop import train

COMMAND = "stylegan2 train --data builtin:shapes?n=16 --cfg cpu --aug fixed --p 0.3 --seed 7 --gamma 2"


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> Path:
    outdir = tmp_path_factory.mktemp("runs")
    options = resolve_options("builtin:shapes?n=16", "cpu", 16, 1, dict(
        clusters=0, cbase=128, cmax=16, z_dim=16, w_dim=16, map=2, batch=8, workers=0, kimg=0.008, tick=0.008,
        aug="fixed", p=0.3, seed=7, gamma=2.0, outdir=str(outdir)))
    threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("STYLEGAN2_COMMAND", COMMAND)  # what the `stylegan2` entry point sets
        torch.set_num_threads(1)
        try:
            run_dir = train(options, device="cpu", log=lambda line: None)
        finally:
            torch.set_num_threads(threads)
    return next(run_dir.glob("network-snapshot-*.safetensors"))


def test_info_shows_the_runs_kimg_p_threads_options_given_command_and_software(snapshot):
    text = format_info(checkpoint_info(snapshot))
    lines = {line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in text.splitlines() if ":" in line}
    assert lines["kimg"] == "0.008"
    assert lines["augment p"] == "0.3"
    assert lines["threads"] == "1 compute thread(s) (an exact resume needs as many)"
    assert "--aug fixed" in lines["given"] and "--p 0.3" in lines["given"] and "--seed 7" in lines["given"]
    assert "--gamma 2 " in lines["given"] and "--glr" not in lines["given"]  # typed ones only; the preset's not
    assert lines["command"] == COMMAND
    assert lines["software"].startswith("stylegan2 ") and ", torch " in lines["software"]
    assert "options" not in lines


def test_verbose_info_adds_every_option_the_run_trained_with(snapshot):
    text = format_info(checkpoint_info(snapshot), verbose=True)
    options = next(line for line in text.splitlines() if line.startswith("options:"))
    assert "glr=0.005" in options and "cfg=cpu" in options and "mirror=false" in options and "given=" not in options


def test_info_json_carries_the_run_for_comparing_runs(snapshot):
    info = json.loads(json.dumps(checkpoint_info(snapshot)))  # JSON-able, as `info --json` prints it
    assert info["kimg"] == 0.008 and info["augment_p"] == pytest.approx(0.3) and info["threads"] == 1
    assert info["given"]["seed"] == 7 and info["given"]["p"] == 0.3 and "glr" not in info["given"]
    assert info["options"]["glr"] == 0.005 and info["options"]["seed"] == 7
    assert info["command"] == COMMAND and set(info["software"]) == {"stylegan2", "torch", "numpy", "python"}


def test_the_info_command_lists_every_option_with_verbose_only(snapshot):
    from click.testing import CliRunner

    from stylegan2.cli import main

    plain, verbose = (CliRunner().invoke(main, ["info", str(snapshot), *extra]) for extra in ([], ["--verbose"]))
    assert plain.exit_code == verbose.exit_code == 0, plain.output + verbose.output
    assert "options:" not in plain.output and "glr=0.005" in verbose.output


@pytest.mark.parametrize("labels, c_prior, line", [
    ("vectors", None, "labels:      vectors of 3 numbers (--label)"),
    ("classes", None, "labels:      3 classes (--class)"),
    ("classes", [1 / 3] * 3, "labels:      3 k-means clusters (--class picks one; without it one is drawn from z)"),
    (None, None, None)])
def test_info_shows_whether_the_run_trained_on_classes_or_label_vectors_where_recorded(tmp_path, labels, c_prior, line):
    G = Generator(z_dim=16, c_dim=3, w_dim=16, img_resolution=16, img_channels=3,
                  mapping_kwargs={"num_layers": 2, "c_prior": c_prior}, synthesis_kwargs={"channel_base": 128, "channel_max": 16})
    path = save_checkpoint(tmp_path / "g.safetensors", {"G_ema": G}, training_state={"labels": labels} if labels else None)
    info = checkpoint_info(path)
    assert info.get("label_kind") == labels
    shown = [text for text in format_info(info).splitlines() if text.startswith("labels:")]
    assert shown == ([line] if line else [])
