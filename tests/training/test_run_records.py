"""What a run records and says at its start for comparing runs: the augmentation settings its --aug used (others
null), the metric files its snapshots are scored with, and whether its --outdir's disk holds its snapshots."""

import collections
import json
import shutil

import pytest
import torch

from stylegan2.data import open_dataset
from stylegan2.training.config import resolve_options, run_differences
from stylegan2.training.loop import train
from stylegan2.training.summary import disk_note, dry_run_summary, metrics_summary

TINY = dict(clusters=0, cbase=128, cmax=16, z_dim=16, w_dim=16, map=2, batch=8, workers=0, aug="noaug", tick=0.032, snap=1)
AUG_SETTINGS = ("augpipe", "p", "target", "ada_kimg")
MB = 1_000_000


def resolved(tmp_path, **overrides):
    return resolve_options("builtin:shapes?n=64", "cpu", 16, 1, {**TINY, "outdir": str(tmp_path / "runs"), **overrides})


@pytest.fixture
def free_bytes(monkeypatch):
    """Make every disk report this many free bytes."""
    def set_free(free):
        usage = collections.namedtuple("Usage", "total used free")(10 * free + 1, 0, free)
        monkeypatch.setattr(shutil, "disk_usage", lambda path: usage)
    return set_free


@pytest.mark.parametrize("aug, recorded", [("noaug", ()), ("diffaug", ()), ("fixed", ("augpipe", "p")),
                                           ("ada", AUG_SETTINGS)])
def test_the_record_holds_null_for_the_augmentation_settings_its_aug_does_not_use(tmp_path, aug, recorded):
    """A --target sweep of noaug runs that trained alike recorded target 0.6 and 0.7 (tuner QA L2)."""
    options = resolved(tmp_path, aug=aug, **({"p": 0.2} if aug == "fixed" else {}))
    record = options.to_json()
    assert [name for name in AUG_SETTINGS if record[name] is not None] == list(recorded)
    assert options.augment.target == 0.6  # the options themselves keep every value; only the record says null


def test_a_preset_noaug_records_null_for_a_target_it_left_unused(tmp_path):
    with pytest.warns(UserWarning, match="--target is left unused"):
        options = resolve_options("builtin:shapes?n=64", "cpu", 16, 1, {**TINY, "aug": None, "target": 0.7},
                                  num_images=20_000)
    assert options.aug == "noaug" and options.to_json()["target"] is None


def test_resume_auto_compares_neither_null_nor_an_older_records_unused_augmentation_settings(tmp_path):
    options = resolved(tmp_path, aug="noaug")
    older = {**options.to_json(), "augpipe": "bgc", "p": 0.0, "target": 0.7, "ada_kimg": 500}  # as runs recorded before
    assert run_differences(options, options.to_json()) == []
    assert run_differences(options, older) == []
    ada = resolved(tmp_path, aug="ada")
    assert run_differences(ada, options.to_json()) == ["--aug noaug, not --aug ada"]  # not also '--target None, ...'
    typed = {**ada.to_json(), "target": 0.7, "given": [*ada.given, "target"]}  # a run that typed --target 0.7
    assert run_differences(ada, typed) == ["--target 0.7, not --target 0.6"]


def test_the_metric_files_are_recorded_and_not_compared_by_resume_auto(tmp_path):
    options = resolved(tmp_path, detector="/nets/mine.pt", vgg="/nets/vgg16.pt", cache_dir="/cache")
    record = options.to_json()
    assert (record["detector"], record["vgg"], record["cache_dir"]) == ("/nets/mine.pt", "/nets/vgg16.pt", "/cache")
    assert run_differences(resolved(tmp_path), record) == []  # how a run is scored is not what it trains


