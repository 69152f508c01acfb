"""Text classification: the tutorial's architecture, data preparation, and reports.

The model is the tutorial's: Embedding(num_words, 256) -> LSTM(128) ->
Dropout(0.5) -> Dense(1, sigmoid) for two classes (Dense(C, softmax) for
more), trained with RMSprop. Texts become Keras-style id sequences
(lstmkit.data.text), padded and cut before the text ('pre', as Keras does)
so the LSTM's last step is the text's last word.
"""

import math

import numpy as np

from ..data.batching import pad_sequences
from ..data.text import Vocabulary
from ..errors import InputError
from ..layers import LSTM, Dense, Dropout, Embedding
from ..model import Sequential


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


def choose_maxlen(sequences, quantile=0.95, cap=500):
    """A length covering `quantile` of the sequences, at most `cap`: long
    outliers would otherwise make every batch pay for their padding."""
    lengths = sorted(len(s) for s in sequences)
    if not lengths:
        raise InputError("no texts to measure")
    return max(1, min(cap, lengths[min(len(lengths) - 1, math.ceil(quantile * len(lengths)) - 1)]))


class TextEncoder:
    """Texts -> padded id arrays, with the vocabulary and label names that a
    saved model needs to read new text."""

    def __init__(self, vocabulary, maxlen, labels):
        self.vocabulary, self.maxlen, self.labels = vocabulary, maxlen, list(labels)

    @classmethod
    def fit(cls, texts, labels, num_words=1024, maxlen=None):
        vocabulary = Vocabulary.build(texts, num_words)
        if maxlen is None:
            maxlen = choose_maxlen([vocabulary.encode(t) for t in texts])
        return cls(vocabulary, maxlen, sorted(set(labels)))

    def encode(self, texts):
        return pad_sequences([self.vocabulary.encode(t) for t in texts], maxlen=self.maxlen)

    def encode_labels(self, labels):
        index = {name: i for i, name in enumerate(self.labels)}
        unknown = sorted(set(labels) - set(index))
        if unknown:
            raise InputError(f"labels {unknown[:5]} were not seen in training: {self.labels}")
        return np.array([index[name] for name in labels], dtype=np.int64)

    def decode_predictions(self, outputs):
        """Model outputs -> (label name, probability of that label) per sample."""
        outputs = np.asarray(outputs)
        if outputs.shape[-1] == 1:  # sigmoid: probability of labels[1]
            p = outputs[:, 0]
            return [(self.labels[int(q > 0.5)], float(q if q > 0.5 else 1 - q)) for q in p]
        return [(self.labels[int(i)], float(row[i])) for row, i in zip(outputs, outputs.argmax(-1))]

    def to_json(self):
        return {"vocabulary": self.vocabulary.to_json(), "maxlen": self.maxlen, "labels": self.labels}

    @classmethod
    def from_json(cls, data):
        return cls(Vocabulary.from_json(data["vocabulary"]), data["maxlen"], data["labels"])


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
