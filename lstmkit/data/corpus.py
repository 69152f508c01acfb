"""Language-model corpora: text files -> a vocabulary and token id streams.

A corpus is read at one of two levels: 'char' (every character of the file,
newlines included, is a token; the vocabulary is the training part's
characters, sorted) or 'word' (each line split on whitespace, with `<eos>`
after it, as Mikolov's Penn Treebank files are read by Zaremba et al. 2014
and awd-lstm-lm; the vocabulary is the training part's words in order of
first appearance, or its `max_vocab - 1` most frequent ones, and `<unk>` for
every other word).

The ids are written once to a token file (a NumPy .npy array, int32, written
to a temporary name and renamed, so it is whole or absent) and read back
memory-mapped: a corpus larger than memory is streamed from disk, a window
at a time, by `lstmkit.data.streams.StreamBatches`. The files are read line
by line in two passes (count, then encode); only the vocabulary is held in
memory. A token file is named after the text's path, size and modification
time and the reading settings, so a second run reuses it.
"""

import collections
import hashlib
import json
import os
import tempfile

import numpy as np

from ..errors import DataFileError, InputError, InputTypeError
from ..files import fsync_dir
from .preprocessing import Preprocessing

LEVELS = ("char", "word")
EOS, UNK = "<eos>", "<unk>"
READ_CHARS = 1 << 20  # characters a char-level read takes at a time
TOKEN_DTYPE = np.int32


class CorpusVocabulary(Preprocessing):
    """Token <-> id for a language model, saved with the model.

    Args:
        tokens: the vocabulary, id i is tokens[i].
        level: 'char' or 'word'.
        unk: the token that stands for words outside the vocabulary (word
            level: `<unk>` when the vocabulary holds it), or None.
    """

    KIND = "lm_vocabulary"
    VERSION = 1

    def __init__(self, tokens, level, unk=None):
        if level not in LEVELS:
            raise InputError(f"level must be 'char' or 'word', got {level!r}")
        tokens = list(tokens)
        if not tokens or not all(isinstance(t, str) and t for t in tokens):
            raise InputError("a vocabulary needs at least one token, each a non-empty string")
        if len(set(tokens)) != len(tokens):
            raise InputError("a vocabulary holds each token once")
        if level == "char" and any(len(t) != 1 for t in tokens):
            raise InputError("a character vocabulary holds single characters")
        self.tokens, self.level = tokens, level
        self.index = {t: i for i, t in enumerate(tokens)}
        if unk is not None and unk not in self.index:
            raise InputError(f"unk token {unk!r} is not in the vocabulary")
        self.unk = unk

    def __len__(self):
        return len(self.tokens)

    def encode(self, text):
        """A prompt (a string) as ids, and the words read as `unk`.

        Characters outside the vocabulary are refused, naming them (a
        character model has nothing to stand for them); words outside it
        become `unk` (InputError when the vocabulary has none)."""
        if not isinstance(text, str):
            raise InputTypeError(f"a prompt must be a string, got {type(text).__name__}")
        if self.level == "char":
            unknown = sorted({c for c in text if c not in self.index})
            if unknown:
                raise InputError(f"the prompt holds {len(unknown)} character(s) outside the "
                                 f"model's vocabulary: {' '.join(map(repr, unknown))}")
            return [self.index[c] for c in text], []
        words = text.split()
        unknown = [w for w in words if w not in self.index]
        if unknown and self.unk is None:
            raise InputError(f"the prompt holds word(s) outside the model's vocabulary, which "
                             f"has no {UNK} to stand for them: {' '.join(map(repr, unknown))}")
        return [self.index.get(w, self.index.get(self.unk)) for w in words], unknown

    def decode_one(self, token_id):
        """The text of one id as it appears in generated text: a character,
        or a word with a space before it (`<eos>` a new line)."""
        token = self.tokens[token_id]
        if self.level == "char":
            return token
        return "\n" if token == EOS else " " + token

    def decode(self, ids):
        return "".join(self.decode_one(int(i)) for i in ids)

    def to_json(self):
        return {"tokens": self.tokens, "level": self.level, "unk": self.unk}

    @classmethod
    def from_json(cls, data):
        if not isinstance(data, dict) or not isinstance(data.get("tokens"), list):
            raise InputError("lm_vocabulary data must be {'tokens': [...], 'level': ..., "
                             "'unk': ...}")
        return cls(data["tokens"], data.get("level"), data.get("unk"))


# ----- reading text ----------------------------------------------------------------


