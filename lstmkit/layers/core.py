"""The layer base class and the non-recurrent layers.

Every layer is a `torch.nn.Module` whose parameters are created by
`build(input_shape)` once the size of its input is known, so a `Sequential`
infers sizes at its first call and the user never repeats them. Shapes below
exclude the batch axis; a `None` axis has a length that may vary (timesteps).
Layers take and return a padding mask, (N, T) booleans with True at real
steps, so masking flows through a model the way Keras users expect.
"""

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from ..errors import InputError, InputTypeError
from ..initializers import check_initializer, initialize
from .spelling import read_keras_arguments
from ..rnn import front_align, scatter_back


def check_positive_int(value, argument, upper=2**20):
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputTypeError(f"{argument} must be an int, got {type(value).__name__} {value!r}")
    if not 1 <= value <= upper:
        raise InputError(f"{argument} must be between 1 and {upper}, got {value}")


def check_rate(rate, argument):
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
        raise InputError(f"{argument} must be a number in [0, 1), got {rate!r}")


class Layer(nn.Module):
    """Base of lstmkit's layers: build on first use, carry a mask, describe itself.

    Subclasses implement `build` (create parameters for a given input shape),
    `output_shape`, `forward(x, mask=None)` and `get_config` (the constructor
    arguments, JSON-serialisable, saved with the model).
    """

    # the name of an output activation the layer can skip (forward(...,
    # activation=False)) so that losses work on logits; None for most layers
    activation = None
    # recurrent layers carry a state from chunk to chunk: they have
    # `run(x, mask, initial_state, return_final) -> (y, final_states)`,
    # `stateful`, `states` and `reset_states()`
    recurrent = False

    def __init__(self, **keras):
        super().__init__()
        self.built = False
        self.input_shape = None
        read_keras_arguments(self, keras)  # input_shape=, name=, ... (see spelling.py)

    def build(self, input_shape):
        self.input_shape = tuple(input_shape)
        self.built = True

    def __call__(self, x, *args, **kwargs):
        """A layer called on a batch by itself builds for it first, as in Keras."""
        if not self.built and isinstance(x, torch.Tensor):
            self.build(tuple(x.shape[1:]))
            self.freeze_untrainable()
        return super().__call__(x, *args, **kwargs)

    @property
    def trainable(self):
        """Whether training updates the layer's weights (Keras' `trainable`,
        also a constructor argument). False freezes them (requires_grad off;
        summary counts them non-trainable) and runs a BatchNormalization on
        its moving statistics. Set on a wrapper, it sets the layers inside."""
        return self.__dict__.get("_trainable", True)

    @trainable.setter
    def trainable(self, value):
        if not isinstance(value, bool):
            raise InputTypeError(f"trainable must be True or False, got {value!r}")
        for module in self.modules():
            if isinstance(module, Layer):
                module.__dict__["_trainable"] = value
                # the mode last asked for: a frozen BatchNormalization runs as at inference, and
                # unfrozen again as the model runs
                module.train(module.__dict__.get("_asked_training", module.training))
        for p in self.parameters():
            p.requires_grad_(value)

    # a layer that runs as at inference while frozen (Keras' BatchNormalization)
    freezes_in_inference = False

    def train(self, mode=True):
        super().train(mode)
        self.__dict__["_asked_training"] = mode
        if self.freezes_in_inference and not self.trainable:
            self.training = False
        return self

    def freeze_untrainable(self):
        """Turn off requires_grad of the parameters of every layer in this one
        that is not trainable: build creates them after `trainable` was set."""
        for module in self.modules():
            if isinstance(module, Layer) and not module.trainable:
                for p in module.parameters():
                    p.requires_grad_(False)

    def output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_mask(self, x, mask):
        """The mask that goes on to the next layer, given this layer's input
        and incoming mask (by default, unchanged)."""
        return mask

    def check_input(self, x, argument="x"):
        """Check a whole data set before training; raise InputError with the reason."""

    def get_weights(self):
        """The layer's weights as NumPy arrays, as Sequential.get_weights."""
        return weights_of(self)

    def set_weights(self, weights):
        """Load arrays as get_weights gives them (the layer built), checked
        array by array: a pretrained embedding table, Keras' way."""
        if not self.built:
            raise InputError(f"{type(self).__name__}.set_weights: the layer is not built yet; "
                             "build the model first (model.build(...) or its first data)")
        set_weights_of(self, weights, f"{type(self).__name__}.set_weights")

    def get_config(self):
        return {}

    def extra_repr(self):
        return ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())


def weights_of(module):
    """A module's weights and buffers as NumPy arrays, in state_dict()'s
    order and layout (PyTorch's: a Dense kernel is (out, in))."""
    return [t.detach().cpu().numpy().copy() for t in module.state_dict().values()]


def set_weights_of(module, weights, where):
    """Load arrays as weights_of gives them into `module`, checked one by one."""
    state = module.state_dict()
    if len(weights) != len(state):
        raise InputError(f"{where}: {len(state)} weight arrays are wanted "
                         f"({', '.join(state)}), got {len(weights)}")
    loaded = {}
    for (name, current), value in zip(state.items(), weights):
        value = torch.as_tensor(value)
        if tuple(value.shape) != tuple(current.shape):
            raise InputError(f"{where}: {name} is {tuple(current.shape)}, got "
                             f"{tuple(value.shape)}")
        loaded[name] = value.to(current.dtype)
    module.load_state_dict(loaded)


def layer_entry(layer):
    """A layer's part of the saved config: its class and arguments, and its
    name and trainable where given (beside them, as Keras keeps them)."""
    entry = {"class": type(layer).__name__, "config": layer.get_config()}
    if layer.name is not None:
        entry["name"] = layer.name
    if not layer.trainable:
        entry["trainable"] = False
    return entry


