"""From user data (arrays, tensors, ragged lists) to tensors, and to batches.

Everything is converted once, up front, so the training loop only slices
pre-built tensors: no per-sample Python work inside an epoch.
"""

import numbers

import numpy as np
import torch

from ..errors import InputError, InputTypeError


def pad_sequences(sequences, maxlen=None, dtype="int64", padding="pre", truncating="pre", value=0):
    """Pad (and cut) variable-length sequences to one length, as Keras does.

    Args:
        sequences: a list of sequences of numbers (or of feature vectors).
        maxlen: length of the result; default the longest sequence.
        padding, truncating: 'pre' (default, as in Keras: the real steps end
            at the last position, where an unmasked LSTM reads its output) or
            'post'.
        value: the padding value.

    Returns a NumPy array (samples, maxlen, ...).
    """
    for argument, choice in (("padding", padding), ("truncating", truncating)):
        if choice not in ("pre", "post"):
            raise InputError(f"{argument} must be 'pre' or 'post', got {choice!r}")
    if maxlen is not None and (not isinstance(maxlen, numbers.Integral) or maxlen < 1):
        raise InputError(f"maxlen must be a positive int or None, got {maxlen!r}")
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__iter__") or (
            getattr(sequences, "ndim", 1) == 0):
        raise InputTypeError(
            f"sequences must be a list of sequences, got {type(sequences).__name__}")
    arrays = []
    for i, seq in enumerate(sequences):
        try:
            a = np.asarray(seq)
            if a.dtype == object or a.dtype.kind in "cUSV":
                raise TypeError(f"dtype {a.dtype}")
            with np.errstate(invalid="raise", over="raise"):
                a = a.astype(dtype)
        except (TypeError, ValueError, OverflowError, FloatingPointError) as e:
            raise InputError(f"sequence {i} cannot be read as {dtype} numbers: {e}") from None
        if a.ndim == 0:
            raise InputError(f"sequence {i} is a single number, expected a sequence")
        arrays.append(a)
    if not arrays:
        raise InputError("no sequences to pad: the data set is empty")
    step_shape = arrays[0].shape[1:]
    for i, a in enumerate(arrays):
        if a.shape[1:] != step_shape:
            raise InputError(
                f"sequence {i} has steps of shape {a.shape[1:]}, sequence 0 has {step_shape}"
            )
    length = maxlen or max(len(a) for a in arrays)
    if length == 0:  # a model cannot run zero steps; some empty sequences are just padding
        raise InputError(f"all {len(arrays)} sequences are empty: there are no steps to pad")
    out = np.full((len(arrays), length) + step_shape, value, dtype=dtype)
    for i, a in enumerate(arrays):
        a = a[-length:] if truncating == "pre" else a[:length]
        if len(a):
            if padding == "pre":
                out[i, length - len(a) :] = a
            else:
                out[i, : len(a)] = a
    return out


def _is_ragged(data):
    lengths = set()
    for item in data:
        if isinstance(item, (str, bytes)) or not hasattr(item, "__len__") or (
                getattr(item, "ndim", 1) == 0):  # a 0-d array or tensor has __len__ but no length
            return False
        lengths.add(len(item))
    return len(lengths) > 1


