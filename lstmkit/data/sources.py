"""Where a training loop's batches come from: one small protocol.

The loop asks a source for "the batches of epoch e, from batch s on, for
process r of n" and needs nothing else about the data, so in-memory arrays,
ragged sequences, windows cut on the fly and language-model streams are all
sources, and none is a special case in the loop (PyTorch's Sampler and
DistributedSampler.set_epoch; awd-lstm-lm's batchify / get_batch).

A batch is a tuple (x, y), (x, y, mask) or (x, y, mask, weights) of tensors:
x the model's input, y its targets (already in the form the loss takes),
mask (N, T) bools with True at real steps, for padding that no layer of the
model marks (or None), weights each sample's (N,) or step's (N, T) weight in
the loss.
"""

import itertools

import torch

from ..errors import InputError
from .batching import batch_indices, check_length_noise


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
        weights: each sample's (or step's) weight in the loss, or None;
            batches are then (x, y, mask, weights).
    """

    def __init__(self, x, y=None, batch_size=32, shuffle=False, seed=0, lengths=None, mask=None,
                 weights=None):
        self.x, self.y, self.mask, self.weights = x, y, mask, weights
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
            if self.weights is not None:
                yield (*batch, None if self.mask is None else self.mask[index],
                       self.weights[index])
            else:
                yield batch if self.mask is None else (*batch, self.mask[index])

    def state_dict(self):
        return {"generator": self.generator.get_state()} if self.shuffle else {}

    def load_state_dict(self, state):
        if self.shuffle and state.get("generator") is not None:
            self.generator.set_state(state["generator"])

    def signature(self):
        return {**super().signature(), "batch_size": self.batch_size,
                "weighted": self.weights is not None}


class SequenceBatches(BatchSource):
    """Variable-length sequences of feature vectors, or of token ids, each
    batch padded after its real steps to its own longest row, with the mask
    that marks them.

    Args:
        sequences: one array or tensor (steps, features) per sample; the
            lengths may differ, the features may not. Checked whole here:
            empty sequences and NaN or inf are refused, naming the sample.
            Or one 1-D integer sequence of ids (steps,) per sample, for a
            model that starts with an Embedding: batches are then (N, T_batch)
            int64 ids, padded with 0.
        y: one target per sample (a tensor or array in the form the loss
            takes: class ids for sparse cross-entropy), or None for inputs
            only (prediction; batches then hold y None).
        batch_size: samples per batch (the last one may be smaller).
        shuffle: a new order each epoch, from a generator seeded with `seed`.
        seed: that generator's seed. Default 0.
        bucket: batch samples of similar lengths so that little of a batch
            is padding: with shuffle, sorted within chunks of 50 shuffled
            batches, then the batches shuffled (as `fit(bucket_by_length=True)`);
            without, all samples sorted by length (the batches of `index_batches`
            say which samples each holds). Default True.
        length_noise: with bucket and shuffle, the spread of the factor that
            scales each length before the sort (batch_indices), so that the
            batches mix samples of neighbouring lengths anew each epoch;
            0 to below 1, default 0 (sorted exactly); nothing without
            shuffle.

    Yields (x (N, T_batch, F) float32 or (N, T_batch) int64 ids, y[index],
    mask (N, T_batch) bool).
    """

    def __init__(self, sequences, y=None, batch_size=32, shuffle=False, seed=0, bucket=True,
                 length_noise=0.0):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"batch_size must be a positive int, got {batch_size!r}")
        self.length_noise = check_length_noise(length_noise)
        self.sequences = [_sequence(s, i) for i, s in enumerate(sequences)]
        if not self.sequences:
            raise InputError("sequences is empty: no samples")
        ids = self.sequences[0].dim() == 1
        features = None if ids else self.sequences[0].shape[1]
        for i, s in enumerate(self.sequences):
            if (s.dim() == 1) != ids:
                raise InputError(f"sequence {i} is {'not ' if ids else ''}a 1-D sequence of ids, "
                                 f"sequence 0 is{'' if ids else ' not'}")
            if not ids and s.shape[1] != features:
                raise InputError(f"sequence {i} has {s.shape[1]} features per step, sequence 0 "
                                 f"has {features}")
        self.lengths = torch.tensor([len(s) for s in self.sequences])
        self.y = None if y is None else torch.as_tensor(y)
        if self.y is not None and len(self.y) != len(self.sequences):
            raise InputError(f"sequences and y hold different numbers of samples: "
                             f"{len(self.sequences)} and {len(self.y)}")
        self.batch_size, self.shuffle, self.bucket = batch_size, bool(shuffle), bool(bucket)
        self.generator = torch.Generator().manual_seed(seed)
        self.samples = len(self.sequences)
        self.features = features

    def __len__(self):
        return -(-self.samples // self.batch_size)

    def index_batches(self):
        """The sample indices of each batch of the next epoch, drawn now."""
        if self.shuffle:  # shuffled, batch_indices gives index tensors
            return list(batch_indices(self.samples, self.batch_size, True, self.generator,
                                      self.lengths if self.bucket else None, self.length_noise))
        order = (torch.argsort(self.lengths, stable=True) if self.bucket
                 else torch.arange(self.samples))
        return list(order.split(self.batch_size))

    def batches(self, epoch, start=0, rank=0, world=1):
        for index in itertools.islice(self.index_batches(), start, None):
            yield self.batch(shard(index, rank, world))

    def batch(self, index):
        """(x, y, mask) of the samples `index`, padded after their real steps."""
        rows = [self.sequences[i] for i in index.tolist()]
        x = torch.nn.utils.rnn.pad_sequence(rows, batch_first=True)  # (N, T_batch, F)
        lengths = self.lengths[index]
        mask = torch.arange(x.shape[1])[None] < lengths[:, None]  # (N, T_batch)
        return x, None if self.y is None else self.y[index], mask

    def state_dict(self):
        return {"generator": self.generator.get_state()} if self.shuffle else {}

    def load_state_dict(self, state):
        if self.shuffle and state.get("generator") is not None:
            self.generator.set_state(state["generator"])

    def signature(self):
        noisy = self.length_noise and self.shuffle and self.bucket  # else it changes nothing
        noise = {"length_noise": self.length_noise} if noisy else {}
        return {**super().signature(), "batch_size": self.batch_size, "bucket": self.bucket,
                **noise}


def _sequence(s, i):
    """Sample i as a float32 tensor (steps, features), or 1-D int64 ids, checked."""
    try:
        t = torch.as_tensor(s.detach() if isinstance(s, torch.Tensor) else s)
    except (TypeError, ValueError, RuntimeError) as e:
        raise InputError(f"sequence {i} cannot be read as numbers: {e}") from None
    if t.is_complex() or t.dtype == torch.bool:
        raise InputError(f"sequence {i} must hold real numbers, got dtype {t.dtype}")
    if t.dim() == 1 and not t.is_floating_point():  # token ids
        if len(t) == 0:
            raise InputError(f"sequence {i} is empty: no ids")
        if (t < 0).any():
            raise InputError(f"sequence {i} holds a negative id: {int(t.min())}")
        return t.to(torch.int64).contiguous()
    if t.dim() != 2:
        raise InputError(f"sequence {i} must be (steps, features), got shape {tuple(t.shape)}")
    if len(t) == 0 or t.shape[1] == 0:
        raise InputError(f"sequence {i} is empty: shape {tuple(t.shape)}")
    t = t.to(torch.float32)
    bad = ~torch.isfinite(t)
    if bad.any():
        step, feature = (int(v) for v in bad.nonzero()[0])
        raise InputError(f"sequence {i} holds {int(bad.sum())} NaN or infinite value(s); the "
                         f"first at step {step}, feature {feature}")
    return t.contiguous()
