"""`stylegan2 swapae train | swap | encode | decode` through click: outputs, several values per flag, error messages."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from safetensors.torch import load_file

from stylegan2.cli import main
from stylegan2.data.shapes import render_shape

pytestmark = pytest.mark.usefixtures("one_thread")

TINY_FLAGS = ["--resolution", "16", "--cbase", "256", "--cmax", "16", "--spatial-code-ch", "4", "--global-code-ch", "16",
              "--netE-num-downsampling-sp", "2", "--netE-num-downsampling-gl", "1", "--patch-size", "8", "--num-patches", "4",
              "--batch", "8", "--workers", "0", "--device", "cpu"]


@pytest.fixture
def images(tmp_path) -> list[str]:
    paths = []
    for i in range(3):
        path = tmp_path / f"img{i}.png"
        Image.fromarray(render_shape(i, 16, seed=3).image.transpose(1, 2, 0)).save(path)
        paths.append(str(path))
    return paths


def run(*args: str):
    return CliRunner().invoke(main, ["swapae", *map(str, args)], catch_exceptions=False)


def test_the_group_lists_its_commands():
    result = run("--help")
    assert result.exit_code == 0
    for command in ("train", "swap", "encode", "decode"):
        assert command in result.output


def test_train_dry_run_shows_the_preset_with_overrides():
    result = run("train", "--data", "builtin:shapes?n=16", "--cfg", "256", "--resolution", "256", "--lambda-l1", "2",
                 "--netE-num-downsampling-gl", "3", "--lambda-l2", "3", "--recolor-structure", "--keep-snapshots", "2", "--dry-run")
    assert result.exit_code == 0, result.output
    options = json.loads(result.stdout)
    assert (options["cfg"], options["global_code_ch"], options["spatial_code_ch"], options["batch"]) == ("256", 2048, 8, 16)
    assert (options["lambda_l1"], options["num_downsampling_gl"], options["r1_gamma"], options["resolution"]) == (2.0, 3, 10.0, 256)
    assert (options["lambda_l2"], options["recolor_structure"], options["keep_snapshots"]) == (3.0, True, 2)


@pytest.mark.parametrize("flags, mirror", [(["--mirror"], True), (["--no-mirror"], False), (["--mirror=1"], True),
                                           (["--mirror=0"], False)])
def test_train_takes_the_option_spellings_of_stylegan2_train(flags, mirror):
    result = run("train", "--data", "builtin:shapes?n=16", *flags, "--subset", "8", "-n")
    assert result.exit_code == 0, result.output
    options = json.loads(result.stdout)
    assert (options["mirror"], options["max_size"]) == (mirror, 8)


def test_train_writes_a_run(tmp_path):
    result = run("train", "--data", "builtin:shapes?n=16", "--outdir", tmp_path, "--kimg", "0.008", *TINY_FLAGS)
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "00000-shapes-swapae-cpu"
    assert (run_dir / "network-snapshot-000000-008.safetensors").is_file() and (run_dir / "swaps000000-008.png").is_file()
    assert "tick 0" in result.output


@pytest.mark.parametrize("flags, message, status", [  # status 2: the options themselves; 1: they do not fit the data
    (["--batch-gpu", "3"], "--batch-gpu 3 must divide the per-process batch 8", 2),
    (["--netE-num-downsampling-sp", "4"], "--netE-num-downsampling-sp 4 leaves a 1x1 structure code", 1),
    (["--gpus", "3"], "--batch 8 must be a multiple of the number of GPUs/processes (3)", 2),  # before any process starts
    (["--max-size", "17"], "--max-size 17 (NVIDIA's --subset) is more than the 16 images of builtin:shapes?n=16; pass 1 to 16", 1),
])
def test_train_refuses_bad_options_by_name(tmp_path, flags, message, status):
    result = run("train", "--data", "builtin:shapes?n=16", "--outdir", tmp_path, *TINY_FLAGS, *flags)
    assert result.exit_code == status and message in result.output
    assert "Traceback" not in result.output and not list(tmp_path.iterdir())


@pytest.mark.parametrize("flags, message", [
    (["--lambda-l1", "nan"], "Invalid value for '--lambda-l1': 'nan' is not a finite number"),
    (["--lr", "inf"], "Invalid value for '--lr': 'inf' is not a finite number"),
    (["--r1-gamma", "inf"], "Invalid value for '--r1-gamma': 'inf' is not a finite number"),
    (["--seed", "-1"], "Invalid value for '--seed': -1 is not in the range 0<=x<=4294967295"),
    (["--resolution", "-8"], "--resolution must be a power of two from 4 to 1024 (the networks' largest), got -8"),
    (["--gpus", "0"], "Invalid value for '--gpus': 0 is not in the range x>=1"),
])
def test_train_refuses_values_that_are_not_numbers_or_out_of_range_by_name(tmp_path, flags, message):
    """--lambda-l1 nan made a run directory and failed at step 0 with advice about the learning rate; --seed -1 and
    --resolution -8 gave NumPy's messages."""
    result = run("train", "--data", "builtin:shapes?n=16", "--outdir", tmp_path, *TINY_FLAGS, *flags)
    assert result.exit_code in (1, 2) and message in result.output, result.output
    assert "Traceback" not in result.output and not list(tmp_path.iterdir())