def _open_text(path):
    """The file for reading UTF-8: a byte-order mark at its start dropped and
    Windows' and old Mac's line ends read as '\n', so that neither becomes
    a token of the vocabulary (a file saved on Windows reads as the same
    text saved elsewhere)."""
    try:
        return open(path, encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataFileError("no such file", path) from None
    except IsADirectoryError:
        raise DataFileError("is a folder, not a text file", path) from None
    except OSError as e:
        raise DataFileError(f"cannot read ({e.strerror})", path) from None


def token_chunks(path, level):
    """The file's tokens in chunks (lists of strings): whole lines split on
    whitespace, each with `<eos>` after it, at word level; up to READ_CHARS
    characters at a time at char level. Bytes that are not UTF-8 give a
    DataFileError naming the line and column."""
    with _open_text(path) as f:
        try:
            if level == "char":
                while chunk := f.read(READ_CHARS):
                    yield list(chunk)
            else:
                for text in f:
                    yield text.split() + [EOS]
        except UnicodeDecodeError:
            line, column, byte = first_bad_byte(path)
            raise DataFileError(f"not UTF-8 text (byte {byte:#04x})", path, line, column) from None


def first_bad_byte(path):
    """(line, column, byte) of the first byte that is not UTF-8, both from 1,
    the column counted in bytes; read again line by line as bytes."""
    with open(path, "rb") as f:
        for line, raw in enumerate(f, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as e:
                return line, e.start + 1, raw[e.start]
    return None, None, 0


def count_tokens(path, level, limit=None):
    """{token: count} over the file (over its first `limit` tokens), the
    tokens in order of first appearance, and the file's token count."""
    counts, total = collections.Counter(), 0
    for chunk in token_chunks(path, level):
        if limit is not None and total + len(chunk) > limit:
            chunk = chunk[: max(limit - total, 0)]
        counts.update(chunk)
        total += len(chunk)
        if limit is not None and total >= limit:
            break
    return counts, total


def total_tokens(path, level):
    return sum(len(chunk) for chunk in token_chunks(path, level))


def build_vocabulary(counts, level, max_vocab=None):
    """The vocabulary of a training part's token counts (a Counter in order
    of first appearance): sorted characters; words in order of first
    appearance, or, over `max_vocab`, the `max_vocab - 1` most frequent (ties
    by first appearance); `<unk>` among them (last, if the text has none)."""
    if level == "char":
        return CorpusVocabulary(sorted(counts), "char")
    words = list(counts)
    if max_vocab is not None and len(words) > max_vocab:
        kept = [w for w, _ in sorted(counts.items(), key=lambda wc: -wc[1]) if w != UNK]
        kept = set(kept[: max_vocab - 1])
        words = [w for w in words if w in kept or w == UNK]
    if UNK not in words:  # so that words of other texts (a prompt, a test file) have an id
        words.append(UNK)
    return CorpusVocabulary(words, "word", UNK)


# ----- token files ----------------------------------------------------------------


def write_token_file(path, text_path, vocabulary, start=0, stop=None):
    """Encode tokens [start, stop) of `text_path` into the .npy file `path`
    (written whole under a temporary name, then renamed). Words outside the
    vocabulary become `<unk>`; characters outside it are refused, naming
    them and the file. Returns the number of tokens written."""
    if stop is None:
        stop = total_tokens(text_path, vocabulary.level)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".npy")
    os.close(fd)
    index, unk = vocabulary.index, vocabulary.index.get(vocabulary.unk)
    try:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=TOKEN_DTYPE,
                                        shape=(max(stop - start, 0),))
        seen = written = 0
        for chunk in token_chunks(text_path, vocabulary.level):
            lo, hi = max(start - seen, 0), min(stop - seen, len(chunk))
            seen += len(chunk)
            if hi <= lo:
                if seen >= stop:
                    break
                continue
            part = chunk[lo:hi]
            if unk is None:
                unknown = sorted({t for t in part if t not in index})
                if unknown:
                    raise DataFileError(
                        f"holds {len(unknown)} token(s) outside the training part's "
                        f"vocabulary: {' '.join(map(repr, unknown[:10]))}", text_path)
                ids = [index[t] for t in part]
            else:
                ids = [index.get(t, unk) for t in part]
            out[written:written + len(ids)] = ids
            written += len(ids)
            if seen >= stop:
                break
        out.flush()
        del out
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(folder)
    return stop - start


def read_token_file(path):
    """A token file as a read-only memory map (nothing read until used)."""
    return np.load(path, mmap_mode="r")


