"""Series classification: labelled time series (UCR/UEA `.ts`, UCR CSV/TSV,
`.arff`) to a trained classifier, its figures and its predictions.

Each sample is a sequence of feature vectors (steps, features), lengths may
differ, one label per sample. The pieces, in the order data flows:

- `SeriesScaler` (the preprocessing saved with every model): per-feature
  mean and standard deviation fitted on the training data, the class
  labels, the features expected, and the missing-value policy.
- `build_classifier`: a Conv1D front -> LSTM or Bidirectional(LSTM) ->
  pooling over the real steps (last state, mean, max or attention) ->
  Dropout -> Dense(softmax).
- `train_classifier`: an ensemble of members, each trained with its own
  seed on all folds but one of a stratified split of the training data,
  stopped early on the fold it holds out (restoring its best epoch); the
  ensemble averages their probabilities. Batches come from
  `SequenceBatches`: bucketed by length, padded after the real steps, the
  mask passed to the model, so each sample's result is the one it gets run
  alone.
- `SeriesClassifier`: the ensemble; predict_proba, predict, evaluate, save,
  load. A saved classifier is a folder: `ensemble.json` (the manifest) and
  one sub-folder per member, each an ordinary lstmkit model that
  `lstmkit.load_model` reads alone.
- the figures (accuracy, balanced accuracy, macro F1, the confusion
  matrix) come from lstmkit.reports, shared with text classification.
"""

import argparse
import json
import math
import os
import shutil
import tempfile
import time
import warnings

import numpy as np
import torch

from .. import __version__
from ..callbacks import EarlyStopping
from ..data.preprocessing import Preprocessing
from ..data.sources import SequenceBatches
from ..data.tsfile import TimeSeriesData, read_series_file
from ..distributed import is_main_process
from ..errors import DataFileError, InputError, InputTypeError, ModelFileError
from ..files import atomic_write, parse_json, replace_folder
from ..layers import (LSTM, AttentionPooling1D, Bidirectional, Dense, Dropout,
                      GlobalAveragePooling1D, GlobalMaxPooling1D)
from ..model import Sequential, load_model
from ..reports import classification_report, format_report, log_loss
from ..train import resolve_device, set_seed
from .base import Task, add_command, add_training_options

MISSING = ("interpolate", "refuse")
POOLINGS = ("last", "mean", "max", "attention")
MANIFEST = "ensemble.json"
FORMAT = "lstmkit.series_ensemble"
FORMAT_VERSION = 1
MAX_MEMBERS = 64
FOLDS = 5  # each member holds out a fifth of the training data to stop on


# ----- preprocessing -------------------------------------------------------------

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
                                          "missing (NaN); the model was trained with missing='refuse' "
                                          "(train with missing='interpolate' to fill gaps)")
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


# ----- the model -----------------------------------------------------------------

# Chosen on training data only (ItalyPowerDemand's training file, outer 5-fold x 2 on it,
# and the sine mixtures of tests/test_series.py); the figures are in the README.
MODEL_DEFAULTS = {"units": 64, "bidirectional": False, "pooling": "last", "conv_filters": 64,
                  "dropout": 0.2}


def build_classifier(features, classes, units=64, bidirectional=False, pooling="last",
                     conv_filters=64, dropout=0.2, device="auto"):
    """The sequence classifier, compiled (sparse cross-entropy, Adam, accuracy)
    and built for `features` per step and any length.

    Args:
        units: the LSTM's units (per direction).
        bidirectional: run the LSTM both ways (concatenated).
        pooling: how the per-step outputs become one vector: 'last' (the
            state at each sample's last real step; with bidirectional, the
            backward direction's at its first), 'mean', 'max' or
            'attention' (AttentionPooling1D) over the real steps.
        conv_filters: a front of three Conv1D layers of this many filters
            (kernels 7, 5, 3, ReLU), the convolutional blocks of FCN and
            LSTM-FCN (Wang et al. 2017; Karim et al. 2017), here run before
            the LSTM rather than beside it; 0 for none. Default 64.
        dropout: before the output layer.
    """
    from ..layers.core import Conv1D

    check_choice(pooling, POOLINGS, "pooling")
    layers = []
    if conv_filters:
        layers += [Conv1D(conv_filters, k, activation="relu") for k in (7, 5, 3)]
    lstm = LSTM(units, return_sequences=pooling != "last")
    layers.append(Bidirectional(lstm) if bidirectional else lstm)
    if pooling != "last":
        layers.append({"mean": GlobalAveragePooling1D, "max": GlobalMaxPooling1D,
                       "attention": AttentionPooling1D}[pooling]())
    if dropout:
        layers.append(Dropout(dropout))
    layers.append(Dense(classes, activation="softmax"))
    model = Sequential(layers)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"],
                  device=device)
    model.build((None, features))
    return model


