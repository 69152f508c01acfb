"""The Forecaster: one or several series in, point forecasts and
prediction intervals for the next `horizon` steps out.

    f = Forecaster().fit(values, horizon=24, season=12, dates=dates)
    result = f.predict()        # result.point (24,), result.lower, result.upper
    f.save("runs/airline"); Forecaster.load("runs/airline").predict()

What fit does, in order: each series is scaled on its own training values
(scaling.SeriesScaling: log when every value is positive, then
standardised); the windows of all series are pooled into one global model;
an ensemble of members (network.build_network), one per seed and input
length (N-BEATS' ensembling over look-backs), each stopped early on an
inner validation block (the last `horizon` values of each series), then
refitted on all windows for its best number of epochs; the ensemble's
forecast is the median of its members' quantiles. Intervals are the
pinball-trained quantiles, optionally widened by split-conformal
calibration on the validation block (conformalised quantile regression,
Romano et al. 2019).
"""

import json
import os
import time
from dataclasses import dataclass

import numpy as np

from .. import __version__
from ..data.timeseries import FREQUENCIES, step_date
from ..errors import InputError, ModelFileError
from ..files import atomic_write, read_manifest, staged_folder
from ..model import load_model
from .features import calendar_features
from .inputs import (as_series_list, check_series, check_values, covariate_width, per_series,
                     validation_block)
from .network import assemble, run_network
from .preprocessing import ForecastPreprocessing
from .scaling import SeriesScaling
from .settings import DEFAULTS, MAX_MEMBERS, check_settings
from .training import pooled_windows, train_member

TASK_NAME = "forecasting"
MANIFEST = "forecaster.json"
FORMAT = "lstmkit.forecaster"
FORMAT_VERSION = 1


@dataclass
class Forecast:
    """What predict returns; arrays (H,) for one series, (S, H) for several.

    Attributes:
        point: the point forecasts (the median quantile).
        quantiles: {q: forecasts of quantile q}.
        lower, upper: the outermost quantiles (the interval's bounds).
        level: the interval's nominal coverage (upper q - lower q).
        dates: the future dates of each series (lists), or None.
    """

    point: np.ndarray
    quantiles: dict
    lower: np.ndarray
    upper: np.ndarray
    level: float
    dates: list = None


