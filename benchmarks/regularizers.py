"""What each regulariser costs in training speed, measured side by side.

The tutorial's model (Embedding(1024, 256), LSTM(128), Dropout(0.5),
Dense(1, sigmoid); RMSprop, batch 16) on random ids, trained with one
regulariser at a time, interleaved in one process after a warm-up:

    none                 the tutorial's model
    embedding_dropout    Embedding(dropout=0.1): whole words dropped per batch
    locked_dropout       LockedDropout(0.3) between the embedding and the LSTM
    weight_dropout       LSTM(weight_dropout=0.5): DropConnect on W_hh, fused kernel
    recurrent_dropout    LSTM(recurrent_dropout=0.25): variational, the reference loop

Evaluation runs the fused kernel for all of them (the regularisers are off),
so only training speed is compared.

    .venv/bin/python benchmarks/regularizers.py            # ~3 min on 2 cores
    .venv/bin/python benchmarks/regularizers.py --quick

Writes benchmarks/results/regularizers.json (with the machine) and prints a table.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time

import torch

from lstmkit import Sequential
from lstmkit.layers import LSTM, Dense, Dropout, Embedding, LockedDropout

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from overhead import cpu_model, load_average  # noqa: E402

VARIANTS = {
    "none": lambda: [Embedding(1024, 256), LSTM(128)],
    "embedding_dropout": lambda: [Embedding(1024, 256, dropout=0.1), LSTM(128)],
    "locked_dropout": lambda: [Embedding(1024, 256), LockedDropout(0.3), LSTM(128)],
    "weight_dropout": lambda: [Embedding(1024, 256), LSTM(128, weight_dropout=0.5)],
    "recurrent_dropout": lambda: [Embedding(1024, 256), LSTM(128, recurrent_dropout=0.25)],
}


def make_model(name):
    torch.manual_seed(0)
    model = Sequential([*VARIANTS[name](), Dropout(0.5), Dense(1, activation="sigmoid")])
    model.build((None,))
    return model


def train_rate(model, x, y, batch_size=16):
    model.train()
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    start = time.perf_counter()
    for index in torch.randperm(len(x)).split(batch_size):
        loss = loss_fn(model(x[index], logits=True), y[index])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return len(x) / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--maxlen", type=int, default=200)
    parser.add_argument("--samples", type=int, default=480)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=os.path.join(HERE, "results", "regularizers.json"))
    args = parser.parse_args()
    if args.quick:
        args.maxlen, args.samples, args.rounds = 30, 64, 1
    torch.manual_seed(0)
    x = torch.randint(1, 1024, (args.samples, args.maxlen))
    y = torch.randint(0, 2, (args.samples, 1)).float()
    models = {name: make_model(name) for name in VARIANTS}
    for model in models.values():
        train_rate(model, x[:32], y[:32])  # warm-up
    runs = {name: [] for name in models}
    load_start = load_average()
    for r in range(args.rounds):
        for name in (list(models) if r % 2 == 0 else list(models)[::-1]):
            runs[name].append(train_rate(models[name], x, y))
    base = statistics.median(runs["none"])
    results = {name: {"median": statistics.median(v), "min": min(v), "max": max(v), "runs": v,
                      "vs_none": statistics.median(v) / base} for name, v in runs.items()}
    report = {
        "benchmark": "training speed of each regulariser, tutorial model",
        "command": " ".join([os.path.relpath(sys.executable), *sys.argv]),
        "config": {"maxlen": args.maxlen, "samples": args.samples, "rounds": args.rounds,
                   "batch_size": 16, "units": "training samples per second"},
        "machine": {"cpu": cpu_model(), "logical_cpus": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                    "python": platform.python_version(),
                    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")},
        "load_start": load_start, "load_end": load_average(),
        "results": results,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    print(f"training samples/s, maxlen {args.maxlen}, batch 16: median [min-max], vs none")
    for name, r in results.items():
        print(f"  {name:18s} {r['median']:7.0f} [{r['min']:.0f}-{r['max']:.0f}]  {r['vs_none']:.2f}x")
    print(f"machine: {report['machine']['cpu']}, {report['machine']['torch_threads']} threads, "
          f"torch {report['machine']['torch']}; load {load_start} -> {report['load_end']}")


if __name__ == "__main__":
    main()
