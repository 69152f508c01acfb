"""Series classification: labelled time series (UCR/UEA `.ts`, UCR CSV/TSV,
`.arff`) to a trained classifier, its figures and its predictions.

Each sample is a sequence of feature vectors (steps, features), lengths may
differ, one label per sample. The pieces, in the order data flows:

- `SeriesScaler` (lstmkit.data.seriesscaler, the preprocessing saved with
  every model): per-feature mean and standard deviation fitted on the
  training data, the class labels, the features expected, and the
  missing-value policy.
- `build_classifier`, `train_classifier` and the ensemble
  `SeriesClassifier` (lstmkit.tasks.series_ensemble): members trained on
  folds of the training data, each stopped early on the fold it holds out.
- the figures (accuracy, balanced accuracy, macro F1, the confusion
  matrix) come from lstmkit.reports, shared with text classification.

This module holds the task and its `lstmkit series` commands.
"""

import argparse
import json
import os
import sys

import numpy as np

from ..data.seriesscaler import MISSING, SeriesScaler
from ..data.tsfile import read_series_file
from ..distributed import is_main_process
from ..errors import InputError
from ..files import check_folder_for, csv_field, write_output
from ..reports import classification_report, format_report
from .base import Task, add_command, add_precision_option, add_training_options
from .series_ensemble import (JITTER, LAYOUTS, LENGTH_NOISE, MODEL_DEFAULTS, POOLINGS, SCALE,
                              SCHEDULES, TASK_NAME, SeriesClassifier, build_classifier,
                              cross_validate, predict_proba_model, train_classifier)
from .series_store import RUN, holds_run


# ----- the task and its commands

class SeriesClassification(Task):
    """Labelled time series -> an ensemble of sequence classifiers; its
    models carry a SeriesScaler."""

    name = TASK_NAME
    preprocessing = SeriesScaler
    defaults = {**MODEL_DEFAULTS, "members": 5, "epochs": 300, "patience": 30, "batch_size": 16,
                "learning_rate": 1e-3, "jitter": JITTER, "scale": SCALE,
                "length_noise": LENGTH_NOISE}

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
        add_precision_option(train)
        add_training_options(train, self.defaults, out="runs/series", resume_help=(
            "continue an interrupted run from the members it kept in OUT/checkpoints (give "
            "that folder or OUT): the same command, with --resume"), checkpoint_help=(
            "also checkpoint the member in training every STEPS steps and at each epoch end "
            "(finished members are always kept)"))
        d = self.defaults
        train.add_argument("--members", type=int, default=d["members"],
                           help=f"models in the ensemble (default {d['members']})")
        train.add_argument("--patience", type=int, default=d["patience"],
                           help=f"epochs without improvement before a member stops "
                                f"(default {d['patience']})")
        train.add_argument("--learning-rate", type=float, default=d["learning_rate"],
                           help=f"Adam's learning rate (default {d['learning_rate']})")
        train.add_argument("--units", type=int, default=d["units"],
                           help="LSTM units (default 8 where the LSTM reads the dimension "
                                "shuffle, LSTM-FCN's, else 64)")
        train.add_argument("--bidirectional", action=argparse.BooleanOptionalAction,
                           default=d["bidirectional"],
                           help=f"a bidirectional LSTM (default {d['bidirectional']})")
        train.add_argument("--pooling", choices=POOLINGS, default=d["pooling"],
                           help=f"how steps become one vector (default {d['pooling']})")
        train.add_argument("--conv-filters", type=int, default=d["conv_filters"],
                           help=f"filters of the Conv1D front, 0 for none (default "
                                f"{d['conv_filters']})")
        train.add_argument("--layout", choices=LAYOUTS, default=d["layout"],
                           help=f"the convolutions before the LSTM (serial) or beside it, "
                                f"LSTM-FCN's (parallel) (default {d['layout']})")
        train.add_argument("--lstm-steps", type=int, default=d["lstm_steps"],
                           help="with --layout serial, the most steps the LSTM reads: the "
                                "convolutions' output max-pooled in windows of ceil(longest "
                                "training series / N) steps (default: every step)")
        train.add_argument("--dimension-shuffle", action=argparse.BooleanOptionalAction,
                           default=d["dimension_shuffle"],
                           help=f"with --layout parallel, the LSTM reads one step per "
                                f"feature, the whole series (LSTM-FCN's dimension shuffle) "
                                f"(default {d['dimension_shuffle']})")
        train.add_argument("--batch-norm", action=argparse.BooleanOptionalAction,
                           default=d["batch_norm"],
                           help=f"batch normalisation after each convolution (default "
                                f"{d['batch_norm']})")
        train.add_argument("--dropout", type=float, default=d["dropout"],
                           help="dropout on the LSTM's vector (default 0.8 where it reads the "
                                "dimension shuffle, LSTM-FCN's, else 0.2)")
        train.add_argument("--jitter", type=float, default=d["jitter"],
                           help=f"training augmentation: noise added to each scaled value, in "
                                f"standard deviations (default {d['jitter']}; 0 for none)")
        train.add_argument("--scale", type=float, default=d["scale"],
                           help=f"training augmentation: each sample's per-feature factor "
                                f"around 1, its standard deviation (default {d['scale']}; 0 "
                                f"for none)")
        train.add_argument("--length-noise", type=float, default=d["length_noise"],
                           help=f"the training batches hold samples of similar lengths, sorted "
                                f"on lengths scaled by a random factor of this spread, drawn "
                                f"each epoch, so that they mix anew (default "
                                f"{d['length_noise']}; 0 sorts exactly)")
        train.add_argument("--refit", action="store_true",
                           help="train each member again on all of TRAIN for the epoch count "
                                "at which the held-out folds' losses together are lowest (about "
                                "twice the time)")
        train.add_argument("--schedule", choices=SCHEDULES, default="early_stopping",
                           help="each member stopped early on the fold it holds out (default), "
                                "or trained on every sample for --epochs in batches of at most "
                                "n/10, the learning rate halved after --patience epochs "
                                "without a lower training loss (plateau)")
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
    # under torchrun every process trains each member on its shard of the batches (DDP);
    # the main one reports and writes the ensemble
    main = is_main_process()
    say = print if main else (lambda *args, **kwargs: None)
    train = read_series_file(args.train)
    test = read_series_file(args.test) if args.test else None
    out = os.path.abspath(args.out)
    check_folder_for(args.out)
    if os.path.lexists(out) and not os.path.isdir(out):
        raise InputError(f"--out {args.out} exists and is not a folder")
    kept = os.path.join(out, "checkpoints")
    checkpoints = resume_folder(args.resume) if args.resume else kept
    # saving would replace it; the main process alone looks (the others might see what it
    # has begun to write), and torchrun stops them when it refuses
    if main and (not args.resume or checkpoints != kept) and holds_run(kept):
        raise InputError(f"{kept} holds an earlier run's training: continue it with the same "
                         f"command and --resume {kept}, or remove it")
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
        missing=args.missing, jitter=args.jitter, scale=args.scale,
        length_noise=args.length_noise, device=args.device,
        units=args.units,
        bidirectional=args.bidirectional, pooling=args.pooling, conv_filters=args.conv_filters,
        dropout=args.dropout, batch_norm=args.batch_norm, layout=args.layout,
        dimension_shuffle=args.dimension_shuffle, lstm_steps=args.lstm_steps,
        precision=args.precision, refit=args.refit, schedule=args.schedule,
        checkpoint_dir=checkpoints,
        checkpoint_every=args.checkpoint_every, resume=bool(args.resume))
    validation = None
    if args.resume:
        say(f"continuing the training kept in {checkpoints}")
    try:
        if args.folds is not None:
            validation = cross_validate(train, folds=args.folds, seed=args.seed, print_fn=say,
                                        verbose=0, **options)
            say(f"{args.folds}-fold cross-validation on {train.path}:")
            for line in format_report(validation):
                say("  " + line)
        classifier = train_classifier(train, seed=args.seed,
                                      verbose=0 if args.quiet or not main else 2, print_fn=say,
                                      **options)
    except KeyboardInterrupt:
        if main and os.path.isdir(checkpoints):
            print(f"the members finished are kept in {checkpoints}: continue with the same "
                  f"command and --resume {checkpoints}", file=sys.stderr)
        raise
    if validation is not None:
        classifier.info["cross_validation"] = validation
    oof = classifier.info["out_of_fold"]
    if oof is None:
        say("no out-of-fold figures: every member trained on every sample (--folds K "
            "estimates them)")
    else:
        say(f"out-of-fold accuracy {oof['accuracy']:.4f}, log loss {oof['log_loss']:.4f} "
            f"({oof['samples']} training samples, each predicted by the member that held it "
            f"out)")
    if test is not None:
        note_longer(classifier, test)
        report = classifier.evaluate(test)
        classifier.info["test"] = {"file": test.path, **report}
        say(f"test ({test.path}):")
        for line in format_report(report):
            say("  " + line)
    if main:
        classifier.save(out)  # replaces --out whole: OUT/checkpoints goes with it
    say(f"model saved to {out} ({classifier.info['seconds']:.0f} s of training)")


