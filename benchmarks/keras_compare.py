"""lstmkit against Keras 3 (TensorFlow backend) on the same machine, side by side.

The tutorial's model on both sides: Embedding(1024, 256) -> LSTM(128) ->
Dropout(0.5) -> Dense(1, sigmoid); binary_crossentropy, 'rmsprop',
metrics ['accuracy'], batch 16. Both train on the same synthetic ids
(written once to a .npy in a temporary folder and loaded by both): ids in
[1, 1024), label 1 when an id below 64 occurs in the last 10 steps.

Keras lives in its own virtualenv (.venv-keras, TensorFlow CPU + Keras 3),
so this script runs twice: the driver, under .venv with lstmkit, and a
worker, the same file with --keras under .venv-keras, kept alive and driven
over stdin/stdout one line per command ("train" -> it answers the seconds
one `fit` epoch took). Rounds interleave the two sides (lstmkit then Keras,
then Keras then lstmkit, ...) after a warm-up epoch each, so drift in the
machine's load hits both alike. Training: samples/s of
`fit(x, y, batch_size=16, epochs=1, verbose=0)`; inference: samples/s of
`predict(x, batch_size=256)` (verbose=0 on Keras' side). Both sides use 2
threads for their kernels (torch's default here; TF intra-op 2). TF's
inter-op pool is left at its default (0: one per core): pinned to 1, the
tf.data input pipeline and the training step share one thread and some
epochs stall (20.5 s instead of 12 s on 2 cores; --tf-inter-op 1 shows it).

    .venv/bin/python benchmarks/keras_compare.py                       # 3200 x 200, 7 epochs, ~3.5 min on 2 cores
    .venv/bin/python benchmarks/keras_compare.py --samples 640 --epochs 2 --predict-rounds 2   # a quick look
    .venv/bin/python benchmarks/keras_compare.py --quick               # a smoke run, to a temporary file

Set up the Keras side once (never into .venv):

    python3 -m venv .venv-keras && .venv-keras/bin/pip install tensorflow-cpu

Before measuring it waits (up to --wait seconds, polling every 20 s) until
no other test, benchmark or example run is going and the load is low.
Writes benchmarks/results/keras_compare.json and prints a table.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

from common import (DROPOUT, EMBED, QUIET_SHARE, ROOT, TUTORIAL, UNITS, VOCAB, OtherLoad,
                    compare, cpu_model, interleave, load_average, load_record, load_summary,
                    output_path, processes, timed, tutorial_model, write_report)

KERAS_PYTHON = os.path.join(ROOT, ".venv-keras", "bin", "python")
THREADS = 2


# ----- the Keras side (runs under .venv-keras; no torch, no lstmkit) -----------

def keras_worker(data_dir, threads, inter_op, seed):
    """Build the tutorial's Keras model and answer commands on stdin, one a line:
    "warmup", "train", "predict" -> seconds taken; "info" -> versions; "quit"."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    # before any op runs, or TF refuses to change them; 0 leaves TF's default
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(inter_op)
    import keras
    from keras import layers

    x = np.load(os.path.join(data_dir, "x.npy"))
    y = np.load(os.path.join(data_dir, "y.npy"))
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((x.shape[1],), dtype="int32"),
        layers.Embedding(VOCAB, EMBED),
        layers.LSTM(UNITS),
        layers.Dropout(DROPOUT),
        layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(loss="binary_crossentropy", optimizer="rmsprop", metrics=["accuracy"])

    def fit(xs, ys):
        return model.fit(xs, ys, batch_size=16, epochs=1, verbose=0).history

    def answer(obj):
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    for line in sys.stdin:
        command = line.strip()
        if command == "warmup":
            start = time.perf_counter()
            fit(x[: 20 * 16], y[: 20 * 16])
            model.predict(x, batch_size=256, verbose=0)
            answer({"seconds": time.perf_counter() - start})
        elif command == "train":
            start = time.perf_counter()
            history = fit(x, y)
            answer({"seconds": time.perf_counter() - start,
                    "loss": float(history["loss"][-1]),
                    "accuracy": float(history["accuracy"][-1])})
        elif command == "predict":
            start = time.perf_counter()
            model.predict(x, batch_size=256, verbose=0)
            answer({"seconds": time.perf_counter() - start})
        elif command == "info":
            answer({
                "tensorflow": tf.__version__, "keras": keras.__version__,
                "backend": keras.backend.backend(), "numpy": np.__version__,
                "python": platform.python_version(),
                "tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
                "tf_inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
                "jit_compile": bool(model.jit_compile),
                "onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)"),
                "lstm_use_cudnn": str(model.layers[1].use_cudnn),
                "params": int(model.count_params()),
            })
        elif command == "quit":
            break
        else:
            answer({"error": f"unknown command {command!r}"})


