"""--resume for StyleGAN2 runs: find the file (`--resume auto`), read it on every rank, refuse what the run cannot
start from, and work out the options it trains with; --dry-run makes the same checks without training."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from ..data import ImageDataset
from ..data.dataset import absolute_spec
from ..io.detect import newest_snapshot, snapshot_nimg
from ..io.errors import CheckpointError
from ..io.native import read_training_state
from ..io.pretrained import cached_file_name, network_file
from ..metrics.calc import metric_files_read
from ..metrics.evaluate import parse_metric
from ..metrics.training_data import METRIC_FILES
from ..models import Discriminator, Generator
from ..models.mapping import LR_MULTIPLIER as MAPPING_LR_MULTIPLIER
from ..utils.download import DownloadError
from ..utils.files import missing_folders, remove_empty_folders
from .ada import check_augment_state
from .config import (
    UNRECORDED_START,
    TrainingOptions,
    changed_defaults,
    for_transfer_learning,
    run_differences,
    same_file,
    same_place,
)
from .distributed import DistributedContext, broadcast_bytes
from .networks import (
    all_frozen_note,
    check_networks_fit,
    file_labels,
    freezable_layers,
    frozen_layers,
    keep_file_architecture,
    networks_from_checkpoint,
)
from .rundir import (
    CLAIM_PREFIX,
    OWNER_FILE,
    OWNER_STALE_AFTER_S,
    START_PREFIX,
    UNWRITTEN_CLAIM_S,
    RunOwner,
    claim_continuation,
    claim_start,
    claimed_options,
    earlier_claim,
    latest_snapshot,
    live_claim,
    release_claims,
    run_kind,
    run_owner,
    run_snapshots,
    runs_of_kind,
)
from .session import RunFinished, TrainingError, check_run_unfinished
from .snapshot import ResumeState, dangling_link, finite_number, read_resume_state

AUTO_RESUME = "auto"  # --resume auto: the newest snapshot of this run under --outdir, if any; auto:FILE, else FILE


def auto_resume(resume: str | None) -> tuple[bool, str | None]:
    """(whether --resume is auto, the file that 'auto:FILE' starts from when --outdir has no snapshot of the run):
    one command line for a fine-tuning job's first start and its requeues."""
    if resume == AUTO_RESUME:
        return True, None
    if resume is not None and resume.startswith(f"{AUTO_RESUME}:"):
        return True, resume[len(AUTO_RESUME) + 1:]
    return False, None


@dataclasses.dataclass
class ResumeFile:
    """A --resume file as read: its networks, its run's state (None: weights only, transfer learning) and notes."""

    path: str
    networks: dict[str, torch.nn.Module]
    state: ResumeState | None
    notes: list[str]


def load_resume(options: TrainingOptions, data_name: str,
                ctx: DistributedContext) -> tuple[ResumeFile | None, list[str]]:
    """The run's --resume file on every rank (None: nothing to resume), and on rank 0 the lines that say what
    `--resume auto` found among the runs of the dataset `data_name`. A run that --resume auto finds finished ends
    here, with those lines (RunFinished)."""
    if not options.resume:
        return None, []
    path, data, found_lines = _resume_file(options, data_name, ctx)
    if path is None:
        return None, found_lines
    try:
        return read_resume(path, options, data), found_lines
    except RunFinished as done:  # with what auto passed over on its way (rank 0's lines)
        raise RunFinished("\n".join([*found_lines, str(done)])) from None


@contextlib.contextmanager
def claims_released(options: TrainingOptions) -> Iterator[None]:
    """Within it, --resume auto may claim the run it continues (`claim_continuation`) or a new run (`claim_start`);
    this process's claims under --outdir are let go on the way out, however the run ends (open_run_dir lets go sooner,
    once training.lock speaks for the run), and an --outdir that a claim made and nothing else filled is removed."""
    outdir = Path(options.outdir).expanduser()
    made = missing_folders(outdir)
    try:
        yield
    finally:
        if auto_resume(options.resume)[0]:
            release_claims(outdir)
            for run_dir in runs_of_kind(outdir, re.compile(".+")):
                release_claims(run_dir)
            remove_empty_folders(made)


def follow_file_labels(file: ResumeFile, options: TrainingOptions, dataset: ImageDataset) -> TrainingOptions:
    """The options with the file's clusters and pack where none were given (`networks.file_labels`), before the run
    makes its labels; the note joins the file's notes, said with the resume's lines. A network trained on more
    clusters than the dataset has images is refused: each of its classes needs an image."""
    followed, notes = file_labels(options, file.networks.get("G") or file.networks.get("G_ema"), file.networks.get("D"))
    if followed.clusters > dataset.distinct_len and followed.clusters != options.clusters:
        raise TrainingError(f"--resume {file.path}: the network was trained on {followed.clusters} clusters of its run's "
                            f"images (its classes), more than the {dataset.distinct_len:,} images of {options.data}; "
                            f"fine-tune it on at least {followed.clusters} images")
    file.notes.extend(notes)
    return followed


