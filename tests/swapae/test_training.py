"""Tiny Swapping Autoencoder runs on builtin:shapes: outputs, exact resume, learning, schedule, failures, presets."""

import dataclasses
import json
import os
import signal

import numpy as np
import pytest
import torch
from PIL import Image

from stylegan2.data import open_dataset
from stylegan2.io import load_checkpoint, save_checkpoint
from stylegan2.models import CooccurrenceDiscriminator, Discriminator, Generator, SwapEncoder, SwapGenerator
from stylegan2.swapae.config import SWAPAE_PRESETS, SwapAEOptions, resolve_swapae_options
from stylegan2.swapae.loss import SwapAELoss
from stylegan2.swapae.training import architecture_notes, build_swapae_networks, make_optimizers, train_swapae
from stylegan2.training.config import auto_workers
from stylegan2.training.loop import TrainingError

pytestmark = pytest.mark.usefixtures("one_thread")


def quiet(message: str) -> None:
    pass


def test_a_tiny_run_writes_its_directory_snapshots_grids_and_finite_stats(swapae_run):
    assert swapae_run.name == "00000-shapes-swapae-cpu"
    names = {p.name for p in swapae_run.iterdir()}
    assert {"training_options.json", "log.txt", "stats.jsonl", "reals.png", "reconstructions_init.png", "swaps_init.png"} <= names
    for kimg in ("032", "064", "096", "128"):
        assert {f"network-snapshot-000000-{kimg}.safetensors", f"reconstructions000000-{kimg}.png", f"swaps000000-{kimg}.png"} <= names
    assert json.loads((swapae_run / "training_options.json").read_text())["global_code_ch"] == 16

    stats = [json.loads(line) for line in (swapae_run / "stats.jsonl").read_text().splitlines()]
    assert len(stats) == 4
    for tick in stats:
        assert {"Loss/L1", "Loss/G/rec", "Loss/G/swap", "Loss/G/patch", "Loss/D/loss", "Loss/D/patch"} <= set(tick)
        assert all(np.isfinite(v["mean"]) for k, v in tick.items() if k != "timestamp")
    assert "Loss/r1_penalty" in stats[0] and "Loss/patch_r1_penalty" in stats[0]  # lazy R1 ran at step 0

    log = (swapae_run / "log.txt").read_text()
    assert "tick 3" in log and "L1 " in log and log.rstrip().endswith("Done.")
    assert log == (swapae_run / "console.txt").read_text() + "\n"  # log.txt holds what the console got

    ckpt = load_checkpoint(swapae_run / "network-snapshot-000000-128.safetensors")
    kinds = {"E": SwapEncoder, "G": SwapGenerator, "D": Discriminator, "Dpatch": CooccurrenceDiscriminator}
    assert {name: type(net) for name, net in ckpt.networks.items()} == kinds
    assert ckpt.training_state["cur_nimg"] == 128 and set(ckpt.training_state["optimizers"]) == {"G", "D"}


def test_snapshot_grids_have_the_promised_layout(swapae_run):
    assert Image.open(swapae_run / "reals.png").size == (4 * 16, 2 * 16)  # grid 4x2
    assert Image.open(swapae_run / "reconstructions000000-128.png").size == (4 * 16, 2 * 16)
    swaps = np.asarray(Image.open(swapae_run / "swaps000000-128.png"))
    assert swaps.shape == (4 * 16, 4 * 16, 3)  # 3 structures + top border, 3 textures + left border
    assert not swaps[:16, :16].any()  # black corner
    dataset = open_dataset("builtin:shapes?n=64", resolution=16)
    order = np.random.RandomState(0).permutation(64)  # the grid images: reals first, then structures, then textures
    structure = dataset[int(order[8])][0].transpose(1, 2, 0)
    texture = dataset[int(order[11])][0].transpose(1, 2, 0)
    np.testing.assert_array_equal(swaps[16:32, :16], structure)
    np.testing.assert_array_equal(swaps[:16, 16:32], texture)


