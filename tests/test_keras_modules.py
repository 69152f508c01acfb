"""lstmkit.keras's modules: Keras' optimizers, losses, metrics, activations,
utils, datasets.imdb and models on lstmkit, and refusals that say what to
use instead."""

import json
import math

import numpy as np
import pytest
import torch

import lstmkit.keras as keras
from lstmkit import errors
from lstmkit.keras import NotSupportedError

from conftest import StopAt, tutorial_model
from test_imdb import ARCHIVE, REVIEWS, WORD_INDEX, WORD_INDEX_JSON, write_archive


def compiled(optimizer="rmsprop", loss="binary_crossentropy", metrics=("accuracy",)):
    model = tutorial_model()
    model.compile(loss=loss, optimizer=optimizer, metrics=list(metrics), device="cpu")
    return model


# ----- optimizers -----------------------------------------------------------------

@pytest.mark.parametrize("cls, torch_class, expected", [
    (keras.optimizers.SGD, torch.optim.SGD, {"lr": 0.01, "momentum": 0.0, "nesterov": False}),
    (keras.optimizers.RMSprop, torch.optim.RMSprop,
     {"lr": 0.001, "alpha": 0.9, "eps": 1e-7, "momentum": 0.0, "centered": False}),
    (keras.optimizers.Adam, torch.optim.Adam, {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-7}),
    (keras.optimizers.AdamW, torch.optim.AdamW, {"lr": 0.001, "weight_decay": 0.004}),
    (keras.optimizers.Adagrad, torch.optim.Adagrad,
     {"lr": 0.001, "initial_accumulator_value": 0.1, "eps": 1e-7}),
    (keras.optimizers.Adadelta, torch.optim.Adadelta, {"lr": 0.001, "rho": 0.95, "eps": 1e-7}),
    (keras.optimizers.Adamax, torch.optim.Adamax, {"lr": 0.001, "eps": 1e-7}),
    (keras.optimizers.Nadam, torch.optim.NAdam, {"lr": 0.001, "momentum_decay": 0.004}),
])
def test_optimizers_make_torch_ones_with_keras_defaults(cls, torch_class, expected):
    made = cls()([torch.zeros(2, requires_grad=True)])
    assert isinstance(made, torch_class)
    assert {k: made.defaults[k] for k in expected} == expected
    made.learning_rate = 0.5  # Keras' attribute, on every group
    assert made.param_groups[0]["lr"] == made.learning_rate == 0.5
    assert json.loads(json.dumps(keras.optimizers.serialize(cls()))) == {
        "class_name": cls.__name__, "config": cls().get_config()}


def test_an_optimizer_object_trains_as_compile_takes_a_factory(ids_data):
    x, y = ids_data
    model = compiled(keras.optimizers.Adam(learning_rate=1e-2))
    model.fit(x, y, epochs=2, verbose=0, seed=0)
    # torch's fused Adam: the one lstmkit makes for CPU weights (lstmkit.optimizers.fastest)
    same = compiled(lambda params: torch.optim.Adam(params, lr=1e-2, eps=1e-7, fused=True))
    same.fit(x, y, epochs=2, verbose=0, seed=0)
    for name, value in model.state_dict().items():
        assert torch.equal(same.state_dict()[name], value), name


def test_decoupled_weight_decay_and_clipping_as_keras():
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    w.grad = torch.tensor([30.0, 40.0])  # norm 50
    keras.optimizers.SGD(learning_rate=0.1, weight_decay=0.5, clipnorm=5.0)([w]).step()
    # the gradient clipped to norm 5 ([3, 4]), the weight shrunk by lr * wd first (x 0.95)
    torch.testing.assert_close(w.detach(), torch.tensor([0.95 - 0.3, -1.9 - 0.4]))
    v = torch.nn.Parameter(torch.tensor([1.0]))
    v.grad = torch.tensor([3.0])
    keras.optimizers.SGD(learning_rate=1.0, clipvalue=0.5)([v]).step()
    assert v.item() == pytest.approx(0.5)
    with pytest.raises(errors.InputError, match="only one of clipnorm, clipvalue"):
        keras.optimizers.Adam(clipnorm=1.0, clipvalue=1.0)


