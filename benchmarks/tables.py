"""README's result tables, built from benchmarks/results/*.json.

Each table sits in README.md between two marker comments named after its
JSON file, and only what lies between them is replaced:

    <!-- table:overhead -->
    | ... |
    <!-- /table:overhead -->

    .venv/bin/python benchmarks/tables.py           # rewrite the tables in README.md
    .venv/bin/python benchmarks/tables.py --check   # exit 1, naming the stale tables

tests/test_readme.py holds README to these tables. Nothing here imports
torch: the figures are read, not measured.
"""

import argparse
import json
import os
import re
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
README = os.path.join(os.path.dirname(HERE), "README.md")

MARKED = re.compile(r"<!-- table:(?P<name>[\w-]+) -->\n(?P<body>.*?)<!-- /table:(?P=name) -->",
                    re.DOTALL)


def _ratio_rows(results, b, rows, digits):
    """Rows "label | median of paired rounds | min–max" of lstmkit/b."""
    lines = []
    for label, section in rows:
        ratio = results[section][f"ratio_lstmkit_over_{b}"]
        lines.append(f"| {label} | {ratio['median_of_rounds']:.{digits}f} | "
                     f"{ratio['min_of_rounds']:.2f}–{ratio['max_of_rounds']:.2f} |")
    return lines


def imdb_sentiment(report):
    """The tutorial's model on IMDB, beside published figures for reference."""
    return [
        "| | test loss | test accuracy |",
        "|---|---|---|",
        f"| lstmkit, seed {report['seed']} | {report['test_loss']:.3f} | "
        f"**{report['test_accuracy']:.3f}** |",
        "| Keras' imdb_lstm example (20,000 words, maxlen 80), as published | | about 0.83 |",
        "| Maas et al. 2011 (their word vectors), as published | | 0.889 |",
    ]


def overhead(report):
    config = report["config"]
    return [
        "| | lstmkit / hand, median of paired rounds | range over rounds |",
        "|---|---|---|",
        *_ratio_rows(report["results"], "hand",
                     [(f"training (batch {config['batch_size']})", "train"),
                      (f"inference (batch {config['predict_batch_size']})", "inference")], 3),
        *_keras_api_row(report["results"], config),
    ]


def _keras_api_row(results, config):
    """The tutorial as a Keras script through lstmkit.keras, against lstmkit's
    own API, where the run measured it."""
    if "train_keras_api" not in results:
        return []
    ratio = results["train_keras_api"]["ratio_keras_api_over_lstmkit"]
    return [f"| training, the Keras script through `lstmkit.keras` / lstmkit's API "
            f"(batch {config['batch_size']}) | {ratio['median_of_rounds']:.3f} | "
            f"{ratio['min_of_rounds']:.2f}–{ratio['max_of_rounds']:.2f} |"]


def keras_compare(report):
    config = report["config"]
    return [
        "| | lstmkit / Keras, median of paired rounds | range |",
        "|---|---|---|",
        *_ratio_rows(report["results"], "keras",
                     [(f"training, `fit` (batch {config['batch_size']})", "train"),
                      (f"inference, `predict` (batch {config['predict_batch_size']})",
                       "inference")], 2),
    ]


def masking(report):
    """Samples/s of each masked kernel relative to the unmasked model."""
    lines = ["| maxlen (padding) | pass | packed | padded | padded, bucketed batches |",
             "|---|---|---|---|---|"]
    for case in report["cases"]:
        for phase, label in (("train", "training"), ("inference", "inference")):
            r = case["results"][phase]
            cells = " | ".join(f"{r[name]['vs_unmasked']:.2f}x"
                               for name in ("packed", "padded", "padded+bucketed"))
            lines.append(f"| {case['maxlen']} ({case['padding_fraction']:.0%}) | {label} | "
                         f"{cells} |")
    return lines


REGULARIZERS = {  # the variants of benchmarks/regularizers.py: what each is, and its kernel
    "embedding_dropout": ("embedding dropout, `Embedding(dropout=0.1)`", "fused"),
    "locked_dropout": ("`LockedDropout(0.3)` before the LSTM", "fused"),
    "weight_dropout": ("weight dropout on W_hh, `LSTM(weight_dropout=0.5)`", "fused"),
    "recurrent_dropout": ("recurrent (variational) dropout, `LSTM(recurrent_dropout=0.25)`",
                          "the reference loop"),
}


