"""The training loop: batches -> step -> running sums -> callbacks.

It reads top to bottom: `fit` runs epochs, `train_epoch` runs steps,
`training_step` is one forward, backward and update. Loss and metric sums
stay on the device; the host reads them only when someone asks (the
progress bar, at most twice a second, and the end of each epoch), so a step
never waits for the GPU. Batches are slices of tensors built before training.
"""

import contextlib
import itertools
import os
import random
import signal
import threading
import time

import numpy as np
import torch

from .checkpoints import checkpoint_path, prune, rng_states, set_rng_states, write_checkpoint
from .data.batching import batch_indices
from .errors import InputError, ModelFileError, NonFiniteLossError


def real_steps(values, mask):
    """The mask as weights for per-step values, or None when it does not
    apply (no mask, or values that are not per step)."""
    if mask is None or values.shape != mask.shape:
        return None
    return mask.to(values.dtype)


def mean_over_real_steps(values, mask):
    """The loss to minimise: the mean of per-sample (per-step) values, over
    real steps only when a mask marks padding (Keras' masked loss)."""
    weight = real_steps(values, mask)
    if weight is None:
        return values.mean()
    return (values * weight).sum() / weight.sum().clamp(min=1)


class Tally:
    """Sums of the loss and each metric over the samples (steps) seen, on the
    device; counts are host numbers, or device sums of a mask."""

    def __init__(self, metric_names, device):
        self.names = ["loss", *metric_names]
        self.sums = torch.zeros(len(self.names), dtype=torch.float64, device=device)
        self.counts = [0] * len(self.names)
        self.masked_counts = torch.zeros(len(self.names), dtype=torch.float64, device=device)

    def add(self, values, mask=None):
        """values: per-sample (per-step) tensors, the loss first, then each metric."""
        weights = [real_steps(v, mask) for v in values]
        self.sums += torch.stack([v.sum() if w is None else (v * w).sum()
                                  for v, w in zip(values, weights)]).to(torch.float64)
        for i, (v, w) in enumerate(zip(values, weights)):
            if w is None:
                self.counts[i] += v.numel()
        if any(w is not None for w in weights):
            self.masked_counts += torch.stack([v.new_zeros(()) if w is None else w.sum()
                                              for v, w in zip(values, weights)]).to(torch.float64)

    def read(self):
        sums = self.sums.tolist()  # the one host synchronisation
        counts = [c + m for c, m in zip(self.counts, self.masked_counts.tolist())]
        return {n: s / max(c, 1) for n, s, c in zip(self.names, sums, counts)}


