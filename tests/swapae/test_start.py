"""What `stylegan2 swapae train` checks before the data opens (swapae.start): the GAN trainer's checks."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest

from stylegan2.swapae.start import open_and_resolve


def test_an_outdir_inside_the_data_folder_is_refused(tmp_path):
    """It was not checked here: the run's grids landed among the images, and every later run on them failed."""
    data = tmp_path / "imgs"
    data.mkdir()
    for i in range(4):
        PIL.Image.fromarray(np.full((32, 32, 3), 40 * i, np.uint8)).save(data / f"{i}.png")
    with pytest.raises(ValueError, match=r"^--outdir \S+runs is inside the --data folder \S+imgs"):
        open_and_resolve(str(data), "cpu", {"outdir": str(data / "runs")}, 1, "cpu", creates_runs=True, dry_run=True)
    assert sorted(p.name for p in data.iterdir()) == [f"{i}.png" for i in range(4)]


def test_the_python_api_refuses_an_outdir_inside_the_data_folder_too(tmp_path):
    """resolve_swapae_options, as the GAN's resolve_options: swapae.md's Python example wrote the run into the data."""
    from stylegan2.swapae.config import resolve_swapae_options

    (tmp_path / "imgs").mkdir()
    with pytest.raises(ValueError, match=r"^--outdir \S+runs is inside the --data folder \S+imgs"):
        resolve_swapae_options(str(tmp_path / "imgs"), "cpu", 32, 1, {"outdir": str(tmp_path / "imgs" / "runs")})


def test_a_dry_run_reads_the_resume_file_only_on_the_process_that_creates_runs(tmp_path, monkeypatch):
    """As the GAN trainer's: the other processes of a launch would each read (or download) it again (qa-auditor L6)."""
    data = tmp_path / "imgs"
    data.mkdir()
    for i in range(4):
        PIL.Image.fromarray(np.full((32, 32, 3), 40 * i, np.uint8)).save(data / f"{i}.png")
    checked = []
    monkeypatch.setattr("stylegan2.swapae.start.check_swapae_resume",
                        lambda options, resolution, channels: (checked.append(options.resume) or (options, [])))
    overrides = {"outdir": str(tmp_path / "runs"), "resume": "ffhq256"}  # a name: fetched by the run, not checked before
    open_and_resolve(str(data), "cpu", overrides, 1, "cpu", creates_runs=False, dry_run=True)
    assert checked == []
    open_and_resolve(str(data), "cpu", overrides, 1, "cpu", creates_runs=True, dry_run=True)
    assert checked == ["ffhq256"]