def _resume_file(options: TrainingOptions, data_name: str,
                 ctx: DistributedContext) -> tuple[str | None, bytes | None, list[str]]:
    """Rank 0's resume file on every rank: its path (None: nothing to resume) and, on the other
    ranks, its bytes (None on rank 0, which reads its own copy); and on rank 0 the lines that say
    what `--resume auto` found (having claimed the run it continues or starts: `claims_released`).

    `--resume auto` is resolved on rank 0 (to None when --outdir has no snapshot of this run's
    kind), and the other ranks get the file from it, so they need neither the file nor the run
    directory on their machine.
    """
    path, data, error, found_lines = options.resume, b"", None, []
    auto, fallback = auto_resume(path)
    if ctx.is_main and auto:
        try:
            found, passed_over = _auto_resume(options, data_name, claim=True)
        except (TrainingError, ValueError) as err:  # a live owner, an unmakable --outdir: said once the others know
            found, passed_over, error = None, [], err
        found_lines = [f"Resume auto: {line}" for line in passed_over]
        path = str(found) if found is not None else ""
        if found is None and error is None:
            these = " with these options" if passed_over else ""
            found_lines.append(f"Resume auto: no snapshot of a {data_name}-{options.cfg} run{these} under {options.outdir}; "
                               + (f"starting from {fallback}" if fallback else "starting a new run"))
            try:
                path = _fallback_file(fallback) if fallback else ""
            except TrainingError as err:  # said once the other processes know, after what auto passed over
                error = TrainingError("\n".join([*found_lines[:-1], str(err)]))
    if ctx.is_main and error is None:
        try:
            data = Path(path).read_bytes() if path and ctx.world_size > 1 else b""
        except OSError as err:
            why = dangling_link(path) or f"cannot read it ({err.strerror or err})"
            error = _with_advice(CheckpointError(f"--resume {path}: {why}"), path, options)
    shared = broadcast_bytes(None if error else path.encode(), ctx.device)
    if shared is None:
        raise error or TrainingError("rank 0 could not read the --resume file; its message says why")
    if not shared:
        return None, None, found_lines
    received = broadcast_bytes(data, ctx.device)
    return shared.decode(), None if ctx.is_main else received, found_lines


def _auto_resume(options: TrainingOptions, data_name: str,
                 claim: bool = False) -> tuple[Path | None, list[str]]:
    """The snapshot `--resume auto` continues (None: none), and lines on what it found: a line per run of this dataset
    and --cfg (`run_kind`: whatever options its name carries, or an older version's `<data>-<cfg>`) that it passed
    over because its recorded options differ in those that tell runs apart (RUN_IDENTITY) or in the network it started
    from (`auto:FILE` starts from FILE, plain `auto` from new weights); of the others, the run furthest along is
    continued. A run that a live process still trains, or is about to, is refused (TrainingError): continuing it
    would fork it; so is a new run where none has a snapshot yet while a live process trains this job's, or claimed
    one first. With `claim` (a run, not --dry-run, which reads the claims alike but makes none), the continuation or
    the new run is claimed before the owners are checked (let go by `claims_released`): of two processes that would
    continue one run, or start one job's run, one gives way. A run this process cannot write to is continued without
    a claim, with a note."""
    read: dict[Path, tuple[dict[str, Any], str]] = {}  # each run's recorded options, read once, and a note on them

    def recorded(run_dir: Path) -> dict[str, Any]:
        if run_dir not in read:
            read[run_dir] = _run_options(run_dir)
        return read[run_dir][0]

    start = auto_resume(options.resume)[1]

    def differences(run_dir: Path) -> str:  # what a passed-over line says after the run's name; '' for none
        return differs(recorded(run_dir))

    def differs(theirs: dict[str, Any]) -> str:  # how a job of these recorded options differs; '' for none
        said = run_differences(options, theirs) + _start_differences(start, theirs)
        changed = changed_defaults(options, theirs)
        if said and len(changed) == len(said):  # only defaults that changed: this job's run, from an older version
            return f"{', '.join(said)}; add {' '.join(changed)} to continue it"
        return f"{', '.join(said)}: a run with other options, so another job's (give one of its snapshots to --resume " \
               "to continue it anyway)" if said else ""

    def same_job(other: Path) -> bool:  # whether another process's claim of a new run is of this job
        theirs = claimed_options(other)
        return theirs.get("cfg", options.cfg) == options.cfg and not differs(theirs)

    kind = run_kind(data_name, options.cfg)
    found, passed_over = latest_snapshot(options.outdir, kind, differences)
    lines = [f"passed over {line}" for line in passed_over]
    if found is None:
        # claimed (let go by `claims_released`) and checked before the locks, which a claim's owner writes before letting go
        held = claim_start(options.outdir, _claimed_job(options, start)) if claim else None
        _refuse_second_start(Path(options.outdir).expanduser(), held, same_job)
        _refuse_beside_live_run(runs_of_kind(options.outdir, kind), differences)
        return found, [*lines, *(note for _, note in read.values() if note)]
    held, unclaimed = _claim_continuation(found, claim)  # let go by `claims_released`
    lines += _owner_notes(found, runs_of_kind(options.outdir, kind), differences, held) + unclaimed
    newest = [path for path in run_snapshots(options.outdir, kind) if not differences(path.parent)][-1]
    lines += [note for _, note in read.values() if note]
    if newest != found:  # two jobs continued one run (a duplicate submission): the one further along holds more work
        lines.append(f"continues {found.parent.name}, the run furthest along ({_kimg(found)} kimg); the newer run "
                     f"{newest.parent.name} is at {_kimg(newest)} kimg (give {newest} to --resume to continue that one)")
    theirs = recorded(found.parent)
    data = theirs.get("data", options.data)
    if isinstance(data, str) and not same_place(data, options.data):
        lines.append(f"its run read --data {data}, taken for this one (the same file name, moved or copied since)")
    started = _recorded_start(theirs)
    if started == UNRECORDED_START and not read[found.parent][1]:  # an unreadable record is said as such
        lines.append(f"its run does not record the network it started from (written by an older version): taken for "
                     f"a run from {start or 'new weights'}, as this job's")
    elif start is not None and isinstance(started, str) and not os.path.exists(started):
        lines.append(f"its run started from {started}, which is gone: taken for {start} by its file name")
    return found, lines


