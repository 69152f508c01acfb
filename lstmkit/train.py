"""The training loop: batches -> step -> running sums -> callbacks.

It reads top to bottom: `fit_model` sets a run up (optimizer, schedule,
callbacks, resume), `Trainer.fit` runs epochs, `train_epoch` runs steps,
`training_step` is one forward, backward and update. Batches come from a
batch source (lstmkit.data.sources), settings from one TrainConfig
(lstmkit.config), and decisions that every process must share from a
process group (lstmkit.distributed). Loss and metric sums stay on the
device; the host reads them only when someone asks (the progress bar, at
most twice a second, and the end of each epoch), so a step never waits for
the GPU.
"""

import contextlib
import itertools
import os
import random
import signal
import sys
import threading
import time

import numpy as np
import torch

from .allocator import keep_freed_memory
from .callbacks import History, ProgressBar, trainer_callbacks
from .checkpoints import (checkpoint_path, describe_difference, prune, read_checkpoint,
                          resolve_resume, rng_states, set_rng_states, write_checkpoint)
from .distributed import SingleProcess, current_group
from .config import TrainConfig
from .data.batching import batch_indices
from .errors import InputError, InputTypeError, NonFiniteLossError
from .optimizers import make_optimizer
from .precision import autocast, full, grad_scaler


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


def share_of_global_mean(values, mask, group):
    """This process's part of the mean over every process's batch, scaled so
    that DistributedDataParallel's average of the gradients over processes
    is the gradient of that global mean, whatever the shards' sizes (one
    small collective for the global count)."""
    weight = real_steps(values, mask)
    total = values.sum() if weight is None else (values * weight).sum()
    count = values.new_tensor(float(values.numel())) if weight is None else weight.sum()
    everywhere = group.sum_(count.detach().reshape(1)).clamp(min=1)
    return total * group.world_size / everywhere[0]


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

    def read(self, group=None):
        """The means so far, over every process of `group`: one host read."""
        counts = self.masked_counts + torch.tensor(self.counts, dtype=torch.float64,
                                                   device=self.sums.device)
        both = torch.cat([self.sums, counts])
        if group is not None and group.world_size > 1:
            both = group.sum_(both.clone())
        values = both.tolist()  # the one host synchronisation
        n = len(self.names)
        return {name: s / max(c, 1) for name, s, c in zip(self.names, values[:n], values[n:])}

    def state_dict(self):
        return {"sums": self.sums, "counts": self.counts, "masked_counts": self.masked_counts}

    def load_state_dict(self, state):
        self.sums = state["sums"].to(self.sums.device)
        self.counts = list(state["counts"])
        self.masked_counts = state["masked_counts"].to(self.sums.device)


# the hooks a callback may define; each receives the trainer first
HOOKS = ("on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_after_backward",
         "on_before_optimizer_step", "on_train_batch_end", "on_epoch_end", "on_train_end",
         "on_test_begin", "on_test_batch_begin", "on_test_batch_end", "on_test_end",
         "on_predict_begin", "on_predict_batch_begin", "on_predict_batch_end", "on_predict_end")


def unpack(batch):
    """(x, y, mask, weights) from a source's (x, y), (x, y, mask) or
    (x, y, mask, weights)."""
    return (*batch, *(None,) * (4 - len(batch)))


def weighted(values, weights):
    """Per-sample (per-step) loss values times their weights, which may be
    per sample (N,) for per-step values (N, T)."""
    if weights is None:
        return values
    weights = weights.to(values.dtype)
    return values * (weights[:, None] if weights.dim() < values.dim() else weights)


def detach_state(state, convert=lambda s: s):
    return {i: tuple(convert(s.detach()) for s in value) for i, value in state.items()}


def flat(out):
    """The tensors of a nested tuple of outputs, in order: Bidirectional(merge_mode=None,
    return_state=True) gives ((forward, backward), h, c, h, c)."""
    return [t for o in out for t in flat(o)] if isinstance(out, tuple) else [out]


