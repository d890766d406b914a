"""A snapshot's run state is checked before a run resumes from it; killed runs' temporaries are swept."""

from __future__ import annotations

import copy
import dataclasses
import os
import time
from pathlib import Path

import pytest
import torch

from stylegan2.io import CheckpointError, load_checkpoint, save_checkpoint
from stylegan2.models import Generator
from stylegan2.training.resume import check_resume_extras
from stylegan2.training.rundir import create_run_dir
from stylegan2.training.session import TrainingError, TrainingSession, start_process
from stylegan2.training.snapshot import ResumeState, read_resume_state, restore_rng, save_training_snapshot


def tiny_generator(channels: int = 8) -> Generator:
    return Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=8, img_channels=3, mapping_kwargs={"num_layers": 1},
                     synthesis_kwargs={"channel_base": 32, "channel_max": channels})


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> Path:
    """A real snapshot after one Adam step of a tiny G."""
    G = tiny_generator()
    opt = torch.optim.Adam(G.parameters())
    sum(p.sum() for p in G.parameters()).backward()
    opt.step()
    path = tmp_path_factory.mktemp("snap") / "network-snapshot-000000-032.safetensors"
    save_training_snapshot(path, {"G": G}, {"G": opt}, ResumeState(cur_nimg=32, cur_tick=1, batch_idx=4, extras={"pl_mean": 0.5}), {})
    return path


def edited(snapshot: Path, tmp_path: Path, edit) -> Path:
    """A copy of the snapshot whose training state went through `edit(state)`."""
    ckpt = load_checkpoint(snapshot)
    state = copy.deepcopy(ckpt.training_state)
    edit(state)
    return save_checkpoint(tmp_path / "edited.safetensors", ckpt.networks, extra_tensors=ckpt.extra_tensors, training_state=state)


def test_a_good_snapshot_resumes(snapshot):
    _, state, _ = read_resume_state(snapshot)
    assert (state.cur_nimg, state.cur_tick, state.batch_idx, state.extras) == (32, 1, 4, {"pl_mean": 0.5})


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.update(cur_nimg=-1e12), "cur_nimg is -1000000000000.0; expected an integer from 0 to 1,000,000,000,000"),
    (lambda s: s.update(cur_nimg=10**13), "cur_nimg is 10000000000000; expected an integer"),
    (lambda s: s.pop("cur_tick"), "cur_tick is None"),
    (lambda s: s.update(batch_idx=40), "inconsistent counters"),
    (lambda s: s.pop("optimizers"), "'optimizers' is missing"),
    (lambda s: s["optimizers"]["G"]["state"]["0"]["tensors"].append("nope"), "optimizer state is malformed (KeyError: 'optim.G.0.nope')"),
    (lambda s: s["optimizers"]["G"].pop("param_groups"), "the G optimizer state is malformed (KeyError"),
    (lambda s: s.update(pl_mean="x"), "pl_mean is 'x', not a finite number"),
    (lambda s: s.update(augment={"p": 5}), "'augment' is malformed"),
    (lambda s: s["numpy_rng"].update(key=[1, 2]), "numpy_rng is not a NumPy MT19937 state"),
    (lambda s: s["numpy_rng"].pop("pos"), "numpy_rng lacks 'pos'"),
    (lambda s: s.update(version=2), "training state version 2"),
], ids=["negative", "absurd", "no-tick", "counters", "no-optimizers", "no-tensor", "no-groups", "pl_mean", "augment",
        "rng-key", "rng-pos", "version"])
def test_bad_resume_state_is_one_line_naming_the_file(snapshot, tmp_path, edit, message):
    path = edited(snapshot, tmp_path, edit)
    with pytest.raises(CheckpointError) as info:
        read_resume_state(path, check_extras=check_resume_extras)  # StyleGAN2's own fields (pl_mean, augment) too
    text = str(info.value)
    assert text.startswith(f"--resume {path}: cannot resume from this snapshot: ") and message in text and "\n" not in text


def test_free_form_training_state_starts_from_the_weights_with_a_note(snapshot, tmp_path):
    """docs/checkpoints.md's save_checkpoint(..., training_state={"cur_nimg": ...}): not a snapshot of a run."""
    ckpt = load_checkpoint(snapshot)
    path = save_checkpoint(tmp_path / "mine.safetensors", ckpt.networks, training_state={"cur_nimg": 123000})
    networks, state, notes = read_resume_state(path)
    assert state is None and set(networks) == {"G"}
    assert notes == ["its training_state is not one `stylegan2 train` wrote (it has no version), so training starts "
                     "from its weights"]


def test_a_file_with_non_finite_weights_is_refused_before_the_run(snapshot, tmp_path):
    networks = load_checkpoint(snapshot).networks
    with torch.no_grad():
        networks["G"].synthesis.b4.conv1.weight[0, 0, 0, 0] = float("nan")
    path = save_checkpoint(tmp_path / "nan.safetensors", networks)
    with pytest.raises(CheckpointError, match=r"^--resume .*nan\.safetensors: 1 tensor holds NaN or Inf values "
                                              r"\(G\.synthesis\.b4\.conv1\.weight\), so training cannot start from it; "
                                              r"resume from an earlier snapshot$"):
        read_resume_state(path)


