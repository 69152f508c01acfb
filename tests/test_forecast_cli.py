"""`lstmkit forecast` end to end on a tiny CSV: training with its backtest
table, the forecast CSV and PNG, forecasting from a saved model, and every
bad input as a one-line error with exit code 2 and nothing left in --out."""

import csv
import os

import numpy as np
import pytest

from lstmkit.cli import main
from lstmkit.data.timeseries import read_series_csv

FAST = ["--epochs", "2", "--members", "1", "--lookbacks", "1", "--quiet"]


def write_csv(path, rows, header=("Month", "Sales")):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return str(path)


def monthly(n=48, start=2000):
    t = np.arange(n)
    values = 100 + 2 * t + 10 * np.sin(2 * np.pi * t / 12)
    return [(f"{start + i // 12}-{i % 12 + 1:02d}", f"{v:.2f}") for i, v in enumerate(values)]


def test_train_then_forecast_from_the_saved_model(tmp_path, capsys):
    data = write_csv(tmp_path / "sales.csv", monthly())
    out = tmp_path / "run"
    assert main(["forecast", data, "--horizon", "6", "--out", str(out), *FAST]) == 0
    printed = capsys.readouterr().out
    assert "monthly (season 12)" in printed and "seasonal_naive" in printed
    assert {"forecast.csv", "forecast.png", "forecaster.json", "report.json",
            "member-0"} <= set(os.listdir(out))
    rows = list(csv.DictReader(open(out / "forecast.csv")))
    assert [r["date"] for r in rows] == [f"2004-{m:02d}" for m in range(1, 7)]
    assert all(float(r["lower_80%"]) <= float(r["forecast"]) <= float(r["upper_80%"])
               for r in rows)
    # the saved model, on the same data without --out, prints the same forecast
    assert main(["forecast", "--model", str(out), data]) == 0
    again = capsys.readouterr().out
    assert again.splitlines()[-6:] == open(out / "forecast.csv").read().splitlines()[-6:]
    # and on newer data it forecasts on from there
    newer = write_csv(tmp_path / "newer.csv", monthly(60))
    assert main(["forecast", "--model", str(out), newer, "--out", str(tmp_path / "next")]) == 0
    assert open(tmp_path / "next" / "forecast.csv").read().splitlines()[1].startswith("2005-01")


def test_help_has_an_example(capsys):
    with pytest.raises(SystemExit):
        main(["forecast", "--help"])
    assert "lstmkit forecast airline-passengers.csv --horizon 24" in capsys.readouterr().out


def _bad(tmp_path, capsys, rows, *options, header=("Month", "Sales")):
    data = write_csv(tmp_path / "bad.csv", rows, header)
    out = tmp_path / "out"
    code = main(["forecast", data, *options, "--out", str(out), *FAST])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert not out.exists() and not [p for p in os.listdir(tmp_path) if p.startswith(".out")]
    return err


def test_bad_input_is_one_line_exit_2_nothing_written(tmp_path, capsys):
    good = monthly()
    assert "need at least 26" in _bad(tmp_path, capsys, good[:20], "--horizon", "12")
    rows = list(good)
    rows[6] = (rows[6][0], "abc")
    assert "line 8, column 2: 'abc' in column 'Sales' is not a number" in _bad(
        tmp_path, capsys, rows, "--horizon", "6")
    rows[6] = (rows[6][0], "inf")
    assert "infinite" in _bad(tmp_path, capsys, rows, "--horizon", "6")
    rows[6] = (rows[6][0], "NaN")
    assert "missing value(s)" in _bad(tmp_path, capsys, rows, "--horizon", "6")
    rows = list(good)
    rows[3], rows[4] = rows[4], rows[3]
    assert "comes before the previous row's" in _bad(tmp_path, capsys, rows, "--horizon", "6")
    rows = list(good)
    rows[4] = (rows[3][0], rows[4][1])
    assert "repeats the previous row's" in _bad(tmp_path, capsys, rows, "--horizon", "6")
    constant = [(d, "5.0") for d, _ in good]
    assert "constant" in _bad(tmp_path, capsys, constant, "--horizon", "6")
    assert "--horizon must be at least 1" in _bad(tmp_path, capsys, good, "--horizon", "0")
    assert "--season must be a positive" in _bad(tmp_path, capsys, good, "--horizon", "6",
                                                  "--season", "-3")
    assert "--value-col 'Price' is not a column" in _bad(tmp_path, capsys, good, "--horizon",
                                                          "6", "--value-col", "Price")


def test_reading_gaps_and_fill_policies(tmp_path):
    rows = [r for i, r in enumerate(monthly(24)) if i != 5]
    path = write_csv(tmp_path / "gap.csv", rows)
    kept = read_series_csv(path)
    assert len(kept) == 23 and kept.gaps == [(6, 1)] and kept.frequency == "monthly"
    filled = read_series_csv(path, fill="interpolate")
    assert len(filled) == 24 and filled.lines[5] is None
    assert filled.values[5] == pytest.approx((filled.values[4] + filled.values[6]) / 2)
    rows = monthly(24)
    rows[2] = (rows[2][0], "")
    previous = read_series_csv(write_csv(tmp_path / "hole.csv", rows), fill="previous")
    assert previous.values[2] == previous.values[1]
    daily = write_csv(tmp_path / "d.csv", [("1-01-0%d" % (i + 1), str(i)) for i in range(5)])
    assert read_series_csv(daily).season == 7


def test_dates_in_the_first_years_of_the_calendar_plot_against_step_numbers(tmp_path):
    """shampoo.csv's months read "1-01".."3-12" (years 1 to 3), below what
    matplotlib's date axis can show with its margins."""
    data = write_csv(tmp_path / "shampoo.csv",
                     [(f"{1 + i // 12}-{i % 12 + 1:02d}", f"{100 + 5 * i + (i % 12):.1f}")
                      for i in range(36)])
    assert main(["forecast", data, "--horizon", "6", "--out", str(tmp_path / "run"), *FAST]) == 0
    assert (tmp_path / "run" / "forecast.png").stat().st_size > 0
