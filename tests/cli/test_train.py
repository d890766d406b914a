"""`stylegan2 train` in-process through click: a tiny run on builtin:shapes, --dry-run, and one-line errors."""

from __future__ import annotations

import json
import shlex
import sys

import click
import PIL.Image
import pytest
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.io import load_checkpoint, save_network
from stylegan2.models import Generator

TINY = ["--data", "builtin:shapes?n=16", "--resolution", "16", "--cfg", "cpu", "--cbase", "128", "--cmax", "16",
        "--batch", "8", "--aug", "noaug", "--workers", "0", "--device", "cpu"]


def test_a_tiny_run_writes_its_run_directory(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # events are tests/training/test_tensorboard.py's
    result = CliRunner().invoke(main, ["train", *TINY, "--kimg", "0.016", "--tick", "0.008", "--snap", "1",
                                       "--outdir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    (run_dir,) = tmp_path.iterdir()
    assert run_dir.name == "00000-shapes-cpu-kimg0.016-batch8-noaug-resolution16-cbase128-cmax16"
    names = {p.name for p in run_dir.iterdir()}
    assert {"training_options.json", "log.txt", "stats.jsonl", "reals.png", "fakes_init.png"} <= names
    snapshots = sorted(run_dir.glob("network-snapshot-*.safetensors"))
    assert len(snapshots) == 2 and len(list(run_dir.glob("fakes0*.png"))) == 2  # --snap 1: one per tick
    options = json.loads((run_dir / "training_options.json").read_text())
    assert (options["cfg"], options["cbase"], options["cmax"], options["batch"], options["resolution"]) == ("cpu", 128, 16, 8, 16)
    assert len((run_dir / "stats.jsonl").read_text().splitlines()) == 2
    networks = load_checkpoint(snapshots[-1]).networks
    assert set(networks) == {"G", "D", "G_ema"}
    assert networks["G"].img_resolution == 16 and networks["G"].init_kwargs["synthesis_kwargs"]["channel_max"] == 16
    assert str(run_dir) in result.output  # the log names the run directory


def test_dry_run_prints_the_resolved_options_and_writes_nothing(tmp_path):
    result = CliRunner().invoke(main, ["train", *TINY, "--outdir", str(tmp_path / "runs"), "--dry-run"])
    assert result.exit_code == 0, result.output
    options = json.loads(result.stdout)  # stdout is the options' JSON alone, for scripts
    assert options["cbase"] == 128 and options["batch"] == 8 and options["aug"] == "noaug"
    assert result.stderr == "Dataset: shapes, 16 images, 3x16x16, 0 label dims\n"  # what the run would read
    assert not (tmp_path / "runs").exists()


def test_a_missing_dataset_is_one_line_naming_it(tmp_path):
    result = CliRunner().invoke(main, ["train", "--data", str(tmp_path / "nothere.zip"), "--outdir", str(tmp_path)])
    assert result.exit_code == 1
    assert "nothere.zip" in result.output and "Traceback" not in result.output
    assert result.output.startswith("Error:") and result.output.count("\n") == 1


def test_ema_kimg_overrides_the_preset_and_refuses_zero(tmp_path):
    ok = CliRunner().invoke(main, ["train", *TINY, "--outdir", str(tmp_path), "--dry-run"])
    assert json.loads(ok.stdout)["ema_kimg"] == 2  # the cpu preset's
    ok = CliRunner().invoke(main, ["train", *TINY, "--outdir", str(tmp_path), "--ema-kimg", "5", "--dry-run"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["ema_kimg"] == 5
    bad = CliRunner().invoke(main, ["train", *TINY, "--outdir", str(tmp_path), "--ema-kimg", "0", "--dry-run"])
    assert bad.exit_code == 2 and "--ema-kimg" in bad.output and "Traceback" not in bad.output


def test_images_skip_bad_leaves_out_are_notes_not_python_warnings(tmp_path):
    import numpy as np
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(folder / f"{i}.png")
    (folder / "4.png").write_bytes(b"not a png")
    result = CliRunner().invoke(main, ["train", "--data", str(folder), "--cfg", "cpu", "--skip-bad", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "note: " in result.output and "4.png" in result.output and "UserWarning" not in result.output


def test_an_outdir_where_no_run_directory_can_be_made_is_refused_before_the_data_opens(tmp_path, monkeypatch):
    """Also with --dry-run; train's and swapae train's. The data is never opened (it does not exist here)."""
    (tmp_path / "afile").write_text("mine")
    for command in (["train"], ["swapae", "train"]):
        for outdir, message in ((tmp_path / "afile" / "runs", r"afile is a file, so no folder can be made there); choose another --outdir"),
                                (tmp_path / "afile", "afile exists and is not a directory")):
            result = CliRunner().invoke(main, [*command, "--data", str(tmp_path / "missing.zip"), "--outdir", str(outdir),
                                               "--device", "cpu", "--dry-run"])
            assert result.exit_code == 1 and message in result.output and "missing.zip" not in result.output, result.output
    assert (tmp_path / "afile").read_text() == "mine"


def test_an_outdir_without_write_permission_is_refused_by_name(tmp_path, monkeypatch):
    from stylegan2.training import rundir

    monkeypatch.setattr(rundir.os, "access", lambda path, mode: str(path) != str(tmp_path / "locked"))  # tests may run as root
    (tmp_path / "locked").mkdir()
    result = CliRunner().invoke(main, ["train", *TINY, "--outdir", str(tmp_path / "locked" / "runs" / "deeper"), "--dry-run"])
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert f"cannot create a run directory there (no write permission in {tmp_path / 'locked'}); choose another --outdir" \
        in result.output
    ok = CliRunner().invoke(main, ["train", *TINY, "--outdir", str(tmp_path / "new" / "runs"), "--dry-run"])
    assert ok.exit_code == 0 and not (tmp_path / "new").exists()


def test_dry_run_checks_that_resume_names_a_checkpoint_file(tmp_path):
    (tmp_path / "notes.txt").write_text("not a network")
    for resume, message in ((tmp_path / "missing.safetensors", "missing.safetensors: no such file"),
                            (tmp_path, "is a directory; give the path of a checkpoint file"),
                            (tmp_path / "notes.txt", "notes.txt: unrecognized checkpoint format")):
        result = CliRunner().invoke(main, ["train", *TINY, "--outdir", str(tmp_path / "runs"), "--resume", str(resume), "--dry-run"])
        assert result.exit_code == 1 and f"Error: --resume {tmp_path}" in result.output and message in result.output, result.output
    auto = CliRunner().invoke(main, ["train", *TINY, "--outdir", str(tmp_path / "runs"), "--resume", "auto", "--dry-run"])
    assert auto.exit_code == 0, auto.output  # auto: whatever the outdir holds when the run starts


def test_dry_run_refuses_a_resume_network_that_does_not_fit_the_data(tmp_path):
    """As the run refuses it at once: the dry run reads the file (L3 of the NVIDIA-users QA)."""
    for resolution in (32, 16):
        G = Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=resolution, img_channels=3, mapping_kwargs={"num_layers": 1},
                      synthesis_kwargs={"channel_base": 64, "channel_max": 8})
        save_network(tmp_path / f"g{resolution}.safetensors", {"G": G})
    args = ["train", *TINY, "--outdir", str(tmp_path / "runs"), "--dry-run", "--resume"]
    result = CliRunner().invoke(main, [*args, str(tmp_path / "g32.safetensors")])
    assert result.exit_code == 1 and result.output == (
        f"Error: --resume {tmp_path / 'g32.safetensors'}: the network makes 3-channel 32 px images with 0 label dims, but the "
        "dataset has 3-channel 16 px images with 0 label dims; train at 32 px (--resolution 32; smaller images are padded "
        "with black), or pick a matching network\n")
    result = CliRunner().invoke(main, [*args, str(tmp_path / "g16.safetensors")])
    assert result.exit_code == 0, result.output
    notes, printed = result.output.split("{", 1)
    assert notes.splitlines() == [  # the options the run trains with, as it notes them (rosinality QA L1)
        f"note: --resume {tmp_path / 'g16.safetensors'}: the networks keep the file's architecture: z_dim 8 (not 128); "
        "w_dim 8 (not 128); --map 1 (not 2); --cbase 64 (not 128); --cmax 8 (not 16); those options are for new networks",
        f"note: --resume {tmp_path / 'g16.safetensors'}: the file holds no discriminator: D starts from random weights, "
        "as wide as the file's G", f"note: --resume {tmp_path / 'g16.safetensors'}: fine-tuning: EMA without ramp-up",
        "Dataset: shapes, 16 images, 3x16x16, 0 label dims"]
    options = json.loads("{" + printed)
    assert options["resume"] == str(tmp_path / "g16.safetensors")
    assert (options["z_dim"], options["cbase"], options["cmax"], options["ema_rampup"]) == (8, 64, 8, None)
    assert options["ada_kimg"] is None  # --aug noaug uses no ADA speed: the record says null (tuner QA L2)


def test_resume_auto_of_a_finished_run_has_nothing_to_do_and_succeeds(tmp_path, monkeypatch):
    """A requeued job whose run is over: exit status 0 (a scheduler counts the job done), dry run or not."""
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    args = ["train", *TINY, "--kimg", "0.008", "--tick", "0.008", "--outdir", str(tmp_path)]
    assert CliRunner().invoke(main, args).exit_code == 0
    (snapshot,) = tmp_path.glob("*/network-snapshot-*.safetensors")
    for dry in ([], ["--dry-run"]):
        result = CliRunner().invoke(main, [*args, "--resume", "auto", *dry])
        assert result.exit_code == 0 and result.output == (f"--resume auto: the run of {snapshot} is at 0.008 kimg, already "
                                                           "--kimg 0.008: nothing to do (raise --kimg to train on)\n")
    assert len(list(tmp_path.iterdir())) == 1
    longer = CliRunner().invoke(main, [*args, "--resume", "auto", "--kimg", "1", "--dry-run"])
    assert longer.exit_code == 0 and f"note: --resume auto: continues {snapshot}" in longer.output, longer.output
    named = CliRunner().invoke(main, [*args, "--resume", str(snapshot), "--dry-run"])
    assert named.exit_code == 1 and "nothing to train" in named.output  # a file named by hand: an error


def test_the_log_and_snapshots_record_the_command_and_software(tmp_path, monkeypatch):
    """Nothing said which command and code made a run (reproducibility QA M2)."""
    from stylegan2.io import load_checkpoint
    from stylegan2.utils.provenance import COMMAND_VARIABLE, record_command

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    monkeypatch.setenv(COMMAND_VARIABLE, "")  # so that monkeypatch removes it again after the test
    monkeypatch.delenv(COMMAND_VARIABLE)
    monkeypatch.chdir(tmp_path)
    args = ["train", *TINY, "--kimg", "0.008", "--tick", "0.008", "--outdir", "runs dir"]
    record_command(args)  # what the `stylegan2` entry point does before the command line parses
    assert CliRunner().invoke(main, args).exit_code == 0
    (run,) = (tmp_path / "runs dir").iterdir()
    # quoted for a shell: 'builtin:shapes?n=16', the space in the folder; after a cd to where the relative paths start
    command = f"cd {shlex.quote(str(tmp_path))} && {shlex.join(['stylegan2', *args])}"
    assert f"Command: {command}" in (run / "log.txt").read_text().splitlines()
    (snapshot,) = run.glob("network-snapshot-*.safetensors")
    assert load_checkpoint(snapshot).source["command"] == command


def test_resume_auto_of_a_finished_run_under_gpus_says_so_once_and_succeeds(tmp_path, monkeypatch, capfd):
    """The launched processes mark their work finished and wait for each other before rank 0's line, so that a job's
    SIGTERM after the line reads as a finished run (one marked, the other not yet, read as a failure)."""
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    args = ["train", *TINY, "--kimg", "0.008", "--tick", "0.008", "--outdir", str(tmp_path)]
    assert CliRunner().invoke(main, args).exit_code == 0
    result = CliRunner().invoke(main, [*args, "--resume", "auto", "--gpus", "2", "--device", "cpu"])
    printed = capfd.readouterr().out  # by the launched processes, on the real stdout
    assert result.exit_code == 0, result.output
    assert printed.count("nothing to do (raise --kimg to train on)") == 1, printed


def test_ada_options_where_the_cpu_preset_chose_no_augmentation_are_a_note(tmp_path):
    result = CliRunner().invoke(main, ["train", "--data", "builtin:shapes?n=20000", "--cfg", "cpu", "--target", "0.7",
                                       "--outdir", str(tmp_path), "--dry-run"])
    assert result.exit_code == 0, result.output
    note = ("note: --target is left unused: the cpu preset trains datasets of 20,000 images or more (20,000 here) "
            "without augmentation; add --aug ada to use it\n")
    assert result.stderr.startswith(note) and json.loads(result.stdout)["aug"] == "noaug"


def test_a_bad_image_is_met_with_the_commands_own_option(tmp_path):
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "empty.jpg").write_bytes(b"")
    result = CliRunner().invoke(main, ["train", "--data", str(tmp_path / "pics"), "--cfg", "cpu", "--dry-run",
                                       "--outdir", str(tmp_path / "runs")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].endswith("; remove it or pass --skip-bad")


def test_resume_auto_with_a_file_checks_the_file_and_needs_one(tmp_path):
    result = CliRunner().invoke(main, ["train", *TINY, "--outdir", str(tmp_path / "runs"), "--resume", "auto:", "--dry-run"])
    assert result.exit_code == 2 and "auto:: give the network file to start from after 'auto:'" in result.output
    missing = CliRunner().invoke(main, ["train", *TINY, "--outdir", str(tmp_path / "runs"), "--resume",
                                        f"auto:{tmp_path / 'missing.pkl'}", "--dry-run"])
    assert missing.exit_code == 1 and "missing.pkl: no such file" in missing.output, missing.output


def test_resume_auto_with_an_nvidia_name_fetches_it_only_when_the_run_has_no_snapshot(tmp_path, monkeypatch):
    """A requeue on a node without internet must not need the pretrained file its run started from."""
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    monkeypatch.setenv("STYLEGAN2_OFFLINE", "1")
    monkeypatch.setenv("STYLEGAN2_CACHE", str(tmp_path / "cache"))
    args = ["train", *TINY, "--kimg", "0.008", "--tick", "0.008", "--outdir", str(tmp_path / "runs")]
    fresh = CliRunner().invoke(main, [*args, "--resume", "auto:ffhq256", "--dry-run"])
    assert fresh.exit_code == 1 and "--resume auto:ffhq256: " in fresh.output and "ffhq" in fresh.output, fresh.output
    assert CliRunner().invoke(main, args).exit_code == 0  # a run's first snapshot
    requeued = [*args, "--kimg", "0.016", "--resume", "auto:ffhq256", "--dry-run"]
    scratch = CliRunner().invoke(main, requeued)  # that run started from new weights: another job's
    assert scratch.exit_code == 1 and ("passed over 00000-shapes-cpu-kimg0.008-batch8-noaug-resolution16-cbase128-cmax16: "
                                       "started from new weights, not ffhq256: a run with other options") in scratch.output, \
        scratch.output
    (run_dir,) = (tmp_path / "runs").iterdir()  # as if it had started from ffhq256 (too large a file for a test)
    recorded = json.loads((run_dir / "training_options.json").read_text())
    recorded["started_from"] = str(tmp_path / "cache" / "ffhq-res256-mirror-paper256-noaug.pkl")
    (run_dir / "training_options.json").write_text(json.dumps(recorded))
    result = CliRunner().invoke(main, requeued)
    assert result.exit_code == 0 and "note: --resume auto:ffhq256: continues " in result.output, result.output


@pytest.mark.parametrize("env, options, message", [
    ({"SLURM_STEP_NUM_TASKS": "2"}, ["--gpus", "2"], "SLURM started this command as 2 tasks (SLURM_STEP_NUM_TASKS=2)"),
    ({"STYLEGAN2_SIGTERM": "snapshot"}, [], "STYLEGAN2_SIGTERM='snapshot': use 'stop'"),
])
def test_the_environment_is_checked_before_anything_runs_dry_run_too(tmp_path, monkeypatch, env, options, message):
    """srun --ntasks 2 with --gpus started two launchers, each training the whole run; a bad STYLEGAN2_SIGTERM passed
    --dry-run and failed the run."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for command in (["train"], ["swapae", "train"]):
        result = CliRunner().invoke(main, [*command, *TINY[:2], "--outdir", str(tmp_path / "runs"), *options, "--dry-run"])
        assert result.exit_code == 1 and message in result.output, result.output
    assert not (tmp_path / "runs").exists()


def dry_run(*args):
    result = CliRunner().invoke(main, ["train", *TINY, *args, "--dry-run"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr


def test_given_lists_exactly_the_options_typed(tmp_path, monkeypatch):
    """Untyped switches and --outdir were listed; a typed --no-cond or --outdir at its default was not (tuner QA L1)."""
    monkeypatch.chdir(tmp_path)
    typed = ["resolution", "cbase", "cmax", "batch", "aug", "workers"]  # TINY's options (--data, --cfg, --device: not)
    assert dry_run()[0]["given"] == sorted(typed)
    assert dry_run("--no-cond", "--outdir", "training-runs", "--no-mirror")[0]["given"] == \
        sorted([*typed, "cond", "outdir", "mirror"])


def test_the_metric_files_are_the_metrics_commands_options_and_recorded_as_absolute_paths(tmp_path, monkeypatch):
    """train had no --detector, so a run could score only with the cache's Inception (tuner QA M5)."""
    from stylegan2.cli.metrics import metrics_command
    from stylegan2.cli.train import train_command

    for name in ("detector", "vgg", "cache_dir"):
        ours, theirs = ({p.name: p for p in command.params}[name] for command in (train_command, metrics_command))
        assert ours.help == theirs.help and ours.opts == theirs.opts
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.pt").write_bytes(b"weights")
    options = dry_run("--outdir", "runs", "--detector", "mine.pt", "--cache-dir", "cache")[0]
    assert (options["detector"], options["vgg"], options["cache_dir"]) == (str(tmp_path / "mine.pt"), None, str(tmp_path / "cache"))


def test_the_dry_run_says_what_the_runs_first_lines_say_of_its_metrics(tmp_path, monkeypatch):
    """The dry run said nothing of a missing detector; the run said it in its first line (tuner QA M5)."""
    monkeypatch.setenv("STYLEGAN2_OFFLINE", "1")
    cache = tmp_path / "empty-cache"
    stderr = dry_run("--outdir", str(tmp_path), "--metrics", "fid1k_full", "--cache-dir", str(cache))[1].splitlines()
    assert stderr[1] == "Metrics: fid1k_full of G_ema at each snapshot (--metrics)"
    assert stderr[2].startswith("note: --metrics: they fail (and training goes on) until this is fixed: "
                                f"pt_inception-2015-12-05-6726825d.pth is not in {cache}")
    (tmp_path / "mine.pt").write_bytes(b"weights")
    given = dry_run("--outdir", str(tmp_path), "--metrics", "fid1k_full", "--cache-dir", str(cache),
                    "--detector", str(tmp_path / "mine.pt"))[1]
    assert "note:" not in given


def test_the_dry_run_notes_a_disk_too_small_for_a_snapshot(tmp_path, monkeypatch):
    """A run trained until its first snapshot and then stopped on the full disk (chaos QA M5)."""
    import collections
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda path: collections.namedtuple("Usage", "total used free")(1, 0, 24_000))
    stderr = dry_run("--outdir", str(tmp_path / "runs"))[1]
    assert f"note: --outdir {tmp_path / 'runs'}: its disk has 0.024 MB free, less than one snapshot (about " in stderr


def test_help_shows_each_sweep_options_default_and_the_metric_names():
    """--resolution had no default or range, the switches no [default: off], --metrics no names (tuner QA L6)."""
    from stylegan2.cli.train import train_command
    from stylegan2.metrics import PRIMARY_METRICS

    helps = {p.name: p.help for p in train_command.params if isinstance(p, click.Option)}
    assert helps["resolution"].endswith("a power of two from 4 to 1024, at least the images' own.  [default: the data's]")
    for switch in ("cond", "mirror", "skip_bad", "fp32"):
        assert "[default: off" in helps[switch], switch
    assert all(name in helps["metrics"] for name in PRIMARY_METRICS)


def test_cond_on_an_unlabelled_folder_is_told_to_leave_out_cond_in_the_commands_words(tmp_path):
    """Not the Python API's `use_labels=False` (photos35 L4)."""
    (tmp_path / "pics").mkdir()
    for i in range(4):
        PIL.Image.new("RGB", (16, 16), (i * 40, 0, 0)).save(tmp_path / "pics" / f"{i}.png")
    result = CliRunner().invoke(main, ["train", "--data", str(tmp_path / "pics"), "--cfg", "cpu", "--cond",
                                       "--outdir", str(tmp_path / "runs"), "--dry-run"])
    assert result.exit_code == 1 and result.output.endswith(", or leave out --cond\n"), result.output