def _kimg(snapshot: Path) -> str:
    """The kimg a snapshot's file name says: '0.384'."""
    return f"{(snapshot_nimg(snapshot.name) or 0) / 1000:g}"


def _claim_continuation(found: Path, claim: bool) -> tuple[Path | None, list[str]]:
    """With `claim`, this process's claim of the continuation of `found`'s run (`claim_continuation`; None without,
    --dry-run), and a note where its directory cannot be written to (a finished run made read-only, a colleague's
    run): such a run is continued without a claim, only read as before claims were made, so a job that starts to
    continue it at the same moment is not stopped."""
    why = None
    if claim:
        try:
            return claim_continuation(found), []
        except OSError as err:
            why = err.strerror or str(err)
    elif not os.access(found.parent, os.W_OK):  # --dry-run: what the claim would meet
        why = os.strerror(errno.EACCES)
    return None, [] if why is None else [f"cannot claim {found.parent.name} ({why}): continuing it without a claim, so "
                                         "a job that starts to continue it at the same moment is not stopped"]


def _claim_refusal(what: str, first: tuple[Path, RunOwner | None], instead: str) -> TrainingError:
    """The refusal of a run that a live process claimed first (`earlier_claim`, `live_claim`): `what` it is about to
    do, by whom, what to do `instead`, and when its claim counts as gone (an unreadable one sooner)."""
    where, owner = first
    after = (f"after {OWNER_STALE_AFTER_S / 3600:g} hour it counts as gone" if owner else
             f"a claim still being written counts as gone {UNWRITTEN_CLAIM_S:g} seconds after it was made")
    return TrainingError(f"--resume auto: {what} by {owner.describe() if owner else 'another process'}, which claimed "
                         f"it first; wait for that process to end or stop it, or {instead} anyway (if that process is "
                         f"gone, delete {where}: {after})")


def _owner_notes(found: Path, runs: list[Path], differences: Callable[[Path], str], claim: Path | None) -> list[str]:
    """Refuse (TrainingError) to continue `found`'s run while a live process trains it, trains a run of this job
    (`differences` finds none) that continues it, or claimed it before this process's `claim` (None: any live claim,
    where this process made none); a note where the run's training.lock was left by a process that is gone (killed,
    so it could not remove the file)."""
    run_dir = found.parent.resolve()
    first = earlier_claim(claim) if claim is not None else live_claim(found.parent, CLAIM_PREFIX)
    if first is not None:
        raise _claim_refusal(f"the run it would continue, {found.parent}, is about to be continued", first,
                             "pass a snapshot to --resume to start from that file")
    notes = []
    for other in runs:
        owner = run_owner(other)
        continues = owner is not None and owner.continues(found.parent)
        if owner is None or not (other.resolve() == run_dir or (continues and not differences(other))):
            continue
        where = "" if other.resolve() == run_dir else f", which continues it in {other.name}"
        if owner.alive():
            raise TrainingError(
                f"--resume auto: the run it would continue, {found.parent}, is still being trained by {owner.describe()}"
                f"{where}; wait for that process to end or stop it, or pass a snapshot to --resume to start from that "
                f"file anyway (if that process is gone, delete {other / OWNER_FILE}: after "
                f"{OWNER_STALE_AFTER_S / 3600:g} hour without a heartbeat it counts as gone)")
        if other.resolve() == run_dir:
            gone = ("an earlier instance of this job" if owner.earlier_instance()
                    else "gone (its pid now names another process)" if owner.pid_reused() else "gone (killed?)")
            notes.append(f"{found.parent.name} was left by {owner.describe()}, which is {gone}: continuing it")
    return notes


