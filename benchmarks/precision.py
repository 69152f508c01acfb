"""Training speed in float32 and in mixed bfloat16 (lstmkit.precision), side by side.

Three of lstmkit's models, each trained through `model.fit` in float32 and
with `precision="mixed_bfloat16"` from the same initial weights, in chunks
of --chunk steps, alternating (A B, B A, ...) in one process:
  - the character-level language model of benchmarks/char_lm.py (2 x 512 LSTM,
    embedding 128, batch 64 x BPTT 64) on Tiny Shakespeare;
  - Zaremba et al.'s small word model of benchmarks/ptb_small.py (2 x 200,
    a 10,000-word softmax, batch 20 x BPTT 20) on Penn Treebank;
  - the tutorial's classifier (Embedding(1024, 256), LSTM(128), Dropout, Dense)
    on 200-step synthetic sequences, batch 16.
The figure is the time ratio bf16 / float32 per model; the loss of each
contender's last chunk shows both train alike. Whether the CPU has bf16
matrix units (AMX, AVX512-BF16) is recorded: without them bf16 is emulated
and slower.

    .venv/bin/python benchmarks/precision.py
    .venv/bin/python benchmarks/precision.py --quick
"""

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (OtherLoad, compare, interleave, load_record, load_summary,  # noqa: E402
                    output_path, synthetic_data, time_ratio, tutorial_model, write_report)

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared",
                      "datasets")
PRECISIONS = ("float32", "mixed_bfloat16")


def cpu_flags():
    """The CPU's bf16 features, from /proc/cpuinfo (empty elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f
                          if line.startswith("flags")), [])
    except OSError:
        return []
    return sorted(f for f in flags if f in ("amx_bf16", "amx_tile", "avx512_bf16"))


def language_model(level):
    """(a fresh model maker, its batch source, tokens per step) for the char or word model."""
    from lstmkit.data.corpus import load_corpus
    from lstmkit.data.streams import StreamBatches
    from lstmkit.tasks.lm import DEFAULTS, OPTIMIZERS, build_language_model

    if level == "char":
        corpus = load_corpus(os.path.join(SHARED, "tinyshakespeare", "input.txt"), level="char")
        o = DEFAULTS["char"]
    else:
        corpus = load_corpus(*(os.path.join(SHARED, "ptb", f"ptb.{p}.txt")
                               for p in ("train", "valid", "test")), level="word")
        o = DEFAULTS["word"]

    def make():
        torch.manual_seed(0)
        model = build_language_model(len(corpus.vocabulary), o["units"], o["embedding"],
                                     o["layers"], o["dropout"], o["tie"], o["init_range"], "cpu")
        model.optimizer = OPTIMIZERS[o["optimizer"]](model.parameters(), lr=o["lr"])
        return model  # compiled, with the level's optimizer and learning rate

    source = StreamBatches(corpus.train, o["batch_size"], o["bptt"])
    return make, source, o["batch_size"] * o["bptt"], {"clip_grad_norm": o["clip"]}


def tutorial():
    x, y = synthetic_data(2048, 200)

    def make():
        return tutorial_model(seed=0, maxlen=200)

    return make, (x, y), 16 * 200, {"batch_size": 16}


MODELS = {
    "char_lm": ("character LM, 2 x 512 LSTM, batch 64 x BPTT 64", lambda: language_model("char")),
    "ptb_small": ("PTB small, 2 x 200 LSTM, 10,000-word softmax, batch 20 x BPTT 20",
                  lambda: language_model("word")),
    "tutorial": ("the tutorial's classifier, 200 steps, batch 16", tutorial),
}


class Contender:
    """One model trained `chunk` steps per call under one precision."""

    def __init__(self, make, data, settings, precision, chunk):
        self.model, self.data = make(), data
        self.settings = {**settings, "precision": precision, "steps_per_epoch": chunk,
                         "verbose": 0, "epochs": 1, "seed": 0}

    def __call__(self, round_index):
        if isinstance(self.data, tuple):
            x, y = self.data
            history = self.model.fit(x, y, shuffle=True, **self.settings)
        else:
            history = self.model.fit(self.data, shuffle=False, **self.settings)
        return {"loss": history.history["loss"][-1]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=30, help="training steps per timed chunk")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 rounds of 3 steps")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.chunk = 2, 3
    argv = sys.argv[1:] if argv is None else argv
    out = output_path("precision", args.out, args.quick)
    report = {"benchmark": "precision", "cpu_bf16_features": cpu_flags(),
              "threads": torch.get_num_threads(), "rounds": args.rounds,
              "chunk_steps": args.chunk, "models": {}}
    for name in args.models.split(","):
        what, setup = MODELS[name]
        make, data, tokens_per_step, settings = setup()
        contenders = {p: Contender(make, data, settings, p, args.chunk) for p in PRECISIONS}
        for contender in contenders.values():
            contender(0)  # warm-up
        start = load_record()
        with OtherLoad() as load:
            runs = interleave(contenders, args.rounds, args.chunk * tokens_per_step,
                              label=name)
        result = compare(runs, "mixed_bfloat16", "float32")
        ratio = result["ratio_mixed_bfloat16_over_float32"]  # of tokens/s
        report["models"][name] = {
            "model": what, "tokens_per_step": tokens_per_step,
            "ms_per_step": {p: 1000 * tokens_per_step / result[p]["median"] for p in PRECISIONS},
            "time_ratio_bf16_over_float32": time_ratio(ratio),
            "last_chunk_loss": {p: runs.outputs[p][-1]["loss"] for p in PRECISIONS},
            "other_processes_cpu_share": {p: runs.others[p] for p in PRECISIONS},
            "load": load_summary(start, load_record(), load.share)}
        t = report["models"][name]["time_ratio_bf16_over_float32"]["median_of_rounds"]
        print(f"{name}: bf16 / float32 time {t:.2f}", flush=True)
        write_report(report, out, __file__, argv)
    print(f"report written to {out}")


if __name__ == "__main__":
    main()
