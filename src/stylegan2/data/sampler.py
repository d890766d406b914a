"""Endless, seeded index streams split between distributed ranks (the role of NVIDIA's InfiniteSampler), and each
rank's share of a training run's global minibatches."""

import itertools
from collections.abc import Iterator, Sized

import numpy as np
import torch

from .dataset import ImageDataset


class InfiniteSampler(torch.utils.data.Sampler[int]):
    """Yield dataset indices forever; rank r of w reads every w-th index of one shared stream.

    The shared stream is a fresh seeded permutation per epoch (or 0..N-1 without shuffling), so all
    ranks agree on it without communicating, and within an epoch no two ranks read the same item.
    `start` skips the first `start` indices of this rank, which is how a resumed run continues
    exactly where it stopped.
    """

    def __init__(self, dataset: Sized, *, rank: int = 0, world_size: int = 1, shuffle: bool = True, seed: int = 0,
                 start: int = 0):
        if len(dataset) < 1:
            raise ValueError("InfiniteSampler needs a non-empty dataset")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size={world_size}), got {rank}")
        if start < 0:
            raise ValueError(f"start must be >= 0, got {start}")
        self.size, self.rank, self.world_size = len(dataset), rank, world_size
        self.shuffle, self.seed, self.start = shuffle, seed, start

    def _order(self, epoch: int) -> np.ndarray:
        if self.shuffle:
            return np.random.default_rng([self.seed, epoch]).permutation(self.size)
        return np.arange(self.size)

    def __iter__(self) -> Iterator[int]:
        position = self.start * self.world_size + self.rank  # this rank's next place in the shared stream
        while True:
            epoch, offset = divmod(position, self.size)
            order = self._order(epoch)
            yield from (int(i) for i in order[offset :: self.world_size])
            # Continue at this rank's first position in the next epoch.
            position = position + ((self.size - offset + self.world_size - 1) // self.world_size) * self.world_size


class ClassPackSampler(torch.utils.data.Sampler[int]):
    """An endless seeded index stream in runs of `pack` items of one class, for a D that judges packs.

    Each epoch, every class's items are shuffled and cut into packs (the last one topped up from the
    class's first items), and the packs of all classes are shuffled together; so a pack is `pack`
    random items of one class, and every item comes once or twice per epoch. `start` skips that many
    indices of the stream (a multiple of `pack`), as InfiniteSampler's does.
    """

    def __init__(self, classes: np.ndarray, *, pack: int, seed: int = 0, start: int = 0):
        if len(classes) < 1 or pack < 1 or start < 0 or start % pack:
            raise ValueError(f"ClassPackSampler needs items, pack >= 1 and start a multiple of pack (got {pack}, {start})")
        self.members = [np.flatnonzero(classes == c) for c in np.unique(classes)]
        self.pack, self.seed, self.start = pack, seed, start
        self.epoch_len = sum(len(m) + (-len(m) % pack) for m in self.members)

    def _order(self, epoch: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, epoch])
        packs = []
        for members in self.members:
            shuffled = rng.permutation(members)
            packs.append(np.resize(shuffled, len(shuffled) + (-len(shuffled) % self.pack)).reshape(-1, self.pack))
        packs = np.concatenate(packs)
        return packs[rng.permutation(len(packs))].ravel()

    def __iter__(self) -> Iterator[int]:
        epoch, offset = divmod(self.start, self.epoch_len)
        while True:
            yield from (int(i) for i in self._order(epoch)[offset:])
            epoch, offset = epoch + 1, 0


class StepShares(torch.utils.data.Sampler):
    """This rank's contiguous share of each global minibatch of the run's one shuffled index stream.

    Every rank walks the whole stream (indices only) and loads its own share, so the images of a
    step, and how they fall into --batch-gpu slices, do not depend on the number of processes.
    """

    def __init__(self, dataset: ImageDataset, *, batch: int, rank: int, world_size: int, seed: int, start_step: int,
                 class_packs: int = 1) -> None:
        self.dataset, self.batch, self.seed, self.start_step = dataset, batch, seed, start_step
        self.rank, self.world_size = rank, world_size
        self.class_packs = class_packs

    def __iter__(self) -> Iterator[list[int]]:
        start = self.start_step * self.batch
        if self.class_packs > 1:  # runs of items of one class, which the batch slices keep together
            classes = np.array([int(self.dataset.get_label(i).argmax()) for i in range(len(self.dataset))])
            stream = iter(ClassPackSampler(classes, pack=self.class_packs, seed=self.seed, start=start))
        else:
            stream = iter(InfiniteSampler(self.dataset, seed=self.seed, start=start))
        share = self.batch // self.world_size
        while True:
            indices = list(itertools.islice(stream, self.batch))
            yield indices[self.rank * share: (self.rank + 1) * share]
