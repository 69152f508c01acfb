"""keras.backend: the few calls Keras scripts make to it. lstmkit runs on
PyTorch, float32."""

from ..metrics import EPSILON
from ._keras_names import KERAS_NAMES as _KERAS_NAMES
from ._support import refusals as _refusals
from .utils import clear_session

__all__ = ["backend", "clear_session", "epsilon", "floatx"]


def backend():
    return "torch"


def epsilon():
    """The fuzz factor lstmkit's losses clip probabilities with (1e-7, Keras')."""
    return EPSILON


def floatx():
    return "float32"


__getattr__ = _refusals(
    "backend", _KERAS_NAMES["backend"], {"set_floatx": "cast the model: model.double()"},
    "not offered; lstmkit models are torch modules: write torch code", __all__)
