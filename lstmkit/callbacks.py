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
import warnings

import numpy as np
from tqdm.auto import tqdm

from .errors import InputError, InputTypeError, NonFiniteLossError


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

    def __init__(self, epochs, verbose=1, refresh_seconds=0.5, file=None, derive=None):
        self.epochs, self.verbose, self.refresh_seconds = epochs, verbose, refresh_seconds
        self.file = file or sys.stderr
        self.bar = None
        # derive(logs) -> logs to show: figures computed from the means, such as
        # a language model's perplexity exp(loss), which is not itself a mean
        self.derive = derive or (lambda logs: logs)

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
            self.bar.set_postfix_str(format_logs(self.derive(trainer.running_logs())),
                                     refresh=False)

    def on_epoch_end(self, trainer, epoch, logs):
        seconds = time.perf_counter() - self.started
        if self.bar is not None:
            self.bar.set_postfix_str(format_logs(self.derive(logs)), refresh=False)
            self.bar.close()
            self.bar = None
        elif self.verbose == 2:
            print(
                f"Epoch {epoch + 1}/{self.epochs} - {seconds:.1f}s - "
                f"{format_logs(self.derive(logs))}",
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
    Callback's do-nothing ones), in its class or on the instance (as Keras'
    LambdaCallback sets them)."""
    own = getattr(callback, "__dict__", {})
    return any(n in own or getattr(type(callback), n, None) not in (None, getattr(Callback, n, None))
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


# ----- Keras' built-in callbacks -----------------------------------------------
#
# Written on the Callback protocol above, with Keras' arguments, defaults and
# decisions (keras/src/callbacks/), and what lstmkit adds: each keeps its
# state in `state_dict()`, so a run resumed from a checkpoint continues as the
# uninterrupted one would, and state that Keras resets in on_train_begin (to
# reuse an instance across fits) is kept when it was just loaded for a resume.
# Those that write files (ModelCheckpoint, KerasCSVLogger) run on the main
# process only. lstmkit.keras.callbacks exports them under Keras' names.

_LOWER = ("loss", "mse", "mae", "mean_squared_error", "mean_absolute_error")
_HIGHER = ("acc", "accuracy", "auc", "precision", "recall")


def monitor_mode(cls, monitor, mode):
    """'min' or 'max' for `monitor`, as Keras chooses: an unknown mode warns
    and falls back to 'auto'; 'auto' is 'min' for the loss and errors, 'max'
    for accuracies, and an error for a name it cannot tell (Keras 3 too)."""
    if mode not in ("auto", "min", "max"):
        warnings.warn(f"{cls} mode '{mode}' is unknown, fallback to auto mode.", stacklevel=3)
        mode = "auto"
    if mode != "auto":
        return mode
    name = monitor.removeprefix("val_")
    if name in _LOWER or name.endswith(("_error", "crossentropy", "_loss")):
        return "min"
    if name in _HIGHER or name.endswith(("accuracy", "_acc")):
        return "max"
    raise InputError(f"{cls} callback received monitor={monitor!r}, but lstmkit cannot tell "
                     "whether it should be maximized or minimized: pass mode='max' or mode='min'")


def is_improvement(mode, min_delta, current, reference):
    """Keras' test: beyond the reference by more than min_delta (None: yes)."""
    if reference is None:
        return True
    return current - min_delta > reference if mode == "max" else current + min_delta < reference


