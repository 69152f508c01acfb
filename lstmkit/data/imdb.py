"""The IMDB Large Movie Review data set (Maas et al., ACL 2011), encoded as
Keras' `imdb.load_data` encodes it.

Reviews are read from the v1.0 archive (Stanford's `aclImdb_v1.tar.gz` or the
project's labelled copy) as it is, streamed with `tarfile` and nothing
extracted, or from an extracted `aclImdb/` folder.
The label comes from the path, `aclImdb/{train,test}/{pos,neg}/ID_RATING.txt`
(pos 1, neg 0). Words are split by Keras' `text_to_word_sequence` rules and
numbered by Keras' `imdb_word_index.json`, so an id means what it means in
Keras' ready-made copy (imdb.npz): 1 starts each review, 2 replaces a word
outside the `num_words` - 3 most frequent, and words take ids from 3 on.
Keras' copy was tokenised by other means, so a review may differ by a word.
"""

import json
import os
import re
import tarfile

import numpy as np

from ..errors import DataFileError, InputError
from .batching import pad_sequences
from .text import Vocabulary, tokenize

ARCHIVE = "aclImdb_v1_labeled.tar.gz"
WORD_INDEX = "imdb_word_index.json"
# Where the project keeps its shared data: beside the checkout (datasets/README.md).
_SHARED = os.path.join("..", "shared", "datasets", "imdb")
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_REVIEW = re.compile(r"^(?:\./)?aclImdb/(train|test)/(pos|neg)/\d+_\d+\.txt$")


def load_imdb(path=None, num_words=1024, maxlen=None, word_index_path=None, seed=113):
    """Load the IMDB reviews as id sequences and 0/1 labels.

    Args:
        path: the archive (.tar.gz) or an extracted `aclImdb/` folder (or
            the folder that holds it).
            Default: `../shared/datasets/imdb/aclImdb_v1_labeled.tar.gz`,
            looked for from the current directory, then from the repository.
        num_words: the vocabulary size in ids, reserved ids included (Keras'
            num_words); rarer words become the OOV id 2. Default 1024;
            None keeps every word of the index.
        maxlen: None (default) returns lists of ids of every length, as Keras
            does. An int returns arrays (samples, maxlen) padded and cut with
            `pad_sequences` (zeros and cuts before the text). Keras'
            `load_data(maxlen=...)` drops the longer reviews instead; cutting
            keeps all 25,000 test reviews, as Keras' examples do.
        word_index_path: Keras' word index JSON {word: rank from 1}.
            Default: `imdb_word_index.json` beside the archive or folder.

        seed: each split is shuffled with NumPy's RandomState(seed), as Keras
            shuffles (its default seed is 113 too), so a validation split
            taken from the end holds both classes. None keeps path order
            (negative reviews, then positive).

    Returns ((x_train, y_train), (x_test, y_test)).
    """
    for argument, value, low in (("num_words", num_words, 4), ("maxlen", maxlen, 1)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < low):
            raise InputError(f"{argument} must be an int of at least {low}, got {value!r}")
    path, word_index_path = resolve_paths(path, word_index_path)
    vocabulary = Vocabulary.from_word_index(read_word_index(word_index_path), num_words)
    splits = {"train": [], "test": []}
    for name, text in _reviews(path):
        split, label = _REVIEW.match(name).groups()
        splits[split].append((name, vocabulary.encode(text), int(label == "pos")))
    for split, rows in splits.items():
        if not rows:
            raise DataFileError(f"no reviews under aclImdb/{split}/{{pos,neg}}/", path)
    result = []
    for rows in splits.values():
        rows.sort(key=lambda row: row[0])
        if seed is not None:
            order = np.arange(len(rows))
            np.random.RandomState(seed).shuffle(order)
            rows = [rows[i] for i in order]
        x = [ids for _, ids, _ in rows]
        y = np.array([label for _, _, label in rows], dtype=np.int64)
        result.append((pad_sequences(x, maxlen=maxlen) if maxlen is not None else x, y))
    return tuple(result)


