"""Forecast the airline passengers series with lstmkit's Forecaster, as the
forecasting protocol scores it: the last 24 months held out, MASE against
seasonal naive, the forecast and its 80% interval printed.

    .venv/bin/python examples/forecast_airline.py [--data PATH] [--seed 0]

The same in one command: lstmkit forecast airline-passengers.csv --horizon 24 --out runs/airline
"""

import argparse
import os

import numpy as np

from lstmkit.data.timeseries import read_series_csv
from lstmkit.forecast import Forecaster, coverage, mase, seasonal_naive

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "shared", "datasets", "timeseries", "airline-passengers.csv")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=DATA, help="airline-passengers.csv")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    series = read_series_csv(args.data)
    h, m = 24, series.season  # monthly: m = 12, the protocol's h = 24
    train, test = series.values[:-h], series.values[-h:]
    forecaster = Forecaster().fit(train, horizon=h, season=m, frequency=series.frequency,
                                  dates=series.dates[:-h], seed=args.seed)
    result = forecaster.predict()
    print(f"MASE {mase(test, result.point, train, m):.3f} (seasonal naive "
          f"{mase(test, seasonal_naive(train, h, m), train, m):.3f}), 80% interval coverage "
          f"{coverage(test, result.lower, result.upper):.2f}, fit {forecaster.info['seconds']:.0f} s")
    for date, y, f, lo, hi in zip(result.dates, test, result.point, result.lower, result.upper):
        print(f"{date:%Y-%m}  actual {y:6.0f}  forecast {f:6.1f}  [{lo:6.1f}, {hi:6.1f}]")
    assert np.isfinite(result.point).all()


if __name__ == "__main__":
    main()
