"""Tiny end-to-end training runs on builtin:shapes: outputs, resume, schedule, divergence."""

import dataclasses
import json
import os
import signal

import numpy as np
import PIL.Image
import pytest
import torch

from stylegan2.io import load_checkpoint, load_network
from stylegan2.training import loop as loop_module
from stylegan2.training import loss as loss_module
from stylegan2.training.config import resolve_options
from stylegan2.training.loop import TrainingError, train
from stylegan2.training.session import TrainingSession
from stylegan2.utils.files import writing

TINY = dict(clusters=0, cbase=128, cmax=16, z_dim=16, w_dim=16, map=2, batch=8, workers=0, aug="noaug", tick=0.032, snap=1)


def tiny_options(tmp_path, **overrides):
    kwargs = dict(TINY, outdir=str(tmp_path / "runs"), kimg=0.064)
    kwargs.update(overrides)
    return resolve_options("builtin:shapes?n=64", "cpu", 16, 1, kwargs)


def test_a_tiny_run_writes_logs_grids_and_snapshots(tmp_path):
    lines = []
    run_dir = train(tiny_options(tmp_path), device="cpu", log=lines.append)
    assert run_dir.name == "00000-shapes-cpu-kimg0.064-batch8-noaug-map2-cbase128-cmax16-clusters0"  # the options given
    names = {p.name for p in run_dir.iterdir()}
    assert {"training_options.json", "log.txt", "stats.jsonl", "reals.png", "fakes_init.png"} <= names
    assert "network-snapshot-000000-064.safetensors" in names and "fakes000000-064.png" in names
    stats = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    assert len(stats) == 2
    for tick in stats:
        assert all(torch.isfinite(torch.tensor(v["mean"])) for k, v in tick.items() if k != "timestamp")
    assert any(line.startswith("tick 1") for line in lines)
    nets = load_network(run_dir / "network-snapshot-000000-064.safetensors")
    assert set(nets) == {"G", "D", "G_ema"}
    # What made it (reproducibility QA M2): results are exact only with the same code and libraries.
    software = next(line for line in lines if line.startswith("Software: "))
    assert software.startswith("Software: stylegan2 ") and f"torch {torch.__version__}" in software
    source = load_checkpoint(run_dir / "network-snapshot-000000-064.safetensors").source
    assert source["software"]["torch"] == torch.__version__ and source["software"]["stylegan2"].startswith("0.")

    # The first lines tell the disk space the snapshots take: their number, and their size within 5%.
    (said,) = [line for line in lines if line.startswith("Snapshots: about ")]
    size, count = float(said.split()[2]) * 1e6, int(said.split("about ")[2].split()[0])
    snapshots = sorted(run_dir.glob("network-snapshot-*.safetensors"))
    assert count == len(snapshots) == 2 and abs(size / snapshots[-1].stat().st_size - 1) < 0.05, said


@pytest.mark.parametrize("where, clusters, said", [
    ("cluster_dataset", 4, "Interrupted while clustering: nothing was written"),
    # a scheduler's SIGUSR1 while a large network was built (or a --resume file read) ended with no line at all
    ("make_phases", 0, "Interrupted before training: nothing was written"),
])
def test_ctrl_c_before_the_loop_is_said_once_and_writes_nothing(tmp_path, monkeypatch, where, clusters, said):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(loop_module, where, interrupted)
    lines = []
    with pytest.raises(KeyboardInterrupt):
        train(tiny_options(tmp_path, clusters=clusters), device="cpu", log=lines.append)
    assert lines[-1] == said and lines.count(said) == 1 and not (tmp_path / "runs").exists()
    assert "Interrupted before training: nothing was written" not in lines[:-1]  # said once


def test_the_first_lines_say_what_was_chosen(tmp_path):
    lines = []
    train(tiny_options(tmp_path, kimg=0.008, loss="r3gan", aug="ada"), device="cpu", log=lines.append)
    text = "\n".join(lines)
    assert "Objective: --loss r3gan, R1 and R2 gamma" in text and "D judges packs of 4 images" in text
    assert "Augmentation: ada (p tuned toward r_t 0.6, pipeline bgc" in text
    assert "Data loading: 0 worker processes (--workers)" in text


