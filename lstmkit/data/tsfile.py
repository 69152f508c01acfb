"""Readers for labelled time-series files: the `.ts` format of the UCR/UEA
archives and sktime/aeon, the UCR archive's label-first CSV/TSV layout, and
`.arff` (univariate, and the relational layout of UEA's multivariate files).

Each reader returns a `TimeSeriesData`: one float32 array (timesteps,
features) per sample, the labels, and what the file's header declares.
`read_series_file` picks the reader by extension. All of them:

- read `?` (and `NaN`, as the UCR 2018 archive writes its padding) as a
  missing value, NaN; what to do with NaN is the model's decision, not the
  reader's;
- accept LF, CRLF or CR line ends, a last line without one, a UTF-8
  byte-order mark, blank lines anywhere and spaces or tabs around values;
- skip comment lines (`#` in `.ts`, `%` in `.arff`) without decoding them,
  because archive comments are not always in the data's encoding;
- raise `DataFileError` naming the file, the line and, where one value is at
  fault, its column (1-based, in characters), and return nothing half-read.

The `.ts` format (aeon's "Loading data" guide; timeseriesclassification.com)
is a header of `@tag value` lines, then `@data`, then one sample per line:
dimensions separated by `:`, values by `,`, the label last. Tags are
case-insensitive; `@classLabel true <labels>` or `@targetLabel true`
(regression) says what the last field holds, `@classLabel false` that there
is none; `@timeStamps true` writes each value as `(timestamp,value)`.
"""

import codecs
import os
import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import DataFileError, InputError

_NAN = float("nan")
_BOM = codecs.BOM_UTF8

# .ts tags by their lower-case name, spelled as the format writes them.
_BOOLEAN_TAGS = {"timestamps": "@timeStamps", "missing": "@missing", "univariate": "@univariate",
                 "equallength": "@equalLength", "targetlabel": "@targetLabel"}
_COUNT_TAGS = {"dimensions": "@dimensions", "serieslength": "@seriesLength"}
_TAGS = {"problemname": "@problemName", **_BOOLEAN_TAGS, **_COUNT_TAGS,
         "classlabel": "@classLabel"}
_ALIASES = {"dimension": "dimensions"}  # aeon's format document spells it so; the archive does not

# With time stamps a colon may sit inside a pair, "(2013-03-01 00:00:00,3.5)":
# only colons outside parentheses separate dimensions.
_PAIR_OR_COLON = re.compile(r"\([^()]*\)|:")
_PAIR = re.compile(r"\s*\(([^()]*)\)\s*")
_DATE = re.compile(r"\d{4}-\d\d-\d\d")
_WHITESPACE = re.compile(r"\s")

# One ARFF field: a quoted string (backslash escapes) or a bare token, then ',' or the end.
_ARFF_FIELD = re.compile(r"""\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|([^,'"]*?))\s*(,|$)""")
_ARFF_NAME = re.compile(r"""\s*(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\S+)\s*""")
_ESCAPE = re.compile(r"\\(.)")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}
_ARFF_NUMERIC = {"numeric", "real", "integer"}


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


def read_series_file(path, encoding="utf-8"):
    """Read a labelled time-series file, choosing the reader by extension:
    `.ts` (`read_ts`), `.arff` (`read_arff`), `.csv`, `.tsv` or `.txt`
    (`read_ucr`). Returns a `TimeSeriesData`."""
    extension = os.path.splitext(os.fspath(path))[1].lower()
    readers = {".ts": read_ts, ".arff": read_arff, ".csv": read_ucr, ".tsv": read_ucr,
               ".txt": read_ucr}
    if extension not in readers:
        raise DataFileError(f"cannot tell the format from the extension {extension!r}: expected "
                            ".ts, .arff, .csv, .tsv or .txt, or call read_ts, read_arff or "
                            "read_ucr", os.fspath(path))
    return readers[extension](path, encoding=encoding)


