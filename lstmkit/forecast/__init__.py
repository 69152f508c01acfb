"""Time-series forecasting with LSTMs: metrics, baselines, scaling, the
Forecaster and rolling-origin backtesting."""

from .baselines import BASELINES, drift, naive, seasonal_naive, ses
from .forecaster import Forecast, Forecaster
from .metrics import coverage, mae, mase, pinball, rmse, scores, smape
from .preprocessing import ForecastPreprocessing
from .settings import DEFAULTS

__all__ = ["BASELINES", "DEFAULTS", "Forecast", "ForecastPreprocessing", "Forecaster",
           "coverage", "drift", "mae", "mase", "naive", "pinball", "rmse", "scores",
           "seasonal_naive", "ses", "smape"]