class Trainer:
    """Trains and evaluates one compiled model on one device.

    Attributes a callback may read: model, optimizer, epoch, global_step,
    epoch_samples; `should_stop` may be set to end training.

    With `checkpoints` (a Checkpoints policy) the state is written at each
    epoch end, every `every_steps` steps, and when Ctrl-C stops the run.
    A non-finite loss is tracked on the device and checked before each
    checkpoint, at each epoch end and about twice a second; it stops the run
    with NonFiniteLossError, unless `skip_nonfinite`, which drops such
    batches (checking each step, a host synchronisation per step).
    """

    CHECK_SECONDS = 0.5

    def __init__(self, model, loss, metrics, optimizer, device, callbacks=(), checkpoints=None,
                 skip_nonfinite=False):
        self.model, self.loss, self.metrics = model, loss, metrics
        self.optimizer, self.device = optimizer, device
        self.callbacks = list(callbacks)
        self.checkpoints, self.skip_nonfinite = checkpoints, skip_nonfinite
        self.activation = model.output_activation()
        self.should_stop = False
        self.interrupted = False
        self.epoch = 0
        self.global_step = 0
        self.epoch_samples = 0
        self.skipped_batches = 0
        self.last_checkpoint = None
        self.tally = None
        self.step_losses = None  # this epoch's losses, on the device, read when checked
        self.steps_done = 0

    def call(self, hook, *args):
        for callback in self.callbacks:
            method = getattr(callback, hook, None)
            if method is not None:
                method(self, *args)

    def running_logs(self):
        """Mean loss and metrics so far in this epoch (waits for the device)."""
        return self.tally.read()

    def fit(self, train, epochs, batch_size, shuffle, generator, validation=None, resume=None,
            lengths=None):
        """Train on `train` = (x, y) tensors from the start, or from the
        checkpoint state `resume`; returns the last epoch's logs."""
        self.should_stop = self.interrupted = False
        start_epoch, start_batch, epoch_rng = 0, 0, None
        if resume is not None:
            start_epoch, start_batch, epoch_rng = self.restore(resume)
        logs = {}
        with self.catch_interrupt():
            self.call("on_train_begin")
            for epoch in range(start_epoch, epochs):
                self.epoch = epoch
                self.epoch_samples = len(train[0])
                if epoch_rng is None:
                    epoch_rng = generator.get_state()
                generator.set_state(epoch_rng)  # the epoch's order can be drawn again on resume
                self.epoch_rng = epoch_rng
                self.call("on_epoch_begin", epoch)
                logs = self.train_epoch(train, batch_size, shuffle, generator, start_batch, lengths)
                start_batch, epoch_rng = 0, None
                if self.interrupted:
                    break
                if validation is not None:
                    val = self.evaluate(validation, batch_size)
                    logs.update({f"val_{k}": v for k, v in val.items()})
                self.call("on_epoch_end", epoch, logs)
                self.save_checkpoint(epoch + 1, 0, generator.get_state())
                if self.should_stop:
                    break
            self.call("on_train_end", logs)
        return logs

    def train_epoch(self, data, batch_size, shuffle, generator, start_batch=0, lengths=None):
        x, y = data
        self.model.train()
        if start_batch == 0:
            self.tally = Tally([m.name for m in self.metrics], self.device)
        self.epoch_first_step = self.global_step - start_batch
        self.step_losses = torch.zeros(-(-len(x) // batch_size), device=self.device)
        self.steps_done = start_batch
        checked = time.perf_counter()
        batches = batch_indices(len(x), batch_size, shuffle, generator, lengths)
        for batch, index in enumerate(itertools.islice(batches, start_batch, None), start_batch):
            xb = x[index].to(self.device, non_blocking=True)
            yb = y[index].to(self.device, non_blocking=True)
            out, values, loss, mask = self.training_step(xb, yb)
            if out is not None:
                self.tally.add([values, *self.metric_values(out, yb)], mask)
                self.step_losses[batch] = loss  # one copy, no wait: checked later
            self.global_step += 1
            self.steps_done = batch + 1
            self.call("on_train_batch_end", batch, len(xb))
            if self.interrupted:
                self.save_checkpoint(self.epoch, batch + 1, self.epoch_rng)
                break
            every = self.checkpoints.every_steps if self.checkpoints else None
            if every and self.global_step % every == 0:
                self.save_checkpoint(self.epoch, batch + 1, self.epoch_rng)
            elif time.perf_counter() - checked > self.CHECK_SECONDS:
                self.check_finite()
                checked = time.perf_counter()
        self.check_finite()
        return self.tally.read()

    def training_step(self, x, y):
        """One forward, backward and update. Returns the outputs, the
        per-sample loss values, the loss and the mask (outputs None if the
        batch was skipped for a non-finite loss)."""
        out, mask = self.model(x, logits=self.loss.from_logits, return_mask=True)
        values = self.loss.values(out, y)  # (N,) or (N, T)
        loss = mean_over_real_steps(values, mask)
        self.optimizer.zero_grad(set_to_none=True)
        if self.skip_nonfinite and not torch.isfinite(loss):
            self.skipped_batches += 1
            return None, None, loss.detach(), mask
        loss.backward()
        self.optimizer.step()
        return out.detach(), values.detach(), loss.detach(), mask

    def check_finite(self):
        """Raise NonFiniteLossError if any loss of this epoch so far was NaN or
        infinite (one read from the device)."""
        if self.step_losses is None:
            return
        bad = (~torch.isfinite(self.step_losses[: self.steps_done])).nonzero()
        if not len(bad):
            return
        batch = int(bad[0])
        kept = self.last_checkpoint or "none (checkpointing is off)"
        raise NonFiniteLossError(
            f"the loss became NaN or infinite at epoch {self.epoch + 1}, step "
            f"{self.epoch_first_step + batch + 1} (batch {batch + 1} of the epoch); training stopped. "
            f"Last good checkpoint: {kept}. Lower the learning rate, check the data, or pass "
            "skip_nonfinite=True to drop such batches."
        )

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
            out, mask = self.model(xb, logits=self.loss.from_logits, return_mask=True)
            tally.add([self.loss.values(out, yb), *self.metric_values(out, yb)], mask)
        return tally.read()

    # ----- checkpoints and interruption ------------------------------------

    @contextlib.contextmanager
    def catch_interrupt(self):
        """The first Ctrl-C stops after the current step (with a checkpoint);
        a second one stops at once."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum, frame):
            if self.interrupted:
                raise KeyboardInterrupt
            self.interrupted = True

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def state(self, epoch, batch, epoch_rng):
        """Everything needed to continue from (epoch, batch) exactly."""
        return {
            "epoch": epoch,
            "batch": batch,
            "global_step": self.global_step,
            "skipped_batches": self.skipped_batches,
            "samples": self.epoch_samples,
            "model_config": self.model.get_config(),
            "model": self.model.state_dict(),
            "recurrent_states": self.model.recurrent_states(),
            "optimizer": self.optimizer.state_dict(),
            "rng": rng_states(),
            "epoch_rng": epoch_rng,
            "tally": {"sums": self.tally.sums, "counts": self.tally.counts,
                      "masked_counts": self.tally.masked_counts} if batch else None,
            "callbacks": [[type(c).__name__, c.state_dict()] if hasattr(c, "state_dict") else None
                          for c in self.callbacks],
        }

    def save_checkpoint(self, epoch, batch, epoch_rng):
        if self.checkpoints is None:
            return
        self.check_finite()  # never write a checkpoint after a non-finite loss
        path = checkpoint_path(self.checkpoints.folder, epoch, self.global_step)
        os.makedirs(self.checkpoints.folder, exist_ok=True)
        write_checkpoint(path, self.state(epoch, batch, epoch_rng))
        self.last_checkpoint = path
        prune(self.checkpoints.folder, self.checkpoints.keep)

    def restore(self, state):
        """Load a checkpoint state; returns (epoch, batch, epoch_rng) to continue from."""
        self.model.load_state_dict(state["model"])
        self.model.set_recurrent_states(state["recurrent_states"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.global_step, self.skipped_batches = state["global_step"], state["skipped_batches"]
        saved = state["callbacks"]
        for callback, entry in zip(self.callbacks, saved):
            if entry is not None and hasattr(callback, "load_state_dict"):
                if entry[0] != type(callback).__name__:
                    raise ModelFileError(
                        f"the checkpoint's callbacks ({[e[0] for e in saved if e]}) differ from "
                        "this run's; resume with the same callbacks"
                    )
                callback.load_state_dict(entry[1])
        if state["tally"] is not None:
            self.tally = Tally([m.name for m in self.metrics], self.device)
            self.tally.sums = state["tally"]["sums"].to(self.device)
            self.tally.counts = list(state["tally"]["counts"])
            self.tally.masked_counts = state["tally"]["masked_counts"].to(self.device)
        set_rng_states(state["rng"])
        return state["epoch"], state["batch"], state["epoch_rng"]


class Checkpoints:
    """Where and how often to write checkpoints: each epoch end, every
    `every_steps` steps if given, keeping the newest `keep`."""

    def __init__(self, folder, every_steps=None, keep=3):
        self.folder, self.every_steps, self.keep = os.fspath(folder), every_steps, keep


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
