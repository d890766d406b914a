"""Issue #28's criterion as a user meets it: a training command for a fixed wall-clock time, one seed after another, scored.

    python experiments/wall_clock.py --data ../shared/data/mnist/mnist.npz --seeds 1-5 --outdir runs/wall
    python experiments/wall_clock.py --data builtin:shapes --seeds 1-5 --outdir runs/wall-shapes
    python experiments/wall_clock.py --data builtin:shapes --seeds 1-3 --outdir runs/wall-shapes-old -- --clusters 0

For each seed: `stylegan2 train --data DATA --cfg cpu --seed S --snap 1 [TRAIN ARGS]` (32 px; the
arguments after `--` are added to the command) runs until --minutes of wall time have passed and
is then stopped as Ctrl-C stops it (the run finishes its step and writes a snapshot there); that
snapshot is scored with `mnist_quality.py` (an .npz of MNIST) or `shapes_quality.py`
(builtin:shapes) on --samples samples, in a process of its own after the run. The runs go one
after another, never side by side, so each has the machine to itself: run nothing else meanwhile.
Each seed's log, snapshot and score go to OUTDIR/seedS; the last lines print, per seed, the kimg
reached and the score's verdict lines.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path

from scoring import MIN_SAMPLES
from scoring.runs import snapshot_kimg

HERE = Path(__file__).resolve().parent
VERDICT_MARKERS = ("class shares", "LeNet FID", "classes covered", "shape classes", "visible shape")  # the scores' verdict lines


def parse_seeds(text: str) -> list[int]:
    """'1-5' or '1,3,7' -> the seeds (a range runs upward: '3-1' is refused, as it would run nothing)."""
    seeds = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        try:
            low, high = int(first), int(last or first)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: give seeds as 1-5 or 1,3,7") from None
        if high < low:
            raise argparse.ArgumentTypeError(f"{part!r}: a range runs upward (e.g. {high}-{low})")
        seeds += range(low, high + 1)
    return seeds


def train_command(data: str, seed: int, outdir: Path, train_args: list[str]) -> list[str]:
    """The training command of one seed's slot: the `cpu` preset at 32 px, a snapshot every tick, until stopped."""
    return ["stylegan2", "train", "--data", data, "--resolution", "32", "--cfg", "cpu", "--seed", str(seed),
            "--kimg", "100000", "--snap", "1", "--outdir", str(outdir), *train_args]


def train_for(minutes: float, command: list[str], log: Path) -> float:
    """Run `command` for `minutes` of wall time at most (SIGINT, then SIGKILL if it lingers); its seconds."""
    start = time.monotonic()
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            process.wait(timeout=minutes * 60)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return time.monotonic() - start


def is_shapes(data: str) -> bool:
    """Whether --data names builtin:shapes (scored by shape) rather than an MNIST .npz (scored by digit)."""
    return data.startswith("builtin:shapes")


def score_command(data: str, snapshot: Path, samples: int, classifier: str | None, grid: Path) -> list[str]:
    """The scoring script for the dataset: MNIST digits or builtin:shapes."""
    if is_shapes(data):
        command = [sys.executable, str(HERE / "shapes_quality.py"), "--network", str(snapshot)]
    else:
        command = [sys.executable, str(HERE / "mnist_quality.py"), "--network", str(snapshot), "--mnist", data]
    command += ["--samples", str(samples), "--grid", str(grid)]
    return command + (["--classifier", classifier] if classifier else [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="an MNIST .npz (scored by digit) or builtin:shapes")
    parser.add_argument("--seeds", type=parse_seeds, default=parse_seeds("1-5"), help="e.g. 1-5 or 1,3")
    parser.add_argument("--minutes", type=float, default=20.0, help="wall-clock time per seed")
    parser.add_argument("--outdir", type=Path, required=True)
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--classifier", help="the scoring classifier's cache (default: the scoring script's)")
    args, train_args = parser.parse_known_args()
    if train_args[:1] == ["--"]:
        train_args = train_args[1:]
    if args.minutes <= 0:
        parser.error(f"--minutes must be positive, got {args.minutes:g}")
    if args.samples < MIN_SAMPLES:  # the scoring scripts would refuse it; refused here, before any run
        parser.error(f"--samples must be at least {MIN_SAMPLES}, got {args.samples}")
    if not is_shapes(args.data) and not Path(args.data).is_file():
        parser.error(f"--data {args.data}: no such file (give an MNIST .npz or builtin:shapes)")
    if args.outdir.exists():
        sys.exit(f"--outdir {args.outdir} exists: choose a new folder (nothing is overwritten)")
    # The options passed on to training (and any of ours misspelt, which land there) are checked before the first
    # 20-minute slot: a dry run of the first seed's command.
    check = subprocess.run([*train_command(args.data, args.seeds[0], args.outdir / "check", train_args), "--dry-run"],
                           capture_output=True, text=True, check=False)
    if check.returncode != 0:
        sys.exit(f"the training command refuses its options: {check.stderr.strip().splitlines()[-1]}")

    rows = []
    for seed in args.seeds:
        run_dir = args.outdir / f"seed{seed}"
        run_dir.mkdir(parents=True)
        seconds = train_for(args.minutes, train_command(args.data, seed, run_dir / "run", train_args), run_dir / "train.log")
        snapshots = sorted(run_dir.glob("run/*/network-snapshot-*.safetensors"), key=snapshot_kimg)
        if not snapshots:
            rows.append((seed, f"no snapshot after {seconds:.0f} s: see {run_dir / 'train.log'}"))
            continue
        score = run_dir / "score.txt"
        with score.open("w") as out:
            subprocess.run(score_command(args.data, snapshots[-1], args.samples, args.classifier, run_dir / "samples.png"),
                           stdout=out, stderr=subprocess.STDOUT, check=False)
        verdict = [line for line in score.read_text().splitlines() if line.startswith(VERDICT_MARKERS)]
        rows.append((seed, f"{snapshot_kimg(snapshots[-1]):g} kimg in {seconds:.0f} s; " + " | ".join(verdict)))
        print(f"seed {seed}: {rows[-1][1]}", flush=True)

    print(f"\n{' '.join(['stylegan2', 'train', '--data', args.data, '--cfg', 'cpu', *train_args])}, {args.minutes:g} minutes per seed:")
    for seed, line in rows:
        print(f"seed {seed}: {line}")
    if all(line.startswith("no snapshot") for _, line in rows):
        sys.exit("no seed gave a snapshot: nothing was measured")


if __name__ == "__main__":
    main()
