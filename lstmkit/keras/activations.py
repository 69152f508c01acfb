"""keras.activations: the five activations lstmkit's layers take, as their
names: `Dense(1, activation=keras.activations.sigmoid)` is
`Dense(1, activation='sigmoid')`, saved as that name.

Departure from Keras: these are the names, not functions, because a layer
holding a callable cannot be saved; to apply one to a tensor, use torch
(torch.sigmoid, torch.relu, ...).
"""

from ._keras_names import KERAS_NAMES as _KERAS_NAMES
from ._support import refusals as _refusals

__all__ = ["linear", "sigmoid", "tanh", "relu", "softmax", "get", "serialize", "deserialize"]

linear, sigmoid, tanh, relu, softmax = "linear", "sigmoid", "tanh", "relu", "softmax"
_NAMES = (linear, sigmoid, tanh, relu, softmax)


def get(identifier):
    """The activation's name (None is 'linear'), as Keras' get."""
    if identifier is None:
        return linear
    if isinstance(identifier, str) and identifier in _NAMES:
        return identifier
    return __getattr__(str(identifier))


def serialize(activation):
    return get(activation)


def deserialize(config, custom_objects=None):
    return get(config)


__getattr__ = _refusals(
    "activations", _KERAS_NAMES["activations"], {},
    "lstmkit's layers take 'linear', 'sigmoid', 'tanh', 'relu' and 'softmax'", __all__)
