"""TrainingSession around a stand-in step: ticks, snapshots, stop limits, non-finite losses, Ctrl-C, the log."""

import contextlib
import dataclasses
import errno
import itertools
import json
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Callable

import pytest
import torch
from click.testing import CliRunner

from stylegan2.cli import main
from stylegan2.data import open_dataset
from stylegan2.data.sampler import StepShares
from stylegan2.io import load_checkpoint
from stylegan2.models import Generator
from stylegan2.training import loop
from stylegan2.training.finite import MAX_NON_FINITE_STEPS
from stylegan2.training.progress import RunLog
from stylegan2.training.session import LoopHooks, TickReport, TrainingError, TrainingSession, start_process
from stylegan2.training.snapshot import read_resume_state
from stylegan2.utils.files import writing


@dataclasses.dataclass
class TinyOptions:
    """The fields a session reads: 8 images a step, a tick every 2 steps, a snapshot every 2 ticks."""

    outdir: str
    data: str = "builtin:shapes"
    kimg: float = 1.0
    batch: int = 8
    batch_gpu: int = 4
    tick: float = 0.016
    snap: int = 2
    keep_snapshots: int = 0
    seed: int = 0
    workers: int = 0

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


class Recorder:
    """A session with a tiny G that its step leaves alone, and what the hooks saw."""

    def __init__(self, tmp_path: Path, **limits) -> None:
        G = Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3, mapping_kwargs={"num_layers": 1},
                      synthesis_kwargs={"channel_base": 64, "channel_max": 8})
        self.lines: list[str] = []
        self.grids: list[str] = []
        self.checked: list[str] = []
        self.session = TrainingSession(TinyOptions(str(tmp_path)), start_process("cpu", 0), networks={"G": G},
                                       optimizers={"G": torch.optim.Adam(G.parameters())}, log=self.lines.append, **limits)
        self.run_dir = self.session.open_run_dir("test", ["header line"])

    def run(self, at: int | range | None = None, action: Callable[[], None] = lambda: None, pl_mean: float = 1.5,
            after_snapshot: Callable[[Path], None] | None = None) -> None:
        """Run the session; `action` happens inside the step at batch_idx `at` (or each step in a range; it may
        raise, or send a signal)."""
        def step() -> None:
            if self.session.batch_idx == at or (isinstance(at, range) and self.session.batch_idx in at):
                action()
            self.session.collector.report("Loss/G/loss", torch.tensor([1.0, 3.0]))

        self.session.run(LoopHooks(
            step=step, save_grids=self.grids.append, status_losses=(("G", "Loss/G/loss"),), advice="Try --fp32.",
            on_tick=lambda: TickReport({"Progress/extra": 0.5}, status="extra 0.500 "),
            resume_extras=lambda: {"pl_mean": pl_mean},
            after_snapshot=after_snapshot or (lambda path: self.checked.append(path.name)),
        ))

    def snapshots(self) -> list[str]:
        return sorted(p.name for p in self.run_dir.glob("network-snapshot-*"))


def test_max_steps_ends_with_grids_a_snapshot_and_done(tmp_path):
    rec = Recorder(tmp_path, max_steps=3)
    rec.run()
    assert rec.snapshots() == ["network-snapshot-000000-016.safetensors", "network-snapshot-000000-024.safetensors"]
    assert rec.grids == ["000000-016", "000000-024"] and rec.checked == rec.snapshots()  # tick 0 (snap 2) and the end
    state = load_checkpoint(rec.run_dir / "network-snapshot-000000-024.safetensors").training_state
    assert (state["cur_nimg"], state["cur_tick"], state["batch_idx"], state["pl_mean"]) == (24, 2, 3, 1.5)

    stats = [json.loads(line) for line in (rec.run_dir / "stats.jsonl").read_text().splitlines()]
    assert [tick["Progress/kimg"]["mean"] for tick in stats] == [0.016, 0.024]
    assert stats[0]["Loss/G/loss"] == {"num": 4, "mean": 2.0, "std": 1.0} and stats[0]["Progress/extra"]["mean"] == 0.5
    assert [tick["Progress/tick"]["mean"] for tick in stats] == [0, 1]  # and NVIDIA's other columns, for their scripts
    for name in ("Timing/total_sec", "Timing/sec_per_tick", "Timing/sec_per_kimg", "Timing/total_hours", "Timing/total_days"):
        assert stats[1][name]["num"] == 1 and stats[1][name]["mean"] > 0, name
    assert stats[1]["Timing/total_hours"]["mean"] == pytest.approx(stats[1]["Timing/total_sec"]["mean"] / 3600)
    log = (rec.run_dir / "log.txt").read_text().splitlines()
    assert log[1] == "header line" and log[2] == "Training for 1.0 kimg on 1 x cpu, batch 8 (4 per step x 2 rounds per process)"
    started = time.strptime(log[3], "Started %Y-%m-%d %H:%M:%S %z")  # wall-clock time, to meet a scheduler's log
    assert abs(time.mktime(started) - time.time()) < 600
    assert [line.split()[:2] for line in log if line.startswith("tick")] == [["tick", "0"], ["tick", "1"]]
    assert all(" G 2.000 extra 0.500 " in line for line in log if line.startswith("tick"))
    assert log[-1] == "Done." and log == rec.lines


