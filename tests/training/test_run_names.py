"""Run directories are named after the dataset, --cfg and the options typed, as NVIDIA's train.py names them; `given`
holds only what was typed; `--resume auto` finds a run by its dataset and --cfg whatever else its name says."""

import json

import pytest

from stylegan2.training.config import resolve_options
from stylegan2.training.loop import train
from stylegan2.training.rundir import MAX_DESC_LENGTH, latest_snapshot, run_desc, run_kind

# What `stylegan2 train --data builtin:shapes --cfg cpu` passes when nothing else is typed: None for every option.
UNTYPED = dict(outdir=None, cond=None, mirror=None, skip_bad=None, gamma=None, kimg=None, seed=None)
TINY = dict(clusters=0, cbase=128, cmax=16, z_dim=16, w_dim=16, map=2, batch=8, workers=0, aug="noaug", tick=0.008, snap=1)


def resolved(**overrides):
    return resolve_options("builtin:shapes?n=64", "cpu", 16, 1, {**UNTYPED, **overrides})


def test_given_holds_only_the_options_typed_not_the_switches_a_command_line_always_passes():
    assert resolved().given == ()
    assert resolved(mirror=True, gamma=1.0, outdir="sweep").given == ("gamma", "mirror", "outdir")


def test_an_untyped_run_keeps_the_short_name():
    assert run_desc("shapes", resolved()) == "shapes-cpu"


def test_the_name_carries_the_options_typed_in_nvidias_order_and_spelling():
    options = resolved(cond=True, max_size=20, mirror=True, gamma=10.0, kimg=1000.0, batch=64, aug="ada", target=0.7,
                       augpipe="bgcf", resume="auto:ffhq256", freezed=2, seed=3)
    assert run_desc("mydata", options) == \
        "mydata-cond-subset20-mirror-cpu-gamma10-kimg1000-batch64-ada-target0.7-bgcf-resumeffhq256-freezed2-seed3"
    assert run_desc("mydata", resolved(aug="fixed", p=0.25, glr=0.002, ema_kimg=5.0, clusters=0)) == \
        "mydata-cpu-fixed-p0.25-glr0.002-emakimg5-clusters0"


def test_a_diffaugment_policy_typed_names_the_run():
    """Two runs of other policies are other jobs (--resume auto tells them apart): their names say so too."""
    assert run_desc("shapes", resolved(aug="diffaug", diffaugment_policy="color,cutout")) == \
        "shapes-cpu-diffaug-color,cutout"  # the directory's name has color_cutout (create_run_dir)


@pytest.mark.parametrize("resume, named", [
    ("auto", "shapes-cpu"),  # continues this run, or starts from new weights: no network to name
    ("auto:/nets/mine.pkl", "shapes-cpu-resumecustom"),
    ("/nets/mine.pkl", "shapes-cpu-resumecustom"),
    ("auto:ffhq256", "shapes-cpu-resumeffhq256"),
    ("/home/me/.cache/stylegan2/ffhq-res256-mirror-paper256-noaug.pkl", "shapes-cpu-resumeffhq256"),  # --resume ffhq256, fetched
])
def test_resume_is_named_as_nvidia_names_it(resume, named):
    assert run_desc("shapes", resolved(resume=resume)) == named


def test_a_name_with_many_options_stays_short_enough_for_a_file_system():
    options = resolved(gamma=0.123456, kimg=12345.5, batch=64, seed=123456789, glr=0.00123, dlr=0.00456, ema_kimg=12.5,
                       map=8, map_lrmul=0.05, cbase=32768, cmax=512, mbstd=8, pack=2, clusters=0, target=0.66,
                       ada_kimg=250.0, resolution=16, loss="r3gan", freezed=3, resume="/nets/mine.pkl", max_size=64)
    desc = run_desc("a-dataset-with-a-rather-long-name-" * 2, options)
    assert len(desc) <= MAX_DESC_LENGTH and desc.startswith("a-dataset-with-a-rather-long-name-a-dataset")
    assert "-subset64-cpu-gamma0.123456-kimg12345.5-batch64-target0.66-resumecustom-freezed3-seed123456789-" in desc


@pytest.mark.parametrize("name, same_kind", [
    ("shapes-cpu", True),  # an older version's name
    ("shapes-cpu-gamma2-kimg0.016", True),
    ("shapes-cond-subset20-mirror-cpu-seed3", True),
    ("shapes-paper256", False),
    ("shapes-cpu2", False),
    ("shapes2-cpu", False),
    ("shapes-mirror-paper256-cpu", False),
])
def test_resume_auto_looks_through_the_runs_of_the_dataset_and_cfg_whatever_their_names_add(name, same_kind):
    assert bool(run_kind("shapes", "cpu").fullmatch(name)) == same_kind


def test_latest_snapshot_finds_old_and_new_names_of_a_kind(tmp_path):
    for run in ("00000-shapes-cpu", "00001-shapes-cpu-gamma2", "00002-shapes-paper256-gamma2"):
        (tmp_path / run).mkdir()
        (tmp_path / run / "network-snapshot-000004.safetensors").write_bytes(b"")
    assert latest_snapshot(tmp_path, run_kind("shapes", "cpu"))[0] == tmp_path / "00001-shapes-cpu-gamma2" / \
        "network-snapshot-000004.safetensors"
    passed = latest_snapshot(tmp_path, run_kind("shapes", "cpu"), lambda run_dir: "other" if "gamma" in run_dir.name else "")
    assert passed == (tmp_path / "00000-shapes-cpu" / "network-snapshot-000004.safetensors", ["00001-shapes-cpu-gamma2: other"])


def test_resume_auto_continues_a_run_whose_directory_has_an_older_versions_name(tmp_path, one_thread):
    job = dict(TINY, outdir=str(tmp_path / "runs"), gamma=2.0)
    first = train(resolve_options("builtin:shapes?n=64", "cpu", 16, 1, dict(job, kimg=0.008)), device="cpu",
                  log=lambda line: None)
    old = first.rename(first.parent / "00000-shapes-cpu")  # as an older version named it
    lines = []
    second = train(resolve_options("builtin:shapes?n=64", "cpu", 16, 1, dict(job, kimg=0.016, resume="auto")),
                   device="cpu", log=lines.append)
    assert f"Resuming from {old / 'network-snapshot-000000-008.safetensors'}: continuing the run" in lines
    assert second.name == "00001-shapes-cpu-gamma2-kimg0.016-batch8-noaug-map2-cbase128-cmax16-clusters0"
    assert json.loads((second / "training_options.json").read_text())["given"] == \
        ["aug", "batch", "cbase", "clusters", "cmax", "gamma", "kimg", "map", "outdir", "resume", "snap", "tick", "w_dim",
         "workers", "z_dim"]


def test_a_freezed_above_ds_layers_without_resume_says_how_many_d_has():
    with pytest.warns(UserWarning, match=r"^--freezed 100 without --resume freezes D's layers at their random initial "
                                         r"weights for the whole run; .*; --freezed 100: D has 7 layers that can freeze "
                                         r"\(its blocks'; the epilogue's never do\), and all of them are frozen$"):
        resolved(freezed=100)


def test_a_metric_listed_twice_is_computed_once_with_the_note_stylegan2_metrics_gives():
    with pytest.warns(UserWarning, match=r"^--metrics fid1k_full: listed more than once; computed once$"):
        options = resolved(metrics=["fid1k_full", "kid1k_full", "fid1k_full"])
    assert options.metrics == ["fid1k_full", "kid1k_full"]
