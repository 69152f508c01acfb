"""Keras' conventions on the model itself: build takes the batch axis, a
model builds from the first data it is given, compile takes Keras' order."""

import numpy as np
import pytest
import torch

from lstmkit import Sequential
from lstmkit.errors import InputError
from lstmkit.layers import LSTM, Dense, Dropout, Embedding


def test_build_takes_the_batch_axis_as_keras_does():
    model = Sequential([LSTM(4), Dense(1)])
    model.build((None, 5, 3))
    assert model.input_shape == (5, 3)
    ids = Sequential([Embedding(10, 3), LSTM(4), Dense(1)])
    ids.build((None, 7))
    assert ids.input_shape == (7,)
    dense = Sequential([Dense(4), Dropout(0.1), Dense(1)])
    dense.build((None, 8))
    assert dense.input_shape == (8,)
    with pytest.raises(InputError, match=r"takes 3-D input \(batch, \.\.\., \.\.\.\)"):
        Sequential([LSTM(4)]).build((None, 5, 3, 2))


def test_the_per_sample_form_is_still_read_where_it_is_unambiguous():
    model = Sequential([LSTM(4), Dense(1)])
    model.build((None, 3))
    assert model.input_shape == (None, 3)
    ids = Sequential([Embedding(10, 3), LSTM(4)])
    ids.build((None,))
    assert ids.input_shape == (None,)


def test_evaluate_and_predict_build_an_untrained_model_from_their_data():
    x = np.random.rand(6, 5, 2).astype(np.float32)
    model = Sequential([LSTM(4), Dense(1)])
    assert model.predict(x).shape == (6, 1)
    other = Sequential([LSTM(4), Dense(1)])
    other.compile(optimizer="adam", loss="mse")
    assert np.isfinite(other.evaluate(x, np.zeros(6)))
    assert other.input_shape == (None, 2)


def test_compile_takes_keras_order_and_the_old_loss_first_form():
    model = Sequential([LSTM(4), Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", ["accuracy"])
    assert model._compiled["config"] == {"loss": "binary_crossentropy", "optimizer": "adam",
                                         "metrics": ["accuracy"]}
    model.compile("binary_crossentropy", "sgd")
    assert model._compiled["config"]["optimizer"] == "sgd"
    model.compile("mse")
    assert model._compiled["config"] == {"loss": "mse", "optimizer": "rmsprop", "metrics": []}
    model.compile(optimizer=torch.optim.Adam, loss="mse")
    with pytest.raises(InputError, match="compile needs a loss"):
        model.compile("adam")


def test_keras_1_names_in_fit_name_todays_spelling(ids_data):
    from conftest import tutorial_model
    x, y = ids_data
    with pytest.raises(InputError, match=r"nb_epoch is now epochs \(Keras 1's spelling\)"):
        tutorial_model().fit(x, y, nb_epoch=2)


def test_weights_move_between_models_and_a_fresh_model_takes_a_state_dict():
    torch.manual_seed(0)
    model = Sequential([LSTM(4), Dense(1)])
    model.build((None, 5, 3))
    fresh = Sequential([LSTM(4), Dense(1)])
    fresh.load_state_dict(model.state_dict())
    x = torch.randn(2, 5, 3)
    assert fresh.input_shape == (None, 3) and torch.equal(fresh(x), model(x))
    other = Sequential([LSTM(4), Dense(1)])
    other.build((None, 5, 3))
    other.set_weights(model.get_weights())
    assert torch.equal(other(x), model(x))
    with pytest.raises(InputError, match="set_weights: the model has 6 weight arrays, got 5"):
        other.set_weights(model.get_weights()[:5])
    ids = Sequential([Embedding(10, 3), LSTM(4)])
    ids.load_state_dict(_built(Embedding(10, 3), LSTM(4)).state_dict())
    assert ids.input_shape == (None,)


def _built(*layers):
    model = Sequential(list(layers))
    model.build((None, 4))
    return model


def test_pop_removes_the_last_layer_and_summary_says_why_counts_differ():
    model = Sequential([LSTM(16), Dense(1)])
    model.build((None, 5, 8))
    assert isinstance(model.pop(), Dense) and len(model.layers) == 1
    lines = []
    model.summary(print_fn=lines.append)
    assert "Total params: 1,664" in lines and any("Keras has one" in line for line in lines)
