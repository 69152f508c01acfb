"""Text to integer sequences: tokenising, vocabularies, labelled-line files.

Ids follow Keras' `imdb.load_data` convention so that one model shape fits
every text task: 0 is padding, 1 marks the start of a text, 2 stands for a
word outside the vocabulary, and words take ids from 3 on, most frequent
first. A vocabulary of `num_words` ids therefore keeps num_words - 3 words.

Three ways to split a text (`split_text`): 'keras' (Keras'
`text_to_word_sequence`: lower case, punctuation to spaces; the tutorial's
and the IMDB word index's), 'words' (HTML tags such as IMDB's `<br />`
and entities removed first, lower case, words with their inner apostrophes,
and '!' and '?' kept as tokens, since they carry sentiment), and 'chars'
(characters, white space runs as one space). `Tokenizer` is Keras'
`preprocessing.text.Tokenizer` for code written against it.
"""

import collections
import functools
import html
import json
import math
import os
import re

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


LEVELS = ("keras", "words", "chars")
NGRAMS = (1, 2, 3)
TRUNCATIONS = ("head", "tail", "head+tail")
_TAG = re.compile(r"<[^<>]{0,200}>")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[!?]")
_SPACE = re.compile(r"\s+")


def strip_html(text):
    """Tags (`<br />`) become spaces, entities (`&amp;`) their characters."""
    return html.unescape(_TAG.sub(" ", text))


def split_text(text, level="words", lower=True):
    """A text's tokens at `level` ('keras', 'words' or 'chars'; see the
    module's docstring)."""
    if level == "keras":
        return tokenize(text)
    text = strip_html(text)
    if lower:
        text = text.lower()
    if level == "words":
        return _WORD.findall(text)
    if level == "chars":
        return list(_SPACE.sub(" ", text).strip())
    raise InputError(f"level must be one of {', '.join(map(repr, LEVELS))}, got {level!r}")


def with_ngrams(tokens, n=2):
    """The tokens, then each run of 2, ..., n neighbours as one token 'a b'
    ('a b c'): the word n-grams of fastText and NBSVM, local order for an
    order-free model."""
    out = list(tokens)
    for k in range(2, n + 1):
        out += [" ".join(tokens[i:i + k]) for i in range(len(tokens) - k + 1)]
    return out


def word_pieces(tokens, low=2, high=5):
    """The distinct character n-grams, of `low` to `high` characters, of the
    words in `tokens`, each word read with its ends marked ('<word>'), in
    order of first appearance, each written after a '#' (no word holds one),
    so the piece 'the' of 'there' is not the word 'the': fastText's
    subwords (Bojanowski et al. 2017), scikit-learn's 'char_wb'. They carry
    what a word's stem, prefix or suffix says ('unfunny', 'funniest') to
    models that see no letters."""
    return list(dict.fromkeys(p for token in dict.fromkeys(tokens)
                              for p in _pieces(token, low, high)))


@functools.lru_cache(maxsize=2**18)
def _pieces(token, low, high):
    word = f"<{token}>"
    return tuple("#" + word[i:i + k] for k in range(low, min(high, len(word)) + 1)
                 for i in range(len(word) - k + 1))


def check_char_ngrams(char_ngrams):
    """None, or [low, high] with 1 <= low <= high <= 8."""
    if char_ngrams is None:
        return None
    if (not isinstance(char_ngrams, (list, tuple)) or len(char_ngrams) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in char_ngrams)
            or not 1 <= char_ngrams[0] <= char_ngrams[1] <= 8):
        raise InputError(f"char_ngrams must be None or [low, high] with 1 <= low <= high <= 8, "
                         f"got {char_ngrams!r}")
    return [int(char_ngrams[0]), int(char_ngrams[1])]


def ngram_width(maxlen, n):
    """Ids a text of `maxlen` tokens has with its n-grams added (k-grams: maxlen - k + 1)."""
    return sum(max(maxlen - k + 1, 0) for k in range(1, n + 1))