def model_weights(model):
    """A copy of the weights (Keras' get_weights), as torch tensors."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _learning_rate(optimizer, cls):
    """The optimizer's learning rate, refusing one that follows a schedule
    (keras.optimizers.schedules), which Keras refuses to change too."""
    if optimizer is None:
        raise InputError(f"{cls} needs the model's optimizer: use it inside fit")
    if any("keras_iterations" in group for group in optimizer.param_groups):
        raise InputError(f"{cls} cannot change a learning rate that follows a "
                         "keras.optimizers.schedules schedule; use one or the other")
    return float(optimizer.param_groups[0]["lr"])


def _set_learning_rate(optimizer, value):
    for group in optimizer.param_groups:
        group["lr"] = float(value)


class _Resumable(Callback):
    """A Keras callback whose state goes into checkpoints: STATE names the
    attributes; `reset()` is Keras' on_train_begin reset, skipped once after
    load_state_dict (the run resumes where the checkpoint was)."""

    STATE = ()

    def __init__(self):
        super().__init__()
        self._resumed = False

    def reset(self):
        pass

    def on_train_begin(self, logs=None):
        if self._resumed:
            self._resumed = False
        else:
            self.reset()

    def state_dict(self):
        return {name: getattr(self, name) for name in self.STATE}

    def load_state_dict(self, state):
        for name in self.STATE:
            setattr(self, name, state[name])
        self._resumed = True


class LambdaCallback(Callback):
    """Keras' LambdaCallback: hooks given as functions taking Keras'
    arguments (on_epoch_end(epoch, logs), on_train_begin(logs),
    on_train_batch_end(batch, logs), ...); any other Callback hook can be
    passed by its name. A batch-end function makes the loop read the running
    logs at every step (one host synchronisation each)."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        hooks = {name for name in dir(Callback) if name.startswith("on_")}
        unknown = sorted(set(kwargs) - hooks)
        if unknown:
            raise InputError(f"LambdaCallback: unknown hook(s) {unknown}; known: "
                             f"{', '.join(sorted(hooks))}")
        given = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end,
                 "on_train_begin": on_train_begin, "on_train_end": on_train_end,
                 "on_train_batch_begin": on_train_batch_begin,
                 "on_train_batch_end": on_train_batch_end, **kwargs}
        for name, fn in given.items():
            if fn is not None:
                if not callable(fn):
                    raise InputTypeError(f"LambdaCallback {name} must be a function, got "
                                         f"{type(fn).__name__}")
                setattr(self, name, fn)