def cache_folder():
    """Where token files go: $LSTMKIT_CACHE, else ~/.cache/lstmkit/corpora."""
    return os.environ.get("LSTMKIT_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "lstmkit", "corpora")


def _file_key(path):
    try:
        stat = os.stat(path)
    except OSError:
        raise DataFileError("no such file", path) from None
    return [os.path.abspath(path), stat.st_size, stat.st_mtime_ns]


# ----- the corpus ------------------------------------------------------------------


class Corpus:
    """A vocabulary and the token id streams of its parts.

    Attributes:
        vocabulary: a CorpusVocabulary (from the training part only).
        train, valid, test: 1-D int32 arrays (memory-mapped), or None for a
            part not given.
        sources: where each part came from, for reports.
    """

    def __init__(self, vocabulary, train, valid=None, test=None, sources=None):
        self.vocabulary, self.train, self.valid, self.test = vocabulary, train, valid, test
        self.sources = sources or {}


def load_corpus(train, valid=None, test=None, level="word", max_vocab=None,
                valid_fraction=0.1, cache_dir=None, vocabulary=None):
    """Read a corpus from text files.

    Args:
        train: the training text file.
        valid, test: validation and test files. Without `valid`, the last
            `valid_fraction` of the training file's tokens is the
            validation part (Tiny Shakespeare's first 90% / last 10%).
        level: 'char' or 'word'.
        max_vocab: at word level, keep this many words (the most frequent,
            `<unk>` for the rest, counted among them). Default: all.
        valid_fraction: see `valid`; 0 for no validation part. Default 0.1.
        cache_dir: where token files are written (default `cache_folder()`).
        vocabulary: a CorpusVocabulary to encode with (a trained model's),
            instead of building one: from the training part at word level;
            at char level, from the whole training file where its last part
            validates, else from the training file.

    Raises DataFileError for a file that is missing, empty or not UTF-8, and
    for characters outside the vocabulary in the validation or test part.
    """
    if level not in LEVELS:
        raise InputError(f"level must be 'char' or 'word', got {level!r}")
    if max_vocab is not None and (isinstance(max_vocab, bool) or not isinstance(max_vocab, int)
                                  or max_vocab < 2):
        raise InputError(f"max_vocab must be an int of at least 2, got {max_vocab!r}")
    if not 0 <= valid_fraction < 1:
        raise InputError(f"valid_fraction must be in [0, 1), got {valid_fraction!r}")
    total = total_tokens(train, level)
    if total == 0:
        raise DataFileError("is empty: no tokens" + (" to train on" if vocabulary is None else ""),
                            train)
    cut = total if valid is not None or not valid_fraction else int(total * (1 - valid_fraction))
    if cut == 0 or (cut == total and valid is None and valid_fraction):
        raise DataFileError(f"holds {total} token(s): too few to split {1 - valid_fraction:.0%}"
                            f" / {valid_fraction:.0%} into training and validation parts", train)
    if vocabulary is None:
        # characters: the whole file's, where its last part validates (as char-rnn takes
        # them), so that a character found only there (a year, a name) does not refuse the
        # file; words: the training part's, the others <unk>
        whole = level == "char" and valid is None
        counts, _ = count_tokens(train, level, limit=None if whole else cut)
        vocabulary = build_vocabulary(counts, level, max_vocab)
    folder = cache_dir or cache_folder()
    settings = {"vocabulary": vocabulary.to_json(), "level": level}
    parts = {"train": (train, 0, cut)}
    if valid is not None:
        parts["valid"] = (valid, 0, None)
    elif cut < total:
        parts["valid"] = (train, cut, total)
    if test is not None:
        parts["test"] = (test, 0, None)
    arrays, sources = {}, {}
    for name, (path, start, stop) in parts.items():
        key = json.dumps([_file_key(path), start, stop, settings], sort_keys=True)
        digest = hashlib.sha256(key.encode()).hexdigest()[:20]
        file = os.path.join(folder, f"{level}-{digest}.npy")
        if not os.path.exists(file):
            write_token_file(file, path, vocabulary, start, stop)
        arrays[name] = read_token_file(file)
        if len(arrays[name]) == 0:
            raise DataFileError(f"is empty: no tokens for the {name} part", path)
        sources[name] = {"file": os.path.abspath(path), "tokens": len(arrays[name]),
                         "from": start, "token_file": file}
    return Corpus(vocabulary, arrays["train"], arrays.get("valid"), arrays.get("test"), sources)
