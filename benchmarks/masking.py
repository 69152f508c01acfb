"""What padding costs, and which masked kernel to use: packed or padded.

The tutorial's model with `Embedding(mask_zero=True)` on id sequences whose
lengths follow IMDB's review lengths (lognormal, median about 175 tokens),
padded before the text to `maxlen` as Keras does. Contenders, interleaved in
one process after a warm-up:

    unmasked   no mask: the fused kernel over every padded step (what the
               tutorial's model does; its results differ, it reads padding)
    packed     mask -> real steps first -> PackedSequence -> fused kernel
    padded     mask -> real steps first -> plain fused kernel over the batch
               cut to its longest row, last output gathered at each length
    padded+bucketed   the same with batches of similar lengths
               (fit(bucket_by_length=True)), so little of a batch is padding

Training is a full step (forward, backward, RMSprop) at batch 16; inference
is a forward pass under inference_mode at batch 256. The lstmkit LSTM's
masked_impl='auto' rule (MASKED_IMPL in lstmkit/layers/recurrent.py) is set
from these figures.

    .venv/bin/python benchmarks/masking.py            # maxlen 200 and 500, ~5 min on 2 cores
    .venv/bin/python benchmarks/masking.py --quick    # a smoke run

Writes benchmarks/results/masking.json (with the machine) and prints a table.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time

import numpy as np
import torch

from lstmkit import Sequential
from lstmkit.data.batching import batch_indices
from lstmkit.layers import LSTM, Dense, Dropout, Embedding

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from overhead import cpu_model, load_average  # noqa: E402


def make_data(samples, maxlen, seed=0):
    """Ids with IMDB-like lengths, padded with zeros before the text."""
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(np.log(175), 0.75, samples).astype(int), 10, maxlen)
    x = np.zeros((samples, maxlen), dtype=np.int64)
    for i, n in enumerate(lengths):
        x[i, maxlen - n:] = rng.integers(1, 1024, n)
    return torch.from_numpy(x), torch.from_numpy(rng.integers(0, 2, (samples, 1)).astype(np.float32)), lengths


def make_model(masked, masked_impl="auto"):
    torch.manual_seed(0)
    model = Sequential([Embedding(1024, 256, mask_zero=masked), LSTM(128, masked_impl=masked_impl),
                        Dropout(0.5), Dense(1, activation="sigmoid")])
    model.build((None,))
    return model


def batches(n, size, bucket_lengths=None, seed=0):
    """Shuffled index batches, or length-bucketed ones as fit(bucket_by_length=True) makes."""
    lengths = None if bucket_lengths is None else torch.as_tensor(bucket_lengths)
    return list(batch_indices(n, size, shuffle=True, lengths=lengths,
                              generator=torch.Generator().manual_seed(seed)))


def train_rate(model, x, y, index_batches):
    model.train()
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    start = time.perf_counter()
    for index in index_batches:
        loss = loss_fn(model(x[index], logits=True), y[index])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return len(x) / (time.perf_counter() - start)


@torch.inference_mode()
def predict_rate(model, x, index_batches):
    model.eval()
    start = time.perf_counter()
    for index in index_batches:
        model(x[index])
    return len(x) / (time.perf_counter() - start)


def contenders(lengths):
    return {
        "unmasked": (make_model(False), None),
        "packed": (make_model(True, "packed"), None),
        "padded": (make_model(True, "padded"), None),
        "padded+bucketed": (make_model(True, "padded"), lengths),
    }


def measure(maxlen, samples, rounds):
    x, y, lengths = make_data(samples, maxlen)
    runs = {"train": {}, "inference": {}}
    models = contenders(lengths)
    warm = min(256, samples)
    for model, _ in models.values():  # warm-up
        train_rate(model, x[:64], y[:64], batches(64, 16))
        predict_rate(model, x[:warm], batches(warm, 256))
    for r in range(rounds):
        names = list(models) if r % 2 == 0 else list(models)[::-1]
        for name in names:
            model, bucket = models[name]
            runs["train"].setdefault(name, []).append(
                train_rate(model, x, y, batches(samples, 16, bucket, seed=r)))
            runs["inference"].setdefault(name, []).append(
                predict_rate(model, x, batches(samples, 256, bucket, seed=r)))
    summary = {}
    for phase, by_name in runs.items():
        base = statistics.median(by_name["unmasked"])
        summary[phase] = {name: {"median": statistics.median(v), "min": min(v), "max": max(v),
                                 "runs": v, "vs_unmasked": statistics.median(v) / base}
                          for name, v in by_name.items()}
    return {"maxlen": maxlen, "samples": samples, "rounds": rounds,
            "mean_length": float(lengths.mean()), "padding_fraction": float(1 - lengths.mean() / maxlen),
            "results": summary}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--maxlen", type=int, nargs="+", default=[200, 500])
    parser.add_argument("--samples", type=int, default=1600)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check the script runs")
    parser.add_argument("--out", default=os.path.join(HERE, "results", "masking.json"))
    args = parser.parse_args()
    if args.quick:
        args.maxlen, args.samples, args.rounds = [60], 128, 1
    report = {
        "benchmark": "masked LSTM kernels: unmasked vs packed vs padded (vs bucketed), tutorial model",
        "command": " ".join([os.path.relpath(sys.executable), *sys.argv]),
        "units": "samples per second",
        "machine": {"cpu": cpu_model(), "logical_cpus": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                    "python": platform.python_version(),
                    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")},
        "load_start": load_average(),
        "cases": [measure(m, args.samples, args.rounds) for m in args.maxlen],
        "load_end": load_average(),
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    for case in report["cases"]:
        print(f"maxlen {case['maxlen']} (mean length {case['mean_length']:.0f}, "
              f"{case['padding_fraction']:.0%} padding), samples/s median [min-max], vs unmasked")
        for phase, by_name in case["results"].items():
            for name, r in by_name.items():
                print(f"  {phase:9s} {name:16s} {r['median']:8.0f} [{r['min']:.0f}-{r['max']:.0f}]"
                      f"  {r['vs_unmasked']:.2f}x")
    print(f"machine: {report['machine']['cpu']}, {report['machine']['torch_threads']} threads, "
          f"torch {report['machine']['torch']}; load {report['load_start']} -> {report['load_end']}")


if __name__ == "__main__":
    main()
