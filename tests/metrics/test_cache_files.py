"""The metrics cache on a misbehaving disk: damaged files closed after reading, a directory in a file's place,
and temporaries left by killed commands swept."""

import contextlib
import gc
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch

from stylegan2.io import native
from stylegan2.metrics.convert import save_converted
from stylegan2.metrics.features import PassOptions, real_stats
from stylegan2.metrics.stats import FeatureStats, StatsCacheError
from stylegan2.utils import files

from .test_stats import ArrayDataset, CountingDetector, random_images

OPTS = PassOptions(device=torch.device("cpu"), batch_size=4, progress=False)


def stale_temp(folder: Path, target: str) -> Path:
    """A temporary of ours whose writer (a pid that no process has) stopped an hour ago."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f".{target}.{2**22 + 7}.0123abcd.tmp{Path(target).suffix}"
    path.write_bytes(b"half")
    os.utime(path, (time.time() - 3600, time.time() - 3600))
    return path


def test_a_cache_file_that_is_no_zip_is_closed_after_the_attempt(tmp_path):
    """np.load left it open: a note 'unclosed file <_io.BufferedReader ...>' followed the recompute note."""
    cache = tmp_path / "stats.npz"
    cache.write_bytes(b"PK\x03\x04 truncated")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(StatsCacheError, match="unreadable statistics cache"):
            FeatureStats.load(cache, capture_all=True, capture_mean_cov=False)
        gc.collect()
    leaks = [str(w.message) for w in seen if issubclass(w.category, ResourceWarning)]
    assert [leak for leak in leaks if str(cache) in leak] == []  # gc may also find other tests' leftovers


def test_a_directory_in_the_cache_files_place_gets_advice_about_it(tmp_path):
    dataset = ArrayDataset(random_images(4, seed=7))
    real_stats(dataset, CountingDetector(), OPTS, None, capture_all=True, capture_mean_cov=False, cache_dir=tmp_path)
    (cache,) = (tmp_path / "metric-stats").glob("*.npz")
    cache.unlink()
    cache.mkdir()
    with pytest.warns(UserWarning) as said:
        real_stats(dataset, CountingDetector(), OPTS, None, capture_all=True, capture_mean_cov=False, cache_dir=tmp_path)
    (note,) = [str(w.message) for w in said]
    assert f"remove the directory {cache} that stands in the file's place, or choose another cache" in note
    assert "free space" not in note


@pytest.mark.skipif(not files.PROBES_PROCESSES, reason="a writer that may still run is kept a day")
def test_the_statistics_cache_sweeps_temporaries_of_killed_commands(tmp_path):
    """A metrics run killed while it wrote pr50k3_full's statistics leaves about 0.8 GB there for good."""
    stale = stale_temp(tmp_path / "metric-stats", "shapes-tiny-0123.npz")
    young = tmp_path / "metric-stats" / f".other.npz.{os.getpid()}.89abcdef.tmp.npz"  # being written now
    young.write_bytes(b"")
    real_stats(ArrayDataset(random_images(4, seed=8)), CountingDetector(), OPTS, None, capture_all=True,
               capture_mean_cov=False, cache_dir=tmp_path)
    assert not stale.exists() and young.exists()


@pytest.mark.skipif(not files.PROBES_PROCESSES, reason="a writer that may still run is kept a day")
def test_a_conversion_is_written_through_our_temporaries_and_sweeps_stale_ones(tmp_path, monkeypatch):
    """It wrote a fixed `<name>.partial` that two commands shared and a killed one left behind."""
    folder = tmp_path / "converted"
    stale = stale_temp(folder, "vgg16-0123456789abcdef.safetensors")
    written = []
    real = native.atomic_path

    @contextlib.contextmanager
    def recorded(*args, **kwargs):
        with real(*args, **kwargs) as tmp:
            written.append(tmp)
            yield tmp

    monkeypatch.setattr(native, "atomic_path", recorded)
    save_converted({"x": torch.zeros(2)}, "vgg16", "vgg16.pt", folder / "vgg16-0123456789abcdef.safetensors")
    assert [p.name for p in folder.iterdir()] == ["vgg16-0123456789abcdef.safetensors"] and not stale.exists()
    assert files._TEMP_NAME.match(Path(written[0]).name)  # the naming a sweep recognises
    assert np.array_equal(safetensors.torch.load_file(str(folder / "vgg16-0123456789abcdef.safetensors"))["x"], np.zeros(2))
