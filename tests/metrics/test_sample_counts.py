"""Too few real images: refused where a formula cannot use them, noted where the score is not the published metric."""

import dataclasses
import warnings

import numpy as np
import pytest
import torch

from stylegan2.data import open_dataset
from stylegan2.metrics import compute_metric, evaluate, frechet_distance, parse_metric
from stylegan2.metrics.evaluate import sample_count_note
from stylegan2.metrics.features import PassOptions, fake_stats, real_stats

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:DeprecationWarning")


def small(name: str, num_gen: int):
    return dataclasses.replace(parse_metric(name), num_gen=num_gen)


def run(name: str, G, data, detector, tmp_path, num_gen: int = 8) -> tuple[dict, list[str]]:
    """The metric's record and the sample-count notes it gave (not the test detector's own, test_evaluate's)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        record = compute_metric(small(name, num_gen), G, data, detector=detector, batch_size=4, cache_dir=tmp_path,
                                progress=False)
    return record, [str(w.message) for w in caught if "other than the FID Inception" not in str(w.message)]


@pytest.mark.filterwarnings("ignore:pr2k3_full. no VGG16 file given")
@pytest.mark.parametrize("name, message", [
    ("fid2k_full", "FID needs at least 2 real and 2 generated features, got 1 and 8"),
    ("kid2k_full", "KID needs at least 2 real and 2 generated features, got 1 and 8"),
    ("pr2k3_full", "precision/recall with k=3 needs more than 3 real features, got 1"),
])
def test_one_real_image_is_refused_before_any_image_is_generated(tiny_G, small_detector, monkeypatch, name, message):
    monkeypatch.setattr(evaluate, "fake_stats", lambda *args, **kwargs: pytest.fail("generated images first"))
    with pytest.raises(ValueError, match=f"^{message}$"):
        compute_metric(small(name, 8), tiny_G, open_dataset("builtin:shapes?n=1", resolution=16),
                       detector=small_detector, vgg16=None, progress=False)


def test_enough_real_images_give_no_note(tiny_G, shapes, small_detector, tmp_path):
    _, notes = run("fid2k_full", tiny_G, shapes, small_detector, tmp_path)  # 12 images, 8 feature dimensions
    assert notes == []


def test_fid_from_no_more_images_than_feature_dimensions_is_noted(tiny_G, small_detector, tmp_path):
    record, notes = run("fid2k_full", tiny_G, open_dataset("builtin:shapes?n=5", resolution=16), small_detector, tmp_path)
    assert notes == ["fid2k_full: only 5 real images (no more than the 8 feature dimensions, so their covariance is "
                     "singular); compare the score only with scores from as many real images"]
    assert np.isfinite(record["results"]["fid2k_full"])


def test_fewer_real_images_than_the_metric_is_defined_with_are_noted(tiny_G, shapes, small_detector, tmp_path):
    _, notes = run("fid1k", tiny_G, shapes, small_detector, tmp_path)
    assert notes == ["fid1k: only 12 real images (fid1k is defined with 1000); "
                     "compare the score only with scores from as many real images"]


def test_kid_subsets_smaller_than_1000_are_noted(tiny_G, shapes, small_detector, tmp_path):
    _, notes = run("kid1k_full", tiny_G, shapes, small_detector, tmp_path, num_gen=1000)
    assert notes == ["kid1k_full: only 12 real images (KID subsets hold 12 instead of 1000); "
                     "compare the score only with scores from as many real images"]


def test_full_datasets_larger_than_the_features_get_no_note():
    assert sample_count_note(parse_metric("fid50k_full"), 70_000, 2048) is None
    assert sample_count_note(parse_metric("kid50k_full"), 70_000, 2048) is None
    assert sample_count_note(parse_metric("fid50k"), 50_000, 2048) is None
    assert "no more than the 2048" in sample_count_note(parse_metric("fid50k_full"), 1336, 2048)  # MetFaces


def test_fid_is_the_frechet_distance_of_the_two_feature_sets(tiny_G, shapes, small_detector, tmp_path):
    """The checks change no number: FID is still the formula on the real and generated statistics."""
    spec = small("fid2k_full", 8)
    record, _ = run("fid2k_full", tiny_G, shapes, small_detector, tmp_path)
    opts = PassOptions(device=torch.device("cpu"), batch_size=4, progress=False)
    real = real_stats(shapes, small_detector, opts, None, capture_all=False, capture_mean_cov=True, cache_dir=None)
    fake = fake_stats(tiny_G.eval(), shapes, small_detector.features, opts, spec.num_gen, capture_all=False,
                      capture_mean_cov=True, desc="")
    assert record["results"]["fid2k_full"] == frechet_distance(*fake.mean_cov(), *real.mean_cov())
