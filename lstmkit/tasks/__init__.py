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


__all__ = ["TASKS", "Task", "task_of"]
