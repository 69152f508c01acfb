"""Forecasting: a CSV series to a trained Forecaster, its backtest beside the
built-in baselines, and the forecast as CSV and PNG.

    lstmkit forecast DATA.csv --horizon H --out DIR     train, backtest, forecast
    lstmkit forecast --model DIR DATA.csv [--out DIR2]  forecast from new data

Covariates come from DATA.csv's other columns: --past columns are observed
with the series only; --known columns are known in advance (prices,
promotions), their next --horizon values in the rows after the last value,
whose value cell is left empty. --holidays FILE lists dates; how many fall
in each step is a known feature too.

The output folder holds the forecaster (forecaster.json and its members),
forecast.csv (date, forecast, lower and upper bounds and every quantile,
one row per future step), forecast.png (history, forecast, interval) and
report.json (the data read, the settings, the backtest). It is staged in a
sibling folder and renamed into place when complete, so it never holds a
part.
"""

import json
import os
import sys

import numpy as np

from ..data.timeseries import FILLS, describe, parse_date, read_dates, read_series_csv
from ..distributed import is_main_process
from ..errors import InputError, MissingDependencyError
from ..files import atomic_write, check_folder_for, staged_folder, write_figure
from ..forecast.backtest import backtest
from ..forecast.baselines import BASELINES
from ..forecast.features import holiday_counts
from ..forecast.forecaster import TASK_NAME, Forecaster
from ..forecast.preprocessing import ForecastPreprocessing
from ..forecast.settings import DEFAULTS
from .base import Task, add_command, add_training_options


DEFAULT_OUT = "runs/forecast"


class Forecasting(Task):
    """A series -> an ensemble of LSTM forecasters; its models carry a
    ForecastPreprocessing."""

    name = TASK_NAME
    preprocessing = ForecastPreprocessing
    defaults = {"epochs": DEFAULTS["max_epochs"], "batch_size": DEFAULTS["batch_size"]}

    def add_commands(self, commands):
        parser = add_command(
            commands, "forecast", help="forecast a time series from a CSV file (train, "
            "backtest, forecast with intervals)",
            description="Train an LSTM forecaster on the series in DATA.csv, backtest it on the "
            "last horizon(s) beside the built-in baselines (naive, seasonal naive, drift, "
            "exponential smoothing), and write the next --horizon steps with prediction "
            "intervals to --out (forecast.csv, forecast.png, the model). With --model, forecast "
            "from DATA.csv with a saved model, without training.",
            examples=["lstmkit forecast airline-passengers.csv --horizon 24 --out runs/airline",
                      "lstmkit forecast sales.csv --horizon 12 --date-col Month --value-col Sales "
                      "--season 12 --folds 3 --out runs/sales",
                      "lstmkit forecast sales.csv --horizon 8 --known price,promo --past visits "
                      "--holidays holidays.csv --out runs/sales",
                      "lstmkit forecast --model runs/airline newer.csv --out runs/airline-next"])
        parser.add_argument("data", metavar="DATA.csv", help="a CSV file: a date column and a "
                            "value column, oldest first")
        parser.add_argument("--model", metavar="DIR", help="forecast with this saved forecaster "
                            "instead of training one")
        parser.add_argument("--horizon", type=int, help="steps to forecast (needed to train)")
        parser.add_argument("--date-col", help="the date column (default: the first column of "
                            "dates)")
        parser.add_argument("--value-col", help="the value column (default: the first numeric "
                            "column after the dates, a row counter such as pandas' index "
                            "passed over)")
        parser.add_argument("--season", type=int, help="the seasonal period m (default: from the "
                            "dates' frequency: 12 monthly, 7 daily, 4 quarterly, ...)")
        parser.add_argument("--fill", choices=FILLS, default="refuse",
                            help="missing values and dates: refuse (default: an error naming "
                            "the lines; gaps in the dates are used as they are), interpolate, "
                            "or previous (both insert missing dates)")
        parser.add_argument("--known", metavar="COLS", help="covariate columns known in "
                            "advance, comma-separated; their next --horizon values are the rows "
                            "after the last value (its cell empty)")
        parser.add_argument("--past", metavar="COLS", help="covariate columns observed with the "
                            "series only, comma-separated")
        parser.add_argument("--holidays", metavar="FILE", help="a file of dates (one per line, "
                            "or a CSV with a date column): how many fall in each step is a "
                            "known-future feature")
        parser.add_argument("--difference", action="store_true",
                            help="model the series' first differences (for a trend the window "
                            "level does not follow; default: the values)")
        parser.add_argument("--folds", type=int, default=1, help="rolling-origin backtest folds, "
                            "each a horizon apart (default 1: the last horizon; 0: none)")
        add_training_options(parser, self.defaults, out=DEFAULT_OUT)
        parser.set_defaults(out=None)  # with --model and no --out, the forecast goes to the terminal
        parser.add_argument("--members", type=int, default=DEFAULTS["seeds"],
                            help=f"members per input length (default {DEFAULTS['seeds']})")
        parser.add_argument("--lookbacks", default=",".join(f"{v:g}" for v in
                                                            DEFAULTS["lookbacks"]),
                            help="input lengths as multiples of the horizon, comma-separated "
                            "(default %(default)s)")
        parser.add_argument("--units", type=int, default=DEFAULTS["units"],
                            help=f"LSTM units (default {DEFAULTS['units']})")
        parser.add_argument("--recursive", action="store_true",
                            help="a one-step model rolled forward (default: direct multi-step)")
        parser.add_argument("--no-calibrate", action="store_true",
                            help="leave the intervals as trained (default: conformal "
                            "calibration on the inner validation block)")
        parser.set_defaults(run=run_forecast_command)