def resolve_paths(path=None, word_index_path=None):
    """(reviews, word index): the archive or the aclImdb/ folder, checked,
    (default: the shared archive, see _default_path) and the word index
    (default: beside them)."""
    path = os.fspath(path) if path is not None else _default_path()
    if not os.path.exists(path):
        raise DataFileError("no such file or folder", path)
    if os.path.isdir(path) and os.path.isdir(os.path.join(path, "aclImdb")):
        path = os.path.join(path, "aclImdb")
    elif os.path.isdir(path) and not os.path.isdir(os.path.join(path, "train")):
        raise DataFileError("expected the archive, an aclImdb/ folder or the folder holding it",
                            path)
    if word_index_path is None:
        word_index_path = os.path.join(os.path.dirname(os.path.abspath(path)), WORD_INDEX)
    return path, os.fspath(word_index_path)


def read_ranks(path=None, word_index_path=None):
    """Every review as the ranks of its words in Keras' word index (1 the
    most frequent; words the index lacks left out, as Keras' copy leaves out
    the words it did not index), with its label, by split in path order:
    {'train': [(ranks, label), ...], 'test': [...]}. This is what Keras'
    imdb.npz stores, from which `keras.datasets.imdb.load_data` derives its
    ids (lstmkit.keras.datasets.imdb)."""
    path, word_index_path = resolve_paths(path, word_index_path)
    index = read_word_index(word_index_path)
    splits = {"train": [], "test": []}
    for name, text in _reviews(path):
        split, label = _REVIEW.match(name).groups()
        ranks = [index[w] for w in tokenize(text) if w in index]
        splits[split].append((name, ranks, int(label == "pos")))
    for split, rows in splits.items():
        if not rows:
            raise DataFileError(f"no reviews under aclImdb/{split}/{{pos,neg}}/", path)
        rows.sort(key=lambda row: row[0])
    return {split: [(ranks, label) for _, ranks, label in rows]
            for split, rows in splits.items()}


def read_word_index(path):
    """Keras' IMDB word index {word: rank}; errors name the file (and the
    line and column of a JSON mistake)."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
    except json.JSONDecodeError as e:
        raise DataFileError(f"not valid JSON: {e.msg}", path, e.lineno, e.colno) from None
    except UnicodeDecodeError as e:
        raise DataFileError(f"not UTF-8 text ({e.reason} at byte {e.start})", path) from None
    except OSError as e:
        raise DataFileError(e.strerror or str(e), path) from None
    if not isinstance(index, dict) or not index or not all(
        isinstance(rank, int) and not isinstance(rank, bool) and rank >= 1
        for rank in index.values()
    ):
        raise DataFileError("expected a word index: a JSON object {word: rank from 1}", path)
    return index


def _default_path():
    """The shared archive, from the current directory or the repository."""
    candidates = [os.path.join(base, _SHARED, ARCHIVE) for base in (os.getcwd(), _REPO)]
    for candidate in candidates:
        if os.path.exists(candidate):
            return os.path.normpath(candidate)
    raise DataFileError(
        "the IMDB archive was not found; pass path= (the .tar.gz or an aclImdb/ folder). "
        f"Looked in: {', '.join(os.path.normpath(c) for c in candidates)}"
    )


def _reviews(path):
    """Yield (name relative to the aclImdb parent, text) for every review file."""
    try:
        yield from _folder_reviews(path) if os.path.isdir(path) else _archive_reviews(path)
    except (tarfile.TarError, EOFError) as e:
        raise DataFileError(f"not a readable tar archive ({e})", path) from None
    except OSError as e:
        raise DataFileError(e.strerror or str(e), e.filename or path) from None


def _archive_reviews(path):
    """Reviews of the archive, in one streamed pass: nothing is extracted."""
    with tarfile.open(path, "r|*") as archive:
        for member in archive:
            if member.isfile() and _REVIEW.match(member.name):
                name = member.name.removeprefix("./")
                yield name, _decode(archive.extractfile(member).read(), path, name)


def _folder_reviews(root):
    """Reviews of an extracted aclImdb/ folder, read file by file."""
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            folder = os.path.join(root, split, label)
            for filename in os.listdir(folder) if os.path.isdir(folder) else []:
                name = f"aclImdb/{split}/{label}/{filename}"
                if _REVIEW.match(name):
                    with open(os.path.join(folder, filename), "rb") as f:
                        yield name, _decode(f.read(), root, name)


def _decode(data, path, name):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataFileError(f"{name} is not UTF-8 text ({e.reason} at byte {e.start})",
                            path) from None
