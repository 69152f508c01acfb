"""The series classifier: its network, the ensemble that averages its
members, and the training of the members on folds of the training data.

- `build_classifier`: LSTM-FCN's layout (the default): an LSTM or
  Bidirectional(LSTM) reading the input's dimension shuffle (one step per
  feature, each the whole series), pooled (last state, mean, max or
  attention), beside a block of convolutions and their global average
  pooling over the real steps, -> Dense(softmax); or the convolutions
  before the LSTM (layout='serial').
- `train_classifier`: an ensemble of members, each trained with its own
  seed on all folds but one of a stratified split of the training data,
  stopped early on the fold it holds out (restoring its best epoch); the
  ensemble averages their probabilities. Batches come from
  `SequenceBatches`: bucketed by (noisy) length, padded after the real steps, the
  mask passed to the model, so each sample's result is the one it gets run
  alone; the training ones are jittered and scaled anew each epoch
  (lstmkit.data.seriesaugment).
- `SeriesClassifier`: the ensemble; predict_proba, predict, evaluate, save,
  load. A saved classifier is a folder: `ensemble.json` (the manifest) and
  one sub-folder per member, each an ordinary lstmkit model that
  `lstmkit.load_model` reads alone.
"""

import json
import os
import time

import numpy as np
import torch

from .. import __version__
from ..callbacks import EarlyStopping
from ..data.batching import check_length_noise
from ..data.seriesaugment import AugmentedSequenceBatches, check_augmentation
from ..data.seriesdata import TimeSeriesData
from ..data.seriesscaler import SeriesScaler, check_choice, class_labels_of
from ..data.sources import SequenceBatches
from ..errors import InputError, InputTypeError, ModelFileError
from ..files import atomic_write, read_manifest, staged_folder
from ..layers import (LSTM, AttentionPooling1D, Bidirectional, Dense, DimensionShuffle, Dropout,
                      GlobalAveragePooling1D, GlobalMaxPooling1D)
from ..model import Sequential, load_model
from ..optimizers import fastest
from ..precision import policy_name
from ..reports import classification_report, log_loss
from ..train import resolve_device, set_seed
from .series_store import MemberStore, data_digest, save_member

TASK_NAME = "series_classification"  # in each member's metadata
POOLINGS = ("last", "mean", "max", "attention")
MANIFEST = "ensemble.json"
FORMAT = "lstmkit.series_ensemble"
FORMAT_VERSION = 1
MAX_MEMBERS = 64
FOLDS = 5  # each member holds out a fifth of the training data to stop on
# the training batches' augmentation (lstmkit.data.seriesaugment); chosen by nested
# cross-validation on ItalyPowerDemand's training file (benchmarks/series_selection.py)
JITTER, SCALE = 0.05, 0.1
# the training batches are bucketed by lengths scaled by a factor in [0.5, 1.5], drawn anew
# each epoch (batch_indices' length_noise): sorted exactly, a small data set is batched the
# same way every epoch, each batch a few classes where length goes with the class (measured
# on PickupGestureWiimoteZ, benchmarks/series_archive.py; the README)
LENGTH_NOISE = 0.5
# how a member trains: stopped early on the fold it holds out, or, as Ismail Fawaz et al.
# (2019) trained FCN and ResNet across the archive, on every sample with the learning rate
# halved on plateaus of the training loss (down to PLATEAU_MIN_LR), the last epoch kept
SCHEDULES = ("early_stopping", "plateau")
PLATEAU_FACTOR, PLATEAU_MIN_LR = 0.5, 1e-4


# ----- the model -----------------------------------------------------------------