def test_a_truncated_file_is_named_as_the_resume_file(snapshot, tmp_path):
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(snapshot.read_bytes()[:200])
    with pytest.raises(CheckpointError, match=rf"^--resume {cut}: truncated or corrupt"):
        read_resume_state(cut)


class Options:
    outdir, kimg, batch, batch_gpu, tick, snap, keep_snapshots, seed, workers = "", 1.0, 8, 8, 1.0, 1, 0, 0, 0


def test_optimizer_moments_of_another_network_are_refused(snapshot):
    _, state, _ = read_resume_state(snapshot)
    G = tiny_generator(channels=4)  # same parameter count per layer list, other shapes
    session = TrainingSession(Options(), start_process("cpu", 0), networks={"G": G},
                              optimizers={"G": torch.optim.Adam(G.parameters())}, log=print)
    with pytest.raises(TrainingError, match=r"the resume snapshot's G optimizer (state does not fit|holds exp_avg of shape)"):
        session.resume(state)
    other = TrainingSession(Options(), start_process("cpu", 0), networks={"D": G},
                            optimizers={"D": torch.optim.Adam(G.parameters())}, log=print)
    with pytest.raises(TrainingError, match="has no optimizer state for D"):
        other.resume(state)


def test_a_new_run_directory_sweeps_temporaries_of_killed_runs(tmp_path):
    old_run = tmp_path / "00000-mnist"
    old_run.mkdir()
    long_ago = time.time() - 3600
    stale = [old_run / ".network-snapshot-000100.safetensors.k3j4h5l6.tmp.safetensors",
             old_run / f".network-snapshot-000200.safetensors.{2**22 + 4321}.0a1b2c3d.tmp.safetensors"]
    kept = [old_run / "network-snapshot-000100.safetensors", old_run / f".log.txt.{os.getpid()}.0a1b2c3d.tmp.txt"]
    for path in stale + kept:
        path.write_bytes(b"")
        os.utime(path, (long_ago, long_ago))
    writing = old_run / ".network-snapshot-000300.safetensors.a1b2c3d4.tmp.safetensors"  # being written right now
    writing.write_bytes(b"")
    assert create_run_dir(tmp_path, "mnist").name == "00001-mnist"
    assert not any(p.exists() for p in stale) and all(p.exists() for p in kept + [writing])


def test_an_outdir_that_cannot_hold_a_run_directory_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("mine")
    with pytest.raises(ValueError, match=r"^--outdir \S+afile/sub: cannot create a run directory there \(\S+afile is a file, so "
                                         r"no folder can be made there\); choose another --outdir$"):
        create_run_dir(tmp_path / "afile" / "sub", "mnist")
    with pytest.raises(ValueError, match=r"^--outdir \S+afile: cannot create a run directory there \(\S+afile exists and is not "
                                         r"a directory\); choose another --outdir$"):
        create_run_dir(tmp_path / "afile", "mnist")
    assert (tmp_path / "afile").read_text() == "mine"


def test_an_outdir_inside_the_data_folder_is_refused(tmp_path):
    """Its grids would be read as training images by the next run (and fail it, being of other sizes)."""
    from stylegan2.training.rundir import check_outdir_outside_data

    (tmp_path / "images").mkdir()
    for outdir in (tmp_path / "images" / "runs", tmp_path / "images"):
        with pytest.raises(ValueError, match=r"is inside the --data folder .*images: the runs' image grids would become "
                                             r"training images; choose an --outdir outside it$"):
            check_outdir_outside_data(outdir, str(tmp_path / "images"))
    check_outdir_outside_data(tmp_path / "runs", str(tmp_path / "images"))
    check_outdir_outside_data(tmp_path / "images-runs", str(tmp_path / "images"))  # a sibling with a common prefix
    check_outdir_outside_data(tmp_path / "runs", "builtin:shapes")


def test_a_cpu_run_on_a_gpu_machine_never_touches_cuda_for_its_rng_state(tmp_path, monkeypatch):
    """It saved and restored torch.cuda's RNG state whenever a GPU existed, opening a CUDA context from a CPU run."""
    def no_cuda(*args, **kwargs):
        raise AssertionError("a CPU run called into torch.cuda")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_rng_state", no_cuda)
    monkeypatch.setattr(torch.cuda, "set_rng_state", no_cuda)
    G = tiny_generator()
    opt = torch.optim.Adam(G.parameters())
    path = tmp_path / "network-snapshot-000000-032.safetensors"
    save_training_snapshot(path, {"G": G}, {"G": opt}, ResumeState(cur_nimg=32, cur_tick=1, batch_idx=4, extras={"pl_mean": 0.5}),
                           {}, torch.device("cpu"))
    _, state, _ = read_resume_state(path)
    assert state.cuda_rng is None
    restore_rng(dataclasses.replace(state, cuda_rng=torch.zeros(16, dtype=torch.uint8)), torch.device("cpu"))


def test_a_bad_resume_file_is_named_as_given_on_the_processes_that_read_rank_0s_copy():
    """Ranks other than 0 read the bytes rank 0 sent from a temporary copy, whose path the user never gave."""
    from stylegan2.io.errors import CheckpointError
    from stylegan2.training.resume import _read_resume

    with pytest.raises(CheckpointError, match=r"^--resume runs/trunc\.safetensors: unrecognized checkpoint format"):
        _read_resume("runs/trunc.safetensors", b"\x00\x01 not a checkpoint")
