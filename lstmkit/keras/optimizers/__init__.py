"""keras.optimizers: Keras' optimizers, with Keras' arguments and defaults,
as lstmkit's compile takes them.

`Adam(learning_rate=1e-3)` is a callable `f(params) -> torch optimizer`,
one of the forms `compile(optimizer=...)` accepts, so
`compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), ...)` needs
nothing else. What it makes is the torch.optim class of the same algorithm
(a subclass with Keras' `learning_rate` property, read and set on every
parameter group; fused where torch has a fused kernel for it,
lstmkit.optimizers.fastest), so its state is torch's and goes into lstmkit's
checkpoints as any torch optimizer's does. `get_config()` describes it as
JSON, `serialize` / `deserialize` / `get` work as in Keras.

Keras' common arguments: `weight_decay` is decoupled, as in Keras (each
weight shrinks by learning_rate * weight_decay * itself before the update;
AdamW's own), not torch's L2 term; `clipnorm` clips each gradient's norm,
`global_clipnorm` all of them together, `clipvalue` each element (only one
of them, as Keras); all run as a step pre-hook of the torch optimizer, so
after lstmkit's own `clip_grad_norm` / `clip_grad_value` when both are set.
`use_ema`, `loss_scale_factor` and `gradient_accumulation_steps` are
refused; Keras 2's `lr` and `decay` are refused with today's names.

Where torch's algorithm differs from Keras' (the results are close, not
equal): RMSprop and Adagrad add epsilon outside the square root (Keras
inside); Adam, AdamW, Adamax and Nadam add it to the bias-corrected root
(Keras to the uncorrected one); SGD with momentum accumulates gradients and
scales by the current learning rate (Keras accumulates scaled steps), which
differs only when the learning rate changes.
"""

import math

import torch

from .._support import NotSupportedError
from .._support import refusals as _refusals
from .._keras_names import KERAS_NAMES as _KERAS_NAMES
from ...errors import InputError, InputTypeError
from ...optimizers import fastest
from . import schedules

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Adadelta", "Adamax",
           "Nadam", "get", "serialize", "deserialize", "schedules"]

def _number(value, argument, cls, low=0.0, strict=False, high=None):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputTypeError(f"{cls} {argument} must be a number, got {value!r}")
    if value < low or (strict and value == low) or (high is not None and value >= high):
        bound = f"more than {low}" if strict else f"at least {low}"
        raise InputError(f"{cls} {argument} must be {bound}"
                         + (f" and below {high}" if high is not None else "") + f", got {value!r}")
    return float(value)


