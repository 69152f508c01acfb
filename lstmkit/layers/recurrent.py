"""Recurrent layers: LSTM (fused or reference, stacked, projected, stateful) and
Bidirectional. The recurrence itself lives in lstmkit.rnn."""

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError, InputTypeError
from ..initializers import check_initializer, initialize
from ..rnn import (front_align, fused_lstm, layer_weights, padded_lstm, reference_lstm,
                   run_module, scatter_back)
from .core import Layer, check_positive_int, check_rate


# Which kernel a masked batch takes when masked_impl='auto', by device and pass
# (training or inference). Measured by benchmarks/masking.py; see its results
# and the README for the figures behind each entry.
MASKED_IMPL = {("cpu", True): "padded", ("cpu", False): "padded",
               ("cuda", True): "packed", ("cuda", False): "packed"}


def choose_masked_impl(device_type, training):
    """'padded' or 'packed' for a masked batch on this device and pass."""
    return MASKED_IMPL.get((device_type, training), "packed")


class LSTM(Layer):
    """Long short-term memory layer over (samples, timesteps, features) input.

    Args:
        units: size of the cell state, H (and of the output, without proj_size).
        return_sequences: return the output of every step, (N, T, H), instead
            of the last one, (N, H). Default False.
        return_state: also return the final states: (output, h, c), each state
            (N, H), of the top layer. Default False.
        num_layers: LSTMs stacked inside this layer, each reading the one
            below's outputs. Default 1.
        dropout: dropout on the outputs of each stacked layer but the last
            (training only). Default 0.
        proj_size: project h to this size after each step (LSTMP, Sak et al.
            2014); the output and h are then (…, proj_size). Default 0 (none).
        stateful: start each call from the final state of the previous call,
            sample slot by sample slot, detached from the graph (truncated
            backpropagation through time); `reset_states()` starts afresh.
            Batches must then keep their size and order (fit refuses
            shuffle=True). Default False.
        recurrent_dropout: variational dropout on the recurrent input h (Gal &
            Ghahramani 2016): one mask per sequence, the same at every step.
            The fused kernel has no per-step hook, so training with it runs
            the reference loop (several times slower); evaluation stays fused.
        weight_dropout: DropConnect on the recurrent weight matrices (Merity
            et al. 2017, AWD-LSTM): a new mask on W_hh per batch, training
            only. Keeps the fused kernel.
        masked_impl: how the fused kernel skips padding when a mask comes in:
            'packed' (PackedSequence), 'padded' (real steps moved first, the
            plain kernel over the batch cut to its longest row, the last
            output gathered at each length; one direction, no return_state or
            stateful), or 'auto' (default): the rule in `choose_masked_impl`,
            measured by benchmarks/masking.py.
        impl: 'auto' (default) runs torch.nn.LSTM's fused kernel (oneDNN on
            CPU, cuDNN on GPU) except while training with recurrent_dropout,
            when it runs the reference loop; 'fused' always runs the kernel
            and refuses recurrent_dropout; 'reference' always loops over
            `lstm_cell` in Python, for inspection and tests. All read the
            same parameters.
        kernel_initializer: input weights, default 'glorot_uniform' (Keras).
        recurrent_initializer: recurrent weights, default 'orthogonal' (Keras).
        bias_initializer: default 'zeros'.
        unit_forget_bias: add 1 to the forget-gate bias at initialisation
            (Jozefowicz et al. 2015; Keras' default). Default True.

    With a mask (from `Embedding(mask_zero=True)`), padded steps are skipped,
    wherever they are: the state carries over them, the output at a padded
    step is zero, and the last output is that of each sample's last real step.
    Masked batches are packed for the fused kernel.
    """

    def __init__(
        self,
        units,
        return_sequences=False,
        return_state=False,
        num_layers=1,
        dropout=0.0,
        proj_size=0,
        stateful=False,
        recurrent_dropout=0.0,
        weight_dropout=0.0,
        masked_impl="auto",
        impl="auto",
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
    ):
        super().__init__()
        check_positive_int(units, "LSTM units")
        check_positive_int(num_layers, "LSTM num_layers", upper=64)
        if proj_size:
            check_positive_int(proj_size, "LSTM proj_size", upper=units - 1 if units > 1 else 0)
        for name, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout),
                           ("weight_dropout", weight_dropout)):
            check_rate(rate, f"LSTM {name}")
        if impl not in ("auto", "fused", "reference"):
            raise InputError(f"LSTM impl must be 'auto', 'fused' or 'reference', got {impl!r}")
        if impl == "fused" and recurrent_dropout:
            raise InputError(
                "LSTM impl='fused' cannot apply recurrent_dropout: the fused kernel has no "
                "per-step hook; use impl='auto' (the reference loop while training) or 'reference'"
            )
        self.recurrent_dropout, self.weight_dropout = float(recurrent_dropout), float(weight_dropout)
        if masked_impl not in ("auto", "packed", "padded"):
            raise InputError(
                f"LSTM masked_impl must be 'auto', 'packed' or 'padded', got {masked_impl!r}")
        if masked_impl == "padded" and (return_state or stateful):
            raise InputError("LSTM masked_impl='padded' gives no final cell state: it cannot serve "
                             "return_state or stateful; use 'packed' or 'auto'")
        self.masked_impl = masked_impl
        self.units, self.num_layers, self.proj_size = units, num_layers, proj_size
        self.dropout = float(dropout)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.impl = impl
        self.kernel_initializer = check_initializer(kernel_initializer, "kernel_initializer")
        self.recurrent_initializer = check_initializer(
            recurrent_initializer, "recurrent_initializer"
        )
        self.bias_initializer = check_initializer(bias_initializer, "bias_initializer")
        self.unit_forget_bias = bool(unit_forget_bias)
        self.stateful = bool(stateful)
        self.states = None  # (h, c) carried between calls when stateful
        self.directions = 1  # Bidirectional sets 2 before building

    def reset_states(self):
        """Forget the state a stateful layer carries between calls."""
        self.states = None

    @property
    def output_size(self):
        """Features per step of the output: D * (proj_size or units)."""
        return self.directions * (self.proj_size or self.units)

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise InputError(
                "LSTM expects input of shape (samples, timesteps, features), got "
                f"{len(input_shape) + 1}-D input (samples, {', '.join(map(str, input_shape))})"
            )
        self.lstm = nn.LSTM(input_shape[-1], self.units, num_layers=self.num_layers,
                            dropout=self.dropout if self.num_layers > 1 else 0.0,
                            bidirectional=self.directions == 2, proj_size=self.proj_size,
                            batch_first=True)
        for layer in range(self.num_layers):
            for direction in range(self.directions):
                w_ih, w_hh, b_ih, b_hh, *w_hr = layer_weights(self.lstm, layer, direction)
                initialize(w_ih, self.kernel_initializer)
                initialize(w_hh, self.recurrent_initializer)
                initialize(b_ih, self.bias_initializer)
                for w in w_hr:
                    initialize(w, self.kernel_initializer)
                # torch keeps two bias vectors that are added; Keras has one. Put
                # the whole bias (and the forget-gate 1.0) in bias_ih, bias_hh zero.
                nn.init.zeros_(b_hh)
                if self.unit_forget_bias:
                    with torch.no_grad():
                        b_ih[self.units : 2 * self.units] += 1.0
        super().build(input_shape)

    def output_shape(self, input_shape):
        steps = input_shape[0]
        return (steps, self.output_size) if self.return_sequences else (self.output_size,)

    def compute_mask(self, x, mask):
        return mask if self.return_sequences else None

    def check_input(self, x, argument="x"):
        if x.dim() != 3:
            raise InputError(
                f"LSTM expects {argument} of shape (samples, timesteps, features), got "
                f"{x.dim()}-D input of shape {tuple(x.shape)}"
                + ("; for one feature per step use x[..., None]" if x.dim() == 2 else "")
            )

    def initial_states(self, x, initial_state):
        """(h0, c0) shaped (L*D, N, ·) for nn.LSTM, from None, or from states
        (N, ·) (one layer and direction) or already (L*D, N, ·)."""
        N, layers = x.shape[0], self.num_layers * self.directions
        if initial_state is None:
            return (x.new_zeros(layers, N, self.proj_size or self.units),
                    x.new_zeros(layers, N, self.units))
        h0, c0 = initial_state
        if h0.dim() == 2:
            h0, c0 = h0[None], c0[None]  # (1, N, ·)
        expected = [(layers, N, self.proj_size or self.units), (layers, N, self.units)]
        if [tuple(h0.shape), tuple(c0.shape)] != expected:
            raise InputError(f"LSTM initial_state must be (h0, c0) shaped {expected}, got "
                             f"{[tuple(h0.shape), tuple(c0.shape)]}")
        return h0, c0

    def forward(self, x, mask=None, initial_state=None):
        """x (N, T, F); mask (N, T) bool or None; initial_state (h0, c0)."""
        self.check_input(x)
        if x.shape[-1] != self.lstm.input_size:
            raise InputError(
                f"LSTM was built for {self.lstm.input_size} features per step, got {x.shape[-1]}"
            )
        if initial_state is None and self.stateful and self.states is not None:
            if self.states[0].shape[1] != x.shape[0]:
                raise InputError(
                    f"a stateful LSTM carries state for {self.states[0].shape[1]} samples, this "
                    f"batch has {x.shape[0]}: keep the batch size fixed or call reset_states()")
            initial_state = self.states
        h0, c0 = self.initial_states(x, initial_state)
        reference = self.impl == "reference" or (
            self.impl == "auto" and self.recurrent_dropout > 0 and self.training)
        overrides = self.dropped_weights() if self.weight_dropout and self.training else None
        if not reference and mask is None:
            out, (h, c) = run_module(self.lstm, overrides, x, (h0, c0))  # out (N, T, D*P)
        else:
            x_front, order, lengths = front_align(x, mask)
            if not reference and self.padded_path(x, initial_state):
                out, last = padded_lstm(self.lstm, x_front, lengths, h0, c0, overrides)
                return scatter_back(out, order) if self.return_sequences else last
            if not reference:
                out, (h, c) = fused_lstm(self.lstm, x_front, lengths, h0, c0, overrides)
            else:
                out, (h, c) = reference_lstm(self.lstm, x_front, lengths, h0, c0, self.dropout,
                                             self.training, recurrent_dropout=self.recurrent_dropout,
                                             overrides=overrides)
            out = scatter_back(out, order) if self.return_sequences else out
        if self.stateful:
            self.states = (h.detach(), c.detach())
        if self.return_sequences:
            y = out
        else:  # each direction's final state: the forward one at the last real step
            y = h[-1] if self.directions == 1 else torch.cat((h[-2], h[-1]), dim=-1)  # (N, D*P)
        if self.return_state:
            return (y, *[s for k in range(self.directions, 0, -1) for s in (h[-k], c[-k])])
        return y

    def padded_path(self, x, initial_state):
        """Whether a masked batch runs `padded_lstm` rather than packed."""
        possible = (self.directions == 1 and not self.return_state and not self.stateful
                    and initial_state is None)
        if self.masked_impl == "padded":
            if not possible:
                raise InputError("LSTM masked_impl='padded' runs one direction from a zero state "
                                 "only; use 'packed' or 'auto' for Bidirectional or initial_state")
            return True
        if self.masked_impl == "packed" or not possible:
            return False
        return choose_masked_impl(x.device.type, self.training) == "padded"

    def dropped_weights(self):
        """DropConnect masks on every recurrent matrix, drawn for this batch."""
        return {name: F.dropout(weight, self.weight_dropout, True)
                for name, weight in self.lstm.named_parameters() if name.startswith("weight_hh")}

    def get_config(self):
        return {
            "units": self.units,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
            "proj_size": self.proj_size,
            "stateful": self.stateful,
            "recurrent_dropout": self.recurrent_dropout,
            "weight_dropout": self.weight_dropout,
            "masked_impl": self.masked_impl,
            "impl": self.impl,
            "kernel_initializer": self.kernel_initializer,
            "recurrent_initializer": self.recurrent_initializer,
            "bias_initializer": self.bias_initializer,
            "unit_forget_bias": self.unit_forget_bias,
        }


