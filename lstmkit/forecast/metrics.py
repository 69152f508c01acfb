"""Forecast accuracy as the forecasting protocol scores it: MAE, RMSE,
sMAPE (M4's definition), MASE with a seasonal period, and the empirical
coverage of prediction intervals. Pure NumPy functions of (actual, forecast).
"""

import numpy as np

from ..errors import InputError


def _pair(y, forecast):
    y, forecast = np.asarray(y, dtype=np.float64), np.asarray(forecast, dtype=np.float64)
    if y.shape != forecast.shape:
        raise InputError(f"actual and forecast differ in shape: {y.shape} and {forecast.shape}")
    if y.size == 0:
        raise InputError("no values to score")
    return y, forecast


def mae(y, forecast):
    y, forecast = _pair(y, forecast)
    return float(np.mean(np.abs(y - forecast)))


def rmse(y, forecast):
    y, forecast = _pair(y, forecast)
    return float(np.sqrt(np.mean((y - forecast) ** 2)))


def smape(y, forecast):
    """sMAPE in percent, M4's definition: 100/h sum 2|y - f| / (|y| + |f|);
    a term whose denominator is 0 counts 0."""
    y, forecast = _pair(y, forecast)
    denominator = np.abs(y) + np.abs(forecast)
    terms = np.divide(2 * np.abs(y - forecast), denominator, out=np.zeros_like(y),
                      where=denominator > 0)
    return float(100 * terms.mean())


def mase_scale(train, season=1):
    """The in-sample MAE of the seasonal-naive forecast on `train`: the mean
    over t >= m of |y_t - y_(t-m)| (lag 1 for m = 1)."""
    train = np.asarray(train, dtype=np.float64)
    m = max(int(season), 1)
    if len(train) <= m:
        raise InputError(f"MASE with season {m} needs more than {m} training values, got "
                         f"{len(train)}")
    return float(np.mean(np.abs(train[m:] - train[:-m])))


def mase(y, forecast, train, season=1):
    """Mean absolute scaled error: MAE over the seasonal-naive in-sample MAE
    of the training part (the protocol's primary figure). A training part
    whose scale is 0 (it repeats itself exactly) is refused rather than
    divided by."""
    scale = mase_scale(train, season)
    if scale == 0:
        raise InputError(f"MASE is undefined: the training part repeats itself with period "
                         f"{max(int(season), 1)} (its seasonal-naive error is 0)")
    return mae(y, forecast) / scale


def coverage(y, lower, upper):
    """The share of actual values inside [lower, upper]."""
    y, lower = _pair(y, lower)
    _, upper = _pair(y, upper)
    return float(np.mean((y >= lower) & (y <= upper)))


def pinball(y, forecast, quantile):
    """The mean pinball (quantile) loss of `forecast` as the `quantile`."""
    y, forecast = _pair(y, forecast)
    diff = y - forecast
    return float(np.mean(np.maximum(quantile * diff, (quantile - 1) * diff)))


def scores(y, forecast, train, season=1, lower=None, upper=None):
    """The protocol's figures as a dict: mase, smape, rmse, mae, and
    coverage when interval bounds are given. mase is None where it is
    undefined (a training part that repeats itself exactly), so one such
    fold costs that figure only, not the others."""
    scale = mase_scale(train, season)
    out = {"mase": mae(y, forecast) / scale if scale > 0 else None,
           "smape": smape(y, forecast),
           "rmse": rmse(y, forecast), "mae": mae(y, forecast)}
    if lower is not None and upper is not None:
        out["coverage"] = coverage(y, lower, upper)
    return out