def settings_from(args):
    try:
        lookbacks = tuple(float(v) for v in args.lookbacks.split(","))
    except ValueError:
        raise InputError(f"--lookbacks must be numbers separated by commas, got "
                         f"{args.lookbacks!r}") from None
    return {"lookbacks": lookbacks, "seeds": args.members, "units": args.units,
            "max_epochs": args.epochs, "batch_size": args.batch_size,
            "recursive": args.recursive, "calibrate": not args.no_calibrate,
            "difference": args.difference}


def check_arguments(args):
    if args.horizon is not None and args.horizon < 1:
        raise InputError(f"--horizon must be at least 1, got {args.horizon}")
    if args.folds < 0:
        raise InputError(f"--folds must be 0 (no backtest) or more, got {args.folds}")
    if args.season is not None and args.season < 1:
        raise InputError(f"--season must be a positive number of steps, got {args.season}")
    if args.resume or args.checkpoint_every:
        raise InputError("forecast does not checkpoint or resume: a forecaster trains in "
                         "seconds to a minute; rerun without --resume / --checkpoint-every")
    if args.out is not None or not args.model:
        check_folder_for(args.out or DEFAULT_OUT)


def run_forecast_command(args):
    check_arguments(args)
    say = print if is_main_process() else _silent
    if args.model:
        return run_from_model(args, say)
    if args.horizon is None:
        raise InputError("--horizon H is needed to train (or give --model DIR to forecast "
                         "with a saved forecaster)")
    series = read_series_csv(args.data, args.date_col, args.value_col, args.fill,
                             known=_names(args.known), past=_names(args.past))
    holidays = read_dates(args.holidays) if args.holidays else None
    known, past = covariates(series, holidays, args.horizon, args.data)
    season = args.season or series.season
    say(describe(series))
    settings = settings_from(args)
    make = lambda: Forecaster(**settings)
    report = None
    if args.folds:
        say(f"backtest: {args.folds} fold(s) of {args.horizon} steps, season {season}")
        report = backtest(series.values, args.horizon, make, args.folds, season,
                          dates=series.dates,
                          fit_options={"frequency": series.frequency, "seed": args.seed},
                          print_fn=None if args.quiet else say, known=known, past=past)
        for line in metrics_table(report["mean"], season):
            say(line)
    else:
        say("backtest: none (--folds 0)")
    forecaster = make().fit(series, args.horizon, season=season, seed=args.seed, known=known,
                            past=past, print_fn=None if args.quiet else say)
    forecaster.info["data"] = {"file": os.path.basename(series.path), "value_col": series.name,
                               "date_col": series.date_name, "known": series.known_names,
                               "past": series.past_names,
                               "holidays": None if holidays is None else
                               [d.date().isoformat() for d in holidays]}
    forecast = forecaster.predict()
    if not is_main_process():
        return
    out = os.path.abspath(args.out or DEFAULT_OUT)
    summary = {"data": describe(series), "horizon": args.horizon, "season": season,
               "settings": {k: list(v) if isinstance(v, tuple) else v
                            for k, v in forecaster.settings.items()},
               "backtest": report, "seconds": forecaster.info["seconds"]}
    write_outputs(out, series, forecast, forecaster, summary, say)


