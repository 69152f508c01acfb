"""The weightless layers Keras models put between the others: Activation,
Flatten, RepeatVector, MaxPooling1D and SpatialDropout1D; and LSTM-FCN's
DimensionShuffle.

Shapes exclude the batch axis, as everywhere in lstmkit.layers. None of
these carries a mask on (a Keras Flatten, RepeatVector or MaxPooling1D drops
it too), except SpatialDropout1D, which keeps the steps it is given, and
MaxPooling1D(keep_mask=True).
"""

import torch
import torch.nn.functional as F

from ..errors import InputError
from ..rnn import front_align
from .core import ACTIVATIONS, Layer, LockedDropout, check_positive_int


class Activation(Layer):
    """Applies an activation by name: 'linear', 'sigmoid', 'tanh', 'relu' or
    'softmax' (on the last axis). Last in a model, its sigmoid or softmax is
    skipped while training so the loss works on logits, as Dense's is."""

    def __init__(self, activation, **keras):
        super().__init__(**keras)
        activation = "linear" if activation is None else activation
        if activation not in ACTIVATIONS:
            raise InputError(f"Activation: unknown name {activation!r}; known: "
                             f"{', '.join(ACTIVATIONS)}")
        self.activation = activation

    def forward(self, x, mask=None, activation=True):
        fn = ACTIVATIONS[self.activation]
        return fn(x) if activation and fn is not None else x

    def get_config(self):
        return {"activation": self.activation}


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...); every axis but the batch's
    must have a fixed size."""

    def __init__(self, **keras):
        super().__init__(**keras)

    def build(self, input_shape):
        if any(d is None for d in input_shape):
            raise InputError(f"Flatten needs fixed sizes, got per-sample shape {tuple(input_shape)}: "
                             "give the model input_shape=(timesteps, ...) or pad to one length")
        super().build(input_shape)

    def output_shape(self, input_shape):
        size = 1
        for d in input_shape:
            size = None if d is None or size is None else size * d
        return (size,)

    def compute_mask(self, x, mask):
        return None

    def forward(self, x, mask=None):
        return x.flatten(1)


class RepeatVector(Layer):
    """(N, F) -> (N, n, F): the same vector at each of n steps (the decoder
    input of Keras' seq2seq examples)."""

    def __init__(self, n, **keras):
        super().__init__(**keras)
        check_positive_int(n, "RepeatVector n")
        self.n = n

    def build(self, input_shape):
        if len(input_shape) != 1:
            raise InputError(f"RepeatVector expects (samples, features) input, got per-sample "
                             f"shape {tuple(input_shape)}")
        super().build(input_shape)

    def output_shape(self, input_shape):
        return (self.n, *input_shape)

    def compute_mask(self, x, mask):
        return None

    def forward(self, x, mask=None):
        return x[:, None].expand(-1, self.n, -1)  # (N, n, F)

    def get_config(self):
        return {"n": self.n}


class MaxPooling1D(Layer):
    """The maximum over windows of `pool_size` steps, every `strides` steps
    (default pool_size), on (N, T, F): Keras' padding 'valid' (windows inside
    the sequence) or 'same' (T / strides windows, rounded up). As in Keras,
    a mask stops here and every step after is real.

    keep_mask=True (lstmkit's; strides and padding left to their defaults):
    windows of pool_size steps side by side from each sample's first step,
    the last one cut short at its last real step rather than dropped, so a
    sample of T real steps gives ceil(T / pool_size) steps; padded steps
    never win a maximum and the mask passes on, so each sample's result is
    the one it gets run alone. This is how the series classifier's serial
    front shortens what its LSTM reads.
    """

    input_rank = 2

    def __init__(self, pool_size=2, strides=None, padding="valid", keep_mask=False, **keras):
        super().__init__(**keras)
        check_positive_int(pool_size, "MaxPooling1D pool_size")
        if strides is not None:
            check_positive_int(strides, "MaxPooling1D strides")
        if padding not in ("valid", "same"):
            raise InputError(f"MaxPooling1D padding must be 'valid' or 'same', got {padding!r}")
        if not isinstance(keep_mask, bool):
            raise InputError(f"MaxPooling1D keep_mask must be True or False, got {keep_mask!r}")
        if keep_mask and (padding != "valid" or strides not in (None, pool_size)):
            raise InputError("MaxPooling1D keep_mask=True takes windows side by side: leave "
                             "strides and padding to their defaults")
        self.pool_size, self.strides, self.padding = pool_size, strides, padding
        self.keep_mask = keep_mask

    @property
    def stride(self):
        return self.strides or self.pool_size

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise InputError(f"MaxPooling1D expects (samples, timesteps, features) input, got "
                             f"per-sample shape {tuple(input_shape)}")
        super().build(input_shape)

    def output_shape(self, input_shape):
        steps, features = input_shape
        if steps is None:
            return (None, features)
        if self.keep_mask:
            return (-(-steps // self.pool_size), features)
        if self.padding == "same":
            return (-(-steps // self.stride), features)
        return (max((steps - self.pool_size) // self.stride + 1, 0), features)

    def compute_mask(self, x, mask):
        if not self.keep_mask or mask is None:
            return None
        return self.windows_mask(x.shape[1], mask.sum(1))

    def windows_mask(self, steps, lengths):
        """(N, ceil(steps / pool_size)) bool: the windows that begin at a real
        step of each row of `lengths` real steps."""
        windows = -(-steps // self.pool_size)
        real = -(-lengths // self.pool_size)  # (N,)
        return torch.arange(windows, device=lengths.device)[None] < real[:, None]

    def forward(self, x, mask=None):
        if self.keep_mask:
            return self.side_by_side(x, mask)
        x = x.transpose(1, 2)  # (N, F, T)
        if self.padding == "same":
            steps = x.shape[-1]
            total = max((-(-steps // self.stride) - 1) * self.stride + self.pool_size - steps, 0)
            x = F.pad(x, (total // 2, total - total // 2), value=float("-inf"))
        return F.max_pool1d(x, self.pool_size, self.stride).transpose(1, 2)  # (N, T', F)

    def side_by_side(self, x, mask):
        """keep_mask's windows: each sample's real steps first (front_align),
        the padding and the steps up to a whole window set to -inf, the
        maximum of each window; windows of no real step are zero."""
        N, T, F_ = x.shape
        windows = -(-T // self.pool_size)
        if mask is not None:
            x, _, lengths = front_align(x, mask)
            real = torch.arange(T, device=x.device)[None] < lengths[:, None]
            x = torch.where(real[..., None], x, -torch.inf)
        x = F.pad(x.transpose(1, 2), (0, windows * self.pool_size - T), value=-torch.inf)
        y = x.reshape(N, F_, windows, self.pool_size).amax(-1).transpose(1, 2)  # (N, T', F)
        if mask is None:
            return y
        return torch.where(self.windows_mask(T, lengths)[..., None], y, 0)

    def get_config(self):
        return {"pool_size": self.pool_size, "strides": self.strides, "padding": self.padding,
                "keep_mask": self.keep_mask}


class DimensionShuffle(Layer):
    """LSTM-FCN's dimension shuffle (Karim et al. 2017), for sequences of any
    length: (N, T, F) -> (N, F, length), each sample's steps after its mask
    zeroed, the time axis padded with zeros or cut to `length` steps, then
    swapped with the features'. A recurrent layer after it reads one step
    per feature, each the whole series, so it sees where in time a value
    lies. Keras writes it Permute((2, 1)) on a model of one fixed length.
    The mask ends here: every feature is a real step."""

    input_rank = 2

    def __init__(self, length, **keras):
        super().__init__(**keras)
        check_positive_int(length, "DimensionShuffle length")
        self.length = length

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise InputError(f"DimensionShuffle expects (samples, timesteps, features) input, "
                             f"got per-sample shape {tuple(input_shape)}")
        super().build(input_shape)

    def output_shape(self, input_shape):
        return (input_shape[-1], self.length)

    def compute_mask(self, x, mask):
        return None

    def forward(self, x, mask=None):
        if mask is not None:  # padding is zero whatever the batch it is padded in
            x = x * mask[..., None].to(x.dtype)
        steps = x.shape[1]
        x = F.pad(x, (0, 0, 0, self.length - steps)) if steps < self.length else x[:, :self.length]
        return x.transpose(1, 2)  # (N, F, length)

    def get_config(self):
        return {"length": self.length}


class SpatialDropout1D(LockedDropout):
    """Keras' name for LockedDropout: whole features dropped, the same at
    every step."""

    def __init__(self, rate, **keras):
        super().__init__(rate, **keras)