def regularizers(report):
    """Training samples/s of each regulariser relative to none."""
    results = report["results"]
    return [
        "| regulariser | training samples/s, relative to none | kernel while training |",
        "|---|---|---|",
        *(f"| {label} | {results[name]['vs_none']:.2f}x | {kernel} |"
          for name, (label, kernel) in REGULARIZERS.items()),
    ]


def onnx_speed(report):
    """onnxruntime against predict, and the cost of one streaming step."""
    config, results = report["config"], report["results"]
    lines = [
        "| whole sequences, batch "
        f"{config['predict_batch_size']}, {config['maxlen']} steps | onnxruntime / lstmkit "
        "`predict`, samples/s, median of paired rounds | range |",
        "|---|---|---|",
    ]
    for label, section in (("every step real", "predict"),
                           ("`mask_zero=True`, padded before", "predict_masked")):
        ratio = results[section]["ratio_onnxruntime_over_lstmkit"]
        lines.append(f"| {label} | {ratio['median_of_rounds']:.2f} | "
                     f"{ratio['min_of_rounds']:.2f}–{ratio['max_of_rounds']:.2f} |")
    lines += [
        "",
        "| one step, batch 1, state carried | microseconds per step | relative to the bare "
        "`nn.LSTM` |",
        "|---|---|---|",
    ]
    for name, figures in results["steps"].items():
        shown = name.replace("bare nn.LSTM", "bare `nn.LSTM` on the embedded step")
        shown = shown.replace("hand-written PyTorch", "the network by hand (nn.Embedding, "
                              "nn.LSTM, nn.Linear)")
        shown = shown.replace("model.step, impl=", "`model.step`, impl=")
        shown = shown.replace("onnxruntime session.run", "the exported graph, onnxruntime")
        lines.append(f"| {shown} | {figures['microseconds_per_step']:.0f} | "
                     f"{figures['times_bare_lstm']:.2f}x |")
    return lines


def series_classification(report):
    """ItalyPowerDemand's test accuracy: lstmkit and MiniRocket measured over
    the same seeds, then the figures measured or published elsewhere."""
    def measured(label, figures, seconds):
        acc = figures["test_accuracy"]
        return (f"| {label}, {len(acc['runs'])} seeds | {acc['mean']:.3f} ± {acc['std']:.3f} | "
                f"{acc['min']:.3f}–{acc['max']:.3f} | {seconds} |")

    lstmkit, minirocket = report["lstmkit"], report["minirocket"]
    members = report["config"]["settings"]["members"]
    def fit_time(figures, digits):  # the machine was shared: the median, and the quietest run
        runs = figures["fit_seconds"]["runs"]
        return f"{statistics.median(runs):.{digits}f} s ({min(runs):.{digits}f} s)"

    lines = ["| | test accuracy, mean ± sd | range over seeds | fit time per seed, median "
             "(fastest) |",
             "|---|---|---|---|",
             measured(f"lstmkit `series train` (ensemble of {members})", lstmkit,
                      fit_time(lstmkit, 0))]
    pooled = lstmkit.get("all_seeds_pooled")
    if pooled:
        lines.append(f"| lstmkit, the {len(lstmkit['runs'])} seeds' ensembles averaged "
                     f"({pooled['members']} members) | {pooled['accuracy']:.4f} | | the "
                     f"{len(lstmkit['runs'])} fits |")
    if "skipped" in minirocket:
        lines.append(f"| MiniRocket | not run: {minirocket['skipped']} | | |")
    else:
        lines.append(measured(f"MiniRocket (aeon {minirocket['aeon']})", minirocket,
                              fit_time(minirocket, 2)))
    lines += [f"| {row['method']}, as the issue measured it | {row['test_accuracy']:.3f} | | |"
              for row in report["aeon_measured_in_the_issue"]]
    lines += [f"| {row['method']}, as published | {row['test_accuracy']:.3f} | | |"
              for row in report["published"]]
    selection = report.get("selection")
    if selection:  # how the defaults were chosen, on the training file alone
        lines += ["", "| nested cross-validation on the training file | accuracy | errors | "
                  "log loss |", "|---|---|---|---|"]
        for name, c in selection["candidates"].items():
            chosen = " (**the default**)" if name == selection["chosen"] else ""
            lines.append(f"| {c['change']}{chosen} | {c['accuracy']:.3f} | {c['errors']} of "
                         f"{c['predictions']} | {c['log_loss']:.3f} |")
    return lines