def test_the_metrics_line_looks_for_no_file_that_was_given(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEGAN2_OFFLINE", "1")  # the missing files are not downloaded
    cache = tmp_path / "empty-cache"
    missing = metrics_summary(resolved(tmp_path, metrics=["fid1k_full", "pr1k3_full"], cache_dir=str(cache)))[1]
    assert missing.startswith("pt_inception-2015-12-05-6726825d.pth is not in ") and str(cache) in missing
    (tmp_path / "d.pt").write_bytes(b"")  # given files are only checked to be there
    (tmp_path / "v.pt").write_bytes(b"")
    given = resolved(tmp_path, metrics=["fid1k_full", "pr1k3_full"], cache_dir=str(cache), detector=str(tmp_path / "d.pt"))
    assert metrics_summary(given) == ("Metrics: fid1k_full, pr1k3_full of G_ema at each snapshot (--metrics)", None)
    ppl = metrics_summary(resolved(tmp_path, metrics=["ppl2_wend", "pr1k3_full"], cache_dir=str(cache),
                                   detector=str(tmp_path / "d.pt")))[1]
    assert ppl.startswith("vgg16.pt is not in ")  # PPL reads VGG16, which was not given
    both = resolved(tmp_path, metrics=["ppl2_wend", "pr1k3_full"], cache_dir=str(cache), vgg=str(tmp_path / "v.pt"))
    assert metrics_summary(both)[1] is None  # precision/recall then uses the VGG16 too


@pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:DeprecationWarning")
def test_the_snapshot_metrics_use_the_detector_and_cache_dir_given(tmp_path, monkeypatch):
    """`train` could only use a custom feature network saved as the Inception in the cache (tuner QA M5)."""
    detector = tmp_path / "my-features.pt"
    torch.jit.script(torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten())).save(str(detector))
    monkeypatch.setenv("STYLEGAN2_CACHE", str(tmp_path / "default-cache"))  # where the run must not look
    cache = tmp_path / "my-cache"
    lines = []
    run_dir = train(resolved(tmp_path, kimg=0.032, metrics=["fid1k_full"], detector=str(detector), cache_dir=str(cache)),
                    device="cpu", log=lines.append)
    assert not any("fail" in line for line in lines), lines
    (record,) = [json.loads(line) for line in (run_dir / "metric-fid1k_full.jsonl").read_text().splitlines()]
    assert "my-features" in json.dumps(record) and list((cache / "metric-stats").iterdir())
    assert not (tmp_path / "default-cache").exists()


def test_a_disk_without_room_for_one_snapshot_is_noted(tmp_path, free_bytes):
    free_bytes(MB)
    options = resolved(tmp_path, kimg=0.128)  # 4 snapshots
    assert disk_note(options, size=3 * MB, count=4) == (
        f"--outdir {tmp_path / 'runs'}: its disk has 1 MB free, less than one snapshot (about 3 MB): the run would "
        "stop at its first; free space there or choose another --outdir")


def test_a_disk_without_room_for_the_snapshots_kept_says_how_many_fit(tmp_path, free_bytes):
    free_bytes(7 * MB)
    options = resolved(tmp_path, keep_snapshots=3)  # 3 kept, and a 4th written before the oldest goes
    assert disk_note(options, size=2 * MB, count=10) == (
        f"--outdir {tmp_path / 'runs'}: its disk has 7 MB free, less than the 4 snapshots the run has on it at once "
        "(about 2 MB each): it would stop at snapshot 4; pass --keep-snapshots 2, free space there, or choose another "
        "--outdir")
    assert disk_note(options, size=2 * MB, count=3) is None  # 3 written, none deleted: 6 MB
    assert disk_note(resolved(tmp_path, keep_snapshots=2), size=2 * MB, count=10) is None


def test_the_run_and_its_dry_run_note_a_disk_too_small_for_a_snapshot(tmp_path, free_bytes, capsys):
    """A run trained until its first snapshot, then stopped on the full disk (chaos QA M5). The run's note goes to
    stderr and log.txt, once each, as every note of the run."""
    free_bytes(1000)
    options = resolved(tmp_path, kimg=0.032)
    dataset = open_dataset("builtin:shapes?n=64", resolution=16)
    lines, notes = dry_run_summary(options, dataset)
    assert lines == [f"Dataset: {dataset.summary()}"] and len(notes) == 1
    assert notes[0].startswith(f"--outdir {tmp_path / 'runs'}: its disk has 0.001 MB free, less than one snapshot (about ")
    said = []
    run_dir = train(options, device="cpu", log=said.append)
    note = f"note: {notes[0]}"  # the estimate of the real networks, as the dry run's of meta ones
    assert capsys.readouterr().err.splitlines().count(note) == 1 and not any(notes[0] in line for line in said)
    assert (run_dir / "log.txt").read_text().splitlines().count(note) == 1


def test_the_dry_run_sizes_networks_on_clusters_as_the_run_does(tmp_path, free_bytes):
    free_bytes(1000)
    options = resolved(tmp_path, kimg=0.032, clusters=3)
    notes = dry_run_summary(options, open_dataset("builtin:shapes?n=64", resolution=16))[1]
    run_dir = train(options, device="cpu", log=lambda line: None)
    assert f"note: {notes[0]}" in (run_dir / "log.txt").read_text().splitlines()
