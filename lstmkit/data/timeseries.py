"""Reading a time series from a CSV file: the date and value columns, the
dates parsed, the sampling frequency inferred, and from it the seasonal
period by the calendar (the forecasting protocol's table: never from
inspecting the values).

Missing values (an empty cell, NA, NaN) are an error naming their lines,
unless a fill policy is given; an infinite value, a value that is not a
number, an unparsable, repeated or out-of-order date always is. Dates
missing from the regular grid (gaps) are reported and, by default, the
rows are used as they are; 'interpolate' and 'previous' insert the missing
dates and fill their values.
"""

import csv
import datetime
import io
import math
import os
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ..errors import DataFileError, InputError
from .textfiles import DELIMITERS

# frequency: (seasonal period m, the protocol's horizon h)
FREQUENCIES = {"yearly": (1, 10), "quarterly": (4, 8), "monthly": (12, 24), "weekly": (52, 104),
               "daily": (7, 14), "hourly": (24, 48)}
FILLS = ("refuse", "interpolate", "previous")
MISSING = {"", "na", "nan", "null", "none", "n/a", "?"}
DATE = re.compile(r"^(?P<y>\d{1,4})(?:-(?P<m>\d{1,2})(?:-(?P<d>\d{1,2})"
                  r"(?:[ T](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.\d+)?)?Z?)?)?)?$")
COMPACT_DATE = re.compile(r"^(?P<y>[12][0-9]{3})(?P<m>[0-9]{2})(?P<d>[0-9]{2})?$")  # 194901
# columns that hold the dates, by their usual names: one of them that is not read as dates is
# an error naming its first cell, not a column passed over (the series then read undated)
DATE_NAMES = ("date", "datetime", "timestamp", "time", "ds", "day", "week", "month", "year",
              "period")
MONTH_STEPS = {1: "monthly", 3: "quarterly", 12: "yearly"}
DAY_STEPS = {datetime.timedelta(days=1): "daily", datetime.timedelta(days=7): "weekly",
             datetime.timedelta(hours=1): "hourly"}


@dataclass
class TimeSeries:
    """One series read from a file.

    Attributes:
        values: (steps,) float64, oldest first.
        dates: one datetime per step, or None for a file without dates.
        frequency: 'monthly', 'daily', ... (see FREQUENCIES), or None.
        season: the seasonal period the frequency implies (1 if unknown).
        name: the value column's name; date_name the date column's.
        lines: the file's line number of each step (None for an inserted one).
        gaps: (line after which dates are missing, how many) pairs.
        path: the file.
        known: (steps + future, K) covariates known in advance, the rows
            after the last value included, or None; known_names their columns.
        past: (steps, P) covariates observed with the series, or None;
            past_names their columns.
        future_row_dates: the dates of the known covariates' future rows.
    """

    values: np.ndarray
    dates: list = None
    frequency: str = None
    season: int = 1
    name: str = "value"
    date_name: str = None
    lines: list = None
    gaps: list = field(default_factory=list)
    path: str = None
    known: np.ndarray = None
    past: np.ndarray = None
    known_names: list = field(default_factory=list)
    past_names: list = field(default_factory=list)
    future_row_dates: list = None

    def __len__(self):
        return len(self.values)

    def future_dates(self, horizon):
        """The `horizon` dates after the last, at the series' frequency."""
        if self.dates is None or self.frequency is None:
            return None
        return [step_date(self.dates[-1], self.frequency, k) for k in range(1, horizon + 1)]


def parse_date(text, compact=True):
    """A datetime from 'YYYY', 'YYYY-MM', 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM[:SS]'
    (ISO 8601's 'T' and a final 'Z' too, fractions of a second dropped; years
    from 1, so '1-01' is year 1, January), or with `compact` the 'YYYYMM' and
    'YYYYMMDD' of statistics offices (years 1000 to 2999: a column that is
    named for dates or given, since a number such as 194901 may be a value
    too); None if it is not one."""
    match = DATE.match(text.strip()) or (COMPACT_DATE.match(text.strip()) if compact else None)
    if match is None:
        return None
    parts = match.groupdict()
    y, m, d, H, M, S = (int(parts[k]) if parts.get(k) else default
                        for k, default in zip("ymdHMS", (None, 1, 1, 0, 0, 0)))
    try:
        return datetime.datetime(y, m, d, H, M, S)
    except ValueError:
        return None


