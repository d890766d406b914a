"""The metric formulas against independent NumPy/SciPy computations on synthetic features."""

import numpy as np
import pytest
import scipy.linalg
import scipy.spatial.distance
import scipy.special
import scipy.stats

from stylegan2.metrics.scores import (
    frechet_distance,
    inception_score,
    kernel_distance,
    perceptual_path_length,
    precision_recall,
)


def gaussian_features(n: int, d: int, seed: int, shift: float = 0.0) -> np.ndarray:
    """Correlated Gaussian features [n, d] (float64) with mean `shift` in every dimension."""
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((d, d)) / np.sqrt(d)
    return rng.standard_normal((n, d)) @ mixing + shift


def mean_cov(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x.mean(axis=0), np.cov(x, rowvar=False, bias=True)


def test_fid_matches_scipy_sqrtm_formula():
    mu1, s1 = mean_cov(gaussian_features(500, 32, seed=1))
    mu2, s2 = mean_cov(gaussian_features(400, 32, seed=2, shift=0.3))
    root = scipy.linalg.sqrtm(s1 @ s2)
    expected = np.square(mu1 - mu2).sum() + np.trace(s1 + s2 - 2 * root.real)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-6)


def test_fid_of_a_set_against_itself_is_zero():
    mu, cov = mean_cov(gaussian_features(300, 16, seed=3))
    assert abs(frechet_distance(mu, cov, mu, cov)) < 1e-8


def test_fid_grows_by_the_squared_norm_of_a_mean_shift():
    x = gaussian_features(300, 16, seed=4)
    shift = np.linspace(-1, 2, 16)
    mu, cov = mean_cov(x)
    mu_shifted, cov_shifted = mean_cov(x + shift)
    assert frechet_distance(mu, cov, mu_shifted, cov_shifted) == pytest.approx(np.square(shift).sum(), rel=1e-6)


def test_fid_handles_singular_covariances():
    x = gaussian_features(8, 16, seed=5)  # fewer samples than dimensions: rank-deficient covariance
    y = gaussian_features(8, 16, seed=6)
    mu1, s1 = mean_cov(x)
    mu2, s2 = mean_cov(y)
    root = scipy.linalg.sqrtm(s1 @ s2)
    expected = np.square(mu1 - mu2).sum() + np.trace(s1 + s2 - 2 * root.real)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-5)


def unbiased_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, by explicit averages over distinct pairs."""
    d = x.shape[1]
    kernel = lambda a, b: (a @ b.T / d + 1) ** 3  # noqa: E731
    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    m = x.shape[0]
    off = ~np.eye(m, dtype=bool)
    return kxx[off].mean() + kyy[off].mean() - 2 * kxy.mean()


def test_kid_with_whole_sets_is_the_unbiased_mmd():
    real = gaussian_features(60, 8, seed=7)
    gen = gaussian_features(60, 8, seed=8, shift=0.5)
    # Subsets as large as the sets are permutations, and MMD does not depend on the order.
    assert kernel_distance(real, gen, num_subsets=3, max_subset_size=1000) == pytest.approx(unbiased_mmd2(gen, real),
                                                                                            rel=1e-9)


def test_kid_averages_the_mmd_of_random_subsets():
    real = gaussian_features(50, 8, seed=9)
    gen = gaussian_features(40, 8, seed=10, shift=0.2)
    rng = np.random.default_rng(123)
    expected = np.mean([unbiased_mmd2(gen[rng.choice(40, 10, replace=False)], real[rng.choice(50, 10, replace=False)])
                        for _ in range(5)])
    result = kernel_distance(real, gen, num_subsets=5, max_subset_size=10, rng=np.random.default_rng(123))
    assert result == pytest.approx(expected, rel=1e-9)
    # Without a generator: subsets from a seeded one, so the same features give the same number
    assert kernel_distance(real, gen, num_subsets=5, max_subset_size=10) == kernel_distance(
        real, gen, num_subsets=5, max_subset_size=10, rng=np.random.default_rng(0))


def reference_precision_recall(real: np.ndarray, gen: np.ndarray, k: int) -> tuple[float, float]:
    """k-NN manifold coverage with SciPy distances, straight from the paper's definition."""

    def coverage(manifold: np.ndarray, probes: np.ndarray) -> float:
        within = scipy.spatial.distance.cdist(manifold, manifold)
        radii = np.sort(within, axis=1)[:, k]  # column 0 is the point itself
        across = scipy.spatial.distance.cdist(probes, manifold)
        return float((across <= radii[None, :]).any(axis=1).mean())

    return coverage(real, gen), coverage(gen, real)


def test_precision_recall_match_the_knn_definition():
    real = gaussian_features(120, 6, seed=11)
    gen = gaussian_features(90, 6, seed=12, shift=0.8) * 0.5
    expected = reference_precision_recall(real, gen, k=3)
    assert precision_recall(real, gen, k=3, row_batch_size=32) == pytest.approx(expected, abs=1e-12)
    assert 0 < expected[0] < 1 and 0 < expected[1] < 1  # the case exercises both outcomes


def test_inception_score_matches_scipy_entropy():
    logits = np.random.default_rng(13).standard_normal((100, 20)) * 3
    probs = scipy.special.softmax(logits, axis=1)
    scores = []
    for part in np.array_split(probs, 10):
        marginal = part.mean(axis=0)
        scores.append(np.exp(np.mean([scipy.stats.entropy(p, marginal) for p in part])))
    mean, std = inception_score(probs, num_splits=10)
    assert (mean, std) == pytest.approx((np.mean(scores), np.std(scores)), rel=1e-9)


def test_inception_score_of_uniform_predictions_is_one():
    assert inception_score(np.full((20, 5), 0.2), num_splits=10) == pytest.approx((1.0, 0.0))


def test_path_length_drops_the_outer_percentiles():
    distances = np.random.default_rng(16).permutation(np.arange(201.0) ** 2)
    # With 201 samples the 1st and 99th percentiles fall exactly on the 3rd smallest and 3rd largest.
    expected = np.sort(distances)[2:-2].mean()
    assert perceptual_path_length(distances) == pytest.approx(expected, rel=1e-12)


def test_too_few_features_are_refused_with_a_clear_error():
    x = gaussian_features(3, 4, seed=14)
    with pytest.raises(ValueError, match="k=3 needs more than 3 real"):
        precision_recall(x, gaussian_features(10, 4, seed=15), k=3)
    with pytest.raises(ValueError, match="at least 2"):
        kernel_distance(x[:1], x)