def truncate(ids, maxlen, policy="tail"):
    """At most `maxlen` ids: the first ('head'), the last ('tail', what
    Keras' pad_sequences keeps), or the first quarter and the last three
    quarters ('head+tail': a review's opening and its verdict; Sun et al.
    2019 found head+tail best for long reviews)."""
    if len(ids) <= maxlen:
        return list(ids)
    if policy == "head":
        return list(ids[:maxlen])
    if policy == "tail":
        return list(ids[len(ids) - maxlen:])
    if policy == "head+tail":
        head = maxlen // 4
        return list(ids[:head]) + list(ids[len(ids) - (maxlen - head):])
    raise InputError(f"truncate must be one of {', '.join(map(repr, TRUNCATIONS))}, "
                     f"got {policy!r}")


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
    def build(cls, texts, num_words=None, min_count=1):
        """The num_words - 3 most frequent words of `texts` (strings, split
        by `tokenize`, or lists of tokens), ties first seen first; words seen
        fewer than `min_count` times are left out. num_words None keeps every
        word that is frequent enough; num_words is cut to the ids in use."""
        counts = collections.Counter()
        for text in texts:
            counts.update(tokenize(text) if isinstance(text, str) else text)
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
            raise InputError(f"min_count must be a positive int, got {min_count!r}")
        keep = None if num_words is None else max(num_words - FIRST_WORD_ID, 0)
        words = [w for w, c in counts.most_common(keep) if c >= min_count]
        # no more ids than words: a larger num_words would only add rows never read
        num_words = max(len(words) + FIRST_WORD_ID, FIRST_WORD_ID + 1) if num_words is None \
            else min(num_words, max(len(words) + FIRST_WORD_ID, FIRST_WORD_ID + 1))
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
    """Texts -> id sequences, with the vocabulary and label names that a
    saved model needs to read new text (saved with it as its preprocessing).

    Attributes:
        vocabulary: the Vocabulary (ids 0 pad, 1 start, 2 out of vocabulary).
        maxlen: tokens kept per text (before bigrams are added), by the
            `truncate` policy: 'head', 'tail' (Keras') or 'head+tail'.
        labels: the class names, in the order of the model's outputs.
        level, lower: how texts are split (`split_text`).
        ngrams: 1, or n (2, 3) to add each run of up to n neighbouring
            tokens as a token (`with_ngrams`).
        start: begin each text with the start id (Keras' IMDB convention).
        multilabel: each text has a set of labels (a sigmoid per label).
    """

    KIND = "text_encoder"
    VERSION = 1
    # the first three were all a text encoder held at first; the others are
    # optional, their defaults what it did then (split as Keras does, keep the
    # tail, start id, one label)
    FIELDS = ("vocabulary", "maxlen", "labels")
    OPTIONAL = {"level": "keras", "lower": True, "ngrams": 1, "truncate": "tail", "start": True,
                "multilabel": False, "char_ngrams": None}

    def __init__(self, vocabulary, maxlen, labels, level="keras", lower=True, ngrams=1,
                 truncate="tail", start=True, multilabel=False, char_ngrams=None):
        if level not in LEVELS:
            raise InputError(f"level must be one of {', '.join(map(repr, LEVELS))}, "
                             f"got {level!r}")
        if truncate not in TRUNCATIONS:
            raise InputError(f"truncate must be one of {', '.join(map(repr, TRUNCATIONS))}, "
                             f"got {truncate!r}")
        if isinstance(ngrams, bool) or ngrams not in NGRAMS:
            raise InputError(f"ngrams must be one of {', '.join(map(str, NGRAMS))}, got "
                             f"{ngrams!r}")
        self.vocabulary, self.maxlen, self.labels = vocabulary, maxlen, list(labels)
        self.level, self.lower, self.ngrams, self.truncate = level, bool(lower), ngrams, truncate
        self.start, self.multilabel = bool(start), bool(multilabel)
        self.char_ngrams = check_char_ngrams(char_ngrams)
        if self.char_ngrams and level != "words":
            raise InputError("char_ngrams are the pieces of words: they need level 'words'")

    @classmethod
    def fit(cls, texts, labels, num_words=1024, maxlen=None, min_count=1, level="keras",
            lower=True, ngrams=1, truncate="tail", start=True, maxlen_cap=500, char_ngrams=None):
        """Fit on training texts and their labels (str, or tuples of str for
        multi-label data). maxlen None: `choose_maxlen` of the token counts
        (95% of the texts whole), at most maxlen_cap. char_ngrams [low,
        high]: each text's ids also hold its words' character n-grams
        (`word_pieces`)."""
        multilabel = any(isinstance(l, (tuple, list)) for l in labels)
        names = sorted({n for l in labels for n in (l if multilabel else (l,))})
        encoder = cls(None, 1, names, level, lower, ngrams, truncate, start, multilabel,
                      char_ngrams)
        tokens = [encoder.tokens(t) for t in texts]
        if maxlen is None:
            maxlen = choose_maxlen([t or [""] for t in tokens], cap=maxlen_cap) + int(start)
        encoder.maxlen = maxlen
        counted = [encoder.with_pieces(t) for t in tokens]
        encoder.vocabulary = Vocabulary.build(counted, num_words, min_count)
        return encoder

    def tokens(self, text):
        """A text's tokens (unigrams; n-grams are added after truncation)."""
        if not isinstance(text, str):
            raise InputError(f"a text must be a string, got {type(text).__name__}")
        return split_text(text, self.level, self.lower)

    def with_pieces(self, tokens):
        """Tokens, their word n-grams (ngrams > 1), then their words'
        character n-grams (char_ngrams)."""
        out = with_ngrams(tokens, self.ngrams)
        return out + word_pieces(tokens, *self.char_ngrams) if self.char_ngrams else out

    def ids(self, text):
        """One text as a list of ids: the start id, then its tokens' cut to
        maxlen by the policy, then (ngrams > 1) its n-grams', then (with
        char_ngrams) its words' character n-grams'."""
        tokens = self.with_pieces(truncate(self.tokens(text), self.maxlen - int(self.start),
                                           self.truncate))
        ids = self.vocabulary.encode(tokens, start=self.start)
        return ids or [OOV]  # an empty text still reads as one step

    def sequences(self, texts):
        """Each text's ids, of its own length (for bucketed, masked batches)."""
        return [np.asarray(self.ids(t), dtype=np.int64) for t in texts]

    def encode(self, texts):
        """Texts -> (N, maxlen) ids, padded before the text (Keras' 'pre')."""
        ids = [self.ids(t) for t in texts]
        width = (max(map(len, ids), default=1) if self.char_ngrams
                 else ngram_width(self.maxlen, self.ngrams))
        return pad_sequences(ids, maxlen=width)

    def encode_labels(self, labels, where=None):
        """Class ids (N,) int64, or for multi-label data (N, C) float32 0/1.
        A label not seen in training is an error naming it (and where)."""
        index = {name: i for i, name in enumerate(self.labels)}
        names = [n for l in labels for n in ((l,) if isinstance(l, str) else l)]
        unknown = sorted(set(names) - set(index))
        if unknown:
            first = next(i for i, l in enumerate(labels)
                         if set((l,) if isinstance(l, str) else l) & set(unknown))
            place = f"{where[first]}: " if where is not None else ""
            raise InputError(f"{place}label {unknown[0]!r} was not seen in training "
                             f"(known: {', '.join(self.labels)}); unseen labels: "
                             f"{', '.join(map(repr, unknown[:10]))}")
        if self.multilabel:
            y = np.zeros((len(labels), len(self.labels)), dtype=np.float32)
            for row, l in enumerate(labels):
                y[row, [index[n] for n in ((l,) if isinstance(l, str) else l)]] = 1
            return y
        return np.array([index[name] for name in labels], dtype=np.int64)

    def probabilities(self, outputs):
        """Model outputs -> (N, C) probabilities in the order of `labels`
        (a single sigmoid output is the probability of labels[1])."""
        outputs = np.asarray(outputs, dtype=np.float64)
        if outputs.shape[-1] == 1 and len(self.labels) == 2 and not self.multilabel:
            return np.concatenate([1 - outputs, outputs], axis=1)
        return outputs

    def decode_predictions(self, outputs):
        """Model outputs -> (label name, probability of that label) per
        sample; for multi-label data, (the labels over 0.5 joined by '|',
        the probability of each as a list)."""
        p = self.probabilities(outputs)
        if self.multilabel:
            return [("|".join(self.labels[i] for i in np.flatnonzero(row > 0.5)),
                     [float(v) for v in row]) for row in p]
        return [(self.labels[int(i)], float(row[i])) for row, i in zip(p, p.argmax(-1))]

    def to_json(self):
        return {"vocabulary": self.vocabulary.to_json(), "maxlen": self.maxlen,
                "labels": self.labels, "level": self.level, "lower": self.lower,
                "ngrams": self.ngrams, "truncate": self.truncate, "start": self.start,
                "multilabel": self.multilabel, "char_ngrams": self.char_ngrams}

    @classmethod
    def from_json(cls, data):
        if (not isinstance(data, dict) or not set(cls.FIELDS) <= set(data)
                or not set(data) <= set(cls.FIELDS) | set(cls.OPTIONAL)):
            raise InputError(f"a text encoder is an object with the keys {', '.join(cls.FIELDS)}"
                             f" and optionally {', '.join(cls.OPTIONAL)}")
        data = {**cls.OPTIONAL, **data}
        maxlen, labels = data["maxlen"], data["labels"]
        if isinstance(maxlen, bool) or not isinstance(maxlen, int) or maxlen < 1:
            raise InputError(f"maxlen must be a positive int, got {maxlen!r}")
        if not isinstance(labels, list) or not all(isinstance(l, str) for l in labels):
            raise InputError("labels must be a list of names")
        for key in ("lower", "start", "multilabel"):
            if not isinstance(data[key], bool):
                raise InputError(f"{key} must be true or false, got {data[key]!r}")
        return cls(Vocabulary.from_json(data["vocabulary"]), maxlen, labels, data["level"],
                   data["lower"], data["ngrams"], data["truncate"], data["start"],
                   data["multilabel"], data["char_ngrams"])