def _refuse_beside_live_run(runs: list[Path], differences: Callable[[Path], str]) -> None:
    """Refuse (TrainingError) to start a new run while a live process trains a run of this job (`differences` finds
    none) that has no snapshot yet: a duplicate submission would train the job twice. A dead owner's run is no such
    run: its job is this one, started again."""
    for run_dir in runs:
        owner = run_owner(run_dir)
        if owner is not None and owner.alive() and not differences(run_dir):
            raise TrainingError(
                f"--resume auto: {run_dir}, a run of this job with no snapshot yet, is being trained by "
                f"{owner.describe()}; wait for that process to end or stop it, or pass a file to --resume or another "
                f"--outdir to start another run anyway (if that process is gone, delete {run_dir / OWNER_FILE}: after "
                f"{OWNER_STALE_AFTER_S / 3600:g} hour without a heartbeat it counts as gone)")


def _claimed_job(options: TrainingOptions, start: str | None) -> dict[str, Any]:
    """The options a new run's claim records, as its training_options.json will (`differences` reads either), with
    the network it starts from (`start`, --resume auto:FILE; None: new weights) as a path that `_same_start` knows."""
    started_from = start if start is None else cached_file_name(start) or os.path.abspath(os.path.expanduser(start))
    return {**options.to_json(), "data": absolute_spec(options.data), "started_from": started_from}


def _refuse_second_start(outdir: Path, claim: Path | None, same_job: Callable[[Path], bool]) -> None:
    """Refuse (TrainingError) to start a new run in `outdir` while a live process that claimed one of this job
    (`same_job`) before this process's `claim` (None, --dry-run: any live claim) sets it up: of two starts of one job
    at once (`srun --ntasks=2`, a requeue racing the first start), the first claim trains."""
    first = earlier_claim(claim, same_job) if claim is not None else live_claim(outdir, START_PREFIX, same_job)
    if first is not None:
        raise _claim_refusal(f"a new run of this job under {outdir} is about to be started", first,
                             "pass a file to --resume or another --outdir to start another run")


def _run_options(run_dir: Path) -> tuple[dict[str, Any], str]:
    """The options a run directory records: its training_options.json, or where that cannot be read (emptied by a
    crash, a bad copy) those its newest snapshot records, with a note on that ('' otherwise); {} where it has none."""
    try:
        raw = (run_dir / "training_options.json").read_bytes()
        found = json.loads(raw) if raw.strip() else None
    except FileNotFoundError:  # as an older version's run that cannot be followed back: nothing recorded
        return {}, ""
    except OSError as err:
        why = err.strerror or str(err)
    except ValueError as err:  # not UTF-8 either
        why = f"not valid JSON: {err}"
    else:
        if isinstance(found, dict):
            return found, ""
        why = "empty" if found is None else "not a JSON object"
    unreadable = f"training_options.json of {run_dir.name} is unreadable ({why})"
    newest = newest_snapshot(run_dir, suffixes=("safetensors",))
    try:
        options = read_training_state(newest).get("options") if newest is not None else None
    except (OSError, CheckpointError):
        options = None
    if not isinstance(options, dict):
        return {}, f"{unreadable}, and its newest snapshot records no options: its options were not compared"
    return options, f"{unreadable}: compared with the options that its newest snapshot, {newest.name}, records"


MAX_CONTINUATIONS = 1000  # runs followed back to find where an older version's run started (a cycle would not end)


def _recorded_start(recorded: dict[str, Any]) -> str | None:
    """The network a run's training_options.json says it started from (None: new weights). An older version's run
    did not say: it started from new weights where it had no --resume, from its --resume file where that is not one
    of our run snapshots, and where it continued a snapshot, from where that snapshot's run started (followed back
    run by run); UNRECORDED_START where that cannot be told."""
    for _ in range(MAX_CONTINUATIONS):
        if "started_from" in recorded:
            return recorded["started_from"]
        resume = recorded.get("resume", UNRECORDED_START)
        if not isinstance(resume, str) or not Path(resume).name.startswith("network-snapshot-"):
            return resume
        recorded = _run_options(Path(resume).parent)[0]
        if not recorded:
            return UNRECORDED_START
    return UNRECORDED_START


def _start_differences(start: str | None, recorded: dict[str, Any]) -> list[str]:
    """How the network a run started from differs from `start`, the one this job starts from (None: new weights):
    ['started from new weights, not /nets/ffhq.pkl'], or [] (the same, or not recorded)."""
    theirs = _recorded_start(recorded)
    if theirs == UNRECORDED_START or _same_start(start, theirs):
        return []
    return [f"started from {theirs or 'new weights'}, not {start or 'new weights'}"]