class KerasSide:
    """The worker subprocess under .venv-keras, one command and one answer a line."""

    def __init__(self, python, data_dir, threads, inter_op, seed):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        # lives as long as the worker; closed in close()
        self.stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [python, os.path.abspath(__file__), "--keras", "--data", data_dir,
             "--threads", str(threads), "--tf-inter-op", str(inter_op), "--seed", str(seed)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True, env=env)

    def ask(self, command):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            self.stderr.seek(0)
            raise RuntimeError(f"the Keras worker ended on {command!r}:\n{self.stderr.read()[-3000:]}")
        return json.loads(line)

    def close(self):
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
        self.stderr.close()


# ----- the machine ---------------------------------------------------------------

def wait_until_quiet(max_wait, max_load, poll=20):
    """Poll until no competing process runs and the 1-minute load is below
    max_load, for at most max_wait seconds. Returns (quiet, seconds waited)."""
    start = time.monotonic()
    while True:
        procs, load = load_record()["competing"], load_average()
        if not procs and (load is None or load[0] < max_load):
            return True, time.monotonic() - start
        waited = time.monotonic() - start
        if waited >= max_wait:
            return False, waited
        print(f"waiting for a quiet machine: load {load}, {len(procs or [])} competing "
              f"process(es): {(procs or [''])[0][:100]}", flush=True)
        time.sleep(poll)


def load_now():
    """common.load_record, with every other Python process for the record."""
    return {**load_record(), "python_processes": processes("python")}


# ----- data -----------------------------------------------------------------------