def test_resume_continues_bit_identically(swapae_run, tiny_swapae_options, tmp_path):
    half = swapae_run / "network-snapshot-000000-064.safetensors"
    resumed = train_swapae(tiny_swapae_options(tmp_path, kimg=0.128, resume=str(half)), device="cpu", log=quiet)
    a = load_checkpoint(swapae_run / "network-snapshot-000000-128.safetensors")
    b = load_checkpoint(resumed / "network-snapshot-000000-128.safetensors")
    assert b.training_state["cur_nimg"] == 128 and b.training_state["cur_tick"] == 4 and b.training_state["batch_idx"] == 16
    for name in ("E", "G", "D", "Dpatch"):
        sa, sb = a.networks[name].state_dict(), b.networks[name].state_dict()
        for key in sa:
            torch.testing.assert_close(sa[key], sb[key], rtol=0, atol=0, msg=f"{name}.{key}")
    for key in a.extra_tensors:  # optimizer moments and RNG state
        torch.testing.assert_close(a.extra_tensors[key], b.extra_tensors[key], rtol=0, atol=0, msg=key)
    assert "continuing the run" in (resumed / "log.txt").read_text()


def test_short_training_improves_reconstruction(swapae_run, tiny_swapae_options, tmp_path):
    images = torch.from_numpy(np.stack([open_dataset("builtin:shapes?n=64", resolution=16)[i][0] for i in range(32)]))
    images = images.float() / 127.5 - 1

    def l1(E, G) -> float:
        with torch.no_grad():
            return float((G(*E(images), noise_mode="const") - images).abs().mean())

    torch.manual_seed(0)  # the run's own initial weights
    untrained = build_swapae_networks(tiny_swapae_options(tmp_path), 16, 3)
    trained = load_checkpoint(swapae_run / "network-snapshot-000000-128.safetensors").networks
    before, after = l1(untrained["E"], untrained["G"]), l1(trained["E"], trained["G"])
    assert after < 0.92 * before, (before, after)


def test_lazy_r1_runs_every_interval_with_scaled_gain(tiny_swapae_options, tmp_path, monkeypatch):
    calls = []
    original = SwapAELoss.accumulate_gradients

    def spy(self, phase, real_img, gain):
        calls.append((phase, gain))
        return original(self, phase, real_img, gain)

    monkeypatch.setattr(SwapAELoss, "accumulate_gradients", spy)
    train_swapae(tiny_swapae_options(tmp_path, kimg=0.024, r1_interval=2, tick=1.0), device="cpu", log=quiet)  # 3 steps
    count = {name: sum(1 for p, _ in calls if p == name) for name in ("Gmain", "Dmain", "Dreg")}
    assert count == {"Gmain": 6, "Dmain": 6, "Dreg": 4}  # 2 rounds a step; R1 at steps 0 and 2
    assert dict(calls) == {"Gmain": 0.5, "Dmain": 0.5, "Dreg": 1.0}  # interval / rounds


def test_optimizers_are_adam_with_the_official_lazy_r1_scaling(tiny_swapae_options, tmp_path):
    options = tiny_swapae_options(tmp_path, lr=0.002)
    networks = build_swapae_networks(options, 16, 3)
    phases, optimizers = make_optimizers(options, networks)
    assert [(p.name, p.interval) for p in phases] == [("Gmain", 1), ("Dmain", 1), ("Dreg", 16)]
    g, d = optimizers["G"].param_groups[0], optimizers["D"].param_groups[0]
    assert g["lr"] == 0.002 and g["betas"] == (0.0, 0.99) and all(isinstance(b, float) for b in g["betas"])
    assert d["lr"] == pytest.approx(0.002 * 16 / 17) and d["betas"] == pytest.approx((0.0, 0.99 ** (16 / 17)))
    assert isinstance(d["betas"][0], float)
    ids = lambda *names: {id(p) for n in names for p in networks[n].parameters()}  # noqa: E731
    assert {id(p) for p in g["params"]} == ids("E", "G") and {id(p) for p in d["params"]} == ids("D", "Dpatch")


def test_non_finite_loss_stops_with_the_step_and_the_last_good_snapshot(tiny_swapae_options, tmp_path, monkeypatch):
    original = SwapAELoss.accumulate_gradients
    calls = []

    def poisoned(self, phase, real_img, gain):
        calls.append(phase)
        if len(calls) > 18:  # after the first tick: step 0 has 6 calls (with R1), steps 1-3 have 4
            real_img = real_img * float("nan")
        return original(self, phase, real_img, gain)

    monkeypatch.setattr(SwapAELoss, "accumulate_gradients", poisoned)
    with pytest.raises(TrainingError, match=r"non-finite .* phase Gmain in \d+ of its steps in a row at step 4 "
                                            r".*last good snapshot is .*000000-032.*--lr"):
        train_swapae(tiny_swapae_options(tmp_path, kimg=0.2), device="cpu", log=quiet)
    snapshots = sorted(p.name for p in (tmp_path / "00000-shapes-swapae-cpu").glob("network-snapshot-*"))
    assert snapshots == ["network-snapshot-000000-032.safetensors"]


