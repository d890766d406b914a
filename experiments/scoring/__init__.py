"""Helpers shared by the quality studies in experiments/ (the scripts import these, never each other)."""

MIN_SAMPLES = 2  # a Frechet distance needs a covariance, so at least two samples per side
