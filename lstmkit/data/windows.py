"""Series cut into (input window, following horizon) pairs: the samples x
timesteps x features table a forecaster trains on, and a batch source of
such windows.

`make_windows` returns strided views of the series (no copies) where it
can: one series, 1-D or 2-D. Several series of different lengths cannot
share one strided array, so a list is windowed series by series and the
windows concatenated (a copy), with the series each window comes from.
"""

import itertools

import numpy as np
import torch

from ..errors import InputError
from .sources import BatchSource, shard


def make_windows(series, timesteps, horizon, stride=1):
    """Inputs and targets of every window of `series`.

    Args:
        series: a 1-D array (steps,), a 2-D array (steps, features), or a
            list of such arrays (lengths may differ, features may not).
        timesteps: steps in each input window.
        horizon: steps each window's target holds, right after its input.
        stride: steps between the starts of consecutive windows.

    Returns (x, y) for one series: x (samples, timesteps, features) and y
    (samples, horizon) for a 1-D series, (samples, horizon, features) for a
    2-D one, both views of `series` when it is a NumPy array. For a list:
    (x, y, which), `which` (samples,) the index of each window's series.
    A series too short for one window is an error that says the minimum.
    """
    for name, value, low in (("timesteps", timesteps, 1), ("horizon", horizon, 1),
                             ("stride", stride, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise InputError(f"{name} must be an int of at least {low}, got {value!r}")
    if isinstance(series, (list, tuple)):
        parts = [make_windows(np.asarray(s), timesteps, horizon, stride) for s in series]
        shapes = {p[0].shape[2:] for p in parts}
        if len(shapes) > 1:
            raise InputError(f"the series hold different numbers of features: {sorted(shapes)}")
        x = np.concatenate([p[0] for p in parts])
        y = np.concatenate([p[1] for p in parts])
        which = np.concatenate([np.full(len(p[0]), i) for i, p in enumerate(parts)])
        return x, y, which
    a = np.asarray(series)
    if a.ndim not in (1, 2):
        raise InputError(f"a series must be 1-D (steps,) or 2-D (steps, features), got shape "
                         f"{a.shape}")
    needed = timesteps + horizon
    if len(a) < needed:
        raise InputError(f"the series has {len(a)} steps; windows of {timesteps} input steps and "
                         f"a horizon of {horizon} need at least {needed}")
    column = a if a.ndim == 2 else a[:, None]  # (steps, F), a view
    w = np.lib.stride_tricks.sliding_window_view(column, needed, axis=0)  # (S, F, T + H)
    w = w.transpose(0, 2, 1)[::stride]  # (S, T + H, F), still a view
    x, y = w[:, :timesteps], w[:, timesteps:]
    return x, (y[..., 0] if a.ndim == 1 else y)


class WindowBatches(BatchSource):
    """Batches of windows drawn at random, a fixed number per epoch.

    Forecasting data sets range from a few dozen windows to thousands, so an
    epoch here is `batches_per_epoch` batches of windows drawn with
    replacement (N-BEATS trains on windows sampled this way), which makes
    early stopping's patience mean the same on every series.

    Args:
        x: (samples, timesteps, features) inputs, y: (samples, ...) targets,
            mask: (samples, timesteps) bools, True at real steps, or None.
        batch_size: windows per batch.
        batches_per_epoch: batches in one epoch; None: one pass over the
            windows in a shuffled order (without replacement).
        shuffle: draw at random (False: in order, one pass; for validation).
        seed: the generator's seed.
    """

    def __init__(self, x, y, mask=None, batch_size=64, batches_per_epoch=None, shuffle=True,
                 seed=0):
        self.x = torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32)
        self.y = torch.as_tensor(np.ascontiguousarray(y), dtype=torch.float32)
        self.mask = None if mask is None else torch.as_tensor(np.ascontiguousarray(mask))
        if len(self.x) == 0 or len(self.x) != len(self.y):
            raise InputError(f"windows: {len(self.x)} inputs and {len(self.y)} targets")
        self.batch_size, self.shuffle = batch_size, shuffle
        self.batches_per_epoch = batches_per_epoch if shuffle else None
        self.generator = torch.Generator().manual_seed(seed)
        self.samples = (len(self.x) if self.batches_per_epoch is None
                        else self.batches_per_epoch * batch_size)

    def __len__(self):
        if self.batches_per_epoch is not None:
            return self.batches_per_epoch
        return -(-len(self.x) // self.batch_size)

    def index_batches(self):
        n = len(self.x)
        if not self.shuffle:
            return list(torch.arange(n).split(self.batch_size))
        if self.batches_per_epoch is None:
            return list(torch.randperm(n, generator=self.generator).split(self.batch_size))
        draws = torch.randint(n, (self.batches_per_epoch, self.batch_size),
                              generator=self.generator)
        return list(draws)

    def batches(self, epoch, start=0, rank=0, world=1):
        for index in itertools.islice(self.index_batches(), start, None):
            index = shard(index, rank, world)
            batch = (self.x[index], self.y[index])
            mask = None if self.mask is None else self.mask[index]
            # a batch without padding goes unmasked: the LSTM's fused kernel then runs as is
            yield batch if mask is None or bool(mask.all()) else (*batch, mask)

    def state_dict(self):
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state):
        if state.get("generator") is not None:
            self.generator.set_state(state["generator"])

    def signature(self):
        return {**super().signature(), "batch_size": self.batch_size,
                "windows": len(self.x)}
