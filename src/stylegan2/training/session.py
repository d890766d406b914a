"""What the StyleGAN2 and Swapping Autoencoder training loops share around their minibatch steps.

A TrainingSession seeds the process, feeds minibatches, writes the run directory and its logs,
counts steps and ticks, writes snapshots that resume exactly, stops at the kimg, step or time
limit, turns a non-finite loss or training state into a TrainingError, and closes the logs. Ctrl-C
stops the run after a whole step (every process at the same one) with a last snapshot; a second
Ctrl-C stops it at once and writes nothing, so a snapshot never holds a half-done step, and no
snapshot is ever replaced. SIGTERM (torchrun's way of stopping the job when a process fails) and
a collective broken by a lost rank stop the run with one line that names the lost ranks and the
last good snapshot.
Each loop supplies its own steps, grids and snapshot contents as LoopHooks.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import math
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, Sequence

import numpy as np
import torch

from ..data import ImageDataset
from ..data.dataset import absolute_spec
from ..data.sampler import StepShares
from ..io.detect import newest_snapshot
from ..utils.allocator import keep_freed_memory
from ..utils.files import writing
from ..utils.provenance import command_line, describe_software
from .distributed import (
    DistributedContext,
    StopVote,
    backend_message,
    broadcast_,
    broadcast_bytes,
    describe_lost_ranks,
    init_distributed,
    is_collective_failure,
)
from .errors import RunFinished, TrainingError
from .finite import MAX_NON_FINITE_STEPS, FiniteWatch, NonFiniteError
from .progress import (
    PROGRESS_EVERY_S,
    PROGRESS_FIRST_S,
    RunLog,
    kimg_label,
    snapshots_due,
    tick_image_count,
    tick_progress,
    tick_status,
    ticks_to_go,
)
from .rundir import RunLock, claim_run_dir, create_run_dir, release_claims
from .signals import (
    StoppedTogether,
    Terminated,
    ctrl_c_requests_stop,
    launcher_gone,
    mark_finished,
    said_in_log,
    sigterm_raises_once,
    sigterm_stops,
)
from .snapshot import ResumeState, how_to_continue, load_optimizer, prune_snapshots, restore_rng, save_training_snapshot
from .stats import StatsCollector, StatsWriter


def check_run_unfinished(resume_path: str | Path, state: ResumeState | None, kimg: float, *, auto: bool = False) -> None:
    """Refuse to continue a run that is already at --kimg, which is the whole run's length, not more of it: it
    would train one more step into a new run directory. Under `--resume auto` (a requeued job that is done) this is
    RunFinished, a success."""
    if state is None or state.cur_nimg < kimg * 1000:
        return
    at = f"{state.cur_nimg / 1000:g} kimg, already --kimg {kimg:g}"
    if auto:
        raise RunFinished(f"--resume auto: the run of {resume_path} is at {at}: nothing to do (raise --kimg to train on)")
    raise TrainingError(f"--resume {resume_path}: its run is at {at}; nothing to train (raise --kimg to train on)")


class RunOptions(Protocol):
    """The options fields a session reads; TrainingOptions and SwapAEOptions both have them."""

    data: str
    outdir: str
    kimg: float
    batch: int
    batch_gpu: int
    tick: float
    snap: int
    keep_snapshots: int
    seed: int
    workers: int

    def to_json(self) -> dict[str, Any]: ...


@dataclass
class TickReport:
    """A loop's own part of a tick: progress values for stats.jsonl and text for the status line."""

    stats: dict[str, float] = field(default_factory=dict)
    status: str = ""


def _nothing_after_snapshot(path: Path) -> None:
    """The default `after_snapshot`: a snapshot needs no follow-up."""


def _nothing_left_out(path: Path) -> str:
    """The default `left_out`: after_snapshot does nothing, so the Ctrl-C snapshot misses nothing."""
    return ""


