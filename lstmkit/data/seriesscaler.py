"""SeriesScaler: the preprocessing saved with every series classifier, and
the checks it makes of the samples it reads.

Per-feature mean and standard deviation fitted on the training data, the
class labels, the features expected, and the missing-value policy
('interpolate' NaN linearly, or 'refuse' them); samples are checked as they
are read, errors naming the sample, its file and its line.
"""

import math
import warnings

import numpy as np

from ..errors import DataFileError, InputError, InputTypeError
from .preprocessing import Preprocessing
from .seriesdata import TimeSeriesData

MISSING = ("interpolate", "refuse")


class SeriesScaler(Preprocessing):
    """What turns a file's samples into the model's input, saved with it.

    Attributes:
        features: features (dimensions) per step the model reads.
        mean, std: per feature, over every value of the training data; each
            input feature becomes (x - mean) / std (std 1 for a constant one).
        labels: the class labels, in the order of the model's outputs: those
            of the training data, in the order the file declares them.
        missing: what happens to NaN (a `?` in a file, or a shorter
            dimension's padding). First, steps at either end where every
            feature is NaN are dropped: they are padding, not data. Then,
            'interpolate' (default): each feature's remaining gaps are filled
            linearly between its neighbouring values, and before its first
            (after its last) value with that value; a feature with no value
            in a sample reads 0, the training mean. 'refuse': any NaN left
            is an error naming the file, line, step and feature. Infinite
            values are always refused.
    """

    KIND = "series_scaler"
    VERSION = 1

    def __init__(self, features, mean, std, labels, missing="interpolate"):
        self.features, self.labels, self.missing = features, list(labels), missing
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)

    @classmethod
    def fit(cls, data, missing="interpolate"):
        """Fit on the training data (a TimeSeriesData with class labels)."""
        check_choice(missing, MISSING, "missing")
        labels = class_labels_of(data, "training data")
        features = data.n_features
        trimmed = [trim_padding(s, data, i) for i, s in enumerate(data.series)]
        values = np.concatenate(trimmed).astype(np.float64)  # (total steps, F)
        _refuse_infinite(trimmed, data)
        with warnings.catch_warnings():  # a feature of no value warns; it reads 0 below
            warnings.simplefilter("ignore", RuntimeWarning)
            mean, std = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
        mean = np.where(np.isfinite(mean), mean, 0.0)
        std = np.where(np.isfinite(std) & (std > 1e-12), std, 1.0)
        return cls(features, mean, std, labels, missing)

    def transform(self, data, where="data"):
        """The samples of `data` (a TimeSeriesData, or a list of arrays
        (steps, features)) as the model reads them: float32 arrays,
        scaled, missing values handled by the policy. Raises InputError
        (DataFileError for a file) naming the sample's place."""
        data = as_series_data(data)
        if not len(data):
            raise InputError(f"{where} holds no samples")
        out = []
        for i, series in enumerate(data.series):
            series = np.asarray(series, dtype=np.float64)
            if series.ndim != 2 or series.shape[1] != self.features:
                got = series.shape[1] if series.ndim == 2 else f"shape {series.shape}"
                raise _error(data, i, f"has {got} features per step, the model reads "
                                      f"{self.features}")
            start = first_real_step(series, data, i)  # steps are named as the file numbers them
            series = trim_padding(series, data, i)
            if np.isinf(series).any():
                step, feature = np.argwhere(np.isinf(series))[0]
                raise _error(data, i, f"step {start + step + 1}, feature {feature + 1} is "
                                      "infinite")
            scaled = (series - self.mean) / self.std
            if np.isnan(scaled).any():
                if self.missing == "refuse":
                    step, feature = np.argwhere(np.isnan(scaled))[0]
                    raise _error(data, i, f"step {start + step + 1}, feature {feature + 1} is "
                                          "missing (NaN), which missing='refuse' does not "
                                          "accept (the model's policy; train with "
                                          "missing='interpolate' to fill gaps)")
                scaled = interpolate(scaled)
            out.append(scaled.astype(np.float32))
        return out

    def encode_labels(self, data, where="data"):
        """Class ids (int64, N) of a TimeSeriesData's labels; a label the
        model was not trained on is an error naming its place."""
        class_labels_of(data, where, present_only=False)  # refuses unlabelled and regression data
        index = {label: i for i, label in enumerate(self.labels)}
        unknown = [i for i, label in enumerate(data.labels) if label not in index]
        if unknown:
            first = unknown[0]
            others = sorted({data.labels[i] for i in unknown})
            raise _error(data, first, f"has label {data.labels[first]!r}, which the training "
                                      f"data did not hold (known: {', '.join(self.labels)}); "
                                      f"{len(unknown)} sample(s) with unseen labels "
                                      f"{', '.join(map(repr, others))}")
        return np.array([index[label] for label in data.labels], dtype=np.int64)

    def to_json(self):
        return {"features": self.features, "mean": self.mean.tolist(), "std": self.std.tolist(),
                "labels": self.labels, "missing": self.missing}

    @classmethod
    def from_json(cls, data):
        features = data.get("features")
        if isinstance(features, bool) or not isinstance(features, int) or not (
                1 <= features <= 2**20):
            raise InputError(f"features must be a positive int, got {features!r}")
        for key in ("mean", "std"):
            values = data.get(key)
            if not isinstance(values, list) or len(values) != features or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                    for v in values):
                raise InputError(f"{key} must be a list of {features} finite numbers")
        if any(v <= 0 for v in data["std"]):
            raise InputError("std must be positive")
        labels = data.get("labels")
        if not isinstance(labels, list) or len(labels) < 2 or not all(
                isinstance(v, str) for v in labels) or len(set(labels)) != len(labels):
            raise InputError("labels must be a list of at least two distinct strings")
        if data.get("missing") not in MISSING:
            raise InputError(f"missing must be one of {', '.join(MISSING)}, got "
                             f"{data.get('missing')!r}")
        return cls(features, data["mean"], data["std"], labels, data["missing"])