class WeightedCrossEntropy:
    """Sparse cross-entropy on the softmax output with one weight per class
    (class_weight='balanced': n / (classes * count of the class))."""

    def __init__(self, weights):
        self.weights = torch.as_tensor(weights, dtype=torch.float32)
        self.__name__ = "weighted_sparse_categorical_crossentropy"

    def __call__(self, p, y):
        w = self.weights.to(p.device)[y]  # (N,)
        log_p = torch.log(p.clamp(1e-7, 1.0)).gather(1, y[:, None])[:, 0]  # (N,)
        return -w * log_p


def balanced_weights(y, classes):
    counts = np.bincount(y, minlength=classes).astype(np.float64)
    return np.where(counts > 0, len(y) / (classes * np.maximum(counts, 1)), 0.0)


def stratified_folds(y, k, seed):
    """A fold number in [0, k) per sample: each class shuffled, then the
    samples dealt round-robin in class order, so every fold is non-empty
    (for k <= n) and holds each class in proportion."""
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(np.flatnonzero(y == c)) for c in np.unique(y)])
    folds = np.empty(len(y), dtype=np.int64)
    folds[order] = (np.arange(len(y)) + rng.integers(k)) % k
    return folds


@torch.inference_mode()
def predict_proba_model(model, x, batch_size=256):
    """Class probabilities (N, C) of one model for prepared sequences x,
    run in batches of similar lengths, each sample masked to its own."""
    source = SequenceBatches(x, None, batch_size, shuffle=False, bucket=True)
    device = next(model.parameters()).device
    model.eval()
    out = torch.empty(len(x), model.output_shape()[-1])
    for index in source.index_batches():
        batch, _, mask = source.batch(index)
        out[index] = model(batch.to(device), mask=mask.to(device)).float().cpu()
    return out.numpy()


# ----- the ensemble ----------------------------------------------------------------

