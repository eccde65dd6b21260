"""Which examples each process trains on: disjoint shares that together cover the data, reshuffled every epoch,
the same on every process for a given seed (the role of PyTorch's DistributedSampler)."""

from __future__ import annotations

import numbers

import numpy as np

from . import world


def shard(
    dataset_length: int,
    seed: int = 0,
    epoch: int = 0,
    shuffle: bool = True,
    drop_last: bool = False,
    rank: int | None = None,
    world_size: int | None = None,
) -> np.ndarray:
    """This process's indices into a data set of ``dataset_length`` examples for ``epoch``.

    Every process draws the same permutation (from ``seed`` and ``epoch``) and takes every world_size-th index
    starting at its rank, so the shares are disjoint and cover the data. Where the length does not divide evenly,
    the first indices of the permutation are repeated to give every process the same number (so their steps stay
    in step), or with ``drop_last`` the remainder is left out."""
    size = world.world_size() if world_size is None else world_size
    me = world.rank() if rank is None else rank
    if isinstance(dataset_length, bool) or not isinstance(dataset_length, numbers.Integral) or dataset_length < 0:
        raise ValueError(f"shard: dataset_length must be a non-negative integer, got {dataset_length!r}")
    if not 0 <= me < size:
        raise ValueError(f"shard: rank {me} is not in a world of {size}")
    order = np.random.default_rng([seed, epoch]).permutation(dataset_length) if shuffle else np.arange(dataset_length)
    if drop_last:
        order = order[: dataset_length - dataset_length % size]
    elif dataset_length % size:
        padding = size - dataset_length % size
        order = np.concatenate([order, np.resize(order, padding)]) if dataset_length else order
    return order[me::size]


class DistributedSampler:
    """``for epoch in ...: sampler.set_epoch(epoch); for i in sampler: ...`` as in PyTorch."""

    def __init__(self, dataset_length: int, seed: int = 0, shuffle: bool = True, drop_last: bool = False) -> None:
        self.dataset_length, self.seed, self.shuffle, self.drop_last = dataset_length, seed, shuffle, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def indices(self) -> np.ndarray:
        return shard(self.dataset_length, self.seed, self.epoch, self.shuffle, self.drop_last)

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return len(self.indices())
