"""Weight initialisers under Keras' names, applied in place to torch tensors.

Keras' defaults matter beyond matching its results: with PyTorch's default
LSTM initialisation (uniform +-1/sqrt(H)) the mean forget gate of the
tutorial's model starts near 0.5, so gradients carried back through time
halve at every step and about 16% of them are denormal floats
(benchmarks/denormals.py); on CPUs with a denormal penalty that slows
training several-fold (no slowdown was measured on an AMD EPYC). Keras'
initialisers (forget-gate bias 1, orthogonal recurrent kernels) gave none.

Fans follow torch's convention for a weight of shape (out, in); for 2-D
tensors that equals Keras' (in, out) kernels, so the limits are the same.
"""

from functools import partial

import torch
from torch import nn

from .errors import InputError, InputTypeError

INITIALIZERS = {
    "glorot_uniform": nn.init.xavier_uniform_,
    "glorot_normal": nn.init.xavier_normal_,
    "he_uniform": partial(nn.init.kaiming_uniform_, nonlinearity="relu"),
    "he_normal": partial(nn.init.kaiming_normal_, nonlinearity="relu"),
    "orthogonal": nn.init.orthogonal_,
    "uniform": partial(nn.init.uniform_, a=-0.05, b=0.05),  # Keras RandomUniform
    "normal": partial(nn.init.normal_, std=0.05),  # Keras RandomNormal
    "zeros": nn.init.zeros_,
    "ones": nn.init.ones_,
}


def check_initializer(init, argument):
    """Validate an initialiser given as a Keras name or a callable."""
    if callable(init):
        return init
    if not isinstance(init, str):
        raise InputTypeError(
            f"{argument} must be an initialiser name or a callable, got {type(init).__name__}"
        )
    if init not in INITIALIZERS:
        raise InputError(
            f"{argument}: unknown initialiser {init!r}; known: {', '.join(sorted(INITIALIZERS))}"
        )
    return init


@torch.no_grad()
def initialize(tensor, init):
    """Fill `tensor` in place with the named (or callable) initialiser."""
    fn = INITIALIZERS[init] if isinstance(init, str) else init
    fn(tensor)
