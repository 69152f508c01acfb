"""Recurrent layers: LSTM (fused or reference, stacked, projected, stateful),
GRU on the same machinery, and Bidirectional. The recurrence itself lives in
lstmkit.rnn."""

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError, InputTypeError
from ..initializers import check_initializer, initialize
from ..rnn import (front_align, fused_rnn, layer_weights, padded_birnn, padded_rnn,
                   reference_rnn, run_module, scatter_back)
from .core import Layer, check_positive_int, check_rate, layer_entry
from .spelling import read_keras_arguments


# Which kernel a masked batch takes when masked_impl='auto', by device and pass
# (training or inference). Measured by benchmarks/masking.py; see its results
# and the README for the figures behind each entry.
MASKED_IMPL = {("cpu", True): "padded", ("cpu", False): "padded",
               ("cuda", True): "packed", ("cuda", False): "packed"}


def choose_masked_impl(device_type, training):
    """'padded' or 'packed' for a masked batch on this device and pass."""
    return MASKED_IMPL.get((device_type, training), "packed")


class Recurrent(Layer):
    """What LSTM and GRU share: building torch's module with Keras'
    initialisers, states, masks, stateful mode, regularisers, and the choice
    between the fused kernel and the reference loop. Subclasses name their
    torch module and cell; see LSTM for the arguments."""

    MODULE = None  # nn.LSTM or nn.GRU
    NAME = None
    # Keras' arguments whose value the fused kernel fixes: accepted as these
    KERAS_FIXED = {"activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": True,
                   "unroll": False, "time_major": False, "go_backwards": False}
    recurrent = True
    input_rank = 2  # (timesteps, features) per sample

    def __init__(self, units, return_sequences=False, return_state=False, num_layers=1,
                 dropout=0.0, stateful=False, recurrent_dropout=0.0, weight_dropout=0.0,
                 masked_impl="auto", impl="auto", kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 input_dropout=0.0, **keras):
        super().__init__()
        read_keras_arguments(self, keras, self.KERAS_FIXED)
        name = self.NAME
        check_positive_int(units, f"{name} units")
        check_positive_int(num_layers, f"{name} num_layers", upper=64)
        for argument, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout),
                               ("weight_dropout", weight_dropout),
                               ("input_dropout", input_dropout)):
            check_rate(rate, f"{name} {argument}")
        if impl not in ("auto", "fused", "reference"):
            raise InputError(f"{name} impl must be 'auto', 'fused' or 'reference', got {impl!r}")
        if impl == "fused" and recurrent_dropout:
            raise InputError(
                f"{name} impl='fused' cannot apply recurrent_dropout: the fused kernel has no "
                "per-step hook; use impl='auto' (the reference loop while training) or 'reference'"
            )
        if masked_impl not in ("auto", "packed", "padded"):
            raise InputError(
                f"{name} masked_impl must be 'auto', 'packed' or 'padded', got {masked_impl!r}")
        if masked_impl == "padded" and (return_state or stateful):
            raise InputError(f"{name} masked_impl='padded' gives no final cell state: it cannot "
                             "serve return_state or stateful; use 'packed' or 'auto'")
        self.units, self.num_layers, self.dropout = units, num_layers, float(dropout)
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.stateful = bool(stateful)
        self.recurrent_dropout, self.weight_dropout = float(recurrent_dropout), float(weight_dropout)
        self.input_dropout = float(input_dropout)
        self.masked_impl, self.impl = masked_impl, impl
        self.kernel_initializer = check_initializer(kernel_initializer, "kernel_initializer")
        self.recurrent_initializer = check_initializer(
            recurrent_initializer, "recurrent_initializer")
        self.bias_initializer = check_initializer(bias_initializer, "bias_initializer")
        self.states = None  # the final states carried between calls when stateful
        self.directions = 1  # Bidirectional sets 2 before building

    # ----- what LSTM and GRU differ in ---------------------------------------

    def module_arguments(self):
        return {}

    def state_sizes(self):
        """Per-sample sizes of the states torch's module carries: [h] or [h, c]."""
        return [self.units]

    def initialize_bias(self, bias_ih):
        """Adjust the input bias after the initialiser (the LSTM's forget bias)."""

    # ----- shared -------------------------------------------------------------

    @property
    def rnn(self):
        """The torch module (nn.LSTM or nn.GRU) holding the parameters."""
        return getattr(self, self.NAME.lower())

    @property
    def output_size(self):
        """Features per step of the output: D * (size of h)."""
        return self.directions * self.state_sizes()[0]

    def reset_states(self):
        """Forget the state a stateful layer carries between calls."""
        self.states = None

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise InputError(
                f"{self.NAME} expects input of shape (samples, timesteps, features), got "
                f"{len(input_shape) + 1}-D input (samples, {', '.join(map(str, input_shape))})"
            )
        module = self.MODULE(input_shape[-1], self.units, num_layers=self.num_layers,
                             dropout=self.dropout if self.num_layers > 1 else 0.0,
                             bidirectional=self.directions == 2, batch_first=True,
                             **self.module_arguments())
        setattr(self, self.NAME.lower(), module)
        for layer in range(self.num_layers):
            for direction in range(self.directions):
                w_ih, w_hh, b_ih, b_hh, *w_hr = layer_weights(module, layer, direction)
                initialize(w_ih, self.kernel_initializer)
                initialize(w_hh, self.recurrent_initializer)
                initialize(b_ih, self.bias_initializer)
                for w in w_hr:
                    initialize(w, self.kernel_initializer)
                nn.init.zeros_(b_hh)
                self.initialize_bias(b_ih)
        super().build(input_shape)

    def output_shape(self, input_shape):
        steps = input_shape[0]
        return (steps, self.output_size) if self.return_sequences else (self.output_size,)

    def compute_mask(self, x, mask):
        return mask if self.return_sequences else None

    def check_input(self, x, argument="x"):
        if x.dim() != 3:
            raise InputError(
                f"{self.NAME} expects {argument} of shape (samples, timesteps, features), got "
                f"{x.dim()}-D input of shape {tuple(x.shape)}"
                + ("; for one feature per step use x[..., None]" if x.dim() == 2 else "")
            )

    def initial_states(self, x, initial_state):
        """The states shaped (L*D, N, ·) for torch's module, from None, or from
        states (N, ·) (one layer and direction) or already (L*D, N, ·)."""
        N, layers = x.shape[0], self.num_layers * self.directions
        sizes = self.state_sizes()
        if initial_state is None:
            return tuple(x.new_zeros(layers, N, size) for size in sizes)
        if isinstance(initial_state, torch.Tensor):
            initial_state = (initial_state,)
        states = tuple(s[None] if s.dim() == 2 else s for s in initial_state)
        expected = [(layers, N, size) for size in sizes]
        if [tuple(s.shape) for s in states] != expected:
            raise InputError(f"{self.NAME} initial_state must be shaped {expected}, got "
                             f"{[tuple(s.shape) for s in states]}")
        return states

    def forward(self, x, mask=None, initial_state=None):
        """x (N, T, F); mask (N, T) bool or None; initial_state: (h0, c0) for
        an LSTM, h0 for a GRU."""
        return self.run(x, mask, initial_state)[0]

    def run(self, x, mask=None, initial_state=None, return_final=False):
        """The layer's output and its final states.

        Returns (y, final): y is what `forward` returns; final is the tuple
        of states torch's module ends with, (h_n, c_n) for an LSTM or (h_n,)
        for a GRU, each (L*D, N, ·) and still in the graph: the form
        `initial_state` takes, so a caller can carry it to the next chunk.
        final is None when the padded path ran (it has no final cell state);
        return_final=True keeps that path out.
        """
        self.check_input(x)
        if x.shape[-1] != self.rnn.input_size:
            raise InputError(f"{self.NAME} was built for {self.rnn.input_size} features per "
                             f"step, got {x.shape[-1]}")
        if initial_state is None and self.stateful and self.states is not None:
            if self.states[0].shape[1] != x.shape[0]:
                raise InputError(
                    f"a stateful {self.NAME} carries state for {self.states[0].shape[1]} samples, "
                    f"this batch has {x.shape[0]}: keep the batch size fixed or call reset_states()")
            # states carried from evaluate or predict (inference mode) are cloned into
            # ordinary tensors, which training can save for its backward pass
            initial_state = tuple(s.clone() if s.is_inference() else s for s in self.states)
        states = self.initial_states(x, initial_state)
        if self.input_dropout and self.training:  # Keras' dropout: one mask a sequence
            x = x * F.dropout(x.new_ones(x.shape[0], 1, x.shape[-1]), self.input_dropout, True)
        reference = self.impl == "reference" or (
            self.impl == "auto" and self.recurrent_dropout > 0 and self.training)
        overrides = self.dropped_weights() if self.weight_dropout and self.training else None
        if not reference and mask is None:
            out, final = run_module(self.rnn, overrides, x, states)  # out (N, T, D*P)
        else:
            x_front, order, lengths = front_align(x, mask)
            if not reference and self.padded_path(x, initial_state, return_final):
                if self.directions == 2:
                    out, last = padded_birnn(self.rnn, x_front, lengths, states, overrides,
                                             self.dropout, self.training)
                else:
                    out, last = padded_rnn(self.rnn, x_front, lengths, states, overrides)
                return (scatter_back(out, order) if self.return_sequences else last), None
            if not reference:
                out, final = fused_rnn(self.rnn, x_front, lengths, states, overrides)
            else:
                out, final = reference_rnn(self.rnn, x_front, lengths, states, self.dropout,
                                           self.training, recurrent_dropout=self.recurrent_dropout,
                                           overrides=overrides)
            out = scatter_back(out, order) if self.return_sequences else out
        if self.stateful:
            self.states = tuple(s.detach() for s in final)
        h = final[0]
        if self.return_sequences:
            y = out
        else:  # each direction's final state: the forward one at the last real step
            y = h[-1] if self.directions == 1 else torch.cat((h[-2], h[-1]), dim=-1)  # (N, D*P)
        if self.return_state:  # per direction, forward first: h (and c) of the top layer
            y = (y, *[s[-k] for k in range(self.directions, 0, -1) for s in final])
        return y, final

    def padded_path(self, x, initial_state, return_final=False):
        """Whether a masked batch runs `padded_rnn` (`padded_birnn` for
        Bidirectional without a projection) rather than packed."""
        possible = ((self.directions == 1 or not getattr(self.rnn, "proj_size", 0))
                    and not self.return_state and not self.stateful
                    and initial_state is None and not return_final)
        if self.masked_impl == "padded":
            if not possible:
                raise InputError(f"{self.NAME} masked_impl='padded' runs from a zero state "
                                 "only, gives no final state, and runs Bidirectional only "
                                 "without a projection; use 'packed' or 'auto' for "
                                 "initial_state, a carried state or proj_size")
            return True
        if self.masked_impl == "packed" or not possible:
            return False
        return choose_masked_impl(x.device.type, self.training) == "padded"

    def dropped_weights(self):
        """DropConnect masks on every recurrent matrix, drawn for this batch."""
        return {name: F.dropout(weight, self.weight_dropout, True)
                for name, weight in self.rnn.named_parameters() if name.startswith("weight_hh")}

    def get_config(self):
        return {
            "units": self.units,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
            "stateful": self.stateful,
            "recurrent_dropout": self.recurrent_dropout,
            "weight_dropout": self.weight_dropout,
            "masked_impl": self.masked_impl,
            "impl": self.impl,
            "kernel_initializer": self.kernel_initializer,
            "recurrent_initializer": self.recurrent_initializer,
            "bias_initializer": self.bias_initializer,
            "input_dropout": self.input_dropout,
        }


