"""What a metric is: its spec (parsed from its name) and its kind, one entry of the table `evaluate.METRIC_KINDS`.

A kind (FID, KID, precision/recall, IS, PPL) says how the names of its metrics read, which feature network and data
it needs, and which function scores it; parsing, loading the networks and scoring all read it from there, so a new
metric is one MetricKind and its function (docs/contributing.md, "Adding a metric").
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from torch import nn
from torch.utils.data import Dataset

from ..utils.errors import OptionError
from .detectors import FeatureDetector
from .features import PassOptions
from .ppl import PPLConfig


@dataclass(frozen=True)
class MetricSpec:
    """One metric: its kind, how many generated samples and real images, and kind-specific settings."""

    name: str
    kind: str                    # the name of its MetricKind: 'fid', 'kid', 'pr', 'is' or 'ppl'
    num_gen: int
    max_real: int | None = None  # None: every real image
    full: bool = False           # official '_full': the whole dataset, never mirrored
    nhood_size: int = 3          # precision/recall neighbourhood
    ppl: PPLConfig | None = None


class Network(enum.Enum):
    """The feature network a kind of metric scores with."""

    DETECTOR = "the detector's features"                 # --detector, the FID Inception by default
    CLASSIFIER = "the detector's class probabilities"    # the Inception's: a custom detector has none
    VGG16 = "NVIDIA's VGG16 LPIPS"                       # --vgg; required
    VGG16_OR_DETECTOR = "VGG16 features, else the detector's"  # NVIDIA's precision/recall embedding when given

    def uses_vgg16(self, vgg_given: bool) -> bool:
        """Whether a metric of this kind scores with the VGG16 (else with the detector)."""
        return self is Network.VGG16 or (self is Network.VGG16_OR_DETECTOR and vgg_given)


# score(spec, G, dataset, network, opts, cache_dir, truncation_psi) -> the record's results; `network` is the feature
# network of the kind's Network, `dataset` None where the metric reads none (see evaluate.reads_data).
Score = Callable[[MetricSpec, nn.Module, Dataset | None, FeatureDetector, PassOptions, Path | None, float], dict[str, float]]


def no_sample_reasons(spec: MetricSpec, num_real: int, feature_dim: int) -> list[str]:
    """No reason of a kind's own why a score from this many real images is not the published metric."""
    return []


@dataclass(frozen=True)
class MetricKind:
    """One kind of metric: the names of its metrics, what it needs and the function that scores it."""

    name: str                                           # MetricSpec.kind of its metrics
    pattern: re.Pattern[str]                            # the whole name of each of its metrics
    parse: Callable[[str, re.Match[str]], MetricSpec]  # (kind name, matched name) -> its spec
    network: Network
    reads_real_images: bool                             # else it reads a dataset only for a conditional G's labels
    score: Score
    example: str                                        # a name of one of its metrics beyond the official ones
    truncated: bool = True                              # whether --trunc applies; PPL is defined without it
    # why a score from (spec, real images, feature dimensions) is not the published metric, beyond too few images
    sample_reasons: Callable[[MetricSpec, int, int], list[str]] = no_sample_reasons

    def match(self, name: str) -> MetricSpec | None:
        """The spec of `name` when it names a metric of this kind, else None."""
        found = self.pattern.fullmatch(name)
        return None if found is None else self.parse(self.name, found)


def sampled_spec(kind: str, match: re.Match[str], *, full_max_real: int | None) -> MetricSpec:
    """A metric named by thousands of generated images (`fid50k`), `_full` to read up to `full_max_real` unmirrored
    real images (None: all) rather than as many as it generates, and for precision/recall its neighbourhood size."""
    num_gen = int(match["k"]) * 1000
    if num_gen == 0:
        raise OptionError(f"metric {match.string!r} generates no images")
    full = match["full"] is not None
    nhood = match.groupdict().get("nhood")
    return MetricSpec(name=match.string, kind=kind, num_gen=num_gen, max_real=full_max_real if full else num_gen,
                      full=full, nhood_size=int(nhood or 3))


def generated_only_spec(kind: str, match: re.Match[str]) -> MetricSpec:
    """A metric of generated images only (`is50k`): it reads no real images, so none are mirrored."""
    num_gen = int(match["k"]) * 1000
    if num_gen == 0:
        raise OptionError(f"metric {match.string!r} generates no images")
    return MetricSpec(name=match.string, kind=kind, num_gen=num_gen, full=True)


def path_length_spec(kind: str, match: re.Match[str]) -> MetricSpec:
    """A PPL metric (`ppl2_wend`): its latent space and sampling, the face crop unless it is a `ppl2_` one; 50k paths."""
    cfg = PPLConfig(space=match["space"], sampling=match["sampling"], crop=match["two"] is None)
    return MetricSpec(name=match.string, kind=kind, num_gen=50000, ppl=cfg)
