"""Quality metrics (FID, KID, precision/recall, IS, PPL) and the feature networks they use.

`compute_metric` evaluates one metric of a generator against a dataset; `calc_metrics` does it
for a network file and a dataset spec (the `stylegan2 metrics` command); `evaluate_for_training`
appends a result to `metric-<name>.jsonl` at a training snapshot. The formulas on feature
arrays are in `stylegan2.metrics.scores`.
"""

from .calc import calc_metrics, evaluate_for_training
from .detectors import (
    CustomDetector,
    FeatureDetector,
    InceptionDetector,
    NvidiaScriptDetector,
    default_cache_dir,
    load_detector,
    load_vgg16,
    module_digest,
)
from .evaluate import LEGACY_METRICS, PRIMARY_METRICS, compute_metric, parse_metric, report_metric
from .inception import FIDInceptionV3
from .kinds import MetricSpec
from .ppl import PPLConfig
from .scores import frechet_distance, inception_score, kernel_distance, perceptual_path_length, precision_recall
from .vgg16 import VGG16LPIPS

__all__ = [
    "LEGACY_METRICS",
    "PRIMARY_METRICS",
    "CustomDetector",
    "FIDInceptionV3",
    "FeatureDetector",
    "InceptionDetector",
    "MetricSpec",
    "NvidiaScriptDetector",
    "PPLConfig",
    "VGG16LPIPS",
    "calc_metrics",
    "compute_metric",
    "default_cache_dir",
    "evaluate_for_training",
    "frechet_distance",
    "inception_score",
    "kernel_distance",
    "load_detector",
    "load_vgg16",
    "module_digest",
    "parse_metric",
    "perceptual_path_length",
    "precision_recall",
    "report_metric",
]