@pytest.mark.parametrize("cond", [False, True])
def test_r3gan_trains_packed_and_conditional(tmp_path, cond):
    """The relativistic objective through the whole loop: unconditional (packed D) and with labels (one image per D input)."""
    run_dir = train(tiny_options(tmp_path, kimg=0.032, loss="r3gan", cond=cond),
                    device="cpu", log=lambda m: None)
    stats = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    assert "Loss/r2_penalty" in stats[0] and all(torch.isfinite(torch.tensor(s["Loss/G/loss"]["mean"])) for s in stats)
    assert json.loads((run_dir / "training_options.json").read_text())["pack"] == (1 if cond else 4)


def test_runs_never_reuse_a_directory(tmp_path):
    first = train(tiny_options(tmp_path, kimg=0.008), device="cpu", log=lambda m: None)
    second = train(tiny_options(tmp_path, kimg=0.008), device="cpu", log=lambda m: None)
    assert first != second and first.exists() and second.name.startswith("00001-")


def test_a_resume_on_another_thread_count_says_it_will_not_be_exact(tmp_path, capsys):
    """Sums in another order differ by rounding at first and by 1e-2 within a few steps (reproducibility QA M1).
    A note: on stderr, which --quiet keeps, and in log.txt, once each."""
    full = train(tiny_options(tmp_path, kimg=0.016), device="cpu", log=lambda m: None)
    snapshot = next(full.glob("network-snapshot-*.safetensors"))
    threads = torch.get_num_threads()
    assert load_checkpoint(snapshot).training_state["threads"] == threads
    capsys.readouterr()
    train(tiny_options(tmp_path, kimg=0.032, resume=str(snapshot)), device="cpu", log=lambda m: None)
    assert "compute thread(s) and this one" not in capsys.readouterr().err
    torch.set_num_threads(threads + 1)
    try:
        lines = []
        run_dir = train(tiny_options(tmp_path, kimg=0.032, resume=str(snapshot)), device="cpu", log=lines.append)
    finally:
        torch.set_num_threads(threads)
    note = (f"note: --resume {snapshot}: its run used {threads} compute thread(s) and this one {threads + 1}: it continues "
            f"close to, not exactly as, its run would have; OMP_NUM_THREADS={threads} resumes it exactly")
    assert capsys.readouterr().err.splitlines().count(note) == 1 and not any("and this one" in line for line in lines)
    assert (run_dir / "log.txt").read_text().splitlines().count(note) == 1


@pytest.mark.parametrize("loss", ["stylegan2", "r3gan"])
def test_resume_continues_exactly_where_the_run_stopped(tmp_path, loss):
    # ADA with target 0 raises p at every adjustment while D calls most reals real, so augmentation and its
    # state are exercised too (with one logit per image: a packed D's 2 logits per step can tie at r_t = 0).
    ada = dict(aug="ada", target=0.0, ada_kimg=0.1, pack=1, loss=loss)
    full = train(tiny_options(tmp_path, kimg=0.064, **ada), device="cpu", log=lambda m: None)
    half = full / "network-snapshot-000000-032.safetensors"
    assert load_checkpoint(half).training_state["augment"]["p"] > 0
    resumed = train(tiny_options(tmp_path, kimg=0.064, resume=str(half), **ada), device="cpu", log=lambda m: None)
    a = load_checkpoint(full / "network-snapshot-000000-064.safetensors")
    b = load_checkpoint(resumed / "network-snapshot-000000-064.safetensors")
    assert b.training_state["cur_nimg"] == 64 and b.training_state["cur_tick"] == 2  # the next tick
    for name in ("G", "D", "G_ema"):
        sa, sb = a.networks[name].state_dict(), b.networks[name].state_dict()
        for key in sa:
            torch.testing.assert_close(sa[key], sb[key], rtol=0, atol=0, msg=f"{name}.{key}")