@dataclass
class LoopHooks:
    """The loop-specific parts that TrainingSession.run uses: callbacks, status-line losses, advice."""

    step: Callable[[], None]  # one minibatch: the phases due at session.batch_idx (raise NonFiniteError on NaN)
    save_grids: Callable[[str], None]  # rank 0: the image grids that go with the snapshot labelled kimg_label(cur_nimg)
    status_losses: tuple[tuple[str, str], ...]  # (label, stat name) pairs shown in the status line
    advice: str  # what to try when a loss turns non-finite, e.g. "Lower the learning rate (--lr)."
    on_tick: Callable[[], TickReport] = TickReport  # every rank, once per tick before the status line
    resume_extras: Callable[[], dict[str, Any]] = dict  # every rank: the loop's own ResumeState fields
    after_snapshot: Callable[[Path], None] = _nothing_after_snapshot  # every rank: e.g. metrics of the snapshot file
    left_out: Callable[[Path], str] = _nothing_left_out  # rank 0: a note on how to do after_snapshot's work for the Ctrl-C snapshot


def start_process(device: str | None, seed: int, timeout: float | None = None) -> DistributedContext:
    """Join torchrun's process group (if any), seed this rank's RNGs and tune the device for speed.

    CUDA: cuDNN picks fast kernels. CPU: malloc keeps freed activation memory for the next step.
    """
    sigterm_stops()  # a bad $STYLEGAN2_SIGTERM is named before the run starts
    ctx = init_distributed(device, timeout)
    _seed_rngs(seed * ctx.world_size + ctx.rank)
    if ctx.device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    else:
        keep_freed_memory()
    return ctx


