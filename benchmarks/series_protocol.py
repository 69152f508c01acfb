"""LSTM-FCN's published protocol on UCR ItalyPowerDemand, for comparison only.

The figures published for LSTM-FCN and ALSTM-FCN (Karim et al. 2017; 97.0%
and 97.3% here) come from code that passed the test file as Keras'
validation data and chose both the checkpoint and the learning-rate
schedule on its accuracy (titu1994/LSTM-FCN#7, fixed after publication):
each is the best test accuracy over the epochs of one run. This script runs
that protocol with lstmkit, to tell how far the gap to those figures is the
network and how far the protocol:

- the network: LSTM-FCN's own, as lstmkit.tasks.series_ensemble builds it
  (Conv1D 128-256-128, kernels 8-5-3, batch norm, global average pooling,
  beside an LSTM of 8 units reading the dimension shuffle, dropout 0.8);
- their training: one network on all 67 training samples, Adam 1e-3,
  batches of 128 (the whole file), 2000 epochs, the learning rate divided
  by 2^(1/3) after 100 epochs without a better test accuracy (down to 1e-4);
- reported per seed: the best epoch's test accuracy (their checkpoint,
  chosen on the test file), and the last epoch's (no choice made on it).

Neither is lstmkit's result: that is benchmarks/series_classification.py's,
whose defaults never read the test file.

    .venv/bin/python benchmarks/series_protocol.py --seeds 5 --threads 1
    .venv/bin/python benchmarks/series_protocol.py --quick

Writes benchmarks/results/series_protocol.json and prints a table.
"""

import argparse
import os
import time

import numpy as np
import torch

from common import OtherLoad, load_record, load_summary, output_path, write_report
from series_classification import DATA, PUBLISHED, figures

from lstmkit.data.seriesscaler import SeriesScaler
from lstmkit.data.sources import SequenceBatches
from lstmkit.data.tsfile import read_series_file
from lstmkit.tasks.series_ensemble import build_classifier
from lstmkit.train import set_seed

# LSTM-FCN's network and training (titu1994/LSTM-FCN: the model and utils/keras_utils.py)
NETWORK = {"conv_filters": 128, "units": 8, "dropout": 0.8, "layout": "parallel",
           "dimension_shuffle": True, "batch_norm": True}
TRAINING = {"epochs": 2000, "batch_size": 128, "learning_rate": 1e-3, "factor": 2 ** (-1 / 3),
            "patience": 100, "min_learning_rate": 1e-4}


def run(train, test, seed, epochs):
    """One network trained as LSTM-FCN's code trains it; the test accuracy
    after every epoch."""
    scaler = SeriesScaler.fit(train)
    x, y = scaler.transform(train), torch.as_tensor(scaler.encode_labels(train))
    xt, yt = scaler.transform(test), torch.as_tensor(scaler.encode_labels(test))
    set_seed(seed)
    model = build_classifier(scaler.features, len(scaler.labels), length=max(map(len, x)),
                             device="cpu", **NETWORK)
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"], device="cpu",
                  optimizer=lambda p: torch.optim.Adam(p, lr=TRAINING["learning_rate"]))
    history = model.fit(
        SequenceBatches(list(x), y, TRAINING["batch_size"], shuffle=True, seed=seed),
        validation_data=SequenceBatches(list(xt), yt, 1024), epochs=epochs, verbose=0, seed=seed,
        scheduler=lambda optimizer: torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", factor=TRAINING["factor"], patience=TRAINING["patience"],
            min_lr=TRAINING["min_learning_rate"]),
        scheduler_monitor="val_accuracy")
    return [float(a) for a in history.history["val_accuracy"]]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0, 1, ... (default 5)")
    parser.add_argument("--first", type=int, default=0, help="the first seed (default 0)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--data", default=DATA, help="folder of ItalyPowerDemand_TRAIN/TEST.ts")
    parser.add_argument("--quick", action="store_true", help="one seed, 20 epochs, to /tmp")
    parser.add_argument("--out", help="default benchmarks/results/series_protocol.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = output_path("series_protocol", args.out, args.quick)
    seeds = list(range(args.first, args.first + (1 if args.quick else args.seeds)))
    epochs = 20 if args.quick else TRAINING["epochs"]
    train = read_series_file(os.path.join(args.data, "ItalyPowerDemand_TRAIN.ts"))
    test = read_series_file(os.path.join(args.data, "ItalyPowerDemand_TEST.ts"))
    start_load, runs = load_record(), []
    with OtherLoad() as whole:
        for seed in seeds:
            started = time.perf_counter()
            curve = run(train, test, seed, epochs)
            best = int(np.argmax(curve))
            runs.append({"seed": seed, "seconds": time.perf_counter() - started,
                         "best_epoch": best + 1, "best_epoch_test_accuracy": curve[best],
                         "last_epoch_test_accuracy": curve[-1], "test_accuracy_per_epoch": curve})
            print(f"seed {seed}: best epoch {best + 1} (chosen on the test file) "
                  f"{curve[best]:.4f}; last epoch {curve[-1]:.4f}; "
                  f"{runs[-1]['seconds']:.0f} s", flush=True)
    report = {
        "benchmark": "LSTM-FCN's published protocol on ItalyPowerDemand (checkpoint chosen on "
                     "the test file), for comparison only",
        "config": {"network": NETWORK, "training": {**TRAINING, "epochs": epochs},
                   "seeds": seeds, "threads": args.threads,
                   "protocol": "one network on all the training file; the test file scored "
                               "after each epoch, as the validation data of LSTM-FCN's code "
                               "(titu1994/LSTM-FCN#7), which picks the checkpoint and steers "
                               "the learning rate by it"},
        "load": load_summary(start_load, load_record(), whole.share),
        "best_epoch_test_accuracy": figures([r["best_epoch_test_accuracy"] for r in runs]),
        "last_epoch_test_accuracy": figures([r["last_epoch_test_accuracy"] for r in runs]),
        "seconds": figures([r["seconds"] for r in runs]),
        "published": [{"method": m, "test_accuracy": a} for m, a in PUBLISHED
                      if "LSTM-FCN" in m],
        "runs": runs,
    }
    write_report(report, out, __file__, argv)
    best, last = report["best_epoch_test_accuracy"], report["last_epoch_test_accuracy"]
    print(f"best epoch, chosen on the test file: {best['mean']:.4f} ± {best['std']:.4f}; "
          f"last epoch: {last['mean']:.4f} ± {last['std']:.4f} ({len(seeds)} seeds); "
          f"wrote {out}")


if __name__ == "__main__":
    main()
