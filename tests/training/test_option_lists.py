"""The hand-kept lists of training options stay complete: each TrainingOptions field is placed on purpose, so that a
new option cannot be left out of `--resume auto`'s comparison by accident (qa-contributor M2)."""

from __future__ import annotations

import dataclasses

import pytest

from stylegan2.training.ada import AUG_MODES, AugmentConfig
from stylegan2.training.config import AUG_OPTIONS, AUG_SETTINGS, NOT_RUN_IDENTITY, RUN_IDENTITY, TrainingOptions
from stylegan2.training.rundir import DATA_PARTS, OPTION_PARTS

FIELDS = [f.name for f in dataclasses.fields(TrainingOptions)]


def test_every_training_option_either_tells_runs_apart_or_says_why_not():
    """A new field must go into RUN_IDENTITY (`--resume auto` compares it) or NOT_RUN_IDENTITY (with the reason):
    left out of both, a job would silently continue another job's run that trained with another value."""
    unplaced = [name for name in FIELDS if name not in RUN_IDENTITY and name not in NOT_RUN_IDENTITY]
    assert unplaced == [], f"add each to RUN_IDENTITY or NOT_RUN_IDENTITY (training/config.py): {unplaced}"


def test_no_option_is_both_compared_and_not_and_every_listed_name_is_an_option():
    assert set(RUN_IDENTITY).isdisjoint(NOT_RUN_IDENTITY)
    assert len(set(RUN_IDENTITY)) == len(RUN_IDENTITY)
    assert [name for name in (*RUN_IDENTITY, *NOT_RUN_IDENTITY) if name not in FIELDS] == []


def test_each_option_left_out_of_the_comparison_says_why():
    assert [name for name, reason in NOT_RUN_IDENTITY.items() if not reason.strip()] == []


def test_every_aug_mode_lists_its_options_and_each_is_an_option_of_both_dataclasses():
    """TrainingOptions.augment passes AUG_SETTINGS to AugmentConfig by name."""
    assert set(AUG_OPTIONS) == set(AUG_MODES)
    augment_fields = {f.name for f in dataclasses.fields(AugmentConfig)}
    assert [name for name in AUG_SETTINGS if name not in FIELDS or name not in augment_fields] == []


AUG_EXAMPLES = {"augpipe": "bg", "p": 0.3, "target": 0.7, "ada_kimg": 100, "diffaugment_policy": "cutout"}


@pytest.mark.parametrize("name", AUG_SETTINGS)
def test_every_augmentation_option_reaches_the_augmentation(name):
    """TrainingOptions.augment builds AugmentConfig from AUG_SETTINGS (a new one needs an example above)."""
    options = dataclasses.replace(TrainingOptions(data="builtin:shapes"), **{name: AUG_EXAMPLES[name]})
    assert getattr(options.augment, name) == AUG_EXAMPLES[name]


def test_every_augmentation_option_that_tells_runs_apart_is_compared():
    """ada_kimg excepted: a resume keeps its run's (fine-tuning changes it)."""
    assert [name for name in AUG_SETTINGS if name not in RUN_IDENTITY] == ["ada_kimg"]


def test_the_run_directory_name_parts_are_options():
    assert [option for option, _ in (*DATA_PARTS, *OPTION_PARTS) if option not in FIELDS] == []