def test_gpus_under_torchrun_is_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    result = run("train", "--data", "builtin:shapes?n=16", "--outdir", tmp_path, *TINY_FLAGS, "--gpus", "2")
    assert result.exit_code == 1 and "but this one already runs under torchrun (WORLD_SIZE=2)" in result.output, result.output
    assert "Traceback" not in result.output and not list(tmp_path.iterdir())


def test_a_preset_for_larger_images_is_named_when_its_sizes_do_not_fit(tmp_path):
    """The message named --netE-num-downsampling-gl, which the user never gave: the preset was for 256 px images."""
    result = run("train", "--data", "builtin:shapes?n=16", "--outdir", tmp_path, "--cfg", "256", "--dry-run")
    assert result.exit_code == 1 and "(--cfg 256 is made for 256 px images and these are 32 px: --cfg cpu suits small images)" \
        in result.output, result.output


def test_train_names_a_missing_dataset(tmp_path):
    result = run("train", "--data", tmp_path / "nothere.zip")
    assert result.exit_code == 1 and "nothere.zip: no such file or folder" in result.output


def test_swap_takes_several_images_after_each_flag(swapae_snapshot, images, tmp_path):
    result = run("swap", "--network", swapae_snapshot, "--structure", images[0], images[1], "--texture", images[2],
                 "--outdir", tmp_path / "out", "--alpha", "0.5")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["swap_grid.png", "swap_s00_t00.png", "swap_s01_t00.png"]
    assert Image.open(tmp_path / "out" / "swap_grid.png").size == (2 * 16, 3 * 16)
    repeated = run("swap", "--network", swapae_snapshot, "--texture", images[2], "--structure", images[0],
                   f"--structure={images[1]}", "--outdir", tmp_path / "again")
    assert repeated.exit_code == 0, repeated.output
    assert len(list((tmp_path / "again").iterdir())) == 3


def test_swap_errors_name_the_problem(swapae_snapshot, images, tmp_path):
    missing = run("swap", "--network", swapae_snapshot, "--structure", tmp_path / "nothere.png", "--texture", images[0],
                  "--outdir", tmp_path / "o")
    assert missing.exit_code == 1 and "nothere.png: no such image file (--structure)" in missing.output
    bad_alpha = run("swap", "--network", swapae_snapshot, "--structure", images[0], "--texture", images[1], "--alpha", "-0.5",
                    "--outdir", tmp_path / "o")
    assert bad_alpha.exit_code == 2 and "--alpha must be between 0 and 1, got -0.5" in bad_alpha.output
    no_network = run("swap", "--network", tmp_path / "net.safetensors", "--structure", images[0], "--texture", images[1])
    assert no_network.exit_code == 1 and "net.safetensors: no such network file (--network)" in no_network.output
    no_texture = run("swap", "--network", swapae_snapshot, "--structure", images[0])
    assert no_texture.exit_code == 2 and "--texture" in no_texture.output


