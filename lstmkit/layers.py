"""The LSTM cell equations and the Keras-style layers built on them.

Every layer is a `torch.nn.Module` whose parameters are created by
`build(input_shape)` once the size of its input is known, so a `Sequential`
infers sizes at its first call and the user never repeats them. Shapes below
exclude the batch axis; a `None` axis has a length that may vary (timesteps).
Layers take and return a padding mask, (N, T) booleans with True at real
steps, so masking flows through a model the way Keras users expect.
"""

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .errors import InputError, InputTypeError
from .initializers import check_initializer, initialize


def lstm_cell(x, h, c, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """One LSTM step, the gate equations written out.

    Weight names and gate order (input, forget, candidate, output) are those of
    `torch.nn.LSTM`, so this cell and the fused kernel read one state dict:
    weight_ih is (4H, F), weight_hh is (4H, H), the biases are (4H,).

        i = sigmoid(W_ii x + W_hi h + b_i)      input gate
        f = sigmoid(W_if x + W_hf h + b_f)      forget gate
        g = tanh(W_ig x + W_hg h + b_g)         candidate cell
        o = sigmoid(W_io x + W_ho h + b_o)      output gate
        c' = f * c + i * g
        h' = o * tanh(c')

    x is (N, F); h and c are (N, H). Returns (h', c').
    """
    gates = x @ weight_ih.T + h @ weight_hh.T  # (N, 4H)
    if bias_ih is not None:
        gates = gates + bias_ih + bias_hh
    i, f, g, o = gates.chunk(4, dim=-1)  # each (N, H)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c + i * g
    h = o * torch.tanh(c)
    return h, c


def _check_positive_int(value, argument, upper=2**20):
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputTypeError(f"{argument} must be an int, got {type(value).__name__} {value!r}")
    if not 1 <= value <= upper:
        raise InputError(f"{argument} must be between 1 and {upper}, got {value}")


class Layer(nn.Module):
    """Base of lstmkit's layers: build on first use, carry a mask, describe itself.

    Subclasses implement `build` (create parameters for a given input shape),
    `output_shape`, `forward(x, mask=None)` and `get_config` (the constructor
    arguments, JSON-serialisable, saved with the model).
    """

    def __init__(self):
        super().__init__()
        self.built = False
        self.input_shape = None

    def build(self, input_shape):
        self.input_shape = tuple(input_shape)
        self.built = True

    def output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_mask(self, x, mask):
        """The mask that goes on to the next layer, given this layer's input
        and incoming mask (by default, unchanged)."""
        return mask

    def check_input(self, x, argument="x"):
        """Check a whole data set before training; raise InputError with the reason."""

    def get_config(self):
        return {}

    def extra_repr(self):
        return ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())


class Embedding(Layer):
    """Maps integer ids in [0, input_dim) to dense vectors of size output_dim.

    Args:
        input_dim: vocabulary size (largest id + 1).
        output_dim: size of each vector.
        mask_zero: treat id 0 as padding and pass a mask to the layers that
            follow (default False, as in Keras).
        embeddings_initializer: default 'uniform' (Keras: uniform in +-0.05).

    Input (N, T) integers; output (N, T, output_dim).
    """

    def __init__(self, input_dim, output_dim, mask_zero=False, embeddings_initializer="uniform"):
        super().__init__()
        _check_positive_int(input_dim, "Embedding input_dim", upper=2**26)
        _check_positive_int(output_dim, "Embedding output_dim")
        self.input_dim, self.output_dim, self.mask_zero = input_dim, output_dim, bool(mask_zero)
        self.embeddings_initializer = check_initializer(
            embeddings_initializer, "embeddings_initializer"
        )

    def build(self, input_shape):
        self.embedding = nn.Embedding(self.input_dim, self.output_dim)
        initialize(self.embedding.weight, self.embeddings_initializer)
        super().build(input_shape)

    def output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def forward(self, x, mask=None):
        return self.embedding(x)

    def compute_mask(self, x, mask):
        return (x != 0) if self.mask_zero else mask

    def check_input(self, x, argument="x"):
        if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
            raise InputError(f"Embedding expects integer ids in {argument}, got dtype {x.dtype}")
        if x.numel() == 0:
            return
        low, high = int(x.min()), int(x.max())
        if low < 0 or high >= self.input_dim:
            bad = low if low < 0 else high
            where = tuple(int(i) for i in (x == bad).nonzero()[0])
            raise InputError(
                f"Embedding ids in {argument} must lie in [0, {self.input_dim}) (input_dim), "
                f"got {bad} at index {where}"
            )

    def get_config(self):
        return {
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "mask_zero": self.mask_zero,
            "embeddings_initializer": self.embeddings_initializer,
        }


