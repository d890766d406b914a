"""Command lines from NVIDIA's stylegan2-ada-pytorch README run unchanged through `stylegan2`.

Their `python train.py ...`, `generate.py`, `style_mixing.py` and `projector.py` lines become
`stylegan2 train|generate|mix|project ...` with the same options; a tiny dataset, network and
kimg stand in for theirs (options that only size the run, appended in their own `--opt=value` style).
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.io import load_checkpoint, save_checkpoint
from stylegan2.models import Generator

# Sizes in place of theirs: the cpu preset at 16 px, narrow networks, 8 images (one step), no detectors.
TINY_TRAINING = "--cfg=cpu --cbase=128 --cmax=16 --batch=8 --kimg=0.008 --tick=0.008 --workers=0 --device=cpu"


@pytest.fixture(autouse=True)
def _one_thread(one_thread: None) -> None:
    """Tiny networks run far faster on one thread than on two busy ones."""


def stylegan2(line: str, home: Path) -> str:
    """Run `stylegan2 <line>` as NVIDIA's README writes it (~ is the test's home); its output, which must succeed."""
    result = CliRunner().invoke(main, shlex.split(line), env={"HOME": str(home)}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home directory with ~/mydataset.zip (16 px shapes with labels) and ~/mytargetimg.png."""
    home = tmp_path_factory.mktemp("home")
    stylegan2(f"dataset --source=builtin:shapes?n=16 --dest={home}/mydataset.zip --resolution=16", home)
    return home


@pytest.fixture(scope="module")
def trained(home: Path) -> Path:
    """The README's training command (`python train.py --outdir=~/training-runs --data=~/mydataset.zip --gpus=1`): its snapshot."""
    stylegan2(f"train --outdir=~/training-runs --data=~/mydataset.zip --gpus=1 {TINY_TRAINING}", home)
    (run_dir,) = (home / "training-runs").iterdir()
    return sorted(run_dir.glob("network-snapshot-*.safetensors"))[-1]


def dry_run(options: str, home: Path) -> dict:
    """The options `train.py --outdir=~/training-runs --data=~/mydataset.zip --gpus=1 <options> --dry-run` resolves to."""
    output = stylegan2(f"train --outdir=~/training-runs --data=~/mydataset.zip --gpus=1 {options} --dry-run", home)
    return json.loads(output[output.index("{"):])  # after the Dataset line and any notes


def test_readme_dry_run_prints_the_options_and_writes_nothing(home):
    runs = home / "training-runs"
    before = sorted(runs.iterdir()) if runs.exists() else None
    options = dry_run("", home)
    assert options["outdir"] == str(runs) and options["data"] == str(home / "mydataset.zip")
    assert options["num_gpus"] == 1 and options["cfg"] == "auto"
    assert (sorted(runs.iterdir()) if runs.exists() else None) == before


def test_readme_training_command_writes_a_snapshot(trained):
    assert set(load_checkpoint(trained).networks) == {"G", "D", "G_ema"}


@pytest.mark.parametrize("line, expected", [
    ("--aug=noaug", {"aug": "noaug"}),
    ("--cond=1", {"cond": True}),
    ("--mirror=1", {"mirror": True}),
    ("--gamma=10", {"gamma": 10.0}),
    ("--aug=ada --target=0.7", {"aug": "ada", "target": 0.7}),
    ("--augpipe=blit", {"augpipe": "blit"}),
    ("--augpipe=bgcfnc", {"augpipe": "bgcfnc"}),
    ("--metrics=none", {"metrics": []}),
    ("--snap=10 --subset=8 --seed=3 --freezed=2", {"snap": 10, "max_size": 8, "seed": 3, "freezed": 2}),
    ("--fp32=1 --nhwc=1 --nobench=1 --allow-tf32=1", {"precision": "fp32", "nhwc": True, "nobench": True, "allow_tf32": True}),
    ("--fp32=0 --nhwc=0 --nobench=0 --allow-tf32=0", {"precision": "fp16", "nhwc": False, "nobench": False, "allow_tf32": False}),
    ("--cond=true --mirror=False", {"cond": True, "mirror": False}),
    ("--cond 1 --mirror 0", {"cond": True, "mirror": False}),
    ("--cond --no-mirror", {"cond": True, "mirror": False}),
    ("--resume=noresume", {"resume": None}),
])
def test_readme_training_options_mean_what_they_mean_there(home, line, expected):
    options = dry_run(line, home)
    assert {key: options[key] for key in expected} == expected


