"""lstmkit: LSTM sequence models on PyTorch, with a Keras-style API.

    from lstmkit import Sequential, load_model
    from lstmkit.layers import Embedding, LSTM, Dropout, Dense
"""

__version__ = "0.1.0"

from . import callbacks, layers  # noqa: E402
from .data.batching import pad_sequences  # noqa: E402
from .errors import LstmkitError  # noqa: E402
from .model import Sequential, load_model  # noqa: E402
from .train import set_seed  # noqa: E402

__all__ = [
    "Sequential",
    "load_model",
    "layers",
    "callbacks",
    "pad_sequences",
    "set_seed",
    "LstmkitError",
    "__version__",
]
