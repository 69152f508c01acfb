"""Series classification on UCR ItalyPowerDemand: lstmkit's ensemble beside MiniRocket.

The archive's own split (67 training, 1029 test samples of 24 steps, two
classes). For each seed, lstmkit's series classifier is trained with the
task's defaults on the training file only (lstmkit.tasks.series: the
members stopped early on folds of the training data) and the test file is
scored once. MiniRocket (aeon, a benchmark-only peer installed in its own
virtualenv, .venv-aeon) runs in a second process on the same files with the
same seeds, so the two stand side by side with their fit times. The seeds'
ensembles are also averaged into one (5 x 5 members), scored once. How the
defaults were chosen (nested cross-validation on the training file,
benchmarks/series_selection.py) is summed up under "selection", from
benchmarks/results/series_classification-selection.json.

    python3 -m venv .venv-aeon && .venv-aeon/bin/pip install -c constraints.txt aeon==1.6.0
    .venv/bin/python benchmarks/series_classification.py            # 5 seeds, ~5 min on 2 cores
    .venv/bin/python benchmarks/series_classification.py --quick    # a smoke run, to /tmp

Writes benchmarks/results/series_classification.json and prints a table.
Without .venv-aeon, MiniRocket is left out and the report says so.
"""

import argparse
import json
import os
import statistics
import subprocess
import time

from common import ROOT, OtherLoad, load_record, load_summary, output_path, write_report

DATA = os.path.join(os.path.dirname(ROOT), "shared", "datasets", "sequence_classification",
                    "ItalyPowerDemand")
AEON_PYTHON = os.path.join(ROOT, ".venv-aeon", "bin", "python")
SELECTION = os.path.join(ROOT, "benchmarks", "results", "series_classification-selection.json")
# the selection's candidate that the defaults are: LSTM-FCN's layout with 64-128-64 filters,
# its dimension shuffle and its LSTM (8 units, dropout 0.8), chosen on other archive problems
# (benchmarks/series_archive.py)
CHOSEN = "shuffle8"
PUBLISHED = [  # test accuracy on ItalyPowerDemand, as published (single figures)
    ("LSTM-FCN (Karim et al. 2017)", 0.970),
    ("ALSTM-FCN (Karim et al. 2017)", 0.973),
    ("InceptionTime (Ismail Fawaz et al. 2020)", 0.968),
]
AEON_MEASURED = [  # measured with aeon 1.6 by the author, 3 seeds; not rerun here
    ("Rocket (aeon 1.6, 3 seeds)", 0.969),
    ("1-NN DTW (aeon 1.6)", 0.950),
]


def figures(values):
    return {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1
            else 0.0, "min": min(values), "max": max(values), "runs": values}


def run_lstmkit(train_path, test_path, seeds, threads, overrides):
    import torch

    from lstmkit.data.tsfile import read_series_file
    from lstmkit.reports import classification_report
    from lstmkit.tasks.series_ensemble import train_classifier

    torch.set_num_threads(threads)
    train, test = read_series_file(train_path), read_series_file(test_path)
    runs, probabilities = [], []
    for seed in seeds:
        started = time.perf_counter()
        classifier = train_classifier(train, seed=seed, device="cpu", **overrides)
        fit_seconds = time.perf_counter() - started
        started = time.perf_counter()
        probabilities.append(classifier.predict_proba(test))  # the test file, scored once per seed
        predict_seconds = time.perf_counter() - started
        y = classifier.preprocessing.encode_labels(test)
        report = classification_report(y, probabilities[-1].argmax(1), classifier.labels)
        runs.append({"seed": seed, "fit_seconds": fit_seconds, "predict_seconds": predict_seconds,
                     "test": report,
                     "out_of_fold_accuracy": classifier.info["out_of_fold"]["accuracy"],
                     "best_epochs": classifier.info["best_epochs"],
                     "settings": classifier.info["settings"]})
        print(f"lstmkit seed {seed}: test accuracy {report['accuracy']:.4f}, out-of-fold "
              f"{runs[-1]['out_of_fold_accuracy']:.4f}, fit {fit_seconds:.1f} s", flush=True)
    # every seed's ensemble together: the mean of their probabilities, scored once
    pooled = classification_report(y, sum(probabilities).argmax(1), classifier.labels)
    return runs, pooled


def selection_summary():
    """Each candidate's nested cross-validation figures on the training file, or None."""
    if not os.path.exists(SELECTION):
        return None
    with open(SELECTION) as f:
        selection = json.load(f)
    return {"file": os.path.relpath(SELECTION, ROOT), "what": selection["what"], "chosen": CHOSEN,
            "candidates": {name: {k: c[k] for k in ("change", "accuracy", "log_loss", "errors",
                                                    "predictions")}
                           for name, c in selection["candidates"].items()}}