def _same_start(start: str | None, theirs: Any) -> bool:
    """Whether a run that recorded starting from `theirs` (a path; None: new weights) started from `start`, the
    --resume auto:FILE of this job: for one of NVIDIA's names or a URL, the file downloaded for it (a URL's hash is
    in its name); for a path, the same file, or the same file name where the recorded one is gone (moved with the
    job's files). Two files of one name and size are not taken for each other: a sweep's snapshots share both."""
    if start is None or theirs is None:
        return start == theirs
    if not isinstance(theirs, str):
        return False
    cached = cached_file_name(start)
    if cached is not None:
        return Path(theirs).name == cached
    ours = os.path.abspath(os.path.expanduser(start))
    if not os.path.exists(theirs):
        return Path(ours).name == Path(theirs).name
    return same_place(ours, theirs)


def _fallback_file(spec: str) -> str:
    """The file `--resume auto:FILE` starts from, fetched only now that the run has no snapshot (NVIDIA's network
    names and URLs are downloaded into the cache dir once)."""
    try:
        return str(network_file(spec))
    except DownloadError as err:
        raise TrainingError(f"--resume auto:{spec}: {err}, or pass the file's path") from None


def read_resume(path: str, options: TrainingOptions, data: bytes | None = None) -> ResumeFile:
    """Read the --resume file `path` (from `data`, where rank 0 sent its bytes). Under --resume auto a run already
    at --kimg raises RunFinished: a requeued job that is done ends before any other work."""
    try:
        networks, state, notes = _read_resume(path, data)
    except CheckpointError as err:
        raise _with_advice(err, path, options) from None
    if auto_resume(options.resume)[0]:
        check_run_unfinished(path, state, options.kimg, auto=True)
    return ResumeFile(path, networks, state, notes)


def _read_resume(path: str, data: bytes | None) -> tuple[dict[str, torch.nn.Module], ResumeState | None, list[str]]:
    """read_resume_state of rank 0's file: the file itself, or a copy of `data`, the bytes rank 0 sent."""
    if data is None:
        return read_resume_state(path, check_extras=check_resume_extras)
    with tempfile.TemporaryDirectory(prefix="stylegan2-resume-") as tmp:
        copy_path = Path(tmp) / Path(path).name  # the suffix tells the format
        copy_path.write_bytes(data)
        try:
            return read_resume_state(copy_path, check_extras=check_resume_extras)
        except (CheckpointError, TrainingError) as err:  # named as the user named it, not by the copy's path
            raise type(err)(str(err).replace(str(copy_path), path)) from None


def _with_advice(err: CheckpointError, path: str, options: TrainingOptions) -> CheckpointError:
    """A resume file that cannot be read; when `--resume auto` found it in a run directory, how to go on (a damaged
    newest snapshot would stop every requeue of the job)."""
    if not auto_resume(options.resume)[0] or Path(path).parent.parent != Path(options.outdir).expanduser():
        return err
    return CheckpointError(f"{err}; move it out of the run directory, and --resume auto continues from the snapshot "
                           "before it")


def check_resume_extras(extras: dict[str, Any]) -> None:
    """StyleGAN2's own resume fields, the path-length mean, the ADA state, the k-means clusters and each process's own
    path-length mean and w_avg; ValueError says what is wrong."""
    pl_mean = extras.get("pl_mean", 0.0)
    if not finite_number(pl_mean):
        raise ValueError(f"pl_mean is {pl_mean!r}, not a finite number")
    check_augment_state(extras.get("augment", {}))
    threads = extras.get("threads", 1)
    if not (isinstance(threads, int) and not isinstance(threads, bool) and threads >= 1):
        raise ValueError(f"threads is {threads!r}, not a positive whole number")
    own = extras.get("per_process", {"pl_mean": [], "w_avg": []})
    means, w_avgs = (own.get("pl_mean"), own.get("w_avg")) if isinstance(own, dict) else (None, None)
    if not (isinstance(means, list) and isinstance(w_avgs, list) and len(means) == len(w_avgs)
            and all(finite_number(m) for m in means)
            and all(isinstance(w, list) and len(w) == len(w_avgs[0]) and all(finite_number(x) for x in w) for w in w_avgs)):
        raise ValueError("per_process holds no path-length means and w_avg vectors of one length, one per process")
    clusters = extras.get("clusters", {})
    k, labels = (clusters.get("k", 0), clusters.get("labels", [])) if isinstance(clusters, dict) else (None, None)
    if not (isinstance(k, int) and isinstance(clusters.get("identity", ""), str) and isinstance(labels, list)
            and all(isinstance(x, int) and 0 <= x < k for x in labels)):
        raise ValueError("clusters holds no k-means labels (k, identity, labels of 0..k-1)")


