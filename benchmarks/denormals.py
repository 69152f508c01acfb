"""Denormal floats: PyTorch's default initialisation against Keras' (lstmkit's).

The pitfall (see lstmkit/initializers.py): with PyTorch's defaults for
nn.Embedding (normal, std 1), nn.LSTM (uniform +-1/sqrt(H), no forget bias)
and nn.Linear, the forget gates of the tutorial's LSTM sit near 0.5, so the
gradient carried back through the cell state halves at every one of the 200
steps and passes through the denormal range (below 1.18e-38) before it
reaches zero; arithmetic on denormals is slow on many CPUs. Keras'
initialisers (small uniform embeddings, glorot / orthogonal kernels, forget
bias 1) keep the gates near 0.73 and the values normal.

The same tutorial model, on the same batches, is trained with each
initialisation by lstmkit's `fit`, in blocks of steps interleaved across the
contenders; the first block of each is a warm-up and is not counted:

    keras, torch                    the two initialisations
    keras+ftz_main, torch+ftz_main  with torch.set_flush_denormal(True) called
                                    around each block, as a user would call it
    keras+ftz_all, torch+ftz_all    in a child process that turns flushing on
                                    before its first parallel operation

torch.set_flush_denormal sets the calling thread's FTZ/DAZ flags only; the
OpenMP worker threads copy the flags when they are created (at the first
parallel operation) and are not changed afterwards. So a call made later
covers one thread of torch.get_num_threads(); this script measures both.

At a few points it also counts denormal values (abs < 1.1754944e-38 and not
0) in the LSTM weight gradients, the hidden states, and the gradients carried
back through time (dL/dh_t, dL/dc_t, from an explicit unrolled copy of the
cell on one batch).

    .venv/bin/python benchmarks/denormals.py                 # 300 steps each, ~3 min
    .venv/bin/python benchmarks/denormals.py --steps 60 --block-steps 20   # a quick look
    .venv/bin/python benchmarks/denormals.py --quick         # a smoke run, to a temporary file

Writes benchmarks/results/denormals.json and prints a table.
"""

import argparse
import json
import os
import subprocess
import sys
import time

if __name__ == "__main__" and "--child-ftz-all" in sys.argv:
    # before any parallel torch operation, so every OpenMP thread inherits it
    import torch

    torch.set_flush_denormal(True)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from common import (TUTORIAL, OtherLoad, cpu_model, interleave, load_record,  # noqa: E402
                    load_summary, output_path, relative, synthetic_data, tutorial_model,
                    write_report)
from lstmkit.layers import lstm_cell  # noqa: E402

TINY = 1.1754944e-38  # smallest normal float32


def make_model(init, seed, maxlen):
    """The tutorial model with Keras' initialisers (lstmkit's defaults) or
    PyTorch's (each torch module's reset_parameters)."""
    model = tutorial_model(seed, maxlen)
    if init == "torch":
        torch.manual_seed(seed)
        for module in model.modules():
            if isinstance(module, (nn.Embedding, nn.LSTM, nn.Linear)):
                module.reset_parameters()
    return model


def denormal_stats(t):
    t = t.detach()
    denormal = (t.abs() < TINY) & (t != 0)
    return {"fraction": denormal.float().mean().item(), "count": int(denormal.sum()),
            "zeros_fraction": (t == 0).float().mean().item(), "numel": t.numel()}


