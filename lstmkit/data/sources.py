"""Where a training loop's batches come from: one small protocol.

The loop asks a source for "the batches of epoch e, from batch s on, for
process r of n" and needs nothing else about the data, so in-memory arrays,
ragged sequences, windows cut on the fly and language-model streams are all
sources, and none is a special case in the loop (PyTorch's Sampler and
DistributedSampler.set_epoch; awd-lstm-lm's batchify / get_batch).

A batch is a tuple (x, y) or (x, y, mask) of tensors: x the model's input,
y its targets (already in the form the loss takes), mask (N, T) bools with
True at real steps, for padding that no layer of the model marks.
"""

import itertools

import torch

from .batching import batch_indices


class BatchSource:
    """The protocol the training loop reads. Subclasses implement `__len__`
    and `batches`; the rest has defaults.

    Attributes:
        samples: samples in one epoch (over all processes), for progress
            bars; None if unknown.
        carries_state: True when consecutive batches continue the same
            sequences (truncated backpropagation through time): the loop then
            carries the model's recurrent state from batch to batch, detached,
            and starts each epoch and each evaluation from zeros.
    """

    samples = None
    carries_state = False

    def __len__(self):
        """Batches per epoch; the same for every process."""
        raise NotImplementedError

    def batches(self, epoch, start=0, rank=0, world=1):
        """Yield the batches of `epoch` from batch `start` on, process
        `rank`'s share of each when `world` processes train together. The
        loop calls it once an epoch, in order; a source that shuffles draws
        the epoch's order here."""
        raise NotImplementedError

    def state_dict(self):
        """What the next call of `batches` draws from (a generator's state),
        so a resumed run draws an epoch's order again. JSON values and tensors."""
        return {}

    def load_state_dict(self, state):
        pass

    def signature(self):
        """JSON values that must be equal for a checkpoint written while
        training on one source to continue on another (sizes, not contents)."""
        return {"class": type(self).__name__, "batches": len(self), "samples": self.samples}


def shard(index, rank, world):
    """Process `rank`'s part of a batch's sample index (a slice or an index
    tensor): `world` contiguous parts whose sizes differ by at most one."""
    if world == 1:
        return index
    if isinstance(index, slice):
        index = torch.arange(index.start, index.stop)
    return index.tensor_split(world)[rank]


class ArrayBatches(BatchSource):
    """Batches sliced from in-memory tensors: what `fit(x, y)` trains on.

    Args:
        x, y: tensors with the samples first (y None for inputs only).
        batch_size: samples per batch (the last one may be smaller).
        shuffle: a new order each epoch, drawn from a generator seeded with
            `seed`; in order otherwise.
        lengths: each sample's real length; with shuffle, batches hold
            samples of similar lengths (see batch_indices).
        mask: (N, T) bools sliced with x, or None.
    """

    def __init__(self, x, y=None, batch_size=32, shuffle=False, seed=0, lengths=None, mask=None):
        self.x, self.y, self.mask = x, y, mask
        self.batch_size, self.shuffle, self.lengths = batch_size, shuffle, lengths
        self.generator = torch.Generator().manual_seed(seed) if shuffle else None
        self.samples = len(x)

    def __len__(self):
        return -(-self.samples // self.batch_size)

    def batches(self, epoch, start=0, rank=0, world=1):
        order = batch_indices(self.samples, self.batch_size, self.shuffle, self.generator,
                              self.lengths)
        for index in itertools.islice(order, start, None):
            index = shard(index, rank, world)
            batch = (self.x[index], None if self.y is None else self.y[index])
            yield batch if self.mask is None else (*batch, self.mask[index])

    def state_dict(self):
        return {"generator": self.generator.get_state()} if self.shuffle else {}

    def load_state_dict(self, state):
        if self.shuffle and state.get("generator") is not None:
            self.generator.set_state(state["generator"])

    def signature(self):
        return {**super().signature(), "batch_size": self.batch_size}
