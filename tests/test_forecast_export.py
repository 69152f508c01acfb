"""A forecaster exported as one ONNX graph of its whole pipeline: run by
onnxruntime against Forecaster.predict for every calendar, differencing,
several series and covariates; the command and the example that runs it
without torch or lstmkit; what is refused. Skipped without the onnx extra."""

import datetime
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lstmkit.cli import main
from lstmkit.errors import InputError
from lstmkit.export import NotExportable
from lstmkit.forecast import Forecaster
from lstmkit.forecast import export as fexport

ROOT = Path(__file__).resolve().parents[1]
HAVE_ONNX = all(importlib.util.find_spec(m) for m in ("onnx", "onnxruntime"))
pytestmark = pytest.mark.skipif(not HAVE_ONNX, reason="onnx and onnxruntime are not installed "
                                "(the onnx extra: pip install 'lstmkit[onnx]')")
TINY = dict(lookbacks=(1.0, 2.0), seeds=2, units=8, max_epochs=2, batches_per_epoch=3,
            batch_size=16)


def graph_against_predict(forecaster, lengths):
    """The worst difference between onnxruntime and predict, over rows of
    the given lengths in one batch, relative to the forecast's scale."""
    import onnxruntime

    session = onnxruntime.InferenceSession(
        fexport.build_pipeline(forecaster).SerializeToString(),
        providers=["CPUExecutionProvider"])
    rows, feeds = fexport.sample_rows(forecaster, np.random.default_rng(5), lengths)
    quantiles, point = session.run(["quantiles", "forecast"], feeds)
    worst = 0.0
    for r, row in enumerate(rows):
        expected = fexport.expected_quantiles(forecaster, row, r)
        scale = max(float(np.abs(expected).max()), 1.0)
        worst = max(worst, float(np.abs(quantiles[r] - expected).max()) / scale)
        median = list(forecaster.settings["quantiles"]).index(0.5)
        np.testing.assert_array_equal(point[r], quantiles[r, :, median])
    return worst


def series(n, seed=0, level=50.0):
    rng = np.random.default_rng(seed)
    return level + 5 * np.sin(np.arange(n) / 2) + rng.normal(0, 1, n)


@pytest.mark.parametrize("frequency, step", [
    ("monthly", None), ("quarterly", None), ("daily", datetime.timedelta(days=1)),
    ("weekly", datetime.timedelta(days=7)), ("hourly", datetime.timedelta(hours=1))])
def test_the_calendar_by_dates_is_computed_in_the_graph(frequency, step):
    n = 70
    start = datetime.datetime(2019, 11, 28)
    if step is None:
        months = {"monthly": 1, "quarterly": 3}[frequency]
        dates = [start.replace(year=2019 + (10 + k * months) // 12,
                               month=(10 + k * months) % 12 + 1) for k in range(n)]
    else:
        dates = [start + k * step for k in range(n)]
    f = Forecaster(**TINY).fit(series(n), horizon=5, season=7, frequency=frequency, dates=dates)
    assert f.preprocessing.calendar == "dates"
    # across leap days and year ends: rows start up to 400 steps from the training dates
    assert graph_against_predict(f, [8, 30, 19, 7]) <= fexport.TOLERANCE


@pytest.mark.parametrize("settings", [
    {}, {"difference": True}, {"level": "last", "base": "seasonal", "log": False},
    {"level": "none", "scaler": "minmax", "calibrate": False}, {"quantiles": (0.05, 0.5, 0.95),
                                                               "seeds": 3, "layers": 2}])
def test_the_pipeline_agrees_with_predict_for_each_setting(settings):
    f = Forecaster(**{**TINY, **settings}).fit(series(60), horizon=6, season=12)
    assert f.preprocessing.calendar == "phase"
    assert graph_against_predict(f, [9, 40, 9, 23]) <= fexport.TOLERANCE


