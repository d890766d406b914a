"""Run directories: `OUTDIR/NNNNN-<desc>/`, numbered so that a new run never reuses an old one, and named after the
dataset, --cfg and the options given, as NVIDIA's train.py names them."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..io.detect import newest_snapshot
from ..io.pretrained import NVIDIA_NETWORKS
from ..utils.files import folder_blocker, remove_stale_temps

if TYPE_CHECKING:
    from .config import TrainingOptions

# The options a run's name carries where they were given (TrainingOptions.given), each as (option, its word in the
# name; '' for a value alone), in NVIDIA's train.py order and spelling: the dataset's before --cfg, the others after
# it, then ours. Options that change how fast a run goes or what it writes, not what it trains (--snap, --metrics,
# --workers, --precision, --batch-gpu, ...), stay out, as NVIDIA's do.
DATA_PARTS = (("cond", "cond"), ("max_size", "subset"), ("mirror", "mirror"))
OPTION_PARTS = (("gamma", "gamma"), ("kimg", "kimg"), ("batch", "batch"), ("aug", ""), ("p", "p"), ("target", "target"),
                ("augpipe", ""), ("resume", "resume"), ("freezed", "freezed"),
                ("seed", "seed"), ("resolution", "resolution"), ("loss", "loss"), ("glr", "glr"), ("dlr", "dlr"),
                ("ema_kimg", "emakimg"), ("ada_kimg", "adakimg"), ("map", "map"), ("map_lrmul", "maplrmul"),
                ("cbase", "cbase"), ("cmax", "cmax"), ("mbstd", "mbstd"), ("pack", "pack"),
                ("pack_by_class", "packbyclass"), ("clusters", "clusters"))
MAX_DESC_LENGTH = 200  # characters of a run's name after its number; options that would pass it are left out


def _safe(desc: str) -> str:
    """A run description as it appears in a directory name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", desc)


def run_desc(data_name: str, options: TrainingOptions) -> str:
    """The run directory's name after its number: the dataset's name, the dataset options given, --cfg, then the
    other options given (`00003-mydata-mirror-auto-gamma10-kimg1000-ada-target0.7`), as NVIDIA's train.py names
    runs (without its GPU count after `auto`); at most MAX_DESC_LENGTH characters."""
    desc = "-".join([data_name, *_parts(DATA_PARTS, options), options.cfg])
    for part in _parts(OPTION_PARTS, options):
        if len(desc) + 1 + len(part) <= MAX_DESC_LENGTH:
            desc += f"-{part}"
    return desc


def _parts(parts: tuple[tuple[str, str], ...], options: TrainingOptions) -> list[str]:
    """The name's parts for the options of `parts` that were given: '-mirror' for a switch that is on, '-gamma10'."""
    named = []
    for option, word in parts:
        if option not in options.given:
            continue
        value = getattr(options, option)
        if option == "resume":
            value = _resume_name(value)
        if isinstance(value, bool):
            named += [word] if value else []
        elif value is not None:
            named.append(f"{word}{_value(value)}")
    return named


def _value(value: Any) -> str:
    """An option's value as a name shows it: 0.7, 10, 1e-05, ada."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _resume_name(resume: str) -> str | None:
    """--resume in a run's name, as NVIDIA's: the name of one of their networks, else 'custom'; None for 'auto',
    which continues this run (or starts one from new weights) and so names no network; auto:FILE as FILE."""
    if resume == "auto":
        return None
    spec = resume.removeprefix("auto:")
    if spec in NVIDIA_NETWORKS:
        return spec
    downloaded = {file.rpartition("/")[2]: name for name, file in NVIDIA_NETWORKS.items()}  # --resume ffhq256 arrives as its file
    return downloaded.get(Path(spec).name, "custom")


def run_kind(data_name: str, cfg: str) -> re.Pattern[str]:
    """The names (after the number) of the runs of a dataset and --cfg, whatever options they were given: what
    `--resume auto` looks through (and then compares their recorded options). Older versions named runs
    `<data>-<cfg>` alone; those match too."""
    data_parts = "".join(f"(-{re.escape(word)}{'' if option in ('cond', 'mirror') else r'[0-9]+'})?"
                         for option, word in DATA_PARTS)
    return re.compile(f"{re.escape(_safe(data_name))}{data_parts}-{re.escape(_safe(cfg))}(-.+)?")


def check_outdir_outside_data(outdir: str | Path, data: str) -> None:
    """Refuse an --outdir inside a --data folder: the runs' grids and snapshots would become training images."""
    folder = Path(data).expanduser()
    if not folder.is_dir():
        return
    if Path(os.path.realpath(Path(outdir).expanduser())).is_relative_to(os.path.realpath(folder)):
        raise ValueError(f"--outdir {outdir} is inside the --data folder {data}: the runs' image grids would become "
                         "training images; choose an --outdir outside it")


