"""A run on k-means clusters (--clusters) and its snapshots: the labels a snapshot keeps, reused when the run is
continued, and the checks that a resumed network was trained on the clusters this run trains on."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..data import ImageDataset
from ..models import Generator
from .errors import TrainingError
from .snapshot import ResumeState, fine_tune_advice


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


def check_clusters(G: Generator, c_prior: list[float] | None, path: str) -> None:
    """A run on clusters continues only from a network trained on the same clusters (their shares must match)."""
    theirs = G.mapping.c_prior
    if c_prior is None or _same_shares(theirs, c_prior):
        return
    n = len(c_prior)
    what = (f"was not trained on clusters, but this run trains on {n} k-means clusters of the dataset (--clusters {n})"
            if theirs is None else f"was trained on other clusters than the {n} k-means clusters that --clusters {n} finds in "
            "this dataset")
    raise TrainingError(f"--resume {path}: the network {what}; to continue its run, give the dataset, --clusters and "
                        f"--seed it trained with; to fine-tune it on this dataset, {fine_tune_advice(path)}")


def clusters_for_transfer(loaded: dict[str, torch.nn.Module], c_prior: list[float]) -> list[str]:
    """Fine-tuning on clusters: the network's classes train on this dataset's clusters, class k on cluster k, and G
    draws them with this dataset's shares (`c_prior`); a note unless they are the file's own clusters."""
    theirs = (loaded.get("G") or loaded["G_ema"]).mapping.c_prior
    if _same_shares(theirs, c_prior):
        return []
    n = len(c_prior)
    was = "the clusters of its run's images" if theirs is not None else "its class labels"
    return [f"the network's {n} classes ({was}) now train on the {n} k-means clusters of this dataset (--clusters "
            f"{n}), class k on cluster k, and G draws them with this dataset's shares"]
