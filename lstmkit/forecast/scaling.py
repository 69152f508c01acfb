"""Scalers and transforms of a forecaster, fitted on the training part only
and inverted on its output.

Two kinds, applied in this order:
- per series, fitted once (`SeriesScaling`): an optional log, optional
  first differencing (for a series whose trend the window's level does not
  follow), then standard (mean and standard deviation) or min-max scaling,
  or none;
- per window, at every forecast origin (`window_level`): the window's
  level, its last value or its mean over the last season, subtracted from
  its inputs and added back to its outputs, so one network serves series
  and stretches of series at any level (ES-RNN's and DeepAR's per-window
  normalisation).
All are NumPy functions with exact inverses. A differenced series is one
step shorter; its inverse adds the steps back onto the last observed
value, so each quantile's path is the running sum of its steps (the
interval of step k the sum of k steps' intervals: wider than a joint one,
never narrower).
"""

import numpy as np

from ..errors import InputError

SCALERS = ("standard", "minmax", "none")
WINDOW_LEVELS = ("last", "mean", "none")


class SeriesScaling:
    """One series' fitted transform: optional log and differencing, then a scale.

    Attributes:
        log: whether values go through log (only for strictly positive
            training values).
        difference: whether the (logged) values are first differenced.
        scaler: 'standard', 'minmax' or 'none'.
        shift, scale: the transformed value is (u - shift) / scale, u the
            (logged, differenced) value.
    """

    def __init__(self, log, scaler, shift, scale, difference=False):
        self.log, self.scaler, self.difference = bool(log), scaler, bool(difference)
        self.shift, self.scale = float(shift), float(scale)

    @property
    def drops(self):
        """Steps the transform drops from a series' start (1 when differenced)."""
        return int(self.difference)

    @classmethod
    def fit(cls, values, log=False, scaler="standard", where="the series", difference=False):
        """Fit on training `values` (1-D, finite). A constant series (or,
        differenced, one of constant steps) is refused: it has no scale to
        divide by."""
        if scaler not in SCALERS:
            raise InputError(f"scaler must be one of {', '.join(SCALERS)}, got {scaler!r}")
        values = np.asarray(values, dtype=np.float64)
        if np.ptp(values) == 0:
            raise InputError(f"{where} is constant (every value is {values[0]:g}): it has no "
                             "scale to learn from; its forecast is that value")
        if log and (values <= 0).any():
            raise InputError(f"{where}: log needs positive values, the smallest is "
                             f"{values.min():g}")
        v = np.log(values) if log else values
        if difference:
            v = np.diff(v)
            if len(v) == 0 or np.ptp(v) == 0:
                raise InputError(f"{where} changes by the same step everywhere: differenced, it "
                                 "is constant and has no scale to learn from")
        if scaler == "standard":
            shift, scale = v.mean(), v.std()
        elif scaler == "minmax":
            shift, scale = v.min(), np.ptp(v)
        else:
            shift, scale = 0.0, 1.0
        return cls(log, scaler, shift, scale, difference)

    def transform(self, values):
        """The scaled series, `drops` steps shorter than `values`."""
        v = np.asarray(values, dtype=np.float64)
        v = np.log(v) if self.log else v
        return ((np.diff(v) if self.difference else v) - self.shift) / self.scale

    def inverse(self, z, last=None):
        """Values from scaled steps z ((H,) or (H, Q), steps first). A
        differenced scaling needs `last`, the last observed value the
        forecast continues: each column's steps are summed onto it."""
        v = np.asarray(z, dtype=np.float64) * self.scale + self.shift
        if self.difference:
            if last is None:
                raise InputError("a differenced scaling inverts from the last observed value: "
                                 "pass last=")
            v = (np.log(last) if self.log else last) + np.cumsum(v, axis=0)
        return np.exp(v) if self.log else v

    def to_json(self):
        return {"log": self.log, "scaler": self.scaler, "shift": self.shift, "scale": self.scale,
                "difference": self.difference}

    @classmethod
    def from_json(cls, data):
        if not isinstance(data, dict) or data.get("scaler") not in SCALERS or not all(
                isinstance(data.get(k), (int, float)) and not isinstance(data.get(k), bool)
                and np.isfinite(data.get(k)) for k in ("shift", "scale")):
            raise InputError("a series scaling must be {log, scaler, shift, scale (finite)}")
        if data["scale"] <= 0:
            raise InputError("a series scaling's scale must be positive")
        return cls(bool(data.get("log")), data["scaler"], data["shift"], data["scale"],
                   bool(data.get("difference", False)))


def window_level(z, mask, kind, season):
    """The level of each window: (N,) from inputs z (N, T) with mask (N, T)
    True at real steps (the real steps are the last ones): the last real
    value, the mean of the last `season` real values, or 0 for 'none'."""
    if kind == "none":
        return np.zeros(len(z))
    if kind == "last":
        return z[:, -1].copy()
    m = max(int(season), 1)
    tail, real = z[:, -m:], mask[:, -m:]
    return (tail * real).sum(1) / np.maximum(real.sum(1), 1)

