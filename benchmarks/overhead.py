"""lstmkit's overhead: `fit` and `predict` against a hand-written PyTorch loop.

The tutorial's model (Embedding(1024, 256), LSTM(128), Dropout(0.5),
Dense(1, sigmoid); binary cross-entropy, RMSprop, batch 16) is trained on
the same synthetic data by lstmkit's `fit` and by a good plain loop
(pre-built tensors, randperm batches, loss and accuracy summed on the
device, one host read an epoch), starting from the same weights. Both run
in this one process with the same threads, interleaved (A B, then B A, ...)
after a warm-up, so drift in the machine's load hits both alike. Inference
compares `predict` with a loop under torch.inference_mode.

    .venv/bin/python benchmarks/overhead.py                 # 3200 x 200, 7 rounds, ~2 min quiet
    .venv/bin/python benchmarks/overhead.py --samples 640 --rounds 2   # a quick look
    .venv/bin/python benchmarks/overhead.py --quick         # a smoke run, to a temporary file

Writes benchmarks/results/overhead.json and prints a table.
"""

import argparse

import torch
from torch import nn

from common import (DROPOUT, EMBED, QUIET_SHARE, TUTORIAL, UNITS, VOCAB, OtherLoad, compare,
                    cpu_model, interleave, load_record, load_summary, output_path,
                    synthetic_data, tutorial_model, write_report)


