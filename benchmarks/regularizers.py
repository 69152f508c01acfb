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
    .venv/bin/python benchmarks/regularizers.py --quick    # a smoke run, to a temporary file

Writes benchmarks/results/regularizers.json and prints a table.
"""

import argparse

import torch

from common import (VOCAB, OtherLoad, interleave, load_record, load_summary, output_path,
                    relative, train_epoch, tutorial_model, write_report)

BATCH_SIZE = 16
VARIANTS = {  # tutorial_model's arguments for each
    "none": {},
    "embedding_dropout": {"embedding": {"dropout": 0.1}},
    "locked_dropout": {"locked_dropout": 0.3},
    "weight_dropout": {"lstm": {"weight_dropout": 0.5}},
    "recurrent_dropout": {"lstm": {"recurrent_dropout": 0.25}},
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--maxlen", type=int, default=200)
    parser.add_argument("--samples", type=int, default=480)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check the script runs")
    parser.add_argument("--out", help="default benchmarks/results/regularizers.json "
                                      "(a temporary file with --quick)")
    args = parser.parse_args(argv)
    if args.quick:
        args.maxlen, args.samples, args.rounds = 30, 64, 1
    out = output_path("regularizers", args.out, args.quick)

    torch.manual_seed(0)
    x = torch.randint(1, VOCAB, (args.samples, args.maxlen))  # (N, T)
    y = torch.randint(0, 2, (args.samples, 1)).float()  # (N, 1)
    models = {name: tutorial_model(**kwargs) for name, kwargs in VARIANTS.items()}
    for model in models.values():  # warm-up
        train_epoch(model, x[:32], y[:32], torch.randperm(32).split(BATCH_SIZE))

    def contender(name):
        return lambda r: train_epoch(models[name], x, y,
                                     torch.randperm(len(x)).split(BATCH_SIZE))

    start_load = load_record()
    with OtherLoad() as whole:
        runs = interleave({name: contender(name) for name in models}, args.rounds, len(x))
    report = {
        "benchmark": "training speed of each regulariser, tutorial model",
        "config": {"maxlen": args.maxlen, "samples": args.samples, "rounds": args.rounds,
                   "batch_size": BATCH_SIZE, "variants": VARIANTS,
                   "units": "training samples per second"},
        "load": load_summary(start_load, load_record(), whole.share),
        "results": relative(runs.rates, runs.others, "none", "vs_none"),
    }
    write_report(report, out, __file__, argv)

    print(f"training samples/s, maxlen {args.maxlen}, batch {BATCH_SIZE}: "
          "median [min-max], vs none")
    for name, r in report["results"].items():
        print(f"  {name:18s} {r['median']:7.0f} [{r['min']:.0f}-{r['max']:.0f}]  "
              f"{r['vs_none']:.2f}x")
    print(f"load {start_load['loadavg_1_5_15']} -> {report['load']['end']['loadavg_1_5_15']}; "
          f"other processes used {100 * whole.share:.1f}% of the CPUs; wrote {out}")


if __name__ == "__main__":
    main()
