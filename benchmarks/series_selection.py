"""Choosing the series classifier's defaults on ItalyPowerDemand's TRAINING file only.

Nested cross-validation: the 67 training samples are split, stratified, into
5 outer folds (a new split per repeat); for each fold a whole ensemble is
trained by `train_classifier` on the other four (its members stop early on
folds of those, as always) and scores the held-out fold. Every training
sample is so scored once per repeat by an ensemble that never saw it; the
test file is never read. Accuracy moves by 1/67 per sample, so the log
loss of the held-out predictions is recorded beside it.

    .venv/bin/python benchmarks/series_selection.py baseline augment --repeats 2
    .venv/bin/python benchmarks/series_selection.py --list

Each candidate's figures are merged into
benchmarks/results/series_classification-selection.json (repeats are kept
by their number, so a later run with --first 2 adds repeats 2, 3, ...).
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

from common import ROOT, OtherLoad, commit, load_record, load_summary, machine

from lstmkit.data.seriesdata import TimeSeriesData
from lstmkit.data.tsfile import read_series_file
from lstmkit.reports import log_loss
from lstmkit.tasks import series_ensemble

TRAIN = os.path.join(os.path.dirname(ROOT), "shared", "datasets", "sequence_classification",
                     "ItalyPowerDemand", "ItalyPowerDemand_TRAIN.ts")
OUT = os.path.join(ROOT, "benchmarks", "results", "series_classification-selection.json")
NONE = {"jitter": 0.0, "scale": 0.0}  # the classifier before augmentation
AUGMENT = {"jitter": 0.05, "scale": 0.1}  # the default since 92aea25
# LSTM-FCN's layout as build_classifier makes it (layout='parallel'): 128-256-128 filters
LSTM_FCN = {"layout": "parallel", "conv_filters": 128, "batch_norm": True}

# the default since the dimension shuffle: LSTM-FCN's layout (64-128-64 filters), their
# dimension shuffle and LSTM
SHUFFLE8 = {**AUGMENT, "layout": "parallel", "batch_norm": True, "dimension_shuffle": True,
            "units": 8, "dropout": 0.8}

# name: (what changes from the baseline, train_classifier options). The LSTM-FCN candidates
# of the first runs ('lstmfcn', 'alstmfcn') were measured with this script's own copy of the
# layout (at the commits their runs name); the library's Parallel and BatchNormalization
# replace it, in the candidates named lstmfcn_bn*
CANDIDATES = {
    "baseline": ("the previous default: Conv1D front (64 filters, kernels 7-5-3) -> LSTM 64, "
                 "last state, 5 members, no augmentation", NONE),
    "jitter05_scale10": ("training batches jittered (sd 0.05) and scaled (sd 0.1)", AUGMENT),
    "jitter10": ("training batches jittered (sd 0.1)", {"jitter": 0.1, "scale": 0.0}),
    "jitter03": ("training batches jittered (sd 0.03)", {"jitter": 0.03, "scale": 0.0}),
    "scale10": ("training batches scaled (sd 0.1)", {"jitter": 0.0, "scale": 0.1}),
    "jitter10_scale20": ("training batches jittered (sd 0.1) and scaled (sd 0.2)",
                         {"jitter": 0.1, "scale": 0.2}),
    "members10_jitter05_scale10": ("10 members (two splits) with jitter 0.05 and scale 0.1",
                                   {"members": 10, **AUGMENT}),
    "refit": ("each member retrained on all the training data for its own best epoch count "
              "(refit as it was at the commit its run names; no augmentation)",
              {**NONE, "refit": True}),
    "bn_front_jitter05_scale10": ("the default (jitter 0.05, scale 0.1) with batch_norm: "
                                  "Conv1D -> BatchNormalization (momentum 0.9, over the real "
                                  "steps) -> ReLU in the front", {**AUGMENT, "batch_norm": True}),
    "bn_front": ("the front with batch_norm, no augmentation", {**NONE, "batch_norm": True}),
    "lstmfcn_bn_jitter05_scale10": (
        "LSTM-FCN's layout (layout='parallel'): LSTM 64 (last state, dropout 0.2) beside "
        "Conv1D 128-256-128 (kernels 8-5-3, He uniform) each -> BatchNormalization -> ReLU, "
        "global average pooling; jitter 0.05, scale 0.1", {**AUGMENT, **LSTM_FCN}),
    "parallel64": ("LSTM-FCN's layout with 64-128-64 filters (layout='parallel'); jitter 0.05, "
                   "scale 0.1", {**AUGMENT, "layout": "parallel", "batch_norm": True}),
    "lstmfcn_bn": ("LSTM-FCN's layout as lstmfcn_bn_jitter05_scale10, no augmentation",
                   {**NONE, **LSTM_FCN}),
    "shuffle8": ("parallel64 with LSTM-FCN's dimension shuffle, their LSTM of 8 units and dropout "
                 "0.8", {**AUGMENT, "layout": "parallel", "batch_norm": True,
                         "dimension_shuffle": True, "units": 8, "dropout": 0.8}),
    "shuffle8_refit": ("shuffle8, then every member trained again on all the training samples "
                       "for the epoch count at which the held-out folds' losses together are "
                       "lowest", {**AUGMENT, "layout": "parallel", "batch_norm": True,
                                  "dimension_shuffle": True, "units": 8, "dropout": 0.8,
                                  "refit": True}),
    "shuffle8_longer": ("shuffle8 trained longer: at most 600 epochs, patience 60",
                        {**AUGMENT, "layout": "parallel", "batch_norm": True,
                         "dimension_shuffle": True, "units": 8, "dropout": 0.8, "epochs": 600,
                         "patience": 60}),
    "shuffle64": ("parallel64 with LSTM-FCN's dimension shuffle (LSTM 64, dropout 0.2)",
                  {**AUGMENT, "layout": "parallel", "batch_norm": True,
                   "dimension_shuffle": True}),
    "serial_steps16": ("the serial front with batch norm (LSTM 64, dropout 0.2), its output "
                       "max-pooled so that the LSTM reads at most 16 steps (lstm_steps=16: "
                       "windows of 2 here); jitter 0.05, scale 0.1",
                       {**AUGMENT, "layout": "serial", "batch_norm": True, "lstm_steps": 16}),
    "shuffle8_noisy_lengths": ("shuffle8, its training batches sorted on lengths scaled by "
                               "a factor drawn in [0.5, 1.5] each epoch (length_noise=0.5)",
                               {**SHUFFLE8, "length_noise": 0.5}),
    "fawaz1000_noisy_lengths": (
        "shuffle8's network, one (members=1) on every sample for 1000 epochs, batches of at most "
        "n/10, the learning rate halved after 50 epochs without a lower training loss, no "
        "augmentation, length_noise=0.5",
        {**SHUFFLE8, **NONE, "members": 1, "schedule": "plateau", "epochs": 1000, "patience": 50,
         "length_noise": 0.5}),
}
# each candidate named its change from the defaults of its time, the serial front without
# batch normalisation, an LSTM of 64 units and dropout 0.2 reading the steps, batches sorted
# on their exact lengths; they say so, so that a later change of the defaults leaves them as
# measured
CANDIDATES = {name: (change, {"layout": "serial", "batch_norm": False, "dimension_shuffle": False,
                              "units": 64, "dropout": 0.2, "length_noise": 0.0, **options})
              for name, (change, options) in CANDIDATES.items()}


# ----- a multivariate, unequal-length check -------------------------------------------

SINES_NOISE = 0.6  # the sd of the noise on the sine mixtures, unless --noise says otherwise


def sine_mixtures(n, classes=4, dimensions=3, seed=0, lengths=(20, 60), noise=SINES_NOISE,
                  tied=False):
    """tests/test_series.py's problem, noisier: `dimensions` sine mixtures of
    random length, a pair of frequencies per class and dimension, random phases.
    With `tied`, the lengths go with the class, as a gesture's or a word's
    do: class c's are drawn from lengths shifted by 30 c steps."""
    rng = np.random.default_rng(seed)
    frequencies = np.random.default_rng(1234).uniform(0.05, 0.45, size=(classes, dimensions, 2))
    series, labels = [], []
    for i in range(n):
        c = i % classes
        shift = 30 * c if tied else 0
        t = np.arange(int(rng.integers(lengths[0] + shift, lengths[1] + shift)))[:, None]  # (T, 1)
        phase = rng.uniform(0, 2 * np.pi, size=(2, dimensions))
        x = (np.sin(2 * np.pi * frequencies[c, :, 0] * t + phase[0])
             + 0.5 * np.sin(2 * np.pi * frequencies[c, :, 1] * t + phase[1])
             + rng.normal(0, noise, size=(len(t), dimensions)))  # (T, D)
        series.append(x.astype(np.float32))
        labels.append(f"c{c}")
    return TimeSeriesData(series, labels)