def diagnose(model, x, y):
    """Denormal counts on one batch, without dropout and without touching the
    optimizer: the fused pass for the weight gradients and hidden states, an
    unrolled pass through `lstm_cell` for the gradients through time."""
    embedding = model.layers[0].embedding
    lstm = model.layers[1].lstm
    linear = model.layers[3].linear
    model.eval()
    model.zero_grad(set_to_none=True)
    inputs = embedding(x)  # (N, T, E)
    inputs.retain_grad()
    out, (h_n, c_n) = lstm(inputs)  # out (N, T, H)
    loss = F.binary_cross_entropy_with_logits(linear(out[:, -1]), y[:, None])
    loss.backward()
    report = {
        "grad_weight_ih": denormal_stats(lstm.weight_ih_l0.grad),
        "grad_weight_hh": denormal_stats(lstm.weight_hh_l0.grad),
        "grad_bias": denormal_stats(lstm.bias_ih_l0.grad),
        "grad_embedding_rows_used": denormal_stats(embedding.weight.grad[x.unique()]),
        "grad_lstm_input": denormal_stats(inputs.grad),
        "hidden_states": denormal_stats(out),
        "final_cell_state": denormal_stats(c_n),
    }
    model.zero_grad(set_to_none=True)

    # the gradients the fused backward computes internally, step by step
    inputs = embedding(x).detach()
    h = c = inputs.new_zeros(len(x), lstm.hidden_size)
    hs, cs = [], []
    for t in range(inputs.shape[1]):
        h, c = lstm_cell(inputs[:, t], h, c, lstm.weight_ih_l0, lstm.weight_hh_l0,
                         lstm.bias_ih_l0, lstm.bias_hh_l0)
        h.retain_grad()
        c.retain_grad()
        hs.append(h)
        cs.append(c)
    loss = F.binary_cross_entropy_with_logits(linear(h), y[:, None])
    loss.backward()
    grad_h = torch.stack([v.grad for v in hs], 1)  # (N, T, H)
    grad_c = torch.stack([v.grad for v in cs], 1)  # (N, T, H)
    with torch.no_grad():
        gates = inputs @ lstm.weight_ih_l0.T + lstm.bias_ih_l0 + lstm.bias_hh_l0  # (N, T, 4H)
        H = lstm.hidden_size
        forget = torch.sigmoid(gates[..., H : 2 * H]).mean().item()  # input part only
    steps_with_denormals = ((grad_c.abs() < TINY) & (grad_c != 0)).any(2).any(0)  # (T,)
    back = torch.arange(inputs.shape[1] - 1, -1, -1)  # (T,) steps before the last
    report.update({
        "grad_h_through_time": denormal_stats(grad_h),
        "grad_c_through_time": denormal_stats(grad_c),
        # how far back from the last step the gradient is in the denormal range
        "steps_back_with_denormal_grad_c": summarize_steps(back[steps_with_denormals]),
        "mean_forget_gate_input_part": forget,
        "loss": loss.item(),
    })
    model.zero_grad(set_to_none=True)
    model.train()
    return report


def summarize_steps(steps):
    if not len(steps):
        return {"count": 0, "first": None, "last": None}
    return {"count": len(steps), "first": int(steps.min()), "last": int(steps.max())}


def blocks(x, y, block_samples):
    return [(x[s : s + block_samples], y[s : s + block_samples])
            for s in range(0, len(x) - block_samples + 1, block_samples)]


def train_interleaved(contenders, data_blocks, batch_size, flush_main=(), warm_up=True):
    """Train every contender block by block, a block a round of `interleave`;
    returns samples/s and the other processes' share of the CPUs per block
    (the first left out if warm_up), and the last losses."""
    def contender(name):
        def block(r):
            xb, yb = data_blocks[r]
            if name in flush_main:
                torch.set_flush_denormal(True)
            history = contenders[name].fit(xb, yb, batch_size=batch_size, epochs=1,
                                           shuffle=False, verbose=0)
            if name in flush_main:
                torch.set_flush_denormal(False)
            return history.history["loss"][-1]
        return block

    samples = len(data_blocks[0][0]) if data_blocks else 0
    runs = interleave({name: contender(name) for name in contenders}, len(data_blocks), samples)
    skip = 1 if warm_up else 0
    rates = {name: values[skip:] for name, values in runs.rates.items()}
    others = {name: values[skip:] for name, values in runs.others.items()}
    losses = {name: values[-1] for name, values in runs.outputs.items() if values}
    return rates, others, losses


def flush_coverage():
    """Fraction of a large parallel multiply whose denormal inputs are flushed
    to zero: which threads have the FTZ/DAZ flags on."""
    d = torch.full((4_000_000,), 1000, dtype=torch.int32).view(torch.float32)  # denormals
    return ((d * 1.0) == 0).float().mean().item()


def child(args):
    """The ftz_all contenders: flushing was turned on at import, before any
    parallel operation, so it covers every thread."""
    x, y = synthetic_data(args.samples, args.maxlen, "learnable", args.seed)
    models = {f"{init}+ftz_all": make_model(init, args.seed, args.maxlen)
              for init in ("keras", "torch")}
    rates, others, losses = train_interleaved(
        models, blocks(x, y, args.block_steps * args.batch_size), args.batch_size)
    json.dump({"rates": rates, "others": others, "losses": losses,
               "flush_coverage": flush_coverage()}, sys.stdout)


