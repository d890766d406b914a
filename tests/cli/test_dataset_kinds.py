"""Every command that reads a dataset names, in its --help, every kind of dataset `open_source` opens."""

import click
import pytest

from stylegan2.cli import main
from stylegan2.data.sources import DATASET_KINDS


@pytest.mark.parametrize("path, option", [(["train"], "--data"), (["swapae", "train"], "--data"), (["metrics"], "--data"),
                                          (["dataset"], "--source")])
def test_the_data_option_help_names_every_kind_of_dataset(path, option):
    """train, swapae train and metrics left out MNIST's idx files and CIFAR-10's tarball, which they read all the same."""
    command = main
    for name in path:
        command = command.commands[name]
    help_text = next(param.get_help_record(click.Context(command))[1] for param in command.params if option in param.opts)
    missing = [kind for kind in DATASET_KINDS if kind not in help_text]
    assert not missing, f"{' '.join(path)} {option}: {help_text!r} leaves out {missing}"