def test_ctrl_c_finishes_the_step_then_writes_a_snapshot_and_grids(tiny_swapae_options, tmp_path, monkeypatch):
    original = SwapAELoss.accumulate_gradients
    calls = []

    def interrupted(self, phase, real_img, gain):
        calls.append(phase)
        if len(calls) == 12:  # in step 2: what the user's Ctrl-C does, SIGINT to this process
            os.kill(os.getpid(), signal.SIGINT)
        return original(self, phase, real_img, gain)

    monkeypatch.setattr(SwapAELoss, "accumulate_gradients", interrupted)
    lines = []
    with pytest.raises(KeyboardInterrupt):
        train_swapae(tiny_swapae_options(tmp_path, kimg=0.2), device="cpu", log=lines.append)
    assert "Interrupted: writing a final snapshot before exiting" in lines
    run_dir = tmp_path / "00000-shapes-swapae-cpu"
    assert [p.name for p in run_dir.glob("network-snapshot-*")] == ["network-snapshot-000000-024.safetensors"]
    assert load_checkpoint(run_dir / "network-snapshot-000000-024.safetensors").training_state["batch_idx"] == 3  # step 2 done
    assert (run_dir / "reconstructions000000-024.png").is_file() and (run_dir / "swaps000000-024.png").is_file()


def test_resume_from_a_stylegan2_network_is_refused(tiny_swapae_options, tmp_path):
    G = Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3, mapping_kwargs={"num_layers": 1},
                  synthesis_kwargs={"channel_base": 64, "channel_max": 8})
    path = save_checkpoint(tmp_path / "stylegan2.safetensors", {"G": G})
    with pytest.raises(TrainingError, match="holds no Swapping Autoencoder E .*swapae train"):
        train_swapae(tiny_swapae_options(tmp_path, resume=str(path)), device="cpu", log=quiet)


def test_resume_of_a_finished_run_is_refused_and_makes_nothing(swapae_snapshot, tiny_swapae_options, tmp_path):
    """It trained one more step into a new run directory."""
    for kimg in (0.128, 0.064):
        with pytest.raises(TrainingError, match=r"network-snapshot-000000-128\.safetensors: its run is at 0\.128 kimg, already "
                                                r"--kimg [\d.]+; nothing to train \(raise --kimg to train on\)$"):
            train_swapae(tiny_swapae_options(tmp_path, resume=str(swapae_snapshot), kimg=kimg), device="cpu", log=quiet)
    assert list(tmp_path.iterdir()) == []


def test_resume_with_another_resolution_is_refused(swapae_snapshot, tiny_swapae_options, tmp_path):
    options = dataclasses.replace(tiny_swapae_options(tmp_path, resume=str(swapae_snapshot)), resolution=32)
    with pytest.raises(TrainingError, match="encodes 3-channel 16 px images, but the dataset has 3-channel 32 px"):
        train_swapae(options, device="cpu", log=quiet)


def test_training_can_start_from_weights_without_training_state(swapae_run, tiny_swapae_options, tmp_path):
    ckpt = load_checkpoint(swapae_run / "network-snapshot-000000-032.safetensors")
    weights = save_checkpoint(tmp_path / "weights.safetensors", {k: ckpt.networks[k] for k in ("E", "G")})
    lines = []
    run_dir = train_swapae(tiny_swapae_options(tmp_path, kimg=0.008, resume=str(weights)), device="cpu", log=lines.append)
    assert any("starting from its weights" in line for line in lines)
    resumed = load_checkpoint(run_dir / "network-snapshot-000000-008.safetensors")
    assert resumed.training_state["cur_nimg"] == 8  # counters start over


