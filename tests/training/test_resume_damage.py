"""A resume file damaged on disk is refused before the run, in one line that names it and says how to go on: NaN in the
optimizer state or JSON state, a file name that disagrees with its image count, a dangling link; an unreadable
training_options.json does not switch off --resume auto's options check."""

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from stylegan2.data import open_dataset
from stylegan2.io import CheckpointError, load_checkpoint, save_checkpoint
from stylegan2.training import loss as loss_module
from stylegan2.training.auto_resume import _run_options
from stylegan2.training.config import resolve_options
from stylegan2.training.loop import TrainingError, train
from stylegan2.training.resume import check_resume
from stylegan2.training.snapshot import read_resume_state

TINY = dict(clusters=0, cbase=128, cmax=16, z_dim=16, w_dim=16, map=2, batch=8, workers=0, aug="noaug", tick=0.008, snap=1)
ADVICE = r"; move it out of the run directory, and --resume auto continues from the snapshot before it$"


def options(tmp_path, **overrides):
    return resolve_options("builtin:shapes?n=64", "cpu", 16, 1, {**TINY, "outdir": str(tmp_path / "runs"), "kimg": 0.016, **overrides})


def dry_run(tmp_path, **overrides):
    """What --dry-run says: check_resume's notes."""
    return check_resume(options(tmp_path, resume="auto", **overrides), open_dataset("builtin:shapes?n=64", resolution=16))[1]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A finished tiny run: snapshots at 0.008 and 0.016 kimg."""
    return train(options(tmp_path_factory.mktemp("run"), kimg=0.016), device="cpu", log=lambda line: None)


def copied_run(run: Path, tmp_path: Path) -> Path:
    shutil.copytree(run, tmp_path / "runs" / run.name)
    return tmp_path / "runs" / run.name


def rewrite(path: Path, edit) -> None:
    """Write `path` again with `edit(extra_tensors, training_state)` applied: damage that still parses."""
    ckpt = load_checkpoint(path)
    edit(ckpt.extra_tensors, ckpt.training_state)
    save_checkpoint(path, ckpt.networks, extra_tensors=ckpt.extra_tensors, training_state=ckpt.training_state,
                    source=ckpt.source, overwrite=True)


def test_nan_in_the_optimizer_state_is_refused_at_resume_and_in_the_dry_run(run, tmp_path, one_thread):
    newest = copied_run(run, tmp_path) / "network-snapshot-000000-016.safetensors"
    rewrite(newest, lambda tensors, state: tensors["optim.D.3.exp_avg_sq"].view(-1)[:4].fill_(float("nan")))
    message = (rf"^--resume {newest}: 1 tensor holds NaN or Inf values \(optim\.D\.3\.exp_avg_sq\), so training cannot "
               rf"start from it; resume from an earlier snapshot{ADVICE}")
    with pytest.raises(CheckpointError, match=message):
        train(options(tmp_path, kimg=0.024, resume="auto"), device="cpu", log=lambda line: None)
    with pytest.raises(CheckpointError, match=message):
        dry_run(tmp_path, kimg=0.024)
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [run.name]  # no run directory made


def poke(path: Path, old: bytes, new: bytes) -> None:
    """Replace bytes of `path` in place, as damage on storage does (the file keeps its size and header)."""
    data = path.read_bytes()
    assert data.count(old) == 1 and len(new) == len(old)
    path.write_bytes(data.replace(old, new))


@pytest.mark.parametrize("edit, named", [
    (lambda tensors, state: state.update(pl_mean=0.123456789), "training_state.pl_mean = nan"),
    (lambda tensors, state: state["augment"].update(p=0.123456789), "training_state.augment.p = inf"),
    (lambda tensors, state: state["optimizers"]["G"]["param_groups"][0].update(lr=0.123456789),
     "training_state.optimizers.G.param_groups.0.lr = nan"),
])
def test_a_non_finite_number_of_the_json_state_is_named(run, tmp_path, edit, named):
    newest = tmp_path / "network-snapshot-000000-016.safetensors"
    shutil.copy(run / newest.name, newest)
    rewrite(newest, edit)
    poke(newest, b"0.123456789", b"Infinity   " if named.endswith("inf") else b"NaN        ")
    with pytest.raises(CheckpointError, match=rf"^--resume {newest}: .* hold a non-finite number \({named}\)$"):
        read_resume_state(newest)


def test_a_run_that_diverges_before_its_first_snapshot_does_not_call_its_resume_file_good(run, tmp_path, one_thread,
                                                                                         monkeypatch):
    copied = copied_run(run, tmp_path)
    original = loss_module.StyleGAN2Loss.accumulate_gradients

    def poisoned(self, phase, real_img, *args, **kwargs):
        return original(self, phase, real_img * float("nan"), *args, **kwargs)

    monkeypatch.setattr(loss_module.StyleGAN2Loss, "accumulate_gradients", poisoned)
    with pytest.raises(TrainingError, match=rf"at step \d+ \(kimg [\d.]+\); no snapshot was written yet; the run resumed "
                                            rf"from {copied / 'network-snapshot-000000-016.safetensors'}\. Lower the"):
        train(options(tmp_path, kimg=0.064, snap=100, resume="auto"), device="cpu", log=lambda line: None)


def test_a_snapshot_whose_name_disagrees_with_its_image_count_is_refused(run, tmp_path):
    renamed = tmp_path / "network-snapshot-000000-024.safetensors"  # our names say the images seen: 24 here
    shutil.copy(run / "network-snapshot-000000-016.safetensors", renamed)
    with pytest.raises(CheckpointError, match=rf"^--resume {renamed}: its name says 0\.024 kimg but it records 0\.016 kimg "
                                              r"\(cur_nimg 16\): the file is damaged or was renamed; resume from an earlier "
                                              r"snapshot$"):
        read_resume_state(renamed)
    for name in ("network-snapshot-000000-016.safetensors", "copy.safetensors"):  # its own name, or none of ours
        shutil.copy(run / "network-snapshot-000000-016.safetensors", tmp_path / name)
        assert read_resume_state(tmp_path / name)[1].cur_nimg == 16


def test_a_dangling_link_as_the_newest_snapshot_says_how_to_go_on(run, tmp_path, one_thread):
    copied = copied_run(run, tmp_path)
    link = copied / "network-snapshot-000000-024.safetensors"
    link.symlink_to(tmp_path / "gone" / "x.safetensors")
    message = rf"^--resume {link}: a symbolic link to {tmp_path / 'gone' / 'x.safetensors'}, which does not exist{ADVICE}"
    with pytest.raises(CheckpointError, match=message):
        dry_run(tmp_path, kimg=0.032)
    with pytest.raises(CheckpointError, match=message):
        train(options(tmp_path, kimg=0.032, resume="auto"), device="cpu", log=lambda line: None)


def test_an_empty_training_options_json_is_compared_through_the_snapshots_record(run, tmp_path, one_thread):
    copied = copied_run(run, tmp_path)
    (copied / "training_options.json").write_text("")  # emptied by a crash or a bad copy
    unreadable = (f"training_options.json of {copied.name} is unreadable (empty): compared with the options that its newest "
                  "snapshot, network-snapshot-000000-016.safetensors, records")
    notes = dry_run(tmp_path, kimg=0.024, gamma=8.0)
    assert notes[0].startswith(f"passed over {copied.name}: --gamma 0.25, not --gamma 8.0: a run with other options")
    assert unreadable in notes and notes[-1] == "no snapshot to continue: a new run starts"
    notes = dry_run(tmp_path, kimg=0.024)
    assert notes == [unreadable, f"continues {copied / 'network-snapshot-000000-016.safetensors'}"]


def test_a_run_whose_options_and_snapshot_are_both_unreadable_says_so(run, tmp_path):
    copied = copied_run(run, tmp_path)
    (copied / "training_options.json").write_text('{"gamma": ')
    newest = copied / "network-snapshot-000000-016.safetensors"
    newest.write_bytes(newest.read_bytes()[:100])
    recorded, note = _run_options(copied)
    assert recorded == {}
    assert note.startswith(f"training_options.json of {copied.name} is unreadable (not valid JSON: ")
    assert note.endswith("), and its newest snapshot records no options: its options were not compared")
    os.remove(copied / "training_options.json")  # no record at all: as an older version's run, nothing to say
    assert _run_options(copied) == ({}, "")
    assert json.loads((run / "training_options.json").read_text())  # the module's run is untouched
    assert torch.is_tensor(load_checkpoint(run / "network-snapshot-000000-016.safetensors").extra_tensors["rng.torch"])
