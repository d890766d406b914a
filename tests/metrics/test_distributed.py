"""Metrics split across two ranks (gloo on CPU) agree with one process and across ranks."""

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from stylegan2.data import open_dataset
from stylegan2.metrics import CustomDetector, compute_metric, parse_metric
from stylegan2.metrics.calc import OtherRankFailed, SameAsLowerRank, raise_if_a_rank_failed
from stylegan2.metrics.features import PassOptions, fake_stats, real_stats
from stylegan2.models import Generator


class ArrayDataset(torch.utils.data.Dataset):
    """uint8 images from an array, no labels."""

    def __init__(self, images: np.ndarray) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.images[i], np.zeros(0, np.float32)


class ConstantG(torch.nn.Module):
    """Images filled with the first latent value, so each sample's origin is visible in its feature."""

    z_dim, c_dim, img_resolution, img_channels = 4, 0, 4, 3

    def forward(self, z, c, truncation_psi=1.0, noise_mode="random"):
        return z[:, :1, None, None].expand(-1, 3, 4, 4).tanh()


def channel_means(images: torch.Tensor) -> torch.Tensor:
    return images.to(torch.float32).mean(dim=(2, 3))


class MeansDetector:
    """Per-channel means as features."""

    name, digest = "means", "0" * 64
    features = staticmethod(channel_means)


def images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (11, 3, 4, 4), dtype=np.uint8)  # 11: uneven split


def _worker(rank: int, world_size: int, rendezvous: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=world_size)
    opts = PassOptions(device=torch.device("cpu"), batch_size=3, rank=rank, world_size=world_size, progress=False)
    real = real_stats(ArrayDataset(images()), MeansDetector(), opts, None, capture_all=True, capture_mean_cov=False,
                      cache_dir=None)
    fake = fake_stats(ConstantG(), ArrayDataset(images()), channel_means, opts, 7, capture_all=True,
                      capture_mean_cov=False, desc="fake")
    np.savez(Path(out_dir) / f"rank{rank}.npz", real=real.all_features(), fake=fake.all_features())
    dist.destroy_process_group()


def test_two_ranks_gather_the_same_features_as_one_process(tmp_path: Path):
    mp.spawn(_worker, args=(2, str(tmp_path / "rendezvous"), str(tmp_path)), nprocs=2, join=True)
    rank0, rank1 = np.load(tmp_path / "rank0.npz"), np.load(tmp_path / "rank1.npz")
    expected = images().astype(np.float32).mean(axis=(2, 3))
    assert np.array_equal(rank0["real"], expected)  # every image once, in dataset order
    assert np.array_equal(rank1["real"], rank0["real"])
    assert rank0["fake"].shape == (7, 3) and np.array_equal(rank0["fake"], rank1["fake"])
    assert len(np.unique(rank0["fake"][:, 0])) == 7  # the ranks drew different latents


def _prepare_worker(rank: int, world_size: int, rendezvous: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=world_size)
    error = {1: FileNotFoundError("no detector on this machine"), 2: FileNotFoundError("no detector on this machine"),
             3: FileNotFoundError("no data on this machine")}.get(rank)
    try:
        raise_if_a_rank_failed(error, torch.device("cpu"), world_size)
        outcome = "went on"
    except OtherRankFailed as err:
        outcome = f"other: {err}"
    except SameAsLowerRank as err:
        outcome = f"same: {err}"
    except FileNotFoundError as err:
        outcome = f"own: {err}"
    (Path(out_dir) / f"rank{rank}.txt").write_text(outcome)
    dist.destroy_process_group()


def test_a_rank_that_cannot_prepare_stops_every_rank_before_any_gather(tmp_path: Path):
    """Else the others would wait in the first all-gather for it until the collective times out. A reason that a
    lower rank gave too is marked, so that it is reported once."""
    mp.spawn(_prepare_worker, args=(4, str(tmp_path / "rendezvous"), str(tmp_path)), nprocs=4, join=True)
    said = [(tmp_path / f"rank{rank}.txt").read_text() for rank in range(4)]
    assert said == ["other: process 1 of 4 could not load the data or a detector; its own message says why",
                    "own: no detector on this machine", "same: no detector on this machine", "own: no data on this machine"]


def _notes_worker(rank: int, world_size: int, rendezvous: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=world_size)
    torch.manual_seed(1)
    G = Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3, mapping_kwargs={"num_layers": 1},
                  synthesis_kwargs={"channel_base": 128, "channel_max": 8})
    net = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten())
    detector = CustomDetector(net, "pooled", "0" * 64)
    spec = dataclasses.replace(parse_metric("pr50k3_full"), num_gen=6)  # other detector, no VGG16, few images: 3 notes
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        compute_metric(spec, G, open_dataset("builtin:shapes?n=6", resolution=16), detector=detector, rank=rank,
                       world_size=world_size, use_cache=False, progress=False, batch_size=2)
        compute_metric(dataclasses.replace(parse_metric("fid50k_full"), num_gen=6), G,
                       open_dataset("builtin:shapes?n=6", resolution=16), detector=detector, rank=rank,
                       world_size=world_size, use_cache=False, progress=False, batch_size=2)
    (Path(out_dir) / f"rank{rank}.txt").write_text("\n".join(str(w.message) for w in said))
    dist.destroy_process_group()


def test_notes_are_said_by_rank_0_alone(tmp_path: Path):
    mp.spawn(_notes_worker, args=(2, str(tmp_path / "rendezvous"), str(tmp_path)), nprocs=2, join=True)
    rank0, rank1 = ((tmp_path / f"rank{rank}.txt").read_text() for rank in range(2))
    assert "no VGG16 file given" in rank0 and "a feature network other than the FID Inception" in rank0
    assert "only 6 real images" in rank0
    assert rank1 == ""