class Optimizer:
    """A Keras optimizer: its arguments, checked, and `__call__(params)`
    making the torch optimizer. Subclasses name their torch class, their
    Keras arguments and defaults (ARGUMENTS), and map them (torch_arguments)."""

    TORCH = None
    NAME = None
    ARGUMENTS = {}
    COMMON = {"weight_decay": None, "clipnorm": None, "clipvalue": None, "global_clipnorm": None,
              "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
              "loss_scale_factor": None, "gradient_accumulation_steps": None}
    DECOUPLED_BY_TORCH = False  # AdamW applies the decay itself

    ORDER = None  # Keras' positional order, if not ARGUMENTS' then COMMON's

    def __init__(self, *args, **arguments):
        cls = type(self).__name__
        order = self.ORDER or (*self.ARGUMENTS, *self.COMMON)
        if len(args) > len(order):
            raise InputTypeError(f"{cls} takes at most {len(order)} positional arguments "
                                 f"({', '.join(order)}), got {len(args)}")
        for name, value in zip(order, args):
            if name in arguments:
                raise InputTypeError(f"{cls} got {name} twice")
            arguments[name] = value
        for old, new in (("lr", "learning_rate"), ("decay", "a learning-rate schedule "
                                                            "(keras.callbacks.LearningRateScheduler)")):
            if old in arguments:
                raise NotSupportedError(f"{cls}({old}=...) is Keras 2's spelling, which Keras 3 "
                                        f"refuses too: use {new}")
        name = arguments.pop("name", None) or self.NAME
        known = {**self.ARGUMENTS, **self.COMMON}
        unknown = sorted(set(arguments) - set(known))
        if unknown:
            raise InputError(f"{cls}: unknown argument(s) {unknown}; known: "
                             f"{', '.join(known)}, name")
        self.config = {**known, **arguments}
        self.name = name
        for argument, advice in (("use_ema", "keep an average of the weights in a callback"),
                                 ("loss_scale_factor", "lstmkit trains in the model's precision"),
                                 ("gradient_accumulation_steps", "use a larger batch_size")):
            if self.config[argument] != self.COMMON[argument]:
                raise NotSupportedError(f"{cls}({argument}={self.config[argument]!r}) is not "
                                        f"supported by lstmkit: {advice}")
        clips = [c for c in ("clipnorm", "clipvalue", "global_clipnorm")
                 if self.config[c] is not None]
        if len(clips) > 1:
            raise InputError(f"{cls}: only one of clipnorm, clipvalue and global_clipnorm may be "
                             f"set, as in Keras; got {', '.join(clips)}")
        for argument in clips:
            _number(self.config[argument], argument, cls, strict=True)
        if self.config["weight_decay"] is not None:
            self.config["weight_decay"] = _number(self.config["weight_decay"], "weight_decay", cls)
        rate = self.config["learning_rate"]
        if isinstance(rate, schedules.LearningRateSchedule):
            self.schedule = rate
        else:
            self.schedule = None
            self.config["learning_rate"] = _number(rate, "learning_rate", cls)
        self.check()

    def check(self):
        """Check the algorithm's own arguments (InputError naming the one received)."""

    @property
    def learning_rate(self):
        return self.config["learning_rate"]

    def torch_arguments(self):
        """The torch optimizer's keyword arguments."""
        raise NotImplementedError

    def __call__(self, params):
        lr = self.schedule(0) if self.schedule is not None else self.config["learning_rate"]
        optimizer = fastest(self.TORCH, params, lr=lr,
                            **self.torch_arguments())
        decay = None if self.DECOUPLED_BY_TORCH else self.config["weight_decay"]
        clipnorm, clipvalue, global_clipnorm = (self.config[c] for c in (
            "clipnorm", "clipvalue", "global_clipnorm"))
        schedule = self.schedule
        if schedule is not None:
            for group in optimizer.param_groups:  # kept in the optimizer's state_dict
                group.setdefault("keras_iterations", 0)
        if decay or clipnorm or clipvalue or global_clipnorm or schedule is not None:
            optimizer.register_step_pre_hook(
                _before_step(decay, clipnorm, clipvalue, global_clipnorm, schedule))
        if schedule is not None:
            optimizer.register_step_post_hook(_count_step)
        return optimizer

    def get_config(self):
        config = {"name": self.name, **self.config}
        if self.schedule is not None:
            config["learning_rate"] = schedules.serialize(self.schedule)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def __repr__(self):
        changed = {k: v for k, v in self.config.items()
                   if v != {**self.ARGUMENTS, **self.COMMON}.get(k)}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    __hash__ = object.__hash__


def _before_step(decay, clipnorm, clipvalue, global_clipnorm, schedule):
    """Keras' order: the learning rate of this step, clip the gradients,
    then shrink the weights (decoupled decay), then the update (torch's)."""

    @torch.no_grad()
    def hook(optimizer, args, kwargs):
        if schedule is not None:
            for group in optimizer.param_groups:
                group["lr"] = schedule(group["keras_iterations"])
        params = [p for group in optimizer.param_groups for p in group["params"]
                  if p.grad is not None]
        if global_clipnorm:
            torch.nn.utils.clip_grad_norm_(params, global_clipnorm)
        for p in params:
            if clipnorm:
                torch.nn.utils.clip_grad_norm_([p], clipnorm)
            if clipvalue:
                p.grad.clamp_(-clipvalue, clipvalue)
        if decay:
            for group in optimizer.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.mul_(1 - group["lr"] * decay)

    return hook


