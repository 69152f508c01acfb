"""The series classifier's training speed: lstmkit's `fit` against a
hand-written PyTorch loop of the same network.

The network is `build_classifier`'s default (LSTM-FCN's layout: an LSTM(8)
on the dimension shuffle beside three convolutions with batch
normalisation, pooled; Karim et al. 2017), trained with Adam on sparse
cross-entropy, batch 16, no augmentation. The hand-written loop holds a copy
of the same weights in plain torch modules (nn.Conv1d, nn.BatchNorm1d,
nn.LSTM) and draws randperm batches from one pre-built tensor, no host
synchronisation per step. Both run in this one process, interleaved
(A B, then B A, ...) after a warm-up.

Shapes, per sample (steps x features): 1460 x 1 (ACSF1's), 150 x 1
(GunPoint's), 100 x 6 (BasicMotions'), and 'ragged': 40 to 300 steps x 3,
which lstmkit trains bucketed and masked (each sample as if alone) and the
hand-written loop as one zero-padded tensor, unmasked: a different, cheaper
computation, so that ratio is the price of exactness.

    .venv/bin/python benchmarks/series_speed.py            # 5 rounds a shape, ~3 min quiet
    .venv/bin/python benchmarks/series_speed.py --quick    # a smoke run, to a temporary file
    .venv/bin/python benchmarks/series_speed.py --earlier OLD.json ...   # earlier runs beside

Writes benchmarks/results/series_speed.json and prints a table. Each
--earlier report (this script's JSON from an earlier commit, or an entry of
the "earlier" list of one) is kept under "earlier", its ratios beside the
new ones in the README's table.
"""

import argparse
import json

import torch
import torch.nn.functional as F
from torch import nn

from common import (OtherLoad, compare, interleave, load_record, load_summary, output_path,
                    write_report)
from lstmkit.data.sources import SequenceBatches
from lstmkit.tasks.series_ensemble import NORM_MOMENTUM, build_classifier
from lstmkit.train import set_seed

SHAPES = {"long": (1460, 1), "gunpoint": (150, 1), "multivariate": (100, 6),
          "ragged": ((40, 300), 3)}
CLASSES = 4


class HandLSTMFCN(nn.Module):
    """build_classifier's default network in plain torch: channels first."""

    def __init__(self, length, features, classes, filters=64):
        super().__init__()
        self.length = length
        self.lstm = nn.LSTM(length, 8, batch_first=True)
        self.dropout = nn.Dropout(0.8)
        sizes = [(features, filters, 8), (filters, 2 * filters, 5), (2 * filters, filters, 3)]
        self.convs = nn.ModuleList(nn.Conv1d(i, o, k, padding="same", bias=False)
                                   for i, o, k in sizes)
        self.norms = nn.ModuleList(nn.BatchNorm1d(o, eps=1e-3, momentum=1 - NORM_MOMENTUM)
                                   for _, o, _ in sizes)
        self.linear = nn.Linear(8 + filters, classes)

    def forward(self, x):  # x (N, T, F), T = length
        channels = x.transpose(1, 2)  # (N, F, T): the dimension shuffle, and the conv layout
        lstm = self.dropout(self.lstm(channels)[0][:, -1])
        z = channels
        for conv, norm in zip(self.convs, self.norms):
            z = F.relu(norm(conv(z)))
        return self.linear(torch.cat([lstm, z.mean(-1)], 1))  # logits


