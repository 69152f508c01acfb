"""Property-based tests: every public entry point that takes user data either
works or raises our own LstmkitError; never another exception or a hang.

To fuzz a new reader, add one function to ENTRY_POINTS taking the drawn data.
"""

import json
import shutil

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lstmkit
from lstmkit import LstmkitError, Sequential
from lstmkit.layers import LSTM, Dense, Embedding

EXAMPLES = 60  # per entry point; CI runs them all (see README)
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

dtypes = st.sampled_from([np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
                          np.uint32, np.uint64, np.float16, np.float32, np.float64, np.bool_,
                          np.complex64])
shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)
arrays = dtypes.flatmap(lambda d: hnp.arrays(d, shapes))
ragged = st.lists(st.lists(st.one_of(st.integers(-3, 40), st.floats(allow_nan=True)),
                           max_size=6), max_size=6)
data = st.one_of(arrays, ragged, st.none(), st.text(max_size=5),
                 arrays.map(torch.from_numpy))


def text_model():
    model = Sequential([Embedding(30, 3), LSTM(2), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", metrics=["accuracy"], device="cpu")
    return model


def series_model():
    model = Sequential([LSTM(2, return_sequences=True), LSTM(2), Dense(2, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"], device="cpu")
    return model


def only_our_errors(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except LstmkitError:
        return None


ENTRY_POINTS = {
    "fit text": lambda x, y: text_model().fit(x, y, epochs=1, batch_size=4, verbose=0),
    "fit series": lambda x, y: series_model().fit(x, y, epochs=1, batch_size=4, verbose=0),
    "evaluate": lambda x, y: text_model().evaluate(x, y),
    "predict text": lambda x, y: text_model().predict(x),
    "predict series": lambda x, y: series_model().predict(x),
    "pad_sequences": lambda x, y: lstmkit.pad_sequences(x if x is not None else [], maxlen=4),
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_entry_points_raise_only_our_errors(entry):
    @FUZZ
    @given(x=data, y=data)
    def check(x, y):
        only_our_errors(ENTRY_POINTS[entry], x, y)

    check()


@FUZZ
@given(n=st.integers(1, 12), t=st.integers(1, 6), bad=st.sampled_from([None, np.nan, np.inf, 99, -1]))
def test_well_shaped_data_trains_or_is_refused(n, t, bad):
    rng = np.random.default_rng(n * 7 + t)
    x = rng.integers(0, 30, size=(n, t))
    y = rng.integers(0, 2, size=n).astype(np.float64)
    if bad is not None:
        (x if bad in (99, -1) else y)[..., 0] = bad if bad in (99, -1) else bad
    model = text_model()
    result = only_our_errors(model.fit, x, y, epochs=1, batch_size=3, verbose=0)
    if bad is None:
        assert result is not None and np.isfinite(result.history["loss"][0])
    else:
        assert result is None


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model") / "m"
    model = text_model()
    model.fit(np.ones((4, 3), dtype=int), np.ones(4), verbose=0)
    model.save(folder)
    return folder


mutations = st.tuples(st.sampled_from(["config.json", "model.safetensors"]),
                      st.sampled_from(["flip", "truncate", "insert", "json"]),
                      st.integers(0, 10**6), st.binary(min_size=1, max_size=8))


@FUZZ
@given(mutation=mutations)
def test_loader_survives_mutated_files(saved_model, tmp_path_factory, mutation):
    name, how, where, payload = mutation
    folder = tmp_path_factory.mktemp("mutant") / "m"
    shutil.copytree(saved_model, folder)
    path = folder / name
    data = bytearray(path.read_bytes())
    at = where % len(data)
    if how == "flip":
        data[at] ^= payload[0] or 1
    elif how == "truncate":
        data = data[:at]
    elif how == "insert":
        data[at:at] = payload
    else:  # a structurally valid JSON edit: change one value deep in the config
        config = json.loads(path.read_text()) if name == "config.json" else None
        if config is None:
            data[at:at] = payload
        else:
            layer = config["model"]["layers"][where % len(config["model"]["layers"])]
            key = sorted(layer["config"])[where % len(layer["config"])] if layer["config"] else None
            if key:
                layer["config"][key] = [None, -1, 10**12, "x", 0.5, [], {}, True][where % 8]
            data = bytearray(json.dumps(config).encode())
    path.write_bytes(bytes(data))
    model = only_our_errors(lstmkit.load_model, folder)
    if model is not None:
        assert isinstance(model, Sequential)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=8)


def json_paths(value, path=()):
    """The path of every value inside a parsed JSON document, containers too."""
    items = value.items() if isinstance(value, dict) else (
        enumerate(value) if isinstance(value, list) else ())
    for key, item in items:
        yield path + (key,)
        yield from json_paths(item, path + (key,))


@FUZZ
@given(where=st.integers(0, 10**6), value=json_values)
def test_loader_survives_any_json_in_any_field(saved_model, tmp_path_factory, where, value):
    """Any JSON value, nested or not, in place of any field of config.json."""
    folder = tmp_path_factory.mktemp("edited") / "m"
    shutil.copytree(saved_model, folder)
    config = json.loads((folder / "config.json").read_text())
    paths = list(json_paths(config))
    *parents, last = paths[where % len(paths)]
    parent = config
    for key in parents:
        parent = parent[key]
    parent[last] = value
    (folder / "config.json").write_text(json.dumps(config))
    model = only_our_errors(lstmkit.load_model, folder)
    if model is not None:
        assert isinstance(model, Sequential)
