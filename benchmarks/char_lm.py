"""A character-level LSTM language model on Tiny Shakespeare, on the CPU, in a
fixed training budget.

The usual split (first 90% of input.txt trains, last 10% validates); the
target is a validation loss of at most 1.47 nats per character (the figure
of nanoGPT's small character-level transformer baseline), aiming at 1.45.
Training runs through `lstmkit.tasks.lm.train_language_model` (the
engine's truncated BPTT with the state carried) and stops after --minutes of
training (at the end of the step that crosses it); the validation loss is
then measured over the whole validation stream with the state carried
through (--eval-streams parallel streams), and samples of generated text are
saved in the report.

    .venv/bin/python benchmarks/char_lm.py --minutes 25
    .venv/bin/python benchmarks/char_lm.py --quick
"""

import argparse
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import TrainingBudget, load_record, output_path, write_report  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared",
                    "datasets", "tinyshakespeare", "input.txt")
TARGET, AIM = 1.47, 1.45


def main(argv=None):
    from lstmkit.data.corpus import load_corpus
    from lstmkit.generate import generate
    from lstmkit.tasks.lm import DEFAULTS, evaluate_stream, train_language_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=25.0, help="training budget")
    parser.add_argument("--units", type=int, default=DEFAULTS["char"]["units"])
    parser.add_argument("--embedding", type=int, default=DEFAULTS["char"]["embedding"])
    parser.add_argument("--layers", type=int, default=DEFAULTS["char"]["layers"])
    parser.add_argument("--dropout", type=float, default=DEFAULTS["char"]["dropout"])
    parser.add_argument("--bptt", type=int, default=DEFAULTS["char"]["bptt"])
    parser.add_argument("--batch-size", type=int, default=DEFAULTS["char"]["batch_size"])
    parser.add_argument("--lr", type=float, default=DEFAULTS["char"]["lr"])
    parser.add_argument("--lr-decay", type=float, default=DEFAULTS["char"]["lr_decay"])
    parser.add_argument("--decay-after", type=int, default=DEFAULTS["char"]["decay_after"])
    parser.add_argument("--precision", default="float32", choices=("float32", "bf16"),
                        help="bf16: the forward pass in bfloat16 (lstmkit.precision)")
    parser.add_argument("--epochs", type=int, default=20, help="at most (the budget decides)")
    parser.add_argument("--eval-streams", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=DATA)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20 s, a small model")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    if args.quick:
        args.minutes, args.units, args.embedding, args.epochs = 1 / 3, 64, 16, 1
    argv = sys.argv[1:] if argv is None else argv
    out = output_path("char_lm", args.out, args.quick)
    corpus = load_corpus(args.data, level="char")
    options = {**DEFAULTS["char"], "units": args.units, "embedding": args.embedding,
               "layers": args.layers, "dropout": args.dropout, "bptt": args.bptt,
               "batch_size": args.batch_size, "lr": args.lr, "lr_decay": args.lr_decay,
               "decay_after": args.decay_after, "epochs": args.epochs,
               "precision": args.precision}
    report = {"benchmark": "char_lm", "data": "Tiny Shakespeare, first 90% train / last 10% "
              "validation", "train_chars": len(corpus.train), "valid_chars": len(corpus.valid),
              "vocabulary": len(corpus.vocabulary), "options": options,
              "budget_minutes": args.minutes, "target_nats": TARGET, "aim_nats": AIM,
              "threads": torch.get_num_threads(), "load_start": load_record(), "epochs": []}
    budget = TrainingBudget(args.minutes * 60, report,
                            lambda: write_report(report, out, __file__, argv))
    model, _ = train_language_model(corpus, options, seed=args.seed, verbose=0,
                                    callbacks=[budget], eval_batch_size=args.eval_streams,
                                    device="cpu")
    started = time.perf_counter()
    nats = evaluate_stream(model, corpus.valid, args.eval_streams, 250)
    report["valid_nats"] = nats
    report["valid_bits_per_char"] = nats / math.log(2)
    report["valid_eval"] = {"streams": args.eval_streams,
                            "seconds": time.perf_counter() - started}
    report["reached_target"] = nats <= TARGET
    report["parameters"] = sum(p.numel() for p in model.parameters())
    report["samples"] = []
    for temperature, seed in ((0.8, 0), (0.8, 1), (0.0, None)):
        text = "ROMEO:" + "".join(generate(model, "ROMEO:", 500, temperature, seed=seed))
        report["samples"].append({"prompt": "ROMEO:", "temperature": temperature, "seed": seed,
                                  "text": text})
    report["load_end"] = load_record()
    write_report(report, out, __file__, argv)
    print(f"validation {nats:.4f} nats/char ({nats / math.log(2):.3f} bits) after "
          f"{report['train_seconds']:.0f} s of training, {report['steps']} steps; target "
          f"{TARGET}: {'reached' if report['reached_target'] else 'not reached'}")
    print(report["samples"][0]["text"])


if __name__ == "__main__":
    main()
