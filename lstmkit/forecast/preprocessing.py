"""What a saved forecaster's members carry to read raw series again: the
settings, each training series' scaling, the calendar and the conformal
widening, as the model file's preprocessing (lstmkit.data.preprocessing)."""

import datetime

import numpy as np

from ..data.preprocessing import Preprocessing
from ..data.timeseries import FREQUENCIES
from ..errors import InputError
from .scaling import SeriesScaling
from .settings import DEFAULTS

ADDED = {"difference": False}  # settings added since VERSION 1, as files without them meant


class ForecastPreprocessing(Preprocessing):
    """What a forecaster's members need to read raw series, saved with each:
    the settings, each training series' scaling, its last date, the
    calendar used, and the conformal corrections."""

    KIND = "forecast_scaling"
    VERSION = 1

    def __init__(self, settings, scalings, horizon, season, frequency, calendar, last_dates,
                 widths, correction):
        self.settings, self.scalings = dict(settings), list(scalings)
        self.horizon, self.season, self.frequency = horizon, season, frequency
        self.calendar, self.last_dates = calendar, list(last_dates)
        self.widths = dict(widths)  # known, past, static covariate counts
        self.correction = correction  # (H,) conformal widening, in scaled units, or None

    def to_json(self):
        return {"settings": {k: list(v) if isinstance(v, tuple) else v
                             for k, v in self.settings.items()},
                "scalings": [s.to_json() for s in self.scalings], "horizon": self.horizon,
                "season": self.season, "frequency": self.frequency, "calendar": self.calendar,
                "last_dates": [None if d is None else d.isoformat() for d in self.last_dates],
                "widths": self.widths,
                "correction": None if self.correction is None else list(map(float,
                                                                            self.correction))}

    @classmethod
    def from_json(cls, data):
        if not isinstance(data, dict):
            raise InputError("forecast preprocessing must be an object")
        for key in ("horizon", "season"):
            if isinstance(data.get(key), bool) or not isinstance(data.get(key), int) or \
                    data[key] < 1:
                raise InputError(f"{key} must be a positive int, got {data.get(key)!r}")
        settings = data.get("settings")
        if isinstance(settings, dict):
            settings = {**ADDED, **settings}  # files from before a setting existed
        if not isinstance(settings, dict) or set(settings) != set(DEFAULTS):
            raise InputError("settings must name every forecaster setting")
        settings = {k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()}
        if data.get("frequency") not in (None, *FREQUENCIES) or data.get("calendar") not in (
                "dates", "phase", "none"):
            raise InputError("frequency or calendar is not one this lstmkit knows")
        scalings = [SeriesScaling.from_json(s) for s in data.get("scalings") or []]
        if not scalings:
            raise InputError("scalings must hold one entry per training series")
        try:
            dates = [None if d is None else datetime.datetime.fromisoformat(d)
                     for d in data.get("last_dates") or []]
        except (TypeError, ValueError):
            raise InputError("last_dates must be ISO dates") from None
        widths = data.get("widths")
        if not isinstance(widths, dict) or set(widths) != {"known", "past", "static"}:
            raise InputError("widths must give known, past and static")
        correction = data.get("correction")
        if correction is not None and (not isinstance(correction, list)
                                       or len(correction) != data["horizon"]):
            raise InputError("correction must hold one value per horizon step")
        return cls(settings, scalings, data["horizon"], data["season"], data["frequency"],
                   data["calendar"], dates, widths, None if correction is None
                   else np.array(correction))
