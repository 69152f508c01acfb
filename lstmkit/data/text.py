"""Text to integer sequences: tokenising, vocabularies, labelled-line files.

Ids follow Keras' `imdb.load_data` convention so that one model shape fits
every text task: 0 is padding, 1 marks the start of a text, 2 stands for a
word outside the vocabulary, and words take ids from 3 on, most frequent
first. A vocabulary of `num_words` ids therefore keeps num_words - 3 words.
"""

import collections
import math
import os

import numpy as np

from ..errors import DataFileError, InputError
from .batching import pad_sequences
from .preprocessing import Preprocessing

PAD, START, OOV = 0, 1, 2
FIRST_WORD_ID = 3
RESERVED = {"<pad>": PAD, "<start>": START, "<oov>": OOV}

# Keras' text_to_word_sequence filters: punctuation becomes a space; the
# apostrophe is kept, so "it's" is one word, as in Keras' IMDB word index.
_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
_TRANSLATE = str.maketrans(_FILTERS, " " * len(_FILTERS))


def tokenize(text):
    """Lower-case words split as Keras' `text_to_word_sequence` splits them."""
    return text.lower().translate(_TRANSLATE).split()


class Vocabulary:
    """A word -> id mapping with Keras' reserved ids (0 pad, 1 start, 2 OOV).

    Args:
        index: {word: id}, ids from 3 on.
        num_words: ids at or above this become OOV (Keras' num_words);
            default: every word is kept.
    """

    def __init__(self, index, num_words=None):
        self.index = dict(index)
        top = max(self.index.values(), default=FIRST_WORD_ID - 1)
        self.num_words = num_words if num_words is not None else top + 1
        if self.num_words <= FIRST_WORD_ID:
            raise InputError(f"num_words must be more than {FIRST_WORD_ID}, got {self.num_words}")

    @classmethod
    def build(cls, texts, num_words):
        """The num_words - 3 most frequent words of `texts` (ties: first seen)."""
        counts = collections.Counter()
        for text in texts:
            counts.update(tokenize(text))
        words = [w for w, _ in counts.most_common(max(num_words - FIRST_WORD_ID, 0))]
        return cls({w: i + FIRST_WORD_ID for i, w in enumerate(words)}, num_words)

    @classmethod
    def from_word_index(cls, word_index, num_words=None):
        """From a Keras word index {word: rank from 1}: id = rank + 2, as
        `imdb.load_data(index_from=3)` gives."""
        return cls({w: rank + FIRST_WORD_ID - 1 for w, rank in word_index.items()}, num_words)

    def encode(self, text, start=True):
        """A text (or list of tokens) as a list of ids, with the start id first."""
        tokens = tokenize(text) if isinstance(text, str) else text
        ids = [self.index.get(t, OOV) for t in tokens]
        ids = [i if i < self.num_words else OOV for i in ids]
        return [START] + ids if start else ids

    def decode(self, ids):
        words = {i: w for w, i in self.index.items()}
        words.update({v: k for k, v in RESERVED.items()})
        return " ".join(words.get(i, "<oov>") for i in ids)

    def __len__(self):
        """The number of ids in use, reserved ones included."""
        return FIRST_WORD_ID + sum(1 for i in self.index.values() if i < self.num_words)

    def to_json(self):
        kept = {w: i for w, i in self.index.items() if i < self.num_words}
        return {"index": kept, "num_words": self.num_words}

    @classmethod
    def from_json(cls, data):
        if not isinstance(data, dict) or not isinstance(data.get("index"), dict):
            raise InputError("a saved vocabulary must be {'index': {word: id}, 'num_words': n}")
        if not all(isinstance(w, str) and type(i) is int and i >= FIRST_WORD_ID
                   for w, i in data["index"].items()):
            raise InputError(f"a vocabulary's index maps words to ids from {FIRST_WORD_ID} on")
        num_words = data.get("num_words")
        if num_words is not None and type(num_words) is not int:
            raise InputError(f"num_words must be an int, got {num_words!r}")
        return cls(data["index"], num_words)


def choose_maxlen(sequences, quantile=0.95, cap=500):
    """A length covering `quantile` of the sequences, at most `cap`: long
    outliers would otherwise make every batch pay for their padding."""
    lengths = sorted(len(s) for s in sequences)
    if not lengths:
        raise InputError("no texts to measure")
    return max(1, min(cap, lengths[min(len(lengths) - 1, math.ceil(quantile * len(lengths)) - 1)]))


class TextEncoder(Preprocessing):
    """Texts -> padded id arrays, with the vocabulary and label names that a
    saved model needs to read new text (saved with it as its preprocessing)."""

    KIND = "text_encoder"
    VERSION = 1

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
        if not isinstance(data, dict) or set(data) != {"vocabulary", "maxlen", "labels"}:
            raise InputError("a text encoder is {'vocabulary': ..., 'maxlen': n, 'labels': [...]}")
        maxlen, labels = data["maxlen"], data["labels"]
        if isinstance(maxlen, bool) or not isinstance(maxlen, int) or maxlen < 1:
            raise InputError(f"maxlen must be a positive int, got {maxlen!r}")
        if not isinstance(labels, list) or not all(isinstance(l, str) for l in labels):
            raise InputError("labels must be a list of names")
        return cls(Vocabulary.from_json(data["vocabulary"]), maxlen, labels)


def read_labelled_lines(path, separator="\t", encoding="utf-8"):
    """Read `text<separator>label` lines (the UCI sentiment format).

    The label is the last field, so the text may contain the separator.
    Blank lines are skipped. Returns (texts, labels as strings); errors name
    the file and line.
    """
    path = os.fspath(path)
    texts, labels = [], []
    try:
        with open(path, encoding=encoding, newline="") as f:
            for number, line in enumerate(f, start=1):
                line = line.rstrip("\r\n")
                if not line.strip():
                    continue
                text, sep, label = line.rpartition(separator)
                if not sep:
                    raise DataFileError(
                        f"expected text{separator!r}label, found no {separator!r}", path, number
                    )
                label = label.strip()
                if not label:
                    raise DataFileError("the label is empty", path, number, len(text) + 2)
                texts.append(text.strip())
                labels.append(label)
    except UnicodeDecodeError as e:
        raise DataFileError(f"not {encoding} text ({e.reason} at byte {e.start})", path) from None
    except OSError as e:
        raise DataFileError(e.strerror or str(e), path) from None
    if not texts:
        raise DataFileError("no labelled lines: the file is empty", path)
    return texts, labels