def test_resume_after_ctrl_c_within_a_tick_keeps_the_ticks_and_snapshots(tmp_path, monkeypatch):
    """A Ctrl-C snapshot is taken within a tick: the resumed run goes on with that tick, so its tick lines,
    statistics rows and snapshots fall where the uninterrupted run's do."""
    schedule = dict(kimg=0.064, tick=0.024, snap=2)  # ticks of 3 steps of 8 images; a snapshot every other tick
    full_lines: list[str] = []
    full = train(tiny_options(tmp_path / "full", **schedule), device="cpu", log=full_lines.append)
    original_step = TrainingSession._step

    def ctrl_c_in_step_4(self, hooks):
        if self.batch_idx == 4:  # within tick 1 (steps 3-5)
            os.kill(os.getpid(), signal.SIGINT)
        original_step(self, hooks)

    monkeypatch.setattr(TrainingSession, "_step", ctrl_c_in_step_4)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_options(tmp_path / "cut", **schedule), device="cpu", log=lambda m: None)
    monkeypatch.undo()
    (stopped,) = (tmp_path / "cut" / "runs").glob("*/network-snapshot-000000-040.safetensors")
    lines: list[str] = []
    resumed = train(tiny_options(tmp_path / "cut", resume=str(stopped), **schedule), device="cpu", log=lines.append)

    def ticks(log: list[str]) -> list[tuple[str, str]]:
        return [(line.split()[1], line.split()[3]) for line in log if line.startswith("tick ")]

    assert ticks(lines) == ticks(full_lines)[1:] == [("1", "0.048"), ("2", "0.064")]
    assert sorted(p.name for p in resumed.glob("network-snapshot-*")) == ["network-snapshot-000000-064.safetensors"]
    stats = [json.loads(row)["Progress/kimg"]["mean"] for row in (resumed / "stats.jsonl").read_text().splitlines()]
    assert stats == [0.048, 0.064]
    # The resumed tick's statistics cover its steps before the stop too (they covered the steps after it only).
    rows = [[json.loads(row) for row in (run / "stats.jsonl").read_text().splitlines()] for run in (full, resumed)]
    for name in ("Loss/G/loss", "Loss/D/loss"):
        assert rows[1][0][name]["num"] == rows[0][1][name]["num"]
        assert rows[1][0][name]["mean"] == pytest.approx(rows[0][1][name]["mean"], rel=1e-12)
    a = load_checkpoint(full / "network-snapshot-000000-064.safetensors").networks["G_ema"].state_dict()
    b = load_checkpoint(resumed / "network-snapshot-000000-064.safetensors").networks["G_ema"].state_dict()
    assert all(torch.equal(a[key], b[key]) for key in a)


def test_lazy_regularization_schedule(tmp_path, monkeypatch):
    calls = []
    original = loss_module.StyleGAN2Loss.accumulate_gradients

    def spy(self, phase, *args, **kwargs):
        calls.append((phase, kwargs["gain"]))
        return original(self, phase, *args, **kwargs)

    monkeypatch.setattr(loss_module.StyleGAN2Loss, "accumulate_gradients", spy)
    train(tiny_options(tmp_path, kimg=0.136, tick=1.0, batch_gpu=4, pl_weight=2.0), device="cpu", log=lambda m: None)
    count = {name: sum(1 for p, _ in calls if p == name) for name in ("Gmain", "Greg", "Dmain", "Dreg")}
    # 17 minibatches of 2 rounds each; G regularizes at steps 0, 4, ..., 16 and D at 0 and 16.
    assert count == {"Gmain": 34, "Greg": 10, "Dmain": 34, "Dreg": 4}
    gains = {p: g for p, g in calls}
    assert gains == {"Gmain": 0.5, "Dmain": 0.5, "Greg": 2.0, "Dreg": 8.0}  # interval / rounds


