"""InfiniteSampler: an endless seeded index stream that ranks share without overlap."""

import itertools

import numpy as np
import pytest

from stylegan2.data import ClassPackSampler, InfiniteSampler


def take(sampler, count: int) -> list[int]:
    """The first `count` indices of a sampler."""
    return list(itertools.islice(iter(sampler), count))


def test_ranks_split_each_epoch_without_overlap_and_cover_it():
    size, world = 12, 3
    shards = [take(InfiniteSampler(range(size), rank=r, world_size=world, seed=7), size // world) for r in range(world)]
    assert sorted(sum(shards, [])) == list(range(size))


def test_ranks_stay_disjoint_when_the_size_does_not_divide():
    size, world = 10, 4
    streams = [take(InfiniteSampler(range(size), rank=r, world_size=world, seed=1), 25) for r in range(world)]
    merged = [streams[p % world][p // world] for p in range(100)]  # the shared stream, re-interleaved
    for epoch in range(10):
        assert sorted(merged[epoch * size : (epoch + 1) * size]) == list(range(size))


def test_stream_never_ends_and_reshuffles_each_epoch():
    stream = take(InfiniteSampler(range(8), seed=0), 32)
    epochs = [stream[i : i + 8] for i in range(0, 32, 8)]
    assert all(sorted(e) == list(range(8)) for e in epochs)
    assert len({tuple(e) for e in epochs}) > 1


def test_seed_decides_the_order():
    assert take(InfiniteSampler(range(50), seed=3), 50) == take(InfiniteSampler(range(50), seed=3), 50)
    assert take(InfiniteSampler(range(50), seed=3), 50) != take(InfiniteSampler(range(50), seed=4), 50)


def test_without_shuffle_indices_go_in_order():
    assert take(InfiniteSampler(range(5), rank=1, world_size=2, shuffle=False), 5) == [1, 3, 0, 2, 4]


@pytest.mark.parametrize("rank, world", [(2, 2), (-1, 1)])
def test_rank_must_be_below_world_size(rank, world):
    with pytest.raises(ValueError, match="rank must be in"):
        InfiniteSampler(range(4), rank=rank, world_size=world)


def test_empty_dataset_is_refused():
    with pytest.raises(ValueError, match="non-empty"):
        InfiniteSampler([])


@pytest.mark.parametrize("size,world_size", [(7, 1), (7, 2), (10, 3), (3, 5)])
def test_start_continues_each_rank_exactly_where_it_stopped(size, world_size):
    for rank in range(world_size):
        full = list(itertools.islice(iter(InfiniteSampler(range(size), rank=rank, world_size=world_size, seed=1)), 40))
        for start in (1, 5, 13):
            resumed = InfiniteSampler(range(size), rank=rank, world_size=world_size, seed=1, start=start)
            assert list(itertools.islice(iter(resumed), 20)) == full[start:start + 20]


def test_class_packs_hold_one_class_each_and_cover_every_item_each_epoch():
    classes = np.array([0] * 5 + [1] * 8 + [2] * 1)  # 5 items: one pack topped up; 1 item: a pack of copies
    sampler = ClassPackSampler(classes, pack=4, seed=3)
    assert sampler.epoch_len == 8 + 8 + 4
    epoch = take(sampler, sampler.epoch_len)
    packs = np.array(epoch).reshape(-1, 4)
    assert all(len(set(classes[p])) == 1 for p in packs)
    assert set(epoch) == set(range(len(classes)))
    assert sorted(epoch) != epoch  # shuffled
    assert take(ClassPackSampler(classes, pack=4, seed=4), 20) != epoch  # seeded


def test_class_packs_resume_where_they_stopped():
    classes = np.arange(30) % 3
    whole = take(ClassPackSampler(classes, pack=2, seed=1), 100)
    assert take(ClassPackSampler(classes, pack=2, seed=1, start=44), 56) == whole[44:]  # across the epoch boundary at 30


def test_class_pack_starts_off_a_pack_boundary_are_refused():
    with pytest.raises(ValueError, match="start a multiple of pack"):
        ClassPackSampler(np.zeros(4, dtype=np.int64), pack=2, start=3)