def _count_step(optimizer, args, kwargs):
    for group in optimizer.param_groups:
        group["keras_iterations"] += 1


class SGD(Optimizer):
    """Keras' SGD: learning_rate 0.01, momentum 0, nesterov False (torch.optim.SGD)."""

    TORCH, NAME = torch.optim.SGD, "SGD"
    ARGUMENTS = {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False}

    def check(self):
        _number(self.config["momentum"], "momentum", "SGD", high=1.0 + 1e-12)
        if self.config["nesterov"] and not self.config["momentum"]:
            raise InputError("SGD nesterov=True needs a momentum above 0")

    def torch_arguments(self):
        return {"momentum": self.config["momentum"], "nesterov": bool(self.config["nesterov"])}


class RMSprop(Optimizer):
    """Keras' RMSprop: learning_rate 1e-3, rho 0.9, momentum 0, epsilon 1e-7,
    centered False (torch.optim.RMSprop, rho as its alpha)."""

    TORCH, NAME = torch.optim.RMSprop, "rmsprop"
    ARGUMENTS = {"learning_rate": 0.001, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-07,
                 "centered": False}

    def check(self):
        _number(self.config["rho"], "rho", "RMSprop", high=1.0)
        _number(self.config["momentum"], "momentum", "RMSprop")
        _number(self.config["epsilon"], "epsilon", "RMSprop", strict=True)

    def torch_arguments(self):
        c = self.config
        return {"alpha": c["rho"], "eps": c["epsilon"], "momentum": c["momentum"],
                "centered": bool(c["centered"])}


class _AdamFamily(Optimizer):
    ARGUMENTS = {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07}

    def check(self):
        cls = type(self).__name__
        for beta in ("beta_1", "beta_2"):
            _number(self.config[beta], beta, cls, high=1.0)
        _number(self.config["epsilon"], "epsilon", cls, strict=True)

    def torch_arguments(self):
        c = self.config
        return {"betas": (c["beta_1"], c["beta_2"]), "eps": c["epsilon"]}


class Adam(_AdamFamily):
    """Keras' Adam: learning_rate 1e-3, beta_1 0.9, beta_2 0.999, epsilon
    1e-7, amsgrad False (torch.optim.Adam)."""

    TORCH, NAME = torch.optim.Adam, "adam"
    ARGUMENTS = {**_AdamFamily.ARGUMENTS, "amsgrad": False}

    def torch_arguments(self):
        return {**super().torch_arguments(), "amsgrad": bool(self.config["amsgrad"])}


class AdamW(Adam):
    """Keras' AdamW: Adam's defaults and weight_decay 0.004 (torch.optim.AdamW,
    whose decoupled decay is Keras')."""

    TORCH, NAME = torch.optim.AdamW, "adamw"
    COMMON = {**Optimizer.COMMON, "weight_decay": 0.004}
    ORDER = ("learning_rate", "weight_decay", "beta_1", "beta_2", "epsilon", "amsgrad",
             *(k for k in Optimizer.COMMON if k != "weight_decay"))
    DECOUPLED_BY_TORCH = True

    def check(self):
        super().check()
        if self.config["weight_decay"] is None:
            raise InputError("AdamW weight_decay must be a number, got None")

    def torch_arguments(self):
        return {**super().torch_arguments(), "weight_decay": self.config["weight_decay"]}


class Adamax(_AdamFamily):
    """Keras' Adamax: learning_rate 1e-3, beta_1 0.9, beta_2 0.999, epsilon 1e-7."""

    TORCH, NAME = torch.optim.Adamax, "adamax"


