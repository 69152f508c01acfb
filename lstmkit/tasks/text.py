"""Text classification: labelled texts (lstmkit.data.textfiles) to a trained
classifier, its figures and its predictions.

A classifier is one or more members, each an ordinary lstmkit model that
carries its own TextEncoder (vocabulary, maxlen policy, label names), so
every member reads raw strings after `load_model`; the classifier weighs
their probabilities (the weights chosen on the validation data). The
members' recipes are in text_models. Every member stops early on the
validation data (a split of the training data unless given), keeping its
best epoch's weights; with a split, each is then trained again on all the
training texts for that many epochs.
"""

import json
import os
import tempfile
import time

import numpy as np
import torch

from .. import __version__
from ..callbacks import EarlyStopping
from ..data.sources import SequenceBatches
from ..data.text import TextEncoder, choose_maxlen  # noqa: F401 (the task's preprocessing)
from ..data.textfiles import TextData, read_texts
from ..distributed import is_main_process
from ..errors import InputError, ModelFileError
from ..files import (atomic_write, check_folder_for, csv_field, read_manifest, staged_folder,
                     write_output)
from ..model import load_model
from ..precision import policy_name
from ..reports import (classification_report, format_report, have_matplotlib, log_loss,
                       multilabel_report, plot_confusion, plot_history)
from ..train import resolve_device, set_seed
from .base import Task, add_command, add_precision_option, add_training_options
from .text_models import MODELS, RECIPES, build_classifier

MANIFEST = "classifier.json"
FORMAT = "lstmkit.text_classifier"
FORMAT_VERSION = 1
MAX_MEMBERS = 16


def targets(encoder, labels, where=None):
    """Labels as the member's loss takes them: (N, 1) floats for one sigmoid,
    (N, C) 0/1 for multi-label, class ids (N,) for softmax."""
    y = encoder.encode_labels(labels, where)
    if encoder.multilabel:
        return torch.as_tensor(y)
    if len(encoder.labels) == 2:
        return torch.as_tensor(y, dtype=torch.float32)[:, None]
    return torch.as_tensor(y)


def _batches(recipe, encoder, texts, y, batch_size, shuffle=False, seed=0, sequences=None):
    """A recipe's batches of `texts` (for a bucketed one, their `sequences`
    when already encoded)."""
    if RECIPES[recipe]["batches"] == "padded":
        return encoder.encode(texts), y
    sequences = encoder.sequences(texts) if sequences is None else sequences
    return SequenceBatches(sequences, y, batch_size, shuffle=shuffle, seed=seed)


@torch.inference_mode()
def member_probabilities(model, texts, batch_size=256):
    """(N, C) probabilities of one member for raw texts, in its labels' order:
    masked models run on batches of similar lengths, each text at its own."""
    encoder = model.preprocessing
    device = next(model.parameters()).device
    model.eval()
    if not getattr(model.layers[0], "mask_zero", False):  # the tutorial's: padded before
        out = model.predict(encoder.encode(texts), batch_size=batch_size)
        return encoder.probabilities(out)
    source = SequenceBatches(encoder.sequences(texts), None, batch_size)
    out = None
    for index in source.index_batches():
        x, _, mask = source.batch(index)
        p = model(x.to(device), mask=mask.to(device)).float().cpu().numpy()
        if out is None:
            out = np.empty((len(texts), p.shape[1]))
        out[index.numpy()] = p
    return encoder.probabilities(out)


# ----- the classifier ------------------------------------------------------------------