def read_ts(path, encoding="utf-8"):
    """Read a `.ts` file (UCR/UEA archives, sktime, aeon).

    Args:
        path: the file.
        encoding: its text encoding, any that writes ASCII as ASCII.
            Default "utf-8"; a UTF-8 byte-order mark is dropped.

    The header is checked against the data: a sample whose dimension count
    differs from `@dimensions` (1 with `@univariate true`; the first
    sample's where the header does not say), lengths that differ under
    `@equalLength true` or from `@seriesLength`, a class label not in
    `@classLabel`, a label where `@classLabel false` says there is none, a
    value that is not a number, a missing or empty `@data` section: each a
    `DataFileError` with the file, line and, where it helps, the column.

    Tags other than the format's are kept in `other_tags`, not refused:
    other tools add their own (`@survivalAnalysis`). `@dimension` is read as
    `@dimensions`, as aeon's format document spells it.

    Dimensions of one sample may differ in length (`@equalLength false`):
    the shorter ones are padded at the end with NaN to the longest, so each
    sample is one (timesteps, features) array. An empty dimension (`::`)
    is all padding. With `@timeStamps true` each dimension's values are put
    in time-stamp order and the stamps are kept in `timestamps`; rows are
    positions, so two dimensions stamped differently are not aligned by time.

    Returns a `TimeSeriesData`.
    """
    path = os.fspath(path)
    lines = _lines(path, encoding, comment=b"#")
    header, other, data_line = _ts_header(lines, path)
    samples = _TsSamples(header, other, path)
    for line in lines:
        samples.add(line)
    if not samples.series:
        raise data_line.error("@data is followed by no samples")
    return samples.result()


def read_ucr(path, encoding="utf-8"):
    """Read the UCR archive's layout: one univariate sample per line, its
    label first, then its values.

    The delimiter is read from the first line: a tab (the 2018 archive's
    `.tsv`), else a comma (`.csv`), else runs of whitespace (the 2015
    archive's `.txt`). Lines may differ in length; the 2018 archive pads
    variable-length series with NaN, and the padding is kept as NaN. Labels
    are kept as written, except that integral labels written as floats
    (`1.0000000e+00`, as the 2015 archive writes them) become `1`.

    Returns a `TimeSeriesData` with univariate samples (timesteps, 1) and
    `class_labels` sorted, numerically where every label is a number.
    """
    path = os.fspath(path)
    series, labels, numbers = [], [], []
    for line in _lines(path, encoding):
        text = line.text.rstrip()  # a tab or space after the last value is not one more value
        if not labels:  # the first line says how values are separated; None: by whitespace
            delimiter = "\t" if "\t" in text else "," if "," in text else None
        start = len(text) - len(text.lstrip())
        cut = text.find(delimiter, start) if delimiter else _whitespace_after(text, start)
        if cut < 0:
            raise line.error("a line is a label, then its values: found no values", start)
        label = text[start:cut].strip()
        if not label:
            raise line.error("the label is empty", start)
        values = _numbers(line, cut + (1 if delimiter else 0), len(text), delimiter)
        series.append(np.array(values, dtype=np.float32)[:, None])
        labels.append(_ucr_label(label))
        numbers.append(line.number)
    if not series:
        raise DataFileError("no samples: the file is empty", path)
    return TimeSeriesData(series, labels, class_labels=_sorted_labels(labels),
                          univariate=True, dimensions=1, path=path, lines=numbers)


def read_arff(path, encoding="utf-8"):
    """Read an `.arff` file of time series (UCR/UEA archives, Weka).

    Two layouts are read. Univariate: numeric attributes (the timesteps),
    then the class. Multivariate, as UEA writes it: one relational attribute
    whose inner numeric attributes are the timesteps, then the class; each
    row is a quoted string of dimensions separated by `\\n`, then the label.
    The class is the last attribute: nominal (`{a,b}`, classification) or
    numeric (regression). Quoted names and labels, `%` comments and
    case-insensitive keywords are accepted; sparse rows (`{...}`), string
    and date attributes are refused with the reason.

    Returns a `TimeSeriesData`; `class_labels` in the declared order.
    """
    path = os.fspath(path)
    lines = _lines(path, encoding, comment=b"%")
    layout = _arff_header(lines, path)
    series, labels, numbers, dimensions = [], [], [], None
    for line in lines:
        text = line.text
        if text.lstrip().startswith("{"):
            raise line.error("sparse ARFF rows ({index value, ...}) are not supported",
                             len(text) - len(text.lstrip()))
        if layout.relational:
            sample, label = _arff_relational_row(line, layout)
            if dimensions is None:
                dimensions = (sample.shape[1], line.number)
            elif sample.shape[1] != dimensions[0]:
                raise line.error(f"found {sample.shape[1]} dimensions, the first row (line "
                                 f"{dimensions[1]}) has {dimensions[0]}")
        else:
            sample, label = _arff_flat_row(line, layout)
        series.append(sample)
        labels.append(label)
        numbers.append(line.number)
    if not series:
        raise layout.data_line.error("@data is followed by no rows")
    return TimeSeriesData(
        series,
        labels if layout.classes is not None else np.array(labels, dtype=np.float64),
        class_labels=layout.classes, problem_name=layout.relation,
        univariate=not layout.relational, dimensions=None if layout.relational else 1,
        series_length=layout.width, path=path, lines=numbers)