class SeriesClassifier:
    """An ensemble of sequence classifiers sharing one SeriesScaler; it
    predicts the mean of their probabilities.

    Attributes:
        members: the models (Sequential), each saved as its own lstmkit model.
        preprocessing: the SeriesScaler.
        info: what training recorded (settings, seeds, epochs, out-of-fold
            figures), saved in the manifest.
    """

    def __init__(self, members, preprocessing, info=None):
        self.members, self.preprocessing, self.info = list(members), preprocessing, info or {}

    @property
    def labels(self):
        return self.preprocessing.labels

    def predict_proba(self, data, batch_size=256):
        """(N, classes) probabilities for a TimeSeriesData or a list of
        arrays (steps, features), in the order of `labels`."""
        x = self.preprocessing.transform(data)
        return np.mean([predict_proba_model(m, x, batch_size) for m in self.members], axis=0)

    def predict(self, data, batch_size=256):
        """The predicted label of each sample (a list of str)."""
        return [self.labels[i] for i in self.predict_proba(data, batch_size).argmax(1)]

    def evaluate(self, data, batch_size=256):
        """classification_report on labelled data (a TimeSeriesData)."""
        y = self.preprocessing.encode_labels(data, "the test data")
        p = self.predict_proba(data, batch_size)
        return {**classification_report(y, p.argmax(1), self.labels), "log_loss": log_loss(y, p)}

    def save(self, path):
        """Write the ensemble to folder `path`: a temporary sibling folder
        first, renamed into place when complete, so `path` holds the old
        classifier or the new one, never a part."""
        path = os.path.abspath(os.fspath(path))
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            raise InputError(f"--out {path}: the folder {parent} does not exist")
        tmp = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(path)}.tmp-")
        try:
            names = []
            for i, model in enumerate(self.members):
                names.append(f"member-{i}")
                # training may have used a weighted loss or another learning rate: a file
                # keeps names only
                model.compile(loss="sparse_categorical_crossentropy", optimizer="adam",
                              metrics=["accuracy"], device=next(model.parameters()).device)
                TASK.save(model, os.path.join(tmp, names[-1]), self.preprocessing, member=i,
                          seed=(self.info.get("seeds") or [None] * len(self.members))[i])
            manifest = {"format": FORMAT, "format_version": FORMAT_VERSION,
                        "lstmkit_version": __version__, "task": TASK.name, "members": names,
                        "labels": self.labels, "features": self.preprocessing.features,
                        "info": self.info}
            atomic_write(os.path.join(tmp, MANIFEST),
                         json.dumps(manifest, indent=2, allow_nan=False).encode())
            os.chmod(tmp, 0o777 & ~_umask())
            replace_folder(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @classmethod
    def load(cls, path, device="cpu"):
        """A classifier saved by `save`, or a single lstmkit model of this
        task (a one-member ensemble)."""
        path = os.fspath(path)
        manifest_path = os.path.join(path, MANIFEST)
        if not os.path.isfile(manifest_path):
            model = load_model(path, device=device)
            if model.metadata.get("task") != TASK.name or not isinstance(
                    model.preprocessing, SeriesScaler):
                raise ModelFileError(f"{path}: not a series classifier (no {MANIFEST}, and the "
                                     f"model is not of the task {TASK.name!r})")
            return cls([model], model.preprocessing)
        if os.path.getsize(manifest_path) > 1 << 20:
            raise ModelFileError(f"{manifest_path}: larger than a manifest can be")
        with open(manifest_path, "rb") as f:
            manifest = parse_json(f.read(), manifest_path)
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise ModelFileError(f"{manifest_path}: not a series ensemble (no format '{FORMAT}')")
        version = manifest.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool) or version > FORMAT_VERSION:
            raise ModelFileError(f"{manifest_path}: format_version {version!r} is not one this "
                                 f"lstmkit reads ({FORMAT_VERSION})")
        names = manifest.get("members")
        if not isinstance(names, list) or not 1 <= len(names) <= MAX_MEMBERS or not all(
                isinstance(n, str) and n.startswith("member-") and n[7:].isdigit()
                for n in names):
            raise ModelFileError(f"{manifest_path}: members must be a list of 1 to {MAX_MEMBERS} "
                                 "names member-<n>")
        members = [load_model(os.path.join(path, n), device=device) for n in names]
        scaler = members[0].preprocessing
        for name, model in zip(names, members):
            if not isinstance(model.preprocessing, SeriesScaler) or (
                    model.preprocessing.to_json() != scaler.to_json()):
                raise ModelFileError(f"{os.path.join(path, name)}: its preprocessing differs from "
                                     f"{names[0]}'s: the members do not belong together")
            if model.output_shape()[-1] != len(scaler.labels):
                raise ModelFileError(f"{os.path.join(path, name)}: {model.output_shape()[-1]} "
                                     f"outputs for {len(scaler.labels)} labels")
        info = manifest.get("info") if isinstance(manifest.get("info"), dict) else {}
        return cls(members, scaler, info)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def train_classifier(data, members=5, seed=0, epochs=300, patience=30, batch_size=16,
                     learning_rate=1e-3, class_weight=None, missing="interpolate",
                     device="auto", verbose=0, print_fn=None, **model_options):
    """Train a SeriesClassifier on labelled data (a TimeSeriesData).

    Args:
        members: models in the ensemble. Their folds: the training data is
            split, stratified, into 5 folds (at most one per sample), and
            member i trains on all but fold i, stopped early on fold i; a
            sixth member and beyond start a new split, shuffled anew, so a
            member always holds out a fifth. Default 5.
        seed: seeds the folds and each member (member i: 1000 * seed + i).
        epochs: the most epochs a member trains. Default 300.
        patience: epochs without a lower loss on the held-out fold before a
            member stops; its best epoch's weights are kept. Default 30.
        batch_size: samples per step. Default 16.
        learning_rate: Adam's. Default 1e-3 (Keras').
        class_weight: None (default) or 'balanced': each class's loss
            weighted by n / (classes * its count), for imbalanced data.
        missing: the SeriesScaler's policy, 'interpolate' (default) or 'refuse'.
        **model_options: build_classifier's (units, bidirectional, pooling,
            conv_filters, dropout).

    Returns a SeriesClassifier; its `info` holds the settings, each member's
    seed and best epoch, and the out-of-fold accuracy (each training sample
    predicted by the member that held it out; optimistic, since that fold
    also chose the member's epoch).
    """
    _check_int(members, "members", 1, MAX_MEMBERS)
    _check_int(epochs, "epochs", 1)
    _check_int(patience, "patience", 0)
    _check_int(batch_size, "batch_size", 1)
    _check_int(seed, "seed", 0)
    if class_weight not in (None, "balanced"):
        raise InputError(f"class_weight must be None or 'balanced', got {class_weight!r}")
    options = {**MODEL_DEFAULTS, **model_options}
    unknown = sorted(set(options) - set(MODEL_DEFAULTS))
    if unknown:
        raise InputError(f"unknown model option(s) {unknown}; known: {', '.join(MODEL_DEFAULTS)}")
    started = time.perf_counter()
    scaler = SeriesScaler.fit(data, missing)
    x = scaler.transform(data, "the training data")
    y = scaler.encode_labels(data, "the training data")
    n, classes = len(x), len(scaler.labels)
    if n < 2:
        raise InputError(f"the training data holds {n} sample: at least 2 are needed")
    k = min(FOLDS, n)
    splits = {}  # the fold number of each sample, per split
    device = resolve_device(device)
    loss = WeightedCrossEntropy(balanced_weights(y, classes)) if class_weight else None
    models, seeds, best_epochs = [], [], []
    oof, counts = np.zeros((n, classes)), np.zeros(n)
    for i in range(members):
        split = i // k  # members beyond the k-th start a new split, shuffled anew
        if split not in splits:
            splits[split] = stratified_folds(y, k, seed if split == 0 else [seed, split])
        held = np.flatnonzero(splits[split] == i % k)
        train = np.flatnonzero(splits[split] != i % k)
        member_seed = 1000 * seed + i
        set_seed(member_seed)
        model = build_classifier(scaler.features, classes, device=device, **options)
        model.compile(loss=loss or "sparse_categorical_crossentropy",
                      optimizer=lambda p: torch.optim.Adam(p, lr=learning_rate),
                      metrics=None if loss else ["accuracy"], device=device)
        stop = EarlyStopping("val_loss", patience=patience, restore_best_weights=True)
        model.fit(SequenceBatches([x[j] for j in train], torch.as_tensor(y[train]), batch_size,
                                  shuffle=True, seed=member_seed),
                  validation_data=SequenceBatches([x[j] for j in held], torch.as_tensor(y[held]),
                                                  256),
                  epochs=epochs, verbose=verbose, seed=member_seed, callbacks=[stop])
        held_p = predict_proba_model(model, [x[j] for j in held])
        oof[held] += held_p
        counts[held] += 1
        models.append(model)
        seeds.append(member_seed)
        best_epochs.append(None if stop.best_epoch is None else stop.best_epoch + 1)
        if print_fn:
            accuracy = (held_p.argmax(1) == y[held]).mean()
            print_fn(f"member {i + 1}/{members}: best epoch {best_epochs[-1]}, held-out fold "
                     f"accuracy {accuracy:.4f} ({len(held)} samples)")
    seen = counts > 0
    oof[seen] /= counts[seen, None]
    info = {"settings": {"members": members, "seed": seed, "epochs": epochs, "patience": patience,
                         "batch_size": batch_size, "learning_rate": learning_rate,
                         "class_weight": class_weight, "missing": missing, **options},
            "seeds": seeds, "best_epochs": best_epochs, "training_samples": n,
            "data": data.problem_name or (os.path.basename(data.path) if data.path else None),
            "out_of_fold": {"samples": int(seen.sum()),  # scored by the members that held it out
                            **classification_report(y[seen], oof[seen].argmax(1), scaler.labels)},
            "seconds": time.perf_counter() - started}
    return SeriesClassifier(models, scaler, info)