class KerasEarlyStopping(_Resumable):
    """Keras' EarlyStopping (lstmkit.keras.callbacks.EarlyStopping): stop
    when `monitor` has stopped improving.

    Args (Keras' defaults):
        monitor: a log name. Default 'val_loss'.
        min_delta: a change smaller than this is no improvement. Default 0.
        patience: epochs without improvement before stopping. Default 0.
        verbose: 1 prints when it stops and when it restores. Default 0.
        mode: 'auto' (Keras' rule, see monitor_mode), 'min' or 'max'.
        baseline: training stops unless the monitor improves on this.
        restore_best_weights: at the end of training, load the weights of
            the best epoch (whether or not training stopped early, as Keras 3).
        start_from_epoch: epochs to wait before monitoring. Default 0.

    A monitor missing from the logs warns and is skipped, as in Keras (when
    validation runs only every `validation_freq` epochs, for instance).
    lstmkit.callbacks.EarlyStopping is lstmkit's own, trainer-first one.
    """

    STATE = ("wait", "stopped_epoch", "best", "best_weights", "best_epoch")

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor, self.min_delta = monitor, abs(min_delta)
        self.mode = monitor_mode("EarlyStopping", monitor, mode)
        self.patience, self.verbose, self.baseline = patience, verbose, baseline
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, start_from_epoch
        self.reset()

    def reset(self):
        self.wait, self.stopped_epoch, self.best = 0, 0, None
        self.best_weights, self.best_epoch = None, 0

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is not "
                          f"available. Available metrics are: {','.join(logs or {})}",
                          stacklevel=2)
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = model_weights(self.model), epoch
        self.wait += 1
        if is_improvement(self.mode, self.min_delta, current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = model_weights(self.model)
            if self.baseline is None or is_improvement(self.mode, self.min_delta, current,
                                                       self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping", flush=True)
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print("Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.", flush=True)
            self.model.load_state_dict(self.best_weights)


class KerasCSVLogger(_Resumable):
    """Keras' CSVLogger (lstmkit.keras.callbacks.CSVLogger): one row per
    epoch, `epoch` then the log names sorted (with their val_ names even
    before validation has run), 'NA' where a value is missing.

    Args: filename; separator (default ','); append: add to an existing
    file (its header kept) instead of overwriting it.

    On resume the file is cut back to the rows the checkpoint had seen and
    continued, so it holds each epoch once. lstmkit.callbacks.CSVLogger is
    lstmkit's own (columns in log order)."""

    main_process_only = True
    STATE = ("keys", "rows")

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self.keys, self.rows, self.file, self.writer = None, 0, None, None

    def on_train_begin(self, logs=None):
        resumed = self._resumed
        super().on_train_begin(logs)
        if self.file is not None and not self.file.closed:
            self.file.close()
        if resumed:
            self._cut_to(self.rows + 1)  # the header and the rows written by then
            self.file, self.header = open(self.filename, "a", newline=""), False
        else:
            self.header = True
            if self.append and os.path.exists(self.filename):
                with open(self.filename) as f:
                    self.header = not f.readline()
            self.file = open(self.filename, "a" if self.append else "w", newline="")
            self.keys, self.rows = None, 0
        self.writer = None

    def _cut_to(self, lines):
        if not os.path.exists(self.filename):
            return
        with open(self.filename, newline="") as f:
            kept = f.readlines()[:lines]
        with open(self.filename, "w", newline="") as f:
            f.writelines(kept)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys += [f"val_{k}" for k in self.keys]
        if self.writer is None:
            self.writer = csv.writer(self.file, delimiter=self.sep)
            if self.header:
                self.writer.writerow(["epoch", *self.keys])
        self.writer.writerow([epoch, *(_csv_value(logs.get(k, "NA")) for k in self.keys)])
        self.file.flush()
        self.rows += 1

    def on_train_end(self, logs=None):
        if self.file is not None and not self.file.closed:
            self.file.close()
        self.writer = None


def _csv_value(value):
    if isinstance(value, str) or not hasattr(value, "__iter__") or getattr(value, "ndim", 1) == 0:
        return value
    return f"[{', '.join(map(str, value))}]"


class ModelCheckpoint(Callback):
    """Keras' ModelCheckpoint: save the model (or its weights) at the end of
    every epoch, or every `save_freq` batches, or only when `monitor`
    improves.

    Args (Keras' defaults):
        filepath: where to save, formatted with `epoch` (from 1), `batch`
            (from 1, with save_freq=N) and the log values:
            'ckpt-{epoch:02d}-{val_loss:.2f}.keras'. The model is written by
            `model.save(path)`, lstmkit's safe format (JSON and safetensors,
            nothing pickled; not Keras' zip), which
            `keras.models.load_model(path)` reads. With save_weights_only the weights
            alone go to that path as one safetensors file (read them back with
            `model.load_weights(path)`).
            HDF5 ('.h5') is not written: such a path is refused.
        monitor: the log name save_best_only compares. Default 'val_loss'.
        verbose: 1 prints each save. Default 0.
        save_best_only: save only when the monitor improves on the best so
            far (a missing monitor warns and saves, as Keras).
        save_weights_only: the weights alone. Default False.
        mode: 'auto', 'min' or 'max' (see monitor_mode).
        save_freq: 'epoch', or an int: every that many batches (the loop then
            reads the running logs at each step).
        initial_value_threshold: the best value to beat at first. Default None.

    Its best value and batch count go into lstmkit's checkpoints. Only the
    main process writes."""

    main_process_only = True

    def __new__(cls, *args, **kwargs):
        save_freq = kwargs.get("save_freq", args[6] if len(args) > 6 else "epoch")
        if cls is ModelCheckpoint and save_freq != "epoch":
            cls = ModelCheckpointEveryNBatches  # batch-end hooks only when they are needed
        return super().__new__(cls)

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__()
        self.filepath = os.fspath(filepath)
        if self.filepath.endswith(".h5"):
            raise InputError(
                f"ModelCheckpoint filepath {self.filepath!r}: lstmkit writes no HDF5; name a "
                "path model.save takes ('model.keras') or, with save_weights_only=True, a "
                "'.safetensors' file")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int)
                                     or save_freq < 1):
            raise InputError(f"Unrecognized save_freq: {save_freq!r}. Expected save_freq are "
                             "'epoch' or a positive int")
        self.monitor, self.verbose = monitor, verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.mode = monitor_mode("ModelCheckpoint", monitor, mode) if save_best_only else mode
        self.save_freq, self.best = save_freq, initial_value_threshold
        self.batches_since_saving, self.last_batch_seen, self.current_epoch = 0, None, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self.save(epoch, None, logs or {})

    def should_save_on_batch(self, batch):
        if self.last_batch_seen is None or batch <= self.last_batch_seen:
            add = batch + 1  # a new epoch
        else:
            add = batch - self.last_batch_seen
        self.batches_since_saving += add
        self.last_batch_seen = batch
        if self.batches_since_saving >= self.save_freq:
            self.batches_since_saving = 0
            return True
        return False

    def path(self, epoch, batch, logs):
        values = {**logs, "epoch": epoch + 1}
        if batch is not None and "batch" not in logs:
            values["batch"] = batch + 1
        try:
            return self.filepath.format(**values)
        except KeyError as e:
            raise InputError(f"ModelCheckpoint cannot format filepath {self.filepath!r}: the logs "
                             f"have no {e}; available: epoch, {', '.join(values)}") from None

    def should_save(self, epoch, logs, path):
        if not self.save_best_only:
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: saving model to {path}", flush=True)
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.",
                          stacklevel=3)
            return True
        best = "None" if self.best is None else f"{self.best:.5f}"
        if is_improvement(self.mode, 0, current, self.best):
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                      f"{current:.5f}, saving model to {path}", flush=True)
            self.best = current
            return True
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}", flush=True)
        return False

    def save(self, epoch, batch, logs):
        path = self.path(epoch, batch, logs)
        if not self.should_save(epoch, logs, path):
            return
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            from .files import write_weights_file

            write_weights_file(path, self.model.state_dict())
        else:
            with warnings.catch_warnings():  # a callable compile setting: said once, at fit
                warnings.simplefilter("ignore")
                self.model.save(path)

    def state_dict(self):
        return {"best": self.best, "batches_since_saving": self.batches_since_saving,
                "last_batch_seen": self.last_batch_seen, "current_epoch": self.current_epoch}

    def load_state_dict(self, state):
        for key, value in state.items():
            setattr(self, key, value)