def test_encode_and_decode_round_trip_and_refuse_to_overwrite(swapae_snapshot, images, tmp_path):
    codes = tmp_path / "codes.npz"
    result = run("encode", "--network", swapae_snapshot, *images, "--out", codes)
    assert result.exit_code == 0, result.output
    with np.load(codes) as npz:
        assert npz["structure"].shape == (3, 4, 4, 4)
    result = run("decode", "--network", swapae_snapshot, "--codes", codes, "--texture-from", codes, "--outdir", tmp_path / "dec")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "dec").iterdir()) == ["decoded0000.png", "decoded0001.png", "decoded0002.png"]
    again = run("encode", "--network", swapae_snapshot, *images, "--out", codes)
    assert again.exit_code == 1 and "already exists" in again.output and "--force" in again.output
    assert run("encode", "--network", swapae_snapshot, *images, "--out", codes, "--force").exit_code == 0


def test_decode_names_a_missing_codes_file(swapae_snapshot, tmp_path):
    result = run("decode", "--network", swapae_snapshot, "--codes", tmp_path / "nothere.npz", "--outdir", tmp_path)
    assert result.exit_code == 1 and "nothere.npz: no such codes file (--codes)" in result.output


def test_encode_needs_images(swapae_snapshot):
    result = run("encode", "--network", swapae_snapshot)
    assert result.exit_code == 2 and "IMAGES" in result.output



