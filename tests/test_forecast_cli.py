"""`lstmkit forecast` end to end on a tiny CSV: training with its backtest
table, the forecast CSV and PNG, forecasting from a saved model, and every
bad input as a one-line error with exit code 2 and nothing left in --out."""

import csv
import json
import os

import numpy as np
import pytest

from lstmkit.cli import main
from lstmkit.data.timeseries import read_series_csv
from lstmkit.errors import DataFileError
from lstmkit.forecast import Forecaster

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
    # a file of other column names: found as in training, with a note naming the option
    renamed = write_csv(tmp_path / "renamed.csv", monthly(60), header=("date", "units"))
    capsys.readouterr()
    assert main(["forecast", "--model", str(out), renamed, "--out", str(tmp_path / "r")]) == 0
    err = capsys.readouterr().err
    assert "trained on column 'Month' as its dates" in err and "--date-col names it" in err
    assert "trained on column 'Sales' as its values" in err
    assert open(tmp_path / "r" / "forecast.csv").read().splitlines()[1].startswith("2005-01")
    undated = tmp_path / "undated.csv"
    undated.write_text("units\n" + "".join(f"{v}\n" for _, v in monthly(60)))
    assert main(["forecast", "--model", str(out), str(undated)]) == 0
    assert "has none of that name, so it is read undated (--date-col" in capsys.readouterr().err


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
    assert "--folds must be 0 (no backtest) or more" in _bad(tmp_path, capsys, good,
                                                             "--horizon", "6", "--folds", "-1")


def test_a_series_that_repeats_itself_exactly_trains_and_folds_0_skips_the_backtest(
        tmp_path, capsys):
    """Its MASE is undefined (seasonal naive makes no error in sample): the
    backtest says so and shows the other figures; --folds 0 has none."""
    periodic = [(d, f"{100 + 10 * np.sin(2 * np.pi * (i % 12) / 12):.3f}")
                for i, (d, _) in enumerate(monthly())]
    data = write_csv(tmp_path / "periodic.csv", periodic)
    assert main(["forecast", data, "--horizon", "6", "--out", str(tmp_path / "a"), *FAST]) == 0
    printed = capsys.readouterr().out
    assert "MASE is undefined" in printed and "compare by sMAPE and RMSE" in printed
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    assert report["backtest"]["mean"]["lstmkit"]["mase"] is None
    assert report["backtest"]["mean"]["lstmkit"]["rmse"] > 0
    assert main(["forecast", data, "--horizon", "6", "--folds", "0", "--out",
                 str(tmp_path / "b"), *FAST]) == 0
    assert "backtest: none" in capsys.readouterr().out
    assert json.loads((tmp_path / "b" / "report.json").read_text())["backtest"] is None


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


def test_the_value_column_by_default_passes_over_a_row_counter(tmp_path):
    rows = monthly(24)
    pandas = write_csv(tmp_path / "pandas.csv", [(i, *r) for i, r in enumerate(rows)],
                       header=("", "Month", "Sales"))  # pandas' to_csv writes its index so
    counted = write_csv(tmp_path / "t.csv", [(i + 1, r[1]) for i, r in enumerate(rows)],
                        header=("t", "Sales"))
    after = write_csv(tmp_path / "after.csv", [(7, r[0], r[1]) for r in rows],
                      header=("store", "Month", "Sales"))  # after the dates, first
    for path in (pandas, counted, after):
        series = read_series_csv(path)
        assert series.name == "Sales" and series.values[0] == float(rows[0][1]), path


def test_tab_and_semicolon_files_and_a_file_without_a_header(tmp_path):
    rows = monthly(24)
    for name, delimiter in (("t.tsv", "\t"), ("s.csv", ";")):
        path = tmp_path / name
        path.write_text("\n".join(delimiter.join(r) for r in [("Month", "Sales"), *rows]) + "\n")
        series = read_series_csv(path)
        assert series.name == "Sales" and len(series) == 24 and series.frequency == "monthly"
    bare = tmp_path / "bare.csv"
    bare.write_text("\n".join(",".join(r) for r in rows) + "\n")
    series = read_series_csv(bare)  # the first row is data, not a header
    assert len(series) == 24 and series.values[0] == float(rows[0][1]) and series.lines[0] == 1


def test_a_column_named_for_dates_must_hold_dates_and_iso_8601_reads(tmp_path):
    rows = monthly(24)
    rising = [(f"01/{r[0][5:]}/{r[0][:4]}", i + 100) for i, r in enumerate(rows)]  # 100, 101..
    with pytest.raises(DataFileError, match=r"line 2, column 1: '01/01/2000' in column 'date' "
                                            r"is not a date"):
        read_series_csv(write_csv(tmp_path / "us.csv", rising, header=("date", "value")))
    iso = write_csv(tmp_path / "iso.csv", [(r[0] + "-01T00:00:00.000Z", r[1]) for r in rows],
                    header=("timestamp", "value"))
    series = read_series_csv(iso)
    assert series.frequency == "monthly" and len(series) == 24