class TextClassifier:
    """Members (lstmkit models with TextEncoders of the same labels) whose
    probabilities are averaged.

    Attributes:
        members: the models; `member.preprocessing` is each one's TextEncoder.
        info: what training recorded (recipes, seeds, epochs, figures).
    """

    def __init__(self, members, info=None, weights=None):
        self.members, self.info = list(members), info or {}
        self.weights = check_weights(weights, len(self.members))
        labels = [m.preprocessing.labels for m in self.members]
        if any(l != labels[0] for l in labels):
            raise ModelFileError("the members were trained on different labels: "
                                 f"{' / '.join(map(str, labels))}")

    @property
    def labels(self):
        return self.members[0].preprocessing.labels

    @property
    def multilabel(self):
        return self.members[0].preprocessing.multilabel

    def member_probabilities(self, texts, batch_size=256):
        """Each member's (N, C) probabilities for raw texts (or a TextData)."""
        texts = texts.texts if isinstance(texts, TextData) else list(texts)
        if not texts:
            raise InputError("no texts to predict")
        return [member_probabilities(m, texts, batch_size) for m in self.members]

    def predict_proba(self, texts, batch_size=256):
        """(N, C) probabilities for a list of raw texts (or a TextData): the
        members' weighted mean."""
        return self.combine(self.member_probabilities(texts, batch_size))

    def combine(self, each):
        """The members' probabilities (a list of (N, C)) weighted into one."""
        return sum(w * p for w, p in zip(self.weights, each))

    def predict(self, texts, batch_size=256):
        """The predicted label of each text ('a|b' for multi-label data)."""
        p = self.predict_proba(texts, batch_size)
        if self.multilabel:
            return ["|".join(self.labels[i] for i in np.flatnonzero(row > 0.5)) for row in p]
        return [self.labels[i] for i in p.argmax(1)]

    def evaluate(self, data, batch_size=256, probabilities=None):
        """The report on labelled data (a TextData): classification_report
        with ROC AUC for two classes and log loss, or multilabel_report."""
        encoder = self.members[0].preprocessing
        y = encoder.encode_labels(data.labels, data.where)
        p = self.predict_proba(data, batch_size) if probabilities is None else probabilities
        if self.multilabel:
            return multilabel_report(y, p, self.labels)
        return {**classification_report(y, p.argmax(1), self.labels,
                                        scores=p if len(self.labels) == 2 else None),
                "log_loss": log_loss(y, p)}

    def save(self, path, extra_files=None):
        """Write the classifier to folder `path`, staged in a temporary sibling
        and renamed into place, so `path` holds the old one or the new one,
        never a part. extra_files: {name: bytes} written beside it (reports)."""
        with staged_folder(path) as tmp:
            names = []
            for i, model in enumerate(self.members):
                names.append(f"member-{i}")
                compiled = model._compiled["config"] if model._compiled else None
                if compiled and compiled["optimizer"] is None:
                    # trained with a tuned Adam: a file keeps optimizer names only
                    model.compile(loss=compiled["loss"], optimizer="adam",
                                  metrics=compiled["metrics"],
                                  device=next(model.parameters()).device)
                TASK.save(model, os.path.join(tmp, names[-1]), model.preprocessing, member=i,
                          recipe=(self.info.get("recipes") or [None] * len(self.members))[i])
            manifest = {"format": FORMAT, "format_version": FORMAT_VERSION,
                        "lstmkit_version": __version__, "task": TASK.name, "members": names,
                        "weights": self.weights, "labels": self.labels, "info": self.info}
            atomic_write(os.path.join(tmp, MANIFEST),
                         json.dumps(manifest, indent=2, allow_nan=False).encode())
            for name, data in (extra_files or {}).items():
                atomic_write(os.path.join(tmp, name), data)

    @classmethod
    def load(cls, path, device="cpu"):
        """A classifier saved by `save`, or one lstmkit model of this task
        (`lstmkit demo`'s, or a member alone)."""
        path = os.fspath(path)
        manifest_path = os.path.join(path, MANIFEST)
        if not os.path.isfile(manifest_path):
            model = load_model(path, device=device)
            if not isinstance(model.preprocessing, TextEncoder):
                raise ModelFileError(f"{path}: not a text classifier (no {MANIFEST}, and the "
                                     "model carries no text encoder)")
            return cls([model])
        manifest, folders = read_manifest(path, MANIFEST, FORMAT, FORMAT_VERSION,
                                          "a text classifier", MAX_MEMBERS)
        names = [os.path.basename(f) for f in folders]
        members = [load_model(os.path.join(path, n), device=device) for n in names]
        for name, model in zip(names, members):
            if not isinstance(model.preprocessing, TextEncoder):
                raise ModelFileError(f"{os.path.join(path, name)}: carries no text encoder")
        info = manifest.get("info") if isinstance(manifest.get("info"), dict) else {}
        try:
            return cls(members, info, manifest.get("weights"))
        except InputError as e:
            raise ModelFileError(f"{manifest_path}: {e}") from None