def run_from_model(args, say):
    forecaster = Forecaster.load(args.model)
    pre = forecaster.preprocessing
    saved = forecaster.info.get("data") or {}
    if args.known or args.past:
        raise InputError("--known and --past name the columns a forecaster is trained with; "
                         "with --model the saved forecaster's are used: "
                         f"known {saved.get('known') or 'none'}, past {saved.get('past') or 'none'}")
    trained = (saved.get("date_col"), saved.get("value_col"))
    series = read_series_csv(args.data, args.date_col, args.value_col, args.fill,
                             known=saved.get("known") or (), past=saved.get("past") or (),
                             names=trained)
    for name, found, given, option, what in zip(
            trained, (series.date_name, series.name), (args.date_col, args.value_col),
            ("--date-col", "--value-col"), ("dates", "values")):
        if name is not None and given is None and found != name and is_main_process():
            # a file that names its columns otherwise: found as in training, and said
            instead = ("so it is read undated" if found is None else
                       f"so it is found as in training: {found!r}")
            print(f"note: the model was trained on column {name!r} as its {what}; {args.data} "
                  f"has none of that name, {instead} ({option} names it)", file=sys.stderr)
    say(describe(series))
    if pre.frequency is not None and series.frequency not in (None, pre.frequency):
        raise InputError(f"{args.data} is {series.frequency}; the model was trained on "
                         f"{pre.frequency} data")
    horizon = args.horizon or pre.horizon
    holidays = (read_dates(args.holidays) if args.holidays else
                [parse_date(d) for d in saved["holidays"]] if saved.get("holidays") else None)
    known, past = covariates(series, holidays, pre.horizon, args.data)
    forecast = forecaster.predict(horizon, series=series.values, dates=series.dates,
                                  known=known, past=past)
    if not is_main_process():
        return
    if args.out is None:
        print(forecast_csv(series, forecast), end="")
        return
    write_outputs(os.path.abspath(args.out), series, forecast, None,
                  {"data": describe(series), "model": os.path.abspath(args.model),
                   "horizon": horizon}, say)


def covariates(series, holidays, horizon, path):
    """The series' known-future covariates ((n + horizon, K): its --known
    columns, then the holiday counts) and past ones ((n, P)), or None each."""
    n, columns = len(series), []
    if series.known is not None:
        ahead = len(series.known) - n
        if ahead < horizon:
            raise InputError(f"{path}: the known covariates ({', '.join(series.known_names)}) "
                             f"need their next {horizon} values, in rows after the last value "
                             f"(its cell empty); the file has {ahead}")
        if series.dates is not None and series.frequency is not None and \
                series.future_row_dates[:horizon] != series.future_dates(horizon):
            raise InputError(f"{path}: the rows after the last value must carry the next "
                             f"{horizon} dates, one per step")
        columns.append(series.known[:n + horizon])
    if holidays is not None:
        if series.dates is None or series.frequency is None:
            raise InputError(f"--holidays needs dates at a regular frequency; {path} has "
                             + ("no date column" if series.dates is None else "irregular dates"))
        columns.append(holiday_counts(series.dates + series.future_dates(horizon),
                                      series.frequency, holidays))
    known = np.concatenate(columns, 1) if columns else None
    return known, series.past


def _names(text):
    return [c.strip() for c in text.split(",") if c.strip()] if text else []