def test_optimizer_refusals_name_todays_spelling():
    with pytest.raises(NotSupportedError, match="Keras 2's spelling.*use learning_rate"):
        keras.optimizers.Adam(lr=0.01)
    with pytest.raises(NotSupportedError, match="use_ema=True"):
        keras.optimizers.Adam(use_ema=True)
    with pytest.raises(errors.InputError, match="unknown argument"):
        keras.optimizers.SGD(momentun=0.9)
    with pytest.raises(NotSupportedError, match="torch.optim has no Lion"):
        keras.optimizers.Lion()
    assert keras.optimizers.get("adam") == keras.optimizers.Adam()


def test_a_schedule_sets_every_step_and_resumes_exactly(tmp_path, ids_data):
    x, y = ids_data
    decay = keras.optimizers.schedules.ExponentialDecay(0.01, decay_steps=4, decay_rate=0.5)
    assert decay(8) == pytest.approx(0.0025)
    settings = dict(batch_size=30, epochs=2, verbose=0, seed=1)
    whole = compiled(keras.optimizers.SGD(learning_rate=decay))
    whole.fit(x, y, callbacks=[StopAt(-1)], **settings)
    assert whole.optimizer.param_groups[0]["lr"] == pytest.approx(0.01 * 0.5 ** (19 / 4))
    first = compiled(keras.optimizers.SGD(learning_rate=decay))
    first.fit(x, y, callbacks=[StopAt(7)], checkpoint_dir=tmp_path, **settings)
    second = compiled(keras.optimizers.SGD(learning_rate=decay))
    second.fit(x, y, callbacks=[StopAt(-1)], resume=tmp_path, **settings)
    for name, value in whole.state_dict().items():
        assert torch.equal(second.state_dict()[name], value), name
    steps = keras.optimizers.schedules
    assert steps.PiecewiseConstantDecay([2, 4], [1.0, 0.5, 0.1])(3) == 0.5
    assert steps.CosineDecay(1.0, 10, warmup_target=2.0, warmup_steps=4)(2) == pytest.approx(1.5)
    assert steps.PolynomialDecay(1.0, 10, end_learning_rate=0.0)(5) == pytest.approx(0.5)


# ----- losses, metrics, activations --------------------------------------------------

def test_loss_and_metric_objects_are_lstmkit_names(ids_data, tmp_path):
    x, y = ids_data
    model = tutorial_model()
    model.compile(optimizer="rmsprop", loss=keras.losses.BinaryCrossentropy(),
                  metrics=[keras.metrics.BinaryAccuracy(), keras.metrics.Accuracy()], device="cpu")
    assert model._compiled["loss"].from_logits  # lstmkit's logits path after the sigmoid
    history = model.fit(x, y, verbose=0)
    assert set(history.history) == {"loss", "binary_accuracy", "accuracy"}
    model.save(tmp_path / "m")
    saved = json.loads((tmp_path / "m" / "config.json").read_text())["compile"]
    assert saved == {"loss": "binary_crossentropy", "optimizer": "rmsprop",
                     "metrics": ["binary_accuracy", "accuracy"]}


def test_losses_called_give_keras_values():
    y_true, y_pred = np.array([[1.0], [0.0]]), np.array([[0.8], [0.4]])
    expected = -(math.log(0.8) + math.log(0.6)) / 2
    assert float(keras.losses.BinaryCrossentropy()(y_true, y_pred)) == pytest.approx(expected)
    per_sample = keras.losses.binary_crossentropy(y_true, y_pred)
    assert per_sample.shape == (2,) and float(per_sample.mean()) == pytest.approx(expected)
    assert float(keras.losses.MeanSquaredError()([1.0, 2.0], [1.5, 2.0])) == pytest.approx(0.125)
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    assert float(keras.losses.SparseCategoricalCrossentropy()([0, 2], probs)) == pytest.approx(
        -(math.log(0.7) + math.log(0.8)) / 2)
    assert float(keras.metrics.SparseCategoricalAccuracy()([0, 1], probs)) == 0.5
    assert float(keras.metrics.Accuracy()([1, 2, 3], [1, 2, 4])) == pytest.approx(2 / 3)