def test_presets_follow_the_paper_on_gpus_and_stay_small_on_cpu():
    for cfg in ("256", "512"):
        p = SWAPAE_PRESETS[cfg]
        assert (p.global_code_ch, p.spatial_code_ch, p.lr, p.r1_gamma, p.num_downsampling_sp) == (2048, 8, 0.002, 10.0, 4)
    assert SWAPAE_PRESETS["256"].batch == 16 and SWAPAE_PRESETS["512"].batch == 16  # the official launchers: 16 on 8 GPUs
    cpu = SWAPAE_PRESETS["cpu"]
    assert cpu.global_code_ch <= 256 and cpu.cmax <= 64 and cpu.batch == 16


def test_option_defaults_are_the_cpu_preset():
    defaults, cpu = SwapAEOptions(data="x"), SWAPAE_PRESETS["cpu"]
    assert {f.name: getattr(defaults, f.name) for f in dataclasses.fields(cpu)} == dataclasses.asdict(cpu)


def test_overrides_and_distribution_of_the_batch():
    o = resolve_swapae_options("x", "512", 512, 4, dict(lambda_l1=2.0, global_code_ch=None), device_type="cuda")
    assert (o.batch, o.batch_gpu, o.lambda_l1, o.global_code_ch) == (16, 4, 2.0, 2048)
    assert resolve_swapae_options("x", "cpu", 32, 2, {}, device_type="cpu").batch_gpu == 8  # 16 over 2 processes


def test_data_loader_workers_follow_the_device_as_in_stylegan2_training():
    """None on the CPU, whose step already uses every core; a given --workers is kept."""
    assert resolve_swapae_options("x", "cpu", 32, 1, {}, device_type="cpu").workers == 0
    assert resolve_swapae_options("x", "cpu", 32, 1, {}, device_type="cuda").workers == auto_workers("cuda")
    assert resolve_swapae_options("x", "cpu", 32, 1, dict(workers=2), device_type="cpu").workers == 2


@pytest.mark.parametrize("overrides, message", [
    (dict(batch_gpu=1, batch=8), "--batch-gpu 1: swapping pairs images"),
    (dict(batch_gpu=6, batch=12), "--batch-gpu 6 must be below 4 or a multiple of it"),
    (dict(batch_gpu=8, batch=12), "--batch-gpu 8 must divide the per-process batch 12"),
    (dict(num_downsampling_sp=4), "--netE-num-downsampling-sp 4 leaves a 1x1 structure code for 16 px"),
    (dict(num_downsampling_gl=3), "--netE-num-downsampling-gl 3 halves the 4x4 structure code too often"),
    (dict(patch_size=12), "--patch-size must be a power of two"),
    (dict(lambda_patch=-1.0), "--lambda-patch must be a number >= 0"),
    (dict(lambda_l2=-1.0), "--lambda-l2 must be a number >= 0"),
    (dict(lambda_l1=float("nan")), "--lambda-l1 must be a number >= 0, got nan"),
    (dict(lr=float("inf")), "--lr must be a positive number, got inf"),
    (dict(cbase=16), "--cbase 16 is too small"),
])
def test_bad_options_are_refused_by_name(overrides, message):
    base = dict(cbase=256, cmax=16, num_downsampling_sp=2, patch_size=8, batch=8, batch_gpu=4)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve_swapae_options("builtin:shapes", "cpu", 16, 1, dict(base, **overrides), device_type="cpu")


def test_unknown_preset_is_refused():
    with pytest.raises(ValueError, match="--cfg must be one of cpu, 256, 512"):
        resolve_swapae_options("x", "1024", 32, 1, {}, device_type="cpu")


def test_a_resume_notes_where_the_file_architecture_differs_from_the_options(swapae_snapshot, tiny_swapae_options, tmp_path):
    networks = load_checkpoint(swapae_snapshot).networks
    assert architecture_notes(networks, build_swapae_networks(tiny_swapae_options(tmp_path), 16, 3)) == []
    (note,) = architecture_notes(networks, build_swapae_networks(tiny_swapae_options(tmp_path, global_code_ch=8), 16, 3))
    assert note == ("the networks keep the file's architecture: E global_code_ch 16 (not 8); G global_code_ch 16 (not 8); "
                    "those options are for new networks")