def test_lazy_regularization_adjusts_learning_rate_and_betas(tmp_path):
    from stylegan2.training.networks import build_networks
    from stylegan2.training.phase import make_phases

    options = tiny_options(tmp_path, glr=0.002, dlr=0.003)
    G, D = build_networks(options, 0, 16, 3)
    phases = make_phases(dataclasses.replace(options, pl_weight=2.0), G, D)
    g_group = phases[0].opt.param_groups[0]
    d_group = phases[2].opt.param_groups[0]
    assert g_group["lr"] == pytest.approx(0.002 * 4 / 5) and g_group["betas"] == pytest.approx((0.0, 0.99 ** (4 / 5)))
    assert d_group["lr"] == pytest.approx(0.003 * 16 / 17) and d_group["betas"] == pytest.approx((0.0, 0.99 ** (16 / 17)))
    assert [p.interval for p in phases] == [1, 4, 1, 16]


def test_non_finite_loss_stops_the_run_and_names_the_step_and_last_snapshot(tmp_path, monkeypatch):
    original = loss_module.StyleGAN2Loss.accumulate_gradients
    calls = []

    def poisoned(self, phase, real_img, *args, **kwargs):
        calls.append(phase)
        if len(calls) > 10:  # after the first tick (4 steps: Gmain, Dmain each, Dreg once) was saved
            real_img = real_img * float("nan")
        return original(self, phase, real_img, *args, **kwargs)

    monkeypatch.setattr(loss_module.StyleGAN2Loss, "accumulate_gradients", poisoned)
    with pytest.raises(TrainingError, match=r"non-finite .* phase Dmain in \d+ of its steps in a row at step 4 "
                                            r".*last good snapshot is .*000000-032"):
        train(tiny_options(tmp_path, kimg=0.2), device="cpu", log=lambda m: None)
    snapshots = sorted((tmp_path / "runs").glob("*/network-snapshot-*.safetensors"))
    assert [p.name for p in snapshots] == ["network-snapshot-000000-032.safetensors"]


def test_diverging_learning_rates_stop_the_run_before_any_snapshot(tmp_path):
    with pytest.raises(TrainingError, match=r"non-finite .* at step 0 .*no snapshot was written yet"):
        train(tiny_options(tmp_path, kimg=0.2, glr=1e30, dlr=1e30), device="cpu", log=lambda m: None)


def test_transfer_learning_from_a_network_file(tmp_path):
    first = train(tiny_options(tmp_path, kimg=0.008), device="cpu", log=lambda m: None)
    snapshot = next(first.glob("network-snapshot-*.safetensors"))
    lines = []
    train(tiny_options(tmp_path, kimg=0.016, resume=str(snapshot)), device="cpu", log=lines.append)
    assert any("Resuming from" in line for line in lines)


def test_resume_of_a_conditional_network_on_data_lacking_its_top_classes_says_how_to_keep_the_label_size(tmp_path):
    """It said to pass --cond, which was given; the dataset's labels simply stop below the network's classes."""
    import json

    run = train(tiny_options(tmp_path, kimg=0.008, cond=True), device="cpu", log=lambda m: None)  # 5 shape classes
    snapshot = next(run.glob("network-snapshot-*.safetensors"))
    folder = tmp_path / "three"
    folder.mkdir()
    for i in range(8):
        PIL.Image.fromarray(np.full((16, 16, 3), i * 30, np.uint8)).save(folder / f"{i}.png")
    (folder / "dataset.json").write_text(json.dumps({"labels": [[f"{i}.png", i % 3] for i in range(8)]}))
    options = resolve_options(str(folder), "cpu", 16, 1, dict(TINY, outdir=str(tmp_path / "r"), kimg=0.016,
                                                               resume=str(snapshot), cond=True))
    with pytest.raises(TrainingError, match=r"with 3 label dims; the dataset's labels go up to class 2 while the network has "
                                            r"5 classes: for data that lack the top classes, write \"num_classes\": 5 into "
                                            r"its dataset\.json, or pick a matching network$"):
        train(options, device="cpu", log=lambda m: None)


