"""--resume auto finds the last snapshot of the newest run of the same kind; a continued run keeps its global batch."""

import json

import pytest

from stylegan2.data import open_dataset
from stylegan2.io import CheckpointError
from stylegan2.training.config import resolve_options
from stylegan2.training.loop import TrainingError, train
from stylegan2.training.resume import check_resume
from stylegan2.training.rundir import latest_snapshot
from stylegan2.training.session import RunFinished

TINY = dict(clusters=0, cbase=128, cmax=16, z_dim=16, w_dim=16, map=2, batch=8, workers=0, aug="noaug", tick=0.008, snap=1)
NAMED = "batch8-noaug-map2-cbase128-cmax16-clusters0"  # TINY's options in a run directory's name, after --gamma and --kimg


def resume_notes(run_dir, network) -> list[str]:
    """The run's notes on its --resume file, as its log.txt holds them (stderr shows the same lines)."""
    start = f"note: --resume {network}: "
    return [line.removeprefix(start) for line in (run_dir / "log.txt").read_text().splitlines() if line.startswith(start)]


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_latest_snapshot_is_the_newest_of_the_newest_run_of_that_kind_that_has_one(tmp_path):
    touch(tmp_path / "00000-shapes-cpu" / "network-snapshot-000008.safetensors")  # behind: the newer run continued it
    newest = touch(tmp_path / "00001-shapes-cpu" / "network-snapshot-000010.safetensors")
    touch(tmp_path / "00001-shapes-cpu" / "network-snapshot-000009-512.safetensors")
    touch(tmp_path / "00001-shapes-cpu" / "network-snapshot-000010-064.safetensors.tmp")  # a killed run's half-written file
    (tmp_path / "00002-shapes-cpu").mkdir()  # a restart that died before its first snapshot
    touch(tmp_path / "00003-mnist-cpu" / "network-snapshot-000020.safetensors")  # another dataset
    assert latest_snapshot(tmp_path, "shapes-cpu") == (newest, [])
    assert latest_snapshot(tmp_path, "shapes-paper256") == (None, [])
    assert latest_snapshot(tmp_path / "missing", "shapes-cpu") == (None, [])


def test_kimg_labels_order_like_the_image_counts(tmp_path):
    for name in ("000009-512", "000010", "000010-008", "000002"):
        touch(tmp_path / "00000-x" / f"network-snapshot-{name}.safetensors")
    assert latest_snapshot(tmp_path, "x")[0].name == "network-snapshot-000010-008.safetensors"


def options(tmp_path, **overrides):
    return resolve_options("builtin:shapes?n=64", "cpu", 16, 1, {**TINY, "outdir": str(tmp_path / "runs"), "kimg": 0.016, **overrides})


def test_resume_auto_starts_a_new_run_then_continues_the_last_snapshot(tmp_path, one_thread):
    lines = []
    first = train(options(tmp_path, kimg=0.008, resume="auto"), device="cpu", log=lines.append)
    assert f"Resume auto: no snapshot of a shapes-cpu run under {tmp_path / 'runs'}; starting a new run" in lines
    lines.clear()
    second = train(options(tmp_path, resume="auto"), device="cpu", log=lines.append)
    assert f"Resuming from {first / 'network-snapshot-000000-008.safetensors'}: continuing the run" in lines
    assert [p.name for p in second.glob("network-snapshot-*")] == ["network-snapshot-000000-016.safetensors"]
    assert json.loads((second / "training_options.json").read_text())["resume"] == str(first / "network-snapshot-000000-008.safetensors")
    before = sorted((tmp_path / "runs").iterdir())
    for kimg in (0.016, 0.008):  # the same command again, or a shorter one: the run is over, nothing new is made
        with pytest.raises(RunFinished, match=r"^--resume auto: the run of .*network-snapshot-000000-016\.safetensors is at "
                                              r"0\.016 kimg, already --kimg [\d.]+: nothing to do \(raise --kimg to train on\)$"):
            train(options(tmp_path, kimg=kimg, resume="auto"), device="cpu", log=lambda line: None)
    assert sorted((tmp_path / "runs").iterdir()) == before
    with pytest.raises(TrainingError, match=r"its run is at 0\.016 kimg, already --kimg 0\.016; nothing to train"):
        train(options(tmp_path, resume=str(second / "network-snapshot-000000-016.safetensors")), device="cpu",
              log=lambda line: None)  # a file named by hand: still an error