def check_weights(weights, n):
    """The members' weights: n non-negative numbers summing to 1 (equal by default)."""
    if weights is None:
        return [1.0 / n] * n
    if (not isinstance(weights, list) or len(weights) != n or not all(
            isinstance(w, (int, float)) and not isinstance(w, bool) and 0 <= w <= 1
            for w in weights) or abs(sum(weights) - 1) > 1e-6):
        raise InputError(f"weights must be {n} numbers in [0, 1] summing to 1, got {weights!r}")
    return [float(w) for w in weights]


def choose_weights(each, y, multilabel=False, steps=10):
    """The members' weights for their validation probabilities: the point
    of lowest log loss on a grid of the simplex in steps of 1/`steps`
    (ties: the one nearest equal weights). One member: [1.0]; more than
    four (a grid of thousands of points): equal weights."""
    n = len(each)
    if n == 1 or n > 4:
        return [1.0 / n] * n
    def loss(w):
        p = np.clip(sum(wi * e for wi, e in zip(w, each)), 1e-7, 1 - 1e-7)
        if multilabel:
            return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())
        return log_loss(y, p)
    grid = [np.array(c) / steps for c in compositions(steps, n)]
    # rounding: no float ties
    w = min(grid, key=lambda w: (round(loss(w), 9), round(float(np.abs(w - 1 / n).sum()), 9)))
    return [float(round(wi, 6)) for wi in w]


def compositions(total, parts):
    """Every tuple of `parts` non-negative integers summing to `total`."""
    if parts == 1:
        yield (total,)
        return
    for first in range(total, -1, -1):
        for rest in compositions(total - first, parts - 1):
            yield (first,) + rest


# ----- training ------------------------------------------------------------------------

def stratified_split(labels, fraction, seed):
    """Indices (train, held_out) with `fraction` of each class held out
    (multi-label samples: by their label sets)."""
    rng = np.random.default_rng(seed)
    keys = np.array(["\x1f".join(l) if isinstance(l, tuple) else l for l in labels],
                    dtype=object)
    train, held = [], []
    for value in sorted(set(keys)):
        idx = rng.permutation(np.flatnonzero(keys == value))
        cut = int(round(len(idx) * fraction))
        held.extend(idx[:cut])
        train.extend(idx[cut:])
    return rng.permutation(np.array(train, dtype=np.int64)), np.sort(np.array(held,
                                                                              dtype=np.int64))


def check_labels(data, where="the training data"):
    """The label names of training data, refusing unlabelled data and a single class."""
    if data.labels is None:
        raise InputError(f"{data.path or where} holds no labels")
    names = data.label_names()
    if len(names) < 2 and not data.multilabel:
        raise InputError(f"{data.path or where}: every text has the label {names[0]!r}; a "
                         "classifier needs at least two classes")
    return names


