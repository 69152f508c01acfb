"""What the benchmark scripts share: the machine and its load, the timing
loop, the tutorial's model and data, and the report writer.

Every script times its contenders interleaved in one process (A B, then
B A, ...) after a warm-up, so drift in the machine's load hits all alike,
and records how much of the CPUs other processes used meanwhile. Its report
goes to benchmarks/results/<name>.json with the command, date, commit and
machine; benchmarks/tables.py builds README's tables from those files.

torch and lstmkit are imported inside the functions that use them: the Keras
worker of keras_compare.py imports this module under a virtualenv that has
neither.
"""

import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# the tutorial's model: Embedding(VOCAB, EMBED), LSTM(UNITS), Dropout(DROPOUT), Dense(1, sigmoid)
VOCAB, EMBED, UNITS, DROPOUT = 1024, 256, 128, 0.5
TUTORIAL = f"Embedding({VOCAB}, {EMBED}), LSTM({UNITS}), Dropout({DROPOUT}), Dense(1, sigmoid)"

QUIET_SHARE = 0.05  # a run counts as undisturbed below 5% of the CPUs used by others
COMPETITORS = "pytest|benchmarks/|examples/"  # command lines of runs that compete for the CPUs


# ----- the machine and its load -------------------------------------------------

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass  # not Linux: platform.processor() is the best name there is
    return platform.processor() or "unknown"


def machine():
    """What the figures were measured on."""
    import torch

    import lstmkit

    return {"cpu": cpu_model(), "logical_cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "lstmkit": lstmkit.__version__, "python": platform.python_version(),
            "platform": platform.platform()}


def load_average():
    try:
        with open("/proc/loadavg") as f:
            return [float(v) for v in f.read().split()[:3]]
    except OSError:
        return None


def _ancestors_and_self():
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def processes(pattern):
    """Other processes whose command line matches `pattern` (`pgrep -af`), as
    "pid command" lines; this run and the shells that started it are left
    out. None where there is no pgrep."""
    try:
        out = subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True,
                             check=False).stdout
    except OSError:
        return None
    mine = _ancestors_and_self()
    return [line for line in out.splitlines() if int(line.split()[0]) not in mine]


def load_record():
    """The load average and the competing runs at one moment; the load
    average lags by minutes, so it is recorded but not judged."""
    return {"loadavg_1_5_15": load_average(), "competing": processes(COMPETITORS)}


def load_summary(start, end, share):
    """A report's "load": the records at both ends, the other processes'
    share of the CPUs while measuring, and whether the run was quiet (no
    competing run at either end, under QUIET_SHARE of the CPUs used by
    others)."""
    return {"start": start, "end": end, "other_processes_cpu_share": share,
            "quiet": not start["competing"] and not end["competing"] and share < QUIET_SHARE,
            "note": "other_processes_cpu_share: share of all CPUs used by other processes "
                    "while measuring (from /proc/stat); per run next to the figures"}