def test_training_configures_the_backends_as_stylegan2_training_does(tiny_swapae_options, tmp_path, monkeypatch):
    """TF32 off and cuDNN autotuning on a GPU (configure_backends): swapae training left torch's TF32 default."""
    import stylegan2.swapae.training as swapae_training

    class Configured(Exception):
        pass

    def configure(device, **kwargs):
        raise Configured(device, kwargs)

    monkeypatch.setattr(swapae_training, "configure_backends", configure)
    with pytest.raises(Configured) as called:
        train_swapae(tiny_swapae_options(tmp_path), device="cpu", log=quiet)
    assert called.value.args == (torch.device("cpu"), {})  # the defaults: allow_tf32=False, cudnn_benchmark=True


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_device_this_machine_lacks_is_one_line_from_python_too(tmp_path):
    """train_swapae(device='cuda') in a notebook copied from a GPU machine was torch's AttributeError."""
    options = resolve_swapae_options("builtin:shapes?n=16", "cpu", 16, 1, {"outdir": str(tmp_path / "sw")})
    with pytest.raises(ValueError, match=r"^--device cuda: no CUDA device is available here; use --device cpu"):
        train_swapae(options, device="cuda", log=lambda m: None)
    assert not (tmp_path / "sw").exists()


def test_the_callers_random_state_is_its_own_after_training(tiny_swapae_options, tmp_path):
    torch.manual_seed(5)
    np.random.seed(5)
    expected = (torch.rand(3), np.random.rand(3))
    torch.manual_seed(5)
    np.random.seed(5)
    train_swapae(tiny_swapae_options(tmp_path, kimg=0.008), device="cpu", log=lambda m: None, max_steps=1)
    torch.testing.assert_close(torch.rand(3), expected[0], rtol=0, atol=0)
    np.testing.assert_array_equal(np.random.rand(3), expected[1])


def test_first_grids_that_cannot_be_written_are_a_note_and_a_failure_there_releases_the_run(tiny_swapae_options, tmp_path,
                                                                                            monkeypatch):
    """They were written outside the session's guard: a full disk stopped the run, and any failure there left the
    run's training.lock behind (and log.txt without its last line), as if a live process still trained it."""
    from stylegan2.swapae import training as training_module

    real = training_module.GridImages.save_reals
    monkeypatch.setattr(training_module.GridImages, "save_reals",
                        lambda self, path: (_ for _ in ()).throw(OSError(28, "No space left on device", str(path))))
    lines = []
    run_dir = train_swapae(tiny_swapae_options(tmp_path / "a", kimg=0.008), device="cpu", log=lines.append)
    logged = (run_dir / "log.txt").read_text().splitlines()
    assert any(line.startswith("note: could not write ") and "reals.png" in line for line in logged) and lines[-1] == "Done."
    monkeypatch.setattr(training_module.GridImages, "save_reals", real)
    monkeypatch.setattr(training_module.GridImages, "save_outputs", lambda *args: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        train_swapae(tiny_swapae_options(tmp_path / "b", kimg=0.008), device="cpu", log=quiet)
    (failed,) = (tmp_path / "b").iterdir()
    assert not (failed / "training.lock").exists() and (failed / "log.txt").read_text().splitlines()[-1] == "Failed."
    assert not (run_dir / "training.lock").exists()


def test_a_resume_note_is_on_stderr_and_in_the_log_once_and_the_callers_notes_stay_in_the_log(tiny_swapae_options, tmp_path,
                                                                                              capsys):
    """Resume notes were embedded in a stdout header line (a quiet terminal dropped them), and took the place of the
    caller's notes in log.txt."""
    first = train_swapae(tiny_swapae_options(tmp_path / "a", kimg=0.008), device="cpu", log=quiet)
    (snapshot,) = first.glob("network-snapshot-*.safetensors")
    capsys.readouterr()
    lines = []
    run_dir = train_swapae(tiny_swapae_options(tmp_path / "b", kimg=0.016, global_code_ch=8, resume=str(snapshot)),
                           device="cpu", log=lines.append, notes=["shown by the caller"])
    note = (f"note: --resume {snapshot}: the networks keep the file's architecture: E global_code_ch 16 (not 8); "
            "G global_code_ch 16 (not 8); those options are for new networks")
    logged = (run_dir / "log.txt").read_text().splitlines()
    assert capsys.readouterr().err.splitlines().count(note) == 1 and logged.count(note) == 1
    assert not any("global_code_ch" in line for line in lines)  # the log's lines reach stdout
    assert f"Resuming from {snapshot}: continuing the run" in lines and "note: shown by the caller" in logged
