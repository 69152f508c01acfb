"""Known-future covariates derived from the calendar, and the input steps
a forecasting network reads.

Calendar features are sine and cosine pairs of the position within each
cycle the dates' frequency has (month of the year for monthly data; day of
the week and of the year for daily data; ...), so they are known for every
future date. Without dates they are the position within the seasonal
period, counted from the series' first step. Holidays a user lists are a
known-future feature too: how many fall in each step.
"""

import bisect
import datetime
import math

import numpy as np

from ..data.timeseries import step_date

CYCLES = {  # frequency: functions of a datetime -> (position, period)
    "monthly": [lambda d: (d.month - 1, 12)],
    "quarterly": [lambda d: ((d.month - 1) // 3, 4)],
    "weekly": [lambda d: (d.timetuple().tm_yday - 1, 365.25)],
    "daily": [lambda d: (d.weekday(), 7), lambda d: (d.timetuple().tm_yday - 1, 365.25)],
    "hourly": [lambda d: (d.hour, 24), lambda d: (d.weekday(), 7)],
    "yearly": [],
}


def calendar_width(frequency, season):
    """Features per step that `calendar_features` gives."""
    if frequency in CYCLES:
        return 2 * len(CYCLES[frequency])
    return 2 if season > 1 else 0


def calendar_features(steps, frequency=None, season=1, dates=None):
    """(len(steps), width) sine/cosine features of the calendar.

    Args:
        steps: the steps' positions from the series' first (used without dates).
        frequency, dates: with both, the cycles of CYCLES[frequency] read off
            each date (dates holds one datetime per step).
        season: without dates, one cycle of this period over the positions.
    """
    steps = np.asarray(steps)
    if dates is not None and frequency in CYCLES:
        columns = []
        for cycle in CYCLES[frequency]:
            angle = np.array([2 * math.pi * p / period for p, period in map(cycle, dates)])
            columns += [np.sin(angle), np.cos(angle)]
        return np.stack(columns, 1) if columns else np.zeros((len(steps), 0))
    if season > 1:
        angle = 2 * math.pi * (steps % season) / season
        return np.stack([np.sin(angle), np.cos(angle)], 1)
    return np.zeros((len(steps), 0))


def holiday_counts(dates, frequency, holidays):
    """(len(dates), 1): how many of the days in `holidays` (sorted dates)
    overlap each step, the step of date d lasting until the next date at
    `frequency` (a month's step counts its holidays; an hour's, 1 on a holiday)."""
    days = sorted({datetime.datetime(h.year, h.month, h.day) for h in holidays})
    counts = []
    for d in dates:
        end = step_date(d, frequency, 1)
        first = bisect.bisect_right(days, d - datetime.timedelta(days=1))  # days ending after d
        counts.append(bisect.bisect_left(days, end) - first)
    return np.array(counts, dtype=np.float64)[:, None]