def train_text_classifier(train, valid=None, valid_split=0.1, model="default", seed=0,
                          epochs=None, batch_size=None, patience=None, device="auto", verbose=0,
                          print_fn=None, refit=True, precision="float32"):
    """Train a TextClassifier on labelled texts (a TextData).

    Args:
        valid: labelled texts to stop on (a TextData); default a stratified
            `valid_split` of `train`, drawn with `seed`.
        model: 'default', 'tutorial', 'lstm', 'nb', 'nbchar' or 'bag' (see
            text_models).
        seed: seeds the split and each member (member i: 1000 * seed + i).
        epochs, batch_size, patience: override every recipe's (the most
            epochs, samples per step, epochs without a lower validation loss
            before stopping).
        refit: when the validation texts are a split of `train`, train each
            member again, from its seed, on all of `train` (vocabulary and
            naive Bayes ratios included) for the number of epochs that
            early stopping chose, keeping the weights chosen on the split:
            no labelled text is left unused. The validation figures are the
            first members', measured on texts they did not see. A given
            `valid` is never trained on.

    Returns the classifier; its info holds the recipes, seeds, best epochs,
    each member's history and the validation report.
    """
    if model not in MODELS:
        raise InputError(f"model must be one of {', '.join(map(repr, MODELS))}, got {model!r}")
    names = check_labels(train)
    precision = policy_name(precision)
    started = time.perf_counter()
    everything = train if valid is None else None
    if valid is None:
        if not 0 < valid_split < 1:
            raise InputError(f"valid_split must be between 0 and 1, got {valid_split!r}")
        fit_index, valid_index = stratified_split(train.labels, valid_split, seed)
        if not len(valid_index) or not len(fit_index):
            raise InputError(f"valid_split {valid_split} of {len(train)} texts leaves an empty "
                             "training or validation part")
        train, valid = train.subset(fit_index), train.subset(valid_index)
    device = resolve_device(device)
    members, histories, best_epochs, seeds = [], [], [], []
    for i, recipe_name in enumerate(MODELS[model]):
        seeds.append(1000 * seed + i)
        if print_fn:
            print_fn(f"member {i + 1}/{len(MODELS[model])} ({recipe_name}):")
        member, history, best = train_member(
            recipe_name, names, train, valid, seeds[-1], epochs, batch_size, patience, device,
            verbose, print_fn, precision)
        members.append(member)
        histories.append(history)
        best_epochs.append(best)
    classifier = TextClassifier(members)
    each = classifier.member_probabilities(valid)
    # the members' weights, chosen on the validation data (part of the training data)
    classifier.weights = choose_weights(each, members[0].preprocessing.encode_labels(
        valid.labels), members[0].preprocessing.multilabel)
    report = classifier.evaluate(valid, probabilities=classifier.combine(each))
    member_validation = [classifier.evaluate(valid, probabilities=p) for p in each]
    refitted = bool(refit and everything is not None)
    if refitted:
        for i, recipe_name in enumerate(MODELS[model]):
            if print_fn:
                print_fn(f"member {i + 1}/{len(MODELS[model])} ({recipe_name}) again, on all "
                         f"{len(everything)} training texts for {best_epochs[i]} epochs:")
            classifier.members[i], _, _ = train_member(
                recipe_name, names, everything, None, seeds[i], best_epochs[i], batch_size,
                patience, device, verbose, print_fn, precision)
    classifier.info = {
        "model": model, "recipes": MODELS[model], "seeds": seeds, "best_epochs": best_epochs,
        "weights": classifier.weights, "member_validation": member_validation,
        "settings": {"seed": seed, "epochs": epochs, "batch_size": batch_size,
                     "patience": patience, "valid_split": valid_split, "refit": refitted,
                     "precision": precision},
        "training_texts": len(everything) if refitted else len(train),
        "validation_texts": len(valid), "histories": histories, "validation": report,
        "seconds": time.perf_counter() - started}
    return classifier