def test_resume_with_a_network_of_another_resolution_is_refused(tmp_path):
    run = train(tiny_options(tmp_path, kimg=0.008), device="cpu", log=lambda m: None)
    snapshot = next(run.glob("network-snapshot-*.safetensors"))
    options = resolve_options("builtin:shapes?n=64", "cpu", 32, 1, dict(TINY, outdir=str(tmp_path / "r"), kimg=0.008, resume=str(snapshot)))
    with pytest.raises(TrainingError, match=r"16 px images .* but the dataset has 3-channel 32 px images with 0 label dims; "
                                            r"make a 16 px copy of the dataset \(stylegan2 dataset --source builtin:shapes\?n=64 "
                                            r"--dest shapes-16\.zip --resolution 16 --transform center-crop\) and train on it, "
                                            r"or pick a matching network$"):
        train(options, device="cpu", log=lambda m: None)
    labelled = resolve_options("builtin:shapes?n=64", "cpu", 16, 1, dict(TINY, outdir=str(tmp_path / "c"), kimg=0.016,
                                                                        resume=str(snapshot), cond=True))
    with pytest.raises(TrainingError, match=r"with 0 label dims, but the dataset has 3-channel 16 px images with 5 label dims; "
                                            r"train without labels \(leave out --cond\), or pick"):
        train(labelled, device="cpu", log=lambda m: None)
    clustered = dataclasses.replace(labelled, cond=False, clusters=5)  # the cpu preset's default on unlabeled data
    with pytest.raises(TrainingError, match=r"train without labels \(pass --clusters 0 --pack 4\), or pick"):
        train(clustered, device="cpu", log=lambda m: None)  # the file's D judges packs of 4 (TINY's cpu preset)
    gray = tmp_path / "gray"
    gray.mkdir()
    for i in range(64):
        PIL.Image.fromarray(np.full((16, 16), i * 4, np.uint8)).save(gray / f"{i}.png")
    grayscale = dataclasses.replace(clustered, data=str(gray))  # the pack is the file's, not 12 RGB channels / 1
    with pytest.raises(TrainingError, match=r"use 3-channel images \(convert each image to RGB, e\.g\. with PIL's "
                                            r"Image\.convert\('RGB'\)\), train without labels \(pass --clusters 0 --pack 4\)"):
        train(grayscale, device="cpu", log=lambda m: None)


@pytest.mark.parametrize("edit, message", [
    (dict(batch=4), r"^--batch-gpu 8 must divide the per-process batch 4"),  # 0 accumulation rounds: nothing trained
    (dict(kimg=-1.0), r"^--kimg must be a positive number, got -1.0$"),
    (dict(kimg="1"), r"^--kimg must be a number, got '1'$"),  # a value read from a config file, still a string
    (dict(kimg=np.float32(-1)), r"^--kimg must be a positive number, got -1.0$"),  # NumPy numbers are numbers
    (dict(metrics="fid50k_full"), r"^metrics must be a list of metric names, got the string 'fid50k_full'"),
])
def test_options_edited_after_resolving_are_checked_by_train(tmp_path, edit, message):
    """A sweep's dataclasses.replace(options, batch=...) trained nothing, wrote snapshots and said Done."""
    options = dataclasses.replace(tiny_options(tmp_path), **edit)
    with pytest.raises(ValueError, match=message):
        train(options, device="cpu", log=lambda m: None)
    assert not (tmp_path / "runs").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_device_this_machine_lacks_is_one_line_from_python_too(tmp_path):
    """A notebook copied from a GPU machine: train(device='cuda') was torch's AttributeError from set_device."""
    with pytest.raises(ValueError, match=r"^--device cuda: no CUDA device is available here; use --device cpu"):
        train(tiny_options(tmp_path), device="cuda", log=lambda m: None)
    assert not (tmp_path / "runs").exists()