class Embedding(Layer):
    """Maps integer ids in [0, input_dim) to dense vectors of size output_dim.

    Args:
        input_dim: vocabulary size (largest id + 1).
        output_dim: size of each vector.
        mask_zero: treat id 0 as padding and pass a mask to the layers that
            follow (default False, as in Keras).
        embeddings_initializer: default 'uniform' (Keras: uniform in +-0.05).
        dropout: embedding dropout (Gal & Ghahramani 2016; Merity et al.
            2017): while training, drop whole words, each vocabulary row with
            this probability per batch, scaling the rest. Default 0.
        scaled: give every entry of the table a fixed multiplier, the buffer
            `scale` (ones until `set_scale`; saved with the weights), so the
            vectors read are weight * scale. What is learnt is then each
            entry relative to its scale: with naive Bayes' log-count ratios
            as the scale, a linear model over n-grams is NBSVM (Wang &
            Manning 2012). Default False.
        weights: a pretrained table (input_dim, output_dim), Keras'
            `weights=[table]` (or the array alone): the layer starts from
            it, not from the initialiser (word vectors such as GloVe; with
            trainable=False it stays as given). Not part of the saved
            configuration: the table is saved with the weights.

    Input (N, T) integers; output (N, T, output_dim).
    """

    input_rank = 1  # (timesteps,) per sample

    def __init__(self, input_dim, output_dim, mask_zero=False, embeddings_initializer="uniform",
                 dropout=0.0, scaled=False, **keras):
        weights = keras.pop("weights", None)  # Keras' spelling, not saved (see the docstring)
        super().__init__(**keras)
        check_positive_int(input_dim, "Embedding input_dim", upper=2**26)
        check_positive_int(output_dim, "Embedding output_dim")
        check_rate(dropout, "Embedding dropout")
        self.input_dim, self.output_dim, self.mask_zero = input_dim, output_dim, bool(mask_zero)
        self.dropout = float(dropout)
        if not isinstance(scaled, bool):
            raise InputTypeError(f"Embedding scaled must be True or False, got {scaled!r}")
        self.scaled = scaled
        self.embeddings_initializer = check_initializer(
            embeddings_initializer, "embeddings_initializer"
        )
        self.pretrained = None if weights is None else self.check_table(weights)

    def check_table(self, weights):
        """A pretrained table as a float tensor, refused unless it is one finite
        (input_dim, output_dim) array (or a list holding one, as Keras takes it)."""
        if isinstance(weights, (list, tuple)):
            if len(weights) != 1:
                raise InputError(f"Embedding weights: one table, [table], got a list of "
                                 f"{len(weights)}")
            weights = weights[0]
        try:
            table = torch.as_tensor(np.asarray(weights, dtype=np.float32))
        except (TypeError, ValueError):
            raise InputTypeError(f"Embedding weights must be an array of numbers, got "
                                 f"{type(weights).__name__}") from None
        if tuple(table.shape) != (self.input_dim, self.output_dim):
            raise InputError(f"Embedding weights: the table is {tuple(table.shape)}, the layer's "
                             f"is ({self.input_dim}, {self.output_dim}) (input_dim, output_dim)")
        if not torch.isfinite(table).all():
            raise InputError("Embedding weights: the table holds NaN or infinite values")
        return table

    def build(self, input_shape):
        self.embedding = nn.Embedding(self.input_dim, self.output_dim)
        # the table is (input_dim, output_dim), Keras' layout: fans as Keras reads them
        initialize(self.embedding.weight, self.embeddings_initializer, layout="in_out")
        if self.pretrained is not None:
            with torch.no_grad():
                self.embedding.weight.copy_(self.pretrained)
            self.pretrained = None  # the table lives in the weights from here
        if self.scaled:
            self.register_buffer("scale", torch.ones(self.input_dim, self.output_dim))
        super().build(input_shape)

    def set_scale(self, scale):
        """The fixed multipliers of a scaled Embedding: (input_dim, output_dim),
        or (input_dim,) for every entry of a row alike; finite."""
        if not self.scaled:
            raise InputError("set_scale needs an Embedding made with scaled=True")
        scale = torch.as_tensor(scale, dtype=self.scale.dtype)
        scale = scale[:, None].expand(-1, self.output_dim) if scale.dim() == 1 else scale
        if tuple(scale.shape) != tuple(self.scale.shape) or not torch.isfinite(scale).all():
            raise InputError(f"an Embedding's scale must be finite and ({self.input_dim}, "
                             f"{self.output_dim}) or ({self.input_dim},), got shape "
                             f"{tuple(scale.shape)}")
        with torch.no_grad():
            self.scale.copy_(scale)

    def table(self):
        """The vectors the layer reads: its weights, times the scale if scaled."""
        weight = self.embedding.weight
        return weight * self.scale if self.scaled else weight

    def output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def forward(self, x, mask=None):
        if not (self.dropout and self.training):
            # the rows read, scaled: cheaper than scaling the whole table each step
            return self.embedding(x) * self.scale[x] if self.scaled else self.embedding(x)
        table = self.table()  # (V, E): one keep-or-drop draw per word
        keep = F.dropout(table.new_ones(table.shape[0], 1), self.dropout, True)
        return F.embedding(x, table * keep)

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
            "dropout": self.dropout,
            "scaled": self.scaled,
        }


