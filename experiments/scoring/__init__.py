"""Helpers shared by the quality studies in experiments/ (the scripts import these, never each other)."""
