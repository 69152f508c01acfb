"""Rolling-origin backtesting: k forecasts from k origins at the end of a
series, each made by a forecaster fitted only on what came before it, and
scored beside the built-in baselines fitted on the same part.

Fold i of k trains on values[:end_i] and is scored on the `horizon` values
after end_i, with end_i = n - (k - i) * step - (horizon - step) for step
(default the horizon) between origins: the last fold ends at the series' end.
"""

import numpy as np

from ..errors import InputError
from .baselines import BASELINES
from .inputs import minimum_length
from .metrics import scores


def fold_ends(n, horizon, folds, step=None):
    """Where each fold's training part ends (exclusive), oldest first; the
    series must leave each fold enough to train on (the message says how much)."""
    step = horizon if step is None else step
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 1:
        raise InputError(f"folds must be a positive int, got {folds!r}")
    if isinstance(step, bool) or not isinstance(step, int) or step < 1:
        raise InputError(f"step must be a positive int, got {step!r}")
    ends = [n - horizon - (folds - 1 - i) * step for i in range(folds)]
    needed = minimum_length(horizon) + horizon + (folds - 1) * step
    if ends[0] < minimum_length(horizon):
        raise InputError(f"the series has {n} values; {folds} backtest fold(s) of horizon "
                         f"{horizon} need at least {needed}")
    return ends


def backtest(values, horizon, make_forecaster, folds=1, season=1, step=None, dates=None,
             fit_options=None, print_fn=None, known=None, past=None):
    """Score a forecaster and the baselines over `folds` rolling origins.

    Args:
        values: the 1-D series.
        make_forecaster: () -> an unfitted Forecaster (one per fold).
        dates, fit_options: passed to each fold's fit (dates cut to the fold).
        known, past: the series' covariates, (n + horizon, K) known in
            advance and (n, P) observed with it; each fold is given those up
            to its origin (and, known ones, its horizon's).

    Returns {"folds": [{"end", "lstmkit": scores, baseline: scores, ...}],
    "mean": {method: mean of each figure over the folds}}; a figure
    undefined in a fold (MASE of a part that repeats itself) is None there
    and in the mean.
    """
    values = np.asarray(values, dtype=np.float64)
    out = []
    for i, end in enumerate(fold_ends(len(values), horizon, folds, step)):
        train, test = values[:end], values[end:end + horizon]
        forecaster = make_forecaster().fit(
            train, horizon, season=season, dates=None if dates is None else dates[:end],
            known=None if known is None else known[:end + horizon],
            past=None if past is None else past[:end], **(fit_options or {}))
        forecast = forecaster.predict()
        fold = {"end": int(end), "lstmkit": scores(test, forecast.point, train, season,
                                                   forecast.lower, forecast.upper)}
        for name, fn in BASELINES.items():
            fold[name] = scores(test, fn(train, horizon, season), train, season)
        out.append(fold)
        if print_fn:
            print_fn(f"fold {i + 1}/{folds}: trained on {end} values, MASE lstmkit "
                     f"{_figure(fold['lstmkit']['mase'])}, seasonal naive "
                     f"{_figure(fold['seasonal_naive']['mase'])}")
    methods = ["lstmkit", *BASELINES]
    mean = {m: {k: _mean([f[m][k] for f in out]) for k in out[0][m]} for m in methods}
    return {"folds": out, "mean": mean}


def _mean(figures):
    """The mean over the folds; None (undefined) if any fold's is."""
    return None if None in figures else float(np.mean(figures))


def _figure(value):
    return "undefined" if value is None else f"{value:.3f}"