def test_gpus_2_writes_the_one_run_torchrun_writes(tmp_path):
    """`--gpus 2` starts the two processes itself: the same snapshots, tensor for tensor, as torchrun's two."""
    train = ["-m", "stylegan2", "swapae", "train", "--data", "builtin:shapes?n=64", "--kimg", "0.016", "--tick", "0.008",
             "--snap", "1", *TINY_FLAGS]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    runs = {}
    for name, cmd in (("torchrun", [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *train]),
                      ("gpus", [sys.executable, *train, "--gpus", "2"])):
        result = subprocess.run([*cmd, "--outdir", str(tmp_path / name)], capture_output=True, text=True, timeout=300, env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        (runs[name],) = (tmp_path / name).iterdir()  # only rank 0 writes
    for run_dir in runs.values():
        assert sorted(p.name for p in run_dir.glob("network-snapshot-*")) == [
            "network-snapshot-000000-008.safetensors", "network-snapshot-000000-016.safetensors"]
        log = (run_dir / "log.txt").read_text()
        ticks = [line for line in log.splitlines() if line.startswith("tick ")]  # the Command: line says --tick too
        assert "2 x cpu, batch 8 (4 per step x 1 rounds per process)" in log and len(ticks) == 2
    expected, got = (load_file(runs[name] / "network-snapshot-000000-016.safetensors") for name in ("torchrun", "gpus"))
    assert expected.keys() == got.keys() and all(torch.equal(expected[key], got[key]) for key in expected)


def test_swap_with_force_notes_earlier_outputs_it_does_not_replace(swapae_snapshot, images, tmp_path):
    """A 2x1 swap after a 2x2 one left swap_s00_t01.png and swap_s01_t01.png beside the new files, unmentioned."""
    first = run("swap", "--network", swapae_snapshot, "--structure", *images[:2], "--texture", *images[:2], "--outdir", tmp_path)
    assert first.exit_code == 0, first.output
    again = run("swap", "--network", swapae_snapshot, "--structure", *images[:2], "--texture", images[0], "--outdir", tmp_path,
                "--force")
    assert again.exit_code == 0 and f"note: {tmp_path} also holds 2 swap_s*_t*.png file(s) that this run does not write " \
        "(e.g. swap_s00_t01.png), from an earlier one" in again.output, again.output


def test_swap_into_an_outdir_below_a_file_is_refused_before_any_work(swapae_snapshot, images, tmp_path):
    (tmp_path / "afile").write_text("mine")
    result = run("swap", "--network", swapae_snapshot, "--structure", images[0], "--texture", images[1],
                 "--outdir", tmp_path / "afile" / "o")
    assert result.exit_code == 1 and "afile is a file, so no folder can be made there); choose another --outdir" in result.output


def test_train_expands_an_outdir_given_as_opt_equals_tilde(tmp_path, monkeypatch):
    """`--outdir=~/x` reaches us unexpanded: the run went to ./~/x and its snapshots to $HOME/x, which did not exist."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    result = run("train", "--data=builtin:shapes?n=16", "--outdir=~/runs", "--kimg", "0.008", *TINY_FLAGS)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "home" / "runs" / "00000-shapes-swapae-cpu" / "network-snapshot-000000-008.safetensors").is_file()
    assert not (tmp_path / "~").exists()


@pytest.mark.parametrize("device,said,status", [  # status 2: no device has that name; 1: this machine lacks it
    ("foo", "--device foo: not a device; use cpu, cuda, cuda:N or mps (Apple Silicon)", 2),
    pytest.param("cuda:1", "--device cuda:1: no CUDA device is available here; use --device cpu", 1,
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")),
])
@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
def test_a_device_this_machine_lacks_is_one_line(tmp_path, device, said, status, dry_run):
    result = run("train", "--data", "builtin:shapes?n=16", "--outdir", tmp_path, "--device", device, *dry_run)
    assert result.exit_code == status and result.output.endswith(f"Error: {said}\n"), result.output
    assert result.output.startswith("Usage: ") == (status == 2)


def test_dry_run_reads_the_resume_file_as_the_run_will(tmp_path):
    """A job checked with --dry-run before it goes to a queue must fail there when the run would."""
    result = run("train", "--data", "builtin:shapes?n=16", "--outdir", tmp_path, "--kimg", "0.008", *TINY_FLAGS)
    assert result.exit_code == 0, result.output
    snapshot = tmp_path / "00000-shapes-swapae-cpu" / "network-snapshot-000000-008.safetensors"
    dry = ["train", "--data", "builtin:shapes?n=16", "--outdir", tmp_path / "dry", *TINY_FLAGS, "--dry-run", "--resume"]
    result = run(*dry, snapshot, "--kimg", "0.016", "--global-code-ch", "32")
    assert result.exit_code == 0, result.output
    options = json.loads(result.output[result.output.index("{"):])
    assert (options["global_code_ch"], options["spatial_code_ch"]) == (16, 4)  # the file's, which the run keeps
    assert "note: --resume" in result.output and "global_code_ch 16 (not 32)" in result.output
    result = run(*dry, snapshot, "--kimg", "0.008")
    assert result.exit_code == 1 and "already --kimg 0.008; nothing to train" in result.output, result.output
    result = run(*dry, tmp_path / "nope.safetensors", "--kimg", "0.016")
    assert result.exit_code != 0 and "nope.safetensors" in result.output, result.output
    result = run("train", "--data", "builtin:shapes?n=16", "--outdir", tmp_path / "dry", *TINY_FLAGS, "--dry-run",
                 "--resolution", "32", "--resume", snapshot, "--kimg", "0.016")
    assert result.exit_code == 1 and "encodes 3-channel 16 px images, but the dataset has 3-channel 32 px" in result.output
    result = run("train", "--data", "builtin:shapes?n=16", "--outdir", tmp_path / "real", *TINY_FLAGS, "--resume", snapshot,
                 "--kimg", "0.016", "--global-code-ch", "32")
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "real").iterdir()
    assert json.loads((run_dir / "training_options.json").read_text())["global_code_ch"] == 16


def test_a_run_directory_given_as_the_network_names_its_newest_snapshot(tmp_path, images):
    run_dir = tmp_path / "00000-shapes-swapae-cpu"
    run_dir.mkdir()
    for name in ("network-snapshot-000000-008.safetensors", "network-snapshot-000000-016.safetensors"):
        (run_dir / name).write_bytes(b"")
    said = f"{run_dir}: is a run directory; give one of its snapshots, such as the newest, {run_dir / name}"
    result = run("swap", "--network", run_dir, "--structure", images[0], "--texture", images[1], "--outdir", tmp_path / "o")
    assert result.exit_code == 1 and result.output == f"Error: {said}\n", result.output
    result = run("train", "--data", "builtin:shapes?n=16", "--outdir", tmp_path / "r", "--resume", run_dir, "--dry-run")
    assert result.exit_code == 1 and result.output == f"Error: --resume {said}\n", result.output


def test_swap_never_overwrites_an_input_image_even_with_force(swapae_snapshot, images, tmp_path):
    """A texture saved as swap_s00_t00.png in --outdir was an output --force replaced."""
    texture = tmp_path / "swap_s00_t00.png"
    texture.write_bytes(Path(images[1]).read_bytes())
    result = run("swap", "--network", swapae_snapshot, "--structure", images[0], "--texture", texture, "--outdir", tmp_path,
                 "--force")
    assert result.exit_code == 1 and result.output == (f"Error: {texture}: the destination is the source (--texture); "
                                                       "choose another --outdir\n"), result.output
    assert texture.read_bytes() == Path(images[1]).read_bytes()