class Trainer:
    """Trains and evaluates one compiled model on one device.

    Args:
        model: the model itself (a Sequential): its weights, configuration
            and carried states are what checkpoints hold.
        loss, metrics: resolved (lstmkit.metrics).
        optimizer: a torch optimizer over the model's parameters.
        device: where batches go.
        config: a TrainConfig (epochs, checkpoints, clipping, ...).
        callbacks: objects with on_* methods (see HOOKS and lstmkit.callbacks).
        scheduler: a torch learning-rate scheduler, or None.
        group: the processes training together (default: this one alone).
        network: what runs the steps, if not the model itself: a wrapper
            such as DistributedDataParallel around it.

    Attributes a callback may read: model, optimizer, config, epoch,
    global_step, epoch_samples, group; `should_stop` may be set to end
    training after the epoch (it stops when any process asks).

    A non-finite loss is tracked on the device and checked before each
    checkpoint, at each epoch end and about twice a second (every
    config.sync_every steps with several processes); it stops the run with
    NonFiniteLossError, unless config.skip_nonfinite, which drops such
    batches (checking each step, a host synchronisation per step).
    """

    CHECK_SECONDS = 0.5

    def __init__(self, model, loss, metrics, optimizer, device, config=None, callbacks=(),
                 scheduler=None, group=None, network=None):
        self.model, self.loss, self.metrics = model, loss, metrics
        self.optimizer, self.device, self.scheduler = optimizer, device, scheduler
        self.config = config or TrainConfig()
        self.group = group or SingleProcess()
        self.network = network or model
        self.callbacks = trainer_callbacks(callbacks)
        # hooks with side effects outside the run (bars, files) run on the main process only
        active = [c for c in self.callbacks
                  if self.group.is_main or not getattr(c, "main_process_only", False)]
        self.hooks = {name: [getattr(c, name) for c in active if hasattr(c, name)]
                      for name in HOOKS}
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
        self.carried = None  # the recurrent state carried between batches of a stream
        self.mixed = self.config.precision != "float32"
        self.scaler = grad_scaler(self.config.precision, device)  # float16 only

    def call(self, hook, *args):
        for method in self.hooks[hook]:
            method(self, *args)

    def running_logs(self):
        """Mean loss and metrics so far in this epoch (waits for the device)."""
        return self.tally.read()

    def fit(self, source, validation=None, resume=None):
        """Train on the batch source `source` from the start, or from the
        checkpoint state `resume`; returns the last epoch's logs."""
        self.should_stop = self.interrupted = False
        self.source = source
        start_epoch, start_batch = self.config.initial_epoch, 0
        if resume is not None:
            start_epoch, start_batch = self.restore(resume, source)
            if resume.get("stopped") and start_batch == 0:  # a callback had ended the run
                start_epoch = self.config.epochs  # (more epochs do not undo that)
            elif resume.get("stopped"):  # a stop asked mid-epoch: it ends at the epoch's end
                self.should_stop = True
        logs = {}
        with self.catch_interrupt():
            self.call("on_train_begin")
            for epoch in range(start_epoch, self.config.epochs):
                self.epoch = epoch
                self.epoch_samples = source.samples
                self.epoch_source_state = source.state_dict()  # to draw this epoch again on resume
                self.call("on_epoch_begin", epoch)
                logs = self.train_epoch(source, start_batch)
                start_batch = 0
                if self.interrupted:
                    break
                if validation is not None and (epoch + 1) % self.config.validation_freq == 0:
                    val = self.evaluate(validation)
                    logs.update({f"val_{k}": v for k, v in val.items()})
                self.step_scheduler_after_epoch(logs)
                self.call("on_epoch_end", epoch, logs)
                self.should_stop = self.group.any(should_stop=self.should_stop)["should_stop"]
                self.save_checkpoint(epoch + 1, 0)
                if self.should_stop:
                    break
            self.call("on_train_end", logs)
        return logs

    def train_epoch(self, source, start_batch=0):
        self.model.train()
        if start_batch == 0:  # (a resumed epoch has its sums and carried state back)
            self.tally = Tally([m.name for m in self.metrics], self.device)
            self.carried = {} if source.carries_state else None
        self.epoch_first_step = self.global_step - start_batch
        steps = self.steps_per_epoch(source)
        self.step_losses = torch.zeros(steps, device=self.device)
        self.steps_done = start_batch
        group, every = self.group, self.config.checkpoint_every
        checked = time.perf_counter()
        batches = itertools.islice(
            source.batches(self.epoch, start_batch, group.rank, group.world_size),
            steps - start_batch)
        for batch, data in enumerate(batches, start_batch):
            self.call("on_train_batch_begin", batch)
            x, y, mask, weights = unpack(data)
            x = x.to(self.device, non_blocking=True)
            y = y.to(self.device, non_blocking=True)
            if mask is not None:
                mask = mask.to(self.device, non_blocking=True)
            if weights is not None:
                weights = weights.to(self.device, non_blocking=True)
            out, values, loss, mask = self.training_step(x, y, mask, weights)
            if out is not None:
                self.tally.add([values, *self.metric_values(out, y)], mask)
                self.step_losses[batch] = loss  # one copy, no wait: checked later
            self.global_step += 1
            self.steps_done = batch + 1
            self.call("on_train_batch_end", batch, len(x) * group.world_size)
            checkpoint_due = every and self.global_step % every == 0
            if group.world_size == 1:
                check_due = time.perf_counter() - checked > self.CHECK_SECONDS
            else:  # at the same step on every process
                check_due = self.steps_done % self.config.sync_every == 0
                if check_due or checkpoint_due:
                    self.interrupted = self.decide_to_stop()
                    checked = time.perf_counter()
            if self.interrupted:
                self.save_checkpoint(self.epoch, batch + 1)
                break
            if checkpoint_due:
                self.save_checkpoint(self.epoch, batch + 1)
            elif check_due:
                self.check_finite()
                checked = time.perf_counter()
        self.check_finite()
        return self.tally.read(group)

    def steps_per_epoch(self, source):
        """The source's batches an epoch, or fewer with config.steps_per_epoch."""
        steps = self.config.steps_per_epoch
        return len(source) if steps is None else min(steps, len(source))

    def training_step(self, x, y, mask=None, weights=None):
        """One forward, backward and update. Returns the outputs, the
        per-sample loss values, the loss and the mask (outputs None if the
        batch was skipped for a non-finite loss). A carried state goes in
        and its detached successor is kept for the next batch."""
        with autocast(self.config.precision, self.device):
            if self.carried is not None:
                out, mask, state = self.network(x, mask=mask, state=self.carried,
                                                logits=self.loss.from_logits, return_mask=True,
                                                return_state=True)
                # truncated BPTT: no gradient into older batches; kept in float32
                self.carried = detach_state(state, full) if self.mixed else detach_state(state)
            else:
                out, mask = self.network(x, mask=mask, logits=self.loss.from_logits,
                                         return_mask=True)
        if self.mixed:
            out = full(out)  # the loss and metrics in float32
        values = weighted(self.loss.values(out, y), weights)  # (N,) or (N, T)
        loss = mean_over_real_steps(values, mask)
        self.optimizer.zero_grad(set_to_none=True)
        if self.config.skip_nonfinite:
            decided = self.group.any(skip=not torch.isfinite(loss))  # the same choice everywhere
            if decided["skip"]:
                self.skipped_batches += 1
                return None, None, loss.detach(), mask
        objective = loss
        if self.group.world_size > 1:
            objective = share_of_global_mean(values, mask, self.group)
        if self.scaler is not None:
            objective = self.scaler.scale(objective)
        objective.backward()
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)  # hooks and clipping see the true gradients
        self.call("on_after_backward")
        self.call("on_before_optimizer_step", self.optimizer)
        if self.config.clip_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip_grad_norm)
        if self.config.clip_grad_value is not None:
            torch.nn.utils.clip_grad_value_(self.model.parameters(), self.config.clip_grad_value)
        if self.scaler is None:
            self.optimizer.step()
        else:  # skips the update when a gradient overflowed, and adapts the scale
            self.scaler.step(self.optimizer)
            self.scaler.update()
        if self.scheduler is not None and self.config.scheduler_interval == "step":
            self.scheduler.step()
        return out.detach(), values.detach(), loss.detach(), mask

    def step_scheduler_after_epoch(self, logs):
        if self.scheduler is None:
            return
        if self.config.scheduler_interval == "epoch":
            if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                monitor = self.config.scheduler_monitor
                if monitor not in logs:
                    raise InputError(f"scheduler_monitor {monitor!r} is not in the logs; "
                                     f"available: {', '.join(logs)}")
                self.scheduler.step(logs[monitor])
            else:
                self.scheduler.step()
        logs["learning_rate"] = self.optimizer.param_groups[0]["lr"]

    def first_nonfinite(self):
        """The batch of this epoch whose loss was first NaN or infinite, or
        None (one read from the device)."""
        if self.step_losses is None:
            return None
        bad = (~torch.isfinite(self.step_losses[: self.steps_done])).nonzero()
        return int(bad[0]) if len(bad) else None

    def decide_to_stop(self):
        """Together with every process: raise NonFiniteLossError if any saw a
        non-finite loss; return whether any was interrupted."""
        batch = self.first_nonfinite()
        decided = self.group.any(interrupted=self.interrupted, nonfinite=batch is not None)
        if decided["nonfinite"]:
            self.raise_nonfinite(batch)
        return decided["interrupted"]

    def check_finite(self):
        """Raise NonFiniteLossError if any loss of this epoch so far was NaN or
        infinite, on any process."""
        batch = self.first_nonfinite()
        if self.group.any(nonfinite=batch is not None)["nonfinite"]:
            self.raise_nonfinite(batch)

    def raise_nonfinite(self, batch):
        kept = self.last_checkpoint or "none (checkpointing is off)"
        where = (f"at epoch {self.epoch + 1}, step {self.epoch_first_step + batch + 1} "
                 f"(batch {batch + 1} of the epoch)" if batch is not None else
                 f"on another process, by epoch {self.epoch + 1}, step {self.global_step}")
        raise NonFiniteLossError(
            f"the loss became NaN or infinite {where}; training stopped. "
            f"Last good checkpoint: {kept}. Lower the learning rate, check the data, or pass "
            "skip_nonfinite=True to drop such batches."
        )

    def metric_values(self, out, y):
        return [m.fn(out, y, self.loss.from_logits, self.activation) for m in self.metrics]

    @torch.inference_mode()
    def evaluate(self, source):
        """Mean loss and metrics over a batch source, over every process; a
        stream's state is carried through it from zeros."""
        self.model.eval()
        tally = Tally([m.name for m in self.metrics], self.device)
        state = {} if source.carries_state else None
        group = self.group
        self.call("on_test_begin")
        for batch, data in enumerate(source.batches(0, 0, group.rank, group.world_size)):
            self.call("on_test_batch_begin", batch)
            x, y, mask, weights = unpack(data)
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            if mask is not None:
                mask = mask.to(self.device, non_blocking=True)
            if weights is not None:
                weights = weights.to(self.device, non_blocking=True)
            with autocast(self.config.precision, self.device):
                if state is not None:  # the model itself: no gradients to average here
                    out, mask, state = self.model(x, mask=mask, state=state,
                                                  logits=self.loss.from_logits, return_mask=True,
                                                  return_state=True)
                else:
                    out, mask = self.model(x, mask=mask, logits=self.loss.from_logits,
                                           return_mask=True)
            if self.mixed:
                out = full(out)
            tally.add([weighted(self.loss.values(out, y), weights),
                       *self.metric_values(out, y)], mask)
            self.call("on_test_batch_end", batch, tally)
        logs = tally.read(group)
        self.call("on_test_end", logs)
        return logs

    @torch.inference_mode()
    def predict(self, x, batch_size):
        """Model outputs for every sample of tensor x, concatenated on the CPU
        (a tuple of them for a model whose last layer returns several, such
        as return_state=True)."""
        self.model.eval()
        self.call("on_predict_begin")
        outputs = []
        for batch, index in enumerate(batch_indices(len(x), batch_size)):
            self.call("on_predict_batch_begin", batch)
            out = self.model(x[index].to(self.device, non_blocking=True))
            outputs.append(tuple(o.cpu() for o in flat(out)) if isinstance(out, tuple)
                           else out.cpu())
            self.call("on_predict_batch_end", batch, outputs[-1])
        self.call("on_predict_end")
        if isinstance(outputs[0], tuple):
            return tuple(torch.cat(parts) for parts in zip(*outputs))
        return torch.cat(outputs)

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

    def state(self, epoch, batch):
        """Everything needed to continue from (epoch, batch) exactly. The
        random generators and carried states of every process are gathered
        (a collective: every process calls this)."""
        per_process = self.group.gather({"rng": rng_states(),
                                         "recurrent_states": self.model.recurrent_states(),
                                         "carried": self.carried if batch else None})
        return {
            "epoch": epoch,
            "batch": batch,
            "global_step": self.global_step,
            "skipped_batches": self.skipped_batches,
            "config": self.config.to_json(),
            "source": self.epoch_source_state if batch else self.source.state_dict(),
            "source_signature": self.source.signature(),
            "model_config": self.model.get_config(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "grad_scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "processes": per_process,
            "tally": self.tally.state_dict() if batch else None,
            "callbacks": callback_states(self.callbacks),
            "stopped": bool(self.should_stop),  # the run ends here (EarlyStopping, ...)
        }

    def save_checkpoint(self, epoch, batch):
        if self.config.checkpoint_dir is None:
            return
        self.check_finite()  # never write a checkpoint after a non-finite loss
        state = self.state(epoch, batch)
        folder = self.config.checkpoint_dir
        path = checkpoint_path(folder, epoch, self.global_step)
        if self.group.is_main:
            os.makedirs(folder, exist_ok=True)
            write_checkpoint(path, state)
            prune(folder, self.config.keep_checkpoints)
        self.last_checkpoint = path

    def restore(self, state, source):
        """Load a checkpoint state; returns (epoch, batch) to continue from."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and state.get("grad_scaler") is not None:
            self.scaler.load_state_dict(state["grad_scaler"])
        self.global_step, self.skipped_batches = state["global_step"], state["skipped_batches"]
        for callback, (_, saved) in zip(resumable(self.callbacks), state["callbacks"]):
            if saved is not None:
                callback.load_state_dict(saved)
        if state["tally"] is not None:
            self.tally = Tally([m.name for m in self.metrics], self.device)
            self.tally.load_state_dict(state["tally"])
        source.load_state_dict(state["source"])
        processes = state["processes"]
        mine = processes[self.group.rank % len(processes)]
        self.model.set_recurrent_states(mine["recurrent_states"])
        if mine["carried"] is not None:
            self.carried = {int(i): tuple(s.to(self.device) for s in v)
                            for i, v in mine["carried"].items()}
        set_rng_states(mine["rng"])
        return state["epoch"], state["batch"]


def resumable(callbacks):
    """The callbacks that are part of a run's state: all but the display."""
    return [c for c in callbacks if not getattr(c, "display_only", False)]


def callback_states(callbacks):
    return [[type(getattr(c, "wrapped", c)).__name__,
             c.state_dict() if hasattr(c, "state_dict") else None]
            for c in resumable(callbacks)]


def read_resume(resume, model, config, source):
    """The checkpoint state to resume from, checked against this run: the
    model, the training settings, the data's size and the callbacks must be
    those it was written with; the message names both sides."""
    path = resolve_resume(resume)
    state = read_checkpoint(path)
    if state.get("model_config") != model.get_config():
        raise InputError(f"{path} was written by a different model: "
                         + describe_difference(state.get("model_config"), model.get_config()))
    difference = config.resume_difference(state.get("config") or {})
    if difference:
        raise InputError(f"{path} was written under other training settings: {difference}")
    saved, current = state.get("source_signature") or {}, source.signature()
    if saved.get("samples") != current.get("samples"):
        raise InputError(f"{path} was written training on {saved.get('samples')} samples, "
                         f"this run has {current.get('samples')}; resume with the same data")
    if {k: current.get(k) for k in saved} != saved:
        raise InputError(f"{path} was written training on other batches: "
                         + describe_difference(saved, current, "data"))
    return path, state


def check_callbacks(state, callbacks, path):
    saved = [name for name, _ in state["callbacks"]]
    current = [name for name, _ in callback_states(callbacks)]
    if saved != current:
        raise InputError(f"{path} was written with callbacks {saved}, this run has {current}; "
                         "resume with the same callbacks (the progress bar may differ)")


def fit_model(model, source, config, validation=None, callbacks=(), resume=None, group=None,
              network=None):
    """Train a compiled, built model on batch source `source` under `config`:
    make its optimizer (once) and schedule, wire the callbacks, check and
    load the checkpoint to resume from, run the epochs. Returns the History
    (with `last_checkpoint`, and `interrupted`: whether Ctrl-C ended it)."""
    compiled = model._compiled
    group = group or current_group()
    keep_freed_memory()  # a step's large buffers are reused, not mapped afresh each step
    state = path = None
    if resume is not None:
        path, state = read_resume(resume, model, config, source)
    device = compiled["device"]
    model.to(device)
    if model.optimizer is None:
        model.optimizer = make_optimizer(compiled["optimizer"], model)
    scheduler = make_scheduler(config.scheduler, model.optimizer)
    history = History()
    callbacks = [history, *(callbacks or [])]
    if config.verbose:
        callbacks.append(ProgressBar(config.epochs, config.verbose))
    if state is not None:
        check_callbacks(state, callbacks, path)
    if network is None and group.world_size > 1:
        network = group.wrap(model)  # DistributedDataParallel, around the model on its device
    trainer = Trainer(model, compiled["loss"], compiled["metrics"], model.optimizer, device,
                      config, callbacks, scheduler, group, network)
    model.training_config = config.to_json()  # saved with the model
    trainer.fit(source, validation, state)
    if config.skip_nonfinite:
        history.history.setdefault("skipped_batches", []).append(trainer.skipped_batches)
    if trainer.interrupted and group.is_main:
        where = f"; checkpoint: {trainer.last_checkpoint}" if trainer.last_checkpoint else ""
        print(f"training interrupted at epoch {trainer.epoch + 1}, step {trainer.global_step}"
              f"{where}", file=sys.stderr)
    history.last_checkpoint = trainer.last_checkpoint
    history.interrupted = trainer.interrupted
    return history


def make_scheduler(factory, optimizer):
    """The scheduler `factory(optimizer)` makes, checked."""
    if factory is None:
        return None
    scheduler = factory(optimizer)
    kinds = (torch.optim.lr_scheduler.LRScheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    if not isinstance(scheduler, kinds):
        raise InputTypeError(f"scheduler: the callable returned {type(scheduler).__name__}, "
                             "not a torch.optim.lr_scheduler")
    return scheduler


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