def resume_from(
    file: ResumeFile, options: TrainingOptions, dataset: ImageDataset, c_dim: int, world_size: int, *,
    c_prior: list[float] | None = None, build: bool = True,
) -> tuple[TrainingOptions, list[str], tuple[Generator, Discriminator, Generator | None] | None]:
    """The options a run trains with from its --resume file, with notes (the file's first), once the checks that
    refuse a file the run cannot start from have passed; with `build`, also G, D and G_ema rebuilt from the file.
    On clusters (`c_prior`, their shares), a continued run refuses a network trained on other clusters, and fine-tuning
    trains the network's classes on this dataset's clusters. --dry-run leaves the networks out: it does not cluster."""
    options, checked = _check_file_fits_run(file, options, dataset, c_dim, world_size)
    networks = None
    if build:
        transfer = file.state is None and c_prior is not None
        networks = networks_from_checkpoint(file.networks, options, c_dim, dataset.resolution, dataset.num_channels,
                                            dataset.aspect, c_prior=c_prior if transfer else None)
        if transfer:
            checked += _clusters_for_transfer(file.networks, c_prior)
        else:
            _check_clusters(networks[0], c_prior, file.path)
    options, kept = _options_from_file(file, options)
    return options, file.notes + checked + kept, networks


def _check_file_fits_run(file: ResumeFile, options: TrainingOptions, dataset: ImageDataset, c_dim: int,
                         world_size: int) -> tuple[TrainingOptions, list[str]]:
    """What a run refuses of its --resume file before building networks from it: networks that do not fit the
    dataset or options, and a run that cannot be continued as this one. The options to train with (a continued run
    keeps its frozen D layers) and notes on what differs."""
    state = file.state
    options, notes = _resume_freezed(file.networks, options, file.path, continuing=state is not None)
    check_networks_fit(file.networks, options, c_dim, dataset.resolution, dataset.num_channels, file.path,
                       dataset.aspect, state.options if state else None, dataset if options.cond else None)
    if state is not None:
        notes += _check_continuation(file.path, state, options, world_size)
        try:
            check_run_unfinished(file.path, state, options.kimg)
        except TrainingError as err:
            advice = _fine_tune_advice(file.path)
            raise TrainingError(f"{err}; or, to fine-tune its networks from kimg 0 instead, {advice}") from None
    return options, notes


def _fine_tune_advice(path: str) -> str:
    """How to fine-tune a snapshot's networks (a new schedule from kimg 0, fresh optimizers, the fine-tuning
    adjustments) rather than continue its run: a copy without the training state."""
    name = Path(path).name
    snapshot = name.startswith("network-snapshot-")
    weights = name.replace("network-snapshot-", "weights-", 1) if snapshot else f"{Path(path).stem}-weights.safetensors"
    return f"convert it with `stylegan2 convert {path} {weights} --weights-only` and --resume {weights}"


def _resume_freezed(loaded: dict[str, torch.nn.Module], options: TrainingOptions, path: str,
                    continuing: bool) -> tuple[TrainingOptions, list[str]]:
    """--freezed against the file's frozen D layers. A continued run keeps them (its D optimizer state holds only the
    layers that trained): a different --freezed given (0 too) is refused, none keeps the file's. Fine-tuning applies
    --freezed. A --freezed above the layers D can freeze gets a note."""
    theirs = frozen_layers(loaded["D"].init_kwargs) if "D" in loaded else 0
    notes = []
    if theirs != options.freezed and continuing:
        if options.freezed or "freezed" in options.given:
            raise TrainingError(f"--resume {path}: its run froze the first {theirs} layers of D (--freezed {theirs}) but "
                                f"this one would freeze {options.freezed}; pass --freezed {theirs} to continue it")
        options = dataclasses.replace(options, freezed=theirs)
        notes.append(f"D's first {theirs} layers stay frozen, as its run trained (--freezed {theirs})")
    elif theirs != options.freezed and theirs:
        notes.append(f"the file's D had its first {theirs} layers frozen; this run freezes {options.freezed} (--freezed)")
    if "D" in loaded and options.freezed > (layers := freezable_layers(loaded["D"])):
        notes.append(all_frozen_note(options.freezed, layers))
    return options, notes


def _check_continuation(path: str, state: ResumeState, options: TrainingOptions, world_size: int) -> list[str]:
    """Refuse to continue a run with another global batch; notes on what else differs from its run (the process
    count, --precision, --batch-gpu, --aug, the data)."""
    saved = state.options
    if isinstance(saved.get("batch"), int) and saved["batch"] != options.batch:
        raise TrainingError(f"--resume {path}: its run trained with a global batch of {saved['batch']} (--batch, over all"
                            f" processes) but this one would use {options.batch}; pass --batch {saved['batch']} to continue it")
    notes = []
    if isinstance(saved.get("num_gpus"), int) and saved["num_gpus"] != world_size:
        notes.append(f"its run had {_processes(saved['num_gpus'])}, this one has {world_size}; the global batch is kept")
    saved_precision = saved.get("precision")
    if saved_precision is None and isinstance(saved.get("fp32"), bool):  # runs saved before --precision recorded --fp32
        saved_precision = "fp32" if saved["fp32"] else "fp16"
    if isinstance(saved_precision, str) and saved_precision != options.precision:
        notes.append(f"its run trained with --precision {saved_precision}, this one with --precision {options.precision}")
    if isinstance(saved.get("batch_gpu"), int) and saved["batch_gpu"] != options.batch_gpu:
        notes.append(f"--batch-gpu was {saved['batch_gpu']}, now {options.batch_gpu}: the steps draw other latents and noise")
    if isinstance(saved.get("aug"), str) and saved["aug"] != options.aug:
        notes.append(f"its run trained with --aug {saved['aug']}, this one with --aug {options.aug}; pass --aug {saved['aug']} to keep it")
    if isinstance(saved.get("data"), str) and not same_file(options.data, saved["data"]):
        notes.append(f"its run trained on {saved['data']}: this continues that run (its {state.cur_nimg / 1000:g} kimg, "
                     f"optimizer state and ADA p); to fine-tune on {options.data} from kimg 0 instead, "
                     f"{_fine_tune_advice(path)}")
    return notes