def test_resume_auto_passes_over_runs_of_other_jobs(tmp_path, one_thread):
    """A sweep's jobs share --outdir, and datasets of one name share the run directories' names."""
    mine = train(options(tmp_path, kimg=0.008, gamma=2.0), device="cpu", log=lambda line: None)
    train(options(tmp_path, kimg=0.008, gamma=8.0), device="cpu", log=lambda line: None)  # another job, newer
    train(resolve_options("builtin:shapes?n=32", "cpu", 16, 1, {**TINY, "outdir": str(tmp_path / "runs"), "kimg": 0.008,
                                                               "gamma": 2.0}), device="cpu", log=lambda line: None)
    lines = []
    train(options(tmp_path, gamma=2.0, resume="auto"), device="cpu", log=lines.append)
    assert f"Resuming from {mine / 'network-snapshot-000000-008.safetensors'}: continuing the run" in lines
    assert lines[1] == (f"Resume auto: passed over 00002-shapes-cpu-gamma2-kimg0.008-{NAMED}: --data builtin:shapes?n=32, "
                        "not --data builtin:shapes?n=64: a run with other options, so another job's (give one of its snapshots "
                        "to --resume to continue it anyway)")
    assert lines[2].startswith(f"Resume auto: passed over 00001-shapes-cpu-gamma8-kimg0.008-{NAMED}: --gamma 8.0, not --gamma 2.0: "
                               "a run with other options")
    train(options(tmp_path, kimg=0.008, gamma=8.0), device="cpu", log=lambda line: None)  # 00004, the other job's
    with pytest.raises(RunFinished) as done:  # the same command again: nothing to do, and what it passed over
        train(options(tmp_path, gamma=2.0, resume="auto"), device="cpu", log=lambda line: None)
    assert str(done.value).splitlines()[0].startswith(f"Resume auto: passed over 00004-shapes-cpu-gamma8-kimg0.008-{NAMED}: "
                                                      "--gamma 8.0, not")
    assert str(done.value).splitlines()[1].startswith("--resume auto: the run of ")
    lines.clear()
    train(options(tmp_path, kimg=0.008, gamma=4.0, resume="auto"), device="cpu", log=lines.append)
    assert f"Resume auto: no snapshot of a shapes-cpu run with these options under {tmp_path / 'runs'}; starting a new run" in lines


def test_a_continued_run_keeps_its_global_batch(tmp_path, one_thread):
    first = train(options(tmp_path, kimg=0.008), device="cpu", log=lambda line: None)
    snapshot = first / "network-snapshot-000000-008.safetensors"
    with pytest.raises(TrainingError, match=r"its run trained with a global batch of 8 \(--batch, over all processes\) but this one"
                                            r" would use 16; pass --batch 8 to continue it$"):
        train(options(tmp_path, batch=16, resume=str(snapshot)), device="cpu", log=lambda line: None)


def frozen_layers(run_dir) -> int:
    from stylegan2.io import load_network

    snapshot = sorted(run_dir.glob("network-snapshot-*.safetensors"))[-1]
    return load_network(snapshot)["D"].init_kwargs["block_kwargs"].get("freeze_layers", 0)


def test_freezed_on_resume_continues_as_trained_or_says_how(tmp_path, one_thread):
    """A continued run keeps its frozen D layers (its optimizer state lacks theirs); fine-tuning takes --freezed as given."""
    with pytest.warns(UserWarning, match=r"^--freezed 2 without --resume freezes D's first 2 layers at their random "):
        first = train(options(tmp_path, kimg=0.008, freezed=2), device="cpu", log=lambda line: None)
    snapshot = first / "network-snapshot-000000-008.safetensors"
    with pytest.raises(TrainingError, match=r"its run froze the first 2 layers of D \(--freezed 2\) but this one would freeze 1; "
                                            r"pass --freezed 2 to continue it$"):
        train(options(tmp_path, freezed=1, resume=str(snapshot)), device="cpu", log=lambda line: None)
    second = train(options(tmp_path, resume=str(snapshot)), device="cpu", log=lambda line: None)
    assert "D's first 2 layers stay frozen, as its run trained (--freezed 2)" in resume_notes(second, snapshot)
    assert frozen_layers(second) == 2 and '"freezed": 2' in (second / "training_options.json").read_text()

    from stylegan2.io import load_network, save_network

    nets = load_network(snapshot)
    save_network(tmp_path / "weights.safetensors", {name: nets[name] for name in ("G", "D", "G_ema")})  # no training state
    tuned = train(options(tmp_path, resume=str(tmp_path / "weights.safetensors")), device="cpu", log=lambda line: None)
    notes = resume_notes(tuned, tmp_path / "weights.safetensors")
    assert any("the file's D had its first 2 layers frozen; this run freezes 0 (--freezed)" in note for note in notes)
    assert frozen_layers(tuned) == 0