def sines_check(names, seeds, noise=SINES_NOISE, tied=False):
    """Each candidate trained on 48 sine mixtures, scored on 400 fresh ones, per seed."""
    train = sine_mixtures(48, seed=0, noise=noise, tied=tied)
    test = sine_mixtures(400, seed=1, noise=noise, tied=tied)
    results = {}
    for name in names:
        change, options = CANDIDATES[name]
        runs = []
        for seed in seeds:
            classifier = series_ensemble.train_classifier(train, seed=seed, device="cpu",
                                                          **options)
            p = classifier.predict_proba(test)
            y = classifier.preprocessing.encode_labels(test)
            runs.append({"seed": seed, "accuracy": float((p.argmax(1) == y).mean()),
                         "log_loss": log_loss(y, p)})
            print(f"  {name} seed {seed}: {runs[-1]}", flush=True)
        results[name] = {"change": change, "runs": runs,
                         "accuracy": float(np.mean([r["accuracy"] for r in runs])),
                         "log_loss": float(np.mean([r["log_loss"] for r in runs]))}
    return results


# ----- nested cross-validation -------------------------------------------------------

def subset(data, index):
    return TimeSeriesData([data.series[i] for i in index], [data.labels[i] for i in index],
                          class_labels=data.class_labels, problem_name=data.problem_name)


