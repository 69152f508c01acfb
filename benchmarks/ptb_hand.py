"""Zaremba et al. 2014's small PTB model as a plain hand-written PyTorch script.

The reference that benchmarks/ptb_small.py times lstmkit against: the usual
loop of PyTorch's word_language_model example (nn.Embedding, nn.LSTM,
nn.Linear, batchify / get_batch, the hidden state repackaged between
windows, clip_grad_norm_, a manual SGD update, loss.item() each step for
the running loss) with the paper's settings: 2 layers of 200 units, no
dropout, batch 20, BPTT 20, 13 epochs, lr 1 halved each epoch after epoch
4, clip 5, every weight uniform in +-0.1.

    .venv/bin/python benchmarks/ptb_hand.py              # 13 epochs, results/ptb_hand.json
    .venv/bin/python benchmarks/ptb_hand.py --epochs 1 --max-steps 200 --quick
"""

import argparse
import math
import os
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import output_path, write_report  # noqa: E402

PTB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared",
                   "datasets", "ptb")
SETTINGS = {"units": 200, "layers": 2, "batch_size": 20, "bptt": 20, "epochs": 13, "lr": 1.0,
            "decay": 2.0, "decay_after": 4, "clip": 5.0, "init": 0.1}


def read_words(path, index):
    ids = []
    with open(path) as f:
        for line in f:
            for word in line.split() + ["<eos>"]:
                ids.append(index.setdefault(word, len(index)))
    return torch.tensor(ids, dtype=torch.long)


def batchify(data, batch_size):
    n = data.size(0) // batch_size
    return data[: n * batch_size].view(batch_size, -1).t().contiguous()  # (n, B)


def get_batch(source, i, bptt):
    steps = min(bptt, len(source) - 1 - i)
    return source[i : i + steps], source[i + 1 : i + 1 + steps].reshape(-1)


class RNNModel(nn.Module):
    def __init__(self, vocabulary, units, layers, init):
        super().__init__()
        self.encoder = nn.Embedding(vocabulary, units)
        self.rnn = nn.LSTM(units, units, layers)
        self.decoder = nn.Linear(units, vocabulary)
        for p in self.parameters():
            nn.init.uniform_(p, -init, init)

    def forward(self, x, hidden):
        output, hidden = self.rnn(self.encoder(x), hidden)
        return self.decoder(output).view(-1, self.decoder.out_features), hidden

    def init_hidden(self, batch_size):
        w = next(self.parameters())
        return tuple(w.new_zeros(self.rnn.num_layers, batch_size, self.rnn.hidden_size)
                     for _ in range(2))


def repackage(hidden):
    return tuple(h.detach() for h in hidden)


class HandRun:
    """The script's state, so that ptb_small.py can run it in chunks of steps."""

    def __init__(self, root=PTB, seed=0, settings=SETTINGS):
        torch.manual_seed(seed)
        self.s = settings
        index = {}
        self.train = batchify(read_words(os.path.join(root, "ptb.train.txt"), index),
                              settings["batch_size"])
        self.valid = batchify(read_words(os.path.join(root, "ptb.valid.txt"), index), 10)
        self.test = batchify(read_words(os.path.join(root, "ptb.test.txt"), index), 1)
        self.model = RNNModel(len(index), settings["units"], settings["layers"], settings["init"])
        self.criterion = nn.CrossEntropyLoss()
        self.lr = settings["lr"]
        self.position, self.hidden = 0, None

    def steps_per_epoch(self):
        return len(range(0, self.train.size(0) - 1, self.s["bptt"]))

    def train_steps(self, steps):
        """Run `steps` windows, continuing the epoch (wrapping at its end)."""
        model, bptt = self.model, self.s["bptt"]
        model.train()
        total = 0.0
        for _ in range(steps):
            if self.position >= self.train.size(0) - 1 or self.hidden is None:
                self.position, self.hidden = 0, model.init_hidden(self.s["batch_size"])
            data, targets = get_batch(self.train, self.position, bptt)
            self.hidden = repackage(self.hidden)
            model.zero_grad()
            output, self.hidden = model(data, self.hidden)
            # the paper's loss: summed over the window's steps, averaged over the batch
            loss = self.criterion(output, targets) * len(data)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), self.s["clip"])
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-self.lr)
            total += loss.item() / len(data)
            self.position += bptt
        return total / max(steps, 1)

    @torch.no_grad()
    def evaluate(self, source, bptt=100):
        self.model.eval()
        hidden = self.model.init_hidden(source.size(1))
        total, count = 0.0, 0
        for i in range(0, source.size(0) - 1, bptt):
            data, targets = get_batch(source, i, bptt)
            output, hidden = self.model(data, hidden)
            total += nn.functional.cross_entropy(output, targets, reduction="sum").item()
            count += len(targets)
        return total / count


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=SETTINGS["epochs"])
    parser.add_argument("--max-steps", type=int, help="steps per epoch, at most (a smoke run)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="write to a temporary file")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    out = output_path("ptb_hand", args.out, args.quick)
    run = HandRun(seed=args.seed)
    report = {"benchmark": "ptb_hand", "settings": SETTINGS, "epochs": [], "complete": False}
    steps = run.steps_per_epoch() if args.max_steps is None else args.max_steps
    started = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        run.lr = SETTINGS["lr"] * SETTINGS["decay"] ** -max(0, epoch - SETTINGS["decay_after"])
        t = time.perf_counter()
        run.position, run.hidden = 0, None
        train_loss = run.train_steps(steps)
        seconds = time.perf_counter() - t
        valid = run.evaluate(run.valid)
        report["epochs"].append({"epoch": epoch, "lr": run.lr, "train_seconds": seconds,
                                 "train_perplexity": math.exp(train_loss),
                                 "valid_perplexity": math.exp(valid)})
        report["train_seconds"] = time.perf_counter() - started
        print(f"epoch {epoch}: {seconds:.0f} s, train ppl {math.exp(train_loss):.1f}, "
              f"valid ppl {math.exp(valid):.1f}", flush=True)
        write_report(report, out, __file__, argv)
    report["test_perplexity"] = math.exp(run.evaluate(run.test))
    report["valid_perplexity"] = report["epochs"][-1]["valid_perplexity"]
    report["complete"] = args.max_steps is None and args.epochs == SETTINGS["epochs"]
    print(f"test perplexity {report['test_perplexity']:.1f}")
    write_report(report, out, __file__, argv)


if __name__ == "__main__":
    main()
