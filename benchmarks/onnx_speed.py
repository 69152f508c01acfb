"""onnxruntime against lstmkit on the CPU, and what one streaming step costs.

Two measurements on the tutorial's model (Embedding(1024, 256), LSTM(128),
Dropout(0.5), Dense(1, sigmoid)), untrained, with Keras' initialisers:

1. Whole sequences: lstmkit's `predict` against the same model exported by
   `model.export` and run by onnxruntime (session.run over the same batches
   of synthetic ids), with the same number of threads for both (--threads,
   default 1): the tutorial's model on ids without padding, and the same
   model with Embedding(mask_zero=True) on ids padded before the text to
   maxlen, lengths uniform between a quarter of maxlen and maxlen.
2. One step at a time, one stream (batch 1), the state carried from call to
   call: `model.step` (impl 'fused', and 'auto', which takes the cell for a
   single step on the CPU), the exported graph in onnxruntime, the whole
   network written by hand in PyTorch (nn.Embedding, nn.LSTM, nn.Linear),
   and the bare nn.LSTM on the embedded step, the floor every streaming call
   pays. Keras' `predict` called per step is known to cost hundreds of times
   a step (tensorflow/tensorflow#40261); that is cited, not measured here.

Contenders are interleaved round by round in this one process after a
warm-up (benchmarks/common.py).

    .venv/bin/python benchmarks/onnx_speed.py            # ~2 min on a quiet 2-core machine
    .venv/bin/python benchmarks/onnx_speed.py --quick    # a smoke run, to a temporary file

Writes benchmarks/results/onnx_speed.json and prints the figures.
"""

import argparse
import statistics
import tempfile

import numpy as np
import torch
from torch import nn

from common import (EMBED, QUIET_SHARE, TUTORIAL, UNITS, VOCAB, OtherLoad, compare, cpu_model,
                    interleave, load_record, load_summary, output_path, relative,
                    synthetic_data, tutorial_model, write_report)


def onnx_session(model, folder, threads, name="tutorial"):
    import onnxruntime

    path = f"{folder}/{name}.onnx"
    model.export(path)  # checked against lstmkit by onnxruntime before it is written
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def zero_states(batch_size):
    return {name: np.zeros((1, batch_size, UNITS), dtype=np.float32)
            for name in ("state_1_h", "state_1_c")}


def onnx_predict(session, x, batch_size):
    outputs = []
    for start in range(0, len(x), batch_size):
        xb = x[start : start + batch_size]
        outputs.append(session.run(["output"], {
            "x": xb, "lengths": np.full(len(xb), xb.shape[1], dtype=np.int64),
            **zero_states(len(xb))})[0])
    return np.concatenate(outputs)


