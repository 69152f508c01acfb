"""Optimizers by Keras name, with Keras' defaults, on torch.optim.

Keras' defaults, not torch's, are used for the names, so the tutorial's
`optimizer='rmsprop'` trains as its readers expect: RMSprop lr 1e-3, rho
(torch's alpha) 0.9, epsilon 1e-7. One difference remains: Keras adds its
epsilon inside the square root of the running mean square, torch outside;
the two agree once that mean square is well above 1e-7.

Adam, AdamW and SGD are made with torch's fused kernels where the
parameters allow (`fastest`): on the CPU torch defaults to one pass per
parameter and operation, driven from Python, where a fused kernel makes
one pass per parameter.
"""

import inspect

import torch

from .errors import InputError, InputTypeError


_WITH_LEARNING_RATE = {}


def with_learning_rate(torch_class):
    """torch_class with Keras' `learning_rate` attribute (every group's lr), so
    that `model.optimizer.learning_rate = 1e-4` works as in Keras."""
    if torch_class not in _WITH_LEARNING_RATE:
        def get(self):
            return self.param_groups[0]["lr"]

        def set(self, value):
            for group in self.param_groups:
                group["lr"] = float(value)

        _WITH_LEARNING_RATE[torch_class] = type(f"Torch{torch_class.__name__}", (torch_class,), {
            "__module__": __name__, "__doc__": torch_class.__doc__,
            "learning_rate": property(get, set, doc="The learning rate (Keras' attribute)."),
        })
    return _WITH_LEARNING_RATE[torch_class]


def fastest(cls, params, **options):
    """cls(params, **options) with fused=True where cls has fused kernels
    and every parameter is a floating-point tensor on the CPU or a CUDA
    device, and `options` choose no implementation (fused or foreach);
    otherwise as torch makes it. A fused kernel computes the same update in
    another order of operations, equal to within a unit in the last place.
    Measured on 2 CPU cores: Adam's step on the series network (15 tensors,
    72,000 weights) 0.50 -> 0.16 ms, on the tutorial's (7 tensors, 460,000
    weights) 1.0 -> 0.43 ms; SGD's about as before. (torch's multi-tensor
    path, foreach, was no faster on the CPU for the larger network.) The
    optimizer has Keras' `learning_rate` attribute (with_learning_rate)."""
    params = list(params)
    tensors = [p for group in params
               for p in (group["params"] if isinstance(group, dict) else [group])]
    if not {"fused", "foreach"} & set(options) and "fused" in inspect.signature(
            cls.__init__).parameters and tensors and all(
            p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in tensors):
        options["fused"] = True
    return with_learning_rate(cls)(params, **options)


OPTIMIZERS = {
    "rmsprop": lambda params: fastest(torch.optim.RMSprop, params, lr=1e-3, alpha=0.9, eps=1e-7),
    "adam": lambda params: fastest(torch.optim.Adam, params, lr=1e-3, betas=(0.9, 0.999),
                                   eps=1e-7),
    "adamw": lambda params: fastest(torch.optim.AdamW, params, lr=1e-3, betas=(0.9, 0.999),
                                    eps=1e-7, weight_decay=0.004),
    "sgd": lambda params: fastest(torch.optim.SGD, params, lr=0.01),
}


def _keras_optimizer(name):
    """The optimizer Keras' class `name` makes with its defaults (lstmkit.keras.optimizers)."""
    def make(params):
        from .keras import optimizers

        return getattr(optimizers, name)()(params)
    return make


# Keras' other names, made as its classes make them (their defaults kept in one place)
OPTIMIZERS.update({name.lower(): _keras_optimizer(name)
                   for name in ("Adagrad", "Adadelta", "Adamax", "Nadam")})


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
