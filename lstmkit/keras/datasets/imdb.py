"""keras.datasets.imdb: `load_data` and `get_word_index` on a local copy.

lstmkit never downloads. The reviews come from the Large Movie Review
archive (`aclImdb_v1.tar.gz` from https://ai.stanford.edu/~amaas/data/sentiment/,
or an extracted `aclImdb/` folder) with Keras' word index
(`imdb_word_index.json`) beside it: `path=` names the archive or folder;
without it, the environment variable LSTMKIT_IMDB does, else the project's
shared copy (`../shared/datasets/imdb/`) is looked for. Keras' own imdb.npz
is not read: its ragged arrays are pickles.

Each review becomes the ranks of its words in the word index (what Keras'
imdb.npz stores), and from those `load_data` follows Keras' own steps and
arguments: the shuffles with RandomState(seed), start_char, index_from,
maxlen (longer reviews dropped), num_words, skip_top and oov_char. So an id
means what it means in Keras (rank + index_from; 1 start, 2 out of
vocabulary). Keras' copy was tokenised by other means and is stored in
another order: a review may differ by a word, and the shuffled order is not
Keras' order.
"""

import os

import numpy as np

from ...data import imdb as _imdb
from ...errors import DataFileError, InputError

ENVIRONMENT = "LSTMKIT_IMDB"
KERAS_DEFAULT_PATH = "imdb.npz"  # Keras' cache name: read as 'the default copy'

__all__ = ["load_data", "get_word_index"]


def _archive(path):
    """The archive or folder to read: path, $LSTMKIT_IMDB, or the shared copy."""
    if path is not None and os.fspath(path) != KERAS_DEFAULT_PATH:
        path = os.fspath(path)
        if path.endswith(".npz"):
            raise DataFileError(
                "Keras' imdb.npz holds pickles, which lstmkit does not read: pass the review "
                "archive (aclImdb_v1.tar.gz) or an extracted aclImdb/ folder", path)
        return path
    if os.environ.get(ENVIRONMENT):
        return os.environ[ENVIRONMENT]
    try:
        return _imdb._default_path()
    except DataFileError as e:
        raise DataFileError(
            f"{e} Download aclImdb_v1.tar.gz from https://ai.stanford.edu/~amaas/data/sentiment/ "
            f"and Keras' imdb_word_index.json, put them in one folder, and pass path= (the "
            f"archive) or set {ENVIRONMENT} to the archive's path; lstmkit never downloads"
        ) from None


def load_data(path=None, num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1,
              oov_char=2, index_from=3, word_index_path=None):
    """Keras' `imdb.load_data`: ((x_train, y_train), (x_test, y_test)).

    x_* are NumPy object arrays of lists of ids, y_* int64 0/1 labels.

    Args (Keras' meaning and defaults):
        path: the archive or aclImdb/ folder (see the module); None, or
            Keras' 'imdb.npz', for the default copy.
        num_words: ids at or above this become oov_char (or are dropped
            when oov_char is None); None keeps every word.
        skip_top: ids below this become oov_char too (Keras applies it to
            every id, the start mark included).
        maxlen: reviews of maxlen ids or more are dropped, as Keras drops
            them (pad_sequences(maxlen=...) cuts them instead).
        seed: the shuffles' seed (one RandomState, train then test).
        start_char: the id each review starts with (None: none).
        oov_char: the id of a word cut out (None: drop it).
        index_from: a word's id is its rank + index_from.
        word_index_path: Keras' imdb_word_index.json; default beside the
            archive (an lstmkit addition).
    """
    for argument, value in (("num_words", num_words), ("maxlen", maxlen)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise InputError(f"{argument} must be a positive int or None, got {value!r}")
    for argument, value in (("skip_top", skip_top), ("index_from", index_from),
                            ("seed", seed), ("start_char", start_char), ("oov_char", oov_char)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 0):
            raise InputError(f"{argument} must be a non-negative int, got {value!r}")
    splits = _imdb.read_ranks(_archive(path), word_index_path)
    rng = np.random.RandomState(seed)
    xs, labels = [], []
    for split in ("train", "test"):
        rows = splits[split]
        order = np.arange(len(rows))
        rng.shuffle(order)
        x = [rows[i][0] for i in order]
        y = [rows[i][1] for i in order]
        if start_char is not None:
            x = [[start_char] + [w + index_from for w in s] for s in x]
        else:
            x = [[w + index_from for w in s] for s in x]
        if maxlen:
            kept = [i for i, s in enumerate(x) if len(s) < maxlen]
            x, y = [x[i] for i in kept], [y[i] for i in kept]
            if not x:
                raise InputError(f"load_data: no review is shorter than maxlen={maxlen}; "
                                 "increase maxlen")
        xs.append(x)
        labels.append(np.array(y, dtype=np.int64))
    every = xs[0] + xs[1]
    # Keras documents num_words=None as 'all words kept'; its code sets the largest id as
    # the bound, which turns that one word into oov_char: the documented meaning is kept
    top = num_words or max((max(s) for s in every if s), default=0) + 1
    if oov_char is not None:
        every = [[w if skip_top <= w < top else oov_char for w in s] for s in every]
    else:
        every = [[w for w in s if skip_top <= w < top] for s in every]
    cut = len(xs[0])
    return ((_ragged(every[:cut]), labels[0]), (_ragged(every[cut:]), labels[1]))


def _ragged(sequences):
    out = np.empty(len(sequences), dtype=object)
    out[:] = sequences
    return out


def get_word_index(path=None):
    """Keras' word index {word: rank from 1}: `path`, or imdb_word_index.json
    beside the default archive (see the module)."""
    if path is None or os.fspath(path) == "imdb_word_index.json" and not os.path.exists(path):
        archive = _archive(None)
        path = _imdb.resolve_paths(archive)[1]
    return _imdb.read_word_index(path)