def ddp_scaling(report):
    """Training samples/s with one process and with two, on one machine."""
    config, results = report["config"], report["results"]
    return [
        f"| {config['global_batch_size']} samples a step, over all processes | samples/s "
        "(median of runs) | relative to 1 process x 2 threads |",
        "|---|---|---|",
        *(f"| {name} | {figures['median']:.0f} | {figures['relative_to_one_process']:.2f}x |"
          for name, figures in results.items()),
    ]


SERIES_SHAPES = {"long": "1460 steps x 1 (ACSF1's shape)", "gunpoint": "150 x 1 (GunPoint's)",
                 "multivariate": "100 x 6 (BasicMotions')",
                 "ragged": "40 to 300 x 3, unequal (lstmkit masked; the hand loop unmasked)"}


def series_speed(report):
    """The series classifier's fit against a hand-written loop, per shape,
    beside the same script's figures on earlier commits."""
    results, earlier = report["results"], report["earlier"]
    return [
        "| samples of | speed, lstmkit / hand (above 1: lstmkit faster), median of paired "
        "rounds | range over rounds | lstmkit samples/s | "
        + " | ".join(f"earlier, at {run['commit']['sha'][:7]}" for run in earlier) + " |",
        "|---|---|---|---|" + "---|" * len(earlier),
        *(line + f" {results[name]['lstmkit']['median']:.0f} | "
          + " | ".join(f"{run['ratios'][name]:.3f}" for run in earlier) + " |"
          for name, line in zip(results, _ratio_rows(
              results, "hand", [(SERIES_SHAPES[name], name) for name in results], 3))),
    ]


TABLES = {fn.__name__: fn for fn in (imdb_sentiment, overhead, keras_compare, masking,
                                     regularizers, onnx_speed, series_classification,
                                     series_speed, ddp_scaling)}


def table(fn):
    """Register `fn(report) -> lines` as the table of results/<fn name>.json."""
    TABLES[fn.__name__] = fn
    return fn


@table
def demo(report):
    """`lstmkit demo`'s held-out figures and the command's wall time."""
    wall = report["wall_seconds"]
    return [
        "| held-out accuracy | held-out loss | sentences | wall time of the command, median "
        "(range) |",
        "|---|---|---|---|",
        f"| **{report['test_accuracy']:.3f}** | {report['test_loss']:.3f} | "
        f"{report['test_samples']} | {wall['median']:.1f} s ({wall['min']:.1f}–{wall['max']:.1f} s, "
        f"{len(wall['runs'])} runs) |",
    ]


@table
def forecasting(report):
    """MASE per series under the forecasting protocol: lstmkit (mean ± sd over
    its seeds), the built-in baselines, and the peers as the script ran them
    (or, where it could not, as the protocol measured them); the mean rank
    over the series among the rows shown."""
    names = list(report["splits"])
    short = {"airline-passengers": "airline", "monthly-sunspots": "sunspots",
             "daily-min-temperatures": "min temp", "daily-max-temperatures": "max temp",
             "daily-total-female-births": "births", "monthly-mean-temp": "mean temp",
             "shampoo": "shampoo"}
    lk = report["lstmkit"]
    rows = [(f"**lstmkit Forecaster**, {len(lk['runs'])} seeds",
             [lk["series"][n]["mase"]["mean"] for n in names],
             [f"{lk['series'][n]['mase']['mean']:.3f} ± {lk['series'][n]['mase']['sd']:.3f}"
              for n in names],
             f"**{lk['mean_mase']['mean']:.3f}** ± {lk['mean_mase']['sd']:.3f}",
             f"**{lk['median_mase']['mean']:.3f}** ± {lk['median_mase']['sd']:.3f}",
             f"{lk['fit_seconds_per_series']['mean']:.1f} s")]

    def add(label, figures):
        mase = [figures["series"][n]["mase"] for n in names]
        seconds = [figures["series"][n].get("fit_seconds") for n in names]
        rows.append((label, mase, [f"{v:.3f}" for v in mase], f"{figures['mean_mase']:.3f}",
                     f"{figures['median_mase']:.3f}",
                     f"{statistics.mean(seconds):.1f} s" if None not in seconds else ""))

    for method, figures in report["baselines"].items():
        add(f"{method.replace('_', ' ')} (built in)", figures)
    peers = report.get("peers", {})
    versions = peers.get("versions", {})
    for method, figures in peers.get("methods", {}).items():
        package = "neuralforecast" if "neuralforecast" in method else "statsforecast"
        label = method if package in method else f"{package} {method}"
        add(f"{label} {versions.get(package, '')}, run by the script", figures)
    for method, figures in report.get("peers_as_the_protocol_measured", {}).items():
        add(f"{method}, as the protocol measured", figures)
    ranks = [[sorted(r[1][i] for r in rows).index(row[1][i]) + 1 for i in range(len(names))]
             for row in rows]
    lines = ["| method | " + " | ".join(short.get(n, n) for n in names)
             + " | mean MASE | median MASE | mean rank | fit time per series |",
             "|---|" + "---:|" * (len(names) + 4)]
    for row, rank in zip(rows, ranks):
        lines.append(f"| {row[0]} | " + " | ".join(row[2]) + f" | {row[3]} | {row[4]} | "
                     f"{statistics.mean(rank):.1f} | {row[5]} |")
    if "skipped" in peers:
        lines.append(f"\nThe peers were not run: {peers['skipped']}.")
    return lines