def _processes(count: int) -> str:
    return f"{count} process" if count == 1 else f"{count} processes"


def _options_from_file(file: ResumeFile, options: TrainingOptions) -> tuple[TrainingOptions, list[str]]:
    """The options a resume trains with: the file's architecture and mapping multiplier; when it starts from weights
    only, the official fine-tuning adjustments and the file as the network the run started from; when it continues a
    run, that run's start and settings (`_keep_run_settings`); with notes where the options said otherwise."""
    G = file.networks.get("G") or file.networks["G_ema"]
    options, notes = keep_file_architecture(options, G, file.networks.get("D"))
    if "D" not in file.networks:
        notes.append("the file holds no discriminator: D starts from random weights, as wide as the file's G")
    file_lrmul = (G.init_kwargs.get("mapping_kwargs") or {}).get("lr_multiplier", MAPPING_LR_MULTIPLIER)
    if file_lrmul != options.map_lrmul:  # the weights are stored divided by it: another one would change G
        notes.append(f"the mapping layers keep the file's learning-rate multiplier {file_lrmul:g} "
                     f"(--map-lrmul {options.map_lrmul:g} is for new networks)")
        options = dataclasses.replace(options, map_lrmul=file_lrmul)
    if file.state is None:
        options = dataclasses.replace(for_transfer_learning(options), started_from=os.path.abspath(file.path))
        notes.append(_fine_tuning_note(options))
    else:
        options = dataclasses.replace(options, started_from=_recorded_start(file.state.options))
        options, kept = _keep_run_settings(options, file.state.options)
        options, files = _keep_metric_files(options, file.state.options)
        notes += kept + files
    return options, notes


# The settings a continued run keeps from its snapshot's options unless given (a fine-tune's adjustments among them),
# each with the check that a recorded value is one.
RUN_SETTINGS = {"ada_kimg": lambda value: finite_number(value) and value > 0,
                "ema_rampup": lambda value: value is None or (finite_number(value) and value >= 0)}


def _keep_run_settings(options: TrainingOptions, saved: dict[str, Any]) -> tuple[TrainingOptions, list[str]]:
    """A continued run trains with the ADA speed and EMA ramp-up its snapshot recorded, so that it goes on as the run
    would have (exactly, as resumes do), with a line naming those that differ from this run's options; one given
    otherwise (`options.given`) is used, with a note."""
    kept, notes = {}, []
    for name, valid in RUN_SETTINGS.items():
        if name not in saved or not valid(saved[name]) or saved[name] == getattr(options, name):
            continue
        if name in options.given:
            notes.append(f"its run trained with {_setting(name, saved[name])}, this one with "
                         f"{_setting(name, getattr(options, name))} as given; leave it out to keep its run's")
        else:
            kept[name] = saved[name]
    if kept:
        options = dataclasses.replace(options, **kept)
        said = [_setting(name, value) for name, value in kept.items() if name != "ada_kimg" or options.aug == "ada"]
        notes += [f"as its run trained: {', '.join(said)}"] if said else []
    return options, notes


def _keep_metric_files(options: TrainingOptions, saved: dict[str, Any]) -> tuple[TrainingOptions, list[str]]:
    """A continued run scores its snapshots with the files its run's metrics read (--detector, --vgg, --cache-dir,
    as its snapshot recorded them) where none is given, so that its metric records stay comparable. All are kept, so
    that its training_options.json hands them on to a later continuation that computes metrics; a note names those
    that this run's metrics read (`metric_files_read`), and one of them that is no longer there (the metrics then fail, and
    training goes on, until it is given)."""
    kept = {name: saved[name] for name in METRIC_FILES
            if name not in options.given and isinstance(saved.get(name), str) and saved[name] != getattr(options, name)}
    options = dataclasses.replace(options, **kept)
    files_read = metric_files_read([parse_metric(name) for name in options.metrics], vgg_given=options.vgg is not None)
    read = {name: value for name, value in kept.items() if name in files_read}
    if not read:
        return options, []
    notes = [f"metrics as its run scored them: {', '.join(f'{METRIC_FILES[name]} {value}' for name, value in read.items())}"]
    notes += [f"{METRIC_FILES[name]} {value}, which its run's metrics read, is not found: pass {METRIC_FILES[name]} "
              "with the one to use" for name, value in read.items() if not os.path.exists(value)]
    return options, notes


