"""--clusters label a copy of the dataset handed to train(): the caller's stays as opened, for another run."""

from stylegan2.data import open_dataset
from stylegan2.training.config import resolve_options
from stylegan2.training.loop import train

TINY = dict(cbase=128, cmax=16, z_dim=16, w_dim=16, map=2, batch=8, workers=0, aug="noaug", tick=0.032, snap=1)


def test_train_leaves_the_callers_dataset_unlabelled_and_can_train_on_it_again(tmp_path):
    data = open_dataset("builtin:shapes?n=16", resolution=16)
    options = resolve_options("builtin:shapes?n=16", "cpu", 16, 1,
                              dict(TINY, outdir=str(tmp_path / "runs"), kimg=0.008, clusters=2))
    first = train(options, device="cpu", dataset=data, max_steps=1, log=lambda line: None)
    assert not data.has_labels and data.label_dim == 0
    second = train(options, device="cpu", dataset=data, max_steps=1, log=lambda line: None)  # was: "opened with labels"
    assert first != second and second.is_dir()
