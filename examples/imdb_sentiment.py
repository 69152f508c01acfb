"""The tutorial's sentiment example, on the real IMDB reviews.

    .venv/bin/python examples/imdb_sentiment.py [--data PATH] [--epochs 10]

The model is the tutorial's, unchanged: a 1024-word Embedding of width 256,
LSTM(128), Dropout(0.5) and a sigmoid Dense, trained with RMSprop on
binary cross-entropy, batch 16, 10 epochs. It trains on the 25,000 training
reviews and reports loss and accuracy on the 25,000 test reviews, once, at
the end; nothing is tuned on the test set.

Reviews are cut to their last 200 words (`--maxlen`), as Keras' own IMDB
examples cut them (imdb_lstm.py uses 80). The median review is 177 words,
so 200 keeps all of most reviews, while one epoch stays near half a minute
on two CPU cores: the longest review runs to about 2,500 words, and padding
every batch to it would cost over ten times as long per epoch.

For comparison: Keras' imdb_lstm example (20,000 words, maxlen 80) reports
about 0.83 test accuracy; Maas et al. (ACL 2011), who published the data
set, report 88.89% with their word vectors.

Writes the figures, the command, timings and the machine to a JSON file
(`--out`, default benchmarks/results/imdb_sentiment.json).
"""

import argparse
import json
import os
import platform
import shlex
import sys
import time

import torch

import lstmkit
from lstmkit import Sequential
from lstmkit.data.imdb import load_imdb
from lstmkit.layers import LSTM, Dense, Dropout, Embedding

MAX_FEATURES = 1024


class EpochTimer:
    """A callback that records each epoch's wall time in seconds."""

    def __init__(self):
        self.seconds = []

    def on_epoch_begin(self, trainer, epoch):
        self.start = time.perf_counter()

    def on_epoch_end(self, trainer, epoch, logs):
        self.seconds.append(round(time.perf_counter() - self.start, 2))


def machine():
    """What the timings were measured on."""
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), cpu)
    except OSError:
        pass  # not Linux: platform.processor() is the best name there is
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(),
            "lstmkit": lstmkit.__version__}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="the IMDB .tar.gz or an aclImdb/ folder "
                        "(default ../shared/datasets/imdb/aclImdb_v1_labeled.tar.gz)")
    parser.add_argument("--maxlen", type=int, default=200, help="words kept per review")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/imdb_sentiment.json",
                        help="the JSON results file")
    args = parser.parse_args()
    started = time.perf_counter()
    load_average = os.getloadavg()  # another job on the machine slows every figure

    (x_train, y_train), (x_test, y_test) = load_imdb(args.data, num_words=MAX_FEATURES,
                                                     maxlen=args.maxlen)
    load_seconds = time.perf_counter() - started
    print(f"{len(x_train)} train and {len(x_test)} test reviews, {args.maxlen} words each")

    lstmkit.set_seed(args.seed)
    model = Sequential()
    model.add(Embedding(MAX_FEATURES, output_dim=256))
    model.add(LSTM(128))
    model.add(Dropout(0.5))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="rmsprop", metrics=["accuracy"])

    timer = EpochTimer()
    training_started = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=16, epochs=args.epochs, seed=args.seed,
                        verbose=1 if sys.stdout.isatty() else 2, callbacks=[timer])
    training_seconds = time.perf_counter() - training_started
    evaluate_started = time.perf_counter()
    loss, accuracy = model.evaluate(x_test, y_test, batch_size=16)
    evaluate_seconds = time.perf_counter() - evaluate_started
    print(f"Test loss: {loss:.4f}")
    print(f"Test accuracy: {accuracy:.4f}")

    results = {
        "test_loss": loss,
        "test_accuracy": accuracy,
        "history": {**history.history, "epoch_seconds": timer.seconds},
        "command": shlex.join([os.path.relpath(sys.executable), *sys.argv]),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "load_seconds": round(load_seconds, 1),
        "train_seconds": round(training_seconds, 1),
        "evaluate_seconds": round(evaluate_seconds, 1),
        "load_average_1min": {"start": load_average[0], "end": os.getloadavg()[0]},
        "maxlen": args.maxlen,
        "epochs": args.epochs,
        "seed": args.seed,
        "max_features": MAX_FEATURES,
        "train_samples": len(x_train),
        "test_samples": len(x_test),
        "machine": machine(),
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    print(f"Results written to {args.out}")


if __name__ == "__main__":
    main()