def _setting(name: str, value: Any) -> str:
    """A RUN_SETTINGS value in words, with its option: 'ADA speed 100 kimg (--ada-kimg 100)'."""
    if name == "ada_kimg":
        return f"ADA speed {value:g} kimg (--ada-kimg {value:g})"
    return "EMA without ramp-up" if value is None else f"EMA ramp-up {value:g} (ema_rampup)"


def _fine_tuning_note(options: TrainingOptions) -> str:
    """The run's line on NVIDIA's fine-tuning adjustments (`for_transfer_learning`) as they apply to it."""
    said = []
    if options.aug == "ada":
        said.append(_setting("ada_kimg", options.ada_kimg) + (" as given" if "ada_kimg" in options.given else ""))
    said.append(_setting("ema_rampup", options.ema_rampup) + (" as given" if "ema_rampup" in options.given else ""))
    return f"fine-tuning: {', '.join(said)}"


def check_resume(options: TrainingOptions, dataset: ImageDataset) -> tuple[TrainingOptions, list[str]]:
    """Read the --resume file (--resume auto: the snapshot it finds) and make the run's checks of it (`resume_from`)
    against the opened dataset, without training: what --dry-run adds. Returns the options the run would train with
    and its notes on them. A run on clusters is checked for their number only (which clusters the file was trained on
    needs the k-means that the run does)."""
    path, notes = options.resume, []
    auto, fallback = auto_resume(path)
    if auto:
        found, notes = _auto_resume(options, dataset.name)
        if found is None and fallback is None:
            return options, [*notes, "no snapshot to continue: a new run starts"]
        try:
            path = str(found) if found is not None else _fallback_file(fallback)
        except TrainingError as err:  # after what auto passed over, as the run says it
            raise TrainingError("\n".join([*(f"Resume auto: {note}" for note in notes), str(err)])) from None
        notes.append(f"continues {path}" if found is not None else f"no snapshot to continue: starts from {path}")
    file = read_resume(path, options)
    options = follow_file_labels(file, options, dataset)
    c_dim = options.clusters or dataset.label_dim  # the run's labels: its clusters (made when it starts) or the dataset's
    options, resumed, _ = resume_from(file, options, dataset, c_dim, options.num_gpus, build=False)
    return options, notes + resumed


def clusters_of_snapshot(dataset: ImageDataset, k: int, identity: str | None,
                         state: ResumeState | None) -> list[float] | None:
    """The resume snapshot's k-means labels, assigned to the dataset, when its run clustered these same image files
    into k clusters (the files' identity: names, sizes, times, the subset and decoder); their shares, else None."""
    kept = state.extras.get("clusters", {}) if state is not None else {}
    if identity is None or kept.get("identity") != identity or kept.get("k") != k:
        return None
    labels = np.asarray(kept["labels"], dtype=np.int64)
    if len(labels) != dataset.distinct_len:
        return None
    dataset.assign_labels(labels, k)
    return (np.bincount(labels, minlength=k) / len(labels)).tolist()


def clusters_to_keep(dataset: ImageDataset, k: int, identity: str) -> dict[str, Any]:
    """The snapshots' record of the dataset's k-means labels, which `clusters_of_snapshot` reuses on a resume."""
    return {"k": k, "identity": identity, "labels": dataset.assigned_labels().tolist()}


def _same_shares(theirs: list[float] | None, c_prior: list[float]) -> bool:
    """Whether a network's cluster shares are `c_prior` (the same clusters of the same images)."""
    return theirs is not None and np.allclose(theirs, c_prior, rtol=0, atol=1e-12)


def _check_clusters(G: Generator, c_prior: list[float] | None, path: str) -> None:
    """A run on clusters continues only from a network trained on the same clusters (their shares must match)."""
    theirs = G.mapping.c_prior
    if c_prior is None or _same_shares(theirs, c_prior):
        return
    n = len(c_prior)
    what = (f"was not trained on clusters, but this run trains on {n} k-means clusters of the dataset (--clusters {n})"
            if theirs is None else f"was trained on other clusters than the {n} k-means clusters that --clusters {n} finds in "
            "this dataset")
    raise TrainingError(f"--resume {path}: the network {what}; to continue its run, give the dataset, --clusters and "
                        f"--seed it trained with; to fine-tune it on this dataset, {_fine_tune_advice(path)}")


def _clusters_for_transfer(loaded: dict[str, torch.nn.Module], c_prior: list[float]) -> list[str]:
    """Fine-tuning on clusters: the network's classes train on this dataset's clusters, class k on cluster k, and G
    draws them with this dataset's shares (`c_prior`); a note unless they are the file's own clusters."""
    theirs = (loaded.get("G") or loaded["G_ema"]).mapping.c_prior
    if _same_shares(theirs, c_prior):
        return []
    n = len(c_prior)
    was = "the clusters of its run's images" if theirs is not None else "its class labels"
    return [f"the network's {n} classes ({was}) now train on the {n} k-means clusters of this dataset (--clusters "
            f"{n}), class k on cluster k, and G draws them with this dataset's shares"]
