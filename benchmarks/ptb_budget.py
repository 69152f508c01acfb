"""Zaremba et al. 2014's medium and large PTB models on the CPU, in a fixed budget.

The paper trains them on a GPU (medium: 650 units, 50% dropout, BPTT 35, 39
epochs, lr 1 divided by 1.2 each epoch after 6, clip 5, init +-0.05; large:
1500 units, 65% dropout, 55 epochs, lr / 1.15 after 14, clip 10, init
+-0.04; both 2 layers, batch 20, plain SGD; published valid / test
perplexity 86.2 / 82.7 and 82.2 / 78.4). Without a GPU this script reports
what a 2-core CPU does with them: the time per step and per epoch, the
time the paper's whole schedule would take, and the validation perplexity
(whole stream, 10 parallel streams, the state carried through) reached in
--minutes of training. As in benchmarks/ptb_small.py the paper's lr and clip,
which act on the loss summed over a window's steps, become lr x BPTT and
clip / BPTT on the engine's per-token mean.

    .venv/bin/python benchmarks/ptb_budget.py --size medium --minutes 15 --precision bf16
    .venv/bin/python benchmarks/ptb_budget.py --quick
"""

import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import TrainingBudget, load_record, output_path, write_report  # noqa: E402
from ptb_small import corpus, options  # noqa: E402

BATCH = 20
SIZES = {
    "medium": {"units": 650, "layers": 2, "batch_size": BATCH, "dropout": 0.5, "bptt": 35,
               "epochs": 39, "lr": 1.0, "decay": 1.2, "decay_after": 6, "clip": 5.0,
               "init": 0.05, "published": (86.2, 82.7)},
    "large": {"units": 1500, "layers": 2, "batch_size": BATCH, "dropout": 0.65, "bptt": 35,
              "epochs": 55, "lr": 1.0, "decay": 1.15, "decay_after": 14, "clip": 10.0,
              "init": 0.04, "published": (82.2, 78.4)},
}


def main(argv=None):
    from lstmkit.data.streams import StreamBatches
    from lstmkit.tasks.lm import evaluate_stream, train_language_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=tuple(SIZES), default="medium")
    parser.add_argument("--minutes", type=float, default=15.0, help="training budget")
    parser.add_argument("--precision", choices=("float32", "bf16", "fp16"), default="bf16")
    parser.add_argument("--device", default="cpu", help="'cpu' or 'cuda' (fp16 needs cuda)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 10 s of training")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    if args.quick:
        args.minutes = 1 / 6
    argv = sys.argv[1:] if argv is None else argv
    out = output_path("ptb_budget", args.out, args.quick)
    data = corpus()
    report = {"benchmark": "ptb_budget", "sizes": {}}
    if os.path.exists(out):  # one file holds every size measured
        with open(out) as f:
            report["sizes"] = json.load(f).get("sizes", {})
    size = SIZES[args.size]
    run = {"options": options(size["epochs"], args.precision, size),
           "budget_minutes": args.minutes, "published_valid_test": size["published"],
           "device": args.device, "threads": torch.get_num_threads(),
           "load_start": load_record(), "epochs": []}
    report["sizes"][args.size] = run
    budget = TrainingBudget(args.minutes * 60, run,
                            lambda: write_report(report, out, __file__, argv), unit="nats/word")
    model, _ = train_language_model(data, run["options"], seed=0, verbose=0, callbacks=[budget],
                                    device=args.device)
    per_step = run["train_seconds"] / run["steps"]
    steps_per_epoch = len(StreamBatches(data.train, BATCH, size["bptt"]))
    run.update({
        "seconds_per_step": per_step, "steps_per_epoch": steps_per_epoch,
        "epoch_seconds": per_step * steps_per_epoch,
        "paper_schedule_hours": per_step * steps_per_epoch * size["epochs"] / 3600,
        "epochs_done": run["steps"] / steps_per_epoch,
        "valid_perplexity": math.exp(evaluate_stream(model, data.valid, 10, 100)),
        "load_end": load_record()})
    write_report(report, out, __file__, argv)
    print(f"{args.size}: {per_step:.2f} s a step, {run['epoch_seconds'] / 60:.0f} min an epoch "
          f"({run['paper_schedule_hours']:.1f} h for the paper's {size['epochs']}); "
          f"valid perplexity {run['valid_perplexity']:.1f} after {run['train_seconds'] / 60:.0f} "
          f"min ({run['epochs_done']:.2f} epochs)")


if __name__ == "__main__":
    main()