class Dropout(Layer):
    """Zeroes each element with probability `rate` during training, scaling the
    rest by 1 / (1 - rate); does nothing at evaluation."""

    def __init__(self, rate, **keras):
        super().__init__(**keras)
        check_rate(rate, "Dropout rate")
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
        tie_weights: use the model's Embedding table (V, E) as the kernel
            instead of a matrix of its own (weight tying, Press & Wolf 2017;
            Inan et al. 2017): units must be the Embedding's input_dim and
            the input size its output_dim. The Sequential ties it to its
            first Embedding when built; only the bias is this layer's.
            Default False.
        use_bias: add the bias b (default True, as Keras'); False for a
            layer without one.

    Input (..., F); output (..., units), so it applies per step to a sequence.
    """

    def __init__(self, units, activation=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", tie_weights=False, use_bias=True, **keras):
        super().__init__(**keras)
        check_positive_int(units, "Dense units")
        activation = "linear" if activation is None else activation
        if activation not in ACTIVATIONS:
            raise InputError(
                f"Dense activation: unknown name {activation!r}; known: "
                f"{', '.join(ACTIVATIONS)} or None"
            )
        self.units, self.activation = units, activation
        self.kernel_initializer = check_initializer(kernel_initializer, "kernel_initializer")
        self.bias_initializer = check_initializer(bias_initializer, "bias_initializer")
        if not isinstance(tie_weights, bool):
            raise InputTypeError(f"Dense tie_weights must be True or False, got {tie_weights!r}")
        self.tie_weights = tie_weights
        if not isinstance(use_bias, bool):
            raise InputTypeError(f"Dense use_bias must be True or False, got {use_bias!r}")
        self.use_bias = use_bias
        self.tied = []  # [the Embedding whose table is the kernel]: a list, not a submodule,
        #                 so the table is saved once, under the Embedding

    def build(self, input_shape):
        if len(input_shape) < 1:
            raise InputError("Dense expects input with a feature axis, got a scalar per sample")
        if self.tie_weights:
            self.bias = nn.Parameter(torch.empty(self.units)) if self.use_bias else None
            if self.use_bias:
                initialize(self.bias, self.bias_initializer)
            self.features = input_shape[-1]
        else:
            self.linear = nn.Linear(input_shape[-1], self.units, bias=self.use_bias)
            initialize(self.linear.weight, self.kernel_initializer)
            if self.use_bias:
                initialize(self.linear.bias, self.bias_initializer)
        super().build(input_shape)

    def tie(self, embedding):
        """Take `embedding`'s table (input_dim, output_dim) as the kernel."""
        if (embedding.input_dim, embedding.output_dim) != (self.units, self.features):
            raise InputError(
                f"Dense(tie_weights=True) with {self.units} units on {self.features} features "
                f"needs an Embedding({self.units}, {self.features}), the model has "
                f"Embedding({embedding.input_dim}, {embedding.output_dim})")
        if embedding.scaled:
            raise InputError("Dense(tie_weights=True) cannot tie to a scaled Embedding: its "
                             "table is weight * scale, not a weight to share")
        self.tied = [embedding]

    @property
    def kernel(self):
        """The (units, features) matrix: this layer's own, or the tied table."""
        if not self.tie_weights:
            return self.linear.weight
        if not self.tied:
            raise InputError("Dense(tie_weights=True) is not tied yet: it ties to the first "
                             "Embedding of the Sequential it is built in")
        return self.tied[0].embedding.weight

    def forward(self, x, mask=None, activation=True):
        """With activation=False, return the pre-activation (logits), which the
        losses use for numerically stable cross-entropy."""
        y = F.linear(x, self.kernel, self.bias) if self.tie_weights else self.linear(x)
        fn = ACTIVATIONS[self.activation]
        return fn(y) if activation and fn is not None else y

    def output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {
            "units": self.units,
            "activation": self.activation,
            "kernel_initializer": self.kernel_initializer,
            "bias_initializer": self.bias_initializer,
            "tie_weights": self.tie_weights,
            # only where it is not the default, so checkpoints written before it resume
            **({} if self.use_bias else {"use_bias": False}),
        }


class LockedDropout(Layer):
    """Variational ("locked") dropout over sequences: one mask per sample,
    the same at every step, on (N, T, F) input (Gal & Ghahramani 2016;
    Merity et al. 2017). It drops the same features at every step, as Keras'
    SpatialDropout1D does. Training only; keeps the fused LSTM kernel when
    placed between LSTM layers."""

    def __init__(self, rate, **keras):
        super().__init__(**keras)
        check_rate(rate, "LockedDropout rate")
        self.rate = float(rate)

    def forward(self, x, mask=None):
        if not (self.rate and self.training):
            return x
        keep = F.dropout(x.new_ones(x.shape[0], 1, x.shape[-1]), self.rate, True)  # (N, 1, F)
        return x * keep

    def get_config(self):
        return {"rate": self.rate}


class Masking(Layer):
    """Marks steps whose features all equal `mask_value` as padding: the
    layers after it (an LSTM) skip them, as with Embedding(mask_zero=True).
    Input (N, T, F); masked steps are set to zero, as Keras does."""

    input_rank = 2

    def __init__(self, mask_value=0.0, **keras):
        super().__init__(**keras)
        if isinstance(mask_value, bool) or not isinstance(mask_value, (int, float)):
            raise InputTypeError(f"Masking mask_value must be a number, got {mask_value!r}")
        self.mask_value = float(mask_value)

    def compute_mask(self, x, mask):
        return (x != self.mask_value).any(dim=-1)  # (N, T)

    def forward(self, x, mask=None):
        return x * self.compute_mask(x, mask)[..., None]

    def check_input(self, x, argument="x"):
        if x.dim() != 3:
            raise InputError(f"Masking expects {argument} of shape (samples, timesteps, features), "
                             f"got shape {tuple(x.shape)}")

    def get_config(self):
        return {"mask_value": self.mask_value}


class TimeDistributed(Layer):
    """Applies a layer to every step of a sequence: (N, T, ...) -> (N, T, ...).

    Dense already works per step on (N, T, F), so TimeDistributed(Dense(...))
    is only the familiar Keras spelling of the same thing; it matters for
    layers that expect one sample at a time.
    """

    def __init__(self, layer, **keras):
        super().__init__(**keras)
        if not isinstance(layer, Layer):
            raise InputTypeError(f"TimeDistributed wraps an lstmkit layer, got {type(layer).__name__}")
        self.layer = layer

    @property
    def activation(self):
        return self.layer.activation

    @property
    def input_rank(self):
        """One axis (the steps) more than the wrapped layer takes, if it says."""
        inner = getattr(self.layer, "input_rank", None)
        return None if inner is None else inner + 1

    def build(self, input_shape):
        if len(input_shape) < 2:
            raise InputError("TimeDistributed expects (samples, timesteps, ...) input")
        self.layer.build(tuple(input_shape[1:]))
        super().build(input_shape)

    def output_shape(self, input_shape):
        return (input_shape[0],) + tuple(self.layer.output_shape(tuple(input_shape[1:])))

    def forward(self, x, mask=None, **kwargs):
        N, T = x.shape[:2]
        y = self.layer(x.reshape(N * T, *x.shape[2:]), **kwargs)  # (N*T, ...)
        return y.reshape(N, T, *y.shape[1:])

    def get_config(self):
        return {"layer": layer_entry(self.layer)}


# ----- pooling over steps ---------------------------------------------------------
#
# A sequence classifier reads one vector per sample from the LSTM's per-step
# outputs (return_sequences=True). With a mask only the real steps count, so
# a sample's result is the one it gets pooled alone, without padding; padded
# steps are replaced (not multiplied: 0 * NaN is NaN) before they could count.


def check_steps_input(layer, input_shape):
    if len(input_shape) != 2:
        raise InputError(f"{layer} expects input of shape (samples, timesteps, features), got "
                         f"{len(input_shape) + 1}-D input (samples, "
                         f"{', '.join(map(str, input_shape))})")


class StepPooling(Layer):
    """What the poolings over the steps share: (N, T, F) -> (N, F), and no
    mask after them. Subclasses write forward(x, mask)."""

    input_rank = 2  # (timesteps, features) per sample

    def build(self, input_shape):
        check_steps_input(type(self).__name__, input_shape)
        super().build(input_shape)

    def output_shape(self, input_shape):
        return (input_shape[-1],)

    def compute_mask(self, x, mask):
        return None


def steps_last(x):
    """x (N, T, F) as (N, F, T) where its memory holds each feature's steps
    together (a Conv1D's output, a view of a channels-first result), to be
    reduced over its last axis: the gradient of the reduction then comes
    back laid out as x is, so that the elementwise backward before it (a
    ReLU's) reads two tensors in the same order, about twice as fast as
    across layouts. Otherwise x itself, to be reduced over axis 1."""
    return x.transpose(1, 2) if x.stride(1) == 1 and x.stride(2) > 1 else x


def over_steps(reduce, x):
    """reduce(x, axis) over the steps of x (N, T, F), in steps_last's order."""
    view = steps_last(x)
    return reduce(view, -1 if view is not x else 1)


class GlobalAveragePooling1D(StepPooling):
    """The mean over the steps: (N, T, F) -> (N, F), over real steps only
    when a mask comes in (Keras' GlobalAveragePooling1D). A sample with no
    real step gives zeros."""


    def forward(self, x, mask=None):
        if mask is None:
            return over_steps(torch.mean, x)
        real = mask[..., None]  # (N, T, 1)
        total = torch.where(real, x, 0).sum(1)  # (N, F)
        return total / real.sum(1).clamp(min=1).to(x.dtype)


class GlobalMaxPooling1D(StepPooling):
    """The largest value of each feature over the steps: (N, T, F) -> (N, F),
    over real steps only when a mask comes in (Keras' GlobalMaxPooling1D).
    A sample with no real step gives zeros."""


    def forward(self, x, mask=None):
        if mask is None:
            return over_steps(torch.amax, x)
        real = mask[..., None]  # (N, T, 1)
        top = torch.where(real, x, -torch.inf).amax(1)  # (N, F)
        return torch.where(real.any(1), top, 0)


class ConcatPooling1D(StepPooling):
    """Several poolings over the real steps, side by side: (N, T, F) ->
    (N, k * F), in the order given. Max and mean pooling over a
    bidirectional LSTM's outputs is what made Johnson & Zhang's (2016) LSTM
    text classifiers beat their last-state ones; fastai's classifier head
    (concat pooling) does the same.

    Args:
        poolings: a list of 'max' and 'mean' (each at most once).
            Default (None) ['max', 'mean'].
    """

    POOLINGS = {"max": GlobalMaxPooling1D, "mean": GlobalAveragePooling1D}

    def __init__(self, poolings=None, **keras):
        super().__init__(**keras)
        poolings = ["max", "mean"] if poolings is None else poolings
        poolings = list(poolings) if isinstance(poolings, (list, tuple)) else poolings
        if (not isinstance(poolings, list) or not poolings
                or any(p not in self.POOLINGS for p in poolings)
                or len(set(poolings)) != len(poolings)):
            raise InputError(f"ConcatPooling1D poolings must be a list of distinct "
                             f"{', '.join(map(repr, self.POOLINGS))}, got {poolings!r}")
        self.poolings = poolings

    def output_shape(self, input_shape):
        return (len(self.poolings) * input_shape[-1],)

    def forward(self, x, mask=None):
        return torch.cat([self.POOLINGS[p].forward(self, x, mask) for p in self.poolings],
                         dim=-1)  # (N, k * F)

    def get_config(self):
        return {"poolings": list(self.poolings)}


class AttentionPooling1D(StepPooling):
    """A weighted mean over the steps, the weights learnt (feed-forward
    attention, Raffel & Ellis 2016): (N, T, F) -> (N, F).

        e_t = v . tanh(W x_t + b)        a score per step
        a = softmax(e) over real steps   (padded steps weigh 0)
        out = sum_t a_t x_t

    Args:
        units: size of the scoring layer W. Default 64.
        kernel_initializer: W and v, default 'glorot_uniform';
            bias_initializer: b, default 'zeros'.
    """

    def __init__(self, units=64, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 **keras):
        super().__init__(**keras)
        check_positive_int(units, "AttentionPooling1D units")
        self.units = units
        self.kernel_initializer = check_initializer(kernel_initializer, "kernel_initializer")
        self.bias_initializer = check_initializer(bias_initializer, "bias_initializer")

    def build(self, input_shape):
        check_steps_input(type(self).__name__, input_shape)  # before sizing the weights
        self.score = nn.Linear(input_shape[-1], self.units)
        self.vector = nn.Linear(self.units, 1, bias=False)
        initialize(self.score.weight, self.kernel_initializer)
        initialize(self.score.bias, self.bias_initializer)
        initialize(self.vector.weight, self.kernel_initializer)
        super().build(input_shape)

    def weights(self, x, mask=None):
        """The attention weights a, (N, T): 0 at padded steps, summing to 1
        over each sample's real steps."""
        e = self.vector(torch.tanh(self.score(x)))[..., 0]  # (N, T)
        if mask is None:
            return torch.softmax(e, dim=1)
        # a row of no real step would be all -inf, NaN after softmax: scored 0 there, then zeroed
        e = torch.where(mask.any(1, keepdim=True), e.masked_fill(~mask, -torch.inf), 0)
        return torch.where(mask, torch.softmax(e, dim=1), 0)

    def forward(self, x, mask=None):
        a = self.weights(x, mask)[..., None]  # (N, T, 1)
        if mask is not None:
            x = torch.where(mask[..., None], x, 0)
        return (a * x).sum(1)

    def get_config(self):
        return {"units": self.units, "kernel_initializer": self.kernel_initializer,
                "bias_initializer": self.bias_initializer}


class Conv1D(Layer):
    """A convolution over the steps, (N, T, F) -> (N, T, filters), the
    output as long as the input (Keras' padding='same', lstmkit's default):
    the front of the fully convolutional and LSTM-FCN classifiers (Wang et
    al. 2017; Karim et al. 2017). padding='valid' (Keras' default; windows
    inside the sequence) and strides > 1 shorten the output, as Keras'.

    Args:
        filters: output features per step. Default 64.
        kernel_size: steps each output reads. Default 3. (Keras requires
            both; code that passes them reads the same.)
        dilation_rate: the spacing of those steps. Default 1.
        activation: as Dense's ('relu', 'tanh', ..., None). Default None.
        kernel_initializer: default 'glorot_uniform'; bias_initializer: 'zeros'.
        use_bias: add a learnt offset per filter (Keras' name). Default True;
            False before a BatchNormalization, whose own offset takes its
            place (a bias there only drifts: its gradient is zero).
        padding: 'same' (default) or 'valid'. strides: default 1.

    With a mask ('same', stride 1), each sample's real steps are moved to the front and the
    padded ones zeroed before the convolution, so the outputs at real steps
    are those of the sample convolved alone (zeros beyond its ends, as
    'same' pads); outputs at padded steps are zero and the mask passes on.
    """

    input_rank = 2  # (timesteps, features) per sample

    def __init__(self, filters=64, kernel_size=3, dilation_rate=1, activation=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", padding="same",
                 strides=1, use_bias=True, **keras):
        super().__init__(**keras)
        check_positive_int(filters, "Conv1D filters")
        check_positive_int(kernel_size, "Conv1D kernel_size", upper=2**12)
        check_positive_int(dilation_rate, "Conv1D dilation_rate", upper=2**12)
        check_positive_int(strides, "Conv1D strides", upper=2**12)
        if padding not in ("same", "valid"):
            raise InputError(f"Conv1D padding must be 'same' or 'valid', got {padding!r}")
        if strides > 1 and dilation_rate > 1:
            raise InputError("Conv1D takes strides > 1 or dilation_rate > 1, not both (as Keras)")
        if not isinstance(use_bias, bool):
            raise InputError(f"Conv1D use_bias must be True or False, got {use_bias!r}")
        self.padding, self.strides, self.use_bias = padding, strides, use_bias
        activation = "linear" if activation is None else activation
        if activation not in ACTIVATIONS or activation == "softmax":
            raise InputError(f"Conv1D activation: unknown name {activation!r}; known: "
                             f"{', '.join(a for a in ACTIVATIONS if a != 'softmax')} or None")
        if kernel_initializer == "identity":
            raise InputError("Conv1D kernel_initializer 'identity' needs a matrix; a "
                             "convolution's kernel is 3-D (filters, features, kernel_size)")
        self.filters, self.kernel_size, self.dilation_rate = filters, kernel_size, dilation_rate
        self.activation_name = activation
        self.kernel_initializer = check_initializer(kernel_initializer, "kernel_initializer")
        self.bias_initializer = check_initializer(bias_initializer, "bias_initializer")

    def build(self, input_shape):
        check_steps_input("Conv1D", input_shape)
        self.conv = nn.Conv1d(input_shape[-1], self.filters, self.kernel_size,
                              dilation=self.dilation_rate, bias=self.use_bias)
        initialize(self.conv.weight, self.kernel_initializer)
        if self.use_bias:
            initialize(self.conv.bias, self.bias_initializer)
        super().build(input_shape)

    @property
    def keeps_steps(self):
        """Whether each output step is an input step ('same', stride 1): only
        then does the mask pass on."""
        return self.padding == "same" and self.strides == 1

    def output_shape(self, input_shape):
        steps = input_shape[0]
        if steps is not None and not self.keeps_steps:
            reach = self.dilation_rate * (self.kernel_size - 1) + 1
            steps = (-(-steps // self.strides) if self.padding == "same"
                     else max((steps - reach) // self.strides + 1, 0))
        return (steps, self.filters)

    def compute_mask(self, x, mask):
        return mask if self.keeps_steps else None

    def forward(self, x, mask=None):
        if not self.keeps_steps:
            return self.strided(x)
        order = real = None
        if mask is not None:
            x, order, lengths = front_align(x, mask)
            real = (torch.arange(x.shape[1], device=x.device)[None] < lengths[:, None])[..., None]
            x = torch.where(real, x, 0)  # (N, T, F), zeros after each sample's real steps
        total = self.dilation_rate * (self.kernel_size - 1)
        x = x.transpose(1, 2)  # (N, F, T)
        if total % 2:  # an even reach: one more zero after than before, as Keras pads
            x = F.pad(x, (total // 2, total - total // 2))
        y = F.conv1d(x, self.conv.weight, self.conv.bias, padding=0 if total % 2 else total // 2,
                     dilation=self.dilation_rate).transpose(1, 2)  # (N, T, filters)
        fn = ACTIVATIONS[self.activation_name]
        y = fn(y) if fn is not None else y
        # the padded steps zeroed by a product, finite there as the input was zeroed:
        # several times faster than torch.where on a mask broadcast over the features
        return y if mask is None else scatter_back(y * real.to(y.dtype), order)

    def strided(self, x):
        """Keras' 'valid' (windows inside the sequence) or strided 'same'
        padding; a mask does not pass these (as in Keras, which drops it)."""
        x = x.transpose(1, 2)  # (N, F, T)
        if self.padding == "same":
            steps, reach = x.shape[-1], self.dilation_rate * (self.kernel_size - 1) + 1
            total = max((-(-steps // self.strides) - 1) * self.strides + reach - steps, 0)
            x = F.pad(x, (total // 2, total - total // 2))
        y = F.conv1d(x, self.conv.weight, self.conv.bias, self.strides,
                     dilation=self.dilation_rate).transpose(1, 2)  # (N, T', filters)
        fn = ACTIVATIONS[self.activation_name]
        return fn(y) if fn is not None else y

    def get_config(self):
        return {"filters": self.filters, "kernel_size": self.kernel_size,
                "dilation_rate": self.dilation_rate, "activation": self.activation_name,
                "kernel_initializer": self.kernel_initializer,
                "bias_initializer": self.bias_initializer, "padding": self.padding,
                "strides": self.strides, "use_bias": self.use_bias}


# ----- batch normalisation --------------------------------------------------------


def batch_moments(x, mask=None, synchronized=False):
    """The mean and the (biased) variance of each feature of x (N, F) or
    (N, T, F) over the samples and, with a mask (N, T), over the real steps
    only; and the number of values they were taken over (a tensor). Both in
    float32 or wider, whatever x's precision.

    synchronized: when several processes train together (torchrun), over
    the whole batch, every process's share: the counts, sums and sums of
    squares added across them (an all-reduce that gradients flow back
    through), so each process normalises as one process would."""
    x = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    if synchronized and dist.is_available() and dist.is_initialized() and (
            dist.get_world_size() > 1):
        return _global_moments(x, mask)
    if mask is None or x.dim() == 2:
        values = x.reshape(-1, x.shape[-1])  # (N * T, F)
        return values.mean(0), values.var(0, unbiased=False), x.new_tensor(len(values))
    real = mask[..., None]  # (N, T, 1)
    count = real.sum()
    n = count.clamp(min=1).to(x.dtype)
    mean = torch.where(real, x, 0).sum((0, 1)) / n  # (F,)
    var = torch.where(real, (x - mean) ** 2, 0).sum((0, 1)) / n  # (F,)
    return mean, var, count


def _all_reduce_sum(x):
    """x summed over the processes, differentiable (the backward sums the
    gradients likewise): torch's functional collective where torch has
    deprecated torch.distributed.nn's for it, which its older releases
    still need (their functional one has no backward)."""
    from torch.distributed.nn import functional as old

    if hasattr(old, "_deprecated"):
        from torch.distributed import _functional_collectives as collectives

        return collectives.all_reduce(x, "sum", dist.group.WORLD)
    return old.all_reduce(x)


def _global_moments(x, mask):
    """batch_moments over every process's share of the batch."""
    values = x.reshape(-1, x.shape[-1])  # (N * T, F)
    real = (torch.ones(len(values), 1, dtype=torch.bool, device=x.device) if mask is None
            or x.dim() == 2 else mask.reshape(-1, 1))
    values = torch.where(real, values, 0)
    # one all-reduce for the three: the count, then the sums, then the sums of squares
    local = torch.cat([real.sum(0).to(x.dtype), values.sum(0), (values * values).sum(0)])
    total = _all_reduce_sum(local)
    features = x.shape[-1]
    count = total[0]
    n = count.clamp(min=1)
    mean = total[1:1 + features] / n
    var = (total[1 + features:] / n - mean * mean).clamp(min=0)
    return mean, var, count.detach()


def normalize(x, mean, var, weight, bias, epsilon):
    """(x - mean) / sqrt(var + epsilon) * weight + bias on the last axis
    (weight and bias None for 1 and 0), in two passes over x."""
    scale = torch.rsqrt(var + epsilon)
    scale = scale * weight if weight is not None else scale
    return torch.addcmul(bias if bias is not None else scale.new_zeros(()), x - mean, scale)


class BatchNormalization(Layer):
    """Normalises each feature by the statistics of the batch while training
    and by their moving averages at inference (Ioffe & Szegedy 2015; Keras'
    BatchNormalization and its conventions), on the last axis of (N, F) or
    (N, T, F):

        y = gamma * (x - mean) / sqrt(var + epsilon) + beta

    Training takes mean and var (biased, as Keras) over the batch's samples
    and steps, and updates `moving = momentum * moving + (1 - momentum) *
    batch` (Keras' momentum 0.99 is torch's 0.01; Keras, like this layer,
    keeps the biased variance where torch keeps the unbiased). Inference
    (model.eval(), as predict and evaluate run) uses the moving mean and
    variance, buffers saved with the weights (`running_mean`,
    `running_var`, torch's names) and in checkpoints.

    With a mask, only the real steps count in the batch's statistics, so
    padding never shifts them; the outputs at padded steps are zero and the
    mask passes on. At inference each sample's result is therefore the one
    it gets run unpadded. Under torchrun each process takes the statistics
    of its own share of the batch, as Keras' default; with synchronized=True
    (Keras' argument) those of the whole batch, so that N processes train
    as one does.

    Args:
        axis: the axis normalised: -1 (the features), the only one taken.
        momentum: of the moving averages, in [0, 1]. Default 0.99.
        epsilon: added to the variance, > 0. Default 1e-3.
        center: learn an offset beta (initialised at 0). Default True.
        scale: learn a factor gamma (initialised at 1). Default True.
        synchronized: the statistics of the whole batch across the
            processes training together (one all-reduce a step). Default
            False.

    A frozen layer (trainable=False) normalises by its moving statistics and
    leaves them as they are, as Keras' does since 2.1.3 (fine-tuning).
    """

    freezes_in_inference = True

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 synchronized=False, **keras):
        super().__init__(**keras)
        if isinstance(axis, bool) or axis != -1:
            raise InputError(f"BatchNormalization axis must be -1 (the features), got {axis!r}")
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not (
                0 <= momentum <= 1):
            raise InputError(f"BatchNormalization momentum must be a number in [0, 1], got "
                             f"{momentum!r}")
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not (
                0 < epsilon < float("inf")):
            raise InputError(f"BatchNormalization epsilon must be a number above 0, got "
                             f"{epsilon!r}")
        for argument, value in (("center", center), ("scale", scale),
                                ("synchronized", synchronized)):
            if not isinstance(value, bool):
                raise InputError(f"BatchNormalization {argument} must be True or False, "
                                     f"got {value!r}")
        self.axis, self.momentum, self.epsilon = axis, float(momentum), float(epsilon)
        self.center, self.scale, self.synchronized = center, scale, synchronized

    def build(self, input_shape):
        if len(input_shape) not in (1, 2) or input_shape[-1] is None:
            raise InputError(f"BatchNormalization expects (samples, features) or (samples, "
                             f"timesteps, features) input, got per-sample shape "
                             f"{tuple(input_shape)}")
        features = input_shape[-1]
        self.weight = nn.Parameter(torch.ones(features)) if self.scale else None
        self.bias = nn.Parameter(torch.zeros(features)) if self.center else None
        self.register_buffer("running_mean", torch.zeros(features))
        self.register_buffer("running_var", torch.ones(features))
        super().build(input_shape)

    def forward(self, x, mask=None):
        padded = mask is not None and x.dim() == 3 and not bool(mask.all())
        values = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        if self.synchronized and dist.is_available() and dist.is_initialized() and (
                dist.get_world_size() > 1):
            return self.by_moments(values, mask if padded else None).to(x.dtype)
        if padded:  # the real steps alone, (R, F), then put back in place
            N, T, F_ = x.shape
            # rows of (N * T, F) by index: index_select and index_copy run (and
            # differentiate) a good deal faster than a boolean gather and masked_scatter
            real = mask.reshape(-1).nonzero().squeeze(1)
            if not len(real):  # no real step: zeros, and the averages as they were
                return torch.zeros_like(x)
            values = values.reshape(N * T, F_).index_select(0, real)
        if self.training and values.numel() <= values.shape[-1]:
            y = self.by_moments(values, None)  # one value a feature
        else:
            y = self.fused(values)
        if padded:
            y = y.new_zeros(N * T, F_).index_copy(0, real, y).view(N, T, F_)
        return y.to(x.dtype)

    def fused(self, x):
        """forward through torch's batch_norm kernel, on the channels-first
        view of x (N, T, F), or on x (R, F): one pass each way, where
        by_moments' formula takes several. The moving variance kept biased,
        as the layer's (torch's own update adds the unbiased one)."""
        channels = x.transpose(1, 2) if x.dim() == 3 else x  # (N, F, T) or (N, F)
        if not self.training:
            y = F.batch_norm(channels, self.running_mean, self.running_var, self.weight,
                             self.bias, False, 0.0, self.epsilon)
        else:
            count = channels.numel() // channels.shape[1]  # values per feature, > 1
            # copies for torch to update: its backward keeps what it was given
            mean, var = self.running_mean.clone(), self.running_var.clone()
            y = F.batch_norm(channels, mean, var, self.weight, self.bias, True,
                             1 - self.momentum, self.epsilon)
            with torch.no_grad():  # the unbiased variance's share made the biased one's:
                # momentum * old + (count - 1) / count * (var - momentum * old)
                self.running_mean.copy_(mean)
                self.running_var.mul_(self.momentum).lerp_(var, (count - 1) / count)
        return y.transpose(1, 2) if x.dim() == 3 else y

    def by_moments(self, x, mask):
        """forward by the formula: the batch's moments over its real steps
        (batch_moments, across the processes when synchronized), then each
        feature scaled and shifted, zero at padded steps."""
        if self.training:
            mean, var, count = batch_moments(x, mask, self.synchronized)
            with torch.no_grad():  # a batch of no real step leaves the averages as they were
                dtype = self.running_mean.dtype
                step = torch.where(count > 0, 1 - self.momentum, 0.0).to(dtype)
                self.running_mean.lerp_(mean.to(dtype), step)
                self.running_var.lerp_(var.to(dtype), step)
        else:
            mean, var = self.running_mean, self.running_var
        y = normalize(x, mean, var, self.weight, self.bias, self.epsilon)
        return y if mask is None else torch.where(mask[..., None], y, 0)  # (N, T, F)

    def get_config(self):
        return {"axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale, "synchronized": self.synchronized}


# ----- branches side by side -------------------------------------------------------


class Parallel(Layer):
    """Several stacks of layers run side by side on the same input, their
    outputs concatenated on the last axis: (..., F) -> (..., F_1 + F_2 +
    ...). A Sequential is one stack; this is how a model of branches, such
    as LSTM-FCN (Karim et al. 2017: an LSTM beside a fully convolutional
    block with global average pooling), is written as one:

        Parallel([[LSTM(64), Dropout(0.2)],
                  [Conv1D(128, 8), BatchNormalization(), Activation("relu"),
                   GlobalAveragePooling1D()]])

    Args:
        branches: a list of two or more branches, each a list of layers
            (not built yet) run in order, as a Sequential runs its own; the
            mask that comes in is given to each. Their outputs must agree
            in all but the last axis (all pooled, (N, F_i), or all per step,
            (N, T, F_i)).

    With per-step outputs the incoming mask passes on; pooled ones end it.
    A branch cannot make a mask of its own (Masking, Embedding(mask_zero=
    True): put them before the Parallel), carry a state (stateful,
    return_state), give a pair (Bidirectional(merge_mode=None)) or tie a
    Dense to an Embedding.
    """

    MAX_BRANCHES, MAX_LAYERS = 16, 64  # per Parallel, per branch (a file's bounds too)

    def __init__(self, branches, **keras):
        super().__init__(**keras)
        if not isinstance(branches, (list, tuple)) or not 2 <= len(branches) <= self.MAX_BRANCHES:
            raise InputError(f"Parallel branches must be a list of 2 to {self.MAX_BRANCHES} "
                             f"branches (lists of layers), got {type(branches).__name__}"
                             + (f" of {len(branches)}" if isinstance(branches, (list, tuple))
                                else ""))
        stacks = []
        for i, branch in enumerate(branches):
            if not isinstance(branch, (list, tuple)) or not 1 <= len(branch) <= self.MAX_LAYERS \
                    or not all(isinstance(layer, Layer) for layer in branch):
                raise InputError(f"Parallel branch {i} must be a list of 1 to {self.MAX_LAYERS} "
                                 f"lstmkit layers, got {branch!r}")
            for layer in branch:
                why = self.refused(layer)
                if why:
                    raise InputError(f"Parallel branch {i}: {type(layer).__name__} {why}")
            stacks.append(nn.ModuleList(branch))
        self.branches = nn.ModuleList(stacks)

    @staticmethod
    def refused(layer):
        """Why `layer` cannot run inside a branch, or None."""
        if layer.built:
            return "is built already: a branch takes layers not built yet"
        if isinstance(layer, Masking) or getattr(layer, "mask_zero", False):
            return "makes a mask: put it before the Parallel, which passes the mask to each branch"
        if getattr(layer, "return_state", False) or (layer.recurrent and layer.stateful):
            return "carries a state (return_state or stateful), which a branch cannot give on"
        if getattr(layer, "merge_mode", "concat") is None:
            return "with merge_mode=None gives a pair: use 'concat', 'sum', 'mul' or 'ave'"
        if getattr(layer, "tie_weights", False):
            return "with tie_weights=True: a branch has no Embedding to tie to"
        return None

    @property
    def input_rank(self):
        """The first layers' input rank, where they say and agree."""
        ranks = {getattr(branch[0], "input_rank", None) for branch in self.branches}
        return ranks.pop() if len(ranks) == 1 else None

    def branch_shapes(self, input_shape):
        """Each branch's per-sample output shape for `input_shape`."""
        shapes = []
        for branch in self.branches:
            shape = tuple(input_shape)
            for layer in branch:
                shape = tuple(layer.output_shape(shape))
            shapes.append(shape)
        return shapes

    def build(self, input_shape):
        for branch in self.branches:
            shape = tuple(input_shape)
            for layer in branch:
                layer.build(shape)
                shape = tuple(layer.output_shape(shape))
        shapes = self.branch_shapes(input_shape)
        if len({s[:-1] for s in shapes}) != 1 or any(not s or s[-1] is None for s in shapes):
            raise InputError(f"Parallel's branches give outputs of per-sample shapes "
                             f"{', '.join(map(str, shapes))}: they must agree in all but the "
                             "last axis to be concatenated")
        self.keeps_steps = len(shapes[0]) == 2  # a time axis, and so the mask, goes on
        super().build(input_shape)

    def output_shape(self, input_shape):
        shapes = self.branch_shapes(input_shape)
        return shapes[0][:-1] + (sum(s[-1] for s in shapes),)

    def compute_mask(self, x, mask):
        return mask if self.keeps_steps else None

    def check_input(self, x, argument="x"):
        for branch in self.branches:
            branch[0].check_input(x, argument)

    def forward(self, x, mask=None):
        outputs = []
        for branch in self.branches:
            h, m = x, mask
            for layer in branch:
                h, m = layer(h, mask=m), layer.compute_mask(h, m)
            outputs.append(h)
        return torch.cat(outputs, dim=-1)  # (..., F_1 + F_2 + ...)

    def get_config(self):
        return {"branches": [[layer_entry(layer)
                              for layer in branch] for branch in self.branches]}
