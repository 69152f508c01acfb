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
    .venv/bin/python benchmarks/masking.py --quick    # a smoke run, to a temporary file

Writes benchmarks/results/masking.json and prints a table.
"""

import argparse

import numpy as np
import torch

from common import (VOCAB, OtherLoad, interleave, load_record, load_summary, output_path, relative,
                    train_epoch, tutorial_model, write_report)
from lstmkit.data.batching import batch_indices

PHASES = {"train": 16, "inference": 256}  # batch size of each


def make_data(samples, maxlen, seed=0):
    """Ids with IMDB-like lengths, padded with zeros before the text."""
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(np.log(175), 0.75, samples).astype(int), 10, maxlen)
    x = np.zeros((samples, maxlen), dtype=np.int64)
    for i, n in enumerate(lengths):
        x[i, maxlen - n:] = rng.integers(1, VOCAB, n)
    y = rng.integers(0, 2, (samples, 1)).astype(np.float32)
    return torch.from_numpy(x), torch.from_numpy(y), lengths


def batches(n, size, bucket_lengths=None, seed=0):
    """Shuffled index batches, or length-bucketed ones as fit(bucket_by_length=True) makes."""
    lengths = None if bucket_lengths is None else torch.as_tensor(bucket_lengths)
    return list(batch_indices(n, size, shuffle=True, lengths=lengths,
                              generator=torch.Generator().manual_seed(seed)))


@torch.inference_mode()
def predict_epoch(model, x, index_batches):
    model.eval()
    for index in index_batches:
        model(x[index])


def measure(maxlen, samples, rounds):
    """Samples/s of every contender at one maxlen, training and inference."""
    x, y, lengths = make_data(samples, maxlen)
    masked = {"mask_zero": True}
    models = {
        "unmasked": tutorial_model(),
        "packed": tutorial_model(embedding=masked, lstm={"masked_impl": "packed"}),
        "padded": tutorial_model(embedding=masked, lstm={"masked_impl": "padded"}),
        "padded+bucketed": tutorial_model(embedding=masked, lstm={"masked_impl": "padded"}),
    }
    bucketed = {"padded+bucketed": lengths}
    warm = min(256, samples)
    for model in models.values():  # warm-up: oneDNN builds its kernels for each shape on first use
        train_epoch(model, x[:64], y[:64], batches(64, 16))
        predict_epoch(model, x[:warm], batches(warm, 256))

    def contender(phase, name):
        # each round's batches are drawn before the round, outside the timing
        plan = [batches(samples, PHASES[phase], bucketed.get(name), seed=r) for r in range(rounds)]
        if phase == "train":
            return lambda r: train_epoch(models[name], x, y, plan[r])
        return lambda r: predict_epoch(models[name], x, plan[r])

    results = {}
    for phase in PHASES:
        runs = interleave({name: contender(phase, name) for name in models}, rounds, samples)
        results[phase] = relative(runs.rates, runs.others, "unmasked", "vs_unmasked")
    return {"maxlen": maxlen, "samples": samples, "rounds": rounds,
            "mean_length": float(lengths.mean()),
            "padding_fraction": float(1 - lengths.mean() / maxlen), "results": results}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--maxlen", type=int, nargs="+", default=[200, 500])
    parser.add_argument("--samples", type=int, default=1600)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check the script runs")
    parser.add_argument("--out", help="default benchmarks/results/masking.json "
                                      "(a temporary file with --quick)")
    args = parser.parse_args(argv)
    if args.quick:
        args.maxlen, args.samples, args.rounds = [60], 128, 1
    out = output_path("masking", args.out, args.quick)

    start_load = load_record()
    with OtherLoad() as whole:
        cases = [measure(m, args.samples, args.rounds) for m in args.maxlen]
    report = {
        "benchmark": "masked LSTM kernels: unmasked vs packed vs padded (vs bucketed), "
                     "tutorial model",
        "units": "samples per second",
        "config": {"batch_size": PHASES["train"], "predict_batch_size": PHASES["inference"],
                   "figures": "median/min/max over all rounds; vs_unmasked: median over the "
                              "unmasked model's median"},
        "load": load_summary(start_load, load_record(), whole.share),
        "cases": cases,
    }
    write_report(report, out, __file__, argv)

    for case in cases:
        print(f"maxlen {case['maxlen']} (mean length {case['mean_length']:.0f}, "
              f"{case['padding_fraction']:.0%} padding), samples/s median [min-max], vs unmasked")
        for phase, by_name in case["results"].items():
            for name, r in by_name.items():
                print(f"  {phase:9s} {name:16s} {r['median']:8.0f} [{r['min']:.0f}-{r['max']:.0f}]"
                      f"  {r['vs_unmasked']:.2f}x")
    print(f"load {start_load['loadavg_1_5_15']} -> {report['load']['end']['loadavg_1_5_15']}; "
          f"other processes used {100 * whole.share:.1f}% of the CPUs; wrote {out}")


if __name__ == "__main__":
    main()