TEXT_MODELS = ("default", "lstm", "nb", "nbchar", "bag", "tutorial", "tfidf", "nbsvm")


@table
def text_classification(report):
    """IMDB test accuracy of lstmkit's text models beside TF-IDF + logistic
    regression and published figures; the cross-validated sets below."""
    parts = report["parts"]
    lines = []
    imdb = parts.get("imdb")
    if imdb:
        members = {"lstm": "BiLSTM", "nb": "NB 1-3-grams",
                   "nbchar": "NB 1-2-grams + subwords", "bag": "n-gram bag"}
        default = imdb.get("default", {})
        names = {"default": "lstmkit `--model default` ("
                 + " + ".join(f"{members.get(m, m)} {w:.1f}" for m, w in
                              zip(default.get("members", []), default.get("weights", [])))
                 + ", weighted)",
                 "tutorial": "lstmkit `--model tutorial` (the tutorial's LSTM)",
                 "lstm": "lstmkit `--model lstm` (the BiLSTM alone)",
                 "nb": "lstmkit `--model nb` (NBSVM's model, 1-3-grams, alone)",
                 "nbchar": "lstmkit `--model nbchar` (NBSVM's model, 1-2-grams + subwords, "
                           "alone)",
                 "bag": "lstmkit `--model bag` (the n-gram bag alone)",
                 "tfidf": "TF-IDF word 1-2-grams + logistic regression (scikit-learn)",
                 "nbsvm": "NBSVM-bi, the paper's settings (scikit-learn)"}
        lines += ["| IMDB, 25,000 test reviews | test accuracy | validation accuracy "
                  "(10% of train) | fit time | seed |", "|---|---:|---:|---:|---:|"]
        for key in TEXT_MODELS:
            if key not in imdb:
                continue
            r = imdb[key]
            valid = (f"{r['validation']['accuracy']:.4f}" if "validation" in r
                     else f"{r['cv_accuracy']:.4f} (5-fold CV, C={r['C']})" if "cv_accuracy" in r
                     else "")
            seed = r.get("seed", "")
            lines.append(f"| {names[key]} | **{r['test']['accuracy']:.4f}** | {valid} | "
                         f"{r['fit_seconds'] / 60:.1f} min | {seed} |")
            if key == "default" and len(r.get("member_validation", [])) > 1:
                for member, v, t in zip(r["members"], r["member_validation"],
                                        r["member_test_accuracy"]):
                    lines.append(f"| &nbsp;&nbsp;its member `{member}` alone | {t:.4f} | "
                                 f"{v['accuracy']:.4f} | | |")
        for label, accuracy in imdb.get("published", []):
            lines.append(f"| {label}, as published | {accuracy:.4f} | | | |")
    cv = [(part, parts[part]) for part in ("rt", "uci") if part in parts]
    if cv:
        sets = [(part, name) for part, entry in cv for name in next(
            v for k, v in entry.items() if k != "published")]
        short = {"rt-polarity": "Rotten Tomatoes", "amazon_cells": "UCI amazon",
                 "imdb": "UCI imdb", "yelp": "UCI yelp"}
        folds = next(r["folds"] for _, entry in cv for k, v in entry.items() if k != "published"
                     for r in v.values())
        lines += ["", f"| {folds}-fold CV accuracy, mean ± sd | "
                  + " | ".join(short.get(n, n) for _, n in sets) + " |",
                  "|---|" + "---:|" * len(sets)]
        models = sorted({k for _, entry in cv for k in entry if k != "published"},
                        key=TEXT_MODELS.index)
        for model in models:
            cells = []
            for part, name in sets:
                r = parts[part].get(model, {}).get(name)
                cells.append(f"{r['mean']:.4f} ± {r['sd']:.4f}" if r else "")
            lines.append(f"| {model} | " + " | ".join(cells) + " |")
        for part, entry in cv:
            for label, accuracy in entry.get("published", []):
                lines.append(f"| {label} ({part}), as published | "
                             + " | ".join(f"{accuracy:.4f}" if p == part and i == 0 else ""
                                          for i, (p, _) in enumerate(
                                              [s for s in sets if s[0] == part]))
                             + " |" + " |" * sum(1 for s in sets if s[0] != part))
    return lines