def measure(args):
    """Train every contender and diagnose the models: samples/s and the other
    processes' share of the CPUs per block, last losses, denormal counts, and
    how much of a parallel op set_flush_denormal covers."""
    x, y = synthetic_data(args.samples, args.maxlen, "learnable", args.seed)
    probe_x, probe_y = x[: args.batch_size], y[: args.batch_size]
    models = {"keras": make_model("keras", args.seed, args.maxlen),
              "torch": make_model("torch", args.seed, args.maxlen)}
    contenders = {**models,
                  "keras+ftz_main": make_model("keras", args.seed, args.maxlen),
                  "torch+ftz_main": make_model("torch", args.seed, args.maxlen)}
    flush_main = ("keras+ftz_main", "torch+ftz_main")
    diagnostics = {"before_training": {k: diagnose(m, probe_x, probe_y) for k, m in models.items()}}

    data_blocks = blocks(x, y, args.block_steps * args.batch_size)
    half = len(data_blocks) // 2
    rates, others, losses = train_interleaved(contenders, data_blocks[:half], args.batch_size,
                                              flush_main)
    diagnostics[f"after_{half * args.block_steps}_steps"] = {
        k: diagnose(m, probe_x, probe_y) for k, m in models.items()}
    more, more_others, losses = train_interleaved(contenders, data_blocks[half:],
                                                  args.batch_size, flush_main, warm_up=False)
    for name in rates:
        rates[name] += more[name]
        others[name] += more_others[name]
    diagnostics[f"after_{len(data_blocks) * args.block_steps}_steps"] = {
        k: diagnose(m, probe_x, probe_y) for k, m in models.items()}

    torch.set_flush_denormal(True)
    coverage = {"set_after_threads_started": flush_coverage(), "set_before_first_parallel_op": None}
    torch.set_flush_denormal(False)
    if not args.no_child:
        command = [sys.executable, os.path.abspath(__file__), "--child-ftz-all",
                   "--steps", str(args.steps), "--block-steps", str(args.block_steps),
                   "--maxlen", str(args.maxlen), "--batch-size", str(args.batch_size),
                   "--seed", str(args.seed)]
        child_result = json.loads(subprocess.run(command, capture_output=True, text=True,
                                                 check=True).stdout)
        rates.update(child_result["rates"])
        others.update(child_result["others"])
        losses.update(child_result["losses"])
        coverage["set_before_first_parallel_op"] = child_result["flush_coverage"]
    return rates, others, losses, diagnostics, coverage


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps per contender")
    parser.add_argument("--block-steps", type=int, default=25,
                        help="steps per interleaved block (the first block is a warm-up)")
    parser.add_argument("--maxlen", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-child", action="store_true",
                        help="skip the ftz_all contenders (the child process)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, to check the script runs")
    parser.add_argument("--out", help="default benchmarks/results/denormals.json "
                                      "(a temporary file with --quick)")
    parser.add_argument("--child-ftz-all", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.block_steps, args.maxlen = 40, 10, 30
    args.samples = args.steps * args.batch_size
    if args.child_ftz_all:
        return child(args)
    out = output_path("denormals", args.out, args.quick)

    start_load = load_record()
    began = time.perf_counter()
    with OtherLoad() as whole:
        rates, others, losses, diagnostics, coverage = measure(args)
    speed = relative(rates, others, "keras", "relative_to_keras")
    report = {
        "benchmark": "training speed and denormals: PyTorch vs Keras initialisation, "
                     "tutorial model",
        "config": {
            "model": TUTORIAL, "loss": "binary_crossentropy", "optimizer": "rmsprop",
            "batch_size": args.batch_size, "maxlen": args.maxlen,
            "steps_per_contender": args.steps, "block_steps": args.block_steps,
            "labels": "learnable", "seed": args.seed, "units": "samples per second",
            "interleaving": "keras, torch, keras+ftz_main, torch+ftz_main interleaved block by "
                            "block in one process; keras+ftz_all and torch+ftz_all interleaved "
                            "in a child process run afterwards (not interleaved with the others)",
        },
        "load": load_summary(start_load, load_record(), whole.share),
        "flush_denormal_coverage": {
            "note": "fraction of a parallel op's denormal inputs flushed with "
                    "set_flush_denormal(True): 1.0 = every thread, 1/threads = caller only",
            **coverage,
        },
        "speed": speed,
        "final_block_loss": losses,
        "denormals": diagnostics,
        "seconds": time.perf_counter() - began,
    }
    write_report(report, out, __file__, argv)

    load = report["load"]
    print(f"{cpu_model()}, {torch.get_num_threads()} threads, torch {torch.__version__}; load "
          f"{start_load['loadavg_1_5_15']} -> {load['end']['loadavg_1_5_15']}; other processes "
          f"used {100 * whole.share:.1f}% of the CPUs (quiet: {load['quiet']})")
    print(f"{'contender':16} {'median':>8} {'min':>8} {'max':>8} {'vs keras':>9}  samples/s")
    for name, s in speed.items():
        print(f"{name:16} {s['median']:8.1f} {s['min']:8.1f} {s['max']:8.1f} "
              f"{s['relative_to_keras']:9.2f}")
    print("denormal fractions (weight_hh grad / hidden states / dL/dc through time):")
    for when, per_init in diagnostics.items():
        for init, d in per_init.items():
            print(f"  {when:22} {init:6} {d['grad_weight_hh']['fraction']:.2e} / "
                  f"{d['hidden_states']['fraction']:.2e} / "
                  f"{d['grad_c_through_time']['fraction']:.2e}")
    print(f"flush coverage: set late {coverage['set_after_threads_started']:.2f}, set first "
          f"{coverage['set_before_first_parallel_op']}")
    print(f"wrote {out} in {report['seconds']:.0f} s")


if __name__ == "__main__":
    main()
