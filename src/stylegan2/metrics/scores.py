"""The metric formulas on feature sets (no SciPy needed): FID, KID, IS and PPL in float64 NumPy; precision/recall
in torch, whose batched distances run on any device.

Each follows the reference implementation its paper published, as NVIDIA's metrics do:
FID (Heusel et al., TTUR), KID (Binkowski et al., MMD-GAN), IS (Salimans et al.) and
improved precision/recall (Kynkaanniemi et al.).
"""

from __future__ import annotations

import numpy as np
import torch

KID_SUBSET_SIZE = 1000  # real and generated features per KID subset (NVIDIA's max_subset_size)


def check_feature_counts(metric: str, num_real: int, num_gen: int, minimum: int = 2) -> None:
    """Refuse fewer than `minimum` real or generated features: FID and KID need two of each (one feature has no
    covariance and no pair to compare), so a score from fewer would be a number without meaning."""
    if num_real < minimum or num_gen < minimum:
        raise ValueError(f"{metric} needs at least {minimum} real and {minimum} generated features, "
                         f"got {num_real} and {num_gen}")


def check_neighbourhood_counts(k: int, num_real: int, num_gen: int) -> None:
    """Refuse sets in which a point has no k-th nearest other point (precision/recall's manifold radius)."""
    for name, count in (("real", num_real), ("generated", num_gen)):
        if count <= k:
            raise ValueError(f"precision/recall with k={k} needs more than {k} {name} features, got {count}")


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """Symmetric square root of a positive semi-definite matrix (tiny negative eigenvalues clipped)."""
    eigvals, eigvecs = np.linalg.eigh(matrix)
    return (eigvecs * np.sqrt(np.clip(eigvals, 0, None))) @ eigvecs.T


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^1/2): the Frechet distance of two Gaussians (FID).

    tr((S1 S2)^1/2) is the sum of square roots of the eigenvalues of S1^1/2 S2 S1^1/2, which is
    symmetric, so a symmetric eigendecomposition gives it without a general matrix square root.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    cov1, cov2 = np.asarray(cov1, np.float64), np.asarray(cov2, np.float64)
    root1 = _sqrt_psd(cov1)
    middle = root1 @ cov2 @ root1
    middle = (middle + middle.T) / 2  # exact symmetry for eigvalsh
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh(middle), 0, None)).sum()
    return float(np.square(mu1 - mu2).sum() + np.trace(cov1) + np.trace(cov2) - 2 * trace_sqrt)


def kernel_distance(real: np.ndarray, gen: np.ndarray, num_subsets: int = 100, max_subset_size: int = KID_SUBSET_SIZE,
                    rng: np.random.Generator | None = None) -> float:
    """Unbiased MMD^2 with the cubic polynomial kernel (x.y / d + 1)^3, averaged over random subsets (KID).

    Each subset draws m = min(len(real), len(gen), max_subset_size) generated, then m real
    features, without replacement, in that order, from `rng` (None: a generator seeded with 0, so that the same
    features give the same number; NVIDIA's draws from NumPy's unseeded global state).
    """
    rng = np.random.default_rng(0) if rng is None else rng
    real, gen = np.asarray(real, np.float64), np.asarray(gen, np.float64)
    d = real.shape[1]
    check_feature_counts("KID", real.shape[0], gen.shape[0])
    if max_subset_size < 2:
        raise ValueError(f"KID subsets need at least 2 features each, got max_subset_size={max_subset_size}")
    m = min(real.shape[0], gen.shape[0], max_subset_size)
    total = 0.0
    for _ in range(num_subsets):
        x = gen[rng.choice(gen.shape[0], m, replace=False)]
        y = real[rng.choice(real.shape[0], m, replace=False)]
        within = (x @ x.T / d + 1) ** 3 + (y @ y.T / d + 1) ** 3
        across = (x @ y.T / d + 1) ** 3
        total += (within.sum() - np.diag(within).sum()) / (m - 1) - across.sum() * 2 / m
    return float(total / num_subsets / m)


def inception_score(probs: np.ndarray, num_splits: int = 10) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))) per split of the class probabilities; returns (mean, std) over splits."""
    probs = np.asarray(probs, np.float64)
    n = probs.shape[0]
    if n < num_splits:
        raise ValueError(f"IS with {num_splits} splits needs at least {num_splits} images, got {n}")
    scores = []
    for i in range(num_splits):
        part = probs[i * n // num_splits:(i + 1) * n // num_splits]
        kl = part * (np.log(part) - np.log(part.mean(axis=0, keepdims=True)))
        scores.append(np.exp(kl.sum(axis=1).mean()))
    return float(np.mean(scores)), float(np.std(scores))


def _kth_neighbour_radii(manifold: torch.Tensor, k: int, row_batch_size: int) -> torch.Tensor:
    """Distance from each manifold point to its k-th nearest other manifold point."""
    radii = [torch.cdist(rows, manifold).kthvalue(k + 1, dim=1).values for rows in manifold.split(row_batch_size)]
    return torch.cat(radii)


def _fraction_inside(manifold: torch.Tensor, radii: torch.Tensor, probes: torch.Tensor, row_batch_size: int) -> float:
    """Fraction of probes within the k-NN ball of at least one manifold point."""
    inside = [(torch.cdist(rows, manifold) <= radii).any(dim=1) for rows in probes.split(row_batch_size)]
    return float(torch.cat(inside).to(torch.float64).mean())


def precision_recall(real: np.ndarray, gen: np.ndarray, k: int = 3,
                     row_batch_size: int = 1024, device: torch.device | str = "cpu",
                     dtype: torch.dtype = torch.float64) -> tuple[float, float]:
    """Improved precision (generated inside the real manifold) and recall (real inside the generated one).

    A manifold is the union of balls around its points with radius the distance to the k-th
    nearest neighbour. Distances run in torch on `device` in row batches (use float32 on GPUs).
    """
    real_t = torch.as_tensor(real, dtype=dtype, device=device)
    gen_t = torch.as_tensor(gen, dtype=dtype, device=device)
    check_neighbourhood_counts(k, real_t.shape[0], gen_t.shape[0])
    precision = _fraction_inside(real_t, _kth_neighbour_radii(real_t, k, row_batch_size), gen_t, row_batch_size)
    recall = _fraction_inside(gen_t, _kth_neighbour_radii(gen_t, k, row_batch_size), real_t, row_batch_size)
    return precision, recall


def perceptual_path_length(distances: np.ndarray) -> float:
    """Mean of the per-sample path lengths after discarding those below the 1st and above the 99th percentile."""
    distances = np.asarray(distances, np.float64)
    lo = np.percentile(distances, 1, method="lower")
    hi = np.percentile(distances, 99, method="higher")
    return float(distances[(distances >= lo) & (distances <= hi)].mean())