class LSTM(Recurrent):
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
            (training only; torch's meaning, not Keras' input dropout, which
            is `input_dropout` here and `dropout` in lstmkit.keras.layers).
            Default 0.
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
            the reference loop (about 4x slower, benchmarks/regularizers.py);
            evaluation stays fused.
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
        input_dropout: dropout on the input features, one mask per sequence
            for all its steps (Keras' LSTM(dropout=...)), training only;
            keeps the fused kernel. Default 0.

    With a mask (from `Embedding(mask_zero=True)` or `Masking`), padded steps
    are skipped, wherever they are: the state carries over them, the output
    at a padded step is zero, and the last output is that of each sample's
    last real step.
    """

    MODULE, NAME = nn.LSTM, "LSTM"

    def __init__(self, units, return_sequences=False, return_state=False, num_layers=1,
                 dropout=0.0, proj_size=0, stateful=False, recurrent_dropout=0.0,
                 weight_dropout=0.0, masked_impl="auto", impl="auto",
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, input_dropout=0.0, **keras):
        super().__init__(units, return_sequences, return_state, num_layers, dropout, stateful,
                         recurrent_dropout, weight_dropout, masked_impl, impl,
                         kernel_initializer, recurrent_initializer, bias_initializer,
                         input_dropout, **keras)
        if proj_size:
            check_positive_int(proj_size, "LSTM proj_size", upper=units - 1 if units > 1 else 0)
        self.proj_size, self.unit_forget_bias = proj_size, bool(unit_forget_bias)

    def module_arguments(self):
        return {"proj_size": self.proj_size}

    def state_sizes(self):
        return [self.proj_size or self.units, self.units]

    def initialize_bias(self, bias_ih):
        # torch keeps two bias vectors that are added; Keras has one. The whole
        # bias (and the forget-gate 1.0) sits in bias_ih, bias_hh is zero.
        if self.unit_forget_bias:
            with torch.no_grad():
                bias_ih[self.units : 2 * self.units] += 1.0

    def get_config(self):
        return {**super().get_config(), "proj_size": self.proj_size,
                "unit_forget_bias": self.unit_forget_bias}


class GRU(Recurrent):
    """Gated recurrent unit layer (Cho et al. 2014), torch.nn.GRU's form, which
    is Keras' GRU with reset_after=True; reference cell `lstmkit.rnn.gru_cell`.

    Takes the LSTM's arguments except proj_size and unit_forget_bias, with
    the same meaning and defaults. return_state gives (output, h).
    """

    MODULE, NAME = nn.GRU, "GRU"
    KERAS_FIXED = {**Recurrent.KERAS_FIXED, "reset_after": True}


class Bidirectional(Layer):
    """Runs an LSTM (or GRU) forwards and backwards over each sequence and
    merges the two.

    Args:
        layer: an LSTM or GRU layer (its arguments apply to both directions).
        merge_mode: 'concat' (default), 'sum', 'mul', 'ave', or None for a
            pair (forward, backward) of outputs.

    One fused kernel runs both directions (nn.LSTM(bidirectional=True)). With
    a mask, the backward direction starts at each sample's last real step.
    With return_state the result is (output, h_forward, c_forward,
    h_backward, c_backward) for an LSTM, as in Keras.
    """

    recurrent = True
    input_rank = 2
    MERGES = {
        "concat": lambda a, b: torch.cat([a, b], dim=-1),
        "sum": lambda a, b: a + b,
        "mul": lambda a, b: a * b,
        "ave": lambda a, b: (a + b) / 2,
        None: lambda a, b: (a, b),
    }

    def __init__(self, layer, merge_mode="concat", **keras):
        super().__init__()
        read_keras_arguments(self, keras)
        if not isinstance(layer, Recurrent):
            raise InputTypeError(
                f"Bidirectional wraps an LSTM or GRU layer, got {type(layer).__name__}")
        if merge_mode not in self.MERGES:
            raise InputError(f"Bidirectional merge_mode must be one of 'concat', 'sum', 'mul', "
                             f"'ave' or None, got {merge_mode!r}")
        if layer.built:
            raise InputError("Bidirectional needs a layer that is not built yet")
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

    @property
    def stateful(self):
        return self.layer.stateful

    @property
    def states(self):
        return self.layer.states

    @states.setter
    def states(self, value):
        self.layer.states = value

    def check_input(self, x, argument="x"):
        self.layer.check_input(x, argument)

    def forward(self, x, mask=None, initial_state=None):
        return self.run(x, mask, initial_state)[0]

    def run(self, x, mask=None, initial_state=None, return_final=False):
        """The merged output and the inner layer's final states, (L*2, N, ·)
        each (see Recurrent.run)."""
        result, final = self.layer.run(x, mask, initial_state, return_final)
        y, states = (result[0], result[1:]) if self.return_state else (result, ())
        forward, backward = y.chunk(2, dim=-1)
        merged = self.MERGES[self.merge_mode](forward, backward)
        return ((merged, *states) if self.return_state else merged), final

    def get_config(self):
        return {"layer": layer_entry(self.layer),
                "merge_mode": self.merge_mode}
