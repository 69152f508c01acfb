"""The UCR archive's layout: one univariate sample per line, its label
first, then its values (the 2018 archive's `.tsv`, `.csv`, the 2015
archive's whitespace-separated `.txt`)."""

import os
import re

import numpy as np

from ..errors import DataFileError
from .seriesdata import TimeSeriesData, data_lines, parse_numbers

_WHITESPACE = re.compile(r"\s")


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
    for line in data_lines(path, encoding):
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
        values = parse_numbers(line, cut + (1 if delimiter else 0), len(text), delimiter)
        series.append(np.array(values, dtype=np.float32)[:, None])
        labels.append(_ucr_label(label))
        numbers.append(line.number)
    if not series:
        raise DataFileError("no samples: the file is empty", path)
    _check_labels_are_classes(labels, numbers, path)
    return TimeSeriesData(series, labels, class_labels=_sorted_labels(labels),
                          univariate=True, dimensions=1, path=path, lines=numbers)


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


def _check_labels_are_classes(labels, lines, path):
    """Refuse a file whose first column reads as measurements, not classes:
    fractional numbers, most of them each a class of its own (a file saved
    without its label column would otherwise train a class per sample)."""
    fractional = [i for i, label in enumerate(labels) if _fraction(label)]
    if fractional and len(set(labels)) > len(labels) / 2:
        i = fractional[0]
        raise DataFileError(f"starts with {labels[i]!r}, which reads as a value, not a class "
                            f"label: a UCR file gives each line's label first ({len(set(labels))} "
                            f"distinct 'labels' in {len(labels)} lines); a file without labels "
                            "can be written as a .ts file with '@classLabel false'", path,
                            lines[i], 1)


def _fraction(label):
    try:
        return not float(label).is_integer()
    except ValueError:
        return False


def _sorted_labels(labels):
    """The distinct labels, sorted numerically if they all are numbers."""
    distinct = set(labels)
    try:
        return sorted(distinct, key=float)
    except ValueError:
        return sorted(distinct)