CONTENDER = {"lstmkit": "lstmkit", "lstmkit_bf16": "lstmkit, bf16", "hand": "hand-written"}


@table
def ptb_small(report):
    """Zaremba et al.'s small PTB model through lstmkit beside the paper and a
    hand-written script; the speed ratio of interleaved chunks of steps, and
    how busy other processes kept the machine meanwhile."""
    speed = report.get("speed")
    published, hand = report["published"], report["hand_reference"]
    lines = ["| | valid perplexity | test perplexity | training time |",
             "|---|---|---|---|",
             f"| Zaremba et al. 2014, small, as published | {published['valid_perplexity']} | "
             f"{published['test_perplexity']} | |",
             f"| a hand-written PyTorch script, as issue 14 reports it | | "
             f"{hand['test_perplexity']} | {hand['seconds']:,} s |"]
    for key, name in (("full_run", "lstmkit"), ("full_run_bf16", "lstmkit, bf16")):
        full = report.get(key) or {}
        epochs = full.get("epochs", [])
        if not epochs:
            continue
        status = "" if full.get("complete") else f", **{len(epochs)} of {full['planned_epochs']} epochs**"
        valid = full.get("valid_perplexity", epochs[-1].get("valid_perplexity_batch10"))
        test = full.get("test_perplexity")
        lines.append(f"| {name}, this machine{status} | {valid:.1f} | "
                     f"{'' if test is None else f'{test:.1f}'} | {full['train_seconds']:,.0f} s |")
    if speed:
        names = [n for n in ("lstmkit", "lstmkit_bf16") if f"time_ratio_{n}_over_hand" in speed]
        lines += ["", "| time per training step, over the hand-written script's (float32) | "
                  "median of paired rounds | range | other processes' share of the CPUs "
                  "meanwhile |", "|---|---|---|---|"]
        for name in names:
            t = speed[f"time_ratio_{name}_over_hand"]
            others = [share for n in (name, "hand") for share in speed[n]["other_processes_cpu_share"]]
            lines.append(f"| {CONTENDER[name]}: {speed['rounds_run']} rounds of "
                         f"{speed['chunk_steps']} steps, each contender in its own process | "
                         f"{t['median_of_rounds']:.2f} | {t['min_of_rounds']:.2f}–"
                         f"{t['max_of_rounds']:.2f} | {min(others):.0%}–{max(others):.0%} |")
        profile = report.get("where_time_goes")
        if profile:
            columns = [n for n in ("lstmkit", "lstmkit_bf16", "hand") if n in profile]
            lines += ["", "| where a step's CPU time goes (torch.profiler) | "
                      + " | ".join(f"{CONTENDER[n]}, ms" for n in columns) + " |",
                      "|---" * (len(columns) + 1) + "|"]
            for part in profile["lstmkit"]["ms_per_step"]:
                lines.append(f"| {part} | " + " | ".join(
                    f"{profile[n]['ms_per_step'][part]:.1f}" for n in columns) + " |")
            lines.append("| total | " + " | ".join(
                f"{sum(profile[n]['ms_per_step'].values()):.1f}" for n in columns) + " |")
    return lines


def decay(options):
    """A step decay's description, if the run had one."""
    if options["lr_decay"] == 1:
        return ""
    return f" divided by {options['lr_decay']:g} each epoch after {options['decay_after']}"


