"""keras.preprocessing: `sequence.pad_sequences`. Keras 2's `text` module
(Tokenizer) is gone from Keras 3 too: lstmkit.data.text does that work."""

from .._keras_names import KERAS_NAMES as _KERAS_NAMES
from .._support import refusals as _refusals
from . import sequence

_HINTS = {
    "text": "Keras 3 dropped it too; use lstmkit.data.text (tokenize, Vocabulary, TextEncoder)",
    "image": "lstmkit works on sequences only",
}
__getattr__ = _refusals("preprocessing", _KERAS_NAMES["preprocessing"] | set(_HINTS), _HINTS,
                        "not offered", ["sequence"])