# Lines and numbers, shared by the readers.

class _Line:
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


def _lines(path, encoding, comment=None):
    """Yield the file's lines that are neither blank nor comments, as `_Line`s.

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
                if number == 0 and chunk.startswith(_BOM):
                    chunk = chunk[len(_BOM):]
                ended = chunk.endswith((b"\n", b"\r"))
                body = chunk[:-2] if chunk.endswith(b"\r\n") else chunk[:-1] if ended else chunk
                parts = body.split(b"\r")  # a classic Mac file ends lines in CR alone
                for i, raw in enumerate(parts):
                    number += 1
                    stripped = raw.strip()
                    if not stripped or (comment and stripped.startswith(comment)):
                        continue
                    line = _Line(path, number, "", ended or i < len(parts) - 1)
                    try:
                        line.text = raw.decode(encoding)
                    except UnicodeDecodeError as e:
                        column = len(raw[:e.start].decode(encoding, errors="replace"))
                        raise line.error(f"not {encoding} text ({e.reason} at byte "
                                         f"{e.start + 1})", column) from None
                    yield line
    except OSError as e:
        raise DataFileError(e.strerror or str(e), path) from None


def _numbers(line, start, end, delimiter=","):
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
            values.append(_NAN)
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


def _keyword(text):
    """A header line's first word and the rest, split at spaces or tabs."""
    words = text.split(None, 1)
    return words[0], words[1] if len(words) > 1 else ""


def _padded(columns, fill=_NAN, dtype=np.float32):
    """Stack one 1-D sequence per dimension into a (timesteps, features) array,
    the shorter ones padded at the end with `fill`."""
    out = np.full((max(len(c) for c in columns), len(columns)), fill, dtype=dtype)
    for d, column in enumerate(columns):
        out[:len(column), d] = column
    return out


# .ts

def _ts_header(lines, path):
    """Read the header up to @data: ({tag: (value, line number)}, {other tag:
    its text}, the @data line)."""
    header, other, last = {}, {}, None
    for line in lines:
        last = line
        text = line.text.strip()
        if not text.startswith("@"):
            raise line.error("found data before @data: is the @data line missing?")
        name, rest = _keyword(text)
        tag = _ALIASES.get(name[1:].lower(), name[1:].lower())
        if tag == "data":
            if rest:
                raise line.error(f"@data takes no value, found {rest!r}")
            _check_header(header, other, line)
            return header, other, line
        if tag not in _TAGS:  # a tag of some other tool's (or a misspelt one): kept, not read
            other[name[1:]] = rest
            continue
        if tag in header:
            raise line.error(f"{_TAGS[tag]} is repeated (first on line {header[tag][1]})")
        header[tag] = (_tag_value(line, tag, rest), line.number)
    if last is None:
        raise DataFileError("the file is empty (or holds only comments)", path)
    raise DataFileError("the file ends before @data: is it cut short, or not a .ts file?", path,
                        last.number)


def _tag_value(line, tag, rest):
    """The value of one header tag, checked."""
    spelled, words = _TAGS[tag], rest.split()
    if tag == "problemname":
        if not rest:
            raise line.error("@problemName needs a name")
        return rest
    if tag == "classlabel":
        flag = _boolean(line, spelled, words[:1])
        labels = words[1:]
        if flag and not labels:
            raise line.error("@classLabel true needs the class labels after it")
        if not flag and labels:
            raise line.error(f"@classLabel false takes no labels, found {' '.join(labels)!r}")
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            raise line.error(f"@classLabel lists {', '.join(map(repr, repeated))} more than once")
        return labels if flag else None
    if tag in _BOOLEAN_TAGS:
        return _boolean(line, spelled, words)
    if len(words) != 1 or not re.fullmatch(r"[0-9]+", words[0]) or int(words[0]) < 1:
        raise line.error(f"{spelled} needs a positive whole number, found {rest!r}")
    return int(words[0])


