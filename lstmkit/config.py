"""The training configuration: every setting of a run, its default, its check.

One `TrainConfig` decides how a run trains. `fit`'s keyword arguments and
the command line's options only override its fields; it is validated once,
when made, saved (as JSON) in every checkpoint and beside a saved model, and
compared on resume, so a run cannot continue under settings that would
change where it goes (a different batch size would start at the wrong
sample).
"""

import dataclasses
import functools
import math
import numbers
import os
from typing import Callable, Optional

from .errors import InputError, InputTypeError
from .precision import policy_name

SCHEDULER_INTERVALS = ("epoch", "step")
# fit's arguments of Keras 1 -> today's names
RENAMED = {"nb_epoch": "epochs", "samples_per_epoch": "steps_per_epoch",
           "nb_val_samples": "validation_steps", "show_accuracy": "metrics=['accuracy'] in compile"}


@dataclasses.dataclass
class TrainConfig:
    """How a model trains.

    Args:
        epochs: passes over the training data. Default 1.
        batch_size: samples per step (over all processes). Default 32.
        shuffle: reshuffle the training samples each epoch. Default True.
        seed: seeds initialisation (if the model is not built yet), dropout
            and shuffling, so a run repeats exactly on the same machine.
            Default None: drawn at random, and the drawn value is recorded.
        validation_split: fraction of the data, taken from the end before
            shuffling (as Keras), held out and evaluated each epoch. Default 0.
        bucket_by_length: with a mask, batch samples of similar lengths
            (sorted within chunks of 50 shuffled batches). Default False.
        clip_grad_norm: rescale the gradients so that their global L2 norm is
            at most this (torch.nn.utils.clip_grad_norm_). Default None.
        clip_grad_value: clip each gradient element to [-v, v]. Default None.
        scheduler: a learning-rate schedule: a callable taking the optimizer
            and returning a torch.optim.lr_scheduler (for example
            `functools.partial(StepLR, step_size=4, gamma=0.5)` or
            `lambda opt: ReduceLROnPlateau(opt, patience=2)`). Its state is
            checkpointed. Default None.
        scheduler_interval: 'epoch' (default; stepped after each epoch's
            validation) or 'step' (after each optimizer step).
        scheduler_monitor: the log value a ReduceLROnPlateau schedule reads
            at each epoch end. Default 'val_loss'.
        skip_nonfinite: drop batches whose loss is NaN or infinite instead of
            stopping (a host synchronisation per step). Default False.
        checkpoint_dir: write a checkpoint here at each epoch end and on
            Ctrl-C. Default None (no checkpoints).
        checkpoint_every: also write one every this many steps. Default None.
        keep_checkpoints: how many of the newest checkpoints to keep. Default 3.
        verbose: 0 silent, 1 a progress bar per epoch, 2 a line per epoch.
        sync_every: in a run of several processes, the steps between the
            moments they decide together (stop on Ctrl-C or a non-finite
            loss). Default 16.
        initial_epoch: the epoch to start at, counting towards `epochs`
            (Keras'; to continue a run exactly, resume from a checkpoint).
            Default 0.
        validation_freq: validate every this many epochs. Default 1.
        steps_per_epoch: batches per epoch, at most; needed for an iterable
            without a length. Default None (all).
        precision: 'float32' (default), or Keras' mixed policies
            'mixed_bfloat16' ('bf16') and 'mixed_float16' ('fp16'): the
            forward passes of training and validation in that 16-bit float
            (torch.autocast), the weights and updates in float32; float16
            scales the loss (lstmkit.precision).
    """

    epochs: int = 1
    batch_size: int = 32
    shuffle: bool = True
    seed: Optional[int] = None
    validation_split: float = 0.0
    bucket_by_length: bool = False
    clip_grad_norm: Optional[float] = None
    clip_grad_value: Optional[float] = None
    scheduler: Optional[Callable] = None
    scheduler_interval: str = "epoch"
    scheduler_monitor: str = "val_loss"
    skip_nonfinite: bool = False
    checkpoint_dir: Optional[str] = None
    checkpoint_every: Optional[int] = None
    keep_checkpoints: int = 3
    verbose: int = 1
    sync_every: int = 16
    initial_epoch: int = 0
    validation_freq: int = 1
    steps_per_epoch: Optional[int] = None
    precision: str = "float32"

    # the fields that change where training goes: a resumed run must match
    # them (epochs may grow; where checkpoints go and what is shown may change)
    RESUME_FIELDS = ("batch_size", "shuffle", "validation_split", "bucket_by_length",
                     "clip_grad_norm", "clip_grad_value", "scheduler", "scheduler_interval",
                     "scheduler_monitor", "skip_nonfinite", "validation_freq", "steps_per_epoch",
                     "precision")

    def __post_init__(self):
        _int(self, "epochs", low=0)
        _int(self, "batch_size")
        _int(self, "keep_checkpoints")
        _int(self, "sync_every")
        _int(self, "initial_epoch", low=0)
        _int(self, "validation_freq")
        self.precision = policy_name(self.precision)
        if self.steps_per_epoch is not None:
            _int(self, "steps_per_epoch")
        if self.checkpoint_every is not None:
            _int(self, "checkpoint_every")
        if self.seed is not None:
            _int(self, "seed", low=0)
        for name in ("shuffle", "bucket_by_length", "skip_nonfinite"):
            if not isinstance(getattr(self, name), bool):
                raise InputTypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        split = self.validation_split
        if isinstance(split, bool) or not isinstance(split, numbers.Real) or not 0 <= split < 1:
            raise InputError(f"validation_split must be in [0, 1), got {split!r}")
        for name in ("clip_grad_norm", "clip_grad_value"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)
                                      or not math.isfinite(value) or value <= 0):
                raise InputError(f"{name} must be a positive number or None, got {value!r}")
        if self.scheduler is not None and not callable(self.scheduler):
            raise InputTypeError("scheduler must be a callable taking the optimizer and returning "
                                 f"a torch.optim.lr_scheduler, got {type(self.scheduler).__name__}")
        if self.scheduler_interval not in SCHEDULER_INTERVALS:
            raise InputError(f"scheduler_interval must be 'epoch' or 'step', got "
                             f"{self.scheduler_interval!r}")
        if not isinstance(self.scheduler_monitor, str):
            raise InputTypeError(f"scheduler_monitor must be a log name, got "
                                 f"{self.scheduler_monitor!r}")
        if self.verbose not in (0, 1, 2) or isinstance(self.verbose, bool):
            raise InputError(f"verbose must be 0, 1 or 2, got {self.verbose!r}")
        if self.checkpoint_dir is not None:
            try:
                self.checkpoint_dir = os.fspath(self.checkpoint_dir)
            except TypeError:
                raise InputTypeError(f"checkpoint_dir must be a path, got "
                                     f"{type(self.checkpoint_dir).__name__}") from None

    @classmethod
    def fields(cls):
        return [f.name for f in dataclasses.fields(cls)]

    def replace(self, **overrides):
        """A copy with some fields changed (and checked); unknown names are
        refused with the list of known ones."""
        unknown = sorted(set(overrides) - set(self.fields()))
        renamed = [f"{name} is now {RENAMED[name]}" for name in unknown if name in RENAMED]
        if renamed:
            raise InputError(f"{'; '.join(renamed)} (Keras 1's spelling)")
        if unknown:
            raise InputError(f"unknown training setting(s) {unknown}; known: "
                             f"{', '.join(self.fields())}")
        return dataclasses.replace(self, **overrides)

    def to_json(self):
        """The settings as JSON values; a scheduler is saved as its description."""
        data = dataclasses.asdict(self)
        data["scheduler"] = describe_callable(self.scheduler)
        return data

    def resume_difference(self, saved):
        """Why a checkpoint written under `saved` (to_json of its config)
        cannot continue under this one, or None."""
        current = self.to_json()
        for name in self.RESUME_FIELDS:
            if name in saved and saved[name] != current[name]:
                return (f"{name}: the checkpoint was written with {saved[name]!r}, this run "
                        f"has {current[name]!r}")
        return None


def describe_callable(fn):
    """A stable description of a callable (a scheduler), for comparing runs."""
    if fn is None:
        return None
    if isinstance(fn, functools.partial):
        arguments = [repr(a) for a in fn.args] + [f"{k}={v!r}" for k, v in fn.keywords.items()]
        return f"{describe_callable(fn.func)}({', '.join(arguments)})"
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def _int(config, name, low=1):
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputTypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < low:
        raise InputError(f"{name} must be at least {low}, got {value}")
    setattr(config, name, int(value))