def test_the_callers_random_state_is_its_own_after_training(tmp_path):
    """A sweep `for cfg in cfgs: train(cfg); z = torch.randn(...)` drew the same z after every run."""
    draws = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        np.random.seed(seed)
        expected = (torch.rand(3), np.random.rand(3))
        torch.manual_seed(seed)
        np.random.seed(seed)
        train(tiny_options(tmp_path / str(seed), kimg=0.008), device="cpu", log=lambda m: None, max_steps=1)
        draws.append((torch.rand(3), np.random.rand(3)))
        torch.testing.assert_close(draws[-1][0], expected[0], rtol=0, atol=0)
        np.testing.assert_array_equal(draws[-1][1], expected[1])
    assert not torch.equal(draws[0][0], draws[1][0])


def test_unknown_metric_is_refused_before_training(tmp_path):
    with pytest.raises(ValueError, match="unknown metric 'fidd'"):
        tiny_options(tmp_path, metrics=["fidd"])


def test_snapshot_metrics_run_and_a_failing_metric_does_not_stop_training(tmp_path, monkeypatch, capsys):
    """The failure is a note: on stderr, which `train --quiet > /dev/null` keeps, and in log.txt once."""
    monkeypatch.setenv("STYLEGAN2_CACHE", str(tmp_path / "empty-cache"))  # no detector file there
    lines = []
    run_dir = train(tiny_options(tmp_path, kimg=0.008, metrics=["fid1k_full"]), device="cpu", log=lines.append)
    failed = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note: Metric fid1k_full failed:")]
    assert failed and all("Inception" in line for line in failed)
    assert not any("failed" in line for line in lines)
    assert [line for line in (run_dir / "log.txt").read_text().splitlines() if "Metric fid1k_full failed" in line] == failed
    assert list(run_dir.glob("network-snapshot-*.safetensors"))
    header = (run_dir / "log.txt").read_text().split("tick 0")[0]  # said in the run's first lines, before any step
    assert "Metrics: fid1k_full of G_ema at each snapshot (--metrics)\n" in header
    assert "note: --metrics: they fail (and training goes on) until this is fixed: pt_inception-2015-12-05-6726825d.pth " \
           "is not in " in header and "empty-cache" in header


@pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:DeprecationWarning")
def test_a_metrics_notes_go_to_stderr_and_to_the_run_log_beside_its_result(tmp_path, monkeypatch, capsys):
    """Not Python's `file:line: UserWarning` form on the terminal only: the log keeps what qualifies the number. The
    terminal gets it on stderr, as every command's notes (on stdout, `train --quiet > /dev/null` hid it)."""
    cache = tmp_path / "cache"
    cache.mkdir()
    torch.jit.script(torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten())).save(str(cache / "inception-2015-12-05.pt"))
    monkeypatch.setenv("STYLEGAN2_CACHE", str(cache))
    lines = []
    run_dir = train(tiny_options(tmp_path, kimg=0.008, metrics=["fid1k_full"]), device="cpu", log=lines.append)
    note = ("note: fid1k_full: computed with inception-2015-12-05, a feature network other than the FID Inception; "
            "not comparable with published numbers")
    assert note in capsys.readouterr().err.splitlines() and note not in lines
    log = (run_dir / "log.txt").read_text().splitlines()
    table = next(i for i, line in enumerate(log) if line.startswith("metric "))
    assert log[table - 1] == note
    assert log[table + 1].split()[:2] == ["fid1k_full", "fid1k_full"]