# Chosen without ItalyPowerDemand's test file: on its training file (nested cross-validation,
# benchmarks/series_selection.py), on noisy sine mixtures, multivariate and of unequal
# lengths, and on the other archive problems that aeon ships (benchmarks/series_archive.py),
# where the parallel layout did best, and better with the dimension shuffle and LSTM-FCN's
# own LSTM sizes (LSTM_SIZES); the figures are in the README.
MODEL_DEFAULTS = {"units": None, "bidirectional": False, "pooling": "last", "conv_filters": 64,
                  "dropout": None, "batch_norm": True, "layout": "parallel",
                  "dimension_shuffle": True, "lstm_steps": None}
LAYOUTS = ("serial", "parallel")
# the LSTM's units and dropout where not given: LSTM-FCN's 8 and 0.8 where it reads the
# dimension shuffle (each step a whole series: a wide input on few samples), else 64 and 0.2
LSTM_SIZES = {True: (8, 0.8), False: (64, 0.2)}
# The moving averages of the convolutions' batch normalisation: Keras' 0.99 needs some
# hundreds of steps to forget its start, and a member on a small training file takes a few
# steps an epoch (ItalyPowerDemand: 3) and is stopped early on a fold scored with them
NORM_MOMENTUM = 0.9


def build_classifier(features, classes, units=None, bidirectional=False, pooling="last",
                     conv_filters=64, dropout=None, batch_norm=True, layout="parallel",
                     dimension_shuffle=True, lstm_steps=None, length=None, device="auto"):
    """The sequence classifier, compiled (sparse cross-entropy, Adam, accuracy)
    and built for `features` per step and any length.

    Args:
        units: the LSTM's units (per direction); None (default): 8 where it
            reads the dimension shuffle (LSTM-FCN's), else 64.
        bidirectional: run the LSTM both ways (concatenated).
        pooling: how the LSTM's per-step outputs become one vector: 'last'
            (the state at each sample's last real step; with bidirectional,
            the backward direction's at its first), 'mean', 'max' or
            'attention' (AttentionPooling1D) over the real steps.
        conv_filters: the convolutional block of FCN and LSTM-FCN (Wang et
            al. 2017; Karim et al. 2017), three Conv1D layers with ReLU;
            0 for none. Default 64.
        layout: 'parallel' (default): LSTM-FCN's, the block (conv_filters,
            2 * conv_filters, conv_filters filters, kernels 8, 5, 3, He's
            uniform initialisation as theirs) and its global average
            pooling beside the LSTM, both reading the input (lstmkit.layers.
            Parallel), their vectors concatenated; the LSTM reads the steps
            as they are, or their dimension shuffle.
            'serial': the block (conv_filters filters each, kernels 7, 5, 3)
            runs before the LSTM, which reads its output.
        dimension_shuffle: with the parallel layout, the LSTM reads
            LSTM-FCN's dimension shuffle of the input (DimensionShuffle):
            one step per feature, each the series padded or cut to `length`
            steps, so that it sees where in time each value lies; pooling
            is then over the features. Default True.
        lstm_steps: with the serial layout, the most steps the LSTM reads:
            the front's output max-pooled in windows of ceil(length /
            lstm_steps) steps side by side (MaxPooling1D(keep_mask=True):
            each sample's last window cut short, the mask carried on), so
            that long series reach the LSTM short; None (default): every
            step.
        length: the steps the dimension shuffle keeps, and lstm_steps
            divides (train_classifier: the longest training series).
        batch_norm: BatchNormalization between each convolution and its
            ReLU (FCN's), over the real steps. Default True.
        dropout: on the LSTM's vector before the output layer (with the
            parallel layout, on the LSTM's branch, as LSTM-FCN's); None
            (default): 0.8 where the LSTM reads the dimension shuffle
            (LSTM-FCN's), else 0.2.
    """
    from ..layers import Activation, BatchNormalization, Conv1D, MaxPooling1D, Parallel

    check_choice(pooling, POOLINGS, "pooling")
    check_choice(layout, LAYOUTS, "layout")
    for name, value in (("batch_norm", batch_norm), ("dimension_shuffle", dimension_shuffle)):
        if not isinstance(value, bool):
            raise InputError(f"{name} must be True or False, got {value!r}")
    if lstm_steps is not None:
        if isinstance(lstm_steps, bool) or not isinstance(lstm_steps, int) or lstm_steps < 1:
            raise InputError(f"lstm_steps must be a whole number of steps, at least 1, or None, "
                             f"got {lstm_steps!r}")
        if layout != "serial":
            raise InputError("lstm_steps shortens what the LSTM reads after the convolutions: "
                             "it takes layout='serial' (--layout serial)")
        if length is None:
            raise InputError("lstm_steps needs the length it divides: give length= (the "
                             "longest training series)")
    shuffle = reads_shuffle(layout, conv_filters, dimension_shuffle)
    units, dropout = sized(units, dropout, shuffle)
    if shuffle and length is None:
        raise InputError("dimension_shuffle needs the length of the series it keeps: give "
                         "length= (the longest training series) or dimension_shuffle=False")

    def block(filters, kernels, **conv):
        layers = []
        for f, k in zip(filters, kernels):
            if batch_norm:  # the ReLU after the normalisation, as FCN's
                # no bias before the normalisation (its offset is the bias); synchronized:
                # --nproc N trains as one process does
                layers += [Conv1D(f, k, use_bias=False, **conv), BatchNormalization(
                    momentum=NORM_MOMENTUM, synchronized=True), Activation("relu")]
            else:
                layers.append(Conv1D(f, k, activation="relu", **conv))
        return layers

    lstm = LSTM(units, return_sequences=pooling != "last")
    recurrent = ([DimensionShuffle(length)] if shuffle else []) + [
        Bidirectional(lstm) if bidirectional else lstm]
    if pooling != "last":
        recurrent.append({"mean": GlobalAveragePooling1D, "max": GlobalMaxPooling1D,
                          "attention": AttentionPooling1D}[pooling]())
    if dropout:
        recurrent.append(Dropout(dropout))
    if layout == "parallel" and conv_filters:
        convolutional = block((conv_filters, 2 * conv_filters, conv_filters), (8, 5, 3),
                              kernel_initializer="he_uniform")
        layers = [Parallel([recurrent, convolutional + [GlobalAveragePooling1D()]])]
    else:
        window = -(-length // lstm_steps) if lstm_steps else 1
        pooled = [MaxPooling1D(window, keep_mask=True)] if window > 1 else []
        layers = (block([conv_filters] * 3, (7, 5, 3)) if conv_filters else []) + pooled + \
            recurrent
    layers.append(Dense(classes, activation="softmax"))
    model = Sequential(layers)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"],
                  device=device)
    model.build((None, features))
    return model