@table
def char_lm(report):
    """The character-level LSTM on Tiny Shakespeare in a fixed CPU budget."""
    o = report["options"]
    reached = "reached" if report["reached_target"] else "**not reached**"
    first = next((e for e in report["epochs"] if e.get("valid_nats", 99) <= report["target_nats"]),
                 None)
    passed = (f"epoch {first['epoch']}, {first['train_seconds_so_far'] / 60:.0f} min" if first
              else "–")
    return ["| model | training | valid nats/char | bits/char | target 1.47 nats/char | "
            "first epoch at or below it |", "|---|---|---|---|---|---|",
            f"| {o['layers']} x {o['units']} LSTM, embedding {o['embedding']}, dropout "
            f"{o['dropout']}, Adam {o['lr']}{decay(o)}, batch {o['batch_size']} x BPTT {o['bptt']}"
            f"{', bf16' if o.get('precision', 'float32') != 'float32' else ''} | "
            f"{report['train_seconds'] / 60:.0f} min, {report['steps']:,} steps | "
            f"**{report['valid_nats']:.3f}** | {report['valid_bits_per_char']:.3f} | {reached} | "
            f"{passed} |"]


@table
def ptb_budget(report):
    """Zaremba et al.'s medium and large models in a fixed CPU budget."""
    lines = ["| model | time a step | an epoch | the paper's schedule | trained | valid "
             "perplexity reached | published valid / test |", "|---|---|---|---|---|---|---|"]
    for size, run in report["sizes"].items():
        o = run["options"]
        bf16 = ", bf16" if o.get("precision", "float32") != "float32" else ""
        lines.append(
            f"| {size}: 2 x {o['units']}, dropout {o['dropout']}, BPTT {o['bptt']}{bf16} | "
            f"{run['seconds_per_step']:.2f} s | {run['epoch_seconds'] / 60:.0f} min | "
            f"{run['paper_schedule_hours']:.1f} h ({o['epochs']} epochs) | "
            f"{run['train_seconds'] / 60:.0f} min, {run['epochs_done']:.2f} epochs | "
            f"**{run['valid_perplexity']:.1f}** | {run['published_valid_test'][0]} / "
            f"{run['published_valid_test'][1]} |")
    return lines


@table
def precision(report):
    """Training steps in float32 and mixed bfloat16, interleaved, per model."""
    features = ", ".join(report["cpu_bf16_features"]) or "none"
    lines = [f"| model (CPU bf16 features: {features}; {report['threads']} threads) | float32, "
             "ms/step | bf16, ms/step | time bf16 / float32 (range) | last chunk's loss, "
             "float32 / bf16 |", "|---|---|---|---|---|"]
    for figures in report["models"].values():
        ms, t, loss = (figures["ms_per_step"], figures["time_ratio_bf16_over_float32"],
                       figures["last_chunk_loss"])
        lines.append(f"| {figures['model']} | {ms['float32']:.0f} | {ms['mixed_bfloat16']:.0f} | "
                     f"**{t['median_of_rounds']:.2f}** ({t['min_of_rounds']:.2f}–"
                     f"{t['max_of_rounds']:.2f}) | {loss['float32']:.3f} / "
                     f"{loss['mixed_bfloat16']:.3f} |")
    return lines