def train_member(recipe_name, names, train, valid, seed, epochs, batch_size, patience, device,
                 verbose, print_fn, precision="float32"):
    """One member of recipe `recipe_name`, its encoder fitted on `train`'s
    texts: stopped early on `valid` (restoring its best epoch), or, without
    `valid`, trained for exactly `epochs` (the recipe's when None).

    Returns (model, history, best epoch counted from 1 or None)."""
    recipe = RECIPES[recipe_name]
    encoder = TextEncoder.fit(train.texts, train.labels, **recipe["encoder"])
    encoder.labels = names if not encoder.multilabel else encoder.labels
    y = targets(encoder, train.labels)
    size = batch_size or recipe["batch_size"]
    set_seed(seed)
    member = recipe["build"](encoder, device=device)
    member.preprocessing = encoder
    # the training texts encoded once, for the batches and what the model takes from them
    sequences = None if recipe["batches"] == "padded" else encoder.sequences(train.texts)
    if "prepare" in recipe:  # NB's ratios
        recipe["prepare"](member, encoder, sequences, train.labels)
    x = _batches(recipe_name, encoder, train.texts, y, size, shuffle=True, seed=seed,
                 sequences=sequences)
    fit_args = dict(epochs=epochs or recipe["epochs"], verbose=verbose, seed=seed,
                    precision=precision)
    stop = None
    if valid is not None:
        stop = EarlyStopping("val_loss", patience=recipe["patience"] if patience is None
                             else patience, restore_best_weights=True)
        y_valid = targets(encoder, valid.labels, valid.where)
        fit_args.update(validation_data=_batches(recipe_name, encoder, valid.texts, y_valid,
                                                 256), callbacks=[stop])
    if print_fn:
        print_fn(f"  vocabulary {len(encoder.vocabulary)} ids, maxlen {encoder.maxlen}"
                 f" ({encoder.truncate}), {sum(p.numel() for p in member.parameters()):,}"
                 " parameters")
    if isinstance(x, tuple):
        history = member.fit(x[0], x[1], batch_size=size, **fit_args)
    else:
        history = member.fit(x, **fit_args)
    best = None if stop is None or stop.best_epoch is None else stop.best_epoch + 1
    return member, history.history, best


# ----- the task and its commands ---------------------------------------------------------

