"""Each user mistake gets our own error naming what was wrong, before any step."""

import re

import numpy as np
import pytest
import torch

import lstmkit
from lstmkit import LstmkitError, Sequential
from lstmkit.errors import InputError, NotCompiledError
from lstmkit.layers import LSTM, Dense, Embedding

from conftest import tutorial_model


@pytest.fixture
def model():
    m = tutorial_model()
    m.build((None,))
    return m


def fit_refused(model, x, y, match, error=InputError, **kwargs):
    """fit raises `error` matching `match` and leaves the weights untouched."""
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(error, match=match) as info:
        model.fit(x, y, verbose=0, **kwargs)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), f"{k} changed although fit refused the data"
    assert isinstance(info.value, LstmkitError)
    return info.value


def test_fit_before_compile():
    model = Sequential([Embedding(10, 4), LSTM(3), Dense(1)])
    with pytest.raises(NotCompiledError, match=r"compile\(loss=.*before model.fit"):
        model.fit(np.ones((4, 3), dtype=int), np.ones(4))
    with pytest.raises(NotCompiledError):
        model.evaluate(np.ones((4, 3), dtype=int), np.ones(4))


def test_sample_counts_differ(model):
    fit_refused(model, np.ones((10, 5), dtype=int), np.ones(9), "x and y hold different numbers of samples: 10 and 9")


def test_two_dimensional_input_to_lstm():
    model = Sequential([LSTM(4), Dense(1)])
    model.compile(loss="mse")
    with pytest.raises(InputError, match=r"LSTM expects x of shape \(samples, timesteps, features\), got 2-D input of shape \(10, 5\); for one feature per step use x\[\.\.\., None\]"):
        model.fit(np.ones((10, 5), dtype=np.float32), np.ones(10), verbose=0)


@pytest.mark.parametrize("bad, shown", [(20, "got 20 at index (3, 2)"), (-1, "got -1 at index (3, 2)")])
def test_embedding_index_out_of_range(model, bad, shown):
    x = np.ones((10, 5), dtype=int)
    x[3, 2] = bad
    fit_refused(model, x, np.ones(10), r"must lie in \[0, 20\) \(input_dim\), " + shown.replace("(", r"\(").replace(")", r"\)"))
    with pytest.raises(InputError, match="input_dim"):
        model.predict(x)


def test_fractional_ids(model):
    fit_refused(model, np.full((4, 3), 1.5), np.ones(4), "integer ids")


@pytest.mark.parametrize("kwargs, match", [
    ({"loss": "binary_crossentropie"}, "unknown name 'binary_crossentropie'; known: binary_crossentropy, categorical_crossentropy"),
    ({"loss": "mse", "optimizer": "adamm"}, "unknown name 'adamm'; known: rmsprop, adam, adamw, sgd"),
    ({"loss": "mse", "metrics": ["accuracy"]}, "'accuracy' needs a classification loss"),
    ({"loss": "mse", "metrics": ["f1"]}, "unknown name 'f1'; known:"),
    ({"loss": 3}, "loss must be a name or a callable"),
])
def test_unknown_names(kwargs, match):
    model = Sequential([LSTM(3), Dense(1)])
    with pytest.raises((InputError, TypeError), match=match) as info:
        model.compile(**kwargs)
    assert isinstance(info.value, LstmkitError)


@pytest.mark.parametrize("value, name", [(np.nan, "nan"), (np.inf, "inf")])
def test_non_finite_inputs(value, name):
    model = Sequential([LSTM(3), Dense(1)])
    model.compile(loss="mse")
    x = np.zeros((6, 4, 2), dtype=np.float32)
    x[2, 1, 0] = value
    fit_refused(model, x, np.zeros(6), rf"x contains 1 non-finite value\(s\) \(NaN or inf\); the first is {name} at index \(2, 1, 0\)")
    y = np.zeros(6)
    y[4] = value
    fit_refused(model, np.zeros((6, 4, 2)), y, r"y contains 1 non-finite.*index \(4,\)")