def reads_shuffle(layout, conv_filters, dimension_shuffle):
    """Whether build_classifier's LSTM reads the dimension shuffle."""
    return bool(dimension_shuffle) and layout == "parallel" and bool(conv_filters)


def sized(units, dropout, shuffle):
    """units and dropout, each LSTM_SIZES' where None."""
    default_units, default_dropout = LSTM_SIZES[shuffle]
    return (default_units if units is None else units,
            default_dropout if dropout is None else dropout)


def resolved(options):
    """build_classifier's options (MODEL_DEFAULTS' keys) with units and
    dropout as they will be built, for the record."""
    units, dropout = sized(options["units"], options["dropout"], reads_shuffle(
        options["layout"], options["conv_filters"], options["dimension_shuffle"]))
    return {**options, "units": units, "dropout": dropout}


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

    @property
    def shuffle_length(self):
        """The steps of a series the members' dimension shuffle reads (the
        longest training series'), or None where none has one."""
        lengths = [layer.length for model in self.members for layer in model.modules()
                   if isinstance(layer, DimensionShuffle)]
        return min(lengths) if lengths else None

    def predict_proba(self, data, batch_size=256):
        """(N, classes) probabilities for a TimeSeriesData or a list of
        arrays (steps, features), in the order of `labels`."""
        return self.prepared_proba(self.preprocessing.transform(data), batch_size)

    def prepared_proba(self, x, batch_size=256):
        """predict_proba on sequences the preprocessing has prepared."""
        return np.mean([predict_proba_model(m, x, batch_size) for m in self.members], axis=0)

    def predict(self, data, batch_size=256):
        """The predicted label of each sample (a list of str)."""
        return [self.labels[i] for i in self.predict_proba(data, batch_size).argmax(1)]

    def evaluate(self, data, batch_size=256):
        """classification_report on labelled data (a TimeSeriesData). The
        series are checked before the labels: a file of another problem is
        named for its features, not for labels it could not have."""
        x = self.preprocessing.transform(data, "the test data")
        y = self.preprocessing.encode_labels(data, "the test data")
        p = self.prepared_proba(x, batch_size)
        return {**classification_report(y, p.argmax(1), self.labels), "log_loss": log_loss(y, p)}

    def save(self, path):
        """Write the ensemble to folder `path`: a temporary sibling folder
        first, renamed into place when complete, so `path` holds the old
        classifier or the new one, never a part."""
        with staged_folder(path) as tmp:
            names = []
            for i, model in enumerate(self.members):
                names.append(f"member-{i}")
                seed = (self.info.get("seeds") or [None] * len(self.members))[i]
                save_member(model, os.path.join(tmp, names[-1]), self.preprocessing,
                            member_metadata(i, seed))
            manifest = {"format": FORMAT, "format_version": FORMAT_VERSION,
                        "lstmkit_version": __version__, "task": TASK_NAME, "members": names,
                        "labels": self.labels, "features": self.preprocessing.features,
                        "info": self.info}
            atomic_write(os.path.join(tmp, MANIFEST),
                         json.dumps(manifest, indent=2, allow_nan=False).encode())

    @classmethod
    def load(cls, path, device="cpu"):
        """A classifier saved by `save`, or a single lstmkit model of this
        task (a one-member ensemble)."""
        path = os.fspath(path)
        manifest_path = os.path.join(path, MANIFEST)
        if not os.path.isfile(manifest_path):
            model = load_model(path, device=device)
            if model.metadata.get("task") != TASK_NAME or not isinstance(
                    model.preprocessing, SeriesScaler):
                raise ModelFileError(f"{path}: not a series classifier (no {MANIFEST}, and the "
                                     f"model is not of the task {TASK_NAME!r})")
            return cls([model], model.preprocessing)
        manifest, folders = read_manifest(path, MANIFEST, FORMAT, FORMAT_VERSION,
                                          "a series ensemble", MAX_MEMBERS)
        names = [os.path.basename(f) for f in folders]
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


