"""Forecasting under ../shared/forecast-protocol.md: lstmkit's default
Forecaster, the built-in baselines and the peers (statsforecast AutoETS,
AutoARIMA, AutoTheta; neuralforecast's LSTM with its defaults) on the 7
series of ../shared/datasets/timeseries/, each scored once on its last h
values (MASE primary, sMAPE, RMSE, fit time).

    .venv/bin/python benchmarks/forecasting.py                  # everything
    .venv/bin/python benchmarks/forecasting.py --inner --set units=32
        # model selection: the same run on each series' TRAINING part, its
        # last h values held out, never the test part

lstmkit runs with the same settings on every series (Forecaster's
DEFAULTS, or --set overrides, recorded) over --seeds seeds. The peers run
in a subprocess under the benchmark-only venv .venv-forecast (this file run
with --peers-worker, importing neither torch nor lstmkit at module level),
beside lstmkit's run, each on one thread;
without it the report says so and carries the protocol's reference
figures, labelled as the protocol measured them.
"""

import argparse
import csv
import json
import math
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(ROOT, "..", "shared", "datasets", "timeseries")
PEERS_VENV = os.path.join(ROOT, ".venv-forecast", "bin", "python")
OUT = os.path.join(HERE, "results", "forecasting.json")

# id: (file, time column, value column, frequency), as the protocol lists them
SERIES = {
    "airline-passengers": ("airline-passengers.csv", "Month", "Passengers", "monthly"),
    "monthly-sunspots": ("monthly-sunspots.csv", "Month", "Sunspots", "monthly"),
    "daily-min-temperatures": ("daily-min-temperatures.csv", "Date", "Temp", "daily"),
    "daily-max-temperatures": ("daily-max-temperatures.csv", "Date", "Temperature", "daily"),
    "daily-total-female-births": ("daily-total-female-births.csv", "Date", "Births", "daily"),
    "monthly-mean-temp": ("monthly-mean-temp.csv", "Month", "Temperature", "monthly"),
    "shampoo": ("shampoo.csv", "Month", "Sales", "monthly"),
}
PERIOD_HORIZON = {"monthly": (12, 24), "quarterly": (4, 8), "weekly": (52, 104),
                  "daily": (7, 14), "yearly": (1, 10)}

# The protocol file's reference MASE (statsforecast 2.1.1; neuralforecast 3.3.0 LSTM)
PROTOCOL = {
    "Naive": [4.033, 2.622, 0.392, 2.255, 0.816, 4.571, 1.546],
    "SeasonalNaive": [2.494, 2.360, 0.604, 1.261, 0.680, 0.700, 2.364],
    "AutoETS": [2.378, 2.585, 0.369, 2.163, 0.732, 0.594, 1.866],
    "AutoARIMA": [2.400, 2.635, 0.562, 0.907, 0.712, 0.640, 1.841],
    "AutoTheta": [1.792, 2.588, 0.370, 0.769, 0.730, 0.625, 1.435],
    "neuralforecast LSTM": [1.764, 0.990, 1.078, 1.249, 0.796, 0.738, 1.134],
}
PROTOCOL_NF_SECONDS = [124, 121, 66, 65, 66, 120, 64]


# ----- the protocol (plain Python: the peers' worker runs it too) ------------------

def read_values(name):
    """(dates as text, values) of a series, in file order."""
    file, time_col, value_col, _ = SERIES[name]
    with open(os.path.join(DATA, file), newline="") as f:
        rows = list(csv.DictReader(f))
    return [r[time_col] for r in rows], [float(r[value_col]) for r in rows]