def _boolean(line, spelled, words):
    """The value of a true/false tag (`words`: what follows it), in any case."""
    if len(words) != 1 or words[0].lower() not in ("true", "false"):
        raise line.error(f"{spelled} needs true or false, found {' '.join(words)!r}")
    return words[0].lower() == "true"


def _check_header(header, other, data_line):
    """Refuse a header whose tags contradict each other or leave the labels
    unsaid; the error is at the later of the two tags, or at @data."""
    def value(tag):
        return header.get(tag, (None, None))[0]

    def error(message, *tags):
        return DataFileError(message, data_line.path, max(header[t][1] for t in tags))

    if "classlabel" not in header and value("targetlabel") is not True:
        message = ("the header says neither @classLabel (true with the labels, or false) nor "
                   "@targetLabel true, so what ends a line is unknown")
        if other:
            message += (f" ({', '.join('@' + name for name in other)}: not "
                        f"{'a .ts tag' if len(other) == 1 else '.ts tags'})")
        raise data_line.error(message)
    if value("classlabel") is not None and value("targetlabel") is True:
        raise error("@classLabel true and @targetLabel true: a file holds class labels or "
                    "regression targets, not both", "classlabel", "targetlabel")
    if value("univariate") is True and (value("dimensions") or 1) > 1:
        raise error(f"@univariate true but @dimensions {value('dimensions')}",
                    "univariate", "dimensions")


