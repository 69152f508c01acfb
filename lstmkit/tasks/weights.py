"""An ensemble's member weights: checked, and chosen on held-out
probabilities (the text classifier's members, the series classifier's
layouts)."""

import numpy as np

from ..errors import InputError
from ..reports import log_loss


def check_weights(weights, n):
    """The members' weights: n non-negative numbers summing to 1 (equal by default)."""
    if weights is None:
        return [1.0 / n] * n
    if (not isinstance(weights, list) or len(weights) != n or not all(
            isinstance(w, (int, float)) and not isinstance(w, bool) and 0 <= w <= 1
            for w in weights) or abs(sum(weights) - 1) > 1e-6):
        raise InputError(f"weights must be {n} numbers in [0, 1] summing to 1, got {weights!r}")
    return [float(w) for w in weights]


def choose_weights(each, y, multilabel=False, steps=10):
    """The members' weights for their validation probabilities: the point
    of lowest log loss on a grid of the simplex in steps of 1/`steps`
    (ties: the one nearest equal weights). One member: [1.0]; more than
    four (a grid of thousands of points): equal weights."""
    n = len(each)
    if n == 1 or n > 4:
        return [1.0 / n] * n
    def loss(w):
        p = np.clip(sum(wi * e for wi, e in zip(w, each)), 1e-7, 1 - 1e-7)
        if multilabel:
            return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())
        return log_loss(y, p)
    grid = [np.array(c) / steps for c in compositions(steps, n)]
    # rounding: no float ties
    w = min(grid, key=lambda w: (round(loss(w), 9), round(float(np.abs(w - 1 / n).sum()), 9)))
    return [float(round(wi, 6)) for wi in w]


def compositions(total, parts):
    """Every tuple of `parts` non-negative integers summing to `total`."""
    if parts == 1:
        yield (total,)
        return
    for first in range(total, -1, -1):
        for rest in compositions(total - first, parts - 1):
            yield (first,) + rest
