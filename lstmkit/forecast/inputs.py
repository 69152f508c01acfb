"""The series and covariates a forecaster is given, read into one form
(a list of 1-D arrays and their dates) and checked: shapes, finiteness,
the minimum length, covariate widths."""

import numpy as np

from ..data.timeseries import TimeSeries
from ..errors import InputError, InputTypeError


def as_series_list(series):
    """A list of 1-D float64 arrays (and their dates, where a TimeSeries gave them)."""
    if isinstance(series, TimeSeries):
        return [series.values], [series.dates], series
    if isinstance(series, np.ndarray) and series.ndim == 1 or (
            isinstance(series, (list, tuple)) and series and
            all(isinstance(v, (int, float, np.number)) for v in series)):
        return [np.asarray(series, dtype=np.float64)], [None], None
    if isinstance(series, np.ndarray) and series.ndim == 2:
        return [np.asarray(s, dtype=np.float64) for s in series], [None] * len(series), None
    if isinstance(series, (list, tuple)):
        out, dates = [], []
        for s in series:
            if isinstance(s, TimeSeries):
                out.append(s.values)
                dates.append(s.dates)
            else:
                out.append(np.asarray(s, dtype=np.float64))
                dates.append(None)
        return out, dates, None
    raise InputTypeError(f"series must be an array, a list of arrays or a TimeSeries, got "
                         f"{type(series).__name__}")


def check_series(values, i, horizon, count, extra=0):
    """A series checked: 1-D, finite, long enough for the horizon (and the
    `extra` steps a transform drops), not constant."""
    where = "the series" if count == 1 else f"series {i}"
    if values.ndim != 1:
        raise InputError(f"{where} must be 1-D, got shape {values.shape}")
    bad = ~np.isfinite(values)
    if bad.any():
        raise InputError(f"{where} holds {int(bad.sum())} NaN or infinite value(s), the first "
                         f"at step {int(np.flatnonzero(bad)[0])}")
    minimum = minimum_length(horizon) + extra
    if len(values) < minimum:
        raise InputError(f"{where} has {len(values)} values; a horizon of {horizon} needs at "
                         f"least {minimum} (windows to train on and {horizon} values to "
                         "validate on" + (", and one more to difference" if extra else "") + ")")


def check_values(values, where, drops=0):
    """Values to forecast from checked: 1-D, finite, longer than the `drops`
    steps a transform takes from the start."""
    if values.ndim != 1 or len(values) <= drops:
        raise InputError(f"{where} must be a 1-D series of at least {drops + 1} value(s), got "
                         f"shape {values.shape}")
    bad = ~np.isfinite(values)
    if bad.any():
        raise InputError(f"{where} holds {int(bad.sum())} NaN or infinite value(s), the first "
                         f"at step {int(np.flatnonzero(bad)[0])}")


def validation_block(n, horizon):
    """Values at the end of a series of n held out to stop early on: a fifth
    of the series, at least one horizon and at most five (so the validation
    loss of a long series is not one horizon's noise), always leaving two
    values to train on."""
    return max(horizon, min(n // 5, 5 * horizon, n - 2))


def minimum_length(horizon):
    """The fewest values a series needs for `horizon`: a horizon's worth to
    validate on and two before it (shorter inputs are padded and masked)."""
    return horizon + 2


def per_series(covariate, count, name):
    """A covariate given for one series (an array) or per series (a list) as a list."""
    if covariate is None:
        return [None] * count
    if count == 1 and not isinstance(covariate, (list, tuple)):
        return [covariate]
    if not isinstance(covariate, (list, tuple)) or len(covariate) != count:
        raise InputError(f"{name} must be given per series: a list of {count}")
    return list(covariate)


def covariate_width(covariates, ndim, values, extra, name, expected=None):
    """Columns of a covariate (0 if not given), each series' array checked
    (and, given `expected`, its width: the one a model was trained with)."""
    widths = set()
    for i, (c, v) in enumerate(zip(covariates, values)):
        if c is None:
            widths.add(0)
            continue
        a = np.asarray(c, dtype=np.float64)
        if ndim == 0:
            if a.ndim != 1:
                raise InputError(f"static covariates of series {i} must be 1-D (features,)")
        elif a.ndim != 2 or (extra is not None and len(a) < len(v) + extra):
            raise InputError(f"{name} covariates of series {i} must be (steps, features) with at "
                             f"least {len(v) + (extra or 0)} steps, got shape {a.shape}")
        if not np.isfinite(a).all():
            raise InputError(f"{name} covariates of series {i} hold NaN or infinite values")
        widths.add(a.shape[-1])
    if len(widths) > 1:
        raise InputError(f"{name} covariates differ in width between series: {sorted(widths)}")
    width = widths.pop()
    if expected is not None and width != expected:
        raise InputError(f"{name} covariates have {width} column(s); the forecaster was trained "
                         f"with {expected}")
    return width
