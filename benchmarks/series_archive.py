"""The series classifier on more archive problems, beside MiniRocket.

ItalyPowerDemand (benchmarks/series_classification.py) is one univariate
problem of 24 equal steps. The classifier is meant for any `.ts` problem,
so this script runs it, with the task's defaults, on the UCR/UEA problems
that aeon ships inside its wheel (BSD-3; found in .venv-aeon), each with
the archive's own split: univariate and multivariate, equal and unequal
lengths, 2 to 10 classes, 7 to 361 steps. MiniRocket (aeon) runs in a
second process on the same files with the same seeds.

A candidate change of the defaults can be measured here too (`--name`
and `--set key=value`, train_classifier's arguments): these problems, not
ItalyPowerDemand's test file, are where a change of the defaults is
compared, and each candidate's figures are kept under its name.

    python3 -m venv .venv-aeon && .venv-aeon/bin/pip install -c constraints.txt aeon==1.6.0
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/series_archive.py --threads 1
    .venv/bin/python benchmarks/series_archive.py --name refit --set refit=true --no-minirocket
    .venv/bin/python benchmarks/series_archive.py --problems OSULeaf --held-out --seeds 2
    .venv/bin/python benchmarks/series_archive.py --quick     # a smoke run, to /tmp

Merges into benchmarks/results/series_archive.json and prints a table.
"""

import argparse
import json
import os
import statistics
import subprocess
import time

from common import ROOT, OtherLoad, commit, load_record, load_summary, output_path, write_report
from series_classification import AEON_PYTHON, run_minirocket

# aeon 1.6's bundled classification problems, the regression and unit-test ones left out
# (OSULeaf, 200 x 427 steps, and ACSF1, 100 x 1460, take --problems: they take many minutes
# a seed on one thread; OSULeaf ran --held-out, after the defaults were chosen on these)
PROBLEMS = ("ArrowHead", "BasicMotions", "GunPoint", "JapaneseVowels", "PickupGestureWiimoteZ")


