"""Optimizers by Keras name, with Keras' defaults, on torch.optim.

Keras' defaults, not torch's, are used for the names, so the tutorial's
`optimizer='rmsprop'` trains as its readers expect: RMSprop lr 1e-3, rho
(torch's alpha) 0.9, epsilon 1e-7. One difference remains: Keras adds its
epsilon inside the square root of the running mean square, torch outside;
the two agree once that mean square is well above 1e-7.
"""

import torch

from .errors import InputError, InputTypeError

OPTIMIZERS = {
    "rmsprop": lambda params: torch.optim.RMSprop(params, lr=1e-3, alpha=0.9, eps=1e-7),
    "adam": lambda params: torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-7),
    "adamw": lambda params: torch.optim.AdamW(
        params, lr=1e-3, betas=(0.9, 0.999), eps=1e-7, weight_decay=0.004
    ),
    "sgd": lambda params: torch.optim.SGD(params, lr=0.01),
}


def check_optimizer(optimizer):
    """Validate what compile received, before the model's parameters exist."""
    if isinstance(optimizer, str):
        if optimizer.lower() not in OPTIMIZERS:
            raise InputError(
                f"optimizer: unknown name {optimizer!r}; known: {', '.join(OPTIMIZERS)}"
            )
        return optimizer.lower()
    if isinstance(optimizer, torch.optim.Optimizer) or callable(optimizer):
        return optimizer
    raise InputTypeError(
        "optimizer must be a name, a torch.optim.Optimizer (class or instance) or a "
        f"callable taking the parameters, got {type(optimizer).__name__}"
    )


def make_optimizer(optimizer, module):
    """The optimizer instance for `module`'s parameters."""
    params = list(module.parameters())
    if isinstance(optimizer, torch.optim.Optimizer):
        owned = {id(p) for group in optimizer.param_groups for p in group["params"]}
        if not any(id(p) in owned for p in params):
            raise InputError(
                "optimizer: the instance given to compile holds none of the model's parameters; "
                "create it from model.parameters() after model.build(), or pass a name or class"
            )
        return optimizer
    if isinstance(optimizer, str):
        return OPTIMIZERS[optimizer](params)
    made = optimizer(params)
    if not isinstance(made, torch.optim.Optimizer):
        raise InputTypeError(
            f"optimizer: the callable returned {type(made).__name__}, not a torch.optim.Optimizer"
        )
    return made
