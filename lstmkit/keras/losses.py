"""keras.losses: the losses lstmkit has, under Keras' class and function names.

Each is a `str` holding lstmkit's name (see lstmkit.keras._named), so
`compile(loss=keras.losses.BinaryCrossentropy())` is
`compile(loss='binary_crossentropy')`: the logits path after a sigmoid or
softmax, the targets check, 'accuracy' picked from the loss, and the name
saved with the model. Called, a class instance gives Keras' value, the mean
loss `loss(y_true, y_pred)`; a function gives one value per sample.

Arguments lstmkit cannot honour are refused: `from_logits=True` (lstmkit
computes cross-entropy from the logits itself when the last layer has the
sigmoid or softmax: put the activation there), `label_smoothing`,
`axis` other than -1, `ignore_class`, `sample_weight`, and a reduction
other than the mean (Keras' 'sum_over_batch_size').
"""

import torch

from .. import metrics as _metrics
from ._keras_names import KERAS_NAMES as _KERAS_NAMES
from ._named import Named as _Named
from ._named import as_tensor as _as_tensor
from ._support import NotSupportedError
from ._support import keyword_defaults as _keyword_defaults
from ._support import refusals as _refusals

__all__ = ["BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
           "MeanSquaredError", "MeanAbsoluteError", "binary_crossentropy",
           "categorical_crossentropy", "sparse_categorical_crossentropy", "mean_squared_error",
           "mean_absolute_error", "mse", "mae", "get", "serialize", "deserialize"]

_LOGITS = ("lstmkit computes cross-entropy from the logits itself when the last layer's "
           "activation is {activation}: give the last layer that activation and leave "
           "from_logits out (predict then gives probabilities)")
_MEAN = ("sum_over_batch_size", "mean", "auto")


def _values(name, y_true, y_pred, from_logits=False):
    """Keras' per-sample values: lstmkit's loss function on (y_pred, y_true)."""
    p = _as_tensor(y_pred)
    if name == "sparse_categorical_crossentropy":
        y = torch.as_tensor(y_true.numpy() if isinstance(y_true, torch.Tensor) else y_true)
        y = y.long().reshape(p.shape[:-1])
    else:
        y = _as_tensor(y_true).reshape(p.shape)
    fn = getattr(_metrics, f"{name}_from_logits" if from_logits else name)
    return fn(p, y)


def _function(name, keras_arguments=()):
    def fn(y_true, y_pred, from_logits=False, **kwargs):
        _keyword_defaults(name, kwargs, {a: (d, "not offered") for a, d in keras_arguments})
        return _values(name, y_true, y_pred, from_logits)

    fn.__name__ = name
    return _Named(name, fn)


binary_crossentropy = _function("binary_crossentropy", (("label_smoothing", 0.0), ("axis", -1)))
categorical_crossentropy = _function("categorical_crossentropy",
                                     (("label_smoothing", 0.0), ("axis", -1)))
sparse_categorical_crossentropy = _function("sparse_categorical_crossentropy",
                                            (("ignore_class", None), ("axis", -1)))
mean_squared_error = mse = _function("mean_squared_error")
mean_absolute_error = mae = _function("mean_absolute_error")


class _Loss(_Named):
    """A Keras loss class: its instances are lstmkit's loss name."""

    LOSS = None
    ACTIVATION = None
    ARGUMENTS = {}  # Keras' arguments lstmkit takes at one value only: (value, advice)

    def __new__(cls, from_logits=False, reduction="sum_over_batch_size", name=None, dtype=None,
                **kwargs):
        if from_logits:
            raise NotSupportedError(f"{cls.__name__}(from_logits=True) is not supported by "
                                    f"lstmkit: " + _LOGITS.format(activation=cls.ACTIVATION))
        if reduction not in _MEAN:
            raise NotSupportedError(f"{cls.__name__}(reduction={reduction!r}) is not supported "
                                    "by lstmkit: the loss is the mean over samples (and real "
                                    "steps), Keras' 'sum_over_batch_size'")
        if dtype is not None:
            raise NotSupportedError(f"{cls.__name__}(dtype=...) is not supported by lstmkit: "
                                    "the loss is computed in the model's precision")
        unknown = sorted(set(kwargs) - set(cls.ARGUMENTS))
        if unknown:
            raise TypeError(f"{cls.__name__}() got unexpected keyword argument(s) {unknown}")
        _keyword_defaults(cls.__name__, kwargs, cls.ARGUMENTS)
        self = super().__new__(cls, cls.LOSS, None, {"reduction": reduction,
                                                     "name": name or cls.LOSS})
        return self

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise NotSupportedError(f"{type(self).__name__}(sample_weight=...) is not supported "
                                    "by lstmkit")
        return _values(self.LOSS, y_true, y_pred).mean()


class BinaryCrossentropy(_Loss):
    LOSS, ACTIVATION = "binary_crossentropy", "'sigmoid'"
    ARGUMENTS = {"label_smoothing": (0.0, "smooth the labels in y before fit"),
                 "axis": (-1, "the classes are on the last axis")}


class CategoricalCrossentropy(_Loss):
    LOSS, ACTIVATION = "categorical_crossentropy", "'softmax'"
    ARGUMENTS = BinaryCrossentropy.ARGUMENTS


class SparseCategoricalCrossentropy(_Loss):
    LOSS, ACTIVATION = "sparse_categorical_crossentropy", "'softmax'"
    ARGUMENTS = {"ignore_class": (None, "padded steps (a mask) are left out of the loss "
                                        "already"),
                 "axis": (-1, "the classes are on the last axis")}


class MeanSquaredError(_Loss):
    LOSS = "mean_squared_error"


class MeanAbsoluteError(_Loss):
    LOSS = "mean_absolute_error"


_BY_NAME = {"binary_crossentropy": BinaryCrossentropy, "categorical_crossentropy":
            CategoricalCrossentropy, "sparse_categorical_crossentropy":
            SparseCategoricalCrossentropy, "mean_squared_error": MeanSquaredError, "mse":
            MeanSquaredError, "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError}
_BY_NAME.update({cls.__name__: cls for cls in set(_BY_NAME.values())})


def get(identifier):
    """The loss for a name (function or class spelling) or a serialized dict."""
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, _Named):
        return identifier
    if isinstance(identifier, str) and str(identifier) in _BY_NAME:
        return _BY_NAME[str(identifier)]()
    return __getattr__(str(identifier))


def serialize(loss):
    return {"class_name": type(get(loss)).__name__, "config": get(loss).get_config()}


def deserialize(config, custom_objects=None):
    cls = _BY_NAME.get(config.get("class_name") if isinstance(config, dict) else None)
    if cls is None or not isinstance(cls, type):
        return __getattr__(str(config.get("class_name") if isinstance(config, dict) else config))
    return cls(**{k: v for k, v in (config.get("config") or {}).items()})


_OTHERS = ("lstmkit has binary, categorical and sparse categorical cross-entropy, mean squared "
           "and mean absolute error; pass any other loss as a callable loss(y_pred, y_true) "
           "returning a scalar tensor (its targets are passed as given)")
__getattr__ = _refusals("losses", _KERAS_NAMES["losses"], {}, _OTHERS, __all__)
