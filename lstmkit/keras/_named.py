"""Keras objects that lstmkit reads as names.

lstmkit's compile and layers take a loss, a metric or an activation by name.
Keras code passes objects (`keras.losses.BinaryCrossentropy()`,
`keras.activations.relu`): each object here is a `str` whose value is
lstmkit's name for it, so compile and the layers take it as that name
(logits path, targets check, 'accuracy' picked from the loss, the name saved
in model files) with no change to them, and it is still callable with
Keras' arguments.
"""

import numpy as np
import torch


class Named(str):
    """A str (lstmkit's name) that is also a callable Keras object.

    `fn` computes the value Keras' object returns; it prints as the name."""

    def __new__(cls, name, fn=None, config=None):
        self = super().__new__(cls, name)
        self.fn, self.config = fn, dict(config or {})
        return self

    @property
    def name(self):
        return str(self)

    def get_config(self):
        return {"name": str(self), **self.config}

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def __reduce__(self):  # pickle and copy as the plain name
        return (str, (str(self),))


def as_tensor(value):
    """A float tensor from NumPy, lists or a tensor (Keras' functions take any)."""
    if isinstance(value, torch.Tensor):
        return value if value.is_floating_point() else value.float()
    return torch.as_tensor(np.asarray(value, dtype=np.float32))
