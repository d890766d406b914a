"""The table of metric kinds: every name is parsed through it, and a kind added to it is parsed, given its networks
and data, and scored with no other change (docs/contributing.md, "Adding a metric")."""

import functools
import re

import pytest

from stylegan2.metrics import LEGACY_METRICS, PRIMARY_METRICS, compute_metric, evaluate, parse_metric
from stylegan2.metrics.calc import needed_networks
from stylegan2.metrics.kinds import MetricKind, Network, sampled_spec

pytestmark = pytest.mark.filterwarnings("ignore:\\S+. only \\d+ real images:UserWarning",
                                        "ignore:\\S+. computed with pooled:UserWarning")


def test_every_official_name_is_a_metric_of_a_kind_in_the_table():
    for name in PRIMARY_METRICS + LEGACY_METRICS:
        assert evaluate.METRIC_KINDS[parse_metric(name).kind].name == parse_metric(name).kind


def real_and_generated_counts(spec, G, dataset, detector, opts, cache_dir, truncation_psi):
    """A metric for the test: what it was given to score."""
    return {f"{spec.name}_real": float(len(dataset)), f"{spec.name}_generated": float(spec.num_gen),
            f"{spec.name}_detector": float(detector is not None)}


COUNTS = MetricKind(name="counts", pattern=re.compile(r"counts(?P<k>\d+)k(?P<full>_full)?"),
                    parse=functools.partial(sampled_spec, full_max_real=None), network=Network.DETECTOR,
                    reads_real_images=True, score=real_and_generated_counts, example="counts10k")


def test_a_kind_added_to_the_table_is_parsed_loaded_and_scored(monkeypatch, tiny_G, shapes, small_detector):
    monkeypatch.setitem(evaluate.METRIC_KINDS, "counts", COUNTS)
    spec = parse_metric("counts2k_full")
    assert (spec.kind, spec.num_gen, spec.max_real, spec.full) == ("counts", 2000, None, True)
    assert needed_networks([spec], vgg_given=True) == (True, False)  # its detector, not the VGG16
    record = compute_metric(spec, tiny_G, shapes, detector=small_detector, progress=False)
    assert record["results"] == {"counts2k_full_real": len(shapes), "counts2k_full_generated": 2000,
                                 "counts2k_full_detector": 1}
    assert record["real_images"] == len(shapes)


def test_the_unknown_metric_error_offers_every_kind_in_the_table(monkeypatch):
    monkeypatch.setitem(evaluate.METRIC_KINDS, "counts", COUNTS)
    with pytest.raises(ValueError, match="unknown metric 'fidd'") as error:
        parse_metric("fidd")
    for kind in evaluate.METRIC_KINDS.values():
        assert kind.example in str(error.value)
        assert parse_metric(kind.example).kind == kind.name  # each example is a name of its kind