def test_compact_dates_of_statistics_offices_read_as_dates(tmp_path):
    rows = [(r[0].replace("-", ""), r[1]) for r in monthly(24)]  # 200001, 200002, ...
    series = read_series_csv(write_csv(tmp_path / "eia.csv", rows, header=("period", "value")))
    assert series.frequency == "monthly" and series.dates[13].month == 2 and len(series) == 24
    daily = [(f"2020{1 + i // 28:02d}{1 + i % 28:02d}", i % 7) for i in range(56)]
    series = read_series_csv(write_csv(tmp_path / "d.csv", daily, header=("date", "y")))
    assert series.date_name == "date" and series.frequency == "daily"
    assert series.gaps == [(29, 3)]  # 28 days a month here: January 29 to 31 are missing
    # under another name, six digits are as likely a value: read as one, not as dates
    unnamed = read_series_csv(write_csv(tmp_path / "u.csv", daily, header=("when", "y")))
    assert unnamed.date_name is None and unnamed.name == "when"
    bad = write_csv(tmp_path / "bad.csv", [("200013", 1), ("200014", 2)], header=("month", "v"))
    with pytest.raises(DataFileError, match="'200013' in column 'month' is not a date"):
        read_series_csv(bad)


def test_dates_in_the_first_years_of_the_calendar_plot_against_step_numbers(tmp_path):
    """shampoo.csv's months read "1-01".."3-12" (years 1 to 3), below what
    matplotlib's date axis can show with its margins."""
    data = write_csv(tmp_path / "shampoo.csv",
                     [(f"{1 + i // 12}-{i % 12 + 1:02d}", f"{100 + 5 * i + (i % 12):.1f}")
                      for i in range(36)])
    assert main(["forecast", data, "--horizon", "6", "--out", str(tmp_path / "run"), *FAST]) == 0
    assert (tmp_path / "run" / "forecast.png").stat().st_size > 0


def daily_with_covariates(n=70, ahead=7, seed=0):
    """Daily sales driven by a known price and a past-only visit count; the
    last `ahead` rows carry the price only (the future, its sales empty)."""
    rng = np.random.default_rng(seed)
    price = 10 + rng.integers(0, 3, n + ahead)
    visits = 50 + rng.normal(0, 5, n)
    rows = []
    for i in range(n + ahead):
        sales = "" if i >= n else f"{200 - 8 * price[i] + 0.5 * visits[i] + 3 * (i % 7):.2f}"
        rows.append((str(np.datetime64("2021-01-01") + i), sales, str(price[i]),
                     "" if i >= n else f"{visits[i]:.1f}"))
    return rows


def test_known_and_past_covariates_and_holidays_from_the_command_line(tmp_path, capsys):
    data = write_csv(tmp_path / "shop.csv", daily_with_covariates(),
                     header=("day", "sales", "price", "visits"))
    holidays = tmp_path / "holidays.csv"
    holidays.write_text("date,name\n2021-01-01,new year\n2021-03-15,spring fair\n")
    out = tmp_path / "run"
    assert main(["forecast", data, "--horizon", "7", "--known", "price", "--past", "visits",
                 "--holidays", str(holidays), "--difference", "--out", str(out), *FAST]) == 0
    capsys.readouterr()
    rows = list(csv.DictReader(open(out / "forecast.csv")))
    assert [r["date"] for r in rows][0] == "2021-03-12" and len(rows) == 7
    f = Forecaster.load(out)
    assert f.preprocessing.widths == {"known": 2, "past": 1, "static": 0}  # price, holidays
    assert f.settings["difference"]
    saved = json.load(open(out / "forecaster.json"))["info"]["data"]
    assert saved["known"] == ["price"] and saved["holidays"] == ["2021-01-01", "2021-03-15"]
    # the saved model reads the same columns (and holidays) from new data
    assert main(["forecast", "--model", str(out), data]) == 0
    assert capsys.readouterr().out.splitlines()[-7:] == open(
        out / "forecast.csv").read().splitlines()[-7:]


def test_covariate_mistakes_are_one_line_errors(tmp_path, capsys):
    rows = daily_with_covariates(ahead=3)
    header = ("day", "sales", "price", "visits")
    assert "need their next 7 values" in _bad(tmp_path, capsys, rows, "--horizon", "7",
                                              "--known", "price", header=header)
    assert "--known 'cost' is not a column" in _bad(tmp_path, capsys, rows, "--horizon", "3",
                                                    "--known", "cost", header=header)
    assert "name those columns with --known" in _bad(tmp_path, capsys, rows, "--horizon", "3",
                                                     "--past", "visits", header=header)
    holes = [tuple(r) for r in rows[:-3]]
    holes[10] = (holes[10][0], holes[10][1], holes[10][2], "")
    assert "missing value(s) in column 'visits', on line(s) 12" in _bad(
        tmp_path, capsys, holes, "--horizon", "3", "--past", "visits", header=header)
    no_dates = tmp_path / "nodates.txt"
    no_dates.write_text("holiday\nsoon\n")
    assert "holds no date" in _bad(tmp_path, capsys, monthly(), "--horizon", "6", "--holidays",
                                   str(no_dates))
    (tmp_path / "h.csv").write_text("2020-01-01\n")
    assert "--holidays needs dates" in _bad(
        tmp_path, capsys, [(str(i), f"{100 + i % 5}") for i in range(40)], "--horizon", "4",
        "--holidays", str(tmp_path / "h.csv"), header=("step", "value"))


def test_holiday_counts_per_step():
    import datetime

    from lstmkit.forecast.features import holiday_counts
    days = [datetime.datetime(2020, 1, 1), datetime.datetime(2020, 1, 20),
            datetime.datetime(2020, 2, 14)]
    months = [datetime.datetime(2020, m, 1) for m in (1, 2, 3)]
    assert holiday_counts(months, "monthly", days)[:, 0].tolist() == [2, 1, 0]
    hours = [datetime.datetime(2019, 12, 31, 23), datetime.datetime(2020, 1, 1, 0),
             datetime.datetime(2020, 1, 1, 13)]
    assert holiday_counts(hours, "hourly", days)[:, 0].tolist() == [0, 1, 1]
