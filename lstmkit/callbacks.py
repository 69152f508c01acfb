"""Callbacks: plain objects whose `on_*` methods the training loop calls.

Hooks (each optional; the trainer is passed first, as in Lightning Fabric):
    on_train_begin(trainer)
    on_epoch_begin(trainer, epoch)
    on_train_batch_begin(trainer, batch)
    on_after_backward(trainer)                   gradients are in .grad
    on_before_optimizer_step(trainer, optimizer) before clipping and the update
    on_train_batch_end(trainer, batch, batch_size)
    on_epoch_end(trainer, epoch, logs)      logs: {'loss': ..., 'accuracy': ..., 'val_loss': ...}
    on_train_end(trainer, logs)
    on_test_begin(trainer), on_test_batch_begin(trainer, batch),
    on_test_batch_end(trainer, batch, tally), on_test_end(trainer, logs)
                                            evaluation, and validation in fit
    on_predict_begin(trainer), on_predict_batch_begin(trainer, batch),
    on_predict_batch_end(trainer, batch, outputs), on_predict_end(trainer)
Keras-style callbacks (subclasses of `Callback` below, or objects whose hooks
take Keras' arguments: on_epoch_end(epoch, logs), ...) work too, beside these
in the same fit: `trainer_callbacks` wraps them.
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
import inspect
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


# ----- Keras' callback protocol ------------------------------------------------

KERAS_FIRST_ARGUMENTS = {"epoch", "batch", "logs"}


class Callback:
    """Keras' callback protocol: subclass it and override the hooks you need.

    The hooks take Keras' arguments: on_train_begin(logs),
    on_epoch_begin(epoch, logs), on_epoch_end(epoch, logs),
    on_train_batch_begin(batch, logs), on_train_batch_end(batch, logs) (and
    on_batch_begin / on_batch_end, which they call), on_test_begin(logs),
    on_test_batch_begin(batch, logs), on_test_batch_end(batch, logs),
    on_test_end(logs), on_predict_begin(logs), on_predict_batch_begin(batch,
    logs), on_predict_batch_end(batch, logs), on_predict_end(logs),
    on_train_end(logs). `self.model` is the model and `self.params` holds
    'epochs', 'steps' and 'verbose' once training begins; setting
    `self.model.stop_training = True` ends training after the epoch.

    Batch-end hooks get the running means as logs, which waits for the
    device at each step: the loop does it only for a callback that
    overrides them.
    """

    def __init__(self):
        self.model, self.params = None, {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_batch_begin(self, batch, logs=None): pass
    def on_batch_end(self, batch, logs=None): pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)

    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass


def overrides(callback, *names):
    """Whether the callback defines any of these hooks itself (not as
    Callback's do-nothing ones)."""
    return any(getattr(type(callback), n, None) not in (None, getattr(Callback, n, None))
               for n in names)


def is_keras_style(callback):
    """A Callback subclass, or a plain object whose hooks take Keras'
    arguments first (epoch, batch or logs) rather than the trainer."""
    if isinstance(callback, Callback):
        return True
    for name in dir(type(callback)):
        method = getattr(callback, name, None)
        if name.startswith("on_") and callable(method):
            parameters = list(inspect.signature(method).parameters)
            if parameters and parameters[0] in KERAS_FIRST_ARGUMENTS:
                return True
    return False


class KerasHooks:
    """A Keras-style callback seen through the loop's trainer-first hooks."""

    def __init__(self, callback):
        self.callback = callback
        self.batch_ends = overrides(callback, "on_train_batch_end", "on_batch_end") or (
            not isinstance(callback, Callback) and hasattr(callback, "on_train_batch_end"))
        self.test_batch_ends = hasattr(callback, "on_test_batch_end") and (
            not isinstance(callback, Callback) or overrides(callback, "on_test_batch_end"))

    def _hook(self, name, *args):
        method = getattr(self.callback, name, None)
        if method is not None:
            method(*args)

    def _stop_if_asked(self, trainer):
        if getattr(trainer.model, "stop_training", False):
            trainer.should_stop = True

    def on_train_begin(self, trainer):
        trainer.model.stop_training = False
        if hasattr(self.callback, "set_model"):
            self.callback.set_model(trainer.model)
        elif not isinstance(self.callback, Callback):
            self.callback.model = trainer.model
        params = {"epochs": trainer.config.epochs, "verbose": trainer.config.verbose,
                  "steps": trainer.steps_per_epoch(trainer.source)}
        if hasattr(self.callback, "set_params"):
            self.callback.set_params(params)
        self._hook("on_train_begin", {})

    def on_epoch_begin(self, trainer, epoch):
        self._hook("on_epoch_begin", epoch, {})

    def on_train_batch_begin(self, trainer, batch):
        self._hook("on_train_batch_begin", batch, {})

    def on_train_batch_end(self, trainer, batch, batch_size):
        if self.batch_ends:
            self._hook("on_train_batch_end", batch, trainer.running_logs())
            self._stop_if_asked(trainer)

    def on_epoch_end(self, trainer, epoch, logs):
        self._hook("on_epoch_end", epoch, logs)
        self._stop_if_asked(trainer)

    def on_train_end(self, trainer, logs):
        self._hook("on_train_end", logs)

    def on_test_begin(self, trainer):
        self._hook("on_test_begin", {})

    def on_test_batch_begin(self, trainer, batch):
        self._hook("on_test_batch_begin", batch, {})

    def on_test_batch_end(self, trainer, batch, tally):
        if self.test_batch_ends:
            self._hook("on_test_batch_end", batch, tally.read())

    def on_test_end(self, trainer, logs):
        self._hook("on_test_end", logs)

    def on_predict_begin(self, trainer):
        self._hook("on_predict_begin", {})

    def on_predict_batch_begin(self, trainer, batch):
        self._hook("on_predict_batch_begin", batch, {})

    def on_predict_batch_end(self, trainer, batch, outputs):
        self._hook("on_predict_batch_end", batch, {"outputs": outputs.numpy()})

    def on_predict_end(self, trainer):
        self._hook("on_predict_end", {})

    @property
    def wrapped(self):
        return self.callback

    def __getattr__(self, name):  # state_dict, load_state_dict, main_process_only ...
        if name in ("state_dict", "load_state_dict", "main_process_only", "display_only"):
            return getattr(self.callback, name)
        raise AttributeError(name)


def trainer_callbacks(callbacks):
    """The callbacks in the loop's protocol: Keras-style ones wrapped, the
    loop's own (trainer first) as they are; both may be mixed in one fit."""
    return [KerasHooks(c) if is_keras_style(c) else c for c in callbacks or ()]