@pytest.mark.parametrize("world_size", [1, 2])
def test_max_seconds_stops_after_the_step_that_ran_out_of_time(tmp_path, monkeypatch, world_size):
    """The clocks vote as Ctrl-C does (StopVote: every process stops at the same step, read a step late): no
    broadcast and read per step, which would make the host wait for a GPU at each one."""
    rec = Recorder(tmp_path, max_seconds=0.0)
    votes = []
    with monkeypatch.context() as patched:
        patched.setattr("stylegan2.training.session.broadcast_", lambda tensor: pytest.fail("a tensor per step"))
        patched.setattr(rec.session, "ctx", dataclasses.replace(rec.session.ctx, world_size=world_size))
        patched.setattr(rec.session, "time_vote", lambda wants: votes.append(wants) or wants)
        assert rec.session._finished() and votes == [True]
    rec.run()
    assert rec.snapshots() == ["network-snapshot-000000-008.safetensors"] and rec.lines[-1] == "Done."


def nan_gradients(rec: Recorder, phase: str = "phase Gmain") -> Callable[[], None]:
    return lambda: rec.session.finite.watch(phase, [torch.tensor([1.0, float("nan")])])


def test_gradients_that_stay_non_finite_name_the_step_the_last_snapshot_and_the_advice(tmp_path):
    rec = Recorder(tmp_path)  # steps 5-8 bad: the tick after step 5 writes a snapshot of finite (replaced) weights
    with pytest.raises(TrainingError, match=rf"^non-finite loss or gradients in phase Gmain in {MAX_NON_FINITE_STEPS} of its "
                                            r"steps in a row at step 5 \(kimg 0\.040\); the last good snapshot is "
                                            r"\S+network-snapshot-000000-048\.safetensors\. Try --fp32\.$"):
        rec.run(at=range(5, 5 + MAX_NON_FINITE_STEPS), action=nan_gradients(rec))
    log = (rec.run_dir / "log.txt").read_text().splitlines()
    assert log[-2].startswith("Error: non-finite loss or gradients in phase Gmain in") and log[-1] == "Failed."
    assert not any(line.startswith("tick 4") for line in log)  # no status line of the tick where the streak ended


def test_a_step_of_non_finite_gradients_is_replaced_noted_and_the_run_goes_on(tmp_path, capsys):
    """As NVIDIA's loop: a rare float16 overflow costs that step's update, not the run. The note goes to stderr, as
    every command's notes (a quiet terminal keeps them), and into log.txt, once each."""
    rec = Recorder(tmp_path, max_steps=8)
    rec.run(at=range(2, 1 + MAX_NON_FINITE_STEPS), action=nan_gradients(rec, "phase Dreg"))
    log = (rec.run_dir / "log.txt").read_text().splitlines()
    notes = [line for line in log if line.startswith("note: non-finite gradients")]
    assert notes[0].startswith("note: non-finite gradients in 2 phase step(s) this tick, the first in phase Dreg at step 2 "
                               "(kimg 0.016); their NaN entries were set to 0 and infinities to +-1e5 (as NVIDIA's loop does)")
    assert len(notes) == 2 and log[-1] == "Done."
    assert capsys.readouterr().err.splitlines() == notes and not any(line.startswith("note:") for line in rec.lines)


def test_a_non_finite_verdict_is_read_after_the_next_step_is_under_way(tmp_path):
    """The CPU never waits for the GPU to finish the step it just queued: step 2's verdict is read after step 3 ran."""
    rec = Recorder(tmp_path)
    reported = []
    report = rec.session.collector.report
    rec.session.collector.report = lambda name, value: (reported.append(rec.session.batch_idx), report(name, value))
    rec.session.finite._streaks["phase Dmain"] = [0] * (MAX_NON_FINITE_STEPS - 1)  # one more bad step stops the run
    with pytest.raises(TrainingError, match=r"^non-finite loss or gradients in phase Dmain in .* at step 0 \(kimg 0\.000\)"):
        rec.run(at=2, action=lambda: rec.session.finite.watch("phase Dmain", [torch.ones(3), torch.tensor([float("inf")])]))
    assert reported == [0, 1, 2, 3]


