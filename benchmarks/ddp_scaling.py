"""Training throughput from one process to two on one machine (torchrun, DDP, Gloo).

The tutorial's model on synthetic data, trained by `fit` with the same
global batch, by three contenders:

    1 process x 2 threads     what fit does alone on a 2-core machine
    1 process x 1 thread
    2 processes x 1 thread    torchrun --nproc-per-node 2: each process
                              takes half of every batch, DDP averages the
                              gradients over Gloo

Each run trains `--epochs` epochs; the first is a warm-up, and samples/s are
timed inside the run over the others (rank 0's clock), so imports and the
rendezvous are left out. Runs alternate their order round by round.

    .venv/bin/python benchmarks/ddp_scaling.py            # 5 rounds, ~4 min on 2 cores
    .venv/bin/python benchmarks/ddp_scaling.py --quick    # a look

Writes benchmarks/results/ddp_scaling.json and prints a table.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

CONTENDERS = {"1 process x 2 threads": (1, 2), "1 process x 1 thread": (1, 1),
              "2 processes x 1 thread": (2, 1)}


class EpochClock:
    """Seconds of each epoch, on this process."""

    def __init__(self):
        self.seconds = []

    def on_epoch_begin(self, trainer, epoch):
        self.started = time.perf_counter()

    def on_epoch_end(self, trainer, epoch, logs):
        self.seconds.append(time.perf_counter() - self.started)


def worker(args):
    """One run: train, and on rank 0 write the seconds of the timed epochs."""
    import torch

    torch.set_num_threads(args.threads)
    x, y = common.synthetic_data(args.samples, args.maxlen)
    model = common.tutorial_model(seed=0)
    clock = EpochClock()
    model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, seed=0, verbose=0,
              callbacks=[clock])
    if int(os.environ.get("RANK", "0")) == 0:
        with open(args.result, "w") as f:
            json.dump({"seconds": sum(clock.seconds[1:]), "epochs": clock.seconds}, f)


def run(nproc, threads, args):
    """Start one run in fresh processes; its timed seconds."""
    with tempfile.TemporaryDirectory() as folder:
        result = os.path.join(folder, "result.json")
        script = [os.path.abspath(__file__), "--worker", "--threads", str(threads),
                  "--samples", str(args.samples), "--maxlen", str(args.maxlen),
                  "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
                  "--result", result]
        command = [sys.executable, *script] if nproc == 1 else [
            sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc-per-node={nproc}", *script]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        for attempt in (1, 2):  # a start-up failure is shown and tried once more
            done = subprocess.run(command, env=env, capture_output=True, text=True)
            if done.returncode == 0:
                break
            print(f"run failed (attempt {attempt}):\n{done.stderr[-4000:]}", file=sys.stderr)
        done.check_returncode()
        with open(result) as f:
            return {**json.load(f), "attempts": attempt}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=1600)
    parser.add_argument("--maxlen", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=3, help="the first is a warm-up")
    parser.add_argument("--batch-size", type=int, default=32, help="global, over all processes")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one round")
    parser.add_argument("--out", help="default benchmarks/results/ddp_scaling.json")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    if args.quick:
        args.samples, args.maxlen, args.epochs, args.rounds = 256, 20, 2, 1

    start = common.load_record()
    contenders = {name: (lambda r, n=n, t=t: run(n, t, args)) for name, (n, t) in CONTENDERS.items()}
    runs = common.interleave(contenders, args.rounds, args.samples * (args.epochs - 1),
                             label="ddp")
    base = "1 process x 2 threads"
    results = common.relative(runs.rates, runs.others, base, "relative_to_one_process")
    share = max(max(v) for v in runs.others.values())
    report = {
        "benchmark": "ddp_scaling",
        "config": {"samples": args.samples, "maxlen": args.maxlen, "epochs": args.epochs,
                   "timed_epochs": args.epochs - 1, "global_batch_size": args.batch_size,
                   "rounds": args.rounds, "backend": "gloo"},
        "load": common.load_summary(start, common.load_record(), share),
        "results": results,
    }
    out = common.output_path("ddp_scaling", args.out, args.quick)
    common.write_report(report, out, __file__, argv)
    print(f"{common.cpu_model()}, {os.cpu_count()} CPUs; global batch {args.batch_size}")
    for name, figures in results.items():
        print(f"{name:24s} {figures['median']:8.0f} samples/s  "
              f"{figures['relative_to_one_process']:.2f}x")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
