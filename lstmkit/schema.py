"""What a saved config.json may hold: one declarative schema, checked before use.

`check_config` runs on the parsed document before anything is built, so a
hostile or damaged file (a list where a name belongs, a dict for a number, a
wrapper inside a wrapper inside a wrapper...) gives a ModelFileError naming
the field, e.g. `model.layers[1].config.units must be an int, got list`,
never a TypeError or AttributeError from deep inside.

The schema checks types, allowed names and the bounds the constructors
declare, and refuses two things the constructors accept but building then
fails on: a bias initialiser that needs a matrix, and a null features axis.
The constructors check again when the model is built from the file (and
alone check what depends on several arguments, such as proj_size below
units). LAYER_ARGUMENTS holds one table per class in `layers.LAYERS`;
tests/test_schema.py checks that it covers every constructor argument and
that its bounds are the constructors' own.
"""

import math

from .errors import ModelFileError
from .initializers import INITIALIZERS, VECTOR_INITIALIZERS
from .layers import LAYERS
from .layers.core import ACTIVATIONS, Parallel
from .layers.recurrent import Bidirectional, Recurrent

MAX_INPUT_RANK = 8  # per-sample axes of the model's input (model.py has the same bound)
MAX_WRAPPERS = 3  # e.g. TimeDistributed(Bidirectional(LSTM)) puts the LSTM inside 2 (a
#                  Parallel counts as one around its branches' layers)


class SchemaError(Exception):
    """A value breaks the schema: `path` names it (model.layers[1].config.units),
    `message` says how."""

    def __init__(self, path, message):
        super().__init__(f"{path} {message}")


def describe(value):
    """A value's JSON kind, and the value itself when it is short."""
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return type(value).__name__
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an int of {value.bit_length()} bits"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def _join(path, key):
    return f"{path}.{key}" if path else key


# Each spec below has `check(value, path, wrappers)`, which raises SchemaError;
# `wrappers` counts the wrapper layers around the value, to bound their nesting.


class Int:
    """An int (not a bool), from `low` to `high` where given."""

    def __init__(self, low=None, high=None):
        self.low, self.high = low, high

    def check(self, value, path, wrappers):
        if isinstance(value, bool) or not isinstance(value, int):
            raise SchemaError(path, f"must be an int, got {describe(value)}")
        if self.low is not None and value < self.low or (
                self.high is not None and value > self.high):
            bounds = (f"between {self.low} and {self.high}" if self.high is not None
                      else f"at least {self.low}")
            raise SchemaError(path, f"must be {bounds}, got {describe(value)}")


class Number:
    """A finite int or float (not a bool), in [low, high]; high_open and
    low_open leave the bound out."""

    def __init__(self, low=-math.inf, high=math.inf, high_open=False, low_open=False):
        self.low, self.high, self.high_open, self.low_open = low, high, high_open, low_open

    def check(self, value, path, wrappers):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                isinstance(value, float) and not math.isfinite(value)):
            raise SchemaError(path, f"must be a finite number, got {describe(value)}")
        above = value >= self.high if self.high_open else value > self.high
        below = value <= self.low if self.low_open else value < self.low
        if below or above:
            interval = (f"{'(' if self.low_open else '['}{self.low}, "
                        f"{self.high}{')' if self.high_open else ']'}")
            raise SchemaError(path, f"must be a number in {interval}, got {describe(value)}")


class Bool:
    def check(self, value, path, wrappers):
        if not isinstance(value, bool):
            raise SchemaError(path, f"must be true or false, got {describe(value)}")


class Str:
    def check(self, value, path, wrappers):
        if not isinstance(value, str):
            raise SchemaError(path, f"must be a string, got {describe(value)}")


class Choice:
    """One of `names` (strings, and None where None is among them)."""

    def __init__(self, names):
        self.names = tuple(names)

    def check(self, value, path, wrappers):
        if not (value is None or isinstance(value, str)) or value not in self.names:
            shown = ", ".join("null" if n is None else repr(n) for n in self.names)
            raise SchemaError(path, f"must be one of {shown}, got {describe(value)}")


class Nullable:
    """null, or a value `spec` accepts."""

    def __init__(self, spec):
        self.spec = spec

    def check(self, value, path, wrappers):
        if value is not None:
            self.spec.check(value, path, wrappers)


