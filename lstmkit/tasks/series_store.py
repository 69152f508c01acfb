"""An ensemble's training kept on disk as it goes, so that an interrupted
`series train` continues where it stopped (`--resume`) and ends as an
uninterrupted run would.

The folder (`series train`: OUT/checkpoints) holds `run.json`, what the
run is (its settings and a digest of the prepared training data), and one
sub-folder per member trained (`member-<i>`, `refit-<i>`):

- `model/`, the finished member (an ordinary lstmkit model), then
  `done.json` (its best epoch and held-out losses), written last and
  atomically: a member is finished once its done.json is there;
- while a member trains with `checkpoint_every`, `checkpoints/`, the
  training loop's own (lstmkit.checkpoints), removed once it is finished.

A member that had not finished trains again: from its newest checkpoint,
or from its seed, which draws what the first attempt drew.
"""

import hashlib
import json
import os
import re
import shutil

import numpy as np

from ..checkpoints import describe_difference, list_checkpoints
from ..distributed import is_main_process
from ..errors import InputError, ModelFileError
from ..files import atomic_write, parse_json
from ..model import load_model

RUN = "run.json"
DONE = "done.json"
FORMAT = "lstmkit.series_training"
FORMAT_VERSION = 1
FOLD = re.compile(r"fold-\d+-of-\d+$")  # cross_validate's folds, one store each


def holds_run(folder):
    """Whether `folder` holds a series training to continue: its run.json,
    or its cross-validation folds'."""
    if os.path.isfile(os.path.join(folder, RUN)):
        return True
    return os.path.isdir(folder) and any(
        FOLD.match(name) and os.path.isfile(os.path.join(folder, name, RUN))
        for name in os.listdir(folder))


def data_digest(x, y):
    """SHA-256 of prepared sequences (arrays of (steps, features)) and their
    class ids: a resumed run must train on the same data."""
    digest = hashlib.sha256()
    for series in x:
        series = np.ascontiguousarray(series, dtype=np.float32)
        digest.update(np.asarray(series.shape, dtype=np.int64).tobytes())
        digest.update(series.tobytes())
    digest.update(np.asarray(y, dtype=np.int64).tobytes())
    return digest.hexdigest()


def save_member(model, path, preprocessing, metadata):
    """Write one member as an ordinary lstmkit model. Training may have
    used a weighted loss or a chosen learning rate, which a file cannot
    hold: it is compiled again with the names first."""
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam",
                  metrics=["accuracy"], device=next(model.parameters()).device)
    model.save(path, preprocessing=preprocessing, metadata=metadata)


def _read_json(path):
    try:
        with open(path, "rb") as f:
            return parse_json(f.read(), path)
    except (OSError, ModelFileError) as e:
        raise ModelFileError(f"{e}; remove {os.path.dirname(path)} to train that part "
                             "again") from None


class MemberStore:
    """The finished members of one ensemble's training, in `folder`.

    Args:
        run: JSON-able, what the run is; a folder written by another run is
            refused, naming the first difference.
        resume: continue the run the folder holds. Without it, a folder
            that holds a run is refused, so that nothing is lost.
    What the folder holds is read once, here: under torchrun every process
    reads the same, and the main one writes.
    """

    def __init__(self, folder, run, resume=False):
        self.folder = os.path.abspath(os.fspath(folder))
        if os.path.lexists(self.folder) and not os.path.isdir(self.folder):
            raise InputError(f"{self.folder} exists and is not a folder: the members cannot be "
                             "kept there")
        self.run = {"format": FORMAT, "format_version": FORMAT_VERSION,
                    **json.loads(json.dumps(run))}
        self.writes = is_main_process()
        self.done, self.started = set(), set()
        path = os.path.join(self.folder, RUN)
        if os.path.isfile(path) and (resume or self.writes):  # (the others may see the main's)
            if not resume:
                raise InputError(f"{self.folder} holds an earlier run's training: continue it "
                                 f"with --resume {self.folder} (resume=True), or remove it")
            saved = _read_json(path)
            if saved != self.run:
                raise InputError(f"{self.folder} holds another run's training: "
                                 + describe_difference(saved, self.run, "run")
                                 + "; resume with the same data and settings")
            for name in os.listdir(self.folder):
                if os.path.isfile(os.path.join(self.folder, name, DONE)):
                    self.done.add(name)
                elif list_checkpoints(self._checkpoints(name)):
                    self.started.add(name)

    def begin(self):
        """Write run.json, once, as the first thing is kept: a run refused
        before any training leaves nothing behind."""
        path = os.path.join(self.folder, RUN)
        if self.writes and not os.path.isfile(path):
            os.makedirs(self.folder, exist_ok=True)
            atomic_write(path, json.dumps(self.run, indent=2).encode())

    def finished(self, name):
        return name in self.done

    def _checkpoints(self, name):
        return os.path.join(self.folder, name, "checkpoints")

    def checkpoints(self, name, write):
        """For member `name`: the folder for the training loop's checkpoints
        where `write`, else None, and the one to resume from, or None where
        the run began without one."""
        folder = self._checkpoints(name)
        if write:
            self.begin()
        return folder if write else None, folder if name in self.started else None

    def load(self, name, device="cpu"):
        """A finished member: (model, its record)."""
        record = _read_json(os.path.join(self.folder, name, DONE))
        try:
            model = load_model(os.path.join(self.folder, name, "model"), device=device)
        except ModelFileError as e:
            raise ModelFileError(f"{e}; remove {os.path.join(self.folder, name)} to train that "
                                 "member again") from None
        return model, record

    def save(self, name, model, preprocessing, metadata, record):
        """Keep a finished member and its JSON-able record; its training
        checkpoints go."""
        if not self.writes:
            return
        self.begin()
        folder = os.path.join(self.folder, name)
        save_member(model, os.path.join(folder, "model"), preprocessing, metadata)
        atomic_write(os.path.join(folder, DONE), json.dumps(record, indent=2).encode())
        shutil.rmtree(self._checkpoints(name), ignore_errors=True)
