"""Callbacks: plain objects whose `on_*` methods the training loop calls.

Hooks (each optional; the trainer is passed first, as in Lightning Fabric):
    on_train_begin(trainer)
    on_epoch_begin(trainer, epoch)
    on_after_backward(trainer)                   gradients are in .grad
    on_before_optimizer_step(trainer, optimizer) before clipping and the update
    on_train_batch_end(trainer, batch, batch_size)
    on_epoch_end(trainer, epoch, logs)      logs: {'loss': ..., 'accuracy': ..., 'val_loss': ...}
    on_train_end(trainer, logs)
Setting `trainer.should_stop = True` ends training after the current epoch.
A callback with `main_process_only = True` (the progress bar, CSVLogger)
runs on the main process only when several train together. A callback's
`state_dict()` / `load_state_dict()`, if it has them, go into checkpoints;
a run resumes only with the same callbacks (the progress bar aside).
Reading numbers during an epoch (`trainer.running_logs()`) waits for the
device, so a callback should do it sparingly; the progress bar does it at most
twice a second.
"""

import csv
import math
import os
import sys
import time

from tqdm.auto import tqdm

from .errors import InputError


class History:
    """Per-epoch logs: `history.history['loss']` is a list, one value an epoch."""

    def __init__(self):
        self.epoch = []
        self.history = {}

    def on_epoch_end(self, trainer, epoch, logs):
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def state_dict(self):
        return {"epoch": self.epoch, "history": self.history}

    def load_state_dict(self, state):
        self.epoch, self.history = list(state["epoch"]), dict(state["history"])

    def __repr__(self):
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


def format_logs(logs):
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


class ProgressBar:
    """A bar per epoch with samples/s, loss and metrics (verbose=1), or one
    line per epoch (verbose=2)."""

    main_process_only = True  # one bar for a run of several processes
    display_only = True  # not part of a run's state: it may change on resume

    def __init__(self, epochs, verbose=1, refresh_seconds=0.5, file=None):
        self.epochs, self.verbose, self.refresh_seconds = epochs, verbose, refresh_seconds
        self.file = file or sys.stderr
        self.bar = None

    def on_epoch_begin(self, trainer, epoch):
        self.started = self.shown = time.perf_counter()
        if self.verbose == 1:
            self.bar = tqdm(
                total=trainer.epoch_samples,
                desc=f"Epoch {epoch + 1}/{self.epochs}",
                unit="sample",
                file=self.file,
                mininterval=self.refresh_seconds,
                dynamic_ncols=True,
                leave=True,
            )

    def on_train_batch_end(self, trainer, batch, batch_size):
        if self.bar is None:
            return
        self.bar.update(batch_size)
        now = time.perf_counter()
        if now - self.shown >= self.refresh_seconds:
            self.shown = now
            self.bar.set_postfix_str(format_logs(trainer.running_logs()), refresh=False)

    def on_epoch_end(self, trainer, epoch, logs):
        seconds = time.perf_counter() - self.started
        if self.bar is not None:
            self.bar.set_postfix_str(format_logs(logs), refresh=False)
            self.bar.close()
            self.bar = None
        elif self.verbose == 2:
            print(
                f"Epoch {epoch + 1}/{self.epochs} - {seconds:.1f}s - {format_logs(logs)}",
                file=self.file,
                flush=True,
            )

    def on_train_end(self, trainer, logs):
        if self.bar is not None:  # stopped mid-epoch
            self.bar.close()
            self.bar = None


class EarlyStopping:
    """Stop when `monitor` has not improved by `min_delta` for `patience` epochs.

    Args:
        monitor: a log key, default 'val_loss'.
        min_delta: smallest change that counts as an improvement. Default 0.
        patience: epochs without improvement before stopping. Default 0.
        mode: 'min', 'max' or 'auto' (max for keys holding 'acc', else min).
        restore_best_weights: at the end, load the weights of the best epoch.
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, mode="auto",
                 restore_best_weights=False):
        if mode not in ("auto", "min", "max"):
            raise InputError(f"EarlyStopping mode must be 'auto', 'min' or 'max', got {mode!r}")
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.monitor, self.min_delta, self.patience, self.mode = monitor, abs(min_delta), patience, mode
        self.restore_best_weights = restore_best_weights
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch, self.wait, self.best_state, self.stopped_epoch = None, 0, None, None

    def _improved(self, value):
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, trainer, epoch, logs):
        if self.monitor not in logs:
            raise InputError(
                f"EarlyStopping monitors {self.monitor!r}, which the logs lack; "
                f"available: {', '.join(logs)}"
            )
        value = logs[self.monitor]
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_state = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
        else:
            self.wait += 1
            if self.wait > self.patience:
                trainer.should_stop = True
                self.stopped_epoch = epoch

    def on_train_end(self, trainer, logs):
        if self.restore_best_weights and self.best_state is not None:
            trainer.model.load_state_dict(self.best_state)

    def state_dict(self):
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "stopped_epoch": self.stopped_epoch, "best_state": self.best_state}

    def load_state_dict(self, state):
        for key, value in state.items():
            setattr(self, key, value)


class CSVLogger:
    """Append one row per epoch (epoch, then every log key) to a CSV file."""

    main_process_only = True

    def __init__(self, filename, separator=",", append=False):
        self.filename, self.separator, self.append = os.fspath(filename), separator, append
        self.keys = None

    def on_train_begin(self, trainer):
        exists = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename)
        self.file = open(self.filename, "a" if self.append else "w", newline="")
        self.writer = csv.writer(self.file, delimiter=self.separator)
        self.header_written = bool(exists)

    def on_epoch_end(self, trainer, epoch, logs):
        if self.keys is None:
            self.keys = list(logs)
        if not self.header_written:
            self.writer.writerow(["epoch", *self.keys])
            self.header_written = True
        self.writer.writerow([epoch, *(logs.get(k, "") for k in self.keys)])
        self.file.flush()

    def on_train_end(self, trainer, logs):
        self.file.close()

    def state_dict(self):
        return {"keys": self.keys}

    def load_state_dict(self, state):
        """On resume, append to the file the interrupted run wrote."""
        self.keys, self.append = state["keys"], True