def write_outputs(out, series, forecast, forecaster, summary, say):
    """Stage the output folder, then rename it into place."""
    with staged_folder(out) as tmp:
        if forecaster is not None:
            forecaster.write(tmp)
        atomic_write(os.path.join(tmp, "forecast.csv"), forecast_csv(series, forecast).encode())
        atomic_write(os.path.join(tmp, "report.json"),
                     json.dumps(summary, indent=2, default=str).encode())
        try:
            plot_forecast(series, forecast, os.path.join(tmp, "forecast.png"))
            plotted = True
        except MissingDependencyError as e:
            plotted = False
            say(f"note: {e}; forecast.png not written")
    say(f"forecast of {len(np.atleast_1d(forecast.point))} steps written to "
        f"{os.path.join(out, 'forecast.csv')}" + (" and forecast.png" if plotted else "")
        + (f"; the model to {out}" if forecaster is not None else ""))


def metrics_table(mean, season):
    """The backtest's mean figures, lstmkit first, then the baselines; a
    note under them where MASE is undefined."""
    lines = [f"{'method':<16}{'MASE':>8}{'sMAPE %':>9}{'RMSE':>11}{'coverage':>10}"]
    for method in ["lstmkit", *BASELINES]:
        f = mean[method]
        cov = f"{f['coverage']:.2f}" if "coverage" in f else ""
        scaled = "-" if f["mase"] is None else f"{f['mase']:.3f}"
        lines.append(f"{method:<16}{scaled:>8}{f['smape']:>9.2f}{f['rmse']:>11.4g}{cov:>10}")
    if mean["lstmkit"]["mase"] is None:
        lines.append(f"MASE is undefined: before a fold's origin the series repeats itself "
                     f"exactly with period {season} (seasonal naive makes no error there); "
                     "compare by sMAPE and RMSE")
    return lines


def forecast_csv(series, forecast):
    """date, forecast, lower, upper and each quantile; one row per future step."""
    quantiles = sorted(forecast.quantiles)
    header = ["date" if forecast.dates is not None else "step", "forecast",
              f"lower_{forecast.level:.0%}", f"upper_{forecast.level:.0%}",
              *(f"q{q:g}" for q in quantiles)]
    rows = [",".join(header)]
    for k in range(len(forecast.point)):
        when = (_date_text(forecast.dates[k], series.frequency) if forecast.dates is not None
                else str(len(series) + k + 1))
        rows.append(",".join([when, *(f"{v:.6g}" for v in (
            forecast.point[k], forecast.lower[k], forecast.upper[k],
            *(forecast.quantiles[q][k] for q in quantiles)))]))
    return "\n".join(rows) + "\n"


def _date_text(date, frequency):
    if frequency in ("monthly", "quarterly"):
        return f"{date.year:04d}-{date.month:02d}"
    if frequency == "yearly":
        return f"{date.year:04d}"
    if frequency == "hourly":
        return date.strftime("%Y-%m-%d %H:%M")
    return date.strftime("%Y-%m-%d")


def plot_forecast(series, forecast, path):
    """History, forecast and interval as a PNG (matplotlib, the plot extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError("plotting needs matplotlib: pip install "
                                     "'lstmkit[plot]'") from None
    n, h = len(series), len(forecast.point)
    past = series.dates if series.dates is not None else np.arange(n)
    future = forecast.dates if forecast.dates is not None else np.arange(n, n + h)
    if series.dates is not None and min(d.year for d in past) < 100:
        # matplotlib's dates start at year 1, and its margins would step below it (shampoo's
        # "1-01" is year 1): plot against the step numbers instead
        past, future = np.arange(n), np.arange(n, n + h)
    fig, ax = plt.subplots(figsize=(10, 4))
    shown = max(n - 8 * h, 0)  # the recent history, where the forecast is read against
    ax.plot(past[shown:], series.values[shown:], color="black", lw=1, label=series.name)
    ax.plot(future, forecast.point, color="tab:blue", lw=1.5, label="forecast")
    ax.fill_between(future, forecast.lower, forecast.upper, color="tab:blue", alpha=0.25,
                    label=f"{forecast.level:.0%} interval")
    ax.set_title(f"{os.path.basename(series.path or '')}: {h}-step forecast")
    ax.legend(loc="upper left")
    fig.tight_layout()
    write_figure(fig, path)
    plt.close(fig)


def _silent(*args, **kwargs):
    pass


TASK = Forecasting()
