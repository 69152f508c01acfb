"""keras.datasets: `imdb`, read from a local copy (lstmkit never downloads)."""

from .._keras_names import KERAS_NAMES as _KERAS_NAMES
from .._support import refusals as _refusals
from . import imdb

__getattr__ = _refusals(
    "datasets", _KERAS_NAMES["datasets"], {},
    "lstmkit reads IMDB only (keras.datasets.imdb, from a local copy); load other data "
    "with NumPy and pass arrays to fit", ["imdb"])