def nested_cv(data, options, repeats):
    """{repeat: {accuracy, log_loss, errors}} over the outer 5-fold splits `repeats`."""
    labels = sorted(set(data.labels))
    y = np.array([labels.index(label) for label in data.labels])
    out = {}
    for r in repeats:
        folds = series_ensemble.stratified_folds(y, 5, [r, 7919])
        p = np.zeros((len(y), len(labels)))
        for f in range(5):
            held, rest = np.flatnonzero(folds == f), np.flatnonzero(folds != f)
            classifier = series_ensemble.train_classifier(subset(data, rest), seed=r,
                                                          device="cpu", **options)
            p[held] = classifier.predict_proba(subset(data, held))
        out[str(r)] = {"accuracy": float((p.argmax(1) == y).mean()),
                       "log_loss": log_loss(y, p), "errors": int((p.argmax(1) != y).sum())}
        print(f"  repeat {r}: {out[str(r)]}", flush=True)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("candidates", nargs="*", help=f"of {', '.join(CANDIDATES)}")
    parser.add_argument("--repeats", type=int, default=2, help="outer splits (default 2)")
    parser.add_argument("--first", type=int, default=0, help="the first split's number")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--list", action="store_true", help="name the candidates and stop")
    parser.add_argument("--sines", action="store_true",
                        help="instead: train on 48 multivariate, unequal-length sine mixtures "
                             "and score 400 fresh ones (seeds 0 to repeats - 1)")
    parser.add_argument("--noise", type=float, default=SINES_NOISE,
                        help=f"with --sines, the sd of the noise on the mixtures (default "
                             f"{SINES_NOISE})")
    parser.add_argument("--tied-lengths", action="store_true",
                        help="with --sines, lengths that go with the class (20-49 steps for the "
                             "first, 30 more for each next)")
    parser.add_argument("--out", default=OUT)
    args = parser.parse_args(argv)
    if args.list or not args.candidates:
        for name, (change, _) in CANDIDATES.items():
            print(f"{name}: {change}")
        return
    unknown = [c for c in args.candidates if c not in CANDIDATES]
    if unknown:
        raise SystemExit(f"unknown candidate(s) {unknown}; see --list")
    torch.set_num_threads(args.threads)
    if args.sines:
        start = load_record()
        with OtherLoad() as other:
            started = time.perf_counter()
            results = sines_check(args.candidates, range(args.repeats), args.noise,
                                  args.tied_lengths)
        tied, noisier = args.tied_lengths, args.noise != SINES_NOISE
        variant = ((" --tied-lengths" if tied else "")
                   + (f" --noise {args.noise}" if noisier else ""))
        run = {"command": " ".join([os.path.relpath(sys.executable, ROOT),
                                    os.path.relpath(__file__, ROOT), *args.candidates,
                                    f"--sines --repeats {args.repeats}{variant}"]),
               "commit": commit(), "seconds": time.perf_counter() - started,
               "load": load_summary(start, load_record(), other.share)}
        with open(args.out) as f:
            report = json.load(f)
        key = ("multivariate_unequal_length_check" + ("_tied_lengths" if tied else "")
               + (f"_noise{args.noise}" if noisier else ""))
        check = report.setdefault(key, {"candidates": {}})
        lengths = ("lengths that go with the class, 20-49 steps plus 30 per class" if tied
                   else "20-59 steps")
        check["what"] = (f"trained on 48 noisy sine mixtures (4 classes, 3 dimensions, {lengths}, "
                         f"noise sd {args.noise}; benchmarks/series_selection.py sine_mixtures), "
                         "scored on 400 fresh ones; a check that the choice is not one file's; "
                         "each candidate's run beside its figures")
        if "command" in check:  # the first run's, kept at the top once: moved to its candidates
            first = {k: check.pop(k) for k in ("command", "commit", "seconds", "load")}
            for entry in check["candidates"].values():
                entry.setdefault("run", first)
        for name, entry in results.items():
            check["candidates"][name] = {**entry, "run": run}
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
        return
    data = read_series_file(TRAIN)
    for name in args.candidates:
        change, options = CANDIDATES[name]
        print(f"{name}: {change}", flush=True)
        start = load_record()
        with OtherLoad() as other:
            started = time.perf_counter()
            repeats = nested_cv(data, options, range(args.first, args.first + args.repeats))
            seconds = time.perf_counter() - started
        record(args.out, name, change, options, repeats, {
            "command": " ".join([os.path.relpath(sys.executable, ROOT),
                                 os.path.relpath(__file__, ROOT), name,
                                 f"--repeats {args.repeats} --first {args.first}"]),
            "commit": commit(), "seconds": seconds, "threads": args.threads,
            "load": load_summary(start, load_record(), other.share)})