class Stepper:
    """Contenders that run `steps` ids one at a time, carrying the state."""

    def __init__(self, model, session, ids):
        self.model, self.session, self.ids = model, session, ids  # ids (steps,) int64
        state = model.state_dict()
        self.embedding = nn.Embedding(VOCAB, EMBED)
        self.lstm = nn.LSTM(EMBED, UNITS, batch_first=True)
        self.linear = nn.Linear(UNITS, 1)
        self.embedding.load_state_dict({"weight": state["layers.0.embedding.weight"]})
        self.lstm.load_state_dict({k: state[f"layers.1.lstm.{k}"] for k in
                                   ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")})
        self.linear.load_state_dict({"weight": state["layers.3.linear.weight"],
                                     "bias": state["layers.3.linear.bias"]})
        for module in (self.embedding, self.lstm, self.linear):
            module.eval()
        self.embedded = self.embedding(torch.from_numpy(ids)[None]).detach()  # (1, steps, E)

    def step(self, impl):
        state, out = None, None
        for i in self.ids:
            out, state = self.model.step(np.array([i]), state, impl=impl)
        return out.numpy()

    @torch.no_grad()
    def hand(self):
        state, out = None, None
        for i in torch.from_numpy(self.ids)[:, None, None]:  # (1, 1) per step
            h, state = self.lstm(self.embedding(i), state)
            out = torch.sigmoid(self.linear(h[:, -1]))
        return out.numpy()

    @torch.no_grad()
    def bare_lstm(self):
        state = None
        for t in range(self.embedded.shape[1]):
            h, state = self.lstm(self.embedded[:, t : t + 1], state)
        return h.numpy()

    def onnxruntime(self):
        feeds, out = zero_states(1), None
        lengths = np.ones(1, dtype=np.int64)
        for i in self.ids:
            out, h, c = self.session.run(None, {"x": np.array([[i]]), "lengths": lengths, **feeds})
            feeds = {"state_1_h": h, "state_1_c": c}
        return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--maxlen", type=int, default=200)
    parser.add_argument("--predict-batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=1000, help="steps per streaming run")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--extra-rounds", type=int, default=6,
                        help="rounds to add, at most, in place of rounds that other processes "
                             "disturbed (more than 5%% of the CPUs used by others)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch's and onnxruntime's threads alike (default 1: on a 2-core "
                             "machine shared with other jobs, more threads wait on each other)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, one round, to check the script runs")
    parser.add_argument("--out", help="default benchmarks/results/onnx_speed.json "
                                      "(a temporary file with --quick)")
    args = parser.parse_args(argv)
    if args.quick:
        args.samples, args.maxlen, args.steps, args.rounds, args.extra_rounds = 64, 20, 50, 1, 0
    out = output_path("onnx_speed", args.out, args.quick)
    import onnxruntime

    torch.set_num_threads(args.threads)
    start_load = load_record()
    x, _ = synthetic_data(args.samples, args.maxlen, seed=args.seed)
    x_np = x.numpy()
    model = tutorial_model(args.seed).eval()  # built for any number of steps
    threads = torch.get_num_threads()
    masked = tutorial_model(args.seed, embedding={"mask_zero": True}).eval()
    g = torch.Generator().manual_seed(args.seed + 1)
    lengths = torch.randint(args.maxlen // 4, args.maxlen + 1, (len(x),), generator=g)
    padded = torch.where(torch.arange(args.maxlen)[None] >= args.maxlen - lengths[:, None], x, 0)
    padded_np = padded.numpy()
    with tempfile.TemporaryDirectory() as folder:
        session = onnx_session(model, folder, threads)
        masked_session = onnx_session(masked, folder, threads, "masked")
    ids = x_np[0, : args.steps] if args.steps <= args.maxlen else np.resize(x_np[0], args.steps)
    stepper = Stepper(model, session, ids.astype(np.int64))

    whole = {
        "lstmkit": lambda r: model.predict(x, batch_size=args.predict_batch_size),
        "onnxruntime": lambda r: onnx_predict(session, x_np, args.predict_batch_size),
    }
    whole_masked = {
        "lstmkit": lambda r: masked.predict(padded, batch_size=args.predict_batch_size),
        "onnxruntime": lambda r: onnx_predict(masked_session, padded_np, args.predict_batch_size),
    }
    steps = {
        "bare nn.LSTM": lambda r: stepper.bare_lstm(),
        "hand-written PyTorch": lambda r: stepper.hand(),
        "model.step, impl='fused'": lambda r: stepper.step("fused"),
        "model.step, impl='auto' (the cell)": lambda r: stepper.step("auto"),
        "onnxruntime session.run": lambda r: stepper.onnxruntime(),
    }
    # warm-up (oneDNN and onnxruntime prepare their kernels per shape), and the
    # contenders agree: the same predictions, the same last streamed output
    agree_whole = 0.0
    for contenders in (whole, whole_masked):
        first = {name: fn(0) for name, fn in contenders.items()}
        agree_whole = max(agree_whole, float(np.abs(first["lstmkit"] - first["onnxruntime"]).max()))
    last = {name: fn(0) for name, fn in steps.items() if name != "bare nn.LSTM"}
    agree_steps = max(float(np.abs(v - last["hand-written PyTorch"]).max()) for v in last.values())
    streamed = float(np.abs(last["hand-written PyTorch"]
                            - model.predict(ids[None], batch_size=1)).max())

    with OtherLoad() as load_whole:
        runs = interleave(whole, args.rounds, len(x), args.extra_rounds, label="predict")
    predict = compare(runs, "onnxruntime", "lstmkit")
    with OtherLoad() as load_masked:
        runs = interleave(whole_masked, args.rounds, len(x), args.extra_rounds,
                          label="predict, masked")
    predict_masked = compare(runs, "onnxruntime", "lstmkit")
    with OtherLoad() as load_steps:
        runs = interleave(steps, args.rounds, len(ids), args.extra_rounds, label="steps")
    per_step = relative(runs.rates, runs.others, "bare nn.LSTM", "vs_bare_lstm")
    for name, figures in per_step.items():
        figures["microseconds_per_step"] = 1e6 / statistics.median(runs.rates[name])
        figures["times_bare_lstm"] = 1 / figures.pop("vs_bare_lstm")  # cost, not speed
    load = load_summary(start_load, load_record(), max(load_whole.share, load_masked.share,
                                                                load_steps.share))
    report = {
        "benchmark": "onnxruntime vs lstmkit predict, and the cost of one streaming step, "
                     "tutorial model, CPU",
        "config": {
            "model": TUTORIAL, "weights": "untrained, Keras' initialisers, seed "
            f"{args.seed}", "samples": len(x), "maxlen": args.maxlen,
            "predict_batch_size": args.predict_batch_size, "stream_batch_size": 1,
            "masked": "Embedding(mask_zero=True), ids padded before to maxlen, lengths uniform "
                      f"in [{args.maxlen // 4}, {args.maxlen}], "
                      f"{1 - float(lengths.float().mean()) / args.maxlen:.0%} padding",
            "steps_per_run": len(ids), "rounds": args.rounds, "extra_rounds": args.extra_rounds,
            "torch_threads": threads, "onnxruntime_threads": threads,
            "onnxruntime": onnxruntime.__version__,
            "figures": "predict: samples/s, median of paired rounds undisturbed by other "
                       f"processes (under {QUIET_SHARE:.0%} of the CPUs; all rounds if none); "
                       "steps: steps/s over all rounds, microseconds per step and cost relative "
                       "to the bare nn.LSTM",
            "seed": args.seed,
        },
        "agreement": {"predict_max_abs_diff": agree_whole,
                      "streamed_last_output_max_abs_diff": agree_steps,
                      "streamed_vs_predict_max_abs_diff": streamed},
        "load": load,
        "results": {"predict": predict, "predict_masked": predict_masked, "steps": per_step},
    }
    write_report(report, out, __file__, argv)

    print(f"{cpu_model()}, {threads} threads, torch {torch.__version__}, onnxruntime "
          f"{onnxruntime.__version__}; other processes used "
          f"{100 * load['other_processes_cpu_share']:.1f}% of the CPUs (quiet: {load['quiet']})")
    for label, figures in (("", predict), (", masked", predict_masked)):
        ratio = figures["ratio_onnxruntime_over_lstmkit"]
        print(f"predict{label}, batch {args.predict_batch_size}: onnxruntime / lstmkit "
              f"samples/s {ratio['median_of_rounds']:.2f} (median of paired rounds, "
              f"{ratio['min_of_rounds']:.2f}-{ratio['max_of_rounds']:.2f})")
    print(f"outputs agree to {agree_whole:.1e}")
    for name, figures in per_step.items():
        print(f"one step, batch 1: {name:38s} {figures['microseconds_per_step']:8.1f} us "
              f"({figures['times_bare_lstm']:.2f}x the bare nn.LSTM)")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