def train_classifier(data, members=5, seed=0, epochs=300, patience=30, batch_size=16,
                     learning_rate=1e-3, class_weight=None, missing="interpolate",
                     jitter=JITTER, scale=SCALE, length_noise=LENGTH_NOISE, device="auto",
                     verbose=0, print_fn=None,
                     precision="float32", refit=False, schedule="early_stopping",
                     checkpoint_dir=None, checkpoint_every=None, resume=False, **model_options):
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
        jitter, scale: the training batches' augmentation
            (lstmkit.data.seriesaugment), in standard deviations of the
            scaled input: noise added to each value, and each sample's
            per-feature factor around 1. Defaults 0.05 and 0.1; 0 and 0
            train on the data as it is.
        length_noise: the training batches hold samples of similar lengths,
            sorted on each length scaled by a factor drawn uniformly in
            [1 - length_noise, 1 + length_noise] each epoch, so that the
            batches mix neighbouring lengths anew (and, where length goes
            with the class, the classes). 0 to below 1; default 0.5; 0
            sorts exactly.
        precision: the members' forward pass in training, 'float32'
            (default), 'mixed_bfloat16' / 'bf16' or 'mixed_float16' / 'fp16'
            (lstmkit.precision).
        refit: once the members have been stopped early on their folds,
            take the epoch count at which their held-out losses together
            (each sample's once per split) are lowest, and train every
            member again, from its seed, on all the training samples for
            that many epochs (default False). One count chosen on all the
            samples, where a member's own is chosen on a fifth; the
            out-of-fold figures are the first pass's.
        schedule: 'early_stopping' (default), as above; or 'plateau', the
            training of FCN and ResNet in Ismail Fawaz et al.'s rerun of
            the archive (2019): every member trains on all the samples for
            `epochs` epochs in batches of min(batch_size, n // 10) (at
            least 1), the learning rate halved whenever the training loss
            has not fallen for `patience` epochs (down to 1e-4), and keeps
            its last epoch. Nothing is held out, so there are no
            out-of-fold figures (cross_validate estimates them).
        checkpoint_dir: a folder where each member is kept as it finishes
            (lstmkit.tasks.series_store), so that an interrupted run can be
            continued (`resume`); None (default): nothing is written.
        checkpoint_every: with checkpoint_dir, also checkpoint the member in
            training every that many steps and at each epoch end, so that
            it continues from there rather than from its start.
        resume: continue the run that checkpoint_dir holds (the same data
            and settings), keeping its finished members; the ensemble ends
            as the uninterrupted run's. Without it, a checkpoint_dir that
            holds a run is refused.
        **model_options: build_classifier's (units, bidirectional, pooling,
            conv_filters, dropout, batch_norm, layout, dimension_shuffle, whose
            length is the longest training series').

    Returns a SeriesClassifier; its `info` holds the settings, each member's
    seed and best epoch, and the out-of-fold accuracy (each training sample
    predicted by the member that held it out; optimistic, since that fold
    also chose the member's epoch). Ctrl-C raises KeyboardInterrupt after
    the current step (the members finished are kept in checkpoint_dir).
    """
    _check_int(members, "members", 1, MAX_MEMBERS)
    _check_int(epochs, "epochs", 1)
    _check_int(patience, "patience", 0)
    _check_int(batch_size, "batch_size", 1)
    _check_int(seed, "seed", 0)
    if checkpoint_every is not None:
        _check_int(checkpoint_every, "checkpoint_every", 1)
    if (checkpoint_every is not None or resume) and checkpoint_dir is None:
        raise InputError("checkpoint_every and resume need a checkpoint_dir")
    check_augmentation(jitter, scale)
    check_length_noise(length_noise)
    precision = policy_name(precision)
    check_choice(schedule, SCHEDULES, "schedule")
    plateau = schedule == "plateau"
    if plateau and refit:
        raise InputError("refit trains again the members stopped early on their folds; "
                         "schedule='plateau' trains every member on every sample already")
    if class_weight not in (None, "balanced"):
        raise InputError(f"class_weight must be None or 'balanced', got {class_weight!r}")
    options = {**MODEL_DEFAULTS, **model_options}
    unknown = sorted(set(options) - set(MODEL_DEFAULTS))
    if unknown:
        raise InputError(f"unknown model option(s) {unknown}; known: {', '.join(MODEL_DEFAULTS)}")
    options = resolved(options)
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
    fit = {"features": scaler.features, "classes": classes, "device": device, "loss": loss,
           "learning_rate": learning_rate, "patience": patience, "plateau": plateau,
           "batch_size": max(1, min(batch_size, n // 10)) if plateau else batch_size,
           "jitter": jitter, "scale": scale, "length_noise": length_noise, "verbose": verbose,
           "precision": precision, "options": options, "length": max(len(s) for s in x),
           "checkpoint_every": checkpoint_every}
    settings = {"members": members, "seed": seed, "epochs": epochs, "patience": patience,
                "batch_size": batch_size, "learning_rate": learning_rate,
                "class_weight": class_weight, "missing": missing, "jitter": jitter,
                "scale": scale, "precision": precision, "refit": refit, "schedule": schedule,
                # absent where 0, so that a run checkpointed before the option resumes with it
                **({"length_noise": length_noise} if length_noise else {}), **options}
    store = None if checkpoint_dir is None else MemberStore(
        checkpoint_dir, {"settings": settings, "data": data_digest(x, y),
                         "preprocessing": scaler.to_json()}, resume)
    models, seeds, best_epochs, curves = [], [], [], []
    oof, counts = np.zeros((n, classes)), np.zeros(n)
    kept = 0  # members a resumed run took from checkpoint_dir
    for i in range(members):
        split = i // k  # members beyond the k-th start a new split, shuffled anew
        if split not in splits:
            splits[split] = stratified_folds(y, k, seed if split == 0 else [seed, split])
        held = None if plateau else np.flatnonzero(splits[split] == i % k)
        train = np.arange(n) if plateau else np.flatnonzero(splits[split] != i % k)
        member_seed = 1000 * seed + i
        model, best, curve, loaded = kept_member(store, f"member-{i}", i, scaler, x, y, train,
                                                 held, member_seed, epochs, fit)
        kept += loaded
        models.append(model)
        seeds.append(member_seed)
        best_epochs.append(best)
        note = f", kept from {store.folder}" if loaded else ""
        if held is None:
            if print_fn:
                print_fn(f"member {i + 1}/{members}: {epochs} epochs on all {n} samples "
                         f"(batches of {fit['batch_size']}){note}")
            continue
        held_p = predict_proba_model(model, [x[j] for j in held])
        oof[held] += held_p
        counts[held] += 1
        curves.append((len(held), curve))
        if print_fn:
            accuracy = (held_p.argmax(1) == y[held]).mean()
            print_fn(f"member {i + 1}/{members}: best epoch {best}, held-out fold "
                     f"accuracy {accuracy:.4f} ({len(held)} samples){note}")
    refit_epochs = None
    if refit:  # each member again, from its seed, on every sample for the pooled epoch count
        refit_epochs = pooled_best_epoch(curves)
        if print_fn:
            print_fn(f"the members' held-out folds together are lowest in loss after "
                     f"{refit_epochs} epochs: each member trained again on all {n} samples "
                     f"for that many")
        models = []
        for i, s in enumerate(seeds):
            model, _, _, loaded = kept_member(store, f"refit-{i}", i, scaler, x, y, np.arange(n),
                                              None, s, refit_epochs, fit)
            models.append(model)
            kept += loaded
    seen = counts > 0
    oof[seen] /= counts[seen, None]
    info = {"settings": settings,
            "seeds": seeds, "best_epochs": best_epochs, "refit_epochs": refit_epochs,
            "training_samples": n,
            "data": data.problem_name or (os.path.basename(data.path) if data.path else None),
            "out_of_fold": None if not seen.any() else {  # by the members that held them out
                "samples": int(seen.sum()),
                **classification_report(y[seen], oof[seen].argmax(1), scaler.labels),
                "log_loss": log_loss(y[seen], oof[seen])},
            "seconds": time.perf_counter() - started}
    if kept:
        info["resumed"] = {"from": store.folder, "members_kept": kept}
    return SeriesClassifier(models, scaler, info)


def member_metadata(index, seed):
    return {"task": TASK_NAME, "member": index, "seed": seed}


def kept_member(store, name, index, scaler, x, y, train, held, seed, epochs, fit):
    """fit_member's (model, best epoch, held-out losses), and whether it
    was taken from `store` (a MemberStore, or None) rather than trained.
    A member trained is kept there as it finishes."""
    if store is not None and store.finished(name):
        model, record = store.load(name, fit["device"])
        return model, record["best_epoch"], record["held_out_loss"], True
    checkpoints = ((None, None) if store is None
                   else store.checkpoints(name, write=bool(fit["checkpoint_every"])))
    model, best, curve = fit_member(x, y, train, held, seed, epochs, fit, checkpoints)
    if store is not None:
        store.save(name, model, scaler, member_metadata(index, seed),
                   {"best_epoch": best, "held_out_loss": curve, "seed": seed})
    return model, best, curve, False


def fit_member(x, y, train, held, seed, epochs, fit, checkpoints=(None, None)):
    """One member, built and seeded by `seed`, trained on the samples `train`
    of the prepared sequences x (labels y). With `held` (an index), stopped
    early on those samples, its best epoch's weights restored; without,
    trained `epochs` epochs (with fit['plateau'], the learning rate halved
    on plateaus of the training loss). `checkpoints`: (the folder for the
    training loop's checkpoints, every fit['checkpoint_every'] steps, or
    None; the one to resume from, or None). Returns (model, best epoch (1-based) or
    None, the held-out loss of each epoch or None); Ctrl-C raises
    KeyboardInterrupt after the step."""
    set_seed(seed)
    model = build_classifier(fit["features"], fit["classes"], length=fit["length"],
                             device=fit["device"], **fit["options"])
    loss = fit["loss"]
    model.compile(loss=loss or "sparse_categorical_crossentropy",
                  optimizer=lambda p: fastest(torch.optim.Adam, p, lr=fit["learning_rate"]),
                  metrics=None if loss else ["accuracy"], device=fit["device"])
    stop = None if held is None else EarlyStopping("val_loss", patience=fit["patience"],
                                                   restore_best_weights=True)
    schedule = {} if not fit["plateau"] else {
        "scheduler_monitor": "loss", "scheduler": lambda optimizer: (
            torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, mode="min", factor=PLATEAU_FACTOR, patience=fit["patience"],
                min_lr=PLATEAU_MIN_LR))}
    history = model.fit(
        AugmentedSequenceBatches([x[j] for j in train], torch.as_tensor(y[train]),
                                 fit["batch_size"], shuffle=True, seed=seed,
                                 jitter=fit["jitter"], scale=fit["scale"],
                                 length_noise=fit["length_noise"]),
        validation_data=None if held is None else SequenceBatches(
            [x[j] for j in held], torch.as_tensor(y[held]), 256),
        epochs=epochs, verbose=fit["verbose"], seed=seed, callbacks=[stop] if stop else None,
        precision=fit["precision"], resume=checkpoints[1], checkpoint_dir=checkpoints[0],
        checkpoint_every=fit["checkpoint_every"], **schedule)
    if history.interrupted:
        raise KeyboardInterrupt
    if stop is None:
        return model, None, None
    return (model, None if stop.best_epoch is None else stop.best_epoch + 1,
            history.history.get("val_loss"))


def pooled_best_epoch(curves):
    """The epoch count (1-based) at which the members' held-out losses,
    weighted by their folds' sizes, are lowest together. A member stopped
    early (its fold's loss no lower for `patience` epochs) counts at its
    last loss in the epochs after. `curves`: (held-out samples, [loss per
    epoch]) per member."""
    longest = max(len(curve) for _, curve in curves)
    pooled = sum(size * np.pad(np.asarray(curve, dtype=np.float64), (0, longest - len(curve)),
                               mode="edge") for size, curve in curves)
    return int(np.argmin(pooled)) + 1


def cross_validate(data, folds=5, seed=0, print_fn=None, checkpoint_dir=None, **options):
    """k-fold cross-validation on labelled data: for each of `folds`
    stratified folds, a classifier trained by `train_classifier(**options)`
    on the others scores it (with checkpoint_dir, each kept in its
    sub-folder fold-<f>-of-<folds>). Returns {"folds", "per_fold": [report, ...],
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
        classifier = train_classifier(
            _subset(data, rest), seed=seed, **options, checkpoint_dir=None
            if checkpoint_dir is None else os.path.join(checkpoint_dir, f"fold-{f}-of-{folds}"))
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