class LSTM(Layer):
    """Long short-term memory layer over (samples, timesteps, features) input.

    Args:
        units: size of the hidden and cell state, H.
        return_sequences: return the output of every step, (N, T, H), instead
            of the last one, (N, H). Default False.
        return_state: also return the final states: (output, h, c), with h and
            c of shape (N, H). Default False.
        impl: 'fused' runs torch.nn.LSTM (oneDNN on CPU, cuDNN on GPU);
            'reference' loops over `lstm_cell` in Python, for inspection and
            tests. Both read the same parameters. Default 'fused'.
        kernel_initializer: input weights, default 'glorot_uniform' (Keras).
        recurrent_initializer: recurrent weights, default 'orthogonal' (Keras).
        bias_initializer: default 'zeros'.
        unit_forget_bias: add 1 to the forget-gate bias at initialisation
            (Jozefowicz et al. 2015; Keras' default). Default True.

    With a mask (from `Embedding(mask_zero=True)`), padded steps are skipped:
    the state carries over them, the output at a masked step is zero, and the
    last output is that of each sample's last real step.
    """

    def __init__(
        self,
        units,
        return_sequences=False,
        return_state=False,
        impl="fused",
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
    ):
        super().__init__()
        _check_positive_int(units, "LSTM units")
        if impl not in ("fused", "reference"):
            raise InputError(f"LSTM impl must be 'fused' or 'reference', got {impl!r}")
        self.units = units
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.impl = impl
        self.kernel_initializer = check_initializer(kernel_initializer, "kernel_initializer")
        self.recurrent_initializer = check_initializer(
            recurrent_initializer, "recurrent_initializer"
        )
        self.bias_initializer = check_initializer(bias_initializer, "bias_initializer")
        self.unit_forget_bias = bool(unit_forget_bias)

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise InputError(
                "LSTM expects input of shape (samples, timesteps, features), got "
                f"{len(input_shape) + 1}-D input (samples, {', '.join(map(str, input_shape))})"
            )
        self.lstm = nn.LSTM(input_shape[-1], self.units, batch_first=True)
        initialize(self.lstm.weight_ih_l0, self.kernel_initializer)
        initialize(self.lstm.weight_hh_l0, self.recurrent_initializer)
        initialize(self.lstm.bias_ih_l0, self.bias_initializer)
        # torch keeps two bias vectors that are added; Keras has one. Put the
        # whole bias (and the forget-gate 1.0) in bias_ih, keep bias_hh zero.
        nn.init.zeros_(self.lstm.bias_hh_l0)
        if self.unit_forget_bias:
            with torch.no_grad():
                self.lstm.bias_ih_l0[self.units : 2 * self.units] += 1.0
        super().build(input_shape)

    def output_shape(self, input_shape):
        steps = input_shape[0]
        return (steps, self.units) if self.return_sequences else (self.units,)

    def compute_mask(self, x, mask):
        return mask if self.return_sequences else None

    def check_input(self, x, argument="x"):
        if x.dim() != 3:
            raise InputError(
                f"LSTM expects {argument} of shape (samples, timesteps, features), got "
                f"{x.dim()}-D input of shape {tuple(x.shape)}"
                + ("; for one feature per step use x[..., None]" if x.dim() == 2 else "")
            )

    def forward(self, x, mask=None, initial_state=None):
        """x (N, T, F); mask (N, T) bool or None; initial_state (h0, c0), each (N, H)."""
        self.check_input(x)
        if x.shape[-1] != self.lstm.input_size:
            raise InputError(
                f"LSTM was built for {self.lstm.input_size} features per step, got {x.shape[-1]}"
            )
        N, T, _ = x.shape
        if initial_state is None:
            h0 = c0 = x.new_zeros(N, self.units)
        else:
            h0, c0 = initial_state
        if self.impl == "reference":
            out, h, c = self._reference(x, h0, c0, mask)
        elif mask is None:
            out, (h, c) = self.lstm(x, (h0[None], c0[None]))  # states (1, N, H)
            h, c = h[0], c[0]
        else:
            out, h, c = self._fused_masked(x, h0, c0, mask)
        y = out if self.return_sequences else h
        return (y, h, c) if self.return_state else y

    def _reference(self, x, h, c, mask):
        p = self.lstm
        outputs = []
        for t in range(x.shape[1]):
            h_new, c_new = lstm_cell(
                x[:, t], h, c, p.weight_ih_l0, p.weight_hh_l0, p.bias_ih_l0, p.bias_hh_l0
            )
            if mask is None:
                h, c = h_new, c_new
                outputs.append(h)
            else:
                m = mask[:, t, None]  # (N, 1): carry the state over padded steps
                h, c = torch.where(m, h_new, h), torch.where(m, c_new, c)
                outputs.append(h_new * m)
        return torch.stack(outputs, dim=1), h, c  # (N, T, H)

    def _fused_masked(self, x, h0, c0, mask):
        """Run the fused kernel on the real steps only, wherever the padding is.

        Real steps are moved to the front of each row (a stable sort keeps
        their order), packed by length, run, and scattered back; this gives
        the same result for left and right padding.
        """
        N, T, F_ = x.shape
        order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)  # (N, T)
        x_front = x.gather(1, order[..., None].expand(N, T, F_))  # real steps first
        lengths = mask.sum(1)
        empty = lengths == 0  # fully padded samples: zero output, initial state kept
        packed = pack_padded_sequence(
            x_front, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False
        )
        out, (h, c) = self.lstm(packed, (h0[None], c0[None]))
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)  # (N, T, H)
        h, c = h[0], c[0]
        if empty.any():
            keep = empty[:, None]
            h, c = torch.where(keep, h0, h), torch.where(keep, c0, c)
        if not self.return_sequences:
            return out, h, c
        front_mask = torch.arange(T, device=x.device)[None] < lengths[:, None]  # (N, T)
        out = out * front_mask[..., None]
        back = torch.zeros_like(out).scatter(1, order[..., None].expand_as(out), out)
        return back, h, c

    def get_config(self):
        return {
            "units": self.units,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "impl": self.impl,
            "kernel_initializer": self.kernel_initializer,
            "recurrent_initializer": self.recurrent_initializer,
            "bias_initializer": self.bias_initializer,
            "unit_forget_bias": self.unit_forget_bias,
        }


