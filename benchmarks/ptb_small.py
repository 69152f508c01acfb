"""Zaremba et al. 2014's small LSTM on Penn Treebank, trained through lstmkit,
timed beside the hand-written PyTorch script of benchmarks/ptb_hand.py.

The paper's settings (Table 1, "small", non-regularised): 2 layers of 200
units, no dropout, batch 20, BPTT 20, 13 epochs, plain SGD at lr 1 halved
each epoch after epoch 4, gradient-norm clip 5, every weight uniform in
+-0.1; published validation / test perplexity 120.7 / 114.5.

Two parts, both in one process on the same machine:
  1. speed (--compare-rounds R): the same training steps, lstmkit's and the
     hand-written loop's, in chunks of --chunk steps, alternating (A B, B A,
     ...) so the machine's drift hits both; the ratio of the times is the
     figure. Before it, a profile of lstmkit's steps says where the time goes.
  2. the full run (--epochs 13): lstmkit to completion; the report is
     written after every epoch, so a run cut short says what it reached
     ("complete": false).

    .venv/bin/python benchmarks/ptb_small.py --compare-rounds 6 --epochs 13
    .venv/bin/python benchmarks/ptb_small.py --quick      # a smoke run: a few steps of each
"""

import argparse
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (OtherLoad, compare, interleave, load_record, load_summary,  # noqa: E402
                    output_path, time_ratio, write_report)
from ptb_hand import PTB, SETTINGS, HandRun  # noqa: E402

PUBLISHED = {"valid_perplexity": 120.7, "test_perplexity": 114.5,
             "source": "Zaremba, Sutskever & Vinyals 2014, Table 1 (non-regularized LSTM)"}
HAND_REFERENCE = {"seconds": 2677, "test_perplexity": 113.1,
                  "note": "a hand-written script on one of these 2-core machines, as issue 14 "
                          "reports it"}

# the speed rounds' contenders: lstmkit in float32 and in bfloat16 (lstmkit.precision),
# and the hand-written script (float32)
PRECISION = {"lstmkit": "float32", "lstmkit_bf16": "bf16"}
CONTENDERS = ("lstmkit", "lstmkit_bf16", "hand")
FULL_RUN = {"float32": "full_run", "bf16": "full_run_bf16"}  # the report's key per precision

HAND_STEPS_PER_EPOCH = 2324  # windows of 20 steps over the 46,479 steps of each of 20 streams

# profiler op names -> the part of a training step they belong to
PARTS = [("LSTM layers (oneDNN kernel, forward and backward)", ("rnn", "lstm")),
         ("softmax and cross-entropy", ("softmax", "nll_loss", "cross_entropy")),
         ("output layer matmuls (10,000 x 200)", ("aten::mm", "aten::addmm", "aten::linear")),
         ("embedding", ("embedding", "index_select")),
         ("clipping and SGD update", ("norm", "sgd", "foreach", "clip", "aten::add_",
                                      "aten::mul_", "aten::div"))]


def options(epochs, precision="float32", settings=SETTINGS):
    """lm options for one of Zaremba et al.'s configurations (`settings`, as
    ptb_hand.SETTINGS, with its dropout if any)."""
    s = settings
    return {"units": s["units"], "embedding": None, "layers": s["layers"],
            "dropout": s.get("dropout", 0.0), "tie": False, "bptt": s["bptt"],
            "batch_size": s["batch_size"], "epochs": epochs, "optimizer": "sgd",
            # the paper's lr and clip act on the loss summed over a window's steps; on
            # the per-token mean the same updates are lr x bptt and clip / bptt
            "lr": s["lr"] * s["bptt"], "lr_decay": s["decay"], "decay_after": s["decay_after"],
            "clip": s["clip"] / s["bptt"], "init_range": s["init"], "precision": precision}


def corpus(cache_dir=None):
    from lstmkit.data.corpus import load_corpus

    return load_corpus(*(os.path.join(PTB, f"ptb.{p}.txt") for p in ("train", "valid", "test")),
                       level="word", cache_dir=cache_dir)


class LstmkitChunks:
    """lstmkit's model trained `steps` windows at a time through model.fit."""

    def __init__(self, data, seed=0, precision="float32"):
        from lstmkit.data.corpus import Corpus
        from lstmkit.data.streams import StreamBatches
        from lstmkit.tasks.lm import train_language_model

        train_only = Corpus(data.vocabulary, data.train)
        self.precision = precision
        self.model, _ = train_language_model(train_only, options(1, precision), seed=seed,
                                             verbose=0,
                                             steps_per_epoch=1, device="cpu")
        self.source = StreamBatches(data.train, SETTINGS["batch_size"], SETTINGS["bptt"])

    def train_steps(self, steps):
        history = self.model.fit(self.source, epochs=1, steps_per_epoch=steps, shuffle=False,
                                 clip_grad_norm=SETTINGS["clip"] / SETTINGS["bptt"], verbose=0,
                                 precision=self.precision)
        return history.history["loss"][-1]


