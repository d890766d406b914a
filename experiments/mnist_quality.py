"""Do a generator's MNIST digits look like digits, of all ten classes? A classifier decides.

    python experiments/mnist_quality.py --network RUN/network-snapshot-....safetensors \
        --mnist ../shared/data/mnist/mnist.npz [--samples 1000] [--grid out.png]

Trains a small LeNet-style classifier on the MNIST training set once (about a minute on two
cores; cached next to --classifier), classifies `--samples` images from G_ema (seeds 0..N-1,
noise_mode const), and prints the class histogram, the number of classes covered (at least
half their fair share, i.e. 5% of the samples), the mean classifier confidence, and a diversity
ratio: the mean pairwise pixel distance between samples over that between real test digits
(a collapsed generator scores far below 1). A class-conditional G is asked for each digit in turn;
it also gets the share of samples read as the requested digit and a within-digit diversity (the
same ratio among the samples of one requested digit and real digits of that class, averaged
over the ten), which shows a generator that draws every digit but each in only one way.

Two more numbers follow a run over time. LeNet FID: the Frechet distance between the
classifier's 128-d penultimate features of the samples and of as many real test digits (a fixed
shuffle of MNIST's test set, whose first half holds the neater writers); it rises as samples get
worse or less varied. It is biased upwards at small sample counts, so compare runs only at equal
--samples: real digits against other real digits score 6.3 at 1,000, 2.8 at 2,000, 1.6 at 5,000.
Memorization: the mean distance from each sample to its nearest image of the run's own training
set (read from training_options.json next to the snapshot) over the mean distance to its nearest
held-out digit among equally many (both pools cut to at most the test set's 10,000); about 1 for
a generator that draws new digits, well below 1 for one that copies its training images.
`--real` scores real test digits instead (confidence 0.98, 10/10 classes, diversity 1.04: the
diversity reference is the first 500 test digits).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from scoring import MIN_SAMPLES, MNIST_CLASSIFIER, MNIST_FILE, SNAPSHOT_FILE, classifier_help, new_png, require_file
from scoring.mnist import MnistScorer, report, training_images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", help="a snapshot (.safetensors) to score")
    parser.add_argument("--mnist", required=True, help=MNIST_FILE)
    parser.add_argument("--samples", type=int, default=1000, help="images of G to score (default %(default)s)")
    parser.add_argument("--classifier", default=MNIST_CLASSIFIER, help=classifier_help(MNIST_CLASSIFIER))
    parser.add_argument("--grid", type=new_png, help="also save a 10x10 grid of the first 100 samples here")
    parser.add_argument("--real", action="store_true", help="score real test digits instead (calibration)")
    parser.add_argument("--truncation-psi", type=float, default=1.0, help="sample with this truncation (default %(default)s: none)")
    args = parser.parse_args()
    if not args.real and not args.network:
        parser.error("give --network SNAPSHOT, or --real to score real test digits")
    if args.samples < MIN_SAMPLES:
        parser.error(f"--samples must be at least {MIN_SAMPLES} (the LeNet FID needs two), got {args.samples}")
    require_file(parser, "--mnist", args.mnist, MNIST_FILE)
    if args.network and not args.real:
        require_file(parser, "--network", args.network, SNAPSHOT_FILE)

    from stylegan2.io import load_network
    from stylegan2.utils.image import make_grid, save_image, to_uint8

    scorer = MnistScorer(args.mnist, args.classifier, args.samples)
    if args.real:
        images, requested, train = scorer.shuffled[-args.samples:], None, None
    else:
        nets = load_network(args.network)
        images, requested = scorer.generate(nets.get("G_ema") or nets["G"], args.truncation_psi)
        train = training_images(Path(args.network))
    print(report(scorer.score(images, requested, train)))
    if not args.real and train is None:
        print("memorization: skipped (no training_options.json with readable training data next to the snapshot)")
    if args.grid:
        order = torch.arange(100).view(10, 10).t().reshape(-1) if requested is not None else torch.arange(100)
        save_image(make_grid(to_uint8(images[:100][order]).numpy(), 10, 10), args.grid)


if __name__ == "__main__":
    main()