class Nadam(_AdamFamily):
    """Keras' Nadam: learning_rate 1e-3, beta_1 0.9, beta_2 0.999, epsilon
    1e-7 (torch.optim.NAdam, whose momentum schedule, 0.96 ** (0.004 t), is
    Keras')."""

    TORCH, NAME = torch.optim.NAdam, "nadam"

    def torch_arguments(self):
        return {**super().torch_arguments(), "momentum_decay": 0.004}


class Adagrad(Optimizer):
    """Keras' Adagrad: learning_rate 1e-3, initial_accumulator_value 0.1,
    epsilon 1e-7 (torch.optim.Adagrad)."""

    TORCH, NAME = torch.optim.Adagrad, "adagrad"
    ARGUMENTS = {"learning_rate": 0.001, "initial_accumulator_value": 0.1, "epsilon": 1e-07}

    def check(self):
        _number(self.config["initial_accumulator_value"], "initial_accumulator_value", "Adagrad")
        _number(self.config["epsilon"], "epsilon", "Adagrad", strict=True)

    def torch_arguments(self):
        return {"initial_accumulator_value": self.config["initial_accumulator_value"],
                "eps": self.config["epsilon"]}


class Adadelta(Optimizer):
    """Keras' Adadelta: learning_rate 1e-3 (torch's default is 1.0), rho
    0.95, epsilon 1e-7 (torch.optim.Adadelta)."""

    TORCH, NAME = torch.optim.Adadelta, "adadelta"
    ARGUMENTS = {"learning_rate": 0.001, "rho": 0.95, "epsilon": 1e-07}

    def check(self):
        _number(self.config["rho"], "rho", "Adadelta", high=1.0 + 1e-12)
        _number(self.config["epsilon"], "epsilon", "Adadelta", strict=True)

    def torch_arguments(self):
        return {"rho": self.config["rho"], "eps": self.config["epsilon"]}


_CLASSES = {cls.__name__: cls for cls in (SGD, RMSprop, Adam, AdamW, Adamax, Nadam, Adagrad,
                                          Adadelta)}
_BY_NAME = {**{cls.NAME.lower(): cls for cls in _CLASSES.values()},
            **{n.lower(): cls for n, cls in _CLASSES.items()}}


def serialize(optimizer):
    """{'class_name': ..., 'config': ...}, as Keras' serialize gives (JSON)."""
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config, custom_objects=None):
    if not isinstance(config, dict) or config.get("class_name") not in _CLASSES:
        raise InputError(f"deserialize: expected {{'class_name': one of {', '.join(_CLASSES)}, "
                         f"'config': {{...}}}}, got {config!r}")
    return _CLASSES[config["class_name"]].from_config(config.get("config") or {})


def get(identifier):
    """An optimizer from a name ('adam', 'Adam', ...), a serialized dict or an
    instance, as Keras' get."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    if isinstance(identifier, str):
        return __getattr__(identifier)
    raise InputTypeError(f"get: expected a name, a dict or an optimizer, got "
                         f"{type(identifier).__name__}")


_HINTS = {
    "Lion": "torch.optim has no Lion: pass another optimizer, or a torch optimizer class",
    "Ftrl": "torch.optim has no Ftrl: pass another optimizer",
    "Lamb": "torch.optim has no LAMB: pass another optimizer",
    "Adafactor": "pass torch.optim.Adafactor (a torch class works in compile), whose arguments "
                 "are torch's",
    "Muon": "pass torch.optim.Muon (a torch class works in compile), whose arguments are torch's",
    "LossScaleOptimizer": "lstmkit trains in the model's precision",
    "legacy": "Keras 3 dropped it; use these optimizers",
}
__getattr__ = _refusals("optimizers", _KERAS_NAMES["optimizers"] | set(_HINTS), _HINTS,
                        "not offered; pass a torch.optim class or a callable f(params)", __all__)
