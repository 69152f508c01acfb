"""Losses and metrics under Keras' names, as pure functions of tensors.

A loss reduces to the mean over samples (and steps); a metric returns one
value per element, which the training loop sums on the device and divides by
the count only when the numbers are shown, so no step waits on the host.

Cross-entropies after a sigmoid or softmax output are computed from the
logits when the model can give them (`from_logits`): the same value as Keras'
clipped probabilities where those are accurate, without their saturation.
"""

import re
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from .errors import InputError, InputTypeError

EPSILON = 1e-7  # Keras' backend epsilon, for clipping probabilities


# Each loss gives one value per sample (and step): the output's shape without
# its last axis. The loop averages them, over real steps only when a mask
# marks padding, as Keras does.

def binary_crossentropy(p, y):
    p = p.clamp(EPSILON, 1 - EPSILON)
    return -(y * torch.log(p) + (1 - y) * torch.log1p(-p)).mean(-1)


def binary_crossentropy_from_logits(z, y):
    return F.binary_cross_entropy_with_logits(z, y, reduction="none").mean(-1)


def categorical_crossentropy(p, y):
    p = (p / p.sum(-1, keepdim=True)).clamp(EPSILON, 1 - EPSILON)
    return -(y * torch.log(p)).sum(-1)


def categorical_crossentropy_from_logits(z, y):
    C = z.shape[-1]
    return F.cross_entropy(z.reshape(-1, C), y.reshape(-1, C), reduction="none").reshape(z.shape[:-1])


def sparse_categorical_crossentropy(p, y):
    p = (p / p.sum(-1, keepdim=True)).clamp(EPSILON, 1 - EPSILON)
    return F.nll_loss(torch.log(p).reshape(-1, p.shape[-1]), y.reshape(-1),
                      reduction="none").reshape(y.shape)


def sparse_categorical_crossentropy_from_logits(z, y):
    return F.cross_entropy(z.reshape(-1, z.shape[-1]), y.reshape(-1),
                           reduction="none").reshape(y.shape)


def mean_squared_error(p, y):
    return ((p - y) ** 2).mean(-1)


def mean_absolute_error(p, y):
    return (p - y).abs().mean(-1)


@dataclass(frozen=True)
class Loss:
    """A resolved loss: its name, the function, and what targets it takes.

    target is 'binary' (0/1 floats shaped like the output), 'categorical'
    (one-hot or probabilities shaped like the output), 'sparse' (class ids,
    the output's shape without its last axis), 'regression' (floats shaped
    like the output) or 'custom' (passed through as given).
    """

    name: str
    fn: Callable
    target: str
    from_logits: bool = False

    def values(self, out, y):
        """Per-sample (and per-step) loss values; a custom loss's scalar is
        spread over the samples."""
        value = self.fn(out, y)
        if self.target == "custom":
            return value.expand(len(out)) if value.dim() == 0 else value
        return value


# name: (target kind, function on probabilities, function on logits, activation giving logits)
_LOSSES = {
    "binary_crossentropy": (
        "binary", binary_crossentropy, binary_crossentropy_from_logits, "sigmoid"),
    "categorical_crossentropy": (
        "categorical", categorical_crossentropy, categorical_crossentropy_from_logits, "softmax"),
    "sparse_categorical_crossentropy": (
        "sparse", sparse_categorical_crossentropy,
        sparse_categorical_crossentropy_from_logits, "softmax"),
    "mean_squared_error": ("regression", mean_squared_error, None, None),
    "mean_absolute_error": ("regression", mean_absolute_error, None, None),
}
_ALIASES = {"mse": "mean_squared_error", "mae": "mean_absolute_error"}


def canonical_name(name, known):
    """Keras' spellings of a loss or metric name, as keras.losses.get reads
    them: as given, in lower case ('MSE'), or as its class ('MeanSquaredError',
    'BinaryCrossentropy'); the name itself where none of them is known."""
    for candidate in (name, name.lower(), re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()):
        candidate = _ALIASES.get(candidate, candidate)
        if candidate in known:
            return candidate
    return name


def resolve_loss(loss, output_activation=None):
    """A Loss from a Keras name or a callable `loss(y_pred, y_true) -> scalar`.

    When the model's last activation is the one the named cross-entropy
    inverts, training uses the logits form.
    """
    if callable(loss) and not isinstance(loss, str):
        return Loss(getattr(loss, "__name__", type(loss).__name__), loss, "custom")
    if not isinstance(loss, str):
        raise InputTypeError(f"loss must be a name or a callable, got {type(loss).__name__}")
    name = canonical_name(loss, _LOSSES)
    if name not in _LOSSES:
        known = sorted(set(_LOSSES) | set(_ALIASES))
        raise InputError(f"loss: unknown name {loss!r}; known: {', '.join(known)}")
    target, on_probs, on_logits, activation = _LOSSES[name]
    if on_logits is not None and output_activation == activation:
        return Loss(name, on_logits, target, from_logits=True)
    return Loss(name, on_probs, target)


def binary_accuracy(out, y, from_logits=False, activation=None):
    threshold = 0.0 if from_logits else 0.5
    return ((out > threshold) == (y > 0.5)).float().mean(-1)


def categorical_accuracy(out, y, from_logits=False, activation=None):
    return (out.argmax(-1) == y.argmax(-1)).float()


def sparse_categorical_accuracy(out, y, from_logits=False, activation=None):
    return (out.argmax(-1) == y).float()


def _on_output(fn):
    """A regression metric on the model's output, with the activation applied
    if the loop is working on logits."""

    def metric(out, y, from_logits=False, activation=None):
        return fn(activation(out) if from_logits and activation else out, y)

    return metric