@contextlib.contextmanager
def caller_state_kept() -> Iterator[None]:
    """Give the caller back what start_process and configure_backends change for a run: torch's and NumPy's global
    random states and the CUDA math flags, so that code after train() draws as if it had not run. (CPU malloc's
    kept memory, see keep_freed_memory, stays: it is the process's.) The CUDA generators are given back where CUDA
    was in use before: forking them would start CUDA for every CPU run, so a caller whose first CUDA use is the run
    finds them as the run left them (seed them again after it)."""
    cuda = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    flags = (torch.backends.cudnn.benchmark, torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    numpy_state = np.random.get_state()
    try:
        with torch.random.fork_rng(devices=cuda):
            yield
    finally:
        np.random.set_state(numpy_state)
        torch.backends.cudnn.benchmark, torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = flags


def _seed_rngs(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


def seed_slice(seed: int, step: int, phase: int, slice_index: int) -> np.random.Generator:
    """Seed torch's RNGs (CPU and CUDA) for one --batch-gpu slice of a step, from the run's seed and the
    slice's place in the global batch; returns a NumPy generator for the slice's other draws.

    Every random draw of the slice (latents, labels, noise inputs, style mixing, augmentation) then
    depends on where the slice sits in the global batch, not on which process computes it, so a
    run's result does not depend on the number of processes, and resuming needs no RNG state.
    """
    entropy = np.random.SeedSequence([seed, step, phase, slice_index])
    torch.manual_seed(int(entropy.generate_state(1, np.uint64)[0]))
    return np.random.default_rng(entropy)


class TrainingSession:
    """One process's part of a training run: counters, run directory and logs, and the step/tick/snapshot loop."""

    def __init__(self, options: RunOptions, ctx: DistributedContext, *, networks: dict[str, torch.nn.Module],
                 optimizers: dict[str, torch.optim.Optimizer], log: Callable[[str], None],
                 max_steps: int | None = None, max_seconds: float | None = None) -> None:
        self.options = options
        self.ctx = ctx
        self.networks = networks  # snapshotted under these names
        self.optimizers = optimizers
        self.log = log  # the run's RunLog on rank 0 once the run directory is open
        self.max_steps = max_steps
        self.max_seconds = max_seconds
        self.batch_per_rank = options.batch // ctx.world_size
        self.rounds = self.batch_per_rank // options.batch_gpu
        self.collector = StatsCollector()
        self.finite = FiniteWatch()
        self.stop_vote = StopVote(ctx.device)
        self.time_vote = StopVote(ctx.device)  # max_seconds: every clock votes; all stop together a step after the first
        self.cur_nimg = self.cur_tick = self.batch_idx = 0
        self.done = False
        self.run_dir: Path | None = None
        self._noted_snapshot: Path | None = None  # the one resumed from, then the last every rank heard written
        self._resumed_from: Path | None = None
        self._lock: RunLock | None = None  # rank 0: the run directory's training.lock, held until the run ends
        self._run_log: RunLog | None = None
        self._writer: StatsWriter | None = None
        self._steps_done = 0
        self._in_step = False  # a step has begun and not completed
        self._start_time = self._tick_start_time = 0.0  # the tick's clock starts where this process took it up
        self._tick_start_nimg: int | None = None  # None: the run's first tick begins where it starts
        self._timed_nimg = 0  # the images seen when the tick's clock started
        self._progress_lines = 0  # lines printed within the current tick
        self._maintenance: list[float] = []  # seconds of each snapshot's grids, files and metrics in this process

    def resume(self, state: ResumeState, path: Path | None = None) -> None:
        """Continue a snapshot's run: its counters, optimizer moments and RNG streams; `path`, the snapshot, is the last
        good one until this run writes its own."""
        self.cur_nimg, self.cur_tick, self.batch_idx = state.cur_nimg, state.cur_tick, state.batch_idx
        self._tick_start_nimg = state.tick_start_nimg  # a Ctrl-C snapshot's tick goes on, with its statistics so far
        if state.tick_stats:
            self.collector.carry(state.tick_stats)
        self._noted_snapshot = self._resumed_from = path
        missing = sorted(set(self.optimizers) - set(state.optimizers))
        if missing:
            raise TrainingError(f"the resume snapshot has no optimizer state for {', '.join(missing)}; it is not from this kind of run")
        for name, opt in self.optimizers.items():
            load_optimizer(name, opt, state.optimizers[name])
        restore_rng(state, self.ctx.device)
        if self.ctx.world_size > 1:  # each rank continues its own stream from the shared state
            _seed_rngs(self.options.seed * self.ctx.world_size + self.ctx.rank + self.batch_idx)

    def minibatches(self, dataset: ImageDataset, class_packs: int = 1) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """This rank's endless stream of (images, labels) minibatches, from where the counters stand.

        With `class_packs` > 1 each run of that many images (a multiple of which makes a --batch-gpu
        slice) holds images of one class.
        """
        ctx, options = self.ctx, self.options
        shares = StepShares(dataset, batch=options.batch, rank=ctx.rank, world_size=ctx.world_size, seed=options.seed,
                            start_step=self.batch_idx, class_packs=class_packs)
        loader = torch.utils.data.DataLoader(
            dataset, batch_sampler=shares, num_workers=options.workers,
            pin_memory=ctx.device.type == "cuda", persistent_workers=options.workers > 0,
            prefetch_factor=2 if options.workers > 0 else None,
            generator=torch.Generator().manual_seed(options.seed),  # keeps the global RNG (saved in snapshots) untouched
        )
        return iter(loader)

    def _recorded_options(self) -> dict[str, Any]:
        """The options as runs record them: `data` made absolute, so that `metrics` without --data scores the same
        data from any folder (a relative path, as typed, named another folder's data there)."""
        return {**self.options.to_json(), "data": absolute_spec(self.options.data)}

    def open_run_dir(self, desc: str, header: list[str], notes: Sequence[str] = ()) -> Path | None:
        """On rank 0, create the run directory with training_options.json, log.txt (starting with
        `header`) and stats.jsonl; returns it there, None on other ranks (which learn its path, to
        name rank 0's snapshots in their messages). `notes`, shown before the directory existed (the options'),
        go into log.txt only, after its first line."""
        created = None
        try:
            if self.ctx.is_main:
                created = create_run_dir(self.options.outdir, desc)
        finally:  # the other ranks wait for the path even when rank 0 fails
            shared = broadcast_bytes(None if created is None else str(created).encode(), self.ctx.device)
        if shared is None:
            raise TrainingError("rank 0 could not create the run directory; its message says why")
        self.run_dir = Path(shared.decode())
        if not self.ctx.is_main:
            return None
        options = self.options
        try:
            with writing(self.run_dir / "training_options.json"):
                with open(self.run_dir / "training_options.json", "w", encoding="utf-8") as f:
                    json.dump(self._recorded_options(), f, indent=2)
            self._lock = RunLock(claim_run_dir(self.run_dir, self._resumed_from))
            # --resume auto's claim of the run it continues, or of a new run in --outdir: the lock says it now
            release_claims(self.run_dir.parent if self._resumed_from is None else self._resumed_from.parent)
            self._run_log = RunLog(self.run_dir, self.log)
        except OSError as err:  # a full disk: leave no empty run directory behind for each failed start
            self._release_lock()
            shutil.rmtree(self.run_dir, ignore_errors=True)
            raise TrainingError(f"{_write_failure(err)}; nothing was written, and the new run directory "
                                f"{self.run_dir.name} was removed; {self._last_good()}") from None
        self.log = self._run_log
        with self.before_first_step():  # TensorBoard's import, say, takes seconds: a Ctrl-C then still ends the log
            self.log(f"Run directory: {self.run_dir}")
            for note in notes:
                self._run_log.record(f"note: {note}")
            for line in header:
                self.log(line)
            self.log(f"Training for {options.kimg} kimg on {self.ctx.world_size} x {self.ctx.device.type}, batch {options.batch}"
                     f" ({options.batch_gpu} per step x {self.rounds} rounds per process)")
            self.log(f"Started {time.strftime('%Y-%m-%d %H:%M:%S %z')}")  # about when tick times start: logs meet schedulers' clocks
            self.log(f"Software: {describe_software()}")  # results are exact only with the same code and libraries
            if command := command_line():
                self.log(f"Command: {command}")
            self._writer = StatsWriter(self.run_dir)
        return self.run_dir

    def run(self, hooks: LoopHooks) -> None:
        """Take steps until the run is over; after Ctrl-C write a last snapshot and grids and raise KeyboardInterrupt;
        always close the logs.

        log.txt ends with "Done." only when the run finished and its last snapshot was written.
        """
        self._start_time = self._tick_start_time = time.time()
        self._timed_nimg = self.cur_nimg
        if self._tick_start_nimg is None:
            self._tick_start_nimg = self.cur_nimg
        outcome = "Stopped."
        with sigterm_raises_once() as stopping, ctrl_c_requests_stop() as ctrl_c:
            try:
                while not self.done:
                    self._step(hooks)
                    self.done = self._finished()
                    if self.done or self.cur_nimg >= self._tick_start_nimg + self.options.tick * 1000:
                        self._tick(hooks)
                    else:
                        self._report_progress()
                    if not self.done and self.stop_vote(ctrl_c.requested):
                        self._stop_on_request(hooks)
                        break
                else:
                    outcome = "Done."
                    stopping.append(0)  # finished: a SIGTERM while the log is closed changes nothing
                    mark_finished()  # and the launcher's too, from before the line it may see
            except KeyboardInterrupt as err:
                stopping.append(0)  # a SIGTERM now must not cut the message short
                self._log_stopped_at_once()
                said_in_log(err)
                raise
            except BaseException as err:
                stopping.append(0)  # a SIGTERM now (torchrun stopping the job) must not cut the message short
                if ctrl_c.requested and is_collective_failure(err):  # a process left for the same Ctrl-C before agreeing
                    self._log_stopped_at_once(f"another process stopped at once ({backend_message(err)})")
                    stopped = KeyboardInterrupt()
                    said_in_log(stopped)
                    raise stopped from None
                outcome = "Failed."
                if isinstance(err, Terminated) or is_collective_failure(err):
                    failure = self._stopped_error(err)
                elif isinstance(err, OSError):  # a full disk while a log or stats file is written, a lost mount, ...
                    failure = TrainingError(f"{_write_failure(err, 'I/O error on')} at {self._position()}; "
                                            f"{self._last_good()}")
                else:
                    failure = err
                self._record(f"Error: {failure}")  # the command line prints the error itself
                if failure is err:
                    raise
                raise failure from None
            finally:
                self._close(outcome)
        if outcome == "Stopped.":
            raise StoppedTogether

    @contextlib.contextmanager
    def before_first_step(self) -> Iterator[None]:
        """The work between opening the run directory and run() (the first grids): if it stops, log.txt still ends
        with "Stopped." (Ctrl-C) or "Error: ..." and "Failed." (SIGTERM too, as a TrainingError)."""
        with sigterm_raises_once() as stopping:
            try:
                yield
            except KeyboardInterrupt as err:
                self.log("Interrupted before the first step: nothing to save")
                self._close("Stopped.")
                said_in_log(err)
                raise
            except BaseException as err:
                stopping.append(0)  # a second SIGTERM must not cut the message short
                if isinstance(err, Terminated):
                    failure = TrainingError(f"{err} before the first step; {self._last_good()}")
                elif isinstance(err, OSError):  # a full disk, say, while the log is written
                    failure = TrainingError(f"{_write_failure(err)} before the first step; {self._last_good()}")
                else:
                    failure = err
                self._record(f"Error: {failure}")
                self._close("Failed.")
                if failure is err:
                    raise
                raise failure from None

    def _stop_on_request(self, hooks: LoopHooks) -> None:
        """Ctrl-C, agreed by every process after a whole step: snapshot and grids of the steps taken. Metrics are
        left to `stylegan2 metrics` (they may take long, and launchers give stopping processes only so much time)."""
        if self.ctx.is_main:  # a launcher killed outright asks as Ctrl-C does (signals.stop_when_launcher_dies)
            why = "the launcher is gone (killed?); " if launcher_gone() else ""
            self.log(f"Interrupted: {why}writing a final snapshot before exiting")
        written = self._snapshot(hooks, score=False, within_tick=True)
        if self.ctx.is_main:
            note = hooks.left_out(self.last_snapshot) if written else ""
            if note:  # a note, which a quiet terminal keeps: something the run was asked for is missing
                self.note(note)

    def _log_stopped_at_once(self, cause: str | None = None) -> None:
        """A second Ctrl-C (or `cause`): what was not saved, and the snapshot to resume from."""
        if not self.ctx.is_main:
            return
        kept = "no snapshot was written" if self.last_snapshot is None else "the last snapshot is " + (
            self.last_snapshot.name if self.last_snapshot.parent == self.run_dir else str(self.last_snapshot))
        if cause is not None:
            self.log(f"Interrupted: {cause}; nothing more is saved; {kept}")
        elif self._in_step:
            self.log(f"Interrupted in the middle of step {self.batch_idx}: its half-done state is not saved; {kept}")
        else:
            self.log(f"Interrupted again: stopping at once; {kept}")

    def _step(self, hooks: LoopHooks) -> None:
        """One minibatch and the counters after it; a non-finite loss stops the run with advice."""
        self._in_step = True
        self.finite.step = self.batch_idx
        hooks.step()
        self._check_finite(hooks, before=self.batch_idx)  # the steps before: on the GPU, done by now
        self.cur_nimg += self.options.batch
        self.batch_idx += 1
        self._steps_done += 1
        self._in_step = False

    def _report_progress(self) -> None:
        """On rank 0, a line PROGRESS_FIRST_S into a tick and every PROGRESS_EVERY_S after, until the tick ends."""
        if not self.ctx.is_main:
            return
        elapsed = time.time() - self._tick_start_time
        if elapsed < PROGRESS_FIRST_S + self._progress_lines * PROGRESS_EVERY_S:
            return
        self._progress_lines += 1
        self.log(tick_progress(tick=self.cur_tick, cur_nimg=self.cur_nimg, tick_images=self.cur_nimg - self._tick_start_nimg,
                               tick_target=tick_image_count(tick_start_nimg=self._tick_start_nimg, tick_kimg=self.options.tick,
                                                            batch=self.options.batch, total_kimg=self.options.kimg),
                               sec_per_kimg=elapsed / max(self.cur_nimg - self._timed_nimg, 1) * 1000))

    def _check_finite(self, hooks: LoopHooks, before: int | None = None) -> None:
        """Stop the run if a phase of a step before `before` (any step with None) had non-finite gradients."""
        try:
            self.finite.check(before)
        except NonFiniteError as err:
            raise TrainingError(f"{err} at {self._position(err.step)}; {self._last_good(diverged=True)}. {hooks.advice}") from None

    def _stopped_error(self, err: BaseException) -> TrainingError:
        """SIGTERM, or a collective that another rank broke (it died, hung or lost its network), as one
        line naming the lost ranks (a broken collective with several processes) and the last good snapshot.

        No roll call after SIGTERM: the launcher sends it to every process, and one that waits in a
        collective with this one cannot answer until this one is gone, so it would be named lost. When
        torchrun sends it because a process failed, that process says why itself."""
        if isinstance(err, Terminated):
            what = str(err)
        else:
            reason = backend_message(err)
            what = describe_lost_ranks(self.ctx, reason) if self.ctx.world_size > 1 else f"stopped by {reason}"
        last = self.last_snapshot
        advice = how_to_continue(last, self.options.outdir) if last else "A restart starts the run over"
        return TrainingError(f"{what} at {self._position()}; {self._last_good()}. {advice}")

    def _position(self, step: int | None = None) -> str:
        """Step `step` (None: the current one) and the images seen before it."""
        step = self.batch_idx if step is None else step
        return f"step {step} (kimg {(self.cur_nimg - (self.batch_idx - step) * self.options.batch) / 1000:.3f})"

    @property
    def last_snapshot(self) -> Path | None:
        """The last good snapshot: this run's newest on disk, else the last one noted (a node that does not share rank
        0's disk), else the one it resumed from. From the disk first, as rank 0 renames each file into place whole: a
        signal right after the rename, before the processes heard of the file, still names it, in every process."""
        newest = newest_snapshot(self.run_dir, suffixes=("safetensors",)) if self.run_dir is not None else None
        return newest or self._noted_snapshot

    def _last_good(self, diverged: bool = False) -> str:
        """The snapshot to go on from. After non-finite values (`diverged`) the one this run resumed from is not called
        good: the run wrote none since, so the steps that went wrong began at that file."""
        last = self.last_snapshot
        if last is None:
            return "no snapshot was written yet"
        if diverged and last == self._resumed_from:
            return f"no snapshot was written yet; the run resumed from {last}"
        return f"the last good snapshot is {last}"

    def _finished(self) -> bool:
        """Whether the kimg, max_steps or max_seconds limit is reached."""
        done = self.cur_nimg >= self.options.kimg * 1000 or (self.max_steps is not None and self._steps_done >= self.max_steps)
        if self.max_seconds is not None:  # the vote reads a step late: the host never waits for the device here
            done = self.time_vote(time.time() - self._start_time >= self.max_seconds) or done
        return done

    def write_metrics(self, results: dict[str, float]) -> None:
        """A snapshot's metric results as TensorBoard scalars (Metrics/<name>) at the current kimg, as NVIDIA's loop
        writes them; only rank 0 writes the run's statistics."""
        if self._writer is not None:
            self._writer.write_metrics(results, self.cur_nimg / 1000)

    def _tick(self, hooks: LoopHooks) -> None:
        """Once per tick: status line, statistics and, every `snap` ticks and at the end, grids and a snapshot."""
        self._check_finite(hooks)
        replaced = self.finite.take_replaced()
        if replaced and self.ctx.is_main:
            step, what = replaced[0]
            self.note(f"non-finite gradients in {len(replaced)} phase step(s) this tick, the first in {what} at "
                      f"{self._position(step)}; their NaN entries were set to 0 and infinities to +-1e5 (as NVIDIA's "
                      f"loop does) and training went on; {MAX_NON_FINITE_STEPS} in a row in one phase stop the run")
        report = hooks.on_tick()
        tick_end = time.time()
        sec_per_kimg = (tick_end - self._tick_start_time) / max(self.cur_nimg - self._timed_nimg, 1) * 1000
        stats = self.collector.flush()
        total_sec = tick_end - self._start_time
        progress = {"Progress/tick": self.cur_tick, "Progress/kimg": self.cur_nimg / 1000, **report.stats,
                    "Timing/total_sec": total_sec, "Timing/sec_per_tick": tick_end - self._tick_start_time,
                    "Timing/sec_per_kimg": sec_per_kimg, "Timing/total_hours": total_sec / 3600,
                    "Timing/total_days": total_sec / 86400}  # NVIDIA's names, for scripts that read their stats.jsonl
        for name, value in progress.items():
            stats[name] = {"num": 1, "mean": value, "std": 0.0}
        if self.ctx.is_main:
            self.log(tick_status(tick=self.cur_tick, cur_nimg=self.cur_nimg, elapsed=tick_end - self._start_time,
                                 sec_per_kimg=sec_per_kimg, total_kimg=self.options.kimg, stats=stats,
                                 losses=hooks.status_losses, device=self.ctx.device, extra=report.status,
                                 maintenance=self._maintenance_left()))
            self._writer.write(stats, self.cur_nimg / 1000)
        extras = self._checked_extras(hooks)
        if self.done or self.cur_tick % self.options.snap == 0:
            self._snapshot(hooks, extras)
            self._maintenance.append(time.time() - tick_end)
        self.cur_tick += 1
        self._tick_start_nimg = self._timed_nimg = self.cur_nimg
        self._tick_start_time = time.time()
        self._progress_lines = 0

    def _maintenance_left(self) -> float:
        """Seconds the snapshots still due take (grids, files, metrics), at the mean of this process's so far: sec/kimg
        leaves them out, and with metrics they were half a run's time."""
        if not self._maintenance:
            return 0.0
        ticks_left = ticks_to_go(self.cur_nimg, self.options.kimg, self.options.tick)  # after this one
        due = snapshots_due(self.cur_tick, self.cur_tick + ticks_left, self.options.snap)
        return due * sum(self._maintenance) / len(self._maintenance)

    def _save_grids(self, hooks: LoopHooks) -> None:
        """The grids of this image count, as optional output: the snapshot after them holds the run."""
        self.optional_output(lambda: hooks.save_grids(kimg_label(self.cur_nimg)))

    def optional_output(self, write: Callable[[], object]) -> None:
        """Write an image grid or other output the run can do without: one that cannot be written (a full disk)
        is a note, and training goes on."""
        try:
            write()
        except OSError as err:
            self.note(f"{_write_failure(err)}; training goes on")

    def note(self, message: str) -> None:
        """A note as every command shows one, `note: ...` on stderr (a quiet terminal keeps it; stdout carries the
        progress), and in log.txt."""
        print(f"note: {message}", file=sys.stderr, flush=True)
        self._record(f"note: {message}")

    def _record(self, message: str) -> None:
        """Append `message` to log.txt only, if it can still be written (it may be the full disk that failed)."""
        if self._run_log is not None:
            try:
                self._run_log.record(message)
            except OSError:
                pass

    def _checked_extras(self, hooks: LoopHooks) -> dict[str, Any]:
        """The loop's resume fields (every rank), refused like a non-finite loss when a number in them is not finite."""
        extras = hooks.resume_extras()
        bad = _non_finite(extras)
        if bad:
            raise TrainingError(f"non-finite training state ({bad}) at {self._position()}; {self._last_good(diverged=True)}. "
                                f"{hooks.advice}")
        return extras

    def _snapshot(self, hooks: LoopHooks, extras: dict[str, Any] | None = None, score: bool = True,
                  within_tick: bool = False) -> bool:
        """Write network-snapshot-<kimg>.safetensors and then its grids on rank 0, then (with `score`) every rank runs
        `hooks.after_snapshot`; resuming from it starts the next tick (`within_tick`: goes on with this one).
        Returns whether it was written now.

        A snapshot that exists already holds this very state (names follow the image count, which
        grows with every step), so it is kept, never rewritten (nor scored again). Non-finite weights or
        training state are not saved; a snapshot that cannot be written is a TrainingError.
        """
        self._check_finite(hooks)
        extras = self._checked_extras(hooks) if extras is None else extras
        state = ResumeState(cur_nimg=self.cur_nimg, cur_tick=self.cur_tick + 1, batch_idx=self.batch_idx, extras=extras)
        if within_tick:  # a Ctrl-C within a tick: resuming goes on with this tick, as the run would have
            state = dataclasses.replace(state, cur_tick=self.cur_tick, tick_start_nimg=self._tick_start_nimg,
                                        tick_stats={name: row for name, row in self.collector.partial().items()  # all ranks
                                                    if all(map(math.isfinite, row))})
        path = self.run_dir / f"network-snapshot-{kimg_label(self.cur_nimg)}.safetensors"
        written = False
        if self.ctx.is_main:
            if path.exists():
                self.log(f"Kept {path.name}: it already holds this state")
            else:
                self._write_snapshot(path, state, hooks.advice)
                written = True
            self._save_grids(hooks)  # after: no grid of a kimg without its snapshot, nor a Ctrl-C costing the networks
        written = bool(broadcast_(torch.tensor(float(written), device=self.ctx.device)))  # the others wait for the write
        self._noted_snapshot = path
        if written and score:
            hooks.after_snapshot(path)  # every rank: its collectives keep them together
        if written and self.ctx.is_main:
            prune_snapshots(self.run_dir, self.options.keep_snapshots, log=self.log, note=self.note)
        return written

    def _write_snapshot(self, path: Path, state: ResumeState, advice: str) -> None:
        for name, module in self.networks.items():
            if not all(bool(torch.isfinite(t).all()) for t in module.state_dict().values() if t.is_floating_point()):
                raise TrainingError(f"non-finite weights in {name} at {self._position()}; {self._last_good(diverged=True)}. "
                                    f"{advice}")
        nets = {name: copy.deepcopy(m).eval().cpu() for name, m in self.networks.items()}
        try:
            save_training_snapshot(path, nets, self.optimizers, state, self._recorded_options(), self.ctx.device)
        except (OSError, ValueError) as err:
            if isinstance(err, OSError) and err.filename is not None:  # a failed write: 'could not write PATH (REASON)'
                reason = _write_failure(err)
            else:
                reason = str(err) if str(path) in str(err) else f"could not write {path}: {err}"  # the path once
            raise TrainingError(f"{reason}; {self._last_good()}") from None
        self.log(f"Saved {path.name}")

    def _release_lock(self) -> None:
        """Stop the heartbeat and remove training.lock (rank 0): this process trains the run no more."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _close(self, outcome: str) -> None:
        """Close TensorBoard's files, and end log.txt with `outcome` ('Done.', 'Stopped.' or 'Failed.')."""
        if self._writer is not None:
            self._writer.close()
        self._release_lock()
        if self._run_log is not None:
            try:
                if outcome == "Failed.":  # log.txt only: on the terminal the command line's error line comes last
                    self._run_log.record(outcome)
                else:
                    self._run_log(outcome)
                self._run_log.close()
            except OSError:  # the disk that failed the run
                pass


def _write_failure(err: OSError, what: str = "could not write") -> str:
    """'could not write PATH (No space left on device)' for an OSError of a write (`what` for other I/O)."""
    where = f" {err.filename}" if err.filename else " a file" if what.endswith(" on") else ""  # NumPy's writes name none
    return f"{what}{where} ({err.strerror or err})"


def _non_finite(value: Any, name: str = "") -> str | None:
    """'name = value' of the first float in nested dicts/lists that is NaN or infinite, else None."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{name} = {value}"
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, (list, tuple)) else ()
    for key, item in items:
        found = _non_finite(item, f"{name}.{key}" if name else str(key))
        if found:
            return found
    return None