def step_date(date, frequency, k):
    """The date k steps after `date` at `frequency`."""
    if frequency in ("monthly", "quarterly", "yearly"):
        months = date.year * 12 + date.month - 1 + k * {"monthly": 1, "quarterly": 3,
                                                          "yearly": 12}[frequency]
        return date.replace(year=months // 12, month=months % 12 + 1)
    return date + k * {"daily": datetime.timedelta(days=1), "weekly": datetime.timedelta(days=7),
                       "hourly": datetime.timedelta(hours=1)}[frequency]


def infer_frequency(dates):
    """The frequency of sorted dates: the most common step between them,
    read as calendar months (monthly, quarterly, yearly) when every date
    falls on the same day and time of its month, else as a fixed duration
    (daily, weekly, hourly). None when the step is none of those."""
    if len(dates) < 2:
        return None
    if all(d.day == dates[0].day and d.time() == dates[0].time() for d in dates):
        steps = Counter((b.year - a.year) * 12 + b.month - a.month for a, b in zip(dates, dates[1:]))
        step = steps.most_common(1)[0][0]
        if step in MONTH_STEPS:
            return MONTH_STEPS[step]
    steps = Counter(b - a for a, b in zip(dates, dates[1:]))
    return DAY_STEPS.get(steps.most_common(1)[0][0])


def season_of(frequency):
    """The seasonal period m of a frequency (1 when unknown), as the protocol sets it."""
    return FREQUENCIES.get(frequency, (1, None))[0]


def _steps_between(a, b, frequency):
    """How many steps of `frequency` from a to b (a float if not whole)."""
    if frequency in ("monthly", "quarterly", "yearly"):
        months = (b.year - a.year) * 12 + b.month - a.month
        return months / {"monthly": 1, "quarterly": 3, "yearly": 12}[frequency]
    unit = {"daily": 86400, "weekly": 7 * 86400, "hourly": 3600}[frequency]
    return (b - a).total_seconds() / unit


def _column(header, wanted, option):
    if wanted is None:
        return None
    if wanted in header:
        return header.index(wanted)
    if wanted.isdigit() and 1 <= int(wanted) <= len(header):
        return int(wanted) - 1
    raise InputError(f"{option} {wanted!r} is not a column of the file; its columns: "
                     f"{', '.join(header)}")


def read_series_csv(path, date_col=None, value_col=None, fill="refuse", known=(), past=(),
                    names=(None, None)):
    """The series in CSV file `path` as a TimeSeries.

    Args:
        date_col: the date column's name (or 1-based number); default: the
            first column named like one (date, month, timestamp, ds, ...: its
            cells must then be dates), else the first whose every cell is a
            date; none if no column is.
        value_col: the value column's name (or number); default: the first
            column after the date column whose cells are numbers.
        fill: what happens to missing values and missing dates: 'refuse'
            (default: missing values are an error naming their lines; gaps
            in the dates are reported and the rows used as they are),
            'interpolate' (missing dates inserted, values filled linearly
            between their neighbours) or 'previous' (the last value carried).
            Covariate columns are filled alike.
        known: columns of covariates known in advance (prices, promotions):
            their values for the future are the rows after the last value,
            whose value cell is empty.
        past: columns of covariates observed with the series only.
        names: (date column, value column) names to take where the file
            has them and neither column is given, else found as by default
            (a trained forecaster's, on a file that may name them otherwise).
    """
    if fill not in FILLS:
        raise InputError(f"fill must be one of {', '.join(FILLS)}, got {fill!r}")
    path = os.fspath(path)
    header, body = _read_rows(path)
    date_col, value_col = [given if given is not None or name not in header else name
                           for given, name in zip((date_col, value_col), names)]
    date_index = _column(header, date_col, "--date-col")
    value_index = _column(header, value_col, "--value-col")
    if date_index is None:  # a column named for dates, of dates; if none is, the first named
        # (whose first cell that is not a date is then named in the error)
        named = [i for i, name in enumerate(header)
                 if name.lower() in DATE_NAMES and i != value_index]
        date_index = next((i for i in named if _is_date_column(body, i)), named[0] if named
                          else None)
    if date_index is None:  # a column of dates under another name, compact ones not taken
        date_index = next((i for i in range(len(header)) if i != value_index
                           and _is_date_column(body, i, compact=False)), None)
    if value_index is None:  # the first column of numbers after the dates, not a row counter
        after = 0 if date_index is None else date_index + 1
        candidates = [i for i in [*range(after, len(header)), *range(after)] if i != date_index]
        value_index = next((i for i in candidates if not _counts_rows(body, i) and all(
            _number(row[i]) is not None or row[i].lower() in MISSING for _, row in body)),
            candidates[0] if candidates else None)
        if value_index is None:
            raise DataFileError("has no value column (only the date column)", path)
    if value_index == date_index:
        raise InputError(f"the date and value columns are the same ({header[value_index]!r})")
    known_index = [_column(header, c, "--known") for c in known]
    past_index = [_column(header, c, "--past") for c in past]
    taken = [date_index, value_index, *known_index, *past_index]
    if len(set(taken)) < len(taken):
        raise InputError("the date, value and covariate columns must all be different columns")
    values, missing = _numbers(body, value_index, header, path)
    future = 0
    if known_index:  # the rows after the last value hold the known covariates' future
        while future < len(body) and math.isnan(values[len(body) - 1 - future]):
            future += 1
        if future == len(body):
            raise DataFileError(f"column {header[value_index]!r} holds no values", path)
        missing = [k for k in missing if k < len(body) - future]
        values = values[:len(body) - future]
    lines = [n for n, _ in body]
    dates = None
    if date_index is not None:
        dates = []
        for n, row in body:
            d = parse_date(row[date_index])
            if d is None:
                raise DataFileError(f"{row[date_index]!r} in column {header[date_index]!r} is not "
                                    "a date (YYYY, YYYY-MM, YYYY-MM-DD, YYYY-MM-DD HH:MM, "
                                    "YYYYMM or YYYYMMDD)",
                                    path, n, date_index + 1)
            if dates and d <= dates[-1]:
                what = "repeats" if d == dates[-1] else "comes before"
                raise DataFileError(f"date {row[date_index]} {what} the previous row's: rows must "
                                    "be in time order, oldest first, one per date", path, n,
                                    date_index + 1)
            dates.append(d)
    if missing and fill == "refuse":
        trailing = missing == list(range(len(values) - len(missing), len(values)))
        raise _missing_error(missing, lines, header[value_index], path, hint=(
            " (rows after the last value hold the future of covariates known in advance: name "
            "those columns with --known)" if trailing and len(header) > 2 else ""))
    if missing and len(missing) == len(values):
        raise DataFileError(f"column {header[value_index]!r} holds no values", path)
    covariates = []
    for index, rows in [(i, len(body)) for i in known_index] + [
            (i, len(values)) for i in past_index]:
        column, gaps_in = _numbers(body[:rows], index, header, path)
        if len(gaps_in) == rows:
            raise DataFileError(f"column {header[index]!r} holds no values", path)
        if gaps_in and fill == "refuse":
            raise _missing_error(gaps_in, lines, header[index], path)
        covariates.append(column)
    n = len(values)
    frequency = infer_frequency(dates) if dates else None
    gaps = []
    if frequency is not None:
        for k, (a, b) in enumerate(zip(dates, dates[1:])):
            steps = _steps_between(a, b, frequency)
            if steps != int(steps):
                raise DataFileError(f"date {b} is off the {frequency} grid of the dates before it "
                                    f"(a step of {steps:g}); the dates must be evenly spaced", path,
                                    lines[k + 1], date_index + 1)
            if steps > 1:
                if k + 1 >= n:
                    raise DataFileError(f"the future rows of the known covariates skip dates "
                                        f"after {a}: they must follow on, one per step", path,
                                        lines[k + 1], date_index + 1)
                gaps.append((lines[k], int(steps) - 1))
    columns = np.stack([np.concatenate([values, np.full(len(body) - n, np.nan)]), *[
        np.concatenate([c, np.full(len(body) - len(c), np.nan)]) for c in covariates]], 1)
    if gaps and fill != "refuse":
        inserted = sum(count for _, count in gaps)
        columns, dates, lines = _insert_gaps(columns, dates, lines, frequency)
        n += inserted
    K = len(known_index)
    columns[:n] = _fill(columns[:n], fill)
    columns[:, 1:K + 1] = _fill(columns[:, 1:K + 1], fill)  # the future rows too
    return TimeSeries(columns[:n, 0], None if dates is None else dates[:n], frequency,
                      season_of(frequency), header[value_index],
                      None if date_index is None else header[date_index], lines[:n], gaps, path,
                      known=columns[:, 1:K + 1] if K else None,
                      past=columns[:n, K + 1:] if past_index else None,
                      known_names=[header[i] for i in known_index],
                      past_names=[header[i] for i in past_index],
                      future_row_dates=None if dates is None else dates[n:])


def _counts_rows(body, i):
    """Whether column i counts the rows: whole numbers, each one more than the last."""
    cells = [row[i] for _, row in body]
    if len(cells) < 2 or not all(c.lstrip("-").isdigit() for c in cells):
        return False
    numbers = [int(c) for c in cells]
    return all(b - a == 1 for a, b in zip(numbers, numbers[1:]))


def _is_date_column(body, i, compact=True):
    """Whether every cell of column i is a date; a column of bare numbers
    (years?) only when they increase, so counts and prices are not read as years."""
    dates = [parse_date(row[i], compact) for _, row in body]
    if any(d is None for d in dates):
        return False
    if all(row[i].isdigit() for _, row in body):
        return all(a < b for a, b in zip(dates, dates[1:]))
    return True


def _csv_rows(path):
    """The non-blank rows of a CSV file: (line number, stripped cells), the
    delimiter read from its first lines (delimiter_of)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            text = f.read()
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter_of(text))
        rows = [(reader.line_num, row) for row in reader]
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataFileError(f"cannot be read as CSV text: {e}", path) from None
    return [(n, [c.strip() for c in row]) for n, row in rows if any(c.strip() for c in row)]


def delimiter_of(text):
    """The delimiter of a table's text: of comma, tab, semicolon and pipe,
    the one that splits its first two non-blank lines into the same number
    of fields, the most (a comma where none does: one column)."""
    lines = [line for line in text.splitlines() if line.strip()][:2]
    best, most = ",", 1
    for d in DELIMITERS:
        counts = {line.count(d) for line in lines}
        if len(counts) == 1 and counts.pop() + 1 > most:
            best, most = d, lines[0].count(d) + 1
    return best


def _read_rows(path):
    """The header and the data rows of a CSV file, each as long as the
    header. A first row of dates and numbers alone is data: the columns are
    then named 'column 1', 'column 2', ..."""
    rows = _csv_rows(path)
    headless = bool(rows) and all(_number(c) is not None or parse_date(c) is not None
                                  for c in rows[0][1])
    if len(rows) < 2 - headless:
        raise DataFileError("holds no data rows (a header and at least one row are needed)", path)
    header = [(c if not headless else "") or f"column {i + 1}" for i, c in enumerate(rows[0][1])]
    body = rows if headless else rows[1:]
    for n, row in body:
        if len(row) != len(header):
            raise DataFileError(f"has {len(row)} fields, the header {len(header)}", path, n)
    return header, body


def _numbers(body, index, header, path):
    """Column `index` of the rows as floats (NaN where missing) and the
    positions of the missing cells; anything else not a finite number is
    an error naming its line and column."""
    values, missing = np.empty(len(body)), []
    for k, (n, row) in enumerate(body):
        cell = row[index]
        number = _number(cell)
        if number is None:
            if cell.lower() not in MISSING:
                raise DataFileError(f"{cell!r} in column {header[index]!r} is not a number",
                                    path, n, index + 1)
            missing.append(k)
            number = math.nan
        elif math.isinf(number):
            raise DataFileError(f"{cell!r} in column {header[index]!r} is infinite", path, n,
                                index + 1)
        values[k] = number
    return values, missing


def _missing_error(missing, lines, name, path, hint=""):
    shown = ", ".join(str(lines[k]) for k in missing[:5]) + (", ..." if len(missing) > 5 else "")
    return DataFileError(f"{len(missing)} missing value(s) in column {name!r}, on line(s) "
                         f"{shown}; pass --fill interpolate or --fill previous to fill them"
                         + hint, path)


def read_dates(path):
    """The dates listed in a file (holidays, events): the first cell of each
    row that is a date (a header row and other columns are passed over)."""
    path = os.fspath(path)
    dates = []
    for k, (n, cells) in enumerate(_csv_rows(path)):
        found = next((d for d in map(parse_date, cells) if d is not None), None)
        if found is None:
            if dates or k > 0:  # only a first row may be a header
                raise DataFileError(f"holds no date (YYYY-MM-DD): {','.join(cells)!r}", path, n)
            continue
        dates.append(found)
    if not dates:
        raise DataFileError("holds no dates", path)
    return sorted(set(dates))


def _number(text):
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def _insert_gaps(columns, dates, lines, frequency):
    """The missing dates of the grid inserted, their rows of `columns`
    (steps, C) NaN (filled next)."""
    rows, out_dates, out_lines = [columns[0]], [dates[0]], [lines[0]]
    for k in range(1, len(columns)):
        steps = int(_steps_between(dates[k - 1], dates[k], frequency))
        for j in range(1, steps):
            rows.append(np.full(columns.shape[1], math.nan))
            out_dates.append(step_date(dates[k - 1], frequency, j))
            out_lines.append(None)
        rows.append(columns[k])
        out_dates.append(dates[k])
        out_lines.append(lines[k])
    return np.array(rows), out_dates, out_lines


def _fill(columns, fill):
    """NaN in each column of (steps, C) filled: linearly between neighbours
    (the ends with the nearest value), or with the previous value (the
    first ones with the first value). A column with no value is left as it is."""
    out = columns.copy()
    steps = np.arange(len(columns))
    for c in range(columns.shape[1]):
        values = columns[:, c]
        known = ~np.isnan(values)
        if known.all() or not known.any():
            continue
        if fill == "interpolate":
            out[:, c] = np.interp(steps, steps[known], values[known])
        else:
            index = np.maximum.accumulate(np.where(known, steps, -1))  # the last known step so far
            out[:, c] = np.where(index >= 0, values[np.maximum(index, 0)], values[known][0])
    return out


def describe(series):
    """One line about a series as read: its size, dates, frequency and gaps."""
    text = f"{series.path}: {len(series)} values of {series.name!r}"
    if series.dates:
        text += (f", {series.dates[0]:%Y-%m-%d} to {series.dates[-1]:%Y-%m-%d}, "
                 f"{series.frequency or 'irregular'} (season {series.season})")
    if series.gaps:
        total = sum(n for _, n in series.gaps)
        where = ", ".join(f"after line {line}" for line, _ in series.gaps[:3])
        text += (f"; {total} date(s) missing ({where}{', ...' if len(series.gaps) > 3 else ''})"
                 + (", rows used as they are (--fill interpolate inserts them)"
                    if series.lines and None not in series.lines else ", inserted and filled"))
    return text
