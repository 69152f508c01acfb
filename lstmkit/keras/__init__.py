"""Keras' import paths on lstmkit: `import lstmkit.keras as keras` and a
Keras LSTM script runs on lstmkit with its imports changed only.

    from lstmkit.keras.models import Sequential
    from lstmkit.keras.layers import Embedding, LSTM, Dense
    from lstmkit.keras.preprocessing import sequence
    from lstmkit.keras.datasets import imdb

Modules: models, layers, callbacks, optimizers (and optimizers.schedules),
losses, metrics, initializers, activations, preprocessing.sequence, utils,
datasets.imdb, backend. Each holds lstmkit's objects under Keras' names,
with Keras' arguments and defaults. Whatever Keras has there that lstmkit
does not raises `NotSupportedError` (a LstmkitError and NotImplementedError)
saying what to use instead; a name Keras lacks too is an AttributeError.
README's "Keras code on lstmkit" lists what is accepted, what is accepted
with another meaning, and what is refused (lstmkit.keras._compat.ROWS).
"""

from .. import __version__
from . import (activations, backend, callbacks, datasets, initializers, layers, losses, metrics,
               models, optimizers, preprocessing, utils)
from ..initializers import Initializer
from ._keras_names import KERAS_NAMES as _KERAS_NAMES
from ._support import NotSupportedError
from ._support import refusals as _refusals
from .models import Sequential

__all__ = ["Sequential", "Initializer", "Input", "Layer", "activations", "backend", "callbacks", "datasets",
           "initializers", "layers", "losses", "metrics", "models", "optimizers",
           "preprocessing", "utils", "NotSupportedError", "__version__"]

_MODULES = "lstmkit has no such module: its Keras modules are " + ", ".join(__all__[4:-2])
_HINTS = {
    "Model": "lstmkit has Sequential models only (no functional API, no subclassed Model): "
             "use Sequential([...]), or write a torch.nn.Module",
    "Loss": "pass a callable loss(y_pred, y_true) returning a scalar tensor",
    "Metric": "pass a callable metric(y_pred, y_true) returning one value per sample",
    "Optimizer": "use keras.optimizers' classes, a torch.optim class or a callable f(params)",
    "Regularizer": "use the layers' dropout options (recurrent_dropout, weight_dropout) or "
                   "LockedDropout",
    "regularizers": "use the layers' dropout options (recurrent_dropout, weight_dropout) or "
                    "LockedDropout; weight decay through the optimizer (weight_decay=)",
    "constraints": "not offered",
    "ops": "lstmkit models are torch modules: write torch code",
    "random": "use torch's generators (keras.utils.set_random_seed seeds them)",
    "mixed_precision": "lstmkit has no global policy: pass precision='mixed_bfloat16' (or "
                       "'mixed_float16' on a GPU) to fit",
    "applications": "lstmkit works on sequences: no image models",
    "saving": "use model.save(path) and keras.models.load_model(path)",
}


def __getattr__(name):
    if name in ("Input", "Layer"):  # as keras.layers has them
        return getattr(layers, name)
    return _refuse(name)


_refuse = _refusals("", _KERAS_NAMES[""], _HINTS, _MODULES, __all__)