class Tokenizer:
    """Keras' `preprocessing.text.Tokenizer`, for code written against it:
    the same arguments, attributes and results.

    `fit_on_texts` counts words (split by Keras' `text_to_word_sequence`
    rules with `filters`, `lower` and `split`, or characters with
    char_level) and numbers them from 1, most frequent first, ties in the
    order first seen, after `oov_token` (id 1) when one is given.
    `texts_to_sequences` keeps the ids below `num_words` (all with None);
    the others, and unknown words, become the OOV id, or are dropped without
    an oov_token. Id 0 is never given (padding). Unlike lstmkit's TextEncoder
    (ids from 3, with a start id), this is Keras' numbering exactly.
    """

    def __init__(self, num_words=None, filters=_FILTERS, lower=True, split=" ",
                 char_level=False, oov_token=None, analyzer=None, document_count=0):
        if num_words is not None and (isinstance(num_words, bool) or not isinstance(
                num_words, int) or num_words < 1):
            raise InputError(f"num_words must be a positive int or None, got {num_words!r}")
        self.num_words, self.filters, self.lower, self.split = num_words, filters, lower, split
        self.char_level, self.oov_token, self.analyzer = char_level, oov_token, analyzer
        self.document_count = document_count
        self.word_counts = collections.OrderedDict()
        self.word_docs = collections.defaultdict(int)
        self.index_docs = collections.defaultdict(int)
        self.word_index, self.index_word = {}, {}

    def _sequence(self, text):
        if self.char_level or isinstance(text, list):
            if self.lower:
                text = [t.lower() for t in text] if isinstance(text, list) else text.lower()
            return list(text)
        if self.analyzer is not None:
            return self.analyzer(text)
        if self.lower:
            text = text.lower()
        text = text.translate(str.maketrans({c: self.split for c in self.filters}))
        return [w for w in text.split(self.split) if w]

    def fit_on_texts(self, texts):
        """Count the words of `texts` (strings, or lists of tokens) and number them."""
        for text in texts:
            self.document_count += 1
            seq = self._sequence(text)
            for w in seq:
                self.word_counts[w] = self.word_counts.get(w, 0) + 1
            for w in set(seq):
                self.word_docs[w] += 1
        counts = sorted(self.word_counts.items(), key=lambda wc: wc[1], reverse=True)  # stable
        vocabulary = ([] if self.oov_token is None else [self.oov_token]) + [w for w, _ in counts]
        self.word_index = {w: i for i, w in enumerate(vocabulary, start=1)}
        self.index_word = {i: w for w, i in self.word_index.items()}
        self.index_docs = collections.defaultdict(int, {
            self.word_index[w]: c for w, c in self.word_docs.items()})

    def fit_on_sequences(self, sequences):
        """Count documents per id from id sequences (for texts_to_matrix's tfidf)."""
        self.document_count += len(sequences)
        for seq in sequences:
            for i in set(seq):
                self.index_docs[i] += 1

    def texts_to_sequences(self, texts):
        """Each text as a list of ids (see the class's docstring)."""
        oov = self.word_index.get(self.oov_token)
        out = []
        for text in texts:
            ids = []
            for w in self._sequence(text):
                i = self.word_index.get(w)
                if i is not None and not (self.num_words and i >= self.num_words):
                    ids.append(i)
                elif oov is not None:
                    ids.append(oov)
            out.append(ids)
        return out

    def sequences_to_texts(self, sequences):
        """Id sequences back to space-joined words (ids past num_words as the
        OOV token, or left out without one)."""
        oov = self.word_index.get(self.oov_token)
        out = []
        for seq in sequences:
            words = []
            for i in seq:
                word = self.index_word.get(i)
                if word is not None and not (self.num_words and i >= self.num_words):
                    words.append(word)
                elif word is not None and oov is not None:
                    words.append(self.index_word[oov])
                elif word is None and oov is not None:
                    words.append(self.index_word[oov])
            out.append(" ".join(words))
        return out

    def texts_to_matrix(self, texts, mode="binary"):
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode)

    def sequences_to_matrix(self, sequences, mode="binary"):
        """(texts, num_words) rows: 'binary', 'count', 'freq' or 'tfidf'
        (Keras' tf = 1 + log(count), idf = log(1 + documents / (1 + df)))."""
        if mode not in ("binary", "count", "freq", "tfidf"):
            raise InputError(f"mode must be 'binary', 'count', 'freq' or 'tfidf', got {mode!r}")
        if self.num_words:
            width = self.num_words
        elif self.word_index:
            width = len(self.word_index) + 1
        else:
            raise InputError("specify num_words, or fit on some texts first")
        if mode == "tfidf" and not self.document_count:
            raise InputError("fit the Tokenizer on some texts before mode='tfidf'")
        x = np.zeros((len(sequences), width))
        for row, seq in enumerate(sequences):
            counts = collections.Counter(j for j in seq if j < width)
            for j, c in counts.items():
                if mode == "count":
                    x[row, j] = c
                elif mode == "freq":
                    x[row, j] = c / len(seq)
                elif mode == "binary":
                    x[row, j] = 1
                else:
                    idf = np.log(1 + self.document_count / (1 + self.index_docs.get(j, 0)))
                    x[row, j] = (1 + np.log(c)) * idf
        return x

    def get_config(self):
        return {"num_words": self.num_words, "filters": self.filters, "lower": self.lower,
                "split": self.split, "char_level": self.char_level,
                "oov_token": self.oov_token, "document_count": self.document_count,
                "word_counts": json.dumps(self.word_counts),
                "word_docs": json.dumps(self.word_docs),
                "index_docs": json.dumps(self.index_docs),
                "index_word": json.dumps(self.index_word),
                "word_index": json.dumps(self.word_index)}

    def to_json(self, **kwargs):
        """Keras' JSON form: {"class_name": "Tokenizer", "config": ...}."""
        return json.dumps({"class_name": type(self).__name__, "config": self.get_config()},
                          **kwargs)


def tokenizer_from_json(json_string):
    """A Tokenizer from `Tokenizer.to_json()` (Keras' function of that name)."""
    try:
        config = dict(json.loads(json_string)["config"])
        counts = {k: json.loads(config.pop(k)) for k in ("word_counts", "word_docs",
                                                         "index_docs", "index_word",
                                                         "word_index")}
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(f"not a Tokenizer's JSON: {e}") from None
    tokenizer = Tokenizer(**config)
    tokenizer.word_counts = collections.OrderedDict(counts["word_counts"])
    tokenizer.word_docs = collections.defaultdict(int, counts["word_docs"])
    tokenizer.index_docs = collections.defaultdict(int, {int(k): v for k, v in
                                                         counts["index_docs"].items()})
    tokenizer.index_word = {int(k): v for k, v in counts["index_word"].items()}
    tokenizer.word_index = counts["word_index"]
    return tokenizer


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