def test_label_shapes_that_do_not_fit_the_loss(model):
    x = np.ones((8, 5), dtype=int)
    fit_refused(model, x, np.ones((8, 3)), r"y has shape \(8, 3\), the model outputs \('N', 1\)")
    fit_refused(model, x, np.full(8, 2.0), r"binary_crossentropy needs labels in \[0, 1\]")
    multi = Sequential([Embedding(20, 4), LSTM(3), Dense(4, activation="softmax")])
    multi.build((None,))
    multi.compile(loss="categorical_crossentropy")
    fit_refused(multi, x, np.arange(8) % 4, "use loss='sparse_categorical_crossentropy'")
    multi.compile(loss="sparse_categorical_crossentropy")
    fit_refused(multi, x, np.arange(8), r"class ids must lie in \[0, 4\).*got 7")


@pytest.mark.parametrize("x, y", [
    (np.zeros((0, 5), dtype=int), np.zeros(0)),
    ([], []),
])
def test_empty_data_set(model, x, y):
    fit_refused(model, x, y, "empty")


def test_bad_fit_arguments(model):
    x, y = np.ones((8, 5), dtype=int), np.ones(8)
    fit_refused(model, x, y, "batch_size must be at least 1", batch_size=0)
    fit_refused(model, x, y, "batch_size must be an int", TypeError, batch_size=2.5)
    fit_refused(model, x, y, r"validation_split must be in \[0, 1\)", validation_split=1.5)
    fit_refused(model, x, y, "validation_data must be a pair", validation_data=x)
    fit_refused(model, x, np.ones(8), "different numbers", validation_data=(x, np.ones(7)))


def test_wrong_types_of_data(model):
    fit_refused(model, "some text", np.ones(1), "must hold numbers", TypeError)
    fit_refused(model, [[1, "a"], [2, 3]], np.ones(2), "numbers|integer ids", (TypeError, ValueError))


def test_input_shape_differs_from_the_built_model():
    model = Sequential([LSTM(3), Dense(1)])
    model.compile(loss="mse")
    model.fit(np.zeros((4, 5, 2)), np.zeros(4), verbose=0)
    with pytest.raises(InputError, match="per-sample shape"):
        model.fit(np.zeros((4, 5, 3)), np.zeros(4), verbose=0)
    with pytest.raises(InputError, match="per-sample shape"):
        model.predict(np.zeros((4, 5, 3)))


def test_unknown_device():
    model = Sequential([LSTM(3), Dense(1)])
    with pytest.raises(InputError, match="device"):
        model.compile(loss="mse", device="tpu:7")


