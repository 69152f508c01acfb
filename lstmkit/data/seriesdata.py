"""What the time-series readers share: the data they return
(`TimeSeriesData`), and the reading of lines and numbers with errors that
name the file, the line and the column.

The readers themselves: `tsfile` (`.ts`, and `read_series_file`, which
picks a reader by extension), `ucr` (the UCR archive's label-first CSV/TSV)
and `arff` (`.arff`).
"""

import codecs
import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import DataFileError, InputError

NAN = float("nan")
BOM = codecs.BOM_UTF8


@dataclass
class TimeSeriesData:
    """Samples read from a time-series file, their labels, and its header.

    Attributes:
        series: one float32 array (timesteps, features) per sample; samples
            may differ in length, never in features. NaN marks a missing
            value, and pads a sample's shorter dimensions at the end.
        labels: a list of str, one per sample, for classification; a float64
            array (N,) for regression (`@targetLabel true`, an ARFF numeric
            class); None for unlabelled samples (`@classLabel false`).
        class_labels: for classification, the classes in the order the file
            declares them (`@classLabel`, an ARFF nominal class), or sorted
            (numerically where they are numbers) where it does not (UCR).
        problem_name: `@problemName`, or ARFF's `@relation`; None if absent.
        timestamps: with `@timeStamps true`, one array per sample, shaped
            like its series, holding each value's time stamp: float64 (NaN
            where the series is padded) or, for dates, datetime64[ns] (NaT).
            None otherwise.
        univariate, dimensions, equal_length, series_length, missing: what
            the header declares (`@univariate`, `@dimensions`, ...; for UCR
            and ARFF what their layout implies), None where it says nothing.
            The data have been checked against them, except `missing`, which
            is only recorded.
        other_tags: header tags that are not .ts tags (another tool's, or
            misspelt), {name without '@': the rest of the line}; kept, not read.
        path: the file read (None for data made in memory).
        lines: the line of the file each sample was read from (1-based),
            so that a later check can name the place; None where unknown.
    """

    series: list
    labels: object = None
    class_labels: list | None = None
    problem_name: str | None = None
    timestamps: list | None = None
    univariate: bool | None = None
    dimensions: int | None = None
    equal_length: bool | None = None
    series_length: int | None = None
    missing: bool | None = None
    other_tags: dict = field(default_factory=dict)
    path: str | None = None
    lines: list | None = None

    def __len__(self):
        return len(self.series)

    @property
    def n_features(self):
        """The number of features (dimensions), the same for every sample."""
        return self.series[0].shape[1]

    @property
    def lengths(self):
        """Each sample's number of timesteps: an int array (N,)."""
        return np.array([len(s) for s in self.series], dtype=np.int64)

    def where(self, i):
        """Sample i's place, for messages: 'FILE, line L (sample i)', or
        'sample i' for data made in memory."""
        if self.path is None:
            return f"sample {i}"
        line = f", line {self.lines[i]}" if self.lines is not None else ""
        return f"{self.path}{line} (sample {i})"



# ----- lines and numbers

class Line:
    """One line of a data file: its text (line end and byte-order mark
    removed), its number, and whether a line end closed it; builds the error
    that reports what is wrong with it."""

    __slots__ = ("path", "number", "text", "ended")

    def __init__(self, path, number, text, ended):
        self.path, self.number, self.text, self.ended = path, number, text, ended

    def error(self, message, column=None):
        """A DataFileError at this line; `column` is a 0-based index into `text`."""
        if not self.ended:
            message += " (this is the file's last line, with no line end: is the file cut short?)"
        return DataFileError(message, self.path, self.number,
                             None if column is None else column + 1)


def data_lines(path, encoding, comment=None):
    """Yield the file's lines that are neither blank nor comments, as `Line`s.

    Lines are split on LF, CRLF or CR; a UTF-8 byte-order mark is dropped.
    """
    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise InputError(f"encoding must be a text encoding Python knows, got {encoding!r}") \
            from None
    try:
        with open(path, "rb") as f:
            number = 0
            for chunk in f:
                if number == 0 and chunk.startswith(BOM):
                    chunk = chunk[len(BOM):]
                ended = chunk.endswith((b"\n", b"\r"))
                body = chunk[:-2] if chunk.endswith(b"\r\n") else chunk[:-1] if ended else chunk
                parts = body.split(b"\r")  # a classic Mac file ends lines in CR alone
                for i, raw in enumerate(parts):
                    number += 1
                    stripped = raw.strip()
                    if not stripped or (comment and stripped.startswith(comment)):
                        continue
                    line = Line(path, number, "", ended or i < len(parts) - 1)
                    try:
                        line.text = raw.decode(encoding)
                    except UnicodeDecodeError as e:
                        column = len(raw[:e.start].decode(encoding, errors="replace"))
                        raise line.error(f"not {encoding} text ({e.reason} at byte "
                                         f"{e.start + 1})", column) from None
                    yield line
    except OSError as e:
        raise DataFileError(e.strerror or str(e), path) from None


def parse_numbers(line, start, end, delimiter=","):
    """The values in line.text[start:end], separated by `delimiter` (None:
    by whitespace), as floats: `?` is missing (NaN). Raises at the column of
    the first value that is not a number."""
    text = line.text[start:end]
    tokens = text.split(delimiter)
    try:
        return [float(t) for t in tokens]
    except ValueError:
        pass  # a '?' or a bad value: read again token by token, knowing where each is
    if delimiter is None:
        spans = [(m.start(), m.group()) for m in re.finditer(r"\S+", text)]
    else:
        spans, position = [], 0
        for token in tokens:
            spans.append((position, token))
            position += len(token) + len(delimiter)
    values = []
    for position, token in spans:
        value = token.strip()
        column = start + position + len(token) - len(token.lstrip())
        if value == "?":
            values.append(NAN)
            continue
        try:
            values.append(float(value))
        except ValueError:
            if not value:
                raise line.error(f"a value is empty (two {delimiter!r} in a row, or one at the "
                                 "end?)", column) from None
            hint = (": a (timestamp,value) pair, but the header does not say @timeStamps true"
                    if value.startswith("(") else "")
            raise line.error(f"{value!r} is not a number{hint}", column) from None
    return values


def split_keyword(text):
    """A header line's first word and the rest, split at spaces or tabs."""
    words = text.split(None, 1)
    return words[0], words[1] if len(words) > 1 else ""


def padded(columns, fill=NAN, dtype=np.float32):
    """Stack one 1-D sequence per dimension into a (timesteps, features) array,
    the shorter ones padded at the end with `fill`."""
    out = np.full((max(len(c) for c in columns), len(columns)), fill, dtype=dtype)
    for d, column in enumerate(columns):
        out[:len(column), d] = column
    return out