class ListOf:
    """A list of `min_length` to `max_length` items, each one `item` accepts."""

    def __init__(self, item, min_length=0, max_length=None):
        self.item, self.min_length, self.max_length = item, min_length, max_length

    def check(self, value, path, wrappers):
        if not isinstance(value, list):
            raise SchemaError(path, f"must be a list, got {describe(value)}")
        if len(value) < self.min_length:
            raise SchemaError(path, f"must hold at least {self.min_length} item(s)")
        if self.max_length is not None and len(value) > self.max_length:
            raise SchemaError(path, f"must hold at most {self.max_length} items, "
                                    f"got {len(value)}")
        for i, item in enumerate(value):
            self.item.check(item, f"{path}[{i}]", wrappers)


class Required:
    """Marks a field of a Record that must be present."""

    def __init__(self, spec):
        self.spec = spec


class Record:
    """An object with the given fields ({key: spec, or Required(spec)}).

    Keys not named are ignored, as the loader never reads them, except in
    the arguments of `taken_by` (a layer class): those are all passed on to
    its constructor, so an unknown one is refused."""

    def __init__(self, fields, taken_by=None):
        self.required = {k for k, spec in fields.items() if isinstance(spec, Required)}
        self.fields = {k: spec.spec if isinstance(spec, Required) else spec
                       for k, spec in fields.items()}
        self.taken_by = taken_by

    def check(self, value, path, wrappers):
        if not isinstance(value, dict):
            raise SchemaError(path or "the document", f"must be an object, got {describe(value)}")
        missing = sorted(self.required - set(value))
        if missing:
            raise SchemaError(_join(path, missing[0]), "is missing")
        unknown = sorted(set(value) - set(self.fields))
        if self.taken_by and unknown:
            raise SchemaError(path, f"holds {unknown}, which {self.taken_by} does not take")
        for key, spec in self.fields.items():
            if key in value:
                spec.check(value[key], _join(path, key), wrappers)


class Object:
    """Any object (its values are JSON, as they were parsed from JSON)."""

    def check(self, value, path, wrappers):
        if not isinstance(value, dict):
            raise SchemaError(path, f"must be an object, got {describe(value)}")


class Layer:
    """{'class': one of `classes`, 'config': that class's arguments, and
    optionally its 'name' and 'trainable'}; the arguments of a wrapper hold
    a Layer again, at most MAX_WRAPPERS deep."""

    def __init__(self, classes):
        self.entry = Record({"class": Required(Choice(classes)), "config": Required(Object()),
                             "name": Str(), "trainable": Bool()})

    def check(self, value, path, wrappers):
        if wrappers > MAX_WRAPPERS:
            raise SchemaError(path, f"is a layer inside more than {MAX_WRAPPERS} wrappers")
        self.entry.check(value, path, wrappers)
        ARGUMENTS[value["class"]].check(value["config"], _join(path, "config"), wrappers + 1)


class Model(Record):
    """The 'model' section: its fields, then the one rule between them. A
    null size (any length) must not be the last axis of the input, which
    the first layer's weights are sized by, unless that layer (or the one a
    wrapper holds) is an Embedding, whose input is ids shaped (steps,)."""

    def check(self, value, path, wrappers):
        super().check(value, path, wrappers)
        shape, first = value["input_shape"], value["layers"][0]
        while "layer" in first["config"]:
            first = first["config"]["layer"]
        if shape and shape[-1] is None and first["class"] != "Embedding":
            raise SchemaError(_join(path, f"input_shape[{len(shape) - 1}]"),
                              "must be a size, got null: it is the features axis (only a "
                              "model starting with an Embedding has its steps there)")


# ----- the schema ------------------------------------------------------------

UNITS = Int(1, 2**20)  # as check_positive_int's default bound
RATE = Number(0, 1, high_open=True)
INITIALIZER = Choice(INITIALIZERS)  # in a file, only names: callables are not saved
# a bias is a vector: the others need a matrix, and fail when built
BIAS_INITIALIZER = Choice(VECTOR_INITIALIZERS)
RECURRENT = {
    "units": Required(UNITS),
    "return_sequences": Bool(),
    "return_state": Bool(),
    "num_layers": Int(1, 64),
    "dropout": RATE,
    "input_dropout": RATE,
    "stateful": Bool(),
    "recurrent_dropout": RATE,
    "weight_dropout": RATE,
    "masked_impl": Choice(("auto", "packed", "padded")),
    "impl": Choice(("auto", "fused", "reference")),
    "kernel_initializer": INITIALIZER,
    "recurrent_initializer": INITIALIZER,
    "bias_initializer": BIAS_INITIALIZER,
}

