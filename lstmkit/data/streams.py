"""Batches for truncated backpropagation through time over a token stream.

The corpus is laid out as `batch_size` parallel streams, stream b holding
tokens [b * n, (b + 1) * n) with n = len(tokens) // batch_size (the tail
that does not fill a row is dropped), and cut into windows of `bptt` steps:
window i is x = streams[:, i : i + T], y = streams[:, i + 1 : i + 1 + T],
exactly awd-lstm-lm's `batchify` and `get_batch` (Merity et al. 2017;
Zaremba et al. 2014) with the batch first. Consecutive windows continue
the same streams, so the source sets `carries_state`: the training loop
carries the LSTM's state from window to window, detached, and starts each
epoch (and each evaluation) from zeros.

Windows are read from the (memory-mapped) token array when they are used,
so the corpus never has to be in memory.
"""

import numpy as np
import torch

from ..errors import InputError
from .sources import BatchSource


class StreamBatches(BatchSource):
    """A token stream as BPTT windows (see the module's docstring).

    Args:
        tokens: 1-D integer array (a NumPy memmap from lstmkit.data.corpus,
            an array, a tensor or a list).
        batch_size: parallel streams. Under several processes, each takes
            its own contiguous share of them (`batches(rank=, world=)`).
        bptt: steps per window.
        variable: draw each window's length as awd-lstm-lm does (Merity et
            al. 2017, section 4.1): bptt with probability 0.95, else bptt/2,
            then a normal draw around it with standard deviation 5, at least
            5 and at most 2 * bptt. The lengths of epoch e come from a
            generator seeded with (seed, e), so every process and a resumed
            run cut the same windows. Default False.
        seed: that generator's seed.

    Yields (x, y): (N, T) int64 ids and the next ids.
    """

    carries_state = True

    def __init__(self, tokens, batch_size, bptt, variable=False, seed=0):
        for name, value in (("batch_size", batch_size), ("bptt", bptt)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a positive int, got {value!r}")
        self.tokens = tokens if isinstance(tokens, np.ndarray) else np.asarray(tokens)
        if self.tokens.ndim != 1:
            raise InputError(f"tokens must be a 1-D stream, got shape {self.tokens.shape}")
        self.batch_size, self.bptt, self.variable, self.seed = batch_size, bptt, variable, seed
        self.length = len(self.tokens) // batch_size  # steps per stream
        if self.length < 2:
            raise InputError(
                f"the stream holds {len(self.tokens)} token(s): too few for {batch_size} "
                f"parallel streams of at least 2 tokens each; lower the batch size")
        if bptt > self.length - 1:
            raise InputError(
                f"bptt {bptt} is longer than each of the {batch_size} streams can give "
                f"({len(self.tokens)} tokens / {batch_size} streams = {self.length} steps, "
                f"{self.length - 1} of them with a next token); lower bptt or the batch size")
        self.epoch = 0  # the epoch whose windows len() counts
        self.starts = np.arange(batch_size, dtype=np.int64) * self.length  # (B,)

    def windows(self, epoch):
        """[(start step, steps), ...] of `epoch`'s windows over the streams."""
        last = self.length - 1  # steps that have a next token
        if not self.variable:
            return [(i, min(self.bptt, last - i)) for i in range(0, last, self.bptt)]
        rng = np.random.default_rng([self.seed, epoch])
        out, i = [], 0
        while i < last:
            mean = self.bptt if rng.random() < 0.95 else self.bptt / 2
            steps = int(np.clip(round(rng.normal(mean, 5)), 5, 2 * self.bptt))
            steps = min(steps, last - i)
            out.append((i, steps))
            i += steps
        return out

    @property
    def samples(self):
        """Stream rows an epoch, as the progress bar counts them (one per window and stream)."""
        return len(self) * self.batch_size

    def __len__(self):
        return len(self.windows(self.epoch))

    def window(self, start, steps, rows):
        """(x, y) of one window for stream rows `rows` (an index array)."""
        index = self.starts[rows, None] + np.arange(start, start + steps + 1)  # (N, T + 1)
        ids = torch.from_numpy(np.asarray(self.tokens[index], dtype=np.int64))
        return ids[:, :-1], ids[:, 1:]

    def batches(self, epoch, start=0, rank=0, world=1):
        self.epoch = epoch
        rows = np.array_split(np.arange(self.batch_size), world)[rank]
        if len(rows) == 0:
            raise InputError(f"{world} processes share {self.batch_size} streams: give each at "
                             "least one (a batch size of at least the number of processes)")
        windows = self.windows(epoch)
        self.epoch = epoch + 1  # len() now counts the next epoch's windows
        for begin, steps in windows[start:]:
            yield self.window(begin, steps, rows)

    def state_dict(self):
        return {"epoch": self.epoch}

    def load_state_dict(self, state):
        self.epoch = int(state.get("epoch", 0))

    def signature(self):
        return {"class": type(self).__name__, "tokens": int(len(self.tokens)),
                "batch_size": self.batch_size, "bptt": self.bptt,
                "variable": bool(self.variable), "seed": self.seed if self.variable else None,
                "samples": None}