def hand_copy(model, length, features):
    """A HandLSTMFCN holding the lstmkit model's weights."""
    hand = HandLSTMFCN(length, features, CLASSES)
    state = model.state_dict()
    lstm = "layers.0.branches.0.1.lstm."
    mapped = {f"lstm.{k}": state[lstm + k]
              for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")}
    for i, (conv, norm) in enumerate(((0, 1), (3, 4), (6, 7))):
        mapped[f"convs.{i}.weight"] = state[f"layers.0.branches.1.{conv}.conv.weight"]
        for k in ("weight", "bias", "running_mean", "running_var"):
            mapped[f"norms.{i}.{k}"] = state[f"layers.0.branches.1.{norm}.{k}"]
    mapped["linear.weight"] = state["layers.1.linear.weight"]
    mapped["linear.bias"] = state["layers.1.linear.bias"]
    hand.load_state_dict(mapped, strict=False)  # num_batches_tracked stays torch's own
    return hand


class HandTrainer:
    """A fair plain loop: randperm batches of one pre-built tensor."""

    def __init__(self, model, batch_size, seed=0):
        self.model, self.batch_size = model, batch_size
        self.optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        self.generator = torch.Generator().manual_seed(seed)

    def epoch(self, x, y):
        self.model.train()
        loss_sum = torch.zeros((), dtype=torch.float64)
        order = torch.randperm(len(x), generator=self.generator)
        for start in range(0, len(x), self.batch_size):
            index = order[start:start + self.batch_size]
            loss = F.cross_entropy(self.model(x[index]), y[index])
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            loss_sum += loss.detach() * len(index)
        return loss_sum.item() / len(x)


def sequences(shape, samples, seed):
    """`samples` noisy sines (steps, features) with a class in their
    frequency, and the labels; lengths drawn in a range for 'ragged'."""
    steps, features = shape
    rng = torch.Generator().manual_seed(seed)
    y = torch.arange(samples) % CLASSES
    out = []
    for label in y.tolist():
        t = (int(torch.randint(steps[0], steps[1] + 1, (), generator=rng))
             if isinstance(steps, tuple) else steps)
        time = torch.linspace(0, 1, t)[:, None]
        phase = torch.rand(features, generator=rng)
        out.append(torch.sin(2 * torch.pi * ((label + 1) * 3 * time + phase))
                   + 0.3 * torch.randn(t, features, generator=rng))
    return out, y


def measure(name, shape, args):
    """lstmkit and the hand-written loop on one shape: compare()'s figures."""
    x, y = sequences(shape, args.samples, args.seed)
    length = max(len(s) for s in x)
    features = shape[1]
    set_seed(args.seed)
    model = build_classifier(features, CLASSES, length=length, device="cpu")
    hand = hand_copy(model, length, features)
    trainer = HandTrainer(hand, args.batch_size, args.seed)
    batches = SequenceBatches(x, y, args.batch_size, shuffle=True, seed=args.seed)
    padded = torch.nn.utils.rnn.pad_sequence(x, batch_first=True)  # (N, length, F)
    if not isinstance(shape[0], tuple):  # the same network: the same outputs, before training
        with torch.no_grad():
            hand.eval()
            same = torch.softmax(hand(padded), -1)
            torch.testing.assert_close(model.eval()(padded), same, rtol=1e-4, atol=1e-5)
    contenders = {"lstmkit": lambda r: model.fit(batches, epochs=1, verbose=0),
                  "hand": lambda r: trainer.epoch(padded, y)}
    for fn in contenders.values():  # warm-up: oneDNN builds its kernels per shape
        fn(0)
    runs = interleave(contenders, args.rounds, len(x), args.extra_rounds, label=name)
    steps = shape[0] if not isinstance(shape[0], tuple) else list(shape[0])
    return {"steps": steps, "features": features, "samples": len(x),
            **compare(runs, "lstmkit", "hand")}


def earlier_runs(paths):
    """The --earlier reports, each reduced to its commit, date, command and
    median ratio per shape; a report's own earlier runs come after it."""
    runs = []
    for path in paths:
        with open(path) as f:
            report = json.load(f)
        runs.append({"commit": report["commit"], "date": report["date"],
                     "command": report["command"], "what": report.get("what"),
                     "ratios": report.get("ratios") or {
                         name: r["ratio_lstmkit_over_hand"]["median_of_rounds"]
                         for name, r in report["results"].items()}})
        runs += report.get("earlier", [])
    return runs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", nargs="+", choices=list(SHAPES), default=list(SHAPES))
    parser.add_argument("--samples", type=int, default=160)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--extra-rounds", type=int, default=4,
                        help="rounds to add, at most, in place of disturbed ones")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's own choice)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one round")
    parser.add_argument("--out", help="default benchmarks/results/series_speed.json "
                                      "(a temporary file with --quick)")
    parser.add_argument("--earlier", nargs="+", default=[], metavar="JSON",
                        help="earlier runs of this script to keep beside this one")
    args = parser.parse_args(argv)
    earlier = earlier_runs(args.earlier)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.samples, args.rounds, args.extra_rounds = 32, 1, 0
    out = output_path("series_speed", args.out, args.quick)
    start_load = load_record()
    with OtherLoad() as whole:
        results = {name: measure(name, SHAPES[name], args) for name in args.shapes}
    report = {
        "benchmark": "series classifier training: lstmkit fit vs a hand-written PyTorch loop",
        "config": {"model": "build_classifier's default (LSTM-FCN layout, 64-128-64 filters)",
                   "optimizer": "adam 1e-3", "batch_size": args.batch_size,
                   "samples": args.samples, "classes": CLASSES, "rounds": args.rounds,
                   "extra_rounds": args.extra_rounds, "seed": args.seed,
                   "threads": torch.get_num_threads(), "units": "samples per second",
                   "ragged": "lstmkit bucketed and masked; the hand loop one zero-padded "
                             "tensor, unmasked (not the same computation)"},
        "load": load_summary(start_load, load_record(), whole.share),
        "results": results,
        "earlier": earlier,
    }
    write_report(report, out, "benchmarks/series_speed.py", argv)
    print("shape            lstmkit / hand (median of rounds, range)")
    for name, r in results.items():
        ratio = r["ratio_lstmkit_over_hand"]
        print(f"{name:16} {ratio['median_of_rounds']:.3f} "
              f"({ratio['min_of_rounds']:.3f}-{ratio['max_of_rounds']:.3f})")


if __name__ == "__main__":
    main()