@pytest.mark.parametrize("line, message, status", [  # status 2: the options themselves (after the usage line); 1: the data
    ("--aug=fixed", "--aug fixed needs --p", 2),  # theirs: --aug=fixed requires specifying --p
    ("--aug=noaug --p=0.3", "--aug noaug does not use --p (--aug ada and fixed do)", 2),  # --p can only be specified with --aug=fixed
    ("--aug=noaug --target=0.7", "--aug noaug does not use --target (--aug ada does)", 2),  # --target only with --aug=ada
    ("--aug=noaug --augpipe=bgcfnc", "--aug noaug does not use --augpipe (--aug ada and fixed do)", 2),  # --augpipe cannot be ...
    ("--subset=1000", "--max-size 1000 (NVIDIA's --subset) is more than the 16 images of", 1),  # between 1 and 16
])
def test_option_combinations_their_train_py_refuses_are_refused_in_one_line(home, line, message, status):
    result = CliRunner().invoke(main, shlex.split(f"train --outdir=~/training-runs --data=~/mydataset.zip {line} --dry-run"),
                                env={"HOME": str(home)})
    errors = [text for text in result.output.splitlines() if text.startswith("Error: ")]
    assert result.exit_code == status and len(errors) == 1 and errors[0].startswith(f"Error: {message}"), result.output
    assert result.output.startswith("Usage: ") == (status == 2)


def test_training_keeps_tf32_off_unless_allowed(home):
    assert dry_run("", home)["allow_tf32"] is False


def test_resume_from_a_snapshot_path(home, trained):
    relative = trained.relative_to(home)  # continued with its run's options (the dry run checks them as the run does), and longer
    assert dry_run(f"--resume=~/{relative} {TINY_TRAINING} --kimg=1", home)["resume"] == str(trained)


def test_resume_by_nvidia_name_says_where_to_put_their_network(home):
    result = CliRunner().invoke(main, shlex.split("train --data=~/mydataset.zip --resume=ffhq1024 --snap=10 --dry-run"),
                                env={"HOME": str(home), "STYLEGAN2_CACHE": str(home / "cache")})
    assert result.exit_code == 1 and "Usage:" not in result.output  # a failed download, not a usage error
    assert "ffhq-res1024-mirror-stylegan2-noaug.pkl" in result.output and str(home / "cache") in result.output
    (home / "cache").mkdir()
    (home / "cache" / "ffhq-res1024-mirror-stylegan2-noaug.pkl").write_bytes(b"\x80\x04" + bytes(14))  # a pickle's first bytes
    result = CliRunner().invoke(main, shlex.split("train --data=~/mydataset.zip --resume=ffhq1024 --dry-run"),
                                env={"HOME": str(home), "STYLEGAN2_CACHE": str(home / "cache")})
    cached = home / "cache" / "ffhq-res1024-mirror-stylegan2-noaug.pkl"
    error = result.output.splitlines()[-1]  # after the note that NVIDIA's preset is sized for GPUs
    assert result.exit_code == 1 and error.startswith(f"Error: --resume {cached}: "), result.output  # read there (and no network)


@pytest.mark.parametrize("line, option", [("--cond=2", "--cond=2"), ("--mirror=maybe", "--mirror=maybe"),
                                          ("--fp32=", "--fp32=")])
def test_a_bad_on_off_value_is_one_line_naming_the_option(home, line, option):
    result = CliRunner().invoke(main, shlex.split(f"train --data=~/mydataset.zip {line} --dry-run"), env={"HOME": str(home)})
    assert result.exit_code == 2
    (error,) = [text for text in result.output.splitlines() if text.startswith("Error:")]
    assert option in error and "=1" in error and "Traceback" not in result.output


def test_readme_generation_commands(home, trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    net = str(trained)
    stylegan2(f"generate --outdir=out --trunc=1 --seeds=85,265,297,849 --network={net}", home)
    stylegan2(f"generate --outdir=out --trunc=0.7 --seeds=600-605 --network={net}", home)
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"seed0085.png", "seed0849.png", "seed0600.png", "seed0605.png"} <= names and len(names) == 10
    stylegan2(f"mix --outdir=out --rows=85,100,75,458,1500 --cols=55,821,1789,293 --network={net}", home)
    assert (tmp_path / "out" / "stylemix.png").is_file()


def test_readme_generation_of_a_class(home, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    net = tmp_path / "cifar10.safetensors"  # a tiny conditional network in place of theirs
    save_checkpoint(net, {"G_ema": Generator(z_dim=16, c_dim=10, w_dim=16, img_resolution=16, img_channels=3,
                                             mapping_kwargs={"num_layers": 2},
                                             synthesis_kwargs={"channel_base": 128, "channel_max": 16})})
    stylegan2(f"generate --outdir=out --seeds=0-35 --class=1 --network={net}", home)
    assert len(list((tmp_path / "out").glob("seed*.png"))) == 36


def test_readme_projection_and_rendering_it(home, trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STYLEGAN2_CACHE", str(tmp_path / "no-vgg"))
    net = str(trained)
    stylegan2(f"generate --outdir=target --seeds=7 --network={net}", home)
    (tmp_path / "target" / "seed0007.png").rename(home / "mytargetimg.png")
    # --num-steps in place of their default 1000; --save-video=0 is their switch too.
    stylegan2(f"project --outdir=out --target=~/mytargetimg.png --network={net} --num-steps=5 --save-video=0", home)
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"target.png", "proj.png", "projected_w.npz"}
    stylegan2(f"generate --outdir=out --projected_w=out/projected_w.npz --network={net} --force", home)
    assert (tmp_path / "out" / "proj00.png").is_file()
