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

Writes benchmarks/results/overhead.json and prints a table.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import torch
from torch import nn

from lstmkit import Sequential
from lstmkit.layers import LSTM, Dense, Dropout, Embedding

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB, EMBED, UNITS, DROPOUT = 1024, 256, 128, 0.5


# ----- the machine ------------------------------------------------------------

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average():
    try:
        with open("/proc/loadavg") as f:
            return [float(v) for v in f.read().split()[:3]]
    except OSError:
        return None


def other_heavy_processes():
    """Other Python training or test runs that would compete for the CPU."""
    try:
        out = subprocess.run(["pgrep", "-af", "imdb_sentiment|pytest"], capture_output=True,
                             text=True, check=False).stdout
    except OSError:
        return None
    return [line for line in out.splitlines() if str(os.getpid()) != line.split()[0]]


def cpu_busy_seconds():
    """CPU seconds spent busy by the whole machine (all CPUs) since boot."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class OtherLoad:
    """The share of the machine's CPU time that other processes used while a
    block ran: machine-wide busy time minus this process's own CPU time
    (children included), over wall time x CPUs. 0 on a quiet machine."""

    def __enter__(self):
        self.wall = time.perf_counter()
        self.busy = cpu_busy_seconds()
        self.own = _own_cpu_seconds()
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self.wall
        other = (cpu_busy_seconds() - self.busy) - (_own_cpu_seconds() - self.own)
        self.share = max(0.0, other) / (wall * (os.cpu_count() or 1))
        return False


def _own_cpu_seconds():
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def machine_info():
    return {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def quiet_check():
    """Load average and competing processes, recorded at the start and end."""
    return {"loadavg_1_5_15": load_average(), "other_heavy_processes": other_heavy_processes()}


def was_quiet(start, end):
    """Quiet at both ends: no other training or test run. (The load average
    lags by minutes, so it is recorded but not judged; OtherLoad measures
    what other processes used while measuring.)"""
    procs = (start["other_heavy_processes"] or []) + (end["other_heavy_processes"] or [])
    return not procs


# ----- data and models --------------------------------------------------------

def synthetic_data(samples, maxlen, labels="learnable", seed=0):
    """Integer ids in [1, VOCAB); learnable labels: 1 when most ids are in the
    upper half of the vocabulary (a bag-of-words rule an LSTM can learn)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(1, VOCAB, (samples, maxlen), generator=g)
    if labels == "learnable":
        y = ((x >= VOCAB // 2).float().mean(1) > 0.5).float()
    else:
        y = torch.randint(0, 2, (samples,), generator=g).float()
    return x, y


def tutorial_model(seed=0, maxlen=None):
    """The tutorial's lstmkit model, built and compiled (Keras initialisers)."""
    torch.manual_seed(seed)
    model = Sequential()
    model.add(Embedding(VOCAB, output_dim=EMBED))
    model.add(LSTM(UNITS))
    model.add(Dropout(DROPOUT))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="rmsprop", metrics=["accuracy"],
                  device="cpu")
    model.build((maxlen,))
    return model


class HandModel(nn.Module):
    """The same network in plain PyTorch."""

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


@torch.inference_mode()
def hand_predict(model, x, batch_size):
    model.eval()
    outputs = [torch.sigmoid(model(x[start : start + batch_size]))
               for start in range(0, len(x), batch_size)]
    return torch.cat(outputs).numpy()


# ----- measuring ----------------------------------------------------------------

def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def interleave(contenders, rounds, samples, extra_rounds=0):
    """Run each contender once a round, alternating the order every round,
    until `rounds` rounds were undisturbed by other processes (or after
    rounds + extra_rounds). Returns samples/s lists by name, and the other
    processes' share of the CPUs during each run."""
    rates = {name: [] for name in contenders}
    others = {name: [] for name in contenders}
    names = list(contenders)
    r = 0
    while r < rounds + extra_rounds and len(undisturbed(others)) < rounds:
        for name in names if r % 2 == 0 else reversed(names):
            with OtherLoad() as load:
                seconds, _ = timed(contenders[name])
            rates[name].append(samples / seconds)
            others[name].append(load.share)
        r += 1
    return rates, others


QUIET_SHARE = 0.05  # a run counts as undisturbed below 5% of the CPUs used by others


def undisturbed(others):
    """Rounds in which no contender's run saw other processes use the CPUs."""
    runs = list(others.values())
    return [i for i in range(len(runs[0])) if all(o[i] < QUIET_SHARE for o in runs)]


def write_report(report, path):
    """Write a benchmark's figures as JSON, creating its folder."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")


def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "runs": values}


def compare(rates, others, a="lstmkit", b="hand"):
    """Figures per contender and the ratio a/b, over the undisturbed rounds
    (all rounds if none was): the ratio of medians and the median of the
    per-round ratios (each pair ran back to back)."""
    quiet = undisturbed(others) or list(range(len(rates[a])))
    result = {"undisturbed_rounds": undisturbed(others), "rounds_run": len(rates[a])}
    for name, values in rates.items():
        result[name] = {**summary([values[i] for i in quiet]),
                        "all_runs": values, "other_processes_cpu_share": others[name]}
    pairs = [rates[a][i] / rates[b][i] for i in quiet]
    result[f"ratio_{a}_over_{b}"] = {
        "of_medians": result[a]["median"] / result[b]["median"],
        "median_of_rounds": statistics.median(pairs),
        "min_of_rounds": min(pairs), "max_of_rounds": max(pairs),
        "rounds": pairs,
    }
    return result


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
    parser.add_argument("--out", default=os.path.join(HERE, "results", "overhead.json"))
    args = parser.parse_args(argv)

    start_check = quiet_check()
    x, y = synthetic_data(args.samples, args.maxlen, args.labels, args.seed)
    model = tutorial_model(args.seed, args.maxlen)
    hand = hand_copy(model)
    trainer = HandTrainer(hand, args.batch_size, args.seed)
    n = len(x)

    train = {
        "lstmkit": lambda: model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0),
        "hand": lambda: trainer.epoch(x, y),
    }
    infer = {
        "lstmkit": lambda: model.predict(x, batch_size=args.predict_batch_size),
        "hand": lambda: hand_predict(hand, x, args.predict_batch_size),
    }
    # warm-up: oneDNN builds its kernels for each shape on first use
    warm = min(n, 20 * args.batch_size)
    model.fit(x[:warm], y[:warm], batch_size=args.batch_size, verbose=0)
    trainer.epoch(x[:warm], y[:warm])
    for fn in infer.values():
        fn()

    with OtherLoad() as whole:
        results = {
            "train": compare(*interleave(train, args.rounds, n, args.extra_rounds)),
            "inference": compare(*interleave(infer, args.predict_rounds, n, args.extra_rounds)),
        }
    end_check = quiet_check()
    report = {
        "benchmark": "lstmkit fit/predict vs a hand-written PyTorch loop, tutorial model",
        "command": " ".join([os.path.relpath(sys.executable), "benchmarks/overhead.py",
                             *(argv if argv is not None else sys.argv[1:])]),
        "config": {
            "model": f"Embedding({VOCAB}, {EMBED}), LSTM({UNITS}), Dropout({DROPOUT}), "
                     "Dense(1, sigmoid)",
            "loss": "binary_crossentropy (from logits)", "optimizer": "rmsprop",
            "metrics": ["accuracy"], "samples": n, "maxlen": args.maxlen,
            "batch_size": args.batch_size, "predict_batch_size": args.predict_batch_size,
            "rounds": args.rounds, "predict_rounds": args.predict_rounds,
            "extra_rounds": args.extra_rounds,
            "figures": "median/min/max over the rounds undisturbed by other processes "
                       "(all rounds if none); every run in all_runs",
            "labels": args.labels, "seed": args.seed, "units": "samples per second",
        },
        "machine": machine_info(),
        "load": {"start": start_check, "end": end_check,
                 "other_processes_cpu_share": whole.share,
                 "quiet": was_quiet(start_check, end_check) and whole.share < QUIET_SHARE,
                 "note": "other_processes_cpu_share: share of all CPUs used by other processes "
                         "while measuring (from /proc/stat); per run in results"},
        "results": results,
        "target_ratio": 0.97,
    }
    write_report(report, args.out)

    print(f"{report['machine']['cpu']}, {report['machine']['torch_threads']} threads, "
          f"torch {torch.__version__}; load {start_check['loadavg_1_5_15']} -> "
          f"{end_check['loadavg_1_5_15']}; other processes used {100 * whole.share:.1f}% "
          f"of the CPUs (quiet: {report['load']['quiet']})")
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
    print(f"wrote {os.path.relpath(args.out)}")

    if args.profile:
        for name, text in profile_steps(model, trainer, x, y, args.batch_size).items():
            print(f"----- cProfile, 20 training steps: {name}\n{text}")


if __name__ == "__main__":
    main()