class ModelCheckpointEveryNBatches(ModelCheckpoint):
    """ModelCheckpoint(save_freq=N): what ModelCheckpoint gives for an int
    save_freq (a class of its own so that an epoch-end checkpoint adds no
    batch-end hook, which would read the logs at every step)."""

    def on_train_batch_end(self, batch, logs=None):
        if self.should_save_on_batch(batch):
            self.save(self.current_epoch, batch, logs or {})


class ReduceLROnPlateau(_Resumable):
    """Keras' ReduceLROnPlateau: when `monitor` has not improved for
    `patience` epochs, multiply the learning rate of every parameter group
    of the model's optimizer by `factor` (not below `min_lr`), then wait
    `cooldown` epochs.

    Args (Keras' defaults): monitor 'val_loss', factor 0.1 (below 1),
    patience 10, verbose 0, mode 'auto', min_delta 1e-4, cooldown 0,
    min_lr 0.

    It adds 'learning_rate' to the epoch's logs (for the callbacks after it;
    lstmkit's History has recorded the logs by then). Its best value and
    counters go into checkpoints; the learning rate itself is in the
    optimizer's state. lstmkit's fit(scheduler=torch's ReduceLROnPlateau)
    is the other way to do this."""

    STATE = ("best", "wait", "cooldown_counter")

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0, **kwargs):
        super().__init__()
        if kwargs:
            raise InputError(f"ReduceLROnPlateau: unknown argument(s) {sorted(kwargs)}")
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor >= 1.0:
            raise InputError("ReduceLROnPlateau does not support a factor >= 1.0. Received: "
                             f"factor={factor!r}")
        self.monitor, self.factor, self.patience, self.verbose = monitor, factor, patience, verbose
        self.mode = monitor_mode("ReduceLROnPlateau", monitor, mode)
        self.min_delta, self.cooldown, self.min_lr = abs(min_delta), cooldown, min_lr
        self.reset()

    def reset(self):
        self.best, self.cooldown_counter, self.wait = None, 0, 0

    def in_cooldown(self):
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = _learning_rate(optimizer, "ReduceLROnPlateau")
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` "
                          f"which is not available. Available metrics are: {','.join(logs)}.",
                          stacklevel=2)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if is_improvement(self.mode, self.min_delta, current, self.best):
            self.best, self.wait = current, 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old = logs["learning_rate"]
                if old > float(np.float32(self.min_lr)):
                    new = max(old * self.factor, self.min_lr)
                    _set_learning_rate(optimizer, new)
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate "
                              f"to {new}.", flush=True)
                    self.cooldown_counter, self.wait = self.cooldown, 0


class LearningRateScheduler(_Resumable):
    """Keras' LearningRateScheduler: at the start of every epoch, set the
    learning rate of every parameter group to `schedule(epoch, lr)` (epoch
    from 0, lr the current one; a schedule taking one argument gets the
    epoch alone, Keras' old form). It must return a number.

    It adds 'learning_rate' to the epoch's logs. A run resumed in the middle
    of an epoch does not apply the schedule to that epoch a second time (the
    optimizer's state holds the rate it set). lstmkit's fit(scheduler=...)
    takes torch's schedulers the same way."""

    STATE = ("applied_epoch",)

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise InputTypeError(f"LearningRateScheduler schedule must be a function "
                                 f"schedule(epoch, lr), got {type(schedule).__name__}")
        self.schedule, self.verbose = schedule, verbose
        try:
            positional = [p for p in inspect.signature(schedule).parameters.values()
                          if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
            self.takes_lr = len(positional) != 1 or positional[0].kind is positional[0].VAR_POSITIONAL
        except (TypeError, ValueError):  # a builtin without a signature
            self.takes_lr = True
        self.applied_epoch = None

    def reset(self):
        self.applied_epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.applied_epoch == epoch:  # resumed inside this epoch: already applied
            return
        optimizer = self.model.optimizer
        lr = _learning_rate(optimizer, "LearningRateScheduler")
        new = self.schedule(epoch, lr) if self.takes_lr else self.schedule(epoch)
        if isinstance(new, (bool, np.bool_)) or not isinstance(new, (int, float, np.floating,
                                                                    np.integer)):
            raise InputError(f"The output of the `schedule` function should be a float. "
                             f"Got: {new!r}")
        _set_learning_rate(optimizer, float(new))
        self.applied_epoch = epoch
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                  f"{float(new)}.", flush=True)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.param_groups[0]["lr"])


class TerminatedOnNaN(NonFiniteLossError, RuntimeError):
    """Raised by TerminateOnNaN: a NonFiniteLossError (a FloatingPointError)
    that is also the RuntimeError Keras' TerminateOnNaN(raise_error=True)
    raises."""


class TerminateOnNaN(Callback):
    """Keras' TerminateOnNaN: stop at the batch whose loss is NaN or infinite.

    lstmkit already stops on such a loss without it: the loop checks the
    loss on the device about twice a second and at every epoch end, and
    raises NonFiniteLossError naming the step, so a few more steps may run
    on the broken weights first. TerminateOnNaN reads the running loss at
    every step (one host synchronisation each, as Keras does) and stops at
    the first bad batch, before another update.

    Departure from Keras: with raise_error=False Keras ends fit normally
    (stop_training); lstmkit's loop never returns after a non-finite loss,
    so both settings raise `TerminatedOnNaN`, which is a NonFiniteLossError
    and a RuntimeError; on_train_end of the other callbacks is not called
    and the last checkpoint written stays the last good one. To train past
    such batches, use fit(skip_nonfinite=True) instead.
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error, self.epoch = raise_error, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            raise TerminatedOnNaN(
                f"TerminateOnNaN: the loss became {loss} at epoch {self.epoch + 1}, batch "
                f"{batch + 1}; training stopped. Lower the learning rate, check the data, or "
                "pass skip_nonfinite=True to fit to drop such batches.")
