"""The built-in baselines every forecast is compared with: naive, seasonal
naive, drift, and simple exponential smoothing. Each is a function
(train, horizon, season) -> (horizon,) point forecasts, fitted on `train`
alone; BASELINES names them for tables and the command line.
"""

import numpy as np

from ..errors import InputError


def _train(train, needed=1):
    train = np.asarray(train, dtype=np.float64)
    if train.ndim != 1 or len(train) < needed:
        raise InputError(f"a baseline needs a 1-D training series of at least {needed} values, "
                         f"got shape {train.shape}")
    return train


def naive(train, horizon, season=1):
    """The last value, repeated."""
    train = _train(train)
    return np.full(horizon, train[-1])


def seasonal_naive(train, horizon, season=1):
    """The value one season earlier: the last season repeated (naive for m = 1)."""
    m = max(int(season), 1)
    train = _train(train, m)
    last = train[-m:]
    return np.array([last[k % m] for k in range(horizon)])


def drift(train, horizon, season=1):
    """The last value plus the mean step of the training part, k steps on."""
    train = _train(train)
    slope = (train[-1] - train[0]) / (len(train) - 1) if len(train) > 1 else 0.0
    return train[-1] + slope * np.arange(1, horizon + 1)


def ses_alpha(train):
    """The smoothing weight in [0.01, 0.99] with the smallest sum of squared
    one-step errors (a grid, then a finer grid around its best)."""
    train = _train(train)

    def sse(alpha):
        level, total = train[0], 0.0
        for value in train[1:]:
            total += (value - level) ** 2
            level += alpha * (value - level)
        return total

    grid = np.linspace(0.01, 0.99, 50)
    best = grid[int(np.argmin([sse(a) for a in grid]))]
    fine = np.clip(np.linspace(best - 0.02, best + 0.02, 21), 0.01, 0.99)
    return float(fine[int(np.argmin([sse(a) for a in fine]))])


def ses(train, horizon, season=1):
    """Simple exponential smoothing: the smoothed level, flat; the weight
    fitted on the one-step errors of `train` (ses_alpha)."""
    train = _train(train)
    alpha = ses_alpha(train)
    level = train[0]
    for value in train[1:]:
        level += alpha * (value - level)
    return np.full(horizon, level)


BASELINES = {"naive": naive, "seasonal_naive": seasonal_naive, "drift": drift, "ses": ses}
