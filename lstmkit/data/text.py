"""Text to integer sequences: tokenising, vocabularies, labelled-line files.

Ids follow Keras' `imdb.load_data` convention so that one model shape fits
every text task: 0 is padding, 1 marks the start of a text, 2 stands for a
word outside the vocabulary, and words take ids from 3 on, most frequent
first. A vocabulary of `num_words` ids therefore keeps num_words - 3 words.
"""

import collections
import os

from ..errors import DataFileError, InputError

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
        return cls(data["index"], data.get("num_words"))


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