class TextClassification(Task):
    """Labelled texts -> a classifier; its models carry a TextEncoder."""

    name = "text_classification"
    preprocessing = TextEncoder
    defaults = {"num_words": 1024, "embedding_dim": 256, "units": 128, "dropout": 0.5,
                "epochs": 10, "batch_size": 16}

    def build_model(self, preprocessing=None, device="auto", **options):
        settings = {k: self.defaults[k] for k in ("num_words", "embedding_dim", "units", "dropout")}
        if preprocessing is not None:
            settings["num_words"] = preprocessing.vocabulary.num_words
            settings["num_classes"] = len(preprocessing.labels)
        return build_classifier(**{**settings, **options}, device=device)

    def add_commands(self, commands):
        from .demo import run_demo_command

        demo = add_command(
            commands, "demo",
            help="train the tutorial's sentiment LSTM on built-in data (no arguments, no network)",
            description="Train the tutorial's model (Embedding 256, LSTM 128, Dropout 0.5, "
            "Dense 1 sigmoid, RMSprop) on the UCI Sentiment Labelled Sentences shipped with "
            "lstmkit, report held-out accuracy and save the model.",
            examples=["lstmkit demo", "lstmkit demo --epochs 3 --out /tmp/demo --quiet"])
        add_training_options(demo, self.defaults, out="runs/demo")
        demo.set_defaults(run=run_demo_command)

        text = commands.add_parser(
            "text", help="classify texts (CSV/TSV, JSON Lines, label folders, archives): train, "
            "eval, predict",
            description="Train a text classifier on labelled texts, evaluate it, and predict "
            "with it.")
        sub = text.add_subparsers(dest="text_command", metavar="COMMAND", required=True)
        train = add_command(
            sub, "train", help="train a classifier on DATA (and score it on --test)",
            description="Read DATA, hold out a validation part (or read --valid), train the "
            "model's members (each stopped early on the validation data), report the "
            "validation figures and, with --test, the test figures; write the model, "
            "metrics.json, training_curves.png and confusion.png to --out.\n\n" + DATA_HELP,
            examples=["lstmkit text train reviews.csv --text-col review --label-col sentiment "
                      "--out runs/reviews",
                      "lstmkit text train aclImdb_v1.tar.gz/aclImdb/train --test "
                      "aclImdb_v1.tar.gz/aclImdb/test --out runs/imdb",
                      "lstmkit text train rt-polaritydata/ --encoding latin-1 --model tutorial "
                      "--out runs/rt"])
        train.add_argument("data", metavar="DATA", help="the labelled training texts")
        _add_reading_options(train)
        group = train.add_mutually_exclusive_group()
        group.add_argument("--valid", metavar="VALID", help="labelled texts to stop on "
                           "(default: a split of DATA)")
        group.add_argument("--valid-split", type=float, default=0.1, metavar="F",
                           help="the stratified fraction of DATA held out to stop on "
                                "(default 0.1)")
        train.add_argument("--test", metavar="TEST", help="labelled texts scored once after "
                           "training")
        train.add_argument("--model", choices=MODELS, default="default",
                           help="'default' (a BiLSTM with pooling + NBSVM's n-gram model over "
                                "word 1-3-grams + the same over word 1-2-grams and their "
                                "words' character n-grams, weighted), 'tutorial' (the "
                                "tutorial's LSTM), or one model alone: 'lstm', 'nb', 'nbchar', "
                                "'bag' (fastText's n-gram bag) (default 'default')")
        train.add_argument("--patience", type=int, help="epochs without a lower validation "
                           "loss before a member stops (default: the recipe's)")
        train.add_argument("--no-refit", dest="refit", action="store_false",
                           help="keep the members trained on DATA less its validation split "
                                "(default: once their epochs are chosen, train them again on "
                                "all of DATA; a --valid file is never trained on)")
        add_precision_option(train)
        add_training_options(train, {"epochs": None, "batch_size": None}, out="runs/text")
        for action in train._actions:  # the recipes own these defaults
            if action.dest == "epochs":
                action.help = "the most passes over the data (default: each member's recipe)"
            elif action.dest == "batch_size":
                action.help = "texts per step (default: each member's recipe)"
        train.set_defaults(run=run_train_command)

        evaluate = add_command(
            sub, "eval", help="score a saved classifier on labelled texts",
            description="Accuracy, macro precision / recall / F1, ROC AUC (two classes), log "
            "loss and the confusion matrix of a saved classifier on DATA.\n\n" + DATA_HELP,
            examples=["lstmkit text eval runs/imdb aclImdb_v1.tar.gz/aclImdb/test",
                      "lstmkit text eval runs/reviews test.csv --out report.json"])
        evaluate.add_argument("model", metavar="MODEL", help="a folder written by text train "
                              "(or lstmkit demo)")
        evaluate.add_argument("data", metavar="DATA", help="labelled texts")
        _add_reading_options(evaluate)
        evaluate.add_argument("--out", help="also write the report as JSON here")
        _add_run_options(evaluate)
        evaluate.set_defaults(run=run_eval_command)

        predict = add_command(
            sub, "predict", help="label texts, with the probability of each label",
            description="The predicted label and its probability for each TEXT (or each text "
            "of --file: a table's text column, or one text per line of a plain file), to the "
            "terminal, or as CSV (text, label, probability, p_<label>...) to --out.",
            examples=['lstmkit text predict runs/imdb "A wonderful film." "Dull and long."',
                      "lstmkit text predict runs/reviews --file new.csv --text-col review "
                      "--out predictions.csv"])
        predict.add_argument("model", metavar="MODEL", help="a folder written by text train "
                             "(or lstmkit demo)")
        predict.add_argument("texts", metavar="TEXT", nargs="*", help="texts to label")
        predict.add_argument("--file", help="read the texts from this file instead")
        _add_reading_options(predict)
        predict.add_argument("--out", help="write CSV here instead of the terminal")
        _add_run_options(predict)
        predict.set_defaults(run=run_predict_command)

    def inspect_input(self, model, text):
        encoder = model.preprocessing
        ids = encoder.ids(text)
        if not getattr(model.layers[0], "mask_zero", False):
            ids = list(encoder.encode([text])[0])
        return np.array([ids]), encoder.vocabulary.decode(ids).split(" ")


DATA_HELP = """DATA is a CSV/TSV file (delimiter sniffed; columns by name or number from 0),
a JSON Lines file, a folder of <label>/*.txt files (the aclImdb layout) or such a tree
inside a .tar.gz/.zip (a path may go on inside it: data.tar.gz/aclImdb/train), a folder
of one-text-per-line files STEM.LABEL (rt-polarity.pos, rt-polarity.neg), or
LABEL=FILE,LABEL=FILE. Empty texts are skipped and counted."""