@table
def series_archive(report):
    """Test accuracy per archive problem: each candidate's (mean over its
    seeds, their number in brackets) beside MiniRocket's, the defaults'
    column first, and each column's mean over the problems where it has
    them all; then the problems held out from a first choice, apart, and
    the mean with them."""
    candidates, rocket = report["candidates"], report["minirocket"]
    order = sorted(candidates, key=lambda name: name != report["default"])
    problems = [p for p in report["problems"] if any(p in candidates[c] for c in order)]

    def cell(entry):
        if entry is None:
            return "–"
        return f"{entry['accuracy']:.3f} ({len(entry['runs'])})"

    def label(name):
        about = report["about"].get(name)
        if name == report["default"]:
            return f"**{about}** (the default)" if about else "**the defaults**"
        return about or name

    lines = ["| problem | train / test, features, lengths, classes | "
             + " | ".join(label(n) for n in order) + " | MiniRocket (aeon) |",
             "|---|---|" + "---|" * (len(order) + 1)]

    def row(p, name):
        shape = next(candidates[c][p] for c in order if p in candidates[c])
        train, test = shape["train"], shape["test"]
        lengths = (str(train["min_length"]) if train["min_length"] == train["max_length"]
                   else f"{train['min_length']}–{train['max_length']}")
        return (f"| {name} | {train['samples']} / {test['samples']}, {train['features']}, "
                f"{lengths}, {train['classes']} | "
                + " | ".join(cell(candidates[c].get(p)) for c in order)
                + f" | {cell(rocket.get(p)) if 'runs' in rocket.get(p, {}) else '–'} |")

    lines += [row(p, p) for p in problems]

    def mean(column, over):  # over every problem, or none where the column lacks one
        if not all("accuracy" in column.get(p, {}) for p in over):
            return "–"
        return f"{statistics.mean(column[p]['accuracy'] for p in over):.3f}"

    def means(over, name):
        return (f"| {name} | | " + " | ".join(mean(candidates[c], over) for c in order)
                + f" | {mean(rocket, over)} |")

    if len(problems) > 1:
        lines.append(means(problems, f"mean over the {len(problems)} problems"))
    later = report.get("held_out", [])  # run once a default had been chosen on the others
    if later:
        lines += [row(p, f"{p} (run later)") for p in later]
        lines.append(means(problems + later, f"mean over all {len(problems) + len(later)}"))
    return lines


@table
def series_italy_candidates(report):
    """ItalyPowerDemand's test file scored once per seed by candidates of the
    defaults that other problems chose, in series_archive's form; written by
    series_archive.py --out, apart from the archive's own file, whose
    choices ItalyPowerDemand's test file takes no part in."""
    return series_archive(report)


@table
def series_protocol(report):
    """LSTM-FCN's published protocol run with lstmkit: the best epoch's test
    accuracy (chosen on the test file, as their code chose) and the last
    epoch's, over the seeds, beside the figures published."""
    def row(label, figures):
        return (f"| {label}, {len(figures['runs'])} seeds | {figures['mean']:.3f} ± "
                f"{figures['std']:.3f} | {figures['min']:.3f}–{figures['max']:.3f} |")

    training = report["config"]["training"]
    return ["| one LSTM-FCN network, trained as their code trains it "
            f"({training['epochs']} epochs) | test accuracy, mean ± sd | range over seeds |",
            "|---|---|---|",
            row("its best epoch, chosen on the test file (their protocol)",
                report["best_epoch_test_accuracy"]),
            row("its last epoch (nothing chosen on the test file)",
                report["last_epoch_test_accuracy"]),
            *(f"| {p['method']}, as published | {p['test_accuracy']:.3f} | |"
              for p in report["published"])]


def render(name, results=RESULTS):
    """The table `name` built from results/<name>.json, as it sits between its markers."""
    with open(os.path.join(results, f"{name}.json")) as f:
        report = json.load(f)
    return "\n" + "\n".join(TABLES[name](report)) + "\n\n"


def marked(text):
    """What README holds between each pair of markers, by name."""
    return {m["name"]: m["body"] for m in MARKED.finditer(text)}


def unplaced(text):
    """Tables README has no markers for, and markers naming no table."""
    found = marked(text)
    return ([f"{name}: no markers in README" for name in TABLES if name not in found]
            + [f"{name}: markers name no table" for name in found if name not in TABLES])


def stale(text, results=RESULTS):
    """The marked tables that differ from what their JSON renders now."""
    return [name for name, body in marked(text).items()
            if name in TABLES and body != render(name, results)]


def rewrite(text, results=RESULTS):
    """README's text with every marked table rendered anew."""
    return MARKED.sub(lambda m: (f"<!-- table:{m['name']} -->\n{render(m['name'], results)}"
                                 f"<!-- /table:{m['name']} -->"), text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 naming the tables that are stale")
    parser.add_argument("--readme", default=README)
    args = parser.parse_args(argv)
    with open(args.readme) as f:
        text = f.read()
    problems = unplaced(text)
    if args.check:
        problems += [f"{name}: stale, README differs from results/{name}.json"
                     for name in stale(text)]
        print("\n".join(problems or ["README's tables match benchmarks/results"]))
        return 1 if problems else 0
    if problems:
        sys.exit("cannot place every table: " + "; ".join(problems))
    changed = stale(text)
    if changed:
        with open(args.readme, "w") as f:
            f.write(rewrite(text))
    print(f"rewrote {', '.join(changed)}" if changed else "README's tables were up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
