"""keras.metrics: lstmkit's metrics under Keras' class and function names.

As the losses, each is a `str` holding lstmkit's name, so
`metrics=[keras.metrics.BinaryAccuracy()]` is `metrics=['binary_accuracy']`
and logs under that name. `Accuracy()` is lstmkit's 'accuracy', which picks
binary, categorical or sparse accuracy from the loss (Keras' string
'accuracy' does that too; Keras' `Accuracy` class compares values for exact
equality, which is rarely what a classifier wants). A metric given another
`name=`, or `BinaryAccuracy(threshold=...)` other than 0.5, becomes a
callable metric of that name: it trains and logs, but a model file keeps
names only. Called, a class instance gives Keras' value over a batch (the
mean), a function one value per sample.
"""

import torch

from .. import metrics as _metrics
from ._keras_names import KERAS_NAMES as _KERAS_NAMES
from ._named import Named as _Named
from ._named import as_tensor as _as_tensor
from ._support import NotSupportedError
from ._support import refusals as _refusals
from .losses import mean_absolute_error, mean_squared_error

__all__ = ["Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
           "MeanSquaredError", "MeanAbsoluteError", "binary_accuracy", "categorical_accuracy",
           "sparse_categorical_accuracy", "mean_squared_error", "mean_absolute_error", "get"]


def _targets(name, y_true, p):
    if name == "sparse_categorical_accuracy":
        y = torch.as_tensor(y_true.numpy() if isinstance(y_true, torch.Tensor) else y_true)
        return y.reshape(p.shape[:-1])
    return _as_tensor(y_true).reshape(p.shape)


def _binary(threshold):
    def fn(p, y, from_logits=False, activation=None):
        return ((p > threshold) == (y > 0.5)).float().mean(-1)
    return fn


def _per_sample(name, y_true, y_pred, threshold=0.5):
    p = _as_tensor(y_pred)
    fn = _binary(threshold) if name == "binary_accuracy" else getattr(_metrics, name)
    return fn(p, _targets(name, y_true, p))


def _function(name):
    def fn(y_true, y_pred, **kwargs):
        return _per_sample(name, y_true, y_pred, **kwargs)
    fn.__name__ = name
    return _Named(name, fn)


binary_accuracy = _function("binary_accuracy")
categorical_accuracy = _function("categorical_accuracy")
sparse_categorical_accuracy = _function("sparse_categorical_accuracy")


class _Metric(_Named):
    """A Keras metric class: its instances are lstmkit's metric name, or a
    callable metric of another name."""

    METRIC = None  # lstmkit's name
    DEFAULT_NAME = None  # Keras' default name= (what logs show)

    def __new__(cls, name=None, dtype=None, **kwargs):
        if dtype is not None:
            raise NotSupportedError(f"{cls.__name__}(dtype=...) is not supported by lstmkit")
        threshold = kwargs.pop("threshold", 0.5)
        if kwargs:
            raise TypeError(f"{cls.__name__}() got unexpected keyword argument(s) "
                            f"{sorted(kwargs)}")
        if (name is None or name == cls.DEFAULT_NAME) and threshold == 0.5:
            return super().__new__(cls, cls.METRIC, None, {"name": cls.DEFAULT_NAME})
        return _renamed(cls.METRIC, name or cls.DEFAULT_NAME, threshold)

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise NotSupportedError(f"{type(self).__name__}(sample_weight=...) is not supported "
                                    "by lstmkit")
        if self.METRIC == "accuracy":  # called, Keras' Accuracy compares for equality
            return (_as_tensor(y_true).reshape(_as_tensor(y_pred).shape)
                    == _as_tensor(y_pred)).float().mean()
        return _per_sample(self.METRIC, y_true, y_pred).mean()


def _renamed(metric, name, threshold):
    """A callable metric under `name`: lstmkit's callable-metric protocol
    m(y_pred, y_true) -> per-sample values, on the model's outputs."""
    if metric == "accuracy":
        raise NotSupportedError("Accuracy(name=...) is not supported by lstmkit: 'accuracy' "
                                "takes its variant from the loss; name the variant "
                                "(BinaryAccuracy(name=...), ...) instead")
    fn = _binary(threshold) if metric == "binary_accuracy" else getattr(_metrics, metric)

    def renamed(y_pred, y_true):
        return fn(y_pred, y_true)

    renamed.__name__ = name
    return renamed


class Accuracy(_Metric):
    METRIC, DEFAULT_NAME = "accuracy", "accuracy"


class BinaryAccuracy(_Metric):
    METRIC = DEFAULT_NAME = "binary_accuracy"


class CategoricalAccuracy(_Metric):
    METRIC = DEFAULT_NAME = "categorical_accuracy"


class SparseCategoricalAccuracy(_Metric):
    METRIC = DEFAULT_NAME = "sparse_categorical_accuracy"


class MeanSquaredError(_Metric):
    METRIC = DEFAULT_NAME = "mean_squared_error"


class MeanAbsoluteError(_Metric):
    METRIC = DEFAULT_NAME = "mean_absolute_error"


_BY_NAME = {"accuracy": Accuracy, "acc": Accuracy, "binary_accuracy": BinaryAccuracy,
            "categorical_accuracy": CategoricalAccuracy,
            "sparse_categorical_accuracy": SparseCategoricalAccuracy,
            "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
            "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError}
_BY_NAME.update({cls.__name__: cls for cls in set(_BY_NAME.values())})


def get(identifier):
    """The metric for a name (function or class spelling)."""
    if isinstance(identifier, _Named):
        return identifier
    if isinstance(identifier, str) and str(identifier) in _BY_NAME:
        return _BY_NAME[str(identifier)]()
    return __getattr__(str(identifier))


_HINTS = {name: "lstmkit's metrics do not include cross-entropy; the loss is logged as 'loss'"
          for name in ("binary_crossentropy", "categorical_crossentropy",
                       "sparse_categorical_crossentropy", "BinaryCrossentropy",
                       "CategoricalCrossentropy", "SparseCategoricalCrossentropy")}
_OTHERS = ("lstmkit's metrics are accuracy (binary, categorical, sparse categorical), mean "
           "squared and mean absolute error; pass any other as a callable m(y_pred, y_true) "
           "returning one value per sample")
__getattr__ = _refusals("metrics", _KERAS_NAMES["metrics"], _HINTS, _OTHERS, __all__)