def record(out, name, change, options, repeats, run):
    """Merge one candidate's repeats into the selection JSON and re-sum it."""
    report = {"benchmark": "series_classification-selection"}
    if os.path.exists(out):
        with open(out) as f:
            report = json.load(f)
    report["what"] = (
        "the series classifier's defaults chosen on ItalyPowerDemand's training file only "
        "(67 samples), by nested cross-validation: per repeat a new stratified 5-fold split, "
        "an ensemble trained by train_classifier on four folds scores the fifth; the test file "
        "is never read. One error moves accuracy by 1/67 = 0.015, so differences of one or "
        "two errors over 2 repeats (134 predictions) are within noise; the log loss is "
        "recorded beside it. Times are from a 2-core machine shared with other jobs.")
    report["machine"] = machine()
    candidates = report.setdefault("candidates", {})
    entry = candidates.setdefault(name, {"repeats": {}, "runs": []})
    entry.update({"change": change, "options": options})
    entry["repeats"].update(repeats)
    entry["runs"].append(run)
    values = list(entry["repeats"].values())
    entry.update({"accuracy": float(np.mean([v["accuracy"] for v in values])),
                  "log_loss": float(np.mean([v["log_loss"] for v in values])),
                  "errors": int(sum(v["errors"] for v in values)),
                  "predictions": 67 * len(values)})
    with open(out, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