def check_outdir_creatable(outdir: str | Path) -> None:
    """Refuse an --outdir where no run directory can be made (a file on the way, a folder without write
    permission) before the work that comes first (opening and clustering the data); create_run_dir still
    reports what this cannot foresee."""
    blocker = folder_blocker(Path(outdir).expanduser())
    if blocker is not None:
        raise ValueError(f"--outdir {outdir}: cannot create a run directory there ({blocker}); choose another --outdir")


def create_run_dir(outdir: str | Path, desc: str) -> Path:
    """Create and return the next free `NNNNN-desc` directory under `outdir`.

    The number is one more than the largest existing one; `mkdir` without exist_ok means two
    runs started at the same moment cannot share a directory either. Temporaries that killed
    runs left in earlier run directories (half-written snapshots) are removed first.
    """
    check_outdir_creatable(outdir)
    outdir = Path(outdir).expanduser()
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        for name in os.listdir(outdir):
            if re.match(r"^\d+-", name) and (outdir / name).is_dir():
                remove_stale_temps(outdir / name)
        safe_desc = _safe(desc)
        while True:
            numbers = [int(m.group(1)) for name in os.listdir(outdir) if (m := re.match(r"^(\d+)-", name))]
            run_dir = outdir / f"{max(numbers, default=-1) + 1:05d}-{safe_desc}"
            try:
                run_dir.mkdir()
                return run_dir
            except FileExistsError:
                continue
    except OSError as err:  # read-only, no permission, a file on the way, ...
        raise ValueError(f"--outdir {outdir}: cannot create a run directory there ({err.strerror or err}); "
                         "choose another --outdir") from None


def latest_snapshot(outdir: str | Path, kind: str | re.Pattern[str],
                    differs: Callable[[Path], str] = lambda run_dir: "") -> tuple[Path | None, list[str]]:
    """The newest snapshot of the newest `NNNNN-<kind>` run under `outdir` that has one (None if none does), passing
    over runs for which `differs(run_dir)` says how they differ from this one; and a line per run passed over.
    `kind` is a run's name after its number, or a pattern of such names (`run_kind`).

    This is what `--resume auto` continues: a run restarted after a failure (by hand or by torchrun
    --max-restarts) finds the last snapshot of the run it replaces, itself a run directory of its own.
    Snapshots are written atomically, so every one found here is complete.
    """
    outdir = Path(outdir).expanduser()
    passed_over: list[str] = []
    if not outdir.is_dir():
        return None, passed_over
    pattern = kind if isinstance(kind, re.Pattern) else re.compile(re.escape(_safe(kind)))
    runs = sorted((int(m.group(1)), outdir / name) for name in os.listdir(outdir)
                  if (m := re.fullmatch(r"(\d+)-(.+)", name)) and pattern.fullmatch(m.group(2)) and (outdir / name).is_dir())
    for _, run_dir in reversed(runs):
        newest = newest_snapshot(run_dir, suffixes=("safetensors",))  # our snapshots only: the ones a run continues from
        if newest is None:
            continue
        difference = differs(run_dir)
        if difference:
            passed_over.append(f"{run_dir.name}: {difference}")
            continue
        return newest, passed_over
    return None, passed_over