def test_several_series_with_every_kind_of_covariate():
    a, b = series(80, 1), 3 * series(60, 2) + 20
    dates = [[datetime.datetime(2000, 1, 1) + datetime.timedelta(days=i) for i in range(len(s))]
             for s in (a, b)]
    rng = np.random.default_rng(3)
    known = [rng.normal(size=(len(a) + 6, 2)), rng.normal(size=(len(b) + 6, 2))]
    f = Forecaster(**{**TINY, "difference": True}).fit(
        [a, b], horizon=6, season=7, frequency="daily", dates=dates, known=known,
        past=[a[:, None] / 10, b[:, None] / 10], static=[[0.0, 1.0], [1.0, 0.0]])
    names = [name for name, _, _ in fexport.graph_inputs(f)]
    assert names == ["values", "lengths", "series", "dates", "known", "past", "static"]
    assert graph_against_predict(f, [12, 40, 9, 33]) <= fexport.TOLERANCE


def test_refused_what_the_graph_cannot_hold_and_nothing_written(tmp_path):
    with pytest.raises(InputError, match="not fitted"):
        Forecaster().export(tmp_path / "f.onnx")
    recursive = Forecaster(**{**TINY, "recursive": True}).fit(series(40), horizon=3, season=4)
    with pytest.raises(NotExportable, match="recursive"):
        recursive.export(tmp_path / "f.onnx")
    f = Forecaster(**TINY).fit(series(40), horizon=3, season=4)
    (tmp_path / "notes").write_text("")
    with pytest.raises(InputError, match="notes is a file, not a folder"):
        f.export(tmp_path / "notes" / "f.onnx")
    assert os.listdir(tmp_path) == ["notes"]


def run_example(graph, data, cwd):
    """examples/onnx_forecast.py in a process that must import neither
    torch nor lstmkit; its lines (date, forecast, lower, upper)."""
    example = str(ROOT / "examples" / "onnx_forecast.py")
    script = (f"import runpy, sys; sys.argv = {[example, str(graph), str(data)]!r}\n"
              f"runpy.run_path({example!r}, run_name='__main__')\n"
              "assert 'torch' not in sys.modules and 'lstmkit' not in sys.modules, 'imported'\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=cwd)
    assert result.returncode == 0, result.stderr
    return [line.split("\t") for line in result.stdout.splitlines()]


def test_the_command_exports_what_forecast_trained_and_the_example_runs_it(tmp_path, capsys):
    rng = np.random.default_rng(0)
    n, ahead = 60, 4
    rows = ["day,sales,price,visits"]
    for i in range(n + ahead):
        day = datetime.date(2024, 2, 1) + datetime.timedelta(days=i)  # across a leap day
        sales = f"{100 + 10 * np.sin(i / 2) + rng.normal():.3f}" if i < n else ""
        visits = f"{rng.normal(50, 5):.1f}" if i < n else ""
        rows.append(f"{day},{sales},{10 + i % 3},{visits}")
    data = tmp_path / "shop.csv"
    data.write_text("\n".join(rows) + "\n")
    (tmp_path / "holidays.csv").write_text("2024-02-29\n2024-04-01\n")
    run = tmp_path / "run"
    assert main(["forecast", str(data), "--horizon", str(ahead), "--known", "price", "--past",
                 "visits", "--holidays", str(tmp_path / "holidays.csv"), "--out", str(run),
                 "--epochs", "2", "--members", "1", "--lookbacks", "1,2", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["export", str(run)]) == 0
    assert "written as one ONNX graph" in capsys.readouterr().out
    pipeline = json.loads((run / "forecaster.pipeline.json").read_text())
    assert pipeline["columns"]["known"] == ["price"] and pipeline["horizon"] == ahead
    got = run_example(run / "forecaster.onnx", data, tmp_path)
    expected = [line.split(",") for line in (run / "forecast.csv").read_text().splitlines()[1:]]
    assert [g[0][:10] for g in got] == [e[0] for e in expected]
    for g, e in zip(got, expected):
        for a, b in zip(g[1:], e[1:4]):
            assert float(a) == pytest.approx(float(b), rel=1e-4)