# each layer class's constructor arguments, as a saved config may give them
LAYER_ARGUMENTS = {
    "Embedding": {
        "input_dim": Required(Int(1, 2**26)),
        "output_dim": Required(UNITS),
        "mask_zero": Bool(),
        "embeddings_initializer": INITIALIZER,
        "dropout": RATE,
        "scaled": Bool(),
    },
    "LSTM": {**RECURRENT, "proj_size": Int(0, 2**20 - 1), "unit_forget_bias": Bool()},
    "GRU": RECURRENT,
    "Bidirectional": {
        "layer": Required(Layer([n for n, cls in LAYERS.items() if issubclass(cls, Recurrent)])),
        "merge_mode": Choice(Bidirectional.MERGES),
    },
    "Dropout": {"rate": Required(RATE)},
    "LockedDropout": {"rate": Required(RATE)},
    "Dense": {
        "units": Required(UNITS),
        "activation": Choice((*ACTIVATIONS, None)),
        "kernel_initializer": INITIALIZER,
        "bias_initializer": BIAS_INITIALIZER,
        "tie_weights": Bool(),
        "use_bias": Bool(),
    },
    "Masking": {"mask_value": Number()},
    "TimeDistributed": {"layer": Required(Layer(LAYERS))},
    "GlobalAveragePooling1D": {},
    "GlobalMaxPooling1D": {},
    "AttentionPooling1D": {
        "units": UNITS,
        "kernel_initializer": INITIALIZER,
        "bias_initializer": BIAS_INITIALIZER,
    },
    "ConcatPooling1D": {"poolings": Nullable(ListOf(Choice(("max", "mean")), 1, 2))},
    "Activation": {"activation": Required(Choice((*ACTIVATIONS, None)))},
    "Flatten": {},
    "RepeatVector": {"n": Required(Int(1, 2**20))},
    "MaxPooling1D": {"pool_size": Int(1, 2**20), "strides": Nullable(Int(1, 2**20)),
                     "padding": Choice(("valid", "same")), "keep_mask": Bool()},
    "SpatialDropout1D": {"rate": Required(RATE)},
    "DimensionShuffle": {"length": Required(Int(1, 2**20))},
    "Conv1D": {
        "filters": UNITS,
        "kernel_size": Int(1, 2**12),
        "dilation_rate": Int(1, 2**12),
        "activation": Choice((*(a for a in ACTIVATIONS if a != "softmax"), None)),
        # a convolution's kernel is 3-D: an initialiser that needs a matrix fails on it
        "kernel_initializer": Choice([n for n in INITIALIZERS if n != "identity"]),
        "bias_initializer": BIAS_INITIALIZER,
        "padding": Choice(("same", "valid")),
        "strides": Int(1, 2**12),
        "use_bias": Bool(),
    },
    "BatchNormalization": {
        "axis": Int(-1, -1),
        "momentum": Number(0, 1),
        "epsilon": Number(0, low_open=True),
        "center": Bool(),
        "scale": Bool(),
        "synchronized": Bool(),
    },
    "Parallel": {"branches": Required(ListOf(ListOf(Layer(LAYERS), 1, Parallel.MAX_LAYERS), 2,
                                             Parallel.MAX_BRANCHES))},
}
ARGUMENTS = {name: Record(fields, taken_by=name) for name, fields in LAYER_ARGUMENTS.items()}

MODEL = Model({
    "class": Required(Choice(("Sequential",))),
    "input_shape": Required(ListOf(Nullable(Int(1, 2**31)), max_length=MAX_INPUT_RANK)),
    "input_dtype": Required(Choice(("int64", "float32"))),
    "layers": Required(ListOf(Layer(LAYERS), min_length=1)),
})

DOCUMENT = Record({
    "format": Required(Str()),
    "format_version": Required(Int(1)),
    "lstmkit_version": Str(),
    "model": Required(MODEL),
    "compile": Nullable(Record({
        "loss": Nullable(Str()),
        "optimizer": Nullable(Str()),
        "metrics": Nullable(ListOf(Str())),
    })),
    "metadata": Nullable(Object()),
    "training_config": Nullable(Object()),
    "preprocessing": Nullable(Record({
        "kind": Required(Str()),
        "version": Required(Int()),
        "data": Required(Object()),
    })),
    "weights_sha256": Required(Str()),
})


def check_config(config, where):
    """Check a model's whole config.json against DOCUMENT; `where` (the
    file) starts the message. Raises ModelFileError naming the field."""
    try:
        DOCUMENT.check(config, "", 0)
    except SchemaError as e:
        raise ModelFileError(f"{where}: {e}") from None