def test_loss_arguments_lstmkit_cannot_honour_are_refused():
    with pytest.raises(NotSupportedError, match="activation is 'sigmoid'"):
        keras.losses.BinaryCrossentropy(from_logits=True)
    with pytest.raises(NotSupportedError, match="label_smoothing=0.1"):
        keras.losses.CategoricalCrossentropy(label_smoothing=0.1)
    with pytest.raises(NotSupportedError, match="reduction='sum'"):
        keras.losses.MeanSquaredError(reduction="sum")
    with pytest.raises(NotSupportedError, match="callable loss"):
        keras.losses.Huber()


def test_a_renamed_metric_is_a_callable_of_that_name(ids_data):
    x, y = ids_data
    strict = keras.metrics.BinaryAccuracy(name="strict", threshold=0.9)
    assert callable(strict) and not isinstance(strict, str) and strict.__name__ == "strict"
    history = compiled(metrics=[strict]).fit(x, y, verbose=0)
    assert "strict" in history.history
    with pytest.raises(NotSupportedError, match="cross-entropy"):
        keras.metrics.BinaryCrossentropy()
    with pytest.raises(NotSupportedError, match="callable"):
        keras.metrics.AUC()


def test_activations_are_the_names_layers_take():
    dense = keras.layers.Dense(2, activation=keras.activations.softmax)
    assert dense.get_config()["activation"] == "softmax"
    assert keras.activations.get(None) == "linear"
    with pytest.raises(NotSupportedError, match="'linear', 'sigmoid', 'tanh', 'relu'"):
        keras.activations.gelu


# ----- utils, preprocessing, backend -------------------------------------------------

def test_utils_as_keras():
    assert keras.utils.to_categorical([0, 2, 1]).tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
    assert keras.utils.to_categorical([[1], [0]], num_classes=3).shape == (2, 3)
    with pytest.raises(errors.InputError, match=r"in \[0, 2\) \(num_classes\), got 2"):
        keras.utils.to_categorical([0, 2], num_classes=2)
    assert keras.utils.pad_sequences([[1, 2], [3]]).tolist() == [[1, 2], [0, 3]]
    assert keras.preprocessing.sequence.pad_sequences([[1, 2, 3]], maxlen=2).tolist() == [[2, 3]]
    keras.utils.set_random_seed(4)
    a = torch.rand(1)
    keras.utils.set_random_seed(4)
    assert torch.equal(a, torch.rand(1))
    assert np.allclose(keras.utils.normalize([[3.0, 4.0]]), [[0.6, 0.8]])
    assert keras.backend.epsilon() == 1e-7 and keras.backend.floatx() == "float32"
    keras.backend.clear_session()
    with pytest.raises(NotSupportedError, match="never downloads"):
        keras.utils.get_file("x", "https://example.com/x")
    with pytest.raises(NotSupportedError, match="lstmkit.data.text"):
        import lstmkit.keras.preprocessing.text  # noqa: F401


# ----- datasets.imdb -----------------------------------------------------------------

@pytest.fixture
def imdb_archive(tmp_path):
    path = write_archive(tmp_path / ARCHIVE, REVIEWS)
    (tmp_path / WORD_INDEX).write_text(json.dumps(WORD_INDEX_JSON))
    return path


