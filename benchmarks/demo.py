"""`lstmkit demo` as a user runs it: its held-out figures and the command's wall time.

The whole command is timed, imports included, over a few runs (the same
seed, so the same figures each time); the accuracy and loss are read from
what the command prints.

    .venv/bin/python benchmarks/demo.py             # 3 runs, ~30 s on 2 cores
    .venv/bin/python benchmarks/demo.py --runs 1

Writes benchmarks/results/demo.json and prints the figures.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

FIGURES = re.compile(r"held-out loss (?P<loss>[\d.]+), accuracy (?P<accuracy>[\d.]+) "
                     r"\((?P<samples>\d+) sentences\)")


def run_once(seed):
    """(wall seconds, printed figures) of one `lstmkit demo` run."""
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "lstmkit", "demo", "--quiet", "--seed",
                               str(seed), "--out", os.path.join(out, "demo")],
                              capture_output=True, text=True, check=True)
        seconds = time.perf_counter() - started
    found = FIGURES.search(done.stdout)
    if found is None:
        sys.exit(f"the demo printed no held-out figures:\n{done.stdout}")
    return seconds, {"test_loss": float(found["loss"]), "test_accuracy": float(found["accuracy"]),
                     "test_samples": int(found["samples"])}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="JSON path (default benchmarks/results/demo.json)")
    args = parser.parse_args(argv)
    start = common.load_record()
    runs = [run_once(args.seed) for _ in range(args.runs)]
    figures = runs[0][1]
    if any(f != figures for _, f in runs):
        sys.exit(f"the same seed gave different figures: {[f for _, f in runs]}")
    report = {"benchmark": "demo", "seed": args.seed, **figures,
              "wall_seconds": common.summary([s for s, _ in runs]),
              "load": {"start": start, "end": common.load_record()}}
    common.write_report(report, common.output_path("demo", args.out), __file__, argv)
    print(f"demo, seed {args.seed}: held-out accuracy {figures['test_accuracy']:.3f} "
          f"(loss {figures['test_loss']:.3f}, {figures['test_samples']} sentences); "
          f"wall {report['wall_seconds']['median']:.1f} s median of {args.runs}")


if __name__ == "__main__":
    main()
