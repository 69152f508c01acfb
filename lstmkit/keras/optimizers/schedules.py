"""keras.optimizers.schedules: learning rates that follow the optimizer's steps.

`Adam(learning_rate=ExponentialDecay(1e-3, decay_steps=1000, decay_rate=0.9))`
sets each step's learning rate from the number of steps taken before it, as
Keras does. The count is kept in the torch optimizer's parameter groups
('keras_iterations'), so it is in the optimizer's state_dict and a resumed
run continues the schedule exactly. A subclass of LearningRateSchedule
whose `__call__(step)` returns a float works too.
"""

import math

from .._keras_names import KERAS_NAMES as _KERAS_NAMES
from .._support import refusals as _refusals
from ...errors import InputError

__all__ = ["LearningRateSchedule", "ExponentialDecay", "InverseTimeDecay",
           "PiecewiseConstantDecay", "PolynomialDecay", "CosineDecay", "serialize",
           "deserialize"]


class LearningRateSchedule:
    """Base class: `schedule(step) -> learning rate` (step counts from 0)."""

    def __call__(self, step):
        raise NotImplementedError

    def get_config(self):
        return dict(self.config)

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.config.items())})"


def _positive(value, argument, cls):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InputError(f"{cls} {argument} must be a positive number, got {value!r}")


class ExponentialDecay(LearningRateSchedule):
    """initial_learning_rate * decay_rate ** (step / decay_steps), the
    exponent floored when staircase."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        _positive(decay_steps, "decay_steps", "ExponentialDecay")
        self.config = {"initial_learning_rate": initial_learning_rate, "decay_steps": decay_steps,
                       "decay_rate": decay_rate, "staircase": staircase, "name": name}

    def __call__(self, step):
        c = self.config
        p = step / c["decay_steps"]
        return c["initial_learning_rate"] * c["decay_rate"] ** (math.floor(p) if c["staircase"]
                                                                 else p)


class InverseTimeDecay(LearningRateSchedule):
    """initial_learning_rate / (1 + decay_rate * step / decay_steps), the
    ratio floored when staircase."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        _positive(decay_steps, "decay_steps", "InverseTimeDecay")
        self.config = {"initial_learning_rate": initial_learning_rate, "decay_steps": decay_steps,
                       "decay_rate": decay_rate, "staircase": staircase, "name": name}

    def __call__(self, step):
        c = self.config
        p = step / c["decay_steps"]
        return c["initial_learning_rate"] / (1 + c["decay_rate"] * (math.floor(p)
                                                                     if c["staircase"] else p))


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[0] up to boundaries[0] (included), values[1] up to
    boundaries[1], ..., values[-1] after the last boundary."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(values) != len(boundaries) + 1:
            raise InputError(f"PiecewiseConstantDecay needs one value more than boundaries, got "
                             f"{len(boundaries)} boundaries and {len(values)} values")
        self.config = {"boundaries": list(boundaries), "values": list(values), "name": name}

    def __call__(self, step):
        for boundary, value in zip(self.config["boundaries"], self.config["values"]):
            if step <= boundary:
                return value
        return self.config["values"][-1]


class PolynomialDecay(LearningRateSchedule):
    """From initial_learning_rate to end_learning_rate over decay_steps,
    (initial - end) * (1 - step / decay_steps) ** power + end; with cycle,
    decay_steps grows to the next multiple past step."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0,
                 cycle=False, name="PolynomialDecay"):
        _positive(decay_steps, "decay_steps", "PolynomialDecay")
        self.config = {"initial_learning_rate": initial_learning_rate, "decay_steps": decay_steps,
                       "end_learning_rate": end_learning_rate, "power": power, "cycle": cycle,
                       "name": name}

    def __call__(self, step):
        c = self.config
        steps = c["decay_steps"]
        if c["cycle"]:
            steps = steps * max(1, math.ceil(step / steps))
        else:
            step = min(step, steps)
        return ((c["initial_learning_rate"] - c["end_learning_rate"])
                * (1 - step / steps) ** c["power"] + c["end_learning_rate"])


class CosineDecay(LearningRateSchedule):
    """A linear warm-up from initial_learning_rate to warmup_target over
    warmup_steps (when warmup_target is given), then a cosine from there to
    alpha times it over decay_steps (Loshchilov & Hutter 2017, without
    restarts)."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        _positive(decay_steps, "decay_steps", "CosineDecay")
        self.config = {"initial_learning_rate": initial_learning_rate, "decay_steps": decay_steps,
                       "alpha": alpha, "name": name, "warmup_target": warmup_target,
                       "warmup_steps": warmup_steps}

    def __call__(self, step):
        c = self.config
        start = c["initial_learning_rate"]
        if c["warmup_target"] is not None:
            if step < c["warmup_steps"]:
                return start + (c["warmup_target"] - start) * step / c["warmup_steps"]
            start, step = c["warmup_target"], step - c["warmup_steps"]
        step = min(step, c["decay_steps"])
        cosine = 0.5 * (1 + math.cos(math.pi * step / c["decay_steps"]))
        return start * ((1 - c["alpha"]) * cosine + c["alpha"])


_CLASSES = {cls.__name__: cls for cls in (ExponentialDecay, InverseTimeDecay,
                                          PiecewiseConstantDecay, PolynomialDecay, CosineDecay)}


def serialize(schedule):
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config, custom_objects=None):
    if not isinstance(config, dict) or config.get("class_name") not in _CLASSES:
        raise InputError(f"deserialize: expected {{'class_name': one of {', '.join(_CLASSES)}, "
                         f"'config': {{...}}}}, got {config!r}")
    return _CLASSES[config["class_name"]].from_config(config.get("config") or {})


__getattr__ = _refusals(
    "optimizers.schedules", _KERAS_NAMES["optimizers.schedules"],
    {"CosineDecayRestarts": "use CosineDecay, or a LearningRateSchedule subclass"},
    "not offered; subclass LearningRateSchedule", __all__)
