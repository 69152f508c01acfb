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
                        help="comma-separated: default, tutorial, lstm, nb, nb2, bag; tfidf, nbsvm (scikit-learn)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, default=10, help="cross-validation folds (rt, uci)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: on a shared 2-core machine two "
                             "threads wait on each other at every step of the recurrence)")
    parser.add_argument("--quick", action="store_true", help="a smoke run on a small subset")
    parser.add_argument("--out", help="the report file (default benchmarks/results/...)")
    parser.add_argument("--sklearn-worker", metavar="JSON", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sklearn_worker:
        return sklearn_worker(args.sklearn_worker)
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
        if name in SKLEARN_MODELS:
            results[name] = run_sklearn({"imdb": (train, test)}, args, name)["imdb"]
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
        if model in SKLEARN_MODELS:
            per_fold = run_sklearn({f"{name}/{f}": pair for name, pairs in splits.items()
                                  for f, pair in enumerate(pairs)}, args, model)
        for name, pairs in splits.items():
            accuracies, seconds = [], []
            for f, (train, test) in enumerate(pairs):
                if model in SKLEARN_MODELS:
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


# ----- the linear baselines --------------------------------------------------------------------

SKLEARN_MODELS = ("tfidf", "nbsvm")


def run_sklearn(splits, args, kind="tfidf"):
    """A scikit-learn baseline (`kind`: 'tfidf' or 'nbsvm') on {name: (train,
    test)} in the scikit-learn virtualenv; the texts go over in a temporary
    JSON file."""
    if not os.path.exists(TEXT_PYTHON):
        raise SystemExit(f"{TEXT_PYTHON} not found: create .venv-text with scikit-learn "
                         "(see this script's docstring)")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "texts.json")
        with open(path, "w") as f:
            json.dump({"kind": kind, "splits": {
                name: {"train": [train.texts, train.labels], "test": [test.texts, test.labels]}
                for name, (train, test) in splits.items()}}, f)
        subprocess.run([TEXT_PYTHON, os.path.abspath(__file__), "--sklearn-worker", path],
                       check=True)
        with open(path + ".out") as f:
            return json.load(f)


def sklearn_worker(path):
    """In the scikit-learn virtualenv: fit and score each split with the
    baseline the file names.

    - 'tfidf': TF-IDF of word 1-2-grams (sublinear tf, min_df 2) + logistic
      regression, C by 5-fold cross-validation on the training part.
    - 'nbsvm': NBSVM-bi as Wang & Manning 2012 give it: binary word 1-2-grams
      (punctuation as tokens), each scaled by its naive Bayes log-count
      ratio (alpha 1), a linear SVM (squared hinge, C 1) whose weights are
      interpolated toward their mean magnitude (beta 0.25): the paper's
      settings, not tuned here.
    """
    import re

    import numpy as np
    import sklearn

    with open(path) as f:
        job = json.load(f)
    tag = re.compile(r"<[^<>]{0,200}>")
    fit = {"tfidf": _fit_tfidf, "nbsvm": _fit_nbsvm}[job["kind"]]
    results = {}
    for name, split in job["splits"].items():
        (train_texts, train_labels), (test_texts, test_labels) = split["train"], split["test"]
        started = time.perf_counter()
        predict, details = fit(train_texts, np.array(train_labels),
                               lambda t: tag.sub(" ", t).lower())
        fit_seconds = time.perf_counter() - started
        accuracy = float(np.mean(predict(test_texts) == np.array(test_labels)))
        results[name] = {"test": {"accuracy": accuracy, "samples": len(test_texts)}, **details,
                         "fit_seconds": fit_seconds, "sklearn": sklearn.__version__}
        print(f"{job['kind']} {name}: test {accuracy:.4f} ({fit_seconds:.0f} s)", flush=True)
    with open(path + ".out", "w") as f:
        json.dump(results, f)
    return 0


def _fit_tfidf(texts, labels, preprocessor):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True,
                                 preprocessor=preprocessor)
    x = vectorizer.fit_transform(texts)
    search = GridSearchCV(LogisticRegression(solver="liblinear"),
                          {"C": [0.3, 1, 3, 10, 30, 100]},
                          cv=StratifiedKFold(5, shuffle=True, random_state=0),
                          scoring="accuracy")
    search.fit(x, labels)
    return (lambda t: search.predict(vectorizer.transform(t)),
            {"C": search.best_params_["C"], "cv_accuracy": float(search.best_score_),
             "features": int(x.shape[1])})


def _fit_nbsvm(texts, labels, preprocessor, alpha=1.0, c=1.0, beta=0.25):
    import numpy as np
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.svm import LinearSVC

    classes = np.unique(labels)
    if len(classes) != 2:
        raise SystemExit("nbsvm: the baseline is for two classes")
    vectorizer = CountVectorizer(ngram_range=(1, 2), binary=True, preprocessor=preprocessor,
                                 token_pattern=r"(?u)\b\w+\b|[^\w\s]")
    x = vectorizer.fit_transform(texts)
    positive = labels == classes[1]
    p = alpha + np.asarray(x[positive].sum(0))[0]
    q = alpha + np.asarray(x[~positive].sum(0))[0]
    ratio = np.log(p / p.sum()) - np.log(q / q.sum())
    svm = LinearSVC(C=c, loss="squared_hinge", max_iter=10000).fit(x.multiply(ratio).tocsr(),
                                                                    positive)
    w = (1 - beta) * np.abs(svm.coef_[0]).mean() + beta * svm.coef_[0]
    bias = svm.intercept_[0]

    def predict(t):
        score = vectorizer.transform(t).multiply(ratio).tocsr() @ w + bias
        return np.where(score > 0, classes[1], classes[0])
    return predict, {"features": int(x.shape[1]), "alpha": alpha, "C": c, "beta": beta}


if __name__ == "__main__":
    sys.exit(main())