def _add_reading_options(parser):
    parser.add_argument("--text-col", metavar="C", help="the text column: a name or a number "
                        "from 0 (default: guessed; JSON Lines 'text')")
    parser.add_argument("--label-col", metavar="L", help="the label column (default: guessed; "
                        "JSON Lines 'label')")
    parser.add_argument("--delimiter", help="the CSV/TSV delimiter (default: sniffed); 'tab' "
                        "for a tab")
    parser.add_argument("--header", choices=("yes", "no"), help="whether the first row names "
                        "the columns (default: detected)")
    parser.add_argument("--encoding", default="utf-8", help="the files' encoding (default "
                        "utf-8; latin-1 for the Rotten Tomatoes files)")
    parser.add_argument("--label-sep", metavar="S", help="split a label field on S into "
                        "several labels (multi-label data)")


def _add_run_options(parser):
    parser.add_argument("--batch-size", type=int, default=256, help="texts per batch (256)")
    parser.add_argument("--device", default="cpu", help="'cpu' (default), 'cuda' or 'auto'")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")


def _read(args, path, labelled=True):
    delimiter = "\t" if args.delimiter == "tab" else args.delimiter
    header = None if args.header is None else args.header == "yes"
    return read_texts(path, text_col=args.text_col, label_col=args.label_col,
                      delimiter=delimiter, header=header, encoding=args.encoding,
                      label_sep=args.label_sep, labelled=labelled)


def _describe(data):
    skipped = f", {data.skipped} empty skipped" if data.skipped else ""
    names = data.label_names()
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    return f"{data.path}: {len(data)} texts{skipped}, labels {shown}"


def _check_known(data, names, what):
    """Refuse labels the training data did not hold, before training."""
    unknown = sorted(set(data.label_names()) - set(names))
    if unknown:
        first = next(i for i, l in enumerate(data.labels)
                     if set((l,) if isinstance(l, str) else l) & set(unknown))
        raise InputError(f"{data.where[first]}: {what} label {unknown[0]!r} is not in the "
                         f"training data (known: {', '.join(names)}); unseen: "
                         f"{', '.join(map(repr, unknown[:10]))}")


def run_train_command(args):
    if args.resume or args.checkpoint_every:
        raise InputError("text train does not checkpoint or resume: rerun without --resume / "
                         "--checkpoint-every")
    if getattr(args, "nproc", 1) != 1:
        raise InputError(f"--nproc {args.nproc}: text train runs in one process; leave "
                         "--nproc out")
    out = os.path.abspath(args.out)
    check_folder_for(args.out)
    say = print if is_main_process() else (lambda *a, **k: None)
    train = _read(args, args.data)
    names = check_labels(train)
    valid = _read(args, args.valid) if args.valid else None
    test = _read(args, args.test) if args.test else None
    for data, what in ((valid, "a validation"), (test, "a test")):
        if data is not None:
            _check_known(data, names, what)
    say(_describe(train))
    classifier = train_text_classifier(
        train, valid, args.valid_split, args.model, args.seed, args.epochs, args.batch_size,
        args.patience, args.device, verbose=0 if args.quiet else 1, print_fn=say,
        refit=args.refit, precision=args.precision)
    report = classifier.info["validation"]
    refitted = classifier.info["settings"]["refit"]
    say(f"validation ({classifier.info['validation_texts']} texts"
        + (", scored before the members were trained again on all of DATA" if refitted else "")
        + "):")
    for line in format_report(report):
        say("  " + line)
    metrics = {"data": train.path, "model": args.model, "seed": args.seed,
               "validation": report, "seconds": classifier.info["seconds"]}
    if test is not None:
        started = time.perf_counter()
        report = classifier.evaluate(test)
        metrics["test"] = {"data": test.path, **report,
                           "seconds": time.perf_counter() - started}
        classifier.info["test"] = metrics["test"]
        say(f"test ({test.path}):")
        for line in format_report(report):
            say("  " + line)
    files = {"metrics.json": (json.dumps(metrics, indent=2, allow_nan=False) + "\n").encode()}
    if is_main_process():
        files.update(_pngs(classifier, report))
        classifier.save(out, files)
        say(f"model saved to {out} ({classifier.info['seconds']:.0f} s of training); "
            f"{', '.join(sorted(files))} beside it")