def test_sequence_targets_must_have_the_steps_of_x():
    model = Sequential([Embedding(10, 4), LSTM(4, return_sequences=True), Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).integers(0, 10, size=(16, 7))
    model.fit(x, x % 3, verbose=0)  # per-step labels train
    with pytest.raises(InputError, match=r"y has shape \(16, 5\), the model outputs \('N', 7, 3\)"):
        model.fit(x, (x % 3)[:, :5], verbose=0)


def _fitted(first, head, loss):
    """A tiny model trained one epoch on well-formed float32 data."""
    layers = [Embedding(5, 3), LSTM(2), head] if first == "ids" else [LSTM(2), head]
    model = Sequential(layers)
    model.compile(loss=loss)
    x = np.ones((4, 3), dtype=int) if first == "ids" else np.ones((4, 3, 2), dtype=np.float32)
    model.fit(x, TARGETS[loss](), verbose=0)
    return model, x


TARGETS = {  # well-formed labels for four samples, in NumPy's default dtypes
    "binary_crossentropy": lambda: np.array([0, 1, 1, 0]),
    "sparse_categorical_crossentropy": lambda: np.array([0, 2, 1, 2]),
    "categorical_crossentropy": lambda: np.eye(3)[[0, 2, 1, 2]],
    "mse": lambda: np.array([0, 1, 1, 0]),
}
HEADS = {"binary_crossentropy": lambda: Dense(1, activation="sigmoid"),
         "sparse_categorical_crossentropy": lambda: Dense(3, activation="softmax"),
         "categorical_crossentropy": lambda: Dense(3, activation="softmax"),
         "mse": lambda: Dense(1)}


@pytest.mark.parametrize("first, empty, shape, axis", [
    ("ids", [[]], (1, 0), 1),
    ("ids", [[], []], (2, 0), 1),
    ("ids", np.zeros((2, 0), dtype=int), (2, 0), 1),
    ("values", [[]], (1, 0), 1),
    ("values", np.zeros((2, 0, 2), dtype=np.float32), (2, 0, 2), 1),
    ("values", torch.zeros(2, 3, 0), (2, 3, 0), 2),
])
def test_zero_length_sequences_are_refused(first, empty, shape, axis):
    model, _ = _fitted(first, Dense(1, activation="sigmoid"), "binary_crossentropy")
    match = re.escape(f"x has shape {shape}: axis {axis} has length 0, so every sample is empty")
    y = np.ones(len(empty))
    for call in (lambda: model.fit(empty, y, verbose=0), lambda: model.evaluate(empty, y),
                 lambda: model.predict(empty)):
        with pytest.raises(InputError, match=match):
            call()


def test_some_empty_sequences_are_padding():
    model, _ = _fitted("ids", Dense(1, activation="sigmoid"), "binary_crossentropy")
    ragged = [[], [1, 2], [3]]
    model.fit(ragged, np.array([0, 1, 1]), verbose=0)
    assert model.predict(ragged).shape == (3, 1)
    with pytest.raises(InputError, match="all 2 sequences are empty"):
        lstmkit.pad_sequences([[], []])


def _as(values, dtype):
    """values in a NumPy dtype, or as a torch tensor for bfloat16 (NumPy has none)."""
    if dtype == "bfloat16":
        return torch.as_tensor(np.asarray(values, dtype=np.float32)).to(torch.bfloat16)
    return np.asarray(values).astype(dtype)


@pytest.mark.parametrize("loss", sorted(TARGETS))
@pytest.mark.parametrize("first", ["ids", "values"])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64", "int8", "uint8", "bool"])
def test_inputs_and_targets_of_any_real_dtype(loss, first, dtype):
    """Well-formed data in any real dtype trains, evaluates and predicts (integer
    values for an LSTM become float32, as Keras casts them)."""
    model, x = _fitted(first, HEADS[loss](), loss)
    x_cast = _as(x if dtype != "bool" else x > 0, dtype)  # bool: ones stay ones
    y_cast = _as(TARGETS[loss]() if dtype != "bool" else TARGETS[loss]() > 0, dtype)
    if loss == "sparse_categorical_crossentropy" and dtype == "bool":
        model.compile(loss=loss)  # ids 0 and 1 only: still valid class ids
    model.fit(x_cast, y_cast, verbose=0)
    assert np.isfinite(model.evaluate(x_cast, y_cast))
    assert np.isfinite(model.predict(x_cast)).all()


def test_fit_and_evaluate_without_targets():
    """y=None used to reach the loss (AttributeError in prepare_target)."""
    model, x = _fitted("values", Dense(1), "mse")
    with pytest.raises(InputError, match="evaluate needs targets y"):
        model.evaluate(x.astype(np.float16), None)
    fit_refused(model, x, None, "fit needs targets y")
    fit_refused(model, x, np.zeros(4), "validation y is None: mean_squared_error needs targets",
                validation_data=(x, None))


@pytest.mark.parametrize("loss, metric, match", [
    ("sparse_categorical_crossentropy", "mse",
     "'mse' needs targets shaped like the output, but loss 'sparse_categorical_crossentropy' "
     "takes class ids; 'accuracy' picks"),
    ("sparse_categorical_crossentropy", "binary_accuracy", "needs targets shaped like the output"),
    ("categorical_crossentropy", "sparse_categorical_accuracy",
     "'sparse_categorical_accuracy' needs class ids, but loss 'categorical_crossentropy' takes "
     "targets shaped like the output"),
    ("mse", "sparse_categorical_accuracy", r"takes targets shaped like the output$"),
])
def test_metrics_that_do_not_read_the_loss_targets(loss, metric, match):
    model = Sequential([LSTM(3), Dense(3, activation="softmax")])
    with pytest.raises(InputError, match=match):
        model.compile(loss=loss, metrics=[metric])