def test_an_outdir_under_home_is_expanded_for_the_run_directory_and_its_snapshots(tmp_path, monkeypatch):
    """Snapshots are written through save_checkpoint, which expands ~: the run directory must be made there too."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    run_dir = train(tiny_options(tmp_path, kimg=0.008, outdir="~/runs"), device="cpu", log=lambda m: None)
    assert run_dir.parent == tmp_path / "home" / "runs" and not (tmp_path / "~").exists()
    assert list(run_dir.glob("network-snapshot-*.safetensors"))


def test_a_first_grid_the_full_disk_refuses_is_a_note_naming_it(tmp_path, monkeypatch, capsys):
    """reals.png and fakes_init.png are optional outputs: a full disk while they are written does not end the run."""
    original = loop_module.save_image

    def full_for_the_first_grid(array, path):
        if path.name == "fakes_init.png":
            with writing(path):  # as save_image names its file
                raise OSError(28, "No space left on device")
        return original(array, path)

    monkeypatch.setattr(loop_module, "save_image", full_for_the_first_grid)
    lines = []
    run_dir = train(tiny_options(tmp_path, kimg=0.008), device="cpu", log=lines.append)
    note = f"note: could not write {run_dir / 'fakes_init.png'} (No space left on device); training goes on"
    assert capsys.readouterr().err.splitlines() == [note] and note in (run_dir / "log.txt").read_text().splitlines()
    assert lines[-1] == "Done." and (run_dir / "reals.png").is_file()


def test_keep_snapshots_deletes_the_runs_older_snapshots_as_new_ones_are_written(tmp_path):
    """A default 256 px run writes 126 snapshots of 661 MB: --keep-snapshots N keeps the newest N."""
    lines = []
    run_dir = train(tiny_options(tmp_path, kimg=0.096, keep_snapshots=2), device="cpu", log=lines.append)
    assert [p.name for p in sorted(run_dir.glob("network-snapshot-*"))] == [
        "network-snapshot-000000-064.safetensors", "network-snapshot-000000-096.safetensors"]
    assert "Deleted network-snapshot-000000-032.safetensors (--keep-snapshots 2)" in lines
    assert len(list(run_dir.glob("fakes0*.png"))) == 3  # the grids stay
    lines.clear()  # a resumed run counts the snapshots it has left, and keeps its own newest ones in its own directory
    resumed = train(tiny_options(tmp_path, kimg=0.128, keep_snapshots=2, resume=str(run_dir / "network-snapshot-000000-096.safetensors")),
                    device="cpu", log=lines.append)
    assert any(line.startswith("Snapshots: about ") and ", every 0.032 kimg: about 1 in the 0.032 kimg left, " in line
               for line in lines), lines[:12]
    assert len(list(run_dir.glob("network-snapshot-*"))) == 2 and len(list(resumed.glob("network-snapshot-*"))) == 1
    with pytest.raises(ValueError, match=r"^--keep-snapshots must be 0 \(keep all\) or how many"):
        tiny_options(tmp_path, keep_snapshots=-1)


def labelled_npz(tmp_path, labels) -> str:
    """A tiny .npz whose image i is filled with the value 20 * its label (so a grid shows which class it holds)."""
    labels = np.asarray(labels)
    values = (labels if labels.ndim == 1 else labels.argmax(1)) * 20
    images = np.broadcast_to(values[:, None, None, None], (len(labels), 16, 16, 3)).astype(np.uint8)
    np.savez(tmp_path / "labelled.npz", x=images, y=labels)
    return str(tmp_path / "labelled.npz")


def test_every_class_has_its_row_in_the_grids_with_reals_and_fakes_of_the_same_class(tmp_path):
    """An 8x8 grid with one class per row by row % classes showed classes 0-7 only (MNIST's 8 and 9 never), and
    reals.png was a random draw whose rows did not match the fakes' classes."""
    from stylegan2.data import open_dataset
    from stylegan2.training.loop import snapshot_grid

    data = labelled_npz(tmp_path, np.arange(40) % 10)  # 10 classes
    options = resolve_options(data, "cpu", 16, 1, dict(TINY, outdir=str(tmp_path / "r"), cond=True))
    dataset = open_dataset(data, use_labels=True)
    grid = snapshot_grid(options, dataset, 16, torch.device("cpu"))
    cols, rows = grid.shape
    assert (cols, rows) == (8, 10) and grid.z.shape == (80, 16)
    real_classes = dataset.class_indices()[grid.reals].reshape(rows, cols)
    assert (real_classes == np.arange(10)[:, None]).all()
    assert (grid.c.argmax(1).reshape(rows, cols) == torch.arange(10)[:, None]).all()
    assert len(set(grid.reals[:cols].tolist())) == 4  # class 0's four images, in turn


def test_three_classes_fill_the_grid_in_turn_and_label_vectors_go_with_their_reals(tmp_path):
    from stylegan2.data import open_dataset
    from stylegan2.training.loop import snapshot_grid

    data = labelled_npz(tmp_path, np.arange(30) % 3)
    options = resolve_options(data, "cpu", 16, 1, dict(TINY, outdir=str(tmp_path / "r"), cond=True))
    grid = snapshot_grid(options, open_dataset(data, use_labels=True), 16, torch.device("cpu"))
    assert grid.shape == (8, 8) and grid.c.argmax(1).reshape(8, 8)[:, 0].tolist() == [0, 1, 2, 0, 1, 2, 0, 1]
    vectors = np.random.RandomState(0).rand(20, 4).astype(np.float32)
    (tmp_path / "v").mkdir()
    data = labelled_npz(tmp_path / "v", vectors)
    dataset = open_dataset(data, use_labels=True)
    grid = snapshot_grid(resolve_options(data, "cpu", 16, 1, dict(TINY, outdir=str(tmp_path / "r"), cond=True)), dataset, 16,
                         torch.device("cpu"))
    assert grid.shape == (8, 8) and len(grid.reals) == 20 and grid.c.shape == (64, 4)
    for i in range(64):  # the fakes' labels are those of the reals in their cells (cycled past the 20 images)
        np.testing.assert_array_equal(grid.c[i].numpy(), dataset.get_label(int(grid.reals[i % 20])))


@pytest.mark.parametrize("labels, kind", [(np.arange(16) % 3, "classes"),
                                          (np.random.RandomState(0).rand(16, 3).astype(np.float32), "vectors")])
def test_snapshots_record_whether_the_run_trained_on_classes_or_label_vectors(tmp_path, labels, kind):
    """Both make c_dim 3; the tools read the record to ask for --class or --label (QA retest33 N6)."""
    data = labelled_npz(tmp_path, labels)
    run_dir = train(resolve_options(data, "cpu", 16, 1, dict(TINY, outdir=str(tmp_path / "runs"), kimg=0.008, cond=True)),
                    device="cpu", log=lambda m: None)
    (snapshot,) = run_dir.glob("network-snapshot-*.safetensors")
    checkpoint = load_checkpoint(snapshot)
    assert checkpoint.training_state["labels"] == kind
    assert checkpoint.networks["G_ema"].label_kind == kind and checkpoint.networks["G"].label_kind == kind


def test_an_unconditional_run_records_no_label_kind(tmp_path):
    run_dir = train(tiny_options(tmp_path, kimg=0.008), device="cpu", log=lambda m: None)
    (snapshot,) = run_dir.glob("network-snapshot-*.safetensors")
    checkpoint = load_checkpoint(snapshot)
    assert "labels" not in checkpoint.training_state and checkpoint.networks["G_ema"].label_kind is None


def test_a_relative_data_path_is_recorded_absolute(tmp_path, monkeypatch):
    """`metrics` without --data, run from another folder, read a relative --data there: another folder's images were
    scored with no word (reproducibility QA M3)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "imgs").mkdir()
    for i in range(8):
        PIL.Image.fromarray(np.full((16, 16, 3), i * 30, np.uint8)).save(tmp_path / "imgs" / f"{i}.png")
    options = resolve_options("imgs", "cpu", 16, 1, dict(TINY, outdir="runs", kimg=0.008))
    run_dir = train(options, device="cpu", log=lambda m: None)
    recorded = json.loads((run_dir / "training_options.json").read_text())
    assert recorded["data"] == str(tmp_path / "imgs")
    (snapshot,) = run_dir.glob("network-snapshot-*.safetensors")
    assert load_checkpoint(snapshot).training_state["options"]["data"] == str(tmp_path / "imgs")