def run_minirocket(train_path, test_path, seeds, threads):
    """MiniRocket in .venv-aeon, one fit per seed: {"runs": [...]} or {"skipped": why}."""
    if not os.path.exists(AEON_PYTHON):
        return {"skipped": f"{os.path.relpath(AEON_PYTHON, ROOT)} not found: install aeon there "
                           "(see this script's docstring)"}
    result = subprocess.run(
        [AEON_PYTHON, os.path.abspath(__file__), "--aeon-worker", train_path, test_path,
         ",".join(map(str, seeds))],
        capture_output=True, text=True, check=False,
        env={**os.environ, "OMP_NUM_THREADS": str(threads), "NUMBA_NUM_THREADS": str(threads)})
    if result.returncode != 0:
        raise SystemExit(f"the aeon worker failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def aeon_worker(train_path, test_path, seeds):
    """Runs under .venv-aeon (no torch, no lstmkit): MiniRocket fit and scored per seed."""
    import aeon
    import numpy as np
    from aeon.classification.convolution_based import MiniRocketClassifier
    from aeon.datasets import load_from_ts_file

    x_train, y_train = load_from_ts_file(train_path)
    x_test, y_test = load_from_ts_file(test_path)
    padded_to = None
    if isinstance(x_train, list) or isinstance(x_test, list):  # unequal lengths: MiniRocket
        # needs one, so both files are zero-padded at the end to the longest series of either
        from aeon.transformations.collection.unequal_length import Padder
        padded_to = max(x.shape[-1] for x in [*x_train, *x_test])
        x_train, x_test = (Padder(padded_length=padded_to).fit_transform(x)
                           for x in (x_train, x_test))
    started = time.perf_counter()
    MiniRocketClassifier(random_state=0).fit(x_train, y_train)  # numba compiles on the first fit
    first_fit = time.perf_counter() - started
    runs = []
    for seed in seeds:
        classifier = MiniRocketClassifier(random_state=seed)
        started = time.perf_counter()
        classifier.fit(x_train, y_train)
        fit_seconds = time.perf_counter() - started
        accuracy = float(np.mean(classifier.predict(x_test) == y_test))
        runs.append({"seed": seed, "fit_seconds": fit_seconds, "test_accuracy": accuracy})
    print(json.dumps({"aeon": aeon.__version__, "first_fit_seconds_with_compilation": first_fit,
                      "zero_padded_to": padded_to, "runs": runs}))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0, 1, ... (default 5)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--data", default=DATA, help="folder of ItalyPowerDemand_TRAIN/TEST.ts")
    parser.add_argument("--quick", action="store_true",
                        help="one seed, one member, few epochs: checks the script runs")
    parser.add_argument("--out", help="default benchmarks/results/series_classification.json "
                                      "(a temporary file with --quick)")
    parser.add_argument("--aeon-worker", nargs=3, metavar=("TRAIN", "TEST", "SEEDS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.aeon_worker:
        train_path, test_path, seeds = args.aeon_worker
        return aeon_worker(train_path, test_path, [int(s) for s in seeds.split(",")])
    out = output_path("series_classification", args.out, args.quick)
    seeds = list(range(1 if args.quick else args.seeds))
    overrides = {"members": 1, "epochs": 5} if args.quick else {}
    train_path = os.path.join(args.data, "ItalyPowerDemand_TRAIN.ts")
    test_path = os.path.join(args.data, "ItalyPowerDemand_TEST.ts")

    start_load = load_record()
    with OtherLoad() as whole:
        started = time.perf_counter()
        lstmkit_runs, pooled = run_lstmkit(train_path, test_path, seeds, args.threads, overrides)
        lstmkit_seconds = time.perf_counter() - started
        minirocket = run_minirocket(train_path, test_path, seeds, args.threads)
    accuracy = figures([r["test"]["accuracy"] for r in lstmkit_runs])
    report = {
        "benchmark": "series classification, UCR ItalyPowerDemand, the archive's split",
        "config": {"data": "ItalyPowerDemand (UCR), 67 training and 1029 test samples",
                   "seeds": seeds, "threads": args.threads, "overrides": overrides,
                   "settings": lstmkit_runs[0]["settings"],
                   "protocol": "defaults chosen on the training split only; the test file "
                               "scored once per seed"},
        "load": load_summary(start_load, load_record(), whole.share),
        "lstmkit": {
            "test_accuracy": accuracy,
            "balanced_accuracy": figures([r["test"]["balanced_accuracy"] for r in lstmkit_runs]),
            "macro_f1": figures([r["test"]["macro_f1"] for r in lstmkit_runs]),
            "out_of_fold_accuracy": figures([r["out_of_fold_accuracy"] for r in lstmkit_runs]),
            "fit_seconds": figures([r["fit_seconds"] for r in lstmkit_runs]),
            "wall_seconds": lstmkit_seconds, "runs": lstmkit_runs,
            "all_seeds_pooled": {"members": sum(r["settings"]["members"] for r in lstmkit_runs),
                                 **pooled}},
        "minirocket": minirocket if "skipped" in minirocket else {
            "aeon": minirocket["aeon"],
            "first_fit_seconds_with_compilation": minirocket["first_fit_seconds_with_compilation"],
            "test_accuracy": figures([r["test_accuracy"] for r in minirocket["runs"]]),
            "fit_seconds": figures([r["fit_seconds"] for r in minirocket["runs"]]),
            "runs": minirocket["runs"]},
        "selection": selection_summary(),
        "published": [{"method": m, "test_accuracy": a} for m, a in PUBLISHED],
        "aeon_measured_in_the_issue": [{"method": m, "test_accuracy": a}
                                       for m, a in AEON_MEASURED],
    }
    write_report(report, out, __file__, argv)
    print(f"lstmkit: test accuracy {accuracy['mean']:.4f} ± {accuracy['std']:.4f} "
          f"({accuracy['min']:.4f}-{accuracy['max']:.4f}) over {len(seeds)} seed(s), "
          f"{lstmkit_seconds:.0f} s in all; the {len(seeds)} ensembles pooled: "
          f"{pooled['accuracy']:.4f}")
    if "skipped" in minirocket:
        print(f"MiniRocket skipped: {minirocket['skipped']}")
    else:
        m = report["minirocket"]
        print(f"MiniRocket (aeon {m['aeon']}): {m['test_accuracy']['mean']:.4f} ± "
              f"{m['test_accuracy']['std']:.4f}, fit {m['fit_seconds']['mean']:.2f} s")
    print(f"other processes used {100 * whole.share:.1f}% of the CPUs; wrote {out}")


if __name__ == "__main__":
    main()