def _pngs(classifier, report):
    """The training curves and the confusion matrix as PNG bytes, when
    matplotlib is installed (the plot extra)."""
    if not have_matplotlib():
        print("(no PNGs: matplotlib is not installed; pip install 'lstmkit[plot]')")
        return {}
    with tempfile.TemporaryDirectory() as folder:
        histories = classifier.info["histories"]
        recipes = classifier.info["recipes"]
        merged = {f"{name} {key}" if len(histories) > 1 else key: values
                  for name, history in zip(recipes, histories) for key, values in history.items()}
        # one panel per quantity: loss and accuracy, each member's training and validation
        curves = os.path.join(folder, "curves.png")
        plot_history(_by_quantity(merged), curves)
        pngs = {"training_curves.png": open(curves, "rb").read()}
        if "confusion" in report:
            confusion = os.path.join(folder, "confusion.png")
            plot_confusion(report, confusion)
            pngs["confusion.png"] = open(confusion, "rb").read()
    return pngs


def _by_quantity(history):
    """{'lstm loss': ..., 'lstm val_loss': ...} -> {'loss': {'lstm': ...}, ...}
    as plot_history takes it: names without val_ get panels."""
    panels = {}
    for key, values in history.items():
        member, _, name = key.rpartition(" ")
        validation = name.startswith("val_")
        quantity = name[4:] if validation else name
        label = (f"{member} " if member else "") + ("validation" if validation else "training")
        panels.setdefault(quantity, {})[label] = values
    return panels


def run_eval_command(args):
    classifier = TextClassifier.load(args.model, device=args.device)
    data = _read(args, args.data)
    _check_known(data, classifier.labels, "a")
    report = {"data": data.path, "skipped_empty": data.skipped,
              **classifier.evaluate(data, args.batch_size)}
    print(_describe(data))
    for line in format_report(report):
        print(line)
    if args.out:
        write_output(args.out, json.dumps(report, indent=2, allow_nan=False) + "\n")


def run_predict_command(args):
    if bool(args.texts) == bool(args.file):
        raise InputError("give texts to label, or --file FILE, not both" if args.texts else
                         "give texts to label, or --file FILE")
    classifier = TextClassifier.load(args.model, device=args.device)
    if args.file:
        texts = _read_texts_only(args)
    else:
        texts = [t for t in args.texts]
        if not all(t.strip() for t in texts):
            raise InputError("an empty text has nothing to label")
    p = classifier.predict_proba(texts, args.batch_size)
    labels = classifier.labels
    rows = []
    for text, row in zip(texts, p):
        if classifier.multilabel:
            chosen = "|".join(labels[i] for i in np.flatnonzero(row > 0.5))
            rows.append((text, chosen, max(row.max(), 0.0), row))
        else:
            rows.append((text, labels[row.argmax()], row.max(), row))
    if args.out:
        lines = ["text,label,probability," + ",".join(csv_field(f"p_{l}") for l in labels)]
        lines += [f"{csv_field(t)},{csv_field(l)},{q:.6f}," + ",".join(f"{v:.6f}" for v in row)
                  for t, l, q, row in rows]
        write_output(args.out, "\n".join(lines) + "\n")
        print(f"{len(rows)} predictions written to {args.out}")
    else:
        for text, label, q, _ in rows:
            shown = text if len(text) <= 70 else text[:67] + "..."
            print(f"{label}\t{q:.4f}\t{shown}")


def _read_texts_only(args):
    path = args.file
    if os.path.isfile(path) and path.lower().endswith((".csv", ".tsv", ".tab", ".jsonl",
                                                       ".ndjson")):
        return _read(args, path, labelled=False).texts
    from ..data.textfiles import decode, read_bytes
    from ..errors import DataFileError
    lines = [l.strip() for l in decode(read_bytes(path), path, args.encoding).splitlines()]
    texts = [l for l in lines if l]
    if not texts:
        raise DataFileError("the file is empty", path)
    return texts


TASK = TextClassification()