class _TsSamples:
    """The samples of a .ts file, read line by line and checked against the
    header and the samples before them."""

    def __init__(self, header, other, path):
        def value(tag):
            return header.get(tag, (None, None))[0]

        self.facts = dict(problem_name=value("problemname"), univariate=value("univariate"),
                          dimensions=value("dimensions"), equal_length=value("equallength"),
                          series_length=value("serieslength"), missing=value("missing"),
                          other_tags=other, path=path)
        self.class_labels = value("classlabel")
        self.classes = set(self.class_labels or ())
        self.target = value("targetlabel") is True
        self.labelled = self.class_labels is not None or self.target
        self.stamped = value("timestamps") is True
        self.stamp_kind = None  # "number" or "date", from the first time stamp
        # (expected dimension count, what says so), and the same for lengths.
        if "dimensions" in header:
            self.width = (value("dimensions"), f"@dimensions (line {header['dimensions'][1]})")
        elif value("univariate") is True:
            self.width = (1, f"@univariate true (line {header['univariate'][1]})")
        else:
            self.width = None
        self.length = None
        if "serieslength" in header and value("equallength") is not False:
            self.length = (value("serieslength"),
                           f"@seriesLength is {value('serieslength')} "
                           f"(line {header['serieslength'][1]})")
        self.check_lengths = value("equallength") is True or self.length is not None
        self.series, self.labels, self.timestamps, self.lines = [], [], [], []

    def add(self, line):
        """Read one data line."""
        text = line.text
        fields = _ts_fields(text, self.stamped)
        if self.labelled:
            if len(fields) == 1:
                raise line.error("found no ':' before the label: a line is "
                                 "dimension:dimension:...:label")
            label_start, label_end = fields.pop()
            self.labels.append(self._label(line, label_start, label_end))
        self._check_width(line, fields)
        if self.stamped:
            pairs = [self._pairs(line, start, end) for start, end in fields]
            times = [t for t, _ in pairs]
            values = [v for _, v in pairs]
        else:
            values = [_numbers(line, start, end) if text[start:end].strip() else []
                      for start, end in fields]
        lengths = [len(v) for v in values]
        if max(lengths) == 0:
            raise line.error("the sample has no values")
        if self.check_lengths:
            self._check_lengths(line, fields, lengths)
        self.series.append(_padded(values))
        self.lines.append(line.number)
        if self.stamped:
            if self.stamp_kind == "date":
                self.timestamps.append(_padded(times, np.datetime64("NaT"), "datetime64[ns]"))
            else:
                self.timestamps.append(_padded(times, _NAN, np.float64))

    def result(self):
        """The samples read, as a TimeSeriesData."""
        labels = None
        if self.target:
            labels = np.array(self.labels, dtype=np.float64)
        elif self.labelled:
            labels = self.labels
        return TimeSeriesData(self.series, labels, class_labels=self.class_labels,
                              timestamps=self.timestamps if self.stamped else None,
                              lines=self.lines, **self.facts)

    def _label(self, line, start, end):
        raw = line.text[start:end]
        label, column = raw.strip(), start + len(raw) - len(raw.lstrip())
        if self.target:
            if label == "?":
                raise line.error("the regression target is missing ('?')", column)
            try:
                return float(label)
            except ValueError:
                raise line.error(f"the regression target {label!r} is not a number",
                                 column) from None
        if not label:
            raise line.error("the class label is empty", column)
        if label not in self.classes:
            raise line.error(f"class label {label!r} is not one of @classLabel's: "
                             f"{' '.join(self.class_labels)}", column)
        return label

    def _check_width(self, line, fields):
        if self.width is None:
            self.width = (len(fields), f"the first sample (line {line.number})")
            return
        expected, source = self.width
        if len(fields) == expected:
            return
        if not self.labelled and len(fields) == expected + 1:
            raise line.error("the line ends in a label, but the header says @classLabel false",
                             fields[-1][0])
        found = f"{len(fields)} dimension" + ("s" if len(fields) != 1 else "")
        raise line.error(f"found {found}, expected {expected} as {source} says",
                         fields[expected][0] if len(fields) > expected else None)

    def _check_lengths(self, line, fields, lengths):
        if self.length is None:
            self.length = (lengths[0], f"@equalLength is true and dimension 1 of the first "
                                       f"sample (line {line.number}) has {lengths[0]}")
        expected, source = self.length
        for d, n in enumerate(lengths):
            if n != expected:
                raise line.error(f"dimension {d + 1} has {n} values, but {source}", fields[d][0])

    def _pairs(self, line, start, end):
        """The (timestamp,value) pairs of one dimension, in time-stamp order:
        (timestamps, values)."""
        text, times, values, position = line.text, [], [], start
        if not text[start:end].strip():
            return np.array([], dtype=np.float64), []
        while True:
            match = _PAIR.match(text, position, end)
            if match is None:
                column = position + len(text[position:end]) - len(text[position:end].lstrip())
                raise line.error("expected a (timestamp,value) pair", column)
            stamp, comma, _ = match.group(1).rpartition(",")
            if not comma:
                raise line.error("a (timestamp,value) pair needs a ',' between the two",
                                 match.start(1))
            times.append(self._stamp(line, stamp, match.start(1)))
            values.extend(_numbers(line, match.start(1) + len(stamp) + 1, match.end(1)))
            position = match.end()
            if position == end:
                break
            if text[position] != ",":
                raise line.error("expected ',' between (timestamp,value) pairs", position)
            position += 1
        times = np.array(times, dtype="datetime64[ns]" if self.stamp_kind == "date" else np.float64)
        order = np.argsort(times, kind="stable")
        return times[order], np.array(values)[order]

    def _stamp(self, line, raw, start):
        """One time stamp: a number, or a date and time (ISO 8601, "2013-03-01 00:00:00")."""
        stamp, column = raw.strip(), start + len(raw) - len(raw.lstrip())
        try:
            value, kind = float(stamp), "number"
        except ValueError:
            value, kind = None, "date"
        if value is None and _DATE.match(stamp):
            try:
                value = np.datetime64(stamp, "ns")
            except ValueError:
                pass  # neither a number nor a date: refused below
        if value is None:
            raise line.error(f"time stamp {stamp!r} is neither a number nor a date", column)
        if self.stamp_kind is None:
            self.stamp_kind = kind
        elif kind != self.stamp_kind:
            raise line.error(f"time stamp {stamp!r} is a {kind}, but the file's first time stamp "
                             f"is a {self.stamp_kind}", column)
        return value


