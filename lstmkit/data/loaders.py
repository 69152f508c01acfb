"""A PyTorch DataLoader, Dataset or any iterable of (x, y) batches as a
batch source, so `fit` takes what a PyTorch user already has.

Each batch is converted and checked as it comes (`prepare`, which the model
supplies: the same checks `fit(x, y)` makes once for arrays). A DataLoader
or a re-iterable is read afresh each epoch; a one-shot iterator (a Python
generator) goes on where the last epoch stopped, as Keras does, and then
needs `steps_per_epoch`.
"""

import itertools

import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset

from ..errors import InputError
from .sources import BatchSource


def is_loader(data):
    """Whether fit should read `data` as batches rather than as one array."""
    if isinstance(data, (DataLoader, Dataset)):
        return True
    return hasattr(data, "__next__") and hasattr(data, "__iter__")


class LoaderBatches(BatchSource):
    """Batches from a DataLoader, a Dataset (batched here, in order or
    shuffled with a generator seeded by `seed`) or an iterable of batches.

    Args:
        data: a DataLoader, a map-style or iterable Dataset of (x, y)
            samples, or an iterable of (x, y) / (x, y, mask) batches.
        prepare: function (x, y) -> (x, y) converting and checking a batch.
        batch_size, shuffle, seed: for a Dataset, which this batches itself.
        steps: batches per epoch; needed when the data has no length.
    """

    def __init__(self, data, prepare, batch_size=32, shuffle=False, seed=0, steps=None):
        self.generator = None
        if isinstance(data, Dataset) and not isinstance(data, DataLoader):
            if shuffle and not isinstance(data, IterableDataset):
                self.generator = torch.Generator().manual_seed(seed)
            data = DataLoader(data, batch_size=batch_size, shuffle=self.generator is not None,
                              generator=self.generator)
        self.data, self.prepare, self.steps = data, prepare, steps
        self.iterator = data if hasattr(data, "__next__") else None  # one-shot: carried over
        self.pushed_back = None  # a one-shot iterator's batch read by peek, yielded next
        try:
            self.length = len(data)
        except TypeError:
            self.length = None
        if self.length is None and steps is None:
            raise InputError("fit on an iterable without a length needs steps_per_epoch")
        self.samples = None

    def __len__(self):
        return self.length if self.steps is None else min(self.steps, self.length or self.steps)

    def batches(self, epoch, start=0, rank=0, world=1):
        if world > 1:
            raise InputError("a DataLoader splits its data among processes with a "
                             "DistributedSampler: give fit a batch source instead")
        source = self.iterator if self.iterator is not None else iter(self.data)
        if self.pushed_back is not None:
            source, self.pushed_back = itertools.chain([self.pushed_back], source), None
        for batch in itertools.islice(source, start, len(self)):
            if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
                raise InputError("each batch of the data must be (x, y) or (x, y, mask), got "
                                 f"{type(batch).__name__}")
            x, y = self.prepare(batch[0], batch[1])
            yield (x, y) if len(batch) == 2 else (x, y, torch.as_tensor(batch[2]).bool())

    def peek(self):
        """The first batch's x, without using it up (to build a model from)."""
        if self.iterator is not None:
            if self.pushed_back is None:
                self.pushed_back = next(self.iterator, None)
            batch = self.pushed_back
        else:
            kept = self.state_dict()
            batch = next(iter(self.data), None)
            self.load_state_dict(kept)
        if batch is None:
            raise InputError("the data yields no batches")
        return self.prepare(batch[0], None)[0]

    def state_dict(self):
        return {"generator": self.generator.get_state()} if self.generator is not None else {}

    def load_state_dict(self, state):
        if self.generator is not None and state.get("generator") is not None:
            self.generator.set_state(state["generator"])