def resume_folder(path):
    """The folder `--resume` names: the one series train kept its members in
    (OUT/checkpoints), or the OUT above it."""
    for folder in (os.path.join(path, "checkpoints"), path):
        if holds_run(folder):
            return os.path.abspath(folder)
    raise InputError(f"--resume {path}: no series training to continue there (series train "
                     f"keeps one in OUT/checkpoints, with its {RUN})")


def note_longer(classifier, data):
    """Say, on stderr, where series are longer than the dimension shuffle reads."""
    keep = classifier.shuffle_length
    longer = 0 if keep is None else int((data.lengths > keep).sum())
    if longer:
        print(f"note: {longer} series of {data.path} are longer than the {keep} steps the "
              f"LSTM's dimension shuffle reads (the longest training series): it reads their "
              f"first {keep}, the convolutions all of them", file=sys.stderr)


def run_eval_command(args):
    classifier = SeriesClassifier.load(args.model, device=args.device)
    data = read_series_file(args.file)
    report = {"file": data.path, **classifier.evaluate(data, args.batch_size)}
    note_longer(classifier, data)  # once the file is known to suit the model
    for line in format_report(report):
        print(line)
    if args.out:
        write_output(args.out, json.dumps(report, indent=2) + "\n")


def run_predict_command(args):
    classifier = SeriesClassifier.load(args.model, device=args.device)
    data = read_series_file(args.file)
    p = classifier.predict_proba(data, args.batch_size)
    note_longer(classifier, data)
    rows = ["sample,line,label,"
            + ",".join(csv_field(f"p_{label}") for label in classifier.labels)]
    for i, row in enumerate(p):
        line = data.lines[i] if data.lines is not None else ""
        rows.append(f"{i + 1},{line},{csv_field(classifier.labels[row.argmax()])}," +
                    ",".join(f"{v:.6f}" for v in row))
    text = "\n".join(rows) + "\n"
    if args.out:
        write_output(args.out, text)
        print(f"{len(p)} predictions written to {args.out}")
    else:
        print(text, end="")


TASK = SeriesClassification()