def to_tensor(data, argument, integer=None):
    """Convert arrays, tensors or (ragged) lists to a torch tensor.

    Args:
        data: what the user passed in, (samples, ...).
        argument: its name in error messages ('x', 'validation y').
        integer: True for ids (the input of an Embedding): whole floats are
            accepted and become int64, other floats are refused. False for
            values (the input of any other first layer): integers and floats
            alike become float32, as Keras casts a layer's input to its
            dtype. None (targets): integers stay integers (class ids), floats
            become float32.

    Ragged lists of sequences are padded with `pad_sequences` (zeros before).
    Data without samples, or whose samples hold nothing (an axis of length 0:
    sequences of no steps, steps of no features), is refused: no layer can
    run on it.
    """
    if isinstance(data, torch.Tensor):
        t = data.detach()
        if t.is_complex():
            raise InputTypeError(f"{argument} must be real numbers, got dtype {t.dtype}")
    else:
        if isinstance(data, (list, tuple)) and data and _is_ragged(data):
            data = pad_sequences(data, dtype="float64")
        try:
            a = np.asarray(data)
        except (ValueError, TypeError, RuntimeError) as e:  # e.g. a list of bfloat16 tensors
            raise InputError(f"{argument} cannot be read as an array: {e}") from None
        if a.dtype == object or a.dtype.kind in "USVM":
            raise InputTypeError(
                f"{argument} must hold numbers, got an array of dtype {a.dtype}"
                " (ragged nesting, strings or mixed types)"
            )
        if a.dtype.kind == "c":
            raise InputTypeError(f"{argument} must be real numbers, got dtype {a.dtype}")
        if a.dtype.kind == "f":
            with np.errstate(over="ignore"):  # beyond float32's range becomes inf, refused below
                a = a.astype(np.float32, copy=False)
        elif a.dtype.kind == "u" and a.dtype.itemsize >= 4:  # torch lacks most uint32/64 ops
            if a.size and a.max() > np.iinfo(np.int64).max:
                raise InputError(f"{argument} holds integers beyond the int64 range")
            a = a.astype(np.int64)
        t = torch.from_numpy(np.ascontiguousarray(a))
    if t.dim() == 0:
        raise InputError(f"{argument} must have a samples axis, got a single number")
    if len(t) == 0:
        raise InputError(f"{argument} is empty: no samples")
    if t.numel() == 0:
        axis = t.shape.index(0)
        raise InputError(
            f"{argument} has shape {tuple(t.shape)}: axis {axis} has length 0, so every sample is "
            "empty (sequences of no steps, or steps of no features)")
    if t.dtype == torch.bool:
        t = t.to(torch.int64 if integer else torch.float32)
    if integer:
        if t.is_floating_point():
            check_finite(t, argument)
            if not torch.equal(t, t.round()):
                raise InputError(f"{argument} must hold integer ids, got non-integer values")
        return t.to(torch.int64)
    return t.to(torch.float32) if integer is False or t.is_floating_point() else t


def check_finite(t, argument):
    """Raise InputError naming the first NaN or infinite value and its index."""
    if not t.is_floating_point():
        return
    bad = ~torch.isfinite(t)
    if bad.any():
        where = tuple(int(i) for i in bad.nonzero()[0])
        raise InputError(
            f"{argument} contains {int(bad.sum())} non-finite value(s) (NaN or inf); "
            f"the first is {t[where].item()} at index {where}"
        )


BUCKET_BATCHES = 50  # batches per chunk sorted by length when bucketing


def check_length_noise(length_noise):
    """batch_indices' length_noise as a float, or InputError: 0 to below 1."""
    if (isinstance(length_noise, bool) or not isinstance(length_noise, (int, float))
            or not 0 <= length_noise < 1):
        raise InputError(f"length_noise must be a number from 0 to below 1, got "
                         f"{length_noise!r}")
    return float(length_noise)


def batch_indices(n, batch_size, shuffle=False, generator=None, lengths=None, length_noise=0.0):
    """Yield index tensors (shuffled) or slices (in order) covering range(n).

    With `lengths` (and shuffle), batches hold samples of similar lengths:
    the shuffled samples are sorted by length within chunks of 50 batches,
    and the batches are then shuffled, so masked batches carry little
    padding while every epoch still sees a new order.

    `length_noise` (0 to below 1): where the lengths differ, each is scaled
    by a factor drawn uniformly in [1 - length_noise, 1 + length_noise]
    before the sort (AllenNLP's padding_noise), so that a batch's company
    changes from epoch to epoch. Sorted exactly (0, the default), a data set
    of fewer than 50 batches is batched the same way every epoch (ties of
    equal lengths aside), and where length goes with the class, each batch
    holds few classes; batch normalisation and the gradient then see the
    same few groups throughout.
    """
    if not shuffle:
        for start in range(0, n, batch_size):
            yield slice(start, min(start + batch_size, n))
        return
    order = torch.randperm(n, generator=generator)
    if lengths is None:
        for start in range(0, n, batch_size):
            yield order[start : start + batch_size]
        return
    key = lengths
    if check_length_noise(length_noise) and lengths.min() < lengths.max():  # else nothing to sort
        key = lengths * (1 + length_noise * (2 * torch.rand(n, generator=generator) - 1))
    chunk = BUCKET_BATCHES * batch_size
    pieces = [c[torch.argsort(key[c], stable=True)] for c in order.split(chunk)]
    groups = torch.cat(pieces).split(batch_size)
    for i in torch.randperm(len(groups), generator=generator).tolist():
        yield groups[i]
