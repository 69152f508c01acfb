"""Text classification: the tutorial's architecture, data preparation, and reports.

The model is the tutorial's: Embedding(num_words, 256) -> LSTM(128) ->
Dropout(0.5) -> Dense(1, sigmoid) for two classes (Dense(C, softmax) for
more), trained with RMSprop. Texts become Keras-style id sequences
(lstmkit.data.text), padded and cut before the text ('pre', as Keras does)
so the LSTM's last step is the text's last word.
"""

import numpy as np

from ..data.text import TextEncoder, choose_maxlen  # noqa: F401 (the task's preprocessing)
from ..layers import LSTM, Dense, Dropout, Embedding
from ..model import Sequential
from .base import Task, add_command, add_training_options


def build_classifier(num_words=1024, num_classes=2, embedding_dim=256, units=128, dropout=0.5,
                     device="auto"):
    """The tutorial's model, compiled; a sigmoid output for two classes."""
    binary = num_classes == 2
    model = Sequential([
        Embedding(num_words, output_dim=embedding_dim),
        LSTM(units),
        Dropout(dropout),
        Dense(1 if binary else num_classes, activation="sigmoid" if binary else "softmax"),
    ])
    model.compile(
        loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy",
        optimizer="rmsprop",
        metrics=["accuracy"],
        device=device,
    )
    return model


def stratified_split(labels, fraction, seed):
    """Indices (train, held_out) with `fraction` of each class held out."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    train, held = [], []
    for value in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == value))
        cut = int(round(len(idx) * fraction))
        held.extend(idx[:cut])
        train.extend(idx[cut:])
    return rng.permutation(train), np.sort(held)


class TextClassification(Task):
    """Labelled texts -> a classifier; its models carry a TextEncoder."""

    name = "text_classification"
    preprocessing = TextEncoder
    defaults = {"num_words": 1024, "embedding_dim": 256, "units": 128, "dropout": 0.5,
                "epochs": 10, "batch_size": 16}

    def build_model(self, preprocessing=None, device="auto", **options):
        settings = {k: self.defaults[k] for k in ("num_words", "embedding_dim", "units", "dropout")}
        if preprocessing is not None:
            settings["num_words"] = preprocessing.vocabulary.num_words
            settings["num_classes"] = len(preprocessing.labels)
        return build_classifier(**{**settings, **options}, device=device)

    def add_commands(self, commands):
        from .demo import run_demo_command

        demo = add_command(
            commands, "demo",
            help="train the tutorial's sentiment LSTM on built-in data (no arguments, no network)",
            description="Train the tutorial's model (Embedding 256, LSTM 128, Dropout 0.5, "
            "Dense 1 sigmoid, RMSprop) on the UCI Sentiment Labelled Sentences shipped with "
            "lstmkit, report held-out accuracy and save the model.",
            examples=["lstmkit demo", "lstmkit demo --epochs 3 --out /tmp/demo --quiet"])
        add_training_options(demo, self.defaults, out="runs/demo")
        demo.set_defaults(run=run_demo_command)

    def inspect_input(self, model, text):
        encoder = model.preprocessing
        ids = encoder.vocabulary.encode(text)[-encoder.maxlen:]
        return np.array([ids]), encoder.vocabulary.decode(ids).split(" ")