def split(name, inner=False):
    """(train, test, m, h) by the protocol; with inner, the training part
    split again the same way (for choosing settings without the test part)."""
    _, values = read_values(name)
    m, h = PERIOD_HORIZON[SERIES[name][3]]
    n = len(values)
    if n - h < 2 * m:  # the protocol's short-series exception (shampoo)
        h = m
    train, test = values[:n - h], values[n - h:]
    if inner:  # a shorter inner horizon where the training part cannot spare h (shampoo)
        h = min(h, (len(train) - 2) // 2)
        train, test = train[:-h], train[-h:]
    return train, test, m, h


def mase(y, f, train, m):
    scale = sum(abs(a - b) for a, b in zip(train[m:], train[:-m])) / (len(train) - m)
    return sum(abs(a - b) for a, b in zip(y, f)) / len(y) / scale


def smape(y, f):
    terms = [2 * abs(a - b) / (abs(a) + abs(b)) if abs(a) + abs(b) > 0 else 0.0
             for a, b in zip(y, f)]
    return 100 * sum(terms) / len(terms)


def rmse(y, f):
    return math.sqrt(sum((a - b) ** 2 for a, b in zip(y, f)) / len(y))


def score(y, f, train, m):
    return {"mase": mase(y, f, train, m), "smape": smape(y, f), "rmse": rmse(y, f)}


def summary(per_series):
    """Mean and median MASE over the series."""
    values = [per_series[name]["mase"] for name in SERIES]
    return {"mean_mase": statistics.mean(values), "median_mase": statistics.median(values)}


# ----- lstmkit and the baselines -------------------------------------------------------

def run_lstmkit(seeds, settings, inner, threads, print_fn=print):
    import numpy as np
    import torch

    from lstmkit.data.timeseries import read_series_csv
    from lstmkit.forecast import Forecaster, coverage

    torch.set_num_threads(threads)
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # its first use imports torch._dynamo
    runs = []
    for seed in seeds:
        per_series = {}
        for name in SERIES:
            train, test, m, h = split(name, inner)
            ts = read_series_csv(os.path.join(DATA, SERIES[name][0]), SERIES[name][1],
                                 SERIES[name][2])
            dates = ts.dates[:len(train)]
            started = time.perf_counter()
            forecaster = Forecaster(**settings).fit(np.array(train), horizon=h, season=m,
                                                    frequency=ts.frequency, dates=dates,
                                                    seed=seed)
            forecast = forecaster.predict()
            seconds = time.perf_counter() - started
            figures = score(test, forecast.point.tolist(), train, m)
            figures["coverage"] = coverage(test, forecast.lower, forecast.upper)
            figures["fit_seconds"] = seconds
            figures["best_epochs"] = [mem["best_epoch"] for mem in forecaster.info["members"]]
            per_series[name] = figures
            print_fn(f"seed {seed} {name}: MASE {figures['mase']:.3f} sMAPE "
                     f"{figures['smape']:.2f} coverage {figures['coverage']:.2f} "
                     f"({seconds:.1f} s)")
        runs.append({"seed": seed, "series": per_series, **summary(per_series)})
        print_fn(f"seed {seed}: mean MASE {runs[-1]['mean_mase']:.3f}, median "
                 f"{runs[-1]['median_mase']:.3f}")
    return runs


def run_baselines(inner):
    from lstmkit.forecast import BASELINES

    out = {}
    for method, fn in BASELINES.items():
        per_series = {}
        for name in SERIES:
            train, test, m, h = split(name, inner)
            started = time.perf_counter()
            forecast = fn(train, h, m)
            per_series[name] = {**score(test, list(forecast), train, m),
                                "fit_seconds": time.perf_counter() - started}
        out[method] = {"series": per_series, **summary(per_series)}
    return out


def mean_sd(values):
    return {"mean": statistics.mean(values),
            "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
            "runs": list(values)}


def aggregate(runs):
    """Per series and overall: mean ± sd over the seeds."""
    per_series = {name: {key: mean_sd([r["series"][name][key] for r in runs])
                         for key in ("mase", "smape", "rmse", "coverage", "fit_seconds")}
                  for name in SERIES}
    return {"series": per_series,
            "mean_mase": mean_sd([r["mean_mase"] for r in runs]),
            "median_mase": mean_sd([r["median_mase"] for r in runs]),
            "fit_seconds_per_series": mean_sd([statistics.mean(
                r["series"][n]["fit_seconds"] for n in SERIES) for r in runs])}


# ----- the peers (run under .venv-forecast) ---------------------------------------

def peers_worker(inner, out_path):
    """statsforecast's AutoETS, AutoARIMA, AutoTheta and neuralforecast's LSTM
    (defaults, input size 3h, random_seed 1, one series at a time, one
    thread; padding at the start where a series is shorter than the window)."""
    import logging
    import warnings

    import pandas as pd

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import statsforecast
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta

    results = {"versions": {"statsforecast": statsforecast.__version__}, "methods": {}}
    try:
        import neuralforecast
        import torch
        from neuralforecast import NeuralForecast
        from neuralforecast.models import LSTM

        torch.set_num_threads(1)
        results["versions"]["neuralforecast"] = neuralforecast.__version__
    except ImportError as e:
        neuralforecast = None
        results["neuralforecast_error"] = str(e)
    for name in SERIES:
        train, test, m, h = split(name, inner)
        frame = pd.DataFrame({"unique_id": name, "ds": range(len(train)), "y": train})
        for label, model in (("AutoETS", AutoETS(season_length=m)),
                             ("AutoARIMA", AutoARIMA(season_length=m)),
                             ("AutoTheta", AutoTheta(season_length=m))):
            started = time.perf_counter()
            forecast = StatsForecast(models=[model], freq=1, n_jobs=1).forecast(df=frame, h=h)
            seconds = time.perf_counter() - started
            values = forecast[[c for c in forecast.columns if c not in ("unique_id", "ds")][0]]
            results["methods"].setdefault(label, {})[name] = {
                **score(test, list(map(float, values)), train, m), "fit_seconds": seconds}
        if neuralforecast is not None:
            started = time.perf_counter()
            input_size = 3 * h
            model = LSTM(h=h, input_size=input_size, random_seed=1,
                         start_padding_enabled=len(train) < input_size + h,
                         enable_progress_bar=False, logger=False,
                         enable_model_summary=False, accelerator="cpu")
            nf = NeuralForecast(models=[model], freq=1)
            nf.fit(df=frame)
            forecast = nf.predict()
            seconds = time.perf_counter() - started
            results["methods"].setdefault("neuralforecast LSTM", {})[name] = {
                **score(test, list(map(float, forecast["LSTM"])), train, m),
                "fit_seconds": seconds}
        print(f"peers: {name} done", flush=True)
    for label, per_series in results["methods"].items():
        results["methods"][label] = {"series": per_series, **summary(per_series)}
    with open(out_path, "w") as f:
        json.dump(results, f, indent=2)


def start_peers(inner):
    """The peers' worker started under .venv-forecast, on one thread, beside
    lstmkit's run (which takes one thread too): (process, its output file),
    or the reason it cannot start."""
    if not os.path.exists(PEERS_VENV):
        return {"skipped": f"{os.path.relpath(PEERS_VENV, ROOT)} does not exist (create it: "
                           "python3.11 -m venv .venv-forecast; .venv-forecast/bin/pip install -c "
                           "constraints.txt torch==2.13.0 statsforecast neuralforecast)"}
    out = os.path.join(HERE, "results", ".forecasting-peers.json")
    command = [PEERS_VENV, os.path.abspath(__file__), "--peers-worker", out] + (
        ["--inner"] if inner else [])
    log = open(out + ".log", "w")  # a file, not a pipe: nobody reads it until lstmkit is done
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    return process, out


def finish_peers(started):
    """The peers' figures from the worker, or why there are none."""
    if isinstance(started, dict):
        return started
    process, out = started
    process.wait()
    with open(out + ".log") as f:
        output = f.read()
    os.unlink(out + ".log")
    if process.returncode != 0:
        tail = output.strip().splitlines()[-1:] or ["no output"]
        return {"skipped": f"the peers' worker failed: {tail[0]}"}
    with open(out) as f:
        results = json.load(f)
    os.unlink(out)
    results["ran"] = "beside lstmkit's run, each on one thread of the 2-core machine"
    return results


def protocol_reference():
    names = list(SERIES)
    out = {}
    for label, values in PROTOCOL.items():
        per_series = {n: {"mase": v} for n, v in zip(names, values)}
        if label == "neuralforecast LSTM":
            for n, s in zip(names, PROTOCOL_NF_SECONDS):
                per_series[n]["fit_seconds"] = s
        out[label] = {"series": per_series, **summary(per_series)}
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="lstmkit seeds (default 3)")
    parser.add_argument("--inner", action="store_true",
                        help="score on each training part's last h values (model selection)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a Forecaster setting (JSON value), for --inner")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--no-peers", action="store_true", help="skip the peers")
    parser.add_argument("--out", default=None, help=f"the report (default {OUT}; with --inner "
                        "results/forecasting-inner.json)")
    parser.add_argument("--peers-from", metavar="JSON",
                        help="take the peers' figures from a file an earlier --peers-worker run "
                        "wrote (same split), instead of running them again")
    parser.add_argument("--series", metavar="NAMES", help="only these series, comma-separated "
                        "(a setting some series are too short for, compared on the rest)")
    parser.add_argument("--peers-worker", metavar="OUT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.series:
        unknown = sorted(set(args.series.split(",")) - set(SERIES))
        if unknown:
            parser.error(f"--series: unknown {unknown}; known: {', '.join(SERIES)}")
        for name in set(SERIES) - set(args.series.split(",")):
            del SERIES[name]  # every part of the run reads the series from SERIES
    if args.peers_worker:
        return peers_worker(args.inner, args.peers_worker)
    sys.path.insert(0, ROOT)
    from benchmarks.common import write_report

    from lstmkit.forecast import DEFAULTS

    settings = {}
    for item in args.set:
        key, _, value = item.partition("=")
        settings[key] = json.loads(value)
    peers = None if args.peers_from or args.no_peers else start_peers(args.inner)
    runs = run_lstmkit(list(range(args.seeds)), settings, args.inner, args.threads)
    report = {"benchmark": "forecasting", "protocol": "../shared/forecast-protocol.md v1",
              "inner_validation": args.inner,
              "splits": {n: dict(zip(("train", "test", "m", "h"),
                                     (len(split(n, args.inner)[0]), len(split(n, args.inner)[1]),
                                      *split(n, args.inner)[2:]))) for n in SERIES},
              "lstmkit": {"settings": {**DEFAULTS, **settings}, "threads": args.threads,
                          "runs": runs, **aggregate(runs)},
              "baselines": run_baselines(args.inner)}
    if args.peers_from:
        with open(args.peers_from) as f:
            report["peers"] = {**json.load(f), "measured_by": "an earlier run of this script's "
                               "peers worker (" + " ".join([os.path.relpath(PEERS_VENV, ROOT),
                               "benchmarks/forecasting.py", "--peers-worker", "OUT"]) + ")"}
    elif peers is not None:
        report["peers"] = finish_peers(peers)
    if "peers" not in report or "skipped" in report["peers"]:
        report["peers_as_the_protocol_measured"] = protocol_reference()
    out = args.out or (os.path.join(HERE, "results", "forecasting-inner.json") if args.inner
                       else OUT)
    write_report(report, out, __file__, argv)
    lk = report["lstmkit"]
    print(f"lstmkit: mean MASE {lk['mean_mase']['mean']:.3f} ± {lk['mean_mase']['sd']:.3f}, "
          f"median {lk['median_mase']['mean']:.3f} ± {lk['median_mase']['sd']:.3f}, "
          f"{lk['fit_seconds_per_series']['mean']:.1f} s per series")
    for method, figures in report["baselines"].items():
        print(f"{method}: mean MASE {figures['mean_mase']:.3f}, median {figures['median_mase']:.3f}")
    for method, figures in report.get("peers", {}).get("methods", {}).items():
        print(f"{method}: mean MASE {figures['mean_mase']:.3f}, median {figures['median_mase']:.3f}")
    print(f"written to {os.path.relpath(out, ROOT)}")


if __name__ == "__main__":
    main()
