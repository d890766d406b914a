"""TrainingSession around a stand-in step: ticks, snapshots, stop limits, non-finite losses, Ctrl-C, the log."""

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from stylegan2.io import load_checkpoint
from stylegan2.models import Generator
from stylegan2.training.session import LoopHooks, NonFiniteError, TickReport, TrainingError, TrainingSession, start_process


@dataclasses.dataclass
class TinyOptions:
    """The fields a session reads: 8 images a step, a tick every 2 steps, a snapshot every 2 ticks."""

    outdir: str
    kimg: float = 1.0
    batch: int = 8
    batch_gpu: int = 4
    tick: float = 0.016
    snap: int = 2
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

    def run(self, fail_at: int | None = None, error: type[BaseException] = NonFiniteError) -> None:
        def step() -> None:
            if self.session.batch_idx == fail_at:
                raise error("non-finite loss in phase Gmain")
            self.session.collector.report("Loss/G/loss", torch.tensor([1.0, 3.0]))

        self.session.run(LoopHooks(
            step=step, save_grids=self.grids.append, status_losses=(("G", "Loss/G/loss"),), advice="Try --fp32.",
            on_tick=lambda: TickReport({"Progress/extra": 0.5}, status="extra 0.500 "),
            resume_extras=lambda: {"pl_mean": 1.5}, after_snapshot=lambda path: self.checked.append(path.name),
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
    assert stats[0]["Loss/G/loss"] == {"n": 4, "mean": 2.0, "std": 1.0} and stats[0]["Progress/extra"]["mean"] == 0.5
    log = (rec.run_dir / "log.txt").read_text().splitlines()
    assert log[1] == "header line" and log[2] == "Training for 1.0 kimg on 1 x cpu, batch 8 (4 per step x 2 rounds per process)"
    assert [line.split()[:2] for line in log if line.startswith("tick")] == [["tick", "0"], ["tick", "1"]]
    assert all(" G 2.000 extra 0.500 " in line for line in log if line.startswith("tick"))
    assert log[-1] == "Done." and log == rec.lines


def test_max_seconds_stops_after_the_step_that_ran_out_of_time(tmp_path):
    rec = Recorder(tmp_path, max_seconds=0.0)
    rec.run()
    assert rec.snapshots() == ["network-snapshot-000000-008.safetensors"] and rec.lines[-1] == "Done."


def test_a_non_finite_loss_names_the_step_the_last_snapshot_and_the_advice(tmp_path):
    rec = Recorder(tmp_path)
    with pytest.raises(TrainingError, match=r"^non-finite loss in phase Gmain at step 5 \(kimg 0\.040\); the last good snapshot"
                                            r" is \S+network-snapshot-000000-016\.safetensors\. Try --fp32\.$"):
        rec.run(fail_at=5)
    assert rec.snapshots() == ["network-snapshot-000000-016.safetensors"] and rec.lines[-1] == "Stopped."


def test_ctrl_c_writes_a_snapshot_and_grids_of_the_steps_taken_and_stops(tmp_path):
    rec = Recorder(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        rec.run(fail_at=3, error=KeyboardInterrupt)
    assert rec.snapshots() == ["network-snapshot-000000-016.safetensors", "network-snapshot-000000-024.safetensors"]
    assert rec.grids == ["000000-016", "000000-024"]  # the Ctrl-C snapshot comes with its grids
    assert load_checkpoint(rec.run_dir / "network-snapshot-000000-024.safetensors").training_state["batch_idx"] == 3
    assert rec.lines[-3:] == ["Interrupted: writing a final snapshot before exiting", "Saved network-snapshot-000000-024.safetensors",
                              "Stopped."]