def _ts_fields(text, stamped):
    """(start, end) of each ':'-separated field of a data line."""
    spans, start = [], 0
    if stamped:
        for match in _PAIR_OR_COLON.finditer(text):
            if match.group() == ":":
                spans.append((start, match.start()))
                start = match.end()
    else:
        for part in text.split(":")[:-1]:
            spans.append((start, start + len(part)))
            start += len(part) + 1
    spans.append((start, len(text)))
    return spans


# UCR

def _whitespace_after(text, start):
    """The index of the first whitespace at or after `start`, or -1."""
    match = _WHITESPACE.search(text, start)
    return match.start() if match else -1


def _ucr_label(label):
    """A label as written, except that an integral label written as a float
    ("1.0000000e+00") becomes "1"."""
    if "." in label or "e" in label.lower():
        try:
            number = float(label)
        except ValueError:
            return label
        if number.is_integer():
            return str(int(number))
    return label


def _sorted_labels(labels):
    """The distinct labels, sorted numerically if they all are numbers."""
    distinct = set(labels)
    try:
        return sorted(distinct, key=float)
    except ValueError:
        return sorted(distinct)


# ARFF

@dataclass
class _ArffLayout:
    """What an ARFF header says: the relation, how many values a row (or a
    dimension) holds, whether rows are relational, the class labels (None
    for a numeric class) and the @data line."""

    relation: str | None
    width: int
    relational: bool
    classes: list | None
    data_line: _Line


def _arff_header(lines, path):
    """Read an ARFF header up to @data and check it is a layout `read_arff` reads."""
    relation, attributes, inner, block, last = None, [], [], None, None
    for line in lines:
        last = line
        text = line.text.strip()
        keyword, rest = _keyword(text)
        keyword = keyword.lower()
        if keyword == "@relation":
            relation = _unquote(rest) if rest else None
        elif keyword == "@attribute":
            name, kind = _arff_attribute(line, rest)
            if block is not None:
                if kind != "numeric":
                    raise line.error(f"attribute {name!r} of the relational attribute "
                                     f"{block!r} is not numeric")
                inner.append(name)
            else:
                attributes.append((name, kind, line))
                if kind == "relational":
                    block = name
        elif keyword == "@end":
            if block is None:
                raise line.error("@end without a relational attribute to end")
            block = None
        elif keyword == "@data":
            if block is not None:
                raise line.error(f"@data inside the relational attribute {block!r}: "
                                 f"@end {block} is missing")
            return _arff_layout(attributes, inner, relation, line)
        elif text.startswith("@"):
            raise line.error(f"unknown ARFF keyword {keyword!r}: expected @relation, "
                             "@attribute, @end or @data")
        else:
            raise line.error("found data before @data: is the @data line missing?")
    if last is None:
        raise DataFileError("the file is empty (or holds only comments)", path)
    raise DataFileError("the file ends before @data: is it cut short, or not an ARFF file?",
                        path, last.number)


def _arff_attribute(line, rest):
    """(name, kind) of an @attribute line: kind is "numeric", "relational",
    or a list of nominal values."""
    match = _ARFF_NAME.match(rest)
    if match is None or not rest[match.end():].strip():
        raise line.error("@attribute needs a name and a type")
    name, kind = _unquote(match.group().strip()), rest[match.end():].strip()
    if kind.startswith("{"):
        if not kind.endswith("}"):
            raise line.error(f"nominal attribute {name!r}: the values' '{{' is not closed")
        values = [v for v in _arff_values(line, kind[1:-1]) if v]
        if not values:
            raise line.error(f"nominal attribute {name!r} declares no values")
        return name, values
    if kind.lower() in _ARFF_NUMERIC:
        return name, "numeric"
    if kind.lower() == "relational":
        return name, "relational"
    raise line.error(f"attribute {name!r} is of type {kind!r}: read_arff reads numeric "
                     "attributes, or one relational attribute of them, then a nominal or "
                     "numeric class")


