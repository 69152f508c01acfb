"""keras.utils: to_categorical, pad_sequences, set_random_seed, normalize.

`pad_sequences` is lstmkit's: Keras' arguments and defaults but dtype,
int64 here (what torch's embeddings read) where Keras gives int32.
"""

import numpy as np

from ..data.batching import pad_sequences
from ..errors import InputError
from ..train import set_seed
from ._keras_names import KERAS_NAMES as _KERAS_NAMES
from ._support import refusals as _refusals

__all__ = ["to_categorical", "pad_sequences", "set_random_seed", "normalize", "clear_session"]


def to_categorical(x, num_classes=None):
    """Class ids as one-hot rows, as Keras' to_categorical: (..., num_classes),
    a last axis of size 1 dropped first; num_classes defaults to the largest
    id + 1. float32 (Keras gives float64 for NumPy input)."""
    try:
        x = np.asarray(x)
        ids = x.astype(np.int64)
    except (TypeError, ValueError) as e:
        raise InputError(f"to_categorical: x must hold class ids, got {e}") from None
    if x.dtype.kind == "f" and not np.array_equal(ids, x):
        raise InputError("to_categorical: x must hold whole class ids, got fractions")
    shape = ids.shape[:-1] if ids.ndim > 1 and ids.shape[-1] == 1 else ids.shape
    ids = ids.reshape(-1)
    if num_classes is None:
        num_classes = int(ids.max()) + 1 if ids.size else 0
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or \
            num_classes < 1:
        raise InputError(f"to_categorical: num_classes must be a positive int, got "
                         f"{num_classes!r}")
    if ids.size and (ids.min() < 0 or ids.max() >= num_classes):
        bad = int(ids.min()) if ids.min() < 0 else int(ids.max())
        raise InputError(f"to_categorical: class ids must lie in [0, {num_classes}) "
                         f"(num_classes), got {bad}")
    one_hot = np.zeros((ids.size, int(num_classes)), dtype=np.float32)
    one_hot[np.arange(ids.size), ids] = 1
    return one_hot.reshape(*shape, int(num_classes))


def set_random_seed(seed):
    """Seed Python's, NumPy's and torch's generators (lstmkit.set_seed)."""
    set_seed(seed)


def normalize(x, axis=-1, order=2):
    """x divided by its `order`-norm along `axis` (zeros stay zeros), as Keras'."""
    x = np.asarray(x, dtype=np.float64 if np.asarray(x).dtype == np.float64 else np.float32)
    norm = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / np.where(norm == 0, 1, norm)


def clear_session(free_memory=True):
    """Does nothing: lstmkit keeps no global graph or layer-name counters
    between models. (With CUDA, torch.cuda.empty_cache() returns cached memory.)"""


_HINTS = {
    "get_file": "lstmkit never downloads: fetch the file yourself and pass its path",
    "plot_model": "use model.summary()", "model_to_dot": "use model.summary()",
    "Sequence": "write a batch source (lstmkit.data.sources.BatchSource) and pass it as x",
    "PyDataset": "write a batch source (lstmkit.data.sources.BatchSource) and pass it as x",
    "timeseries_dataset_from_array": "cut windows with NumPy, or write a batch source "
                                     "(lstmkit.data.sources)",
    "text_dataset_from_directory": "read texts with lstmkit.data.text",
    "Progbar": "fit(verbose=1) shows a progress bar",
    "register_keras_serializable": "a model file holds no code",
    "custom_object_scope": "a model file holds no code",
    "CustomObjectScope": "a model file holds no code",
    "np_utils": "use keras.utils.to_categorical",
}
__getattr__ = _refusals("utils", _KERAS_NAMES["utils"] | set(_HINTS), _HINTS, "not offered",
                        __all__)
