"""Forecast with a forecaster exported by `lstmkit export`, with onnxruntime
and the standard library alone: neither torch nor lstmkit is imported.

    .venv/bin/lstmkit forecast airline-passengers.csv --horizon 24 --out runs/airline
    .venv/bin/lstmkit export runs/airline      # forecaster.onnx, forecaster.pipeline.json
    .venv/bin/python examples/onnx_forecast.py runs/airline/forecaster.onnx airline-passengers.csv

The graph holds the whole pipeline (scaling, windows, the members, their
median and the intervals); what it needs from here is the CSV's values,
the dates of those values and of the horizon's steps (year, month, day,
hour), and the covariates it was trained with: the --known columns (their
future in the rows after the last value), the --past columns and the
holidays, counted per step. forecaster.pipeline.json names all of them.
Prints one line per future step: date, forecast, lower and upper bound.
"""

import csv
import datetime
import json
import sys

import numpy as np
import onnxruntime

MONTHS = {"monthly": 1, "quarterly": 3, "yearly": 12}
DURATIONS = {"daily": datetime.timedelta(days=1), "weekly": datetime.timedelta(days=7),
             "hourly": datetime.timedelta(hours=1)}


def parse_date(text):
    """YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS]."""
    day, _, time = text.strip().replace("T", " ").partition(" ")
    parts = [int(p) for p in day.split("-")] + [1, 1][: 3 - len(day.split("-"))]
    hour, minute = (int(p) for p in (time.split(":") + ["0"])[:2]) if time else (0, 0)
    return datetime.datetime(parts[0], parts[1], parts[2], hour, minute)


def step(date, frequency, k):
    """The date k steps after `date`."""
    if frequency in MONTHS:
        months = date.year * 12 + date.month - 1 + k * MONTHS[frequency]
        return date.replace(year=months // 12, month=months % 12 + 1)
    return date + k * DURATIONS[frequency]


def holiday_counts(dates, frequency, holidays):
    """How many holiday days overlap each step (a step lasts until the next date)."""
    days = {datetime.datetime(h.year, h.month, h.day) for h in holidays}
    return [sum(d - datetime.timedelta(days=1) < h < step(d, frequency, 1) for h in days)
            for d in dates]


def read_csv(path, pipeline):
    """The values, dates and covariates of the columns the forecaster was trained on."""
    columns = pipeline["columns"] or {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [row for row in csv.DictReader(f)]
    value, date = columns.get("value_col"), columns.get("date_col")
    value = value or next(name for name in rows[0] if name != date)
    observed = [r for r in rows if r[value].strip()]
    future = rows[len(observed):]
    return {"values": [float(r[value]) for r in observed],
            "dates": [parse_date(r[date]) for r in observed] if date else None,
            "known": [[float(r[c]) for c in columns.get("known") or []] for r in rows],
            "past": [[float(r[c]) for c in columns.get("past") or []] for r in observed],
            "future_rows": len(future)}


def main(graph, data):
    stem = graph[:-5] if graph.endswith(".onnx") else graph
    with open(stem + ".pipeline.json", encoding="utf-8") as f:
        pipeline = json.load(f)
    wanted = {entry["name"] for entry in pipeline["inputs"]}
    series = read_csv(data, pipeline)
    H, n = pipeline["horizon"], len(series["values"])
    feeds = {"values": np.array([series["values"]], np.float32),
             "lengths": np.array([n], np.int64)}
    future = None
    if series["dates"] is not None and pipeline["frequency"]:
        future = [step(series["dates"][-1], pipeline["frequency"], k) for k in range(1, H + 1)]
    if "series" in wanted:
        feeds["series"] = np.array([0], np.int64)  # the first training series' scaling
    if "dates" in wanted:
        feeds["dates"] = np.array([[[d.year, d.month, d.day, d.hour]
                                    for d in series["dates"] + future]], np.int64)
    if "steps_seen" in wanted:
        feeds["steps_seen"] = np.array([n], np.int64)
    if "known" in wanted:
        known = [row[:] for row in series["known"][:n + H]]
        holidays = (pipeline["columns"] or {}).get("holidays")
        if holidays:
            counts = holiday_counts(series["dates"] + future, pipeline["frequency"],
                                    [parse_date(h) for h in holidays])
            known = [row + [c] for row, c in zip(known, counts)]
        feeds["known"] = np.array([known], np.float32)
    if "past" in wanted:
        feeds["past"] = np.array([series["past"]], np.float32)
    session = onnxruntime.InferenceSession(graph, providers=["CPUExecutionProvider"])
    quantiles = session.run(["quantiles"], feeds)[0][0]  # (H, Q)
    median = pipeline["quantiles"].index(0.5)
    for k in range(H):
        when = future[k].isoformat(sep=" ") if future else f"step {n + k + 1}"
        print(f"{when}\t{quantiles[k, median]:.6g}\t{quantiles[k, 0]:.6g}\t{quantiles[k, -1]:.6g}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} FORECASTER.onnx DATA.csv")
    main(sys.argv[1], sys.argv[2])