def cpu_busy_seconds():
    """CPU seconds spent busy by the whole machine (all CPUs) since boot."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid):
    """User and system CPU seconds of one process (/proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class OtherLoad:
    """The share of the machine's CPUs that other processes used while a
    block ran: machine-wide busy time less the CPU time of this process
    (children it waited for included) and of `helpers` (pids of workers doing
    the measured work), over wall time x CPUs; 0 on a quiet machine. `cpus`
    lists the CPUs (CPU s per wall s) this process and each helper used."""

    def __init__(self, helpers=()):
        self.helpers = list(helpers)

    def _ours(self):
        times = os.times()
        own = times.user + times.system + times.children_user + times.children_system
        return [own, *map(process_cpu_seconds, self.helpers)]

    def __enter__(self):
        self.wall, self.busy, self.ours = time.perf_counter(), cpu_busy_seconds(), self._ours()
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self.wall
        ours = [now - before for now, before in zip(self._ours(), self.ours)]
        other = cpu_busy_seconds() - self.busy - sum(ours)
        self.share = max(0.0, other) / (wall * (os.cpu_count() or 1))
        self.cpus = [seconds / wall for seconds in ours]
        return False


# ----- timing -------------------------------------------------------------------

def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


@dataclass
class Runs:
    """By contender, one entry per run: samples/s, the share of the CPUs
    other processes used meanwhile, the CPUs this process and each helper
    used, and what the contender returned."""

    rates: dict
    others: dict
    cpus: dict
    outputs: dict

    def undisturbed(self):
        """Rounds in which no contender's run saw other processes use the CPUs."""
        runs = list(self.others.values())
        return [i for i in range(len(runs[0])) if all(o[i] < QUIET_SHARE for o in runs)]


def interleave(contenders, rounds, samples, extra_rounds=0, helpers=(), label=None):
    """Run each contender once a round, alternating the order every round,
    until `rounds` rounds were undisturbed by other processes or rounds +
    extra_rounds were run. A contender is called with the round's index and
    timed: samples/s = samples / seconds. One that times itself (a worker in
    another process) returns {"seconds": ...}, used instead. `helpers` are
    the pids of such workers, whose CPU time counts as ours; `label` prints
    each round's figures under that name."""
    names = list(contenders)
    runs = Runs(*({name: [] for name in names} for _ in range(4)))
    r = 0
    while r < rounds + extra_rounds and len(runs.undisturbed()) < rounds:
        for name in names if r % 2 == 0 else reversed(names):
            with OtherLoad(helpers) as load:
                seconds, out = timed(lambda: contenders[name](r))
            if isinstance(out, dict) and "seconds" in out:
                seconds = out["seconds"]
            runs.rates[name].append(samples / seconds)
            runs.others[name].append(load.share)
            runs.cpus[name].append(load.cpus)
            runs.outputs[name].append(out)
        if label:
            rates = ", ".join(f"{name} {runs.rates[name][-1]:.0f}" for name in names)
            print(f"{label} round {r + 1}: {rates} samples/s", flush=True)
        r += 1
    return runs


# ----- figures ------------------------------------------------------------------

def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "runs": values}


def compare(runs, a, b):
    """Figures per contender and the ratio a/b, over the undisturbed rounds
    (all rounds if none was): the ratio of medians and the median of the
    per-round ratios (each pair ran back to back)."""
    quiet = runs.undisturbed() or list(range(len(runs.rates[a])))
    result = {"undisturbed_rounds": runs.undisturbed(), "rounds_run": len(runs.rates[a])}
    for name, values in runs.rates.items():
        result[name] = {**summary([values[i] for i in quiet]),
                        "all_runs": values, "other_processes_cpu_share": runs.others[name]}
    pairs = [runs.rates[a][i] / runs.rates[b][i] for i in quiet]
    result[f"ratio_{a}_over_{b}"] = {
        "of_medians": result[a]["median"] / result[b]["median"],
        "median_of_rounds": statistics.median(pairs),
        "min_of_rounds": min(pairs), "max_of_rounds": max(pairs),
        "rounds": pairs,
    }
    return result


def time_ratio(ratio):
    """compare()'s ratio of samples/s turned into the ratio of times: the
    inverse of each figure, the range's ends swapped."""
    return {"median_of_rounds": 1 / ratio["median_of_rounds"],
            "min_of_rounds": 1 / ratio["max_of_rounds"],
            "max_of_rounds": 1 / ratio["min_of_rounds"]}


def relative(rates, others, base, key):
    """Figures per contender over all its runs, its median divided by
    `base`'s stored under `key`."""
    median = statistics.median(rates[base])
    return {name: {**summary(values), key: statistics.median(values) / median,
                   "other_processes_cpu_share": others[name]}
            for name, values in rates.items()}


# ----- the tutorial's model and data ----------------------------------------------

