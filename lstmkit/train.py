"""The training loop: batches -> step -> running sums -> callbacks.

It reads top to bottom: `fit` runs epochs, `train_epoch` runs steps,
`training_step` is one forward, backward and update. Loss and metric sums
stay on the device; the host reads them only when someone asks (the
progress bar, at most twice a second, and the end of each epoch), so a step
never waits for the GPU. Batches are slices of tensors built before training.
"""

import random

import numpy as np
import torch

from .data.batching import batch_indices
from .errors import InputError


class Tally:
    """Sums of the loss and each metric over the samples seen, on the device."""

    def __init__(self, metric_names, device):
        self.names = ["loss", *metric_names]
        self.sums = torch.zeros(len(self.names), dtype=torch.float64, device=device)
        self.counts = [0] * len(self.names)

    def add(self, loss, batch_size, metric_values):
        """loss: mean over the batch (0-d); metric_values: per-element tensors."""
        values = [loss.detach() * batch_size] + [v.sum() for v in metric_values]
        self.sums += torch.stack(values).to(torch.float64)
        self.counts[0] += batch_size
        for i, v in enumerate(metric_values, start=1):
            self.counts[i] += v.numel()

    def read(self):
        sums = self.sums.tolist()  # the one host synchronisation
        return {n: s / max(c, 1) for n, s, c in zip(self.names, sums, self.counts)}


class Trainer:
    """Trains and evaluates one compiled model on one device.

    Attributes a callback may read: model, optimizer, epoch, global_step,
    epoch_samples; `should_stop` may be set to end training.
    """

    def __init__(self, model, loss, metrics, optimizer, device, callbacks=()):
        self.model, self.loss, self.metrics = model, loss, metrics
        self.optimizer, self.device = optimizer, device
        self.callbacks = list(callbacks)
        self.activation = model.output_activation()
        self.should_stop = False
        self.epoch = 0
        self.global_step = 0
        self.epoch_samples = 0
        self.tally = None

    def call(self, hook, *args):
        for callback in self.callbacks:
            method = getattr(callback, hook, None)
            if method is not None:
                method(self, *args)

    def running_logs(self):
        """Mean loss and metrics so far in this epoch (waits for the device)."""
        return self.tally.read()

    def fit(self, train, epochs, batch_size, shuffle=True, generator=None, validation=None):
        """Train on `train` = (x, y) tensors; returns the last epoch's logs."""
        self.should_stop = False
        logs = {}
        self.call("on_train_begin")
        for epoch in range(epochs):
            self.epoch = epoch
            self.epoch_samples = len(train[0])
            self.call("on_epoch_begin", epoch)
            logs = self.train_epoch(train, batch_size, shuffle, generator)
            if validation is not None:
                val = self.evaluate(validation, batch_size)
                logs.update({f"val_{k}": v for k, v in val.items()})
            self.call("on_epoch_end", epoch, logs)
            if self.should_stop:
                break
        self.call("on_train_end", logs)
        return logs

    def train_epoch(self, data, batch_size, shuffle, generator):
        x, y = data
        self.model.train()
        self.tally = Tally([m.name for m in self.metrics], self.device)
        for batch, index in enumerate(batch_indices(len(x), batch_size, shuffle, generator)):
            xb = x[index].to(self.device, non_blocking=True)
            yb = y[index].to(self.device, non_blocking=True)
            out, loss = self.training_step(xb, yb)
            self.tally.add(loss, len(xb), self.metric_values(out, yb))
            self.global_step += 1
            self.call("on_train_batch_end", batch, len(xb))
        return self.tally.read()

    def training_step(self, x, y):
        out = self.model(x, logits=self.loss.from_logits)
        loss = self.loss.fn(out, y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return out.detach(), loss.detach()

    def metric_values(self, out, y):
        return [m.fn(out, y, self.loss.from_logits, self.activation) for m in self.metrics]

    @torch.inference_mode()
    def evaluate(self, data, batch_size):
        x, y = data
        self.model.eval()
        tally = Tally([m.name for m in self.metrics], self.device)
        for index in batch_indices(len(x), batch_size):
            xb = x[index].to(self.device, non_blocking=True)
            yb = y[index].to(self.device, non_blocking=True)
            out = self.model(xb, logits=self.loss.from_logits)
            tally.add(self.loss.fn(out, yb), len(xb), self.metric_values(out, yb))
        return tally.read()


@torch.inference_mode()
def predict(model, x, batch_size, device):
    """Model outputs for every sample of tensor x, concatenated on the CPU."""
    model.eval()
    outputs = [
        model(x[index].to(device, non_blocking=True)).cpu()
        for index in batch_indices(len(x), batch_size)
    ]
    return torch.cat(outputs)


def resolve_device(device="auto"):
    """'auto' is CUDA when available, else the CPU; anything else as torch reads it."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise InputError(f"device: cannot read {device!r} ({e}); use 'auto', 'cpu' or 'cuda'") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("device: 'cuda' asked for, but this machine has no usable CUDA GPU")
    return device


def set_seed(seed):
    """Seed Python's, NumPy's and torch's generators: with the same seed, a run
    on the same machine repeats exactly (on the CPU; see README for GPUs)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
