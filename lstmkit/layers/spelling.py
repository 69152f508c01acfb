"""Keras' spellings of a model's input, and the arguments Keras code passes
to a layer beside lstmkit's own.

`input_shape=`, `batch_input_shape=`, `input_dim=`, `input_length=` and
`batch_size=` say what the first layer receives, so the model builds at
once, as in Keras; `Input(shape=...)` as the first entry of a Sequential says
the same. They are hints, not part of the saved configuration. Values that
the fused kernel fixes (an LSTM's tanh and sigmoid) are accepted as those
values and refused with the reason otherwise; Keras 1's names are refused
with today's spelling; anything else is refused, naming the layer.
"""

from ..errors import InputError, InputTypeError

# Keras 1 -> today
KERAS_1 = {"output_dim": "units", "nb_filter": "filters", "filter_length": "kernel_size",
           "init": "kernel_initializer", "inner_init": "recurrent_initializer",
           "inner_activation": "recurrent_activation", "dropout_W": "dropout",
           "dropout_U": "recurrent_dropout", "W_regularizer": "kernel_regularizer",
           "U_regularizer": "recurrent_regularizer", "b_regularizer": "bias_regularizer",
           "forget_bias_init": "unit_forget_bias", "border_mode": "padding",
           "subsample_length": "strides", "pool_length": "pool_size"}


# Keras arguments whose default (None) is what lstmkit does: taken as None, refused otherwise
KERAS_DEFAULT_ONLY = {f"{w}_{kind}" for w in ("kernel", "recurrent", "bias", "activity",
                                              "embeddings", "beta", "gamma")
                      for kind in ("regularizer", "constraint")}
# Keras arguments lstmkit refuses, and what to use instead
KERAS_HINTS = {
    **{k: "lstmkit has no per-layer regularisers or constraints: use the layers' dropout "
          "options, or compile with an optimizer's weight_decay=" for k in KERAS_DEFAULT_ONLY},
    "seed": "dropout masks come from torch's generator: fit(seed=) or "
            "lstmkit.train.set_seed makes a run repeat",
    "noise_shape": "use LockedDropout (one mask a sequence) or SpatialDropout1D",
    "dtype": "a model's dtype is its weights' (model.double(), or fit(precision=...))",
}


class Input:
    """The model's input, as Keras' `Input(shape=...)`: the shape of one
    sample (without the batch axis), None for a size that varies. As the
    first entry of a Sequential it builds the model at once."""

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, batch_shape=None):
        if batch_shape is not None:
            batch_size, shape = batch_shape[0], tuple(batch_shape[1:])
        if shape is None:
            raise InputError("Input needs shape=(...), the shape of one sample")
        try:
            self.shape = tuple(shape)
        except TypeError:
            self.shape = (shape,)
        if not all(d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0)
                   for d in self.shape):
            raise InputError(f"Input shape must hold positive sizes or None, got {shape!r}")
        self.batch_size, self.name = batch_size, name
        self.dtype = None if dtype is None else str(dtype).replace("torch.", "")


def read_keras_arguments(layer, given, fixed=None):
    """Take the Keras-only arguments `given` to `layer` (a dict): set
    `layer.declared_input_shape` (per sample, or None), `layer.batch_size`,
    `layer.name` and whether it is trainable; check `fixed` {argument: the
    only value lstmkit runs}."""
    given, name = dict(given), type(layer).__name__
    shape = None
    if given.get("batch_input_shape") is not None:
        batch_shape = tuple(given.pop("batch_input_shape"))
        given.setdefault("batch_size", batch_shape[0])
        shape = batch_shape[1:]
    if given.get("input_shape") is not None:
        shape = tuple(given.pop("input_shape"))
    length = given.pop("input_length", None)
    if given.get("input_dim") is not None:  # Keras 2: the features of one step
        dim = given.pop("input_dim")
        shape = (dim,) if getattr(layer, "input_rank", None) != 2 else (length, dim)
    elif length is not None:
        shape = (length,) if getattr(layer, "input_rank", None) == 1 else shape
    for key in ("batch_input_shape", "input_shape", "input_dim"):
        given.pop(key, None)
    layer.declared_input_shape = shape
    layer.batch_size = given.pop("batch_size", None)
    layer.name = given.pop("name", None)
    if layer.name is not None and (not isinstance(layer.name, str) or not layer.name.strip()):
        raise InputTypeError(f"{name} name must be a non-empty string, got {layer.name!r}")
    trainable = given.pop("trainable", True)
    if not isinstance(trainable, bool):
        raise InputTypeError(f"{name} trainable must be True or False, got {trainable!r}")
    layer.__dict__["_trainable"] = trainable  # Layer.trainable; the parameters come at build
    for argument, value in (fixed or {}).items():
        if argument in given:
            got = given.pop(argument)
            if got != value:
                raise InputError(f"{name} {argument}={got!r}: lstmkit's {name} runs the fused "
                                 f"kernel (oneDNN, cuDNN), which computes {argument}={value!r} only")
    old = [f"{k} is Keras 1's spelling of {KERAS_1[k]}" for k in given if k in KERAS_1]
    if old:
        raise InputTypeError(f"{name}: {'; '.join(old)}")
    for key in [k for k in given if k in KERAS_DEFAULT_ONLY and given[k] is None]:
        del given[key]  # Keras' default (no regulariser, no constraint): what lstmkit does
    hinted = [f"{k}= ({KERAS_HINTS[k]})" for k in given if k in KERAS_HINTS]
    if hinted:
        raise InputTypeError(f"{name} does not take Keras' {'; '.join(hinted)}")
    if given:
        raise InputTypeError(f"{name} has no argument(s) {sorted(given)}")