def aeon_data_folder():
    """The folder of aeon's bundled problems, asked of .venv-aeon's Python."""
    if not os.path.exists(AEON_PYTHON):
        raise SystemExit(f"{os.path.relpath(AEON_PYTHON, ROOT)} not found: install aeon there "
                         "(see this script's docstring), or give --data")
    code = "import os, aeon.datasets as d; print(os.path.join(os.path.dirname(d.__file__), 'data'))"
    return subprocess.run([AEON_PYTHON, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip()


def describe(data):
    return {"samples": len(data), "features": data.n_features,
            "classes": len(set(data.labels)), "min_length": int(data.lengths.min()),
            "max_length": int(data.lengths.max())}


def run_problem(train_path, test_path, seeds, overrides):
    """lstmkit's classifier trained per seed on the training file, the test file scored once."""
    from lstmkit.data.tsfile import read_series_file
    from lstmkit.tasks.series_ensemble import train_classifier

    train, test = read_series_file(train_path), read_series_file(test_path)
    runs = []
    for seed in seeds:
        started = time.perf_counter()
        classifier = train_classifier(train, seed=seed, device="cpu", **overrides)
        fit_seconds = time.perf_counter() - started
        report = classifier.evaluate(test)
        runs.append({"seed": seed, "fit_seconds": fit_seconds, "accuracy": report["accuracy"],
                     "balanced_accuracy": report["balanced_accuracy"],
                     "macro_f1": report["macro_f1"], "log_loss": report["log_loss"],
                     "best_epochs": classifier.info["best_epochs"]})
        print(f"  seed {seed}: accuracy {report['accuracy']:.4f}, log loss "
              f"{report['log_loss']:.3f}, fit {fit_seconds:.0f} s", flush=True)
    return {"train": describe(train), "test": describe(test), "runs": runs,
            "accuracy": statistics.mean(r["accuracy"] for r in runs),
            "log_loss": statistics.mean(r["log_loss"] for r in runs),
            "fit_seconds": statistics.mean(r["fit_seconds"] for r in runs),
            "settings": classifier.info["settings"]}


# what the classifier did before an option existed, for the entries measured before it
BEFORE_OPTIONS = {"dimension_shuffle": False, "length_noise": 0}


def default_candidate(candidates):
    """The name of the candidate measured with train_classifier's defaults as
    they stand (its settings, seed and shortened quick runs aside), or None."""
    import inspect

    from lstmkit.tasks.series_ensemble import MODEL_DEFAULTS, resolved, train_classifier

    defaults = {name: p.default for name, p in inspect.signature(train_classifier).parameters
                .items() if p.default is not inspect.Parameter.empty}
    defaults = {**defaults, **resolved(MODEL_DEFAULTS)}
    for name, problems in candidates.items():
        settings = {**BEFORE_OPTIONS, **next(iter(problems.values()))["settings"]}
        if all(settings.get(k) == v for k, v in defaults.items()
               if k in settings and k != "seed"):
            return name
    return None


def parse_sets(pairs):
    """`key=value` pairs, each value read as JSON (true, 0.1, "mean") or else as a string."""
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set wants key=value, got {pair!r}")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="a folder of NAME/NAME_TRAIN.ts and NAME_TEST.ts "
                                       "(default: aeon's bundled problems, from .venv-aeon)")
    parser.add_argument("--problems", default=",".join(PROBLEMS),
                        help=f"comma-separated (default {','.join(PROBLEMS)})")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0, 1, ... (default 3)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--name", default="default", help="the candidate's name (default: the "
                                                          "defaults as they stand)")
    parser.add_argument("--about", help="what the candidate changes, for the README's table")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a train_classifier argument for this candidate (repeatable)")
    parser.add_argument("--no-minirocket", action="store_true", help="lstmkit only")
    parser.add_argument("--held-out", action="store_true",
                        help="these problems chose no default: the README lists them apart")
    parser.add_argument("--quick", action="store_true",
                        help="one seed, one member, few epochs, two problems: the script runs")
    parser.add_argument("--out", help="default benchmarks/results/series_archive.json "
                                      "(a temporary file with --quick)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    out = output_path("series_archive", args.out, args.quick)
    folder = args.data or aeon_data_folder()
    problems = args.problems.split(",")[:2 if args.quick else None]
    seeds = list(range(1 if args.quick else args.seeds))
    overrides = {**parse_sets(args.set), **({"members": 1, "epochs": 3} if args.quick else {})}

    previous = {}
    if os.path.exists(out):
        with open(out) as f:
            previous = json.load(f)
    held_out = list(dict.fromkeys([*previous.get("held_out", []),
                                   *(problems if args.held_out else [])]))
    candidates = previous.get("candidates", {})
    minirocket = previous.get("minirocket", {})
    start_load = load_record()
    with OtherLoad() as whole:
        measured = {}
        for name in problems:
            train_path = os.path.join(folder, name, f"{name}_TRAIN.ts")
            test_path = os.path.join(folder, name, f"{name}_TEST.ts")
            print(f"{name} ({args.name}):", flush=True)
            measured[name] = {**run_problem(train_path, test_path, seeds, overrides),
                              "commit": commit(), "seeds": seeds}
            if not args.no_minirocket:
                result = run_minirocket(train_path, test_path, seeds, args.threads)
                if "runs" in result:
                    result["accuracy"] = statistics.mean(r["test_accuracy"]
                                                         for r in result["runs"])
                    result["fit_seconds"] = statistics.mean(r["fit_seconds"]
                                                            for r in result["runs"])
                    print(f"  MiniRocket: accuracy {result['accuracy']:.4f}", flush=True)
                minirocket[name] = result
    candidates.setdefault(args.name, {}).update(measured)
    about = {**previous.get("about", {}), **({args.name: args.about} if args.about else {})}
    report = {
        "benchmark": "series classification on aeon's bundled UCR/UEA problems, their own "
                     "splits",
        "protocol": "each candidate trained on the training file per seed; the test file scored "
                    "once per seed. ItalyPowerDemand's test file is not among these",
        "config": {"seeds": seeds, "threads": args.threads, "data": folder},
        "load": load_summary(start_load, load_record(), whole.share),
        "problems": [p for p in dict.fromkeys([*previous.get("problems", []), *problems])
                     if p not in held_out],
        "held_out": held_out,
        "default": default_candidate(candidates), "about": about,
        "candidates": candidates, "minirocket": minirocket}
    write_report(report, out, __file__, argv)
    print(f"\n{'problem':24} {'lstmkit':>9} {'MiniRocket':>11}")
    for name in problems:
        rocket = minirocket.get(name, {}).get("accuracy")
        print(f"{name:24} {measured[name]['accuracy']:9.4f} "
              f"{'-' if rocket is None else format(rocket, '.4f'):>11}")
    print(f"other processes used {100 * whole.share:.1f}% of the CPUs; wrote {out}")


if __name__ == "__main__":
    main()