def worker(kind):
    """A contender in its own process (so that neither inherits the other's
    process-wide settings, such as lstmkit's allocator's): reads "steps N"
    lines, trains N steps, answers {"seconds", "loss", "minor_faults"} as JSON."""
    import resource

    run = HandRun() if kind == "hand" else LstmkitChunks(corpus(), precision=PRECISION[kind])
    print(json.dumps({"ready": True, "pid": os.getpid()}), flush=True)
    for line in sys.stdin:
        command, value = line.split()
        if command == "profile":
            print(json.dumps(where_time_goes(run, int(value))), flush=True)
            continue
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        started = time.perf_counter()
        loss = run.train_steps(int(value))
        seconds = time.perf_counter() - started
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
        print(json.dumps({"seconds": seconds, "loss": loss,
                          "minor_faults_per_step": faults / int(value)}), flush=True)


class Worker:
    def __init__(self, kind):
        import subprocess

        self.process = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker",
                                         kind], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)
        self.pid = self.ask(None)["pid"]

    def ask(self, line):
        if line is not None:
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def where_time_goes(chunks, steps):
    """Self CPU time of training steps by part, from torch.profiler."""
    with torch.profiler.profile() as prof:
        chunks.train_steps(steps)
    total, parts = 0.0, {name: 0.0 for name, _ in PARTS}
    parts["other (the loop's bookkeeping, Python)"] = 0.0
    for event in prof.key_averages():
        seconds = event.self_cpu_time_total / 1e6
        total += seconds
        name = event.key.lower()
        for part, keys in PARTS:
            if any(k in name for k in keys):
                parts[part] += seconds
                break
        else:
            parts["other (the loop's bookkeeping, Python)"] += seconds
    return {"steps": steps, "ms_per_step": {k: 1000 * v / steps for k, v in parts.items()},
            "share": {k: v / total for k, v in parts.items()}}


def speed(rounds, chunk, report, out, argv):
    workers = {kind: Worker(kind) for kind in CONTENDERS}
    for w in workers.values():
        w.ask("steps 5")  # warm-up
    report["where_time_goes"] = {name: w.ask(f"profile {max(chunk // 4, 5)}")
                                 for name, w in workers.items()}
    tokens = chunk * SETTINGS["batch_size"] * SETTINGS["bptt"]
    start = load_record()
    with OtherLoad([w.pid for w in workers.values()]) as load:
        runs = interleave({name: (lambda r, w=w: w.ask(f"steps {chunk}"))
                           for name, w in workers.items()},
                          rounds, tokens, helpers=[w.pid for w in workers.values()],
                          label="ptb speed")
    for w in workers.values():
        w.close()
    result = compare(runs, "lstmkit", "hand")
    result["ratio_lstmkit_bf16_over_hand"] = compare(runs, "lstmkit_bf16", "hand")[
        "ratio_lstmkit_bf16_over_hand"]
    steps_per_epoch = HAND_STEPS_PER_EPOCH
    for name in CONTENDERS:
        result[name]["epoch_seconds_from_median"] = (
            steps_per_epoch * SETTINGS["batch_size"] * SETTINGS["bptt"] / result[name]["median"])
        result[name]["minor_faults_per_step"] = [o["minor_faults_per_step"]
                                                 for o in runs.outputs[name]]
    for name in ("lstmkit", "lstmkit_bf16"):
        result[f"time_ratio_{name}_over_hand"] = time_ratio(result[f"ratio_{name}_over_hand"])
    report["speed"] = {"chunk_steps": chunk, "tokens_per_chunk": tokens, "unit": "tokens/s",
                       "processes": "each contender in its own worker process", **result,
                       "load": load_summary(start, load_record(), load.share)}
    write_report(report, out, __file__, argv)
    for name in ("lstmkit", "lstmkit_bf16"):
        t = result[f"time_ratio_{name}_over_hand"]["median_of_rounds"]
        print(f"time {name} / hand: {t:.2f} (median of {result['rounds_run']} rounds)",
              flush=True)