def cross_validate(data, folds=5, seed=0, print_fn=None, **options):
    """k-fold cross-validation on labelled data: for each of `folds`
    stratified folds, a classifier trained by `train_classifier(**options)`
    on the others scores it. Returns {"folds", "per_fold": [report, ...],
    and the pooled report (every sample scored once, by the classifier that
    did not see it)}."""
    _check_int(folds, "folds", 2, MAX_MEMBERS)
    labels = class_labels_of(data, "the data")
    y = np.array([labels.index(label) for label in data.labels])
    if folds > len(y):
        raise InputError(f"folds {folds}: the data hold only {len(y)} samples")
    assignment = stratified_folds(y, folds, [seed, 7919])  # apart from the members' folds
    predicted, per_fold = np.zeros(len(y), dtype=np.int64), []
    for f in range(folds):
        held, rest = np.flatnonzero(assignment == f), np.flatnonzero(assignment != f)
        classifier = train_classifier(_subset(data, rest), seed=seed, **options)
        p = classifier.predict_proba(_subset(data, held))
        predicted[held] = [labels.index(classifier.labels[i]) for i in p.argmax(1)]
        per_fold.append(classification_report(y[held], predicted[held], labels))
        if print_fn:
            print_fn(f"fold {f + 1}/{folds}: accuracy {per_fold[-1]['accuracy']:.4f} "
                     f"({len(held)} samples)")
    return {"folds": folds, "per_fold": per_fold,
            **classification_report(y, predicted, labels)}