def test_a_swapping_autoencoder_file_is_refused_by_name(tmp_path):
    from stylegan2.io import save_network
    from stylegan2.models import SwapGenerator

    G = SwapGenerator(img_resolution=16, img_channels=3, num_upsampling=2, channel_base=256, channel_max=32,
                      spatial_code_ch=4, global_code_ch=32)
    save_network(tmp_path / "swapae.safetensors", {"G": G})
    with pytest.raises(TrainingError, match=r"its generator is a SwapGenerator, not a StyleGAN2 Generator; resume a Swapping "
                                            r"Autoencoder with `stylegan2 swapae train --resume`$"):
        train(options(tmp_path, resume=str(tmp_path / "swapae.safetensors")), device="cpu", log=lambda line: None)


def test_resume_auto_with_a_file_starts_from_it_once_then_continues_the_run(tmp_path, one_thread):
    """A fine-tuning job's one command line, for its first start and its requeues."""
    from stylegan2.io import load_network, save_network

    first = train(options(tmp_path, kimg=0.008), device="cpu", log=lambda line: None)
    nets = load_network(first / "network-snapshot-000000-008.safetensors")
    weights = save_network(tmp_path / "weights.safetensors", nets)  # no training state: transfer learning
    job = dict(outdir=str(tmp_path / "job"), resume=f"auto:{weights}")
    lines = []
    started = train(options(tmp_path, kimg=0.008, **job), device="cpu", log=lines.append)
    assert f"Resume auto: no snapshot of a shapes-cpu run under {tmp_path / 'job'}; starting from {weights}" in lines
    assert f"Resuming from {weights}: transfer learning from its weights" in lines
    assert "fine-tuning: EMA without ramp-up" in resume_notes(started, weights)
    weights.rename(tmp_path / "cleaned-up.safetensors")  # not needed once the run has a snapshot
    lines.clear()
    continued = train(options(tmp_path, kimg=0.016, **job), device="cpu", log=lines.append)
    snapshot = started / "network-snapshot-000000-008.safetensors"
    assert f"Resuming from {snapshot}: continuing the run" in lines
    assert "as its run trained: EMA without ramp-up" in resume_notes(continued, snapshot)  # the fine-tuning adjustment stays


def test_a_damaged_newest_snapshot_says_how_to_continue_from_the_one_before(tmp_path, one_thread):
    run = train(options(tmp_path), device="cpu", log=lambda line: None)
    newest = run / "network-snapshot-000000-016.safetensors"
    newest.write_bytes(newest.read_bytes()[:1000])  # damaged on storage
    for check in (lambda: train(options(tmp_path, kimg=0.024, resume="auto"), device="cpu", log=lambda line: None),
                  lambda: check_resume(options(tmp_path, kimg=0.024, resume="auto"), open_dataset("builtin:shapes?n=64"))):
        with pytest.raises(CheckpointError, match=r"truncated or corrupt .*; move it out of the run directory, and "
                                                  r"--resume auto continues from the snapshot before it$"):
            check()  # the run, and its --dry-run
    newest.rename(tmp_path / "aside.safetensors")
    lines = []
    train(options(tmp_path, kimg=0.024, resume="auto"), device="cpu", log=lines.append)
    assert f"Resuming from {run / 'network-snapshot-000000-008.safetensors'}: continuing the run" in lines


def test_resume_auto_finds_its_run_after_the_data_moved(tmp_path, one_thread):
    """A job that copies its dataset to its own scratch folder at each start."""
    from stylegan2.data import convert_dataset

    convert_dataset("builtin:shapes?n=64", tmp_path / "scratchA" / "shapes.zip", resolution=16)
    first = train(resolve_options(str(tmp_path / "scratchA" / "shapes.zip"), "cpu", 16, 1,
                                  {**TINY, "outdir": str(tmp_path / "runs"), "kimg": 0.008}), device="cpu", log=lambda m: None)
    (tmp_path / "scratchB").mkdir()
    (tmp_path / "scratchA" / "shapes.zip").rename(tmp_path / "scratchB" / "shapes.zip")
    lines = []
    train(resolve_options(str(tmp_path / "scratchB" / "shapes.zip"), "cpu", 16, 1,
                          {**TINY, "outdir": str(tmp_path / "runs"), "kimg": 0.016, "resume": "auto"}), device="cpu", log=lines.append)
    assert f"Resuming from {first / 'network-snapshot-000000-008.safetensors'}: continuing the run" in lines
    assert (f"Resume auto: its run read --data {tmp_path / 'scratchA' / 'shapes.zip'}, taken for this one (the same file "
            "name, moved or copied since)") in lines