def synthetic_data(samples, maxlen, labels="learnable", seed=0):
    """Integer ids in [1, VOCAB); learnable labels: 1 when most ids are in the
    upper half of the vocabulary (a bag-of-words rule an LSTM can learn)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    x = torch.randint(1, VOCAB, (samples, maxlen), generator=g)  # (N, T)
    if labels == "learnable":
        y = ((x >= VOCAB // 2).float().mean(1) > 0.5).float()  # (N,)
    else:
        y = torch.randint(0, 2, (samples,), generator=g).float()  # (N,)
    return x, y


def tutorial_model(seed=0, maxlen=None, embedding=None, lstm=None, locked_dropout=0.0):
    """The tutorial's lstmkit model with Keras' initialisers from
    torch.manual_seed(seed), compiled (binary cross-entropy, RMSprop,
    accuracy; CPU) and built for `maxlen` steps (None: any).

    The knobs the benchmarks turn: `embedding` and `lstm` are extra keyword
    arguments of those layers (mask_zero, dropout; masked_impl,
    weight_dropout, recurrent_dropout), and `locked_dropout` puts a
    LockedDropout of that rate between them.
    """
    import torch

    from lstmkit import Sequential
    from lstmkit.layers import LSTM, Dense, Dropout, Embedding, LockedDropout

    torch.manual_seed(seed)
    model = Sequential()
    model.add(Embedding(VOCAB, output_dim=EMBED, **(embedding or {})))
    if locked_dropout:
        model.add(LockedDropout(locked_dropout))
    model.add(LSTM(UNITS, **(lstm or {})))
    model.add(Dropout(DROPOUT))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="rmsprop", metrics=["accuracy"],
                  device="cpu")
    model.build((maxlen,))
    return model


def train_epoch(model, x, y, batches):
    """Plain training steps over index batches: the model called directly on
    logits (not through fit, so only the layers' cost counts), cross-entropy,
    and a new RMSprop with Keras' settings (torch's rho is `alpha`)."""
    import torch

    model.train()
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for index in batches:
        loss = loss_fn(model(x[index], logits=True), y[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


# ----- the report -----------------------------------------------------------------

def output_path(name, out=None, quick=False):
    """Where a run writes: `out` if given; for a --quick run a temporary file,
    so that a smoke run never replaces the committed figures; else
    benchmarks/results/<name>.json."""
    if out:
        return out
    if quick:
        return os.path.join(tempfile.gettempdir(), f"lstmkit-benchmark-{name}.json")
    return os.path.join(HERE, "results", f"{name}.json")


def commit():
    """The commit measured, and whether lstmkit/ or benchmarks/ differed from it."""
    def git(*args):
        return subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True,
                              check=False).stdout.strip()

    try:
        sha = git("rev-parse", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no", "--",
                      "lstmkit", "benchmarks")
    except OSError:
        return {"sha": None, "uncommitted_changes": None}
    return {"sha": sha or None, "uncommitted_changes": bool(changed)}


def write_report(report, out, script, argv=None):
    """Write a benchmark's report as JSON to `out`, with the command that
    made it (`script` run with `argv`, default sys.argv[1:]), the date, the
    commit and the machine."""
    argv = sys.argv[1:] if argv is None else argv
    header = {
        "command": shlex.join([os.path.relpath(sys.executable, ROOT),
                               os.path.relpath(os.path.abspath(script), ROOT), *argv]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": commit(),
        "machine": machine(),
    }
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump({"benchmark": report["benchmark"], **header, **report}, f, indent=2)
        f.write("\n")


# ----- a training budget ------------------------------------------------------------

class TrainingBudget:
    """A callback that stops training once `seconds` of it have passed
    (validation excluded, at the end of the step that crosses it, as Ctrl-C
    does), records each epoch's figures in run["epochs"] and its totals in
    run, and calls `save()` after each epoch; `unit` names what the losses
    are per."""

    def __init__(self, seconds, run, save, unit="nats/char"):
        self.seconds, self.run, self.save, self.unit = seconds, run, save, unit
        self.trained = 0.0

    def on_epoch_begin(self, trainer, epoch):
        self.started = time.perf_counter()

    def on_train_batch_end(self, trainer, batch, size):
        if self.trained + time.perf_counter() - self.started >= self.seconds:
            trainer.interrupted = True

    def on_test_begin(self, trainer):
        self.trained += time.perf_counter() - self.started

    def on_train_end(self, trainer, logs):
        if trainer.interrupted:  # stopped mid-epoch: no validation ran
            self.trained += time.perf_counter() - self.started
        self.run["train_seconds"] = self.trained
        self.run["steps"] = trainer.global_step

    def on_epoch_end(self, trainer, epoch, logs):
        row = {"epoch": epoch + 1, "train_seconds_so_far": self.trained,
               "steps": trainer.global_step, "train_nats": logs["loss"],
               "lr": trainer.optimizer.param_groups[0]["lr"]}
        if "val_loss" in logs:
            row["valid_nats"] = logs["val_loss"]
        self.run["epochs"].append(row)
        print(f"epoch {epoch + 1}: {self.trained:.0f} s trained, train {logs['loss']:.3f}, "
              f"valid {logs.get('val_loss', float('nan')):.3f} {self.unit}", flush=True)
        self.save()
