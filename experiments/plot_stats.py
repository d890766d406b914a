"""Plot training statistics (stats.jsonl) of one or more runs against kimg, one panel per statistic.

    pip install -e ".[plot]"
    python experiments/plot_stats.py RUN_A RUN_B --label noaug --label ada \
        --stat Loss/signs/real --stat Progress/augment --target 0.6 --out curves.png

`Loss/signs/real` is E[sign(D(real))] averaged over each tick: the r_t that ADA steers (measured
in every --aug mode, so a run without augmentation shows how far D overfits). `--target` draws
ADA's target as a dashed line in that panel. `Metrics/<result>` (Metrics/fid50k_full) plots the
scores of the run's metric-*.jsonl at their snapshots' kimg. A run continued with --resume writes a
new run directory: join the two with a comma (RUN,RESUMED_RUN) to plot them as one curve.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from scoring import new_png
from scoring.runs import pyplot, read_series, save_panels, stat_names

TITLES = {
    "Loss/signs/real": "r_t = E[sign(D(real))]",
    "Progress/augment": "augmentation probability p",
    "Loss/G/loss": "G loss",
    "Loss/D/loss": "D loss",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="run directories holding stats.jsonl (RUN,RESUMED_RUN for one curve)")
    parser.add_argument("--label", action="append", help="legend label per run (default: directory name)")
    parser.add_argument("--stat", action="append", help="statistic to plot (repeatable)")
    parser.add_argument("--target", type=float, help="ADA target, drawn in the Loss/signs/real panel")
    parser.add_argument("--out", required=True, type=new_png, help="PNG to write")
    args = parser.parse_args()
    stats = args.stat or ["Loss/signs/real", "Progress/augment"]
    labels = args.label or [Path(run.split(",")[-1]).name for run in args.runs]
    if len(labels) != len(args.runs):
        raise SystemExit(f"--label given {len(labels)} times for {len(args.runs)} runs; give one per run or none")
    series = {(run, stat): read_series(run, stat) for run in args.runs for stat in stats}  # every run checked first
    for stat in args.stat or []:
        if not any(series[run, stat][0] for run in args.runs):  # a typo would plot an empty panel
            held = sorted(set().union(*map(stat_names, args.runs)))
            raise SystemExit(f"--stat {stat}: no run here holds it; they hold {', '.join(held)}")
    plt = pyplot()

    fig, axes = plt.subplots(1, len(stats), figsize=(4.5 * len(stats), 3.2), squeeze=False)
    for ax, stat in zip(axes[0], stats):
        for run, label in zip(args.runs, labels):
            kimg, values = series[run, stat]
            ax.plot(kimg, values, label=label)
        if args.target is not None and stat == "Loss/signs/real":
            ax.axhline(args.target, color="gray", linestyle="--", linewidth=1, label=f"target {args.target}")
        ax.set_title(TITLES.get(stat, stat))
    save_panels(fig, axes[0], args.out)


if __name__ == "__main__":
    main()
