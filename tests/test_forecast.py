"""Forecasting's library: windows, scaling, metrics, baselines, backtest
folds, the Forecaster (beats seasonal naive on a seasonal series with a
trend; save and load give identical forecasts) and its bad input."""

import datetime

import numpy as np
import pytest

from lstmkit.data.windows import WindowBatches, make_windows
from lstmkit.errors import InputError, ModelFileError
from lstmkit.forecast import (BASELINES, Forecaster, coverage, drift, mae, mase, naive, pinball,
                              rmse, scores, seasonal_naive, ses, smape)
from lstmkit.forecast.backtest import backtest, fold_ends
from lstmkit.forecast.baselines import ses_alpha
from lstmkit.forecast.features import calendar_features
from lstmkit.forecast.network import assemble
from lstmkit.forecast.scaling import SeriesScaling, window_level

TINY = dict(lookbacks=(1.0,), seeds=1, units=8, max_epochs=2, batches_per_epoch=3,
            batch_size=16)


def seasonal_series(n=120, m=12, slope=0.5, noise=0.3, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 50 + slope * t + 8 * np.sin(2 * np.pi * t / m) + noise * rng.standard_normal(n)


# ----- windows ---------------------------------------------------------------------------

def test_windows_are_views_of_a_1d_series():
    s = np.arange(10.0)
    x, y = make_windows(s, 3, 2)
    assert x.shape == (6, 3, 1) and y.shape == (6, 2)
    assert np.shares_memory(x, s) and np.shares_memory(y, s)
    assert x[0, :, 0].tolist() == [0, 1, 2] and y[0].tolist() == [3, 4]
    assert x[-1, :, 0].tolist() == [5, 6, 7] and y[-1].tolist() == [8, 9]


def test_windows_of_a_2d_series_with_stride_and_a_list_of_series():
    s = np.arange(20.0).reshape(10, 2)
    x, y = make_windows(s, 4, 3, stride=2)
    assert x.shape == (2, 4, 2) and y.shape == (2, 3, 2) and np.shares_memory(x, s)
    assert x[1, 0].tolist() == [4, 5] and y[1, 0].tolist() == [12, 13]
    x, y, which = make_windows([np.arange(6.0), np.arange(8.0)], 2, 2)
    assert x.shape == (3 + 5, 2, 1) and which.tolist() == [0] * 3 + [1] * 5


def test_windows_refuse_a_series_too_short_saying_the_minimum():
    with pytest.raises(InputError, match="need at least 7"):
        make_windows(np.arange(5.0), 4, 3)
    with pytest.raises(InputError, match="horizon"):
        make_windows(np.arange(5.0), 2, 0)


def test_window_batches_draw_a_fixed_number_of_batches_repeatably():
    x, y = np.zeros((10, 4, 1), np.float32), np.zeros((10, 2), np.float32)
    a = WindowBatches(x, y, batch_size=4, batches_per_epoch=5, seed=3)
    b = WindowBatches(x, y, batch_size=4, batches_per_epoch=5, seed=3)
    assert len(a) == 5 and [t.tolist() for t in a.index_batches()] == [
        t.tolist() for t in b.index_batches()]
    ordered = WindowBatches(x, y, batch_size=4, shuffle=False)
    assert [len(i) for i in ordered.index_batches()] == [4, 4, 2]


# ----- scaling ----------------------------------------------------------------------------

@pytest.mark.parametrize("scaler", ["standard", "minmax", "none"])
@pytest.mark.parametrize("log", [False, True])
def test_scalings_invert_exactly(scaler, log):
    v = np.array([3.0, 5.0, 4.0, 10.0, 7.5])
    s = SeriesScaling.fit(v, log, scaler)
    np.testing.assert_allclose(s.inverse(s.transform(v)), v, rtol=1e-12)
    again = SeriesScaling.from_json(s.to_json())
    np.testing.assert_array_equal(again.transform(v), s.transform(v))
    if scaler == "standard":
        z = s.transform(v)
        assert abs(z.mean()) < 1e-12 and abs(z.std() - 1) < 1e-12


@pytest.mark.parametrize("log", [False, True])
def test_a_differenced_scaling_inverts_onto_the_last_value(log):
    v = np.array([3.0, 5.0, 4.0, 10.0, 7.5, 9.0])
    s = SeriesScaling.fit(v[:4], log, "standard", difference=True)
    z = s.transform(v)
    assert len(z) == len(v) - 1 and s.drops == 1
    # the steps after v[3], added back onto it, give the values after it
    np.testing.assert_allclose(s.inverse(z[3:], last=v[3]), v[4:], rtol=1e-12)
    quantiles = np.stack([z[3:] - 1, z[3:], z[3:] + 1], 1)  # (H, Q): every column summed
    back = s.inverse(quantiles, last=v[3])
    assert back.shape == (2, 3) and (back[:, 0] < back[:, 1]).all()
    np.testing.assert_allclose(back[:, 1], v[4:], rtol=1e-12)
    assert SeriesScaling.from_json(s.to_json()).difference
    assert not SeriesScaling.from_json({k: v for k, v in s.to_json().items()
                                        if k != "difference"}).difference  # older files
    with pytest.raises(InputError, match="last observed value"):
        s.inverse(z)
    with pytest.raises(InputError, match="same step everywhere"):
        SeriesScaling.fit(np.arange(10.0), difference=True)


def test_window_levels():
    z = np.array([[0.0, 1.0, 2.0, 3.0], [0.0, 0.0, 5.0, 7.0]])
    mask = np.array([[True] * 4, [False, False, True, True]])
    assert window_level(z, mask, "last", 2).tolist() == [3.0, 7.0]
    assert window_level(z, mask, "mean", 3).tolist() == [2.0, 6.0]  # padding left out
    assert window_level(z, mask, "none", 2).tolist() == [0.0, 0.0]


def test_a_constant_series_is_refused_not_divided_by_zero():
    with pytest.raises(InputError, match="constant"):
        SeriesScaling.fit(np.full(30, 5.0))
    with pytest.raises(InputError, match="constant"):
        Forecaster(**TINY).fit(np.full(30, 5.0), horizon=3)


# ----- metrics and baselines ----------------------------------------------------------------

def test_metrics_against_hand_computed_values():
    y, f = np.array([10.0, 20.0, 30.0]), np.array([12.0, 18.0, 33.0])
    assert mae(y, f) == pytest.approx(7 / 3)
    assert rmse(y, f) == pytest.approx(np.sqrt((4 + 4 + 9) / 3))
    assert smape(y, f) == pytest.approx(100 / 3 * (4 / 22 + 4 / 38 + 6 / 63))
    assert smape([0.0], [0.0]) == 0.0  # a zero denominator counts 0
    train = np.array([1.0, 3.0, 2.0, 5.0, 4.0])
    # seasonal-naive in-sample MAE with m = 2: |2-1|, |5-3|, |4-2| -> 5/3
    assert mase(y, f, train, 2) == pytest.approx((7 / 3) / (5 / 3))
    assert mase(y, f, train, 1) == pytest.approx((7 / 3) / ((2 + 1 + 3 + 1) / 4))
    assert coverage(y, y - 1, [10.5, 19.0, 31.0]) == pytest.approx(2 / 3)
    assert pinball([1.0], [0.0], 0.9) == pytest.approx(0.9)
    assert pinball([0.0], [1.0], 0.9) == pytest.approx(0.1)
    with pytest.raises(InputError, match="repeats itself"):
        mase(y, f, [1.0, 2.0, 1.0, 2.0], 2)
    undefined = scores(y, f, [1.0, 2.0, 1.0, 2.0], 2)  # the other figures stand
    assert undefined["mase"] is None and undefined["rmse"] == pytest.approx(rmse(y, f))


def test_baselines():
    train = np.array([1.0, 2.0, 3.0, 10.0, 20.0, 30.0])
    assert naive(train, 2).tolist() == [30.0, 30.0]
    assert seasonal_naive(train, 4, 3).tolist() == [10.0, 20.0, 30.0, 10.0]
    assert drift(train, 2).tolist() == [30 + 29 / 5, 30 + 2 * 29 / 5]
    flat = np.array([5.0, 5.0, 5.0, 5.0])
    assert ses(flat, 3).tolist() == [5.0, 5.0, 5.0]
    walk = np.cumsum(np.random.default_rng(0).standard_normal(200))
    assert ses_alpha(walk) > 0.8  # a random walk is best smoothed hardly at all
    assert set(BASELINES) == {"naive", "seasonal_naive", "drift", "ses"}


def test_calendar_features_from_dates_and_from_the_phase():
    dates = [datetime.datetime(2000, m, 1) for m in (1, 4, 7)]
    f = calendar_features(np.arange(3), "monthly", 12, dates)
    np.testing.assert_allclose(f[:, 0], [0, 1, 0], atol=1e-12)  # sin of the month's angle
    phase = calendar_features(np.arange(14), None, 7)
    np.testing.assert_allclose(phase[0], phase[7])


def test_assembled_windows_are_padded_masked_and_scaled_by_their_level():
    z = np.arange(6.0)
    w = assemble(z, [1, 5], timesteps=4, horizon=2, season=2, level="last", base="none",
                 observed_until=6)
    assert w["x"].shape == (2, 6, 2)
    assert w["mask"][0].tolist() == [False, False, True, True, True, True]
    assert w["x"][0, 2:4, 0].tolist() == [-1.0, 0.0]  # values over the last one
    assert w["x"][0, 4:, 1].tolist() == [1.0, 1.0]  # the future steps are flagged
    assert w["y"][0, :, 0].tolist() == [1.0, 2.0] and w["y"][1, :, 1].tolist() == [0.0, 0.0]
    seasonal = assemble(z, [3], timesteps=4, horizon=3, season=2, base="seasonal")
    # one season back from steps 4, 5, 6: z[2], z[3], z[2]; over the level z[3]
    assert seasonal["base"][0].tolist() == [-1.0, 0.0, -1.0]


# ----- backtest -------------------------------------------------------------------------------

def test_backtest_folds_end_a_step_apart_and_score_every_method():
    assert fold_ends(100, 10, 3) == [70, 80, 90]
    assert fold_ends(100, 10, 3, step=5) == [80, 85, 90]
    with pytest.raises(InputError, match="need at least"):
        fold_ends(20, 10, 3)
    report = backtest(seasonal_series(60), 6, lambda: Forecaster(**TINY), folds=2, season=12)
    assert [f["end"] for f in report["folds"]] == [48, 54]
    assert set(report["mean"]) == {"lstmkit", *BASELINES}
    assert 0 <= report["mean"]["lstmkit"]["coverage"] <= 1


# ----- the Forecaster --------------------------------------------------------------------------

def test_forecaster_beats_seasonal_naive_on_a_trending_seasonal_series():
    values = seasonal_series(132)
    train, test = values[:-12], values[-12:]
    f = Forecaster(lookbacks=(2.0,), seeds=1, units=16, max_epochs=25, batches_per_epoch=10)
    result = f.fit(train, horizon=12, season=12, seed=0).predict()
    assert result.point.shape == (12,) and (result.lower <= result.upper).all()
    ours = mase(test, result.point, train, 12)
    assert ours < 0.6 * mase(test, seasonal_naive(train, 12, 12), train, 12)


def test_save_and_load_give_identical_forecasts(tmp_path):
    values = seasonal_series(80)
    f = Forecaster(**{**TINY, "lookbacks": (1.0, 2.0)}).fit(values, horizon=6, season=12)
    before = f.predict()
    f.save(tmp_path / "model")
    g = Forecaster.load(tmp_path / "model")
    after = g.predict(series=values)
    np.testing.assert_array_equal(before.point, after.point)
    np.testing.assert_array_equal(before.upper, after.upper)
    assert len(g.members) == 2
    with pytest.raises(ModelFileError, match="not a saved forecaster"):
        Forecaster.load(tmp_path)


def test_global_model_covariates_recursive_and_short_series():
    a, b = seasonal_series(60, seed=1), 3 * seasonal_series(40, seed=2)
    dates = [[datetime.datetime(2000, 1, 1) + datetime.timedelta(days=i) for i in range(len(s))]
             for s in (a, b)]
    known = [np.ones((len(a) + 6, 1)), np.zeros((len(b) + 6, 1))]
    past = [a[:, None] / 100, b[:, None] / 100]
    f = Forecaster(**TINY).fit([a, b], horizon=6, season=7, frequency="daily", dates=dates,
                               known=known, past=past, static=[[0.0], [1.0]])
    r = f.predict(known=known, past=past, static=[[0.0], [1.0]])
    assert r.point.shape == (2, 6) and len(r.dates) == 2
    assert r.dates[0][0] == dates[0][-1] + datetime.timedelta(days=1)
    rec = Forecaster(**{**TINY, "recursive": True}).fit(a, horizon=4, season=7).predict()
    assert rec.point.shape == (4,) and (rec.lower <= rec.upper).all()
    short = Forecaster(**{**TINY, "lookbacks": (3.0,)}).fit(a[:10], horizon=4, season=7)
    assert short.predict().point.shape == (4,)  # inputs of 12 steps from 10 values: padded
    # predict() from the training series reuses the covariates fit was given
    np.testing.assert_allclose(f.predict().point, r.point)
    with pytest.raises(InputError, match="trained with 1 known"):
        f.predict(series=[a, b], dates=dates, past=past, static=[[0.0], [1.0]])
    with pytest.raises(InputError, match="known covariates have 2 column"):
        f.predict(series=[a, b], dates=dates, known=[np.ones((len(a) + 6, 2))] * 2, past=past,
                  static=[[0.0], [1.0]])


def test_a_differenced_forecaster_follows_a_trend_and_saves(tmp_path):
    trend = 100 + 3.0 * np.arange(80) + seasonal_series(80, slope=0.0, seed=4)
    f = Forecaster(**{**TINY, "difference": True, "level": "none", "max_epochs": 4}).fit(
        trend, horizon=6, season=12, seed=1)
    r = f.predict()
    assert r.point.shape == (6,) and (r.lower <= r.point).all() and (r.point <= r.upper).all()
    # the forecast continues from the last value, not from the series' mean
    assert abs(r.point[0] - trend[-1]) < 30 and r.point.mean() > trend[:-12].mean()
    f.save(tmp_path / "f")
    g = Forecaster.load(tmp_path / "f")
    assert g.settings["difference"] and g.preprocessing.scalings[0].difference
    np.testing.assert_allclose(g.predict(series=trend).point, r.point, rtol=1e-5)
    with pytest.raises(InputError, match="and one more to difference"):
        Forecaster(**{**TINY, "difference": True}).fit(np.arange(8.0) ** 2, horizon=6)
    with pytest.raises(InputError, match="difference must be True or False"):
        Forecaster(difference="yes")


@pytest.mark.parametrize("series, horizon, match", [
    (np.arange(5.0), 4, "needs at least 6"),
    (np.array([1.0, np.nan, 3.0, 4.0, 5.0, 6.0, 7.0]), 2, "NaN or infinite"),
    (np.array([1.0, np.inf, 3.0, 4.0, 5.0, 6.0, 7.0]), 2, "NaN or infinite"),
    (np.arange(20.0), 0, "horizon must be a positive int"),
])
def test_forecaster_bad_input(series, horizon, match):
    with pytest.raises(InputError, match=match):
        Forecaster(**TINY).fit(series, horizon=horizon)


def test_forecaster_bad_settings():
    with pytest.raises(InputError, match="season must be a positive int"):
        Forecaster(**TINY).fit(np.arange(20.0), horizon=2, season=-1)
    with pytest.raises(InputError, match="unknown forecaster setting"):
        Forecaster(hidden=3)
    with pytest.raises(InputError, match="quantiles"):
        Forecaster(quantiles=(0.1, 0.9))
    f = Forecaster(**TINY).fit(seasonal_series(40), horizon=3, season=12)
    with pytest.raises(InputError, match="between 1 and the trained 3"):
        f.predict(horizon=5)
