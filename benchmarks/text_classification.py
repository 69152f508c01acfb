"""Text classification: lstmkit's default text model beside the tutorial's
model and TF-IDF + logistic regression, on IMDB, Rotten Tomatoes and the
UCI sentences.

IMDB (Maas et al. 2011): the archive's own split, 25,000 training and
25,000 test reviews. Each lstmkit model is trained with `lstmkit text
train`'s code (lstmkit.tasks.text.train_text_classifier) on the training
reviews only, stopped early on a stratified tenth of them, which also made
every choice of the default model; the test reviews are scored once.
Rotten Tomatoes (Pang & Lee 2005) and the UCI sentences (Kotzias et al.
2015) have no split: 10-fold stratified cross-validation, as published.

The linear baseline, TF-IDF of word 1-2-grams (sublinear tf, min_df 2) +
logistic regression with C chosen by 5-fold cross-validation on the
training part, runs in a second process under a benchmark-only virtualenv
(scikit-learn is no dependency of lstmkit):

    python3.11 -m venv .venv-text && .venv-text/bin/pip install -c constraints.txt scikit-learn
    flock /tmp/lstmkit-heavy.lock .venv/bin/python benchmarks/text_classification.py --part imdb
    .venv/bin/python benchmarks/text_classification.py --part uci --part rt
    .venv/bin/python benchmarks/text_classification.py --part imdb --quick   # smoke run, to /tmp

Each part's figures are merged into benchmarks/results/text_classification.json
(a part run again replaces its own entries only), with commands, seeds,
wall times and the machine.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from common import ROOT, load_record, output_path, write_report

DATASETS = os.path.join(os.path.dirname(ROOT), "shared", "datasets")
IMDB = os.path.join(DATASETS, "imdb", "aclImdb_v1_labeled.tar.gz", "aclImdb")
RT = os.path.join(DATASETS, "sentiment", "rt-polaritydata")
UCI = os.path.join(DATASETS, "sentiment", "uci_sentiment_labelled_sentences")
TEXT_PYTHON = os.path.join(ROOT, ".venv-text", "bin", "python")
PUBLISHED = {  # test accuracy as published, for the README beside the measured figures
    "imdb": [("Maas et al. 2011 (word vectors + unlabelled data)", 0.8889),
             ("LSTM from random initialisation (Dai & Le 2015)", 0.865),
             ("NBSVM-bi (Wang & Manning 2012)", 0.9122),
             ("oh-2LSTMp, labelled data only (Johnson & Zhang 2016)", 0.9186)],
    "rt": [("NBSVM-bi (Wang & Manning 2012)", 0.794)],
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", action="append", choices=("imdb", "rt", "uci"),
                        help="what to run (repeatable; default imdb)")
    parser.add_argument("--models", default="default,tutorial,tfidf",
                        help="comma-separated: default, tutorial, lstm, nb, bag, tfidf")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, default=10, help="cross-validation folds (rt, uci)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: on a shared 2-core machine two "
                             "threads wait on each other at every step of the recurrence)")
    parser.add_argument("--quick", action="store_true", help="a smoke run on a small subset")
    parser.add_argument("--out", help="the report file (default benchmarks/results/...)")
    parser.add_argument("--tfidf-worker", metavar="JSON", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tfidf_worker:
        return tfidf_worker(args.tfidf_worker)
    import torch

    torch.set_num_threads(args.threads)
    out = output_path("text_classification", args.out, args.quick)
    report = {"benchmark": "text_classification", "parts": {}}
    if os.path.exists(out):
        with open(out) as f:
            report["parts"] = json.load(f).get("parts", {})
    models = args.models.split(",")
    for part in args.part or ["imdb"]:
        entry = report["parts"].setdefault(part, {})
        results = run_imdb(models, args) if part == "imdb" else run_cv(part, models, args)
        entry.update(results)
        entry["published"] = PUBLISHED.get(part, [])
        write_report(report, out, __file__)  # after each part: a long run keeps what it has
        print(f"{part}: written to {out}")
    return 0


# ----- IMDB ----------------------------------------------------------------------------

def run_imdb(models, args):
    from lstmkit.data.textfiles import read_texts

    started = time.perf_counter()
    train, test = read_texts(f"{IMDB}/train"), read_texts(f"{IMDB}/test")
    if args.quick:
        train, test = _sample(train, 2000, args.seed), _sample(test, 2000, args.seed)
    print(f"IMDB: {len(train)} training, {len(test)} test reviews "
          f"({time.perf_counter() - started:.0f} s to read)", flush=True)
    results = {}
    for name in models:
        if name == "tfidf":
            results[name] = run_tfidf({"imdb": (train, test)}, args)["imdb"]
        else:
            results[name] = run_lstmkit(name, train, test, args)
        print(f"IMDB {name}: test accuracy {results[name]['test']['accuracy']:.4f}", flush=True)
    return results


def run_lstmkit(model, train, test, args, verbose=2):
    """Train `model` on train (its validation split from train), score test once."""
    from lstmkit.reports import classification_report
    from lstmkit.tasks.text import train_text_classifier

    load = load_record()
    started = time.perf_counter()
    classifier = train_text_classifier(train, None, 0.1, model, seed=args.seed,
                                       epochs=1 if args.quick else None, verbose=verbose,
                                       print_fn=print)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    each = classifier.member_probabilities(test)
    report = classifier.evaluate(test, probabilities=classifier.combine(each))
    predict_seconds = time.perf_counter() - started
    encoder = classifier.members[0].preprocessing
    y = encoder.encode_labels(test.labels)
    info = classifier.info
    return {
        "seed": args.seed, "members": info["recipes"], "best_epochs": info["best_epochs"],
        "weights": info["weights"],
        "histories": info["histories"],
        "validation": _short(info["validation"]),
        "member_validation": [_short(r) for r in info["member_validation"]],
        "test": _short(report),
        # each member alone on the test set: shown, never used to choose
        "member_test_accuracy": [float(classification_report(y, p.argmax(1),
                                                             classifier.labels)["accuracy"])
                                 for p in each],
        "training_texts": info["training_texts"], "validation_texts": info["validation_texts"],
        "fit_seconds": fit_seconds, "predict_seconds": predict_seconds,
        "load": {"start": load, "end": load_record()},
    }


def _short(report):
    keep = ("samples", "accuracy", "macro_f1", "macro_precision", "macro_recall", "roc_auc",
            "log_loss", "confusion", "labels")
    return {k: report[k] for k in keep if k in report}


def _sample(data, n, seed):
    import numpy as np

    index = np.random.default_rng(seed).permutation(len(data))[:n]
    return data.subset(sorted(index))


# ----- cross-validated sets ------------------------------------------------------------------

def read_cv_sets(part):
    from lstmkit.data.textfiles import read_texts

    if part == "rt":
        return {"rt-polarity": read_texts(RT, encoding="latin-1")}
    return {name: read_texts(os.path.join(UCI, f"{name}_labelled.txt"))
            for name in ("amazon_cells", "imdb", "yelp")}


def folds_of(labels, k, seed):
    import numpy as np

    from lstmkit.tasks.series_ensemble import stratified_folds

    keys = np.unique(labels, return_inverse=True)[1]
    return stratified_folds(keys, k, seed)


def run_cv(part, models, args):
    import numpy as np

    sets = read_cv_sets(part)
    k = 2 if args.quick else args.folds
    results = {}
    splits = {}
    for name, data in sets.items():
        if args.quick:
            data = sets[name] = _sample(data, 400, args.seed)
        fold = folds_of(data.labels, k, args.seed)
        splits[name] = [(data.subset(np.flatnonzero(fold != f)), data.subset(np.flatnonzero(
            fold == f))) for f in range(k)]
    for model in models:
        results[model] = {}
        if model == "tfidf":
            per_fold = run_tfidf({f"{name}/{f}": pair for name, pairs in splits.items()
                                  for f, pair in enumerate(pairs)}, args)
        for name, pairs in splits.items():
            accuracies, seconds = [], []
            for f, (train, test) in enumerate(pairs):
                if model == "tfidf":
                    figures = per_fold[f"{name}/{f}"]
                else:
                    figures = run_lstmkit(model, train, test, args, verbose=0)
                accuracies.append(figures["test"]["accuracy"])
                seconds.append(figures["fit_seconds"])
                print(f"{name} {model} fold {f + 1}/{k}: {accuracies[-1]:.4f}", flush=True)
            results[model][name] = {"folds": k, "seed": args.seed, "accuracy": accuracies,
                                    "mean": float(np.mean(accuracies)),
                                    "sd": float(np.std(accuracies, ddof=1)),
                                    "fit_seconds": seconds, "texts": sum(len(t) for _, t in
                                                                         pairs)}
            print(f"{name} {model}: {results[model][name]['mean']:.4f} ± "
                  f"{results[model][name]['sd']:.4f}", flush=True)
    return results


# ----- the linear baseline ---------------------------------------------------------------------

def run_tfidf(splits, args):
    """TF-IDF + logistic regression on {name: (train, test)} in the
    scikit-learn virtualenv; the texts go over in a temporary JSON file."""
    if not os.path.exists(TEXT_PYTHON):
        raise SystemExit(f"{TEXT_PYTHON} not found: create .venv-text with scikit-learn "
                         "(see this script's docstring)")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "texts.json")
        with open(path, "w") as f:
            json.dump({name: {"train": [train.texts, train.labels],
                              "test": [test.texts, test.labels]}
                       for name, (train, test) in splits.items()}, f)
        subprocess.run([TEXT_PYTHON, os.path.abspath(__file__), "--tfidf-worker", path],
                       check=True)
        with open(path + ".out") as f:
            return json.load(f)


def tfidf_worker(path):
    """In the scikit-learn virtualenv: fit and score each split."""
    import re

    import numpy as np
    import sklearn
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    with open(path) as f:
        splits = json.load(f)
    tag = re.compile(r"<[^<>]{0,200}>")
    results = {}
    for name, split in splits.items():
        (train_texts, train_labels), (test_texts, test_labels) = split["train"], split["test"]
        started = time.perf_counter()
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True,
                                     preprocessor=lambda t: tag.sub(" ", t).lower())
        x = vectorizer.fit_transform(train_texts)
        search = GridSearchCV(LogisticRegression(solver="liblinear"),
                              {"C": [0.3, 1, 3, 10, 30, 100]},
                              cv=StratifiedKFold(5, shuffle=True, random_state=0),
                              scoring="accuracy")
        search.fit(x, train_labels)
        fit_seconds = time.perf_counter() - started
        predicted = search.predict(vectorizer.transform(test_texts))
        accuracy = float(np.mean(predicted == np.array(test_labels)))
        results[name] = {"test": {"accuracy": accuracy, "samples": len(test_texts)},
                         "C": search.best_params_["C"],
                         "cv_accuracy": float(search.best_score_),
                         "features": int(x.shape[1]), "fit_seconds": fit_seconds,
                         "sklearn": sklearn.__version__}
        print(f"tfidf {name}: C {search.best_params_['C']}, test {accuracy:.4f} "
              f"({fit_seconds:.0f} s)", flush=True)
    with open(path + ".out", "w") as f:
        json.dump(results, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