class HandModel(nn.Module):
    """The tutorial's network in plain PyTorch."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, EMBED)
        self.lstm = nn.LSTM(EMBED, UNITS, batch_first=True)
        self.dropout = nn.Dropout(DROPOUT)
        self.linear = nn.Linear(UNITS, 1)

    def forward(self, x):
        out, _ = self.lstm(self.embedding(x))  # (N, T, H)
        return self.linear(self.dropout(out[:, -1]))  # (N, 1) logits


def hand_copy(model):
    """A HandModel holding a copy of the lstmkit model's weights."""
    state = model.state_dict()
    hand = HandModel()
    hand.load_state_dict({
        "embedding.weight": state["layers.0.embedding.weight"],
        **{f"lstm.{k}": state[f"layers.1.lstm.{k}"]
           for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")},
        "linear.weight": state["layers.3.linear.weight"],
        "linear.bias": state["layers.3.linear.bias"],
    })
    return hand


class HandTrainer:
    """A fair plain loop: randperm batches of pre-built tensors, no host sync per step."""

    def __init__(self, model, batch_size, seed=0):
        self.model, self.batch_size = model, batch_size
        self.optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
        self.loss_fn = nn.BCEWithLogitsLoss()
        self.generator = torch.Generator().manual_seed(seed)

    def epoch(self, x, y):
        self.model.train()
        y = y[:, None]  # (N, 1)
        loss_sum = torch.zeros((), dtype=torch.float64)
        correct = torch.zeros((), dtype=torch.int64)
        order = torch.randperm(len(x), generator=self.generator)
        for start in range(0, len(x), self.batch_size):
            index = order[start : start + self.batch_size]
            xb, yb = x[index], y[index]
            logits = self.model(xb)
            loss = self.loss_fn(logits, yb)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            loss_sum += loss.detach() * len(xb)
            correct += ((logits.detach() > 0) == (yb > 0.5)).sum()
        return {"loss": loss_sum.item() / len(x), "accuracy": correct.item() / len(x)}


def keras_script_model(model):
    """The tutorial's model as a Keras script writes it, imports changed to
    `lstmkit.keras`, holding `model`'s weights."""
    import lstmkit.keras as keras

    script = keras.models.Sequential()
    script.add(keras.layers.Embedding(VOCAB, output_dim=EMBED))
    script.add(keras.layers.LSTM(UNITS))
    script.add(keras.layers.Dropout(DROPOUT))
    script.add(keras.layers.Dense(1, activation="sigmoid"))
    script.compile(loss="binary_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
    script.load_state_dict(model.state_dict())
    return script.to("cpu")


@torch.inference_mode()
def hand_predict(model, x, batch_size):
    model.eval()
    outputs = [torch.sigmoid(model(x[start : start + batch_size]))
               for start in range(0, len(x), batch_size)]
    return torch.cat(outputs).numpy()


def profile_steps(model, hand_trainer, x, y, batch_size, steps=20):
    """cProfile both training loops on a few steps; top functions by own time."""
    import cProfile
    import io
    import pstats

    report = {}
    xs, ys = x[: steps * batch_size], y[: steps * batch_size]
    for name, fn in (("lstmkit", lambda: model.fit(xs, ys, batch_size=batch_size, verbose=0)),
                     ("hand", lambda: hand_trainer.epoch(xs, ys))):
        profiler = cProfile.Profile()
        profiler.enable()
        fn()
        profiler.disable()
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(12)
        report[name] = stream.getvalue()
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=3200)
    parser.add_argument("--maxlen", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--predict-batch-size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--predict-rounds", type=int, default=11)
    parser.add_argument("--extra-rounds", type=int, default=6,
                        help="rounds to add, at most, in place of rounds that other processes "
                             "disturbed (more than 5%% of the CPUs used by others)")
    parser.add_argument("--labels", choices=("learnable", "random"), default="learnable")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", action="store_true",
                        help="also cProfile 20 training steps of each and print the top functions")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, one round, to check the script runs")
    parser.add_argument("--out", help="default benchmarks/results/overhead.json "
                                      "(a temporary file with --quick)")
    args = parser.parse_args(argv)
    if args.quick:
        args.samples, args.maxlen, args.rounds, args.predict_rounds = 64, 20, 1, 1
        args.extra_rounds = 0
    out = output_path("overhead", args.out, args.quick)

    start_load = load_record()
    x, y = synthetic_data(args.samples, args.maxlen, args.labels, args.seed)
    model = tutorial_model(args.seed, args.maxlen)
    hand = hand_copy(model)
    trainer = HandTrainer(hand, args.batch_size, args.seed)
    n = len(x)

    keras_model = keras_script_model(model)
    train = {
        "lstmkit": lambda r: model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0),
        "hand": lambda r: trainer.epoch(x, y),
        "keras_api": lambda r: keras_model.fit(x, y, batch_size=args.batch_size, epochs=1,
                                               verbose=0),
    }
    infer = {
        "lstmkit": lambda r: model.predict(x, batch_size=args.predict_batch_size),
        "hand": lambda r: hand_predict(hand, x, args.predict_batch_size),
    }
    # warm-up: oneDNN builds its kernels for each shape on first use
    warm = min(n, 20 * args.batch_size)
    model.fit(x[:warm], y[:warm], batch_size=args.batch_size, verbose=0)
    keras_model.fit(x[:warm], y[:warm], batch_size=args.batch_size, verbose=0)
    trainer.epoch(x[:warm], y[:warm])
    for fn in infer.values():
        fn(0)

    with OtherLoad() as whole:
        train_runs = interleave(train, args.rounds, n, args.extra_rounds)
        results = {
            "train": compare(train_runs, "lstmkit", "hand"),
            "train_keras_api": compare(train_runs, "keras_api", "lstmkit"),
            "inference": compare(interleave(infer, args.predict_rounds, n, args.extra_rounds),
                                 "lstmkit", "hand"),
        }
    load = load_summary(start_load, load_record(), whole.share)
    report = {
        "benchmark": "lstmkit fit/predict vs a hand-written PyTorch loop, tutorial model",
        "config": {
            "model": TUTORIAL, "loss": "binary_crossentropy (from logits)",
            "optimizer": "rmsprop", "metrics": ["accuracy"], "samples": n,
            "maxlen": args.maxlen, "batch_size": args.batch_size,
            "predict_batch_size": args.predict_batch_size, "rounds": args.rounds,
            "predict_rounds": args.predict_rounds, "extra_rounds": args.extra_rounds,
            "figures": "median/min/max over the rounds undisturbed by other processes "
                       f"(under {QUIET_SHARE:.0%} of the CPUs; all rounds if none); every run "
                       "in all_runs",
            "labels": args.labels, "seed": args.seed, "units": "samples per second",
        },
        "load": load,
        "results": results,
        "target_ratio": 0.97,
    }
    write_report(report, out, __file__, argv)

    print(f"{cpu_model()}, {torch.get_num_threads()} threads, torch {torch.__version__}; load "
          f"{start_load['loadavg_1_5_15']} -> {load['end']['loadavg_1_5_15']}; other processes "
          f"used {100 * whole.share:.1f}% of the CPUs (quiet: {load['quiet']})")
    print(f"{'':10} {'contender':8} {'median':>9} {'min':>9} {'max':>9}  samples/s, "
          "undisturbed rounds")
    for section in ("train", "inference"):
        r = results[section]
        for name in ("lstmkit", "hand"):
            s = r[name]
            print(f"{section:10} {name:8} {s['median']:9.1f} {s['min']:9.1f} {s['max']:9.1f}")
        ratio = r["ratio_lstmkit_over_hand"]
        print(f"{section:10} ratio lstmkit/hand {ratio['of_medians']:.3f} (of medians), "
              f"{ratio['median_of_rounds']:.3f} (median of paired rounds, "
              f"{ratio['min_of_rounds']:.3f}-{ratio['max_of_rounds']:.3f}); "
              f"{len(r['undisturbed_rounds'])} of {r['rounds_run']} rounds undisturbed")
    ratio = results["train_keras_api"]["ratio_keras_api_over_lstmkit"]
    print(f"train      ratio lstmkit.keras script/lstmkit {ratio['median_of_rounds']:.3f} "
          f"(median of paired rounds, {ratio['min_of_rounds']:.3f}-{ratio['max_of_rounds']:.3f})")
    print(f"wrote {out}")

    if args.profile:
        for name, text in profile_steps(model, trainer, x, y, args.batch_size).items():
            print(f"----- cProfile, 20 training steps: {name}\n{text}")


if __name__ == "__main__":
    main()