def _subset(data, index):
    """The samples `index` of a TimeSeriesData, with their lines."""
    return TimeSeriesData([data.series[i] for i in index], [data.labels[i] for i in index],
                          class_labels=data.class_labels, problem_name=data.problem_name,
                          path=data.path,
                          lines=None if data.lines is None else [data.lines[i] for i in index])


def _check_int(value, argument, low, high=None):
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputTypeError(f"{argument} must be an int, got {type(value).__name__} {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise InputError(f"{argument} must be {bounds}, got {value}")


# ----- the task and its commands ------------------------------------------------------

class SeriesClassification(Task):
    """Labelled time series -> an ensemble of sequence classifiers; its
    models carry a SeriesScaler."""

    name = "series_classification"
    preprocessing = SeriesScaler
    defaults = {**MODEL_DEFAULTS, "members": 5, "epochs": 300, "patience": 30, "batch_size": 16,
                "learning_rate": 1e-3}

    def build_model(self, preprocessing, device="auto", **options):
        settings = {k: self.defaults[k] for k in MODEL_DEFAULTS}
        model = build_classifier(preprocessing.features, len(preprocessing.labels),
                                 **{**settings, **options}, device=device)
        model.preprocessing = preprocessing
        return model

    def evaluate(self, model, x, y, batch_size=32):
        """classification_report of one model on prepared sequences x and class ids y."""
        p = predict_proba_model(model, x, batch_size)
        labels = (model.preprocessing.labels if model.preprocessing is not None
                  else [str(c) for c in range(p.shape[1])])
        return classification_report(np.asarray(y), p.argmax(1), labels)

    def add_commands(self, commands):
        series = commands.add_parser(
            "series", help="classify time series (UCR/UEA .ts, UCR .tsv/.csv, .arff): train, "
            "eval, predict",
            description="Train an ensemble of LSTM sequence classifiers on labelled time series "
            "(multivariate, of any lengths), evaluate it, and predict with it.")
        sub = series.add_subparsers(dest="series_command", metavar="COMMAND", required=True)
        train = add_command(
            sub, "train", help="train a classifier on TRAIN (and score it on --test)",
            description="Fit the per-feature scaling on TRAIN, train the ensemble (each member "
            "stopped early on the fold of TRAIN it holds out), report the out-of-fold accuracy "
            "and, with --test, the test figures; write the model folder to --out.",
            examples=["lstmkit series train ItalyPowerDemand_TRAIN.ts --test "
                      "ItalyPowerDemand_TEST.ts --out runs/italy",
                      "lstmkit series train train.ts --members 1 --epochs 50 --quiet"])
        train.add_argument("train", metavar="TRAIN", help="the training file (.ts, .arff, .tsv, "
                           ".csv, .txt)")
        train.add_argument("--test", metavar="TEST", help="a labelled file scored once after "
                           "training")
        train.add_argument("--folds", type=int, metavar="K",
                           help="first estimate the figures by K-fold cross-validation on TRAIN "
                                "(K trainings of the whole ensemble)")
        add_training_options(train, self.defaults, out="runs/series")
        d = self.defaults
        train.add_argument("--members", type=int, default=d["members"],
                           help=f"models in the ensemble (default {d['members']})")
        train.add_argument("--patience", type=int, default=d["patience"],
                           help=f"epochs without improvement before a member stops "
                                f"(default {d['patience']})")
        train.add_argument("--learning-rate", type=float, default=d["learning_rate"],
                           help=f"Adam's learning rate (default {d['learning_rate']})")
        train.add_argument("--units", type=int, default=d["units"],
                           help=f"LSTM units (default {d['units']})")
        train.add_argument("--bidirectional", action=argparse.BooleanOptionalAction,
                           default=d["bidirectional"],
                           help=f"a bidirectional LSTM (default {d['bidirectional']})")
        train.add_argument("--pooling", choices=POOLINGS, default=d["pooling"],
                           help=f"how steps become one vector (default {d['pooling']})")
        train.add_argument("--conv-filters", type=int, default=d["conv_filters"],
                           help=f"filters of the Conv1D front, 0 for none (default "
                                f"{d['conv_filters']})")
        train.add_argument("--dropout", type=float, default=d["dropout"],
                           help=f"dropout before the output (default {d['dropout']})")
        train.add_argument("--class-weight", choices=("none", "balanced"), default="none",
                           help="weigh classes by their inverse frequency (default none)")
        train.add_argument("--missing", choices=MISSING, default="interpolate",
                           help="NaN inside a series: fill linearly, or refuse (default "
                                "interpolate)")
        train.set_defaults(run=run_train_command)

        evaluate = add_command(
            sub, "eval", help="score a saved classifier on a labelled file",
            description="Accuracy, balanced accuracy, macro F1 and the confusion matrix of a "
            "saved classifier on FILE.",
            examples=["lstmkit series eval runs/italy ItalyPowerDemand_TEST.ts",
                      "lstmkit series eval runs/italy test.ts --out report.json"])
        evaluate.add_argument("model", metavar="MODEL", help="a folder written by series train")
        evaluate.add_argument("file", metavar="FILE", help="a labelled file")
        evaluate.add_argument("--out", help="also write the report as JSON here")
        _add_run_options(evaluate)
        evaluate.set_defaults(run=run_eval_command)

        predict = add_command(
            sub, "predict", help="label the samples of a file, with probabilities",
            description="The predicted label of each sample of FILE and the probability of "
            "each class, as CSV (sample, line, label, p_<class>...), to --out or the terminal.",
            examples=["lstmkit series predict runs/italy new.ts --out predictions.csv"])
        predict.add_argument("model", metavar="MODEL", help="a folder written by series train")
        predict.add_argument("file", metavar="FILE", help="a file of samples (labels optional)")
        predict.add_argument("--out", help="write the CSV here instead of the terminal")
        _add_run_options(predict)
        predict.set_defaults(run=run_predict_command)


def _add_run_options(parser):
    parser.add_argument("--batch-size", type=int, default=256, help="samples per batch (256)")
    parser.add_argument("--device", default="cpu", help="'cpu' (default), 'cuda' or 'auto'")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")


def run_train_command(args):
    if args.resume or args.checkpoint_every:
        raise InputError("series train does not checkpoint or resume yet: each member trains in "
                         "seconds to minutes; rerun without --resume / --checkpoint-every")
    # under torchrun every process trains each member on its shard of the batches (DDP);
    # the main one reports and writes the ensemble
    main = is_main_process()
    say = print if main else (lambda *args, **kwargs: None)
    train = read_series_file(args.train)
    test = read_series_file(args.test) if args.test else None
    out = os.path.abspath(args.out)
    if not os.path.isdir(os.path.dirname(out)):
        raise InputError(f"--out {args.out}: the folder {os.path.dirname(out)} does not exist")
    scaler = SeriesScaler.fit(train, args.missing)
    if test is not None:  # refuse a test file the model cannot read before training
        scaler.transform(test, "the test data")
        scaler.encode_labels(test, "the test data")
    say(f"{train.path}: {len(train)} samples, {train.n_features} feature(s), lengths "
          f"{train.lengths.min()}-{train.lengths.max()}, classes {', '.join(scaler.labels)}")
    options = dict(
        members=args.members, epochs=args.epochs, patience=args.patience,
        batch_size=args.batch_size, learning_rate=args.learning_rate,
        class_weight=None if args.class_weight == "none" else args.class_weight,
        missing=args.missing, device=args.device, units=args.units,
        bidirectional=args.bidirectional, pooling=args.pooling, conv_filters=args.conv_filters,
        dropout=args.dropout)
    validation = None
    if args.folds is not None:
        validation = cross_validate(train, folds=args.folds, seed=args.seed, print_fn=say,
                                    verbose=0, **options)
        say(f"{args.folds}-fold cross-validation on {train.path}:")
        for line in format_report(validation):
            say("  " + line)
    classifier = train_classifier(train, seed=args.seed,
                                  verbose=0 if args.quiet or not main else 2, print_fn=say,
                                  **options)
    if validation is not None:
        classifier.info["cross_validation"] = validation
    oof = classifier.info["out_of_fold"]
    say(f"out-of-fold accuracy {oof['accuracy']:.4f} ({oof['samples']} training samples, each "
          f"predicted by the member that held it out)")
    if test is not None:
        report = classifier.evaluate(test)
        classifier.info["test"] = {"file": test.path, **report}
        say(f"test ({test.path}):")
        for line in format_report(report):
            say("  " + line)
    if main:
        classifier.save(out)
    say(f"model saved to {out} ({classifier.info['seconds']:.0f} s of training)")


def run_eval_command(args):
    classifier = SeriesClassifier.load(args.model, device=args.device)
    data = read_series_file(args.file)
    report = {"file": data.path, **classifier.evaluate(data, args.batch_size)}
    for line in format_report(report):
        print(line)
    if args.out:
        _write_text(args.out, json.dumps(report, indent=2) + "\n")


def run_predict_command(args):
    classifier = SeriesClassifier.load(args.model, device=args.device)
    data = read_series_file(args.file)
    p = classifier.predict_proba(data, args.batch_size)
    rows = ["sample,line,label,"
            + ",".join(_csv_field(f"p_{label}") for label in classifier.labels)]
    for i, row in enumerate(p):
        line = data.lines[i] if data.lines is not None else ""
        rows.append(f"{i + 1},{line},{_csv_field(classifier.labels[row.argmax()])}," +
                    ",".join(f"{v:.6f}" for v in row))
    text = "\n".join(rows) + "\n"
    if args.out:
        _write_text(args.out, text)
        print(f"{len(p)} predictions written to {args.out}")
    else:
        print(text, end="")


def _csv_field(text):
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if any(c in text for c in ',"\n\r') else text


def _write_text(path, text):
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(f"--out {path}: the folder {folder} does not exist")
    atomic_write(path, text.encode())


TASK = SeriesClassification()