def test_ctrl_c_finishes_the_step_then_writes_a_snapshot_and_grids_and_stops(tmp_path):
    rec = Recorder(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        rec.run(at=3, action=ctrl_c)
    assert rec.snapshots() == ["network-snapshot-000000-016.safetensors", "network-snapshot-000000-032.safetensors"]
    assert rec.grids == ["000000-016", "000000-032"]  # the Ctrl-C snapshot comes with its grids
    assert load_checkpoint(rec.run_dir / "network-snapshot-000000-032.safetensors").training_state["batch_idx"] == 4
    assert rec.lines[-3:] == ["Interrupted: writing a final snapshot before exiting", "Saved network-snapshot-000000-032.safetensors",
                              "Stopped."]




def failed(rec: Recorder) -> bool:
    """log.txt ends with Failed.; the terminal does not say it (the command line prints the error line last)."""
    return (rec.run_dir / "log.txt").read_text().splitlines()[-1] == "Failed." and "Failed." not in rec.lines


def ctrl_c() -> None:
    """What the user's Ctrl-C does during a step: SIGINT to this process."""
    os.kill(os.getpid(), signal.SIGINT)


def ctrl_c_twice() -> None:
    os.kill(os.getpid(), signal.SIGINT)
    os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_twice_abandons_the_step_and_writes_nothing(tmp_path):
    rec = Recorder(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        rec.run(at=3, action=ctrl_c_twice)
    assert rec.snapshots() == ["network-snapshot-000000-016.safetensors"] and rec.grids == ["000000-016"]
    assert rec.lines[-2:] == ["Interrupted in the middle of step 3: its half-done state is not saved; the last snapshot is "
                              "network-snapshot-000000-016.safetensors", "Stopped."]


def test_a_resumed_run_cut_short_in_its_first_step_names_the_snapshot_it_resumed(tmp_path):
    first = Recorder(tmp_path / "a", max_steps=2)
    first.run()
    snapshot = first.run_dir / "network-snapshot-000000-016.safetensors"
    rec = Recorder(tmp_path / "b")
    rec.session.resume(read_resume_state(snapshot)[1], snapshot)
    with pytest.raises(KeyboardInterrupt):
        rec.run(at=2, action=ctrl_c_twice)
    assert rec.lines[-2:] == ["Interrupted in the middle of step 2: its half-done state is not saved; the last snapshot is "
                              f"{snapshot}", "Stopped."]


def test_ctrl_c_in_the_step_after_a_snapshot_keeps_that_snapshot(tmp_path):
    """The issue: the image count (the name) moves only at the end of a step, so a half step used to overwrite it."""
    rec = Recorder(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        rec.run(at=2, action=ctrl_c)  # step 2 comes right after the tick-0 snapshot at 16 images
    first = rec.run_dir / "network-snapshot-000000-016.safetensors"
    assert load_checkpoint(first).training_state["batch_idx"] == 2
    assert rec.snapshots() == [first.name, "network-snapshot-000000-024.safetensors"]


def test_ctrl_c_between_steps_stops_after_the_tick_and_keeps_the_snapshot_of_the_same_state(tmp_path):
    rec = Recorder(tmp_path)

    def metrics_interrupted(path: Path) -> None:
        rec.checked.append(path.name)
        ctrl_c()  # during the metrics that follow a snapshot: they finish, then the run stops

    with pytest.raises(KeyboardInterrupt):
        rec.run(after_snapshot=metrics_interrupted)
    before = (rec.run_dir / "network-snapshot-000000-016.safetensors").stat().st_mtime_ns
    assert rec.snapshots() == ["network-snapshot-000000-016.safetensors"] and rec.checked == [rec.snapshots()[0]]
    assert rec.lines[-3:] == ["Interrupted: writing a final snapshot before exiting",
                              "Kept network-snapshot-000000-016.safetensors: it already holds this state", "Stopped."]
    assert (rec.run_dir / "network-snapshot-000000-016.safetensors").stat().st_mtime_ns == before


def test_ctrl_c_while_a_snapshot_is_written_stops_the_run_once_it_is_whole(tmp_path, monkeypatch):
    """The write holds the signal back, then hands it to the run, which stops as after any other Ctrl-C."""
    import stylegan2.io.native as native

    atomic_path = native.atomic_path

    @contextlib.contextmanager
    def write_interrupted(*args, **kwargs):
        with atomic_path(*args, **kwargs) as tmp:
            ctrl_c()  # inside the atomic write
            yield tmp

    monkeypatch.setattr(native, "atomic_path", write_interrupted)
    rec = Recorder(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        rec.run()
    assert rec.snapshots() == ["network-snapshot-000000-016.safetensors"]
    assert load_checkpoint(rec.run_dir / rec.snapshots()[0]).training_state["batch_idx"] == 2
    assert rec.lines[-4:] == ["Saved network-snapshot-000000-016.safetensors", "Interrupted: writing a final snapshot before exiting",
                              "Kept network-snapshot-000000-016.safetensors: it already holds this state", "Stopped."]


def test_ctrl_c_again_after_the_first_stops_at_once_without_a_snapshot(tmp_path):
    rec = Recorder(tmp_path)

    def interrupted_twice(path: Path) -> None:
        ctrl_c()
        ctrl_c()  # between steps, during the metrics

    with pytest.raises(KeyboardInterrupt):
        rec.run(after_snapshot=interrupted_twice)
    assert rec.snapshots() == ["network-snapshot-000000-016.safetensors"]
    assert rec.lines[-2:] == ["Interrupted again: stopping at once; the last snapshot is network-snapshot-000000-016.safetensors",
                              "Stopped."]


def test_the_ctrl_c_snapshot_leaves_out_the_metrics_and_says_how_to_add_them(tmp_path, capsys):
    rec = Recorder(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        rec.session.run(LoopHooks(
            step=lambda: ctrl_c() if rec.session.batch_idx == 3 else None, save_grids=rec.grids.append, status_losses=(),
            advice="", after_snapshot=lambda path: rec.checked.append(path.name),
            left_out=lambda path: f"left out: {path.name}"))
    assert rec.checked == ["network-snapshot-000000-016.safetensors"]  # the tick's snapshot only
    note = "note: left out: network-snapshot-000000-032.safetensors"  # a note: a quiet terminal keeps it
    assert capsys.readouterr().err.splitlines() == [note] and note not in rec.lines
    log = (rec.run_dir / "log.txt").read_text().splitlines()
    assert log[-3:] == ["Saved network-snapshot-000000-032.safetensors", note, "Stopped."]


def test_under_a_launcher_a_second_sigint_at_once_is_the_same_ctrl_c(tmp_path, monkeypatch):
    """torchrun's agent forwards the terminal's Ctrl-C to processes that got it already."""
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "test")
    rec = Recorder(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        rec.run(at=3, action=ctrl_c_twice)
    assert rec.snapshots()[-1] == "network-snapshot-000000-032.safetensors"
    assert rec.lines[-3:] == ["Interrupted: writing a final snapshot before exiting", "Saved network-snapshot-000000-032.safetensors",
                              "Stopped."]


def test_non_finite_training_state_stops_the_run_like_a_non_finite_loss(tmp_path):
    rec = Recorder(tmp_path)
    with pytest.raises(TrainingError, match=r"^non-finite training state \(pl_mean = nan\) at step 2 \(kimg 0\.016\); no snapshot"):
        rec.run(pl_mean=float("nan"))
    assert rec.snapshots() == [] and failed(rec)


def test_non_finite_weights_are_not_saved(tmp_path):
    rec = Recorder(tmp_path)

    def spoil() -> None:
        with torch.no_grad():
            next(rec.session.networks["G"].parameters()).fill_(float("inf"))

    with pytest.raises(TrainingError, match=r"^non-finite weights in G at step 6"):
        rec.run(at=3, action=spoil)
    assert rec.snapshots() == ["network-snapshot-000000-016.safetensors"] and failed(rec)


def test_a_final_snapshot_that_cannot_be_written_fails_the_run(tmp_path, monkeypatch):
    rec = Recorder(tmp_path, max_steps=2)

    def disk_full(path, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("stylegan2.training.session.save_training_snapshot", disk_full)
    with pytest.raises(TrainingError, match=r"could not write \S+network-snapshot-000000-016\.safetensors: .*No space left"):
        rec.run()
    assert failed(rec) and "Done." not in rec.lines


def test_a_full_disk_while_a_snapshot_is_written_fails_the_run_in_one_line(tmp_path, monkeypatch):
    """The write's OSError names our temporary: the run ends with its own message, naming the snapshot once."""
    import stylegan2.io.native as native

    rec = Recorder(tmp_path, max_steps=2)
    atomic_path = native.atomic_path

    @contextlib.contextmanager
    def disk_full(*args, **kwargs):
        with atomic_path(*args, **kwargs) as tmp:
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp))
            yield tmp

    monkeypatch.setattr(native, "atomic_path", disk_full)
    with pytest.raises(TrainingError) as caught:
        rec.run()
    message = str(caught.value)
    assert message.startswith("could not write ") and message.count("network-snapshot-000000-016.safetensors") == 1
    assert "(No space left on device)" in message and "no snapshot was written" in message
    assert failed(rec) and rec.snapshots() == []


def test_a_snapshot_that_cannot_be_written_gets_no_grids(tmp_path, monkeypatch):
    """The grids of a kimg are drawn after its snapshot is written: a full disk leaves no fakes image of a kimg that
    has no snapshot to go with it."""
    def disk_full(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr("stylegan2.training.session.save_training_snapshot", disk_full)
    rec = Recorder(tmp_path, max_steps=2)
    with pytest.raises(TrainingError, match="No space left on device"):
        rec.run()
    assert rec.snapshots() == [] and rec.grids == []


@pytest.mark.parametrize("trouble, last", [(KeyboardInterrupt, "Stopped."), (ValueError("x.png: cannot decode image"), "Failed.")])
def test_what_stops_a_run_before_its_first_step_ends_the_log(tmp_path, trouble, last):
    """The first grids are drawn between opening the run directory and the first step: Ctrl-C or a bad image there."""
    rec = Recorder(tmp_path)
    with pytest.raises(type(trouble) if isinstance(trouble, Exception) else trouble):
        with rec.session.before_first_step():
            raise trouble
    log = (rec.run_dir / "log.txt").read_text().splitlines()
    assert log[-1] == last
    assert log[-2] == ("Interrupted before the first step: nothing to save" if last == "Stopped." else "Error: x.png: cannot decode image")


@pytest.mark.parametrize("class_packs", [1, 2])
def test_step_shares_of_two_processes_make_one_processs_batches(class_packs):
    """The ranks' contiguous shares of each global batch are one process's batch, packs by class included."""
    dataset = open_dataset("builtin:shapes?n=40", use_labels=True)

    def batches(rank: int, world: int) -> list[list[int]]:
        shares = StepShares(dataset, batch=8, rank=rank, world_size=world, seed=3, start_step=2, class_packs=class_packs)
        return list(itertools.islice(iter(shares), 12))

    single = batches(0, 1)
    assert [a + b for a, b in zip(batches(0, 2), batches(1, 2))] == single
    if class_packs == 2:
        labels = [[int(dataset.get_label(i).argmax()) for i in batch] for batch in single]
        assert all(batch[k] == batch[k + 1] for batch in labels for k in range(0, 8, 2))


def test_an_ignored_sigint_stays_ignored(tmp_path):
    """A background job of a script, or nohup, starts with SIGINT ignored: the run must not start to heed it."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        rec = Recorder(tmp_path, max_steps=4)
        rec.run(at=1, action=ctrl_c)
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
    assert rec.lines[-1] == "Done."


def test_sigterm_before_the_first_step_ends_the_log_and_is_one_line(tmp_path):
    rec = Recorder(tmp_path)
    with pytest.raises(TrainingError, match=r"^stopped by SIGTERM from the launcher or the system before the first step"):
        with rec.session.before_first_step():
            os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    log = (rec.run_dir / "log.txt").read_text().splitlines()
    assert log[-2].startswith("Error: stopped by SIGTERM") and log[-1] == "Failed."


def test_a_sigterm_after_the_run_finished_while_the_log_closes_changes_nothing(tmp_path, monkeypatch):
    """A job that a scheduler ends just after the last step: the run is complete, so it stays a success."""
    rec = Recorder(tmp_path, max_steps=2)
    close = TrainingSession._close

    def close_then_sigterm(self, outcome: str) -> None:
        close(self, outcome)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.1)  # the handler runs here, in the main thread

    monkeypatch.setattr(TrainingSession, "_close", close_then_sigterm)
    rec.run()
    assert rec.lines[-1] == "Done." and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


@pytest.mark.parametrize("restarts,advice", [
    ({}, "Restart the job with --resume auto to continue from it"),
    ({"TORCHELASTIC_RESTART_COUNT": "0", "TORCHELASTIC_MAX_RESTARTS": "1"}, "With --resume auto a restart continues from it"),
    ({"TORCHELASTIC_RESTART_COUNT": "1", "TORCHELASTIC_MAX_RESTARTS": "1"}, "Restart the job with --resume auto to continue from it"),
])
def test_sigterm_during_a_step_names_the_last_snapshot_and_what_continues_the_run(tmp_path, monkeypatch, restarts, advice):
    """Under --max-restarts with restarts left the launcher may restart the processes itself: no "Restart the job"."""
    for name, value in restarts.items():
        monkeypatch.setenv(name, value)
    rec = Recorder(tmp_path)
    with pytest.raises(TrainingError) as caught:
        rec.run(at=3, action=lambda: os.kill(os.getpid(), signal.SIGTERM))
    last = rec.run_dir / "network-snapshot-000000-016.safetensors"
    assert str(caught.value) == (f"stopped by SIGTERM from the launcher or the system at step 3 (kimg 0.024); the last good snapshot "
                                 f"is {last}. {advice}")


def test_sigterm_just_after_a_snapshot_was_written_names_that_snapshot(tmp_path, monkeypatch):
    """The signal came between the file's rename (and its `Saved` line) and the session's note of it: the message
    named the snapshot before, and under --gpus the processes named two different ones."""
    rec = Recorder(tmp_path)
    write = TrainingSession._write_snapshot

    def write_then_sigterm(self, path, *args) -> None:
        write(self, path, *args)
        if path.name.endswith("000000-016.safetensors"):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.1)  # the handler runs here, in the main thread

    monkeypatch.setattr(TrainingSession, "_write_snapshot", write_then_sigterm)
    with pytest.raises(TrainingError, match=r"the last good snapshot is (.*)\. Restart") as caught:
        rec.run()
    assert str(rec.run_dir / "network-snapshot-000000-016.safetensors") in str(caught.value)
    assert "Saved network-snapshot-000000-016.safetensors" in rec.lines


def test_a_launched_process_marks_its_work_finished_before_done_is_logged(tmp_path, monkeypatch):
    """A SIGTERM that reached the --gpus launcher after `Done.` but before the processes marked themselves finished
    (on their way out) was a failure, exit status 1."""
    from stylegan2.training.signals import MESSAGES_VARIABLE

    folder = tmp_path / "launch"
    folder.mkdir()
    monkeypatch.setenv(MESSAGES_VARIABLE, str(folder))
    monkeypatch.setenv("RANK", "0")
    rec = Recorder(tmp_path / "runs", max_steps=2)
    close, marked_at_close = TrainingSession._close, []

    def close_noting_the_mark(self, outcome: str) -> None:  # the line that ends log.txt comes from here
        marked_at_close.append((outcome, (folder / "0.finished").exists()))
        close(self, outcome)

    monkeypatch.setattr(TrainingSession, "_close", close_noting_the_mark)
    rec.run()
    assert marked_at_close == [("Done.", True)] and rec.lines[-1] == "Done."


def test_a_long_tick_says_it_is_under_way(tmp_path, monkeypatch):
    """A large network on CPU can take many minutes per tick: lines within it say how far it is."""
    monkeypatch.setattr("stylegan2.training.session.PROGRESS_FIRST_S", 0.0)
    monkeypatch.setattr("stylegan2.training.session.PROGRESS_EVERY_S", 3600.0)
    rec = Recorder(tmp_path, max_steps=3)
    rec.run()
    under_way = [line for line in rec.lines if line.startswith("under way")]
    assert len(under_way) == 1 and under_way[0].startswith("under way: tick 0, kimg 0.008 (8 of the tick's 16 images), sec/kimg ")
    assert "the tick ends in about " in under_way[0]
    assert rec.lines.index(under_way[0]) < next(i for i, line in enumerate(rec.lines) if line.startswith("tick 0"))
    assert (rec.run_dir / "log.txt").read_text().splitlines() == rec.lines


def test_a_tick_the_run_ends_says_it_ends_with_the_run(tmp_path, monkeypatch):
    """The line counted to the tick's length, past the run's end."""
    monkeypatch.setattr("stylegan2.training.session.PROGRESS_FIRST_S", 0.0)
    monkeypatch.setattr("stylegan2.training.session.PROGRESS_EVERY_S", 3600.0)
    rec = Recorder(tmp_path)
    rec.session.options = dataclasses.replace(rec.session.options, kimg=0.024, tick=0.04)  # 3 steps of a 5-step tick
    rec.run()
    (under_way,) = [line for line in rec.lines if line.startswith("under way")]
    assert under_way.startswith("under way: tick 0, kimg 0.008 (8 of the tick's 24 images), sec/kimg "), under_way


def test_every_long_tick_has_its_lines_and_a_short_one_none(tmp_path, monkeypatch):
    quick = Recorder(tmp_path / "quick", max_steps=6)  # the default: a minute into a tick
    quick.run()
    assert not [line for line in quick.lines if line.startswith("under way")]
    monkeypatch.setattr("stylegan2.training.session.PROGRESS_FIRST_S", 0.0)
    monkeypatch.setattr("stylegan2.training.session.PROGRESS_EVERY_S", 0.0)
    rec = Recorder(tmp_path / "long", max_steps=6)  # ticks of 2 steps: a line after each tick's first step
    rec.run()
    assert [line.split(",")[0] for line in rec.lines if line.startswith("under way")] == [
        "under way: tick 0", "under way: tick 1", "under way: tick 2"]


def test_sigterm_before_any_snapshot_does_not_advise_continuing(tmp_path):
    rec = Recorder(tmp_path)
    with pytest.raises(TrainingError) as caught:
        rec.run(at=1, action=lambda: os.kill(os.getpid(), signal.SIGTERM))
    assert str(caught.value).endswith("no snapshot was written yet. A restart starts the run over")


class FullDisk(list):
    """A grid writer on a full disk."""

    def append(self, label: str) -> None:
        raise OSError(28, "No space left on device", f"/runs/fakes{label}.png")


def test_a_grid_the_full_disk_refuses_is_a_note_and_the_snapshot_is_still_tried(tmp_path, capsys):
    rec = Recorder(tmp_path, max_steps=2)
    rec.grids = FullDisk()
    rec.run()
    note = "note: could not write /runs/fakes000000-016.png (No space left on device); training goes on"
    assert capsys.readouterr().err.splitlines() == [note] and note not in rec.lines  # stderr, as every command's notes
    assert (rec.run_dir / "log.txt").read_text().splitlines().count(note) == 1
    assert rec.snapshots() == ["network-snapshot-000000-016.safetensors"] and rec.lines[-1] == "Done."


def test_a_snapshot_keep_snapshots_cannot_delete_is_a_note_and_the_run_goes_on(tmp_path, monkeypatch, capsys):
    """A file held open elsewhere (Windows), a read-only mount: said on stderr and in log.txt, as every note."""
    rec = Recorder(tmp_path, max_steps=3)
    rec.session.options.keep_snapshots = 1
    unlink = Path.unlink

    def held(path: Path, *args, **kwargs) -> None:
        if path.name.startswith("network-snapshot-"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        unlink(path, *args, **kwargs)

    monkeypatch.setattr(Path, "unlink", held)
    rec.run()
    note = "note: could not delete network-snapshot-000000-016.safetensors (--keep-snapshots 1): Permission denied"
    assert capsys.readouterr().err.splitlines() == [note] and note not in rec.lines
    assert (rec.run_dir / "log.txt").read_text().splitlines().count(note) == 1
    assert rec.snapshots() == ["network-snapshot-000000-016.safetensors", "network-snapshot-000000-024.safetensors"]
    assert rec.lines[-1] == "Done."


@pytest.mark.parametrize("quiet", [[], ["--quiet"]])
def test_a_train_commands_note_is_on_stderr_once_also_under_quiet_and_in_its_log(tmp_path, monkeypatch, quiet):
    """--quiet keeps a run's notes on the terminal: a grid the full disk refuses is said once, on stderr, and kept
    in log.txt; stdout carries the progress only."""
    save_image = loop.save_image

    def full_for_the_first_fakes(array, path):
        if path.name == "fakes_init.png":
            with writing(path):  # as save_image names its file
                raise OSError(errno.ENOSPC, "No space left on device")
        return save_image(array, path)

    monkeypatch.setattr(loop, "save_image", full_for_the_first_fakes)
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    result = CliRunner().invoke(main, ["train", "--data", "builtin:shapes?n=16", "--resolution", "16", "--cfg", "cpu",
                                       "--cbase", "128", "--cmax", "16", "--batch", "8", "--aug", "noaug", "--workers", "0",
                                       "--device", "cpu", "--kimg", "0.008", "--outdir", str(tmp_path), *quiet])
    assert result.exit_code == 0, result.output
    run_dir = next(tmp_path.iterdir())
    note = f"note: could not write {run_dir / 'fakes_init.png'} (No space left on device); training goes on"
    assert result.stderr.splitlines().count(note) == 1 and note not in result.stdout
    assert (run_dir / "log.txt").read_text().splitlines().count(note) == 1


def test_a_failed_write_during_the_run_is_one_line_naming_the_last_good_snapshot(tmp_path):
    rec = Recorder(tmp_path)

    def full() -> None:
        raise OSError(28, "No space left on device", str(rec.run_dir / "stats.jsonl"))

    with pytest.raises(TrainingError) as caught:
        rec.run(at=3, action=full)
    last = rec.run_dir / "network-snapshot-000000-016.safetensors"
    assert str(caught.value) == (f"I/O error on {rec.run_dir / 'stats.jsonl'} (No space left on device) at step 3 "
                                 f"(kimg 0.024); the last good snapshot is {last}")
    assert (rec.run_dir / "log.txt").read_text().splitlines()[-2:] == [f"Error: {caught.value}", "Failed."]


def test_a_run_directory_that_cannot_be_filled_is_removed(tmp_path, monkeypatch):
    """A requeued job on a full disk left an empty run directory per attempt."""
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "00000-test" / "training_options.json"))

    monkeypatch.setattr("builtins.open", full)
    with pytest.raises(TrainingError, match=r"could not write .*training_options\.json \(No space left on device\); nothing "
                                            r"was written, and the new run directory 00000-test was removed; no snapshot "
                                            r"was written yet$"):
        Recorder(tmp_path)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("error", [BrokenPipeError(errno.EPIPE, "Broken pipe"), OSError(errno.EINVAL, "Invalid argument")])
def test_a_closed_terminal_does_not_stop_the_run(tmp_path, error):
    """`stylegan2 train ... | head`: printing fails once the reader is gone (Windows says EINVAL); log.txt goes on."""
    rec = Recorder(tmp_path, max_steps=2)

    def gone(line: str) -> None:
        raise error

    rec.session._run_log.echo = gone
    rec.run()
    assert (rec.run_dir / "log.txt").read_text().splitlines()[-1] == "Done."


def test_a_line_the_output_cannot_encode_is_printed_escaped(tmp_path):
    """Windows writes redirected output in its code page: a run directory's name it lacks stopped the run."""
    log, printed = RunLog(tmp_path, echo=lambda line: printed.append(line.encode("cp1252").decode("cp1252"))), []
    log("Run directory: runs/00000-Łódź-cpu")
    log.close()
    assert printed == [r"Run directory: runs/00000-\u0141\xf3d\u017a-cpu"]
    assert (tmp_path / "log.txt").read_text(encoding="utf-8") == "Run directory: runs/00000-Łódź-cpu\n"


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="no SIGUSR1 on this platform")
def test_sigusr1_asks_for_a_final_snapshot_even_where_ctrl_c_is_ignored(tmp_path):
    """A scheduler's warning before it stops the job (SLURM --signal=USR1@N); a batch script's background job
    ignores SIGINT, and a repeated warning must not abandon the step."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        rec = Recorder(tmp_path)
        with pytest.raises(KeyboardInterrupt):
            rec.run(at=3, action=lambda: [os.kill(os.getpid(), signal.SIGUSR1) for _ in range(2)])
    finally:
        signal.signal(signal.SIGINT, previous)
    assert rec.snapshots()[-1] == "network-snapshot-000000-032.safetensors"
    assert rec.lines[-3:] == ["Interrupted: writing a final snapshot before exiting", "Saved network-snapshot-000000-032.safetensors",
                              "Stopped."]
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL


def test_with_stylegan2_sigterm_stop_a_sigterm_asks_for_a_final_snapshot(tmp_path, monkeypatch):
    """A SLURM preemption: SIGTERM, then SIGKILL after the grace time. Opted in, the steps since the last snapshot
    are kept; by default SIGTERM stops at once (torchrun's SIGTERM also means another process failed)."""
    monkeypatch.setenv("STYLEGAN2_SIGTERM", "stop")
    rec = Recorder(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        rec.run(at=3, action=lambda: os.kill(os.getpid(), signal.SIGTERM))
    assert rec.lines[-3:] == ["Interrupted: writing a final snapshot before exiting",
                              "Saved network-snapshot-000000-032.safetensors", "Stopped."]
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="tells the file written by /proc/self/fd")
def test_a_write_on_a_full_disk_is_named_by_its_file(tmp_path, monkeypatch):
    """A write to an open file says only 'No space left on device': the message names the file."""
    rec = Recorder(tmp_path, max_steps=2)
    write = os.write

    def full_stats(fd: int, data: bytes) -> int:
        if os.readlink(f"/proc/self/fd/{fd}").endswith("stats.jsonl"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return write(fd, data)

    monkeypatch.setattr(os, "write", full_stats)
    with pytest.raises(TrainingError, match=rf"^I/O error on {re.escape(str(rec.run_dir / 'stats.jsonl'))} \(No space left "
                                            r"on device\) at step 2"):
        rec.run()


@pytest.mark.parametrize("value, stops", [("stop", True), (" STOP ", True), ("exit", False), ("", False)])
def test_stylegan2_sigterm_picks_what_sigterm_does(monkeypatch, value, stops):
    from stylegan2.training.signals import sigterm_stops

    monkeypatch.setenv("STYLEGAN2_SIGTERM", value)
    assert sigterm_stops() is stops


def test_a_bad_stylegan2_sigterm_is_named_before_the_run(monkeypatch, tmp_path):
    from stylegan2.training.session import start_process

    monkeypatch.setenv("STYLEGAN2_SIGTERM", "snapshot")
    with pytest.raises(ValueError, match=r"^STYLEGAN2_SIGTERM='snapshot': use 'stop' \(a final snapshot, as SIGUSR1\) or "
                                         r"'exit' \(the default: stop at once\)$"):
        start_process("cpu", 0)


def test_a_write_failure_without_a_file_name_reads_as_a_sentence():
    """NumPy's writes through file objects raise OSErrors without a file name: 'I/O error on (No space ...)' read badly."""
    from stylegan2.training.session import _write_failure

    assert _write_failure(OSError(28, "No space left on device"), "I/O error on") == "I/O error on a file (No space left on device)"
    assert _write_failure(OSError(28, "No space left on device", "x.png")) == "could not write x.png (No space left on device)"


def test_the_eta_counts_the_snapshots_still_due(tmp_path, monkeypatch):
    """sec/kimg leaves out the grids, files and metrics of snapshots: with metrics they were half a run's time."""
    snapshot = TrainingSession._snapshot

    def slow_snapshot(self, *args):
        time.sleep(0.5)
        return snapshot(self, *args)

    monkeypatch.setattr(TrainingSession, "_snapshot", slow_snapshot)
    rec = Recorder(tmp_path, max_steps=4)  # ticks 0 and 1 of a 1 kimg run: a snapshot every 2 ticks of 16 images
    rec.run()
    tick_1 = next(line for line in rec.lines if line.startswith("tick 1 "))
    seconds = sum(int(part[:-1]) * {"s": 1, "m": 60, "h": 3600}[part[-1]] for part in tick_1.split(" eta ")[1].split())
    due = 62 // 2 - 0 // 2  # ticks 1..62 end the run's 1,000 images; every second one writes a snapshot
    assert seconds >= int(due * 0.5), tick_1  # the line writes whole seconds


def test_the_advice_names_a_last_snapshot_outside_outdir_as_auto_file(tmp_path, monkeypatch):
    """A run resumed from a file in another --outdir, stopped before its first snapshot: --resume auto looks in this
    --outdir only and would start over, so the advice names the file (auto:FILE: this run's newest, else the file)."""
    from stylegan2.training.snapshot import how_to_continue

    monkeypatch.delenv("TORCHELASTIC_MAX_RESTARTS", raising=False)
    mine = tmp_path / "runs" / "00001-shapes-cpu" / "network-snapshot-000000-016.safetensors"
    other = tmp_path / "old" / "00000-shapes-cpu" / "network-snapshot-000000-096.safetensors"
    assert how_to_continue(mine, str(tmp_path / "runs")) == "Restart the job with --resume auto to continue from it"
    assert how_to_continue(other, str(tmp_path / "runs")) == f"Restart the job with --resume auto:{other} to continue from it"