class EpochReport:
    """After every epoch: its time and figures into the report, written out."""

    def __init__(self, report, key, out, argv):
        self.report, self.key, self.out, self.argv = report, key, out, argv

    def on_epoch_begin(self, trainer, epoch):
        self.started = time.perf_counter()

    def on_test_begin(self, trainer):
        self.trained = time.perf_counter() - self.started  # training only, not validation

    def on_epoch_end(self, trainer, epoch, logs):
        row = {"epoch": epoch + 1, "seconds": self.trained,
               "seconds_with_validation": time.perf_counter() - self.started,
               "lr": trainer.optimizer.param_groups[0]["lr"],
               "train_perplexity": math.exp(logs["loss"])}
        if "val_loss" in logs:
            row["valid_perplexity_batch10"] = math.exp(logs["val_loss"])
        full = self.report[self.key]
        full["epochs"].append(row)
        full["train_seconds"] = sum(r["seconds"] for r in full["epochs"])
        print(f"lstmkit epoch {epoch + 1}: {row['seconds']:.0f} s, train ppl "
              f"{row['train_perplexity']:.1f}, valid ppl "
              f"{row.get('valid_perplexity_batch10', float('nan')):.1f}", flush=True)
        write_report(self.report, self.out, __file__, self.argv)


def full_run(data, epochs, max_steps, precision, report, out, argv):
    from lstmkit.tasks.lm import evaluate_stream, train_language_model

    key = FULL_RUN[precision]
    report[key] = {"epochs": [], "complete": False, "planned_epochs": epochs,
                   "precision": precision}
    started = time.perf_counter()
    model, _ = train_language_model(data, options(epochs, precision), seed=0, verbose=0,
                                    callbacks=[EpochReport(report, key, out, argv)],
                                    steps_per_epoch=max_steps, device="cpu")
    full = report[key]
    full["wall_seconds_with_validation"] = time.perf_counter() - started
    cut = None if max_steps is None else 2000  # a smoke run reads the first 2,000 tokens only
    full["valid_perplexity"] = math.exp(evaluate_stream(model, data.valid[:cut], 1, 100))
    full["test_perplexity"] = math.exp(evaluate_stream(model, data.test[:cut], 1, 100))
    full["complete"] = max_steps is None and epochs == SETTINGS["epochs"]
    write_report(report, out, __file__, argv)
    print(f"lstmkit: valid {full['valid_perplexity']:.1f}, test {full['test_perplexity']:.1f} "
          f"perplexity, {full['train_seconds']:.0f} s of training", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare-rounds", type=int, default=6,
                        help="paired rounds of the speed comparison (0: none)")
    parser.add_argument("--chunk", type=int, default=200, help="training steps per timed chunk")
    parser.add_argument("--epochs", type=int, default=SETTINGS["epochs"],
                        help="epochs of lstmkit's full run (0: none)")
    parser.add_argument("--max-steps", type=int, help="steps per epoch, at most")
    parser.add_argument("--precision", choices=("float32", "bf16"), default="float32",
                        help="the full run's precision (the speed rounds time both)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 2 rounds of 10 steps, 1 epoch of 30 steps, to a "
                             "temporary file")
    parser.add_argument("--out")
    parser.add_argument("--worker", choices=CONTENDERS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker)
    if args.quick:
        args.compare_rounds, args.chunk, args.epochs, args.max_steps = 2, 10, 1, 30
    argv = sys.argv[1:] if argv is None else argv
    out = output_path("ptb_small", args.out, args.quick)
    data = corpus()
    report = {"benchmark": "ptb_small", "settings": SETTINGS, "published": PUBLISHED,
              "hand_reference": HAND_REFERENCE, "threads": torch.get_num_threads()}
    earlier = {}
    if os.path.exists(out):  # each part run alone keeps the other's figures measured before
        with open(out) as f:
            earlier = json.load(f)
    kept = ([] if args.compare_rounds else ["speed", "where_time_goes"]) + (
        [key for p, key in FULL_RUN.items() if not args.epochs or p != args.precision])
    for key in kept:
        if key in earlier:
            report[key] = earlier[key]
            if isinstance(report[key], dict) and "measured_by" not in report[key]:
                report[key]["measured_by"] = {"command": earlier["command"],
                                              "date": earlier["date"]}
    if args.compare_rounds:
        speed(args.compare_rounds, args.chunk, report, out, argv)
    if args.epochs:
        full_run(data, args.epochs, args.max_steps, args.precision, report, out, argv)
    print(f"report written to {out}")


if __name__ == "__main__":
    main()