class Dropout(Layer):
    """Zeroes each element with probability `rate` during training, scaling the
    rest by 1 / (1 - rate); does nothing at evaluation."""

    def __init__(self, rate):
        super().__init__()
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise InputError(f"Dropout rate must be a number in [0, 1), got {rate!r}")
        self.rate = float(rate)

    def forward(self, x, mask=None):
        return F.dropout(x, self.rate, self.training)

    def get_config(self):
        return {"rate": self.rate}


ACTIVATIONS = {
    "linear": None,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "softmax": lambda x: torch.softmax(x, dim=-1),
}


class Dense(Layer):
    """A fully connected layer, `activation(x @ W.T + b)`, on the last axis.

    Args:
        units: output size.
        activation: one of 'linear' (or None), 'sigmoid', 'tanh', 'relu',
            'softmax'. Default None.
        kernel_initializer: default 'glorot_uniform'; bias_initializer: 'zeros'.

    Input (..., F); output (..., units), so it applies per step to a sequence.
    """

    def __init__(
        self, units, activation=None, kernel_initializer="glorot_uniform", bias_initializer="zeros"
    ):
        super().__init__()
        _check_positive_int(units, "Dense units")
        activation = "linear" if activation is None else activation
        if activation not in ACTIVATIONS:
            raise InputError(
                f"Dense activation: unknown name {activation!r}; known: "
                f"{', '.join(ACTIVATIONS)} or None"
            )
        self.units, self.activation = units, activation
        self.kernel_initializer = check_initializer(kernel_initializer, "kernel_initializer")
        self.bias_initializer = check_initializer(bias_initializer, "bias_initializer")

    def build(self, input_shape):
        if len(input_shape) < 1:
            raise InputError("Dense expects input with a feature axis, got a scalar per sample")
        self.linear = nn.Linear(input_shape[-1], self.units)
        initialize(self.linear.weight, self.kernel_initializer)
        initialize(self.linear.bias, self.bias_initializer)
        super().build(input_shape)

    def output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def forward(self, x, mask=None, activation=True):
        """With activation=False, return the pre-activation (logits), which the
        losses use for numerically stable cross-entropy."""
        y = self.linear(x)
        fn = ACTIVATIONS[self.activation]
        return fn(y) if activation and fn is not None else y

    def get_config(self):
        return {
            "units": self.units,
            "activation": self.activation,
            "kernel_initializer": self.kernel_initializer,
            "bias_initializer": self.bias_initializer,
        }


LAYERS = {cls.__name__: cls for cls in (Embedding, LSTM, Dropout, Dense)}