class Bidirectional(Layer):
    """Runs an LSTM forwards and backwards over each sequence and merges the two.

    Args:
        layer: an LSTM layer (its arguments apply to both directions).
        merge_mode: 'concat' (default), 'sum', 'mul', 'ave', or None for a
            pair (forward, backward) of outputs.

    One fused kernel runs both directions (nn.LSTM(bidirectional=True)). With
    a mask, the backward direction starts at each sample's last real step.
    With return_state the result is (output, h_forward, c_forward,
    h_backward, c_backward), as in Keras.
    """

    MERGES = {
        "concat": lambda a, b: torch.cat([a, b], dim=-1),
        "sum": lambda a, b: a + b,
        "mul": lambda a, b: a * b,
        "ave": lambda a, b: (a + b) / 2,
        None: lambda a, b: (a, b),
    }

    def __init__(self, layer, merge_mode="concat"):
        super().__init__()
        if not isinstance(layer, LSTM):
            raise InputTypeError(f"Bidirectional wraps an LSTM layer, got {type(layer).__name__}")
        if merge_mode not in self.MERGES:
            raise InputError(f"Bidirectional merge_mode must be one of 'concat', 'sum', 'mul', "
                             f"'ave' or None, got {merge_mode!r}")
        if layer.built:
            raise InputError("Bidirectional needs an LSTM that is not built yet")
        layer.directions = 2
        self.layer, self.merge_mode = layer, merge_mode
        self.return_state = layer.return_state

    def build(self, input_shape):
        self.layer.build(input_shape)
        super().build(input_shape)

    def output_shape(self, input_shape):
        *steps, features = self.layer.output_shape(input_shape)
        return tuple(steps) + (features if self.merge_mode == "concat" else features // 2,)

    def compute_mask(self, x, mask):
        return self.layer.compute_mask(x, mask)

    def reset_states(self):
        self.layer.reset_states()

    def check_input(self, x, argument="x"):
        self.layer.check_input(x, argument)

    def forward(self, x, mask=None, initial_state=None):
        result = self.layer(x, mask=mask, initial_state=initial_state)
        y, states = (result[0], result[1:]) if self.return_state else (result, ())
        forward, backward = y.chunk(2, dim=-1)
        merged = self.MERGES[self.merge_mode](forward, backward)
        return (merged, *states) if self.return_state else merged

    def get_config(self):
        return {"layer": {"class": "LSTM", "config": self.layer.get_config()},
                "merge_mode": self.merge_mode}