def test_imdb_load_data_follows_keras_steps(imdb_archive, monkeypatch):
    (x_train, y_train), (x_test, y_test) = keras.datasets.imdb.load_data(path=imdb_archive, seed=None)
    assert x_train.dtype == object and y_train.dtype == np.int64
    # Keras' ids: 1 starts a review, a word's id is its rank + 3 ("the" 4, ..., "it's" 9);
    # words the index lacks ("was", "worst") are left out, as Keras' copy has none
    by_text = {tuple(x): label for x, label in zip(x_train, y_train)}
    assert by_text == {(1, 4): 0, (1, 7, 7, 5): 0, (1, 4, 5, 6, 8, 8, 9, 6): 1}
    assert sorted(map(list, x_test)) == [[1, 6], [1, 7]]
    (x_train, _), _ = keras.datasets.imdb.load_data(path=imdb_archive, num_words=6, seed=None)
    assert sorted(map(list, x_train))[-1] == [1, 4, 5, 2, 2, 2, 2, 2]  # ids >= 6 are oov_char
    (x_train, _), _ = keras.datasets.imdb.load_data(path=imdb_archive, maxlen=5, seed=None,
                                                    start_char=None, index_from=0, oov_char=None,
                                                    skip_top=2)
    assert sorted(map(list, x_train)) == [[], [4, 4, 2]]  # reviews of 5 ids or more dropped
    monkeypatch.setenv("LSTMKIT_IMDB", str(imdb_archive))
    assert keras.datasets.imdb.get_word_index() == WORD_INDEX_JSON
    default = keras.datasets.imdb.load_data(seed=113)
    again = keras.datasets.imdb.load_data(path="imdb.npz")  # Keras' default name: the default copy
    assert [list(map(list, x)) for (x, _) in default] == [list(map(list, x)) for (x, _) in again]


def test_imdb_without_a_copy_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.delenv("LSTMKIT_IMDB", raising=False)
    monkeypatch.setattr("lstmkit.data.imdb._default_path", lambda: (_ for _ in ()).throw(
        errors.DataFileError("the IMDB archive was not found.")))
    with pytest.raises(errors.DataFileError, match="set LSTMKIT_IMDB.*never downloads"):
        keras.datasets.imdb.load_data()
    with pytest.raises(errors.DataFileError, match="holds pickles"):
        keras.datasets.imdb.load_data(path=tmp_path / "imdb.npz")


# ----- models, refusals --------------------------------------------------------------

def test_models_save_and_load_lstmkit_folders(tmp_path, ids_data):
    x, y = ids_data
    model = compiled()
    model.fit(x, y, verbose=0)
    keras.models.save_model(model, tmp_path / "m.keras")  # lstmkit's safe format
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert np.array_equal(loaded.predict(x[:5]), model.predict(x[:5]))
    with pytest.raises(errors.InputError, match="overwrite=False"):
        keras.models.save_model(model, tmp_path / "m.keras", overwrite=False)
    with pytest.raises(NotSupportedError, match="custom_objects"):
        keras.models.load_model(tmp_path / "m.keras", custom_objects={"f": print})


@pytest.mark.parametrize("expression, message", [
    ("keras.Model", "Sequential models only"), ("keras.layers.SimpleRNN", "use LSTM or GRU"),
    ("keras.layers.Conv2D", "lstmkit does not have this layer"),
    ("keras.callbacks.TensorBoard", "CSVLogger"), ("keras.ops", "torch code"),
    ("keras.regularizers", "dropout options"), ("keras.datasets.mnist", "IMDB only"),
])
def test_what_keras_has_and_lstmkit_lacks_is_refused_with_advice(expression, message):
    with pytest.raises(NotSupportedError, match=message) as e:
        eval(expression)
    assert not isinstance(e.value, AttributeError) and isinstance(e.value, errors.LstmkitError)


def test_names_keras_lacks_too_are_attribute_errors():
    with pytest.raises(AttributeError, match="Keras has no such name"):
        keras.layers.LSTMM
    assert not hasattr(keras, "__wrapped__")  # Python's probes are left alone
    assert "LSTM" in dir(keras.layers)


def test_a_star_import_of_keras_layers_gives_every_layer():
    namespace = {}
    exec("from lstmkit.keras.layers import *", namespace)
    import lstmkit.keras.layers as keras_layers
    for name in ("Dense", "Embedding", "Input", "LSTM", "Dropout", "Conv1D", "Bidirectional"):
        assert namespace[name] is getattr(keras_layers, name)