_METRICS = {
    "binary_accuracy": binary_accuracy,
    "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "mean_squared_error": mean_squared_error,
    "mean_absolute_error": mean_absolute_error,
}
_ACCURACY_FOR = {
    "binary": "binary_accuracy",
    "categorical": "categorical_accuracy",
    "sparse": "sparse_categorical_accuracy",
}


@dataclass(frozen=True)
class Metric:
    """A resolved metric and the name shown in logs (what the user typed).

    fn(output, target, from_logits, activation) returns a value per sample
    (and step), the output's shape without its last axis;
    `activation` turns logits into the model's outputs when the loop trains
    on logits."""

    name: str
    fn: Callable


def resolve_metrics(metrics, loss):
    """Metrics from names ('accuracy' picks the variant that fits the loss, as
    Keras does) or callables `metric(y_pred, y_true) -> per-sample values`."""
    if metrics is None:
        return []
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    resolved = []
    for m in metrics:
        if callable(m) and not isinstance(m, str):
            resolved.append(Metric(getattr(m, "__name__", type(m).__name__), _on_output(m)))
            continue
        if not isinstance(m, str):
            raise InputTypeError(f"metrics: each must be a name or callable, got {type(m).__name__}")
        # 'accuracy' as typed: Keras' class Accuracy counts exact equality, another metric
        name = m if m in ("accuracy", "acc") else canonical_name(m, _METRICS)
        if name in ("accuracy", "acc"):
            if loss.target not in _ACCURACY_FOR:
                raise InputError(
                    f"metrics: 'accuracy' needs a classification loss, got loss {loss.name!r}"
                )
            fn = _METRICS[_ACCURACY_FOR[loss.target]]
            resolved.append(Metric(m, fn))
        elif name in _METRICS:
            _check_targets_fit(m, name, loss)
            if name in ("binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy"):
                resolved.append(Metric(m, _METRICS[name]))
            else:
                resolved.append(Metric(m, _on_output(_METRICS[name])))
        else:
            known = sorted({"accuracy", "acc", *_METRICS, *_ALIASES})
            raise InputError(f"metrics: unknown name {m!r}; known: {', '.join(known)}; any other "
                             "(AUC, precision, ...) is passed as a callable m(y_pred, y_true) "
                             "returning one value per sample")
    return resolved


def _check_targets_fit(shown, name, loss):
    """A named metric must read the targets the loss takes: class ids
    (sparse_categorical_accuracy, with the sparse loss) or values shaped like
    the output (every other metric, with every other named loss); otherwise
    it fails on the first batch, or compares the wrong things."""
    if loss.target == "custom":  # its targets are whatever the user's loss reads
        return
    wants_ids = name == "sparse_categorical_accuracy"
    if wants_ids != (loss.target == "sparse"):
        needs, takes = ("class ids", "targets shaped like the output") if wants_ids else (
            "targets shaped like the output", "class ids")
        hint = ("; 'accuracy' picks the one that fits the loss"
                if loss.target in _ACCURACY_FOR else "")
        raise InputError(
            f"metrics: {shown!r} needs {needs}, but loss {loss.name!r} takes {takes}{hint}")


def prepare_target(y, output_shape, loss, argument="y"):
    """Check labels against the loss and the model's per-sample output shape,
    and return them in the dtype and shape the loss takes.

    y is a tensor (samples, ...); output_shape excludes the samples axis.
    """
    if y is None:  # fit and evaluate need targets; only predict goes without
        raise InputError(f"{argument} is None: {loss.name} needs targets, one per sample")
    got = tuple(y.shape[1:])
    # a None axis (the steps of a sequence output) takes the length of y's
    out = tuple(g if o is None and i < len(got) else o
                for i, (o, g) in enumerate(zip(output_shape, got + (None,) * len(output_shape))))
    shown = f"{argument} has shape {tuple(y.shape)}, the model outputs {('N', *out)}"
    if loss.target == "custom":  # passed through, but (N,) labels meet a (N, 1) output
        return y.unsqueeze(-1) if got + (1,) == out else y
    if loss.target == "sparse":
        if y.is_floating_point():
            if not torch.equal(y, y.round()):
                raise InputError(f"{loss.name} needs integer class ids in {argument}, got fractions")
        if got == out[:-1] + (1,) and out[-1] != 1:
            y = y.squeeze(-1)
            got = got[:-1]
        if got != out[:-1]:
            raise InputError(f"{shown}; {loss.name} needs class ids shaped {('N', *out[:-1])}")
        y = y.to(torch.int64)
        low, high = int(y.min()), int(y.max())
        if low < 0 or high >= out[-1]:
            raise InputError(
                f"{argument}: class ids must lie in [0, {out[-1]}) for a model with {out[-1]} "
                f"outputs, got {low if low < 0 else high}"
            )
        return y
    y = y.to(torch.float32)
    if got != out and got + (1,) == out:
        y = y.unsqueeze(-1)  # (N,) labels for a (N, 1) output
        got = got + (1,)
    if got != out:
        hint = ""
        if loss.target == "categorical" and got == out[:-1]:
            hint = "; for integer class ids use loss='sparse_categorical_crossentropy'"
        raise InputError(f"{shown}; {loss.name} needs targets shaped like the output{hint}")
    if loss.target == "binary" and (y.min() < 0 or y.max() > 1):
        raise InputError(f"{argument}: binary_crossentropy needs labels in [0, 1], "
                         f"got values from {y.min().item()} to {y.max().item()}")
    if loss.target == "categorical" and y.min() < 0:
        raise InputError(f"{argument}: categorical_crossentropy needs non-negative targets")
    return y
