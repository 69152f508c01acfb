"""keras.initializers: Keras' initialiser classes and names (lstmkit.initializers).

`LSTM(8, kernel_initializer=keras.initializers.GlorotUniform())` is
`kernel_initializer='glorot_uniform'` and is saved as that name; an
instance with other arguments (`RandomNormal(stddev=0.1)`, a seed) trains
but cannot be saved in a model file. The functions (`glorot_uniform`, ...)
are the classes under Keras' lower-case names, as in Keras.
"""

from ..errors import InputError
from ..initializers import (CLASSES as _CLASSES, INITIALIZERS as _INITIALIZERS, Constant,
                            GlorotNormal, GlorotUniform, HeNormal, HeUniform, Identity,
                            Initializer, LecunNormal, LecunUniform, Ones, Orthogonal,
                            RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling, Zeros,
                            resolve_name as _resolve_name)
from ._keras_names import KERAS_NAMES as _KERAS_NAMES
from ._support import refusals as _refusals

_BY_CLASS_NAME = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME = {cls.name: cls for cls in _CLASSES}
_BY_NAME.update({"uniform": RandomUniform, "normal": RandomNormal})

# Keras' lower-case spellings are the classes themselves
(random_normal, random_uniform, truncated_normal, zeros, ones, constant, variance_scaling,
 glorot_uniform, glorot_normal, lecun_uniform, lecun_normal, he_uniform, he_normal, orthogonal,
 identity) = (_BY_NAME[n] for n in (
    "random_normal", "random_uniform", "truncated_normal", "zeros", "ones", "constant",
    "variance_scaling", "glorot_uniform", "glorot_normal", "lecun_uniform", "lecun_normal",
    "he_uniform", "he_normal", "orthogonal", "identity"))
IdentityInitializer, OrthogonalInitializer = Identity, Orthogonal

__all__ = [*_BY_CLASS_NAME, *(n for n in _INITIALIZERS if n not in ("uniform", "normal")),
           "Initializer", "IdentityInitializer", "OrthogonalInitializer", "get", "serialize",
           "deserialize"]


def get(identifier):
    """An initialiser from a name (any of Keras' spellings), a serialized
    dict, a callable or an instance, as Keras' get."""
    if identifier is None or isinstance(identifier, Initializer) or (
            callable(identifier) and not isinstance(identifier, (str, type))):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    name = _resolve_name(identifier) if isinstance(identifier, str) else None
    if name is None:
        return __getattr__(str(identifier))
    return _BY_NAME[name]()


def serialize(initializer):
    return {"class_name": type(initializer).__name__, "config": initializer.get_config()}


def deserialize(config, custom_objects=None):
    cls = _BY_CLASS_NAME.get(config.get("class_name")) if isinstance(config, dict) else None
    if cls is None:
        raise InputError(f"deserialize: expected {{'class_name': one of "
                         f"{', '.join(_BY_CLASS_NAME)}, 'config': {{...}}}}, got {config!r}")
    return cls(**(config.get("config") or {}))


__getattr__ = _refusals("initializers", _KERAS_NAMES["initializers"], {},
                        "not offered (STFT needs complex kernels)", __all__)