def as_series_data(data):
    """A TimeSeriesData from one, or from a list of arrays (steps, features)."""
    if isinstance(data, TimeSeriesData):
        return data
    if isinstance(data, (str, bytes)) or not hasattr(data, "__iter__"):
        raise InputTypeError(f"expected a TimeSeriesData or a list of (steps, features) arrays, "
                             f"got {type(data).__name__}")
    series = []
    for i, s in enumerate(data):
        try:
            a = np.asarray(s, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise InputError(f"sample {i} cannot be read as numbers: {e}") from None
        if a.ndim == 1:
            a = a[:, None]  # one feature per step
        if a.ndim != 2:
            raise InputError(f"sample {i} must be (steps, features), got shape {a.shape}")
        series.append(a)
    return TimeSeriesData(series)


def class_labels_of(data, where, present_only=True):
    """The class labels of labelled data, in the file's declared order
    (those present, with present_only); refuses regression and unlabelled data."""
    if data.labels is None:
        raise InputError(f"{data.path or where} holds no labels (@classLabel false): a "
                         "classifier needs one class label per sample")
    if isinstance(data.labels, np.ndarray):
        raise InputError(f"{data.path or where} holds regression targets (numbers), not class "
                         "labels: series classification needs @classLabel true")
    declared = list(data.class_labels or sorted(set(data.labels)))
    present = set(data.labels)
    labels = [label for label in declared if label in present] if present_only else declared
    labels += sorted(present - set(declared)) if present_only else []
    if present_only and len(labels) < 2:
        raise InputError(f"{data.path or where}: the samples hold one class "
                         f"({', '.join(labels)}); a classifier needs at least two")
    return labels


def trim_padding(series, data, i):
    """series without the steps at either end where every feature is NaN
    (padding); a sample with no value at all is an error."""
    real = ~np.isnan(series).all(axis=1)
    if not real.any():
        raise _error(data, i, "has no values (every step is missing)")
    first, last = np.flatnonzero(real)[[0, -1]]
    return series[first:last + 1]


def first_real_step(series, data, i):
    """The index of the first step where some feature has a value."""
    real = ~np.isnan(series).all(axis=1)
    if not real.any():
        raise _error(data, i, "has no values (every step is missing)")
    return int(np.flatnonzero(real)[0])


def interpolate(series):
    """Each column's NaN filled linearly between its neighbouring values,
    the ends with the nearest value; a column of no value becomes 0."""
    out = series.copy()
    steps = np.arange(len(series))
    for f in range(series.shape[1]):
        known = ~np.isnan(series[:, f])
        if not known.any():
            out[:, f] = 0.0
        elif not known.all():
            out[:, f] = np.interp(steps, steps[known], series[known, f])
    return out


def _refuse_infinite(series, data):
    for i, s in enumerate(series):
        if np.isinf(s).any():
            step, feature = np.argwhere(np.isinf(s))[0]
            raise _error(data, i, f"step {step + 1}, feature {feature + 1} is infinite")


def _error(data, i, message):
    """An error about sample i, naming its file and line where known."""
    if data.path is not None:
        line = data.lines[i] if data.lines is not None else None
        return DataFileError(f"sample {i + 1} {message}", data.path, line)
    return InputError(f"sample {i + 1} {message}")


def check_choice(value, choices, argument):
    if value not in choices:
        raise InputError(f"{argument} must be one of {', '.join(map(repr, choices))}, "
                         f"got {value!r}")