def _arff_layout(attributes, inner, relation, data_line):
    """The `_ArffLayout` of the attributes declared, or the error at the
    attribute that makes it one `read_arff` does not read."""
    kinds = [kind for _, kind, _ in attributes]
    if len(attributes) < 2:
        raise data_line.error("the header declares fewer than two attributes: expected the "
                              "series' attributes, then the class")
    name, kind, line = attributes[-1]
    if kind == "relational":
        raise line.error(f"the last attribute {name!r} is relational: expected the class last")
    classes = kind if isinstance(kind, list) else None
    if "relational" in kinds:
        if len(attributes) != 2 or kinds[0] != "relational":
            raise attributes[kinds.index("relational")][2].error(
                "a relational attribute must be the only one before the class")
        if not inner:
            raise attributes[0][2].error("the relational attribute declares no attributes")
        return _ArffLayout(relation, len(inner), True, classes, data_line)
    for name, kind, line in attributes[:-1]:
        if kind != "numeric":
            raise line.error(f"attribute {name!r} is nominal: only the last attribute (the "
                             "class) may be")
    return _ArffLayout(relation, len(attributes) - 1, False, classes, data_line)


def _arff_values(line, text):
    """The values of a comma-separated ARFF list: quotes removed and escapes
    resolved, bare values stripped."""
    return [_unescape(text[start:end]) if quoted else text[start:end]
            for start, end, quoted in _arff_spans(line, text)]


def _arff_spans(line, text):
    """(start, end, quoted) of each comma-separated field of `text`; a quoted
    field's span is inside its quotes, a bare field's is stripped. A quote
    left open raises at its column (exact where `text` is the line's)."""
    spans, position = [], 0
    while True:
        match = _ARFF_FIELD.match(text, position)
        if match is None:
            raise line.error("a quote is not closed, or a field holds one", position)
        group = next(g for g in (1, 2, 3) if match.group(g) is not None)
        spans.append((match.start(group), match.end(group), group != 3))
        if not match.group(4):
            return spans
        position = match.end()


def _unquote(text):
    """An ARFF name without its quotes, backslash escapes resolved."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return _unescape(text[1:-1])
    return text


def _unescape(text):
    """ARFF's backslash escapes resolved: \\n, \\t, \\r, and any other
    character standing for itself."""
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), text)


def _arff_label(line, layout, label, column):
    """A row's class value, checked against the header."""
    if label == "?":
        raise line.error("the class value is missing ('?')", column)
    if layout.classes is None:
        try:
            return float(label)
        except ValueError:
            raise line.error(f"the target {label!r} is not a number", column) from None
    if label not in layout.classes:
        raise line.error(f"class value {label!r} is not one the header declares: "
                         f"{', '.join(layout.classes)}", column)
    return label


def _arff_flat_row(line, layout):
    """A univariate row: its values, then the class."""
    text = line.text
    if "'" in text or '"' in text:
        spans = _arff_spans(line, text)
        count, (start, end, quoted) = len(spans), spans[-1]
        cut = text.rfind(",", 0, start)
    else:
        count, cut, quoted = text.count(",") + 1, text.rfind(","), False
        start = cut + 1 + len(text[cut + 1:]) - len(text[cut + 1:].lstrip())
        end = len(text.rstrip())
    if count != layout.width + 1:
        raise line.error(f"found {count} fields, the header declares {layout.width + 1} "
                         "attributes")
    values = _numbers(line, 0, cut)
    label = _unescape(text[start:end]) if quoted else text[start:end]
    label = _arff_label(line, layout, label, start)
    return np.array(values, dtype=np.float32)[:, None], label


def _arff_relational_row(line, layout):
    """A relational row: a quoted string of dimensions separated by a literal
    backslash-n, then the class."""
    spans = _arff_spans(line, line.text)
    if len(spans) != 2 or not spans[0][2]:
        raise line.error("expected a quoted string of dimensions ('v,v,...\\nv,v,...'), then "
                         "the class")
    (start, end, _), (label_start, label_end, quoted) = spans
    label = line.text[label_start:label_end]
    label = _arff_label(line, layout, _unescape(label) if quoted else label, label_start)
    columns, position = [], start
    for part in line.text[start:end].split("\\n"):
        values = _numbers(line, position, position + len(part))
        if len(values) != layout.width:
            raise line.error(f"dimension {len(columns) + 1} has {len(values)} values, the "
                             f"relational attribute declares {layout.width}", position)
        columns.append(values)
        position += len(part) + 2
    return np.array(columns, dtype=np.float32).T, label