class Forecaster:
    """An ensemble of LSTM forecasters over one or several series.

    Args (each defaults to DEFAULTS, chosen on training data only):
        lookbacks: input lengths as multiples of the horizon; one group of
            members per length. Series shorter are padded and masked.
        seeds: members per input length, each its own seed.
        units, layers, dropout: each member's LSTM.
        level: the per-window level subtracted from inputs and added to
            outputs: 'last' value, 'mean' of the last season, 'none'.
        base: 'seasonal' (learn the correction to seasonal naive) or 'none'.
        log: 'auto' (log when every training value is positive), True, False.
        scaler: per series, 'standard', 'minmax' or 'none'.
        calendar: known-future calendar features from the dates (or the
            position in the season without dates).
        quantiles: the quantiles trained with the pinball loss; must hold 0.5.
        calibrate: widen the intervals by split-conformal calibration on the
            inner validation block.
        refit: after early stopping, retrain on all windows for the best
            number of epochs.
        batch_size, batches_per_epoch, max_epochs, patience, learning_rate,
            clip_grad_norm: training (an epoch is batches_per_epoch batches
            of windows drawn at random).
        recursive: a one-step network rolled forward, feeding its median
            back (the direct multi-horizon network is the default).
    """

    def __init__(self, **settings):
        unknown = sorted(set(settings) - set(DEFAULTS))
        if unknown:
            raise InputError(f"unknown forecaster setting(s) {unknown}; known: "
                             f"{', '.join(DEFAULTS)}")
        self.settings = {**DEFAULTS, **settings}
        check_settings(self.settings)
        self.members, self.preprocessing, self.info = [], None, {}

    # ----- fitting ---------------------------------------------------------------

    def fit(self, series, horizon, season=None, frequency=None, dates=None, known=None,
            past=None, static=None, seed=0, verbose=0, print_fn=None):
        """Train on `series` to forecast `horizon` steps.

        Args:
            series: a 1-D array, a list of 1-D arrays (one global model), or a
                TimeSeries (lstmkit.data.timeseries; its dates, frequency and
                season are used).
            horizon: steps to forecast (an int of at least 1).
            season: the seasonal period m; default the frequency's (1 if none).
            frequency: 'monthly', 'daily', ...; with dates, for the calendar.
            dates: one datetime per step (a list per series for several).
            known: per series, (n + horizon, K) covariates known in advance
                (holidays, prices, ...), future included.
            past: per series, (n, P) covariates observed up to now only.
            static: per series, (S,) features of the series itself.
            seed: member i of input length j gets seed 1000 * seed + ...;
                the same seed, the same forecaster.
        Returns self.
        """
        started = time.perf_counter()
        values, given_dates, ts = as_series_list(series)
        if ts is not None:
            frequency = frequency or ts.frequency
            season = season if season is not None else ts.season
            dates = dates if dates is not None else ts.dates
        if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
            raise InputError(f"horizon must be a positive int, got {horizon!r}")
        horizon = int(horizon)
        if season is None:
            season = FREQUENCIES.get(frequency, (1, None))[0]
        if isinstance(season, bool) or not isinstance(season, (int, np.integer)) or season < 1:
            raise InputError(f"season must be a positive int, got {season!r}")
        season = int(season)
        if dates is not None and len(values) == 1 and not (
                dates and isinstance(dates[0], (list, tuple))):
            dates = [dates]
        dates = dates if dates is not None else given_dates
        s = self.settings
        for i, v in enumerate(values):
            check_series(v, i, horizon, len(values), extra=int(s["difference"]))
        known, past, static = (per_series(c, len(values), name) for c, name in
                               ((known, "known"), (past, "past"), (static, "static")))
        widths = {"known": covariate_width(known, 1, values, horizon, "known"),
                  "past": covariate_width(past, 1, values, 0, "past"),
                  "static": covariate_width(static, 0, values, None, "static")}
        log = s["log"] if s["log"] != "auto" else all((v > 0).all() for v in values)
        scalings = [SeriesScaling.fit(v, log, s["scaler"], "the series" if len(values) == 1
                                      else f"series {i}", s["difference"])
                    for i, v in enumerate(values)]
        calendar = ("dates" if s["calendar"] and frequency in FREQUENCIES and dates is not None
                    and all(d is not None for d in dates) else
                    "phase" if s["calendar"] and season > 1 else "none")
        last_dates = [d[-1] if calendar == "dates" else None for d in dates]
        self.preprocessing = ForecastPreprocessing(s, scalings, horizon, season, frequency,
                                                   calendar, last_dates, widths, None)
        out_horizon = 1 if s["recursive"] else horizon
        prepared = [self._prepare(scalings[i], v, i, d, k, p, st)
                    for i, (v, d, k, p, st) in enumerate(zip(values, dates, known, past, static))]
        features = prepared[0]["features"]
        members, info_members, val_predictions = [], [], []
        cutoff_val = lambda n: n - validation_block(n, horizon)
        for j, lookback in enumerate(s["lookbacks"]):
            timesteps = max(int(round(lookback * horizon)), 1)
            train, val = pooled_windows(prepared, timesteps, out_horizon, season, s, cutoff_val)
            everything = (pooled_windows(prepared, timesteps, out_horizon, season, s,
                                         lambda n: n)[0] if s["refit"] else None)
            for r in range(s["seeds"]):
                member_seed = 1000 * seed + 100 * j + r
                model, best, best_loss = train_member(train, val, features, out_horizon, s,
                                                      member_seed, verbose=verbose)
                val_predictions.append(self._validation_quantiles(model, prepared, timesteps,
                                                                  horizon))
                if s["refit"]:
                    model, _, _ = train_member(everything, None, features, out_horizon, s,
                                               member_seed, epochs=best, verbose=verbose)
                model.metadata = {"task": TASK_NAME, "timesteps": timesteps,
                                  "member": len(members), "seed": member_seed}
                members.append(model)
                info_members.append({"timesteps": timesteps, "seed": member_seed,
                                     "best_epoch": best, "val_loss": best_loss})
                if print_fn:
                    print_fn(f"member {len(members)}/{len(s['lookbacks']) * s['seeds']}: "
                             f"{timesteps} input steps, best epoch {best}, validation "
                             f"pinball {best_loss:.4f}")
        self.members = members
        self._training = (values, dates, known, past, static)
        if s["calibrate"]:
            self.preprocessing.correction = self._conformal(prepared, val_predictions, horizon)
        self.info = {"members": info_members, "series": len(values), "horizon": horizon,
                     "season": season, "frequency": frequency, "log": bool(log),
                     "calendar": calendar, "seconds": time.perf_counter() - started}
        return self

    def _prepare(self, scaling, values, i, dates, known, past, static):
        """One series scaled and its covariate arrays, as assemble takes them
        (i: which training series it continues, for its dates; None for
        another). The steps a differenced scaling drops from the start are
        dropped from the dates and covariates alike."""
        pre, drop = self.preprocessing, scaling.drops
        z = scaling.transform(values)
        dates = None if dates is None else dates[drop:]
        known = None if known is None else np.asarray(known, np.float64)[drop:]
        past = None if past is None else np.asarray(past, np.float64)[drop:]
        n, H = len(z), pre.horizon
        calendar = self._calendar(n, H, dates, i)
        known_all = calendar if known is None else np.concatenate([calendar, known[:n + H]], 1)
        known_all = known_all if known_all.shape[1] else None
        features = 2 + (0 if known_all is None else known_all.shape[1]) + \
            pre.widths["past"] + pre.widths["static"]
        return {"z": z, "known": known_all, "past": past,
                "static": None if static is None else np.asarray(static, np.float64),
                "features": features}

    def _calendar(self, n, horizon, dates, i):
        pre = self.preprocessing
        steps = np.arange(n + horizon)
        if pre.calendar == "dates":
            if dates is None:
                if i is None:
                    raise InputError("this forecaster reads calendar features from the dates: "
                                     "pass the dates of the series to forecast from")
                dates = [step_date(pre.last_dates[i], pre.frequency, k - n + 1) for k in range(n)]
            future = [step_date(dates[-1], pre.frequency, k) for k in range(1, horizon + 1)]
            return calendar_features(steps, pre.frequency, pre.season, list(dates) + future)
        if pre.calendar == "phase":
            return calendar_features(steps, None, pre.season)
        return np.zeros((n + horizon, 0))

    def _validation_quantiles(self, model, prepared, timesteps, horizon):
        """The early-stopped network's quantiles (H, Q), scaled units, from
        origins a horizon apart in each series' validation block: a list
        per series of (quantiles, actual values) pairs."""
        out = []
        for p in prepared:
            n = len(p["z"])
            pairs = []
            for end in range(n - validation_block(n, horizon), n - horizon + 1, horizon):
                cut = {**p, "z": p["z"][:end],
                       "past": None if p["past"] is None else p["past"][:end]}
                pairs.append((self._quantiles_of([model], cut, timesteps_of=[timesteps],
                                                 horizon=horizon), p["z"][end:end + horizon]))
            out.append(pairs)
        return out

    def _conformal(self, prepared, val_predictions, horizon):
        """The split-conformal widening of the intervals (H,), in scaled
        units: the (1 - alpha) quantile of the nonconformity scores
        max(lower - y, y - upper) over every series' validation forecasts
        (the members' median quantiles), pooled over the horizon's steps."""
        scores = []
        for i in range(len(prepared)):
            for k, (_, y) in enumerate(val_predictions[0][i]):
                q = np.median([member[i][k][0] for member in val_predictions], axis=0)  # (H, Q)
                scores.append(np.maximum(q[:, 0] - y, y - q[:, -1]))
        scores = np.concatenate(scores)
        alpha = 1 - (self.settings["quantiles"][-1] - self.settings["quantiles"][0])
        level = min(1.0, (1 - alpha) * (1 + 1 / scores.size))
        return np.full(horizon, float(np.quantile(scores, level, method="higher")))

    # ----- predicting --------------------------------------------------------------

    def _quantiles_of(self, members, p, timesteps_of, horizon):
        """The median over `members` of the quantiles (H, Q) from the end of
        prepared series p, in scaled units (level and base added back)."""
        s, pre = self.settings, self.preprocessing
        out = []
        for model, timesteps in zip(members, timesteps_of):
            if s["recursive"]:
                out.append(self._recursive(model, p, timesteps, horizon))
                continue
            n = len(p["z"])
            w = assemble(p["z"], [n - 1], timesteps, pre.horizon, pre.season, s["level"],
                         s["base"], p["known"], p["past"], p["static"])
            q = run_network(model, w["x"], w["mask"], pre.horizon, s["quantiles"])[0]
            out.append(q + w["level"][0] + w["base"][0][:, None])
        return np.sort(np.median(out, axis=0), axis=1)[:horizon]  # quantiles kept in order

    def _recursive(self, model, p, timesteps, horizon):
        """A one-step network rolled forward on its own medians; the
        interval of step k is the one-step interval widened by sqrt(k)."""
        s, pre = self.settings, self.preprocessing
        z = p["z"].copy()
        rows = []
        for k in range(horizon):
            n = len(z)
            w = assemble(z, [n - 1], timesteps, 1, pre.season, s["level"], s["base"],
                         p["known"],
                         None if p["past"] is None else _extend(p["past"], n), p["static"])
            q = run_network(model, w["x"], w["mask"], 1, s["quantiles"])[0, 0]
            centre = q + w["level"][0] + w["base"][0, 0]
            median = centre[list(s["quantiles"]).index(0.5)]
            rows.append(median + (centre - median) * np.sqrt(k + 1))
            z = np.append(z, median)
        return np.array(rows)

    def predict(self, horizon=None, series=None, dates=None, known=None, past=None,
                static=None):
        """Forecast `horizon` steps (default the trained one) after the end
        of `series` (default the training series; new values of series the
        model was trained on, in the same order, or other series: the first
        training series' scaling is then fitted anew on each). Returns a
        Forecast."""
        if not self.members:
            raise InputError("the forecaster is not fitted: call fit first")
        pre, s = self.preprocessing, self.settings
        horizon = pre.horizon if horizon is None else horizon
        if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or not (
                1 <= horizon <= pre.horizon):
            raise InputError(f"horizon must be between 1 and the trained {pre.horizon} (a "
                             f"direct model forecasts the horizon it was trained for), got "
                             f"{horizon!r}")
        if series is None:
            if self._training is None:
                raise InputError("this forecaster was loaded from a file: pass the series to "
                                 "forecast from")
            values, dates_list, *trained = self._training
            known, past, static = (given if given is not None else t for given, t in
                                   zip((known, past, static), trained))
        else:
            values, dates_list, ts = as_series_list(series)
            if dates is not None:
                dates_list = [dates] if len(values) == 1 and not isinstance(
                    dates[0], (list, tuple)) else dates
        for i, v in enumerate(values):
            check_values(v, "the series" if len(values) == 1 else f"series {i}",
                         pre.scalings[0].drops)
        known, past, static = (per_series(c, len(values), name) for c, name in
                               ((known, "known"), (past, "past"), (static, "static")))
        for name, given in (("known", known), ("past", past), ("static", static)):
            if pre.widths[name] and any(c is None for c in given):
                raise InputError(f"this forecaster was trained with {pre.widths[name]} {name} "
                                 f"covariate(s): pass {name}= for every series")
        covariate_width(known, 1, values, pre.horizon, "known", pre.widths["known"])
        covariate_width(past, 1, values, 0, "past", pre.widths["past"])
        covariate_width(static, 0, values, None, "static", pre.widths["static"])
        timesteps = [m.metadata["timesteps"] for m in self.members]
        quantiles = []
        for i, (v, d, k, p, st) in enumerate(zip(values, dates_list, known, past, static)):
            scaling = self._scaling_for(i, v, len(values))
            continued = series is None or len(values) == len(pre.scalings)
            prepared = self._prepare(scaling, v, i if continued else None, d, k, p, st)
            q = self._quantiles_of(self.members, prepared, timesteps, horizon)
            if pre.correction is not None:
                # a negative correction narrows the interval, never past the median
                median = q[:, list(s["quantiles"]).index(0.5)]
                q[:, 0] = np.minimum(q[:, 0] - pre.correction[:horizon], median)
                q[:, -1] = np.maximum(q[:, -1] + pre.correction[:horizon], median)
            quantiles.append(scaling.inverse(q, last=v[-1]))  # (H, Q) in the series' units
        quantiles = np.array(quantiles)  # (S, H, Q)
        one = len(values) == 1
        qs = s["quantiles"]
        by_q = {q: quantiles[0, :, j] if one else quantiles[:, :, j] for j, q in enumerate(qs)}
        future = None
        if pre.frequency in FREQUENCIES and all(d is not None for d in dates_list):
            future = [[step_date(d[-1], pre.frequency, k) for k in range(1, horizon + 1)]
                      for d in dates_list]
        elif pre.calendar == "dates" and series is None:
            future = [[step_date(d, pre.frequency, k) for k in range(1, horizon + 1)]
                      for d in pre.last_dates]
        return Forecast(by_q[0.5], by_q, by_q[qs[0]], by_q[qs[-1]], qs[-1] - qs[0],
                        None if future is None else (future[0] if one else future))

    def _scaling_for(self, i, values, count):
        """The scaling of series i: the trained one when the series are the
        training series continued, else one fitted on `values` alike."""
        pre = self.preprocessing
        if count == len(pre.scalings):
            return pre.scalings[i]
        first = pre.scalings[0]
        log = first.log and bool((values > 0).all())
        return SeriesScaling.fit(values, log, first.scaler, difference=first.difference)

    _training = None

    def fit_predict(self, series, horizon, **options):
        return self.fit(series, horizon, **options).predict()

    # ----- files -------------------------------------------------------------------

    def export(self, path, verify=True):
        """Write the whole pipeline (scaling, windows, members, median,
        intervals) as one ONNX graph to `path`, its inputs described in
        <path without .onnx>.pipeline.json beside it (lstmkit.forecast.export)."""
        from .export import export_forecaster

        return export_forecaster(self, path, verify=verify)

    def save(self, path):
        """Write the forecaster to folder `path`: forecaster.json (the
        manifest) and one lstmkit model folder per member, each carrying
        the ForecastPreprocessing. Staged in a sibling folder and renamed
        into place, so `path` holds the old forecaster or the new, never a part."""
        if not self.members:
            raise InputError("the forecaster is not fitted: nothing to save")
        with staged_folder(path, argument="path") as tmp:
            self.write(tmp)

    def write(self, folder):
        """The forecaster's files written into the existing `folder`."""
        names = []
        for i, model in enumerate(self.members):
            names.append(f"member-{i}")
            model.compile(loss="mae", optimizer="adam", device="cpu")  # a file keeps names only
            model.save(os.path.join(folder, names[-1]), metadata=model.metadata,
                       preprocessing=self.preprocessing)
        manifest = {"format": FORMAT, "format_version": FORMAT_VERSION,
                    "lstmkit_version": __version__, "task": TASK_NAME, "members": names,
                    "info": _jsonable(self.info)}
        atomic_write(os.path.join(folder, MANIFEST),
                     json.dumps(manifest, indent=2, allow_nan=False).encode())

    @classmethod
    def load(cls, path):
        """A forecaster saved by `save`."""
        path = os.fspath(path)
        manifest_path = os.path.join(path, MANIFEST)
        if not os.path.isfile(manifest_path):
            raise ModelFileError(f"{path}: not a saved forecaster (no {MANIFEST})")
        manifest, folders = read_manifest(path, MANIFEST, FORMAT, FORMAT_VERSION,
                                          "a forecaster", MAX_MEMBERS)
        names = [os.path.basename(f) for f in folders]
        members = [load_model(os.path.join(path, n), device="cpu") for n in names]
        pre = members[0].preprocessing
        for name, model in zip(names, members):
            where = os.path.join(path, name)
            if not isinstance(model.preprocessing, ForecastPreprocessing) or (
                    model.preprocessing.to_json() != pre.to_json()):
                raise ModelFileError(f"{where}: its preprocessing differs from {names[0]}'s: the "
                                     "members do not belong together")
            t = model.metadata.get("timesteps")
            if isinstance(t, bool) or not isinstance(t, int) or t < 1:
                raise ModelFileError(f"{where}: metadata timesteps must be a positive int")
        forecaster = cls(**pre.settings)
        forecaster.members, forecaster.preprocessing = members, pre
        forecaster.info = manifest.get("info") if isinstance(manifest.get("info"), dict) else {}
        return forecaster


def _extend(past, n):
    """Past covariates padded with their last row to n steps (recursive steps)."""
    return past if len(past) >= n else np.concatenate([past, np.repeat(past[-1:], n - len(past),
                                                                       0)])


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