def synthetic_data(samples, maxlen, seed=0):
    """Ids in [1, VOCAB); label 1 when an id below 64 occurs in the last 10
    steps (about half the samples; an LSTM reading to the end can learn it)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, VOCAB, size=(samples, maxlen), dtype=np.int32)  # (N, T)
    y = (x[:, -10:] < 64).any(axis=1).astype(np.float32)  # (N,)
    return x, y


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=3200)
    parser.add_argument("--maxlen", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=7,
                        help="measured training epochs per side, after a warm-up; default 7")
    parser.add_argument("--predict-rounds", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--wait", type=float, default=300,
                        help="seconds to wait, at most, for a quiet machine; default 300")
    parser.add_argument("--max-load", type=float, default=1.0,
                        help="1-minute load average to wait for; default 1.0 (of 2 CPUs)")
    parser.add_argument("--tf-inter-op", type=int, default=0,
                        help="TensorFlow's inter-op threads; default 0 (TF's own: one per core)")
    parser.add_argument("--keras-python", default=KERAS_PYTHON)
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, one round, no waiting: to check the script runs")
    parser.add_argument("--out", help="default benchmarks/results/keras_compare.json "
                                      "(a temporary file with --quick)")
    parser.add_argument("--keras", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=THREADS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.keras:
        return keras_worker(args.data, args.threads, args.tf_inter_op, args.seed)
    if args.quick:
        args.samples, args.maxlen, args.epochs, args.predict_rounds = 64, 20, 1, 1
        args.wait = 0
    out = output_path("keras_compare", args.out, args.quick)

    import torch

    torch.set_num_threads(THREADS)
    quiet_before, waited = wait_until_quiet(args.wait, args.max_load)
    start_load = load_now()

    with tempfile.TemporaryDirectory(prefix="keras_compare_") as data_dir:
        x, y = synthetic_data(args.samples, args.maxlen, args.seed)
        np.save(os.path.join(data_dir, "x.npy"), x)
        np.save(os.path.join(data_dir, "y.npy"), y)
        x, y = np.load(os.path.join(data_dir, "x.npy")), np.load(os.path.join(data_dir, "y.npy"))
        n = len(x)

        keras_side = KerasSide(args.keras_python, data_dir, THREADS, args.tf_inter_op, args.seed)
        try:
            keras_info = keras_side.ask("info")
            model = tutorial_model(args.seed, args.maxlen)

            def lstmkit_train(r):
                history = model.fit(x, y, batch_size=16, epochs=1, verbose=0).history
                return {"loss": float(history["loss"][-1]),
                        "accuracy": float(history["accuracy"][-1])}

            def lstmkit_predict(r):
                model.predict(x, batch_size=256)

            sides = {
                "train": {"lstmkit": lstmkit_train, "keras": lambda r: keras_side.ask("train")},
                "inference": {"lstmkit": lstmkit_predict,
                              "keras": lambda r: keras_side.ask("predict")},
            }
            # warm-up: a full epoch and a predict each (kernels, graphs, tf.data)
            warmup = {"keras": keras_side.ask("train")["seconds"]
                      + keras_side.ask("predict")["seconds"],
                      "lstmkit": timed(lambda: (lstmkit_train(0), lstmkit_predict(0)))[0]}

            results, learning = {}, {}
            helpers = [keras_side.proc.pid]  # the worker's CPU time is the measurement's
            with OtherLoad(helpers) as whole:
                for section, rounds in (("train", args.epochs),
                                        ("inference", args.predict_rounds)):
                    runs = interleave(sides[section], rounds, n, helpers=helpers, label=section)
                    results[section] = compare(runs, "lstmkit", "keras")
                    results[section]["cpus_used_per_side"] = {
                        name: [{"lstmkit": round(driver, 2), "keras": round(worker, 2)}
                               for driver, worker in cpus]
                        for name, cpus in runs.cpus.items()}
                    if section == "train":
                        learning = {name: [{k: round(o[k], 4) for k in ("loss", "accuracy")}
                                           for o in outputs]
                                    for name, outputs in runs.outputs.items()}
        finally:
            keras_side.close()

    load = {**load_summary(start_load, load_now(), whole.share),
            "waited_seconds": waited, "quiet_before_start": quiet_before,
            "note": "other_processes_cpu_share: share of all CPUs used by processes other "
                    "than the driver and the Keras worker while measuring (/proc/stat); "
                    "results.*.cpus_used_per_side: for each run of a side, the CPUs "
                    "(CPU s / wall s) that the driver (lstmkit) and the worker (keras) used"}
    load["quiet"] = load["quiet"] and quiet_before
    report = {
        "benchmark": "lstmkit vs Keras 3 (TensorFlow backend), tutorial model, same machine",
        "config": {
            "model": TUTORIAL, "loss": "binary_crossentropy", "optimizer": "rmsprop",
            "metrics": ["accuracy"], "samples": n, "maxlen": args.maxlen, "batch_size": 16,
            "predict_batch_size": 256, "epochs": args.epochs,
            "predict_rounds": args.predict_rounds, "seed": args.seed,
            "data": f"ids uniform in [1, {VOCAB}); y = an id < 64 in the last 10 steps; "
                    "one .npy read by both sides",
            "order": "interleaved: lstmkit then keras on odd rounds, keras then lstmkit on "
                     "even ones; one warm-up fit epoch and predict each before",
            "figures": "samples/s, median/min/max over the rounds in which other processes "
                       f"used < {QUIET_SHARE:.0%} of the CPUs (all rounds if none); every run "
                       "in all_runs",
        },
        "keras_side": keras_info,
        "warmup_seconds": warmup,
        "learning": learning,
        "load": load,
        "results": results,
    }
    write_report(report, out, __file__, argv)

    k = keras_info
    print(f"{cpu_model()}, {os.cpu_count()} CPUs; lstmkit: torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads; Keras {k['keras']} on "
          f"TensorFlow {k['tensorflow']}, intra/inter-op {k['tf_intra_op_threads']}/"
          f"{k['tf_inter_op_threads']}, jit_compile {k['jit_compile']}; Python "
          f"{platform.python_version()}")
    print(f"load {start_load['loadavg_1_5_15']} -> {load['end']['loadavg_1_5_15']}; other "
          f"processes used {100 * whole.share:.1f}% of the CPUs (quiet: {load['quiet']})")
    print(f"{'':10} {'side':8} {'median':>9} {'min':>9} {'max':>9}  samples/s")
    for section in ("train", "inference"):
        r = results[section]
        for name in ("lstmkit", "keras"):
            s = r[name]
            print(f"{section:10} {name:8} {s['median']:9.1f} {s['min']:9.1f} {s['max']:9.1f}")
        ratio = r["ratio_lstmkit_over_keras"]
        print(f"{section:10} ratio lstmkit/keras {ratio['of_medians']:.2f} (of medians), "
              f"{ratio['median_of_rounds']:.2f} (median of paired rounds, "
              f"{ratio['min_of_rounds']:.2f}-{ratio['max_of_rounds']:.2f}); "
              f"{len(r['undisturbed_rounds'])} of {r['rounds_run']} rounds undisturbed")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
