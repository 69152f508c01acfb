"""keras.models: lstmkit's Sequential, and its model files.

A model is saved in lstmkit's safe format by `model.save(path)` (JSON and
safetensors; nothing is pickled), which `load_model(path)` reads back:
`model.save('m.keras')` then `load_model('m.keras')` work as in Keras, but
the file is lstmkit's, not Keras' zip.
"""

import os

from ..errors import InputError
from ..model import Sequential
from ..model import load_model as _load_model
from ._keras_names import KERAS_NAMES as _KERAS_NAMES
from ._support import NotSupportedError
from ._support import refusals as _refusals

__all__ = ["Sequential", "load_model", "save_model"]


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True, device="cpu"):
    """Keras' load_model on a file or folder model.save wrote (lstmkit.load_model).

    Loading is always safe (no code is read from the file), so `safe_mode`
    changes nothing; `custom_objects` cannot apply (a file names lstmkit's
    layers only) and is refused when given."""
    if custom_objects:
        raise NotSupportedError(
            "load_model(custom_objects=...) is not supported by lstmkit: a model file holds "
            "lstmkit's layers, losses and optimizers by name only, and no code")
    return _load_model(filepath, device=device, compile=compile)


def save_model(model, filepath, overwrite=True, **kwargs):
    """Keras' save_model: `model.save(filepath)` (lstmkit's format). With
    overwrite=False an existing path is refused."""
    if kwargs:
        raise NotSupportedError(f"save_model({', '.join(kwargs)}=...) is not supported by "
                                "lstmkit; leave it out")
    if not overwrite and os.path.exists(filepath):
        raise InputError(f"save_model: {filepath} exists and overwrite=False")
    model.save(filepath)


_HINTS = {
    "Model": "lstmkit has Sequential models only (no functional API, no subclassed Model): "
             "use Sequential([...]), or write a torch.nn.Module",
    "clone_model": "build a new Sequential with the same layers' arguments",
    "model_from_json": "lstmkit reads its own model folders: use load_model(path)",
}
__getattr__ = _refusals("models", _KERAS_NAMES["models"], _HINTS, "not offered", __all__)
