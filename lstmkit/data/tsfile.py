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
- skip comment lines (`#` in `.ts`, and `%` as aeon's own bundled `.ts`
  files write them; `%` in `.arff`) without decoding them, because archive
  comments are not always in the data's encoding;
- raise `DataFileError` naming the file, the line and, where one value is at
  fault, its column (1-based, in characters), and return nothing half-read.

The `.ts` format (aeon's "Loading data" guide; timeseriesclassification.com)
is a header of `@tag value` lines, then `@data`, then one sample per line:
dimensions separated by `:`, values by `,`, the label last. Tags are
case-insensitive; `@classLabel true <labels>` or `@targetLabel true`
(regression) says what the last field holds, `@classLabel false` that there
is none; `@timeStamps true` writes each value as `(timestamp,value)`.
"""

import os
import re

import numpy as np

from ..errors import DataFileError
from .arff import read_arff
from .seriesdata import NAN, TimeSeriesData, data_lines, padded, parse_numbers, split_keyword
from .ucr import read_ucr

__all__ = ["TimeSeriesData", "read_series_file", "read_ts", "read_ucr", "read_arff"]

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
    lines = data_lines(path, encoding, comment=(b"#", b"%"))
    header, other, data_line = _ts_header(lines, path)
    samples = _TsSamples(header, other, path)
    for line in lines:
        samples.add(line)
    if not samples.series:
        raise data_line.error("@data is followed by no samples")
    return samples.result()


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
        name, rest = split_keyword(text)
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
            values = [parse_numbers(line, start, end) if text[start:end].strip() else []
                      for start, end in fields]
        lengths = [len(v) for v in values]
        if max(lengths) == 0:
            raise line.error("the sample has no values")
        if self.check_lengths:
            self._check_lengths(line, fields, lengths)
        self.series.append(padded(values))
        self.lines.append(line.number)
        if self.stamped:
            if self.stamp_kind == "date":
                self.timestamps.append(padded(times, np.datetime64("NaT"), "datetime64[ns]"))
            else:
                self.timestamps.append(padded(times, NAN, np.float64))

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
            values.extend(parse_numbers(line, match.start(1) + len(stamp) + 1, match.end(1)))
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
