"""One module per use of an LSTM: its defaults, model, evaluation and reports.

TASKS is the registry the `lstmkit` command is built from; a saved model
names its task in its metadata, and `task_of` finds it again.
"""

from .base import Task
from .forecast import Forecasting
from .lm import LanguageModel
from .series import SeriesClassification
from .text import TextClassification

TASKS = {task.name: task for task in (TextClassification(), SeriesClassification(),
                                         Forecasting(), LanguageModel())}


def task_of(model):
    """The Task a loaded model was made by, or None (a model saved by hand)."""
    return TASKS.get((getattr(model, "metadata", None) or {}).get("task"))


def load_ensemble(path, device="cpu"):
    """(members, weights, labels) of the ensemble a training command wrote to
    folder `path` (`lstmkit text train`, `lstmkit series train`), or None
    where `path` holds one model (model.save's folder)."""
    import os

    from . import series_ensemble, text

    if os.path.isfile(os.path.join(path, text.MANIFEST)):
        classifier = text.TextClassifier.load(path, device=device)
        return classifier.members, classifier.weights, classifier.labels
    if os.path.isfile(os.path.join(path, series_ensemble.MANIFEST)):
        classifier = series_ensemble.SeriesClassifier.load(path, device=device)
        n = len(classifier.members)
        return classifier.members, [1 / n] * n, classifier.labels
    return None


__all__ = ["TASKS", "Task", "load_ensemble", "task_of"]
