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
    with pytest.raises(InputError, match=r"set_weights: 6 weight arrays are wanted \(layers.0.\w+"
                                         r".weight_ih_l0, .*\), got 5"):
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


def test_fit_takes_a_dataloader_a_dataset_and_a_generator(ids_data):
    from torch.utils.data import DataLoader, TensorDataset
    from conftest import tutorial_model
    x, y = ids_data
    data = TensorDataset(torch.as_tensor(x), torch.as_tensor(y))
    for given in (DataLoader(data, batch_size=30), data):
        model = tutorial_model()
        history = model.fit(given, epochs=2, verbose=0, validation_data=DataLoader(data, 100))
        assert len(history.history["val_loss"]) == 2

    def forever():
        while True:
            for start in range(0, 300, 50):
                yield x[start:start + 50], y[start:start + 50]

    model = tutorial_model()
    with pytest.raises(InputError, match="needs steps_per_epoch"):
        model.fit(forever(), epochs=1, verbose=0)
    history = model.fit(forever(), epochs=3, steps_per_epoch=4, verbose=0)
    assert len(history.history["loss"]) == 3
    with pytest.raises(InputError, match="targets come from its batches"):
        model.fit(DataLoader(data), y)


def test_a_dataloader_run_resumes_exactly(tmp_path, ids_data):
    from torch.utils.data import TensorDataset
    from conftest import StopAt, tutorial_model
    x, y = ids_data
    data = TensorDataset(torch.as_tensor(x), torch.as_tensor(y))
    settings = dict(epochs=2, batch_size=30, verbose=0, seed=3)
    whole = tutorial_model()
    whole.fit(data, callbacks=[StopAt(-1)], **settings)
    tutorial_model().fit(data, callbacks=[StopAt(13)], checkpoint_dir=tmp_path, **settings)
    again = tutorial_model()
    again.fit(data, callbacks=[StopAt(-1)], resume=tmp_path, **settings)
    for name, value in whole.state_dict().items():
        assert torch.equal(again.state_dict()[name], value), name


def test_initial_epoch_validation_freq_and_steps_per_epoch(ids_data):
    from conftest import tutorial_model
    x, y = ids_data
    seen = []

    class Epochs:
        def on_epoch_end(self, trainer, epoch, logs):
            seen.append((epoch, "val_loss" in logs, trainer.steps_done))

    tutorial_model().fit(x, y, batch_size=30, epochs=5, initial_epoch=2, validation_freq=2,
                         validation_split=0.2, steps_per_epoch=3, verbose=0, callbacks=[Epochs()])
    assert seen == [(2, False, 3), (3, True, 3), (4, False, 3)]


def test_keras_spellings_of_the_input_build_the_model_at_once():
    from lstmkit.layers.spelling import Input
    for model in (Sequential([LSTM(4, input_shape=(5, 3)), Dense(1)]),
                  Sequential([Input(shape=(5, 3)), LSTM(4), Dense(1)]),
                  Sequential([LSTM(4, batch_input_shape=(2, 5, 3), stateful=True), Dense(1)])):
        assert model.built and model.input_shape == (5, 3)
        assert model.layers[-1].linear.in_features == 4
    lstm = LSTM(4, input_dim=3, input_length=5)
    assert lstm.declared_input_shape == (5, 3)
    with_name = LSTM(4, name="lstm_1", activation="tanh", recurrent_activation="sigmoid")
    assert with_name.name == "lstm_1"


def test_what_the_fused_kernel_cannot_run_is_refused_with_the_reason():
    from lstmkit.errors import InputTypeError
    from lstmkit.layers import GRU
    with pytest.raises(InputError, match=r"LSTM activation='relu'.*computes activation='tanh' only"):
        LSTM(4, activation="relu")
    with pytest.raises(InputError, match="reset_after=False"):
        GRU(4, reset_after=False)
    with pytest.raises(InputTypeError, match="dropout_U is Keras 1's spelling of recurrent_dropout"):
        LSTM(4, dropout_U=0.2)
    with pytest.raises(InputTypeError, match=r"LSTM has no argument\(s\) \['colour'\]"):
        LSTM(4, colour="red")


def test_the_weightless_layers_of_keras_examples():
    from lstmkit.layers import (Activation, Conv1D, Flatten, MaxPooling1D, RepeatVector,
                                SpatialDropout1D, TimeDistributed)
    torch.manual_seed(0)
    cnn_lstm = Sequential([Embedding(20, 8, input_length=12), SpatialDropout1D(0.2),
                           Conv1D(4, 3, activation="relu"), MaxPooling1D(pool_size=4), LSTM(5),
                           Dense(1), Activation("sigmoid")])
    assert cnn_lstm.built and cnn_lstm.output_shape() == (1,)
    assert cnn_lstm.layers[4].input_shape == (3, 4)  # 12 steps pooled by 4
    seq2seq = Sequential([LSTM(6, input_shape=(5, 2)), RepeatVector(3),
                          LSTM(6, return_sequences=True), TimeDistributed(Dense(4)),
                          Activation("softmax")])
    out = seq2seq(torch.randn(2, 5, 2))
    assert out.shape == (2, 3, 4) and torch.allclose(out.sum(-1), torch.ones(2, 3))
    flat = Sequential([Flatten(input_shape=(4, 3)), Dense(2)])
    assert flat(torch.randn(5, 4, 3)).shape == (5, 2)
    same = MaxPooling1D(pool_size=3, strides=2, padding="same")
    assert same(torch.randn(1, 7, 2)).shape == (1, 4, 2) == (1, *same.output_shape((7, 2)))
    assert not cnn_lstm.layers[-1].activation is None  # the loss works on its logits


def test_a_layer_called_alone_builds_itself():
    x = torch.randn(2, 5, 3)
    lstm = LSTM(4)
    assert lstm(x).shape == (2, 4) and lstm.rnn.input_size == 3
    assert Dense(2)(torch.randn(3, 7)).shape == (3, 2)


def test_the_model_called_on_a_numpy_array():
    model = Sequential([Embedding(10, 3), LSTM(4), Dense(1)])
    assert model(np.array([[1, 2, 3]])).shape == (1, 1)


def test_sample_and_class_weights_weigh_the_loss(ids_data):
    from conftest import tutorial_model
    x, y = ids_data
    model = tutorial_model(dropout=0.0)
    model.build((None, 12))
    model.eval()
    with torch.no_grad():
        p = model(torch.as_tensor(x)).squeeze(-1).double()
    values = -(torch.as_tensor(y) * p.log() + (1 - torch.as_tensor(y)) * (1 - p).log())
    weights = np.where(y > 0.5, 3.0, 0.5)

    class Loss:
        def on_test_end(self, trainer, logs):
            self.loss = logs["loss"]

    numpy_table = dict(zip(np.unique(y.astype(np.int64)), np.array([0.5, 3.0])))  # NumPy keys
    for kwargs in ({"sample_weight": weights}, {"class_weight": {0: 0.5, 1: 3.0}},
                   {"class_weight": numpy_table}):
        seen = Loss()
        still = tutorial_model(dropout=0.0)  # learning rate 0: the weights stay `model`'s
        still.compile(optimizer=lambda p: torch.optim.SGD(p, lr=0.0), loss="binary_crossentropy")
        still.load_state_dict(model.state_dict())
        history = still.fit(x, y, batch_size=300, epochs=1, verbose=0,
                            validation_data=(x, y, weights), callbacks=[seen], **kwargs)
        expected = float((values * torch.as_tensor(weights)).mean())
        assert seen.loss == pytest.approx(expected, rel=1e-4)
        assert history.history["loss"][0] == pytest.approx(expected, rel=1e-4)
    with pytest.raises(InputError, match="class_weight needs a classification loss"):
        m = Sequential([LSTM(2), Dense(1)])
        m.compile("adam", "mse")
        m.fit(np.zeros((4, 3, 2)), np.zeros(4), class_weight={0: 1.0}, verbose=0)
    with pytest.raises(InputError, match="sample_weight holds 3 weights for 300 samples"):
        tutorial_model().fit(x, y, sample_weight=[1, 2, 3], verbose=0)


def test_keras_lstm_dropout_drops_the_inputs_one_mask_a_sequence():
    import lstmkit
    import lstmkit.keras as keras
    layer = keras.layers.LSTM(3, dropout=0.5)
    assert layer.input_dropout == 0.5 and layer.dropout == 0.0
    layer.build((None, 4))
    seen = []
    layer.lstm.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    layer.train()
    layer(torch.ones(2, 6, 4))
    x = seen[0]
    assert torch.equal(x[:, :1].expand_as(x), x)  # the same mask at every step
    assert bool((x == 0).any()) and bool((x == 2).any())
    layer.eval()
    layer(torch.ones(2, 6, 4))
    assert torch.equal(seen[1], torch.ones(2, 6, 4))
    model = Sequential([layer, Dense(1)])
    model.build((None, 6, 4))
    assert lstmkit.load_model is not None and model.get_config()["layers"][0]["config"][
        "input_dropout"] == 0.5


@pytest.mark.parametrize("padding, strides, steps", [("valid", 1, 8), ("valid", 2, 4),
                                                      ("same", 2, 5), ("same", 1, 10)])
def test_conv1d_takes_keras_padding_and_strides(padding, strides, steps):
    from lstmkit.layers import Conv1D
    torch.manual_seed(0)
    layer = Conv1D(4, 3, padding=padding, strides=strides)
    x = torch.randn(2, 10, 3)
    y = layer(x)
    assert y.shape == (2, steps, 4) == (2, *layer.output_shape((10, 3)))
    total = max((-(-10 // strides) - 1) * strides + 3 - 10, 0) if padding == "same" else 0
    padded = torch.nn.functional.pad(x.transpose(1, 2), (total // 2, total - total // 2))
    expected = torch.nn.functional.conv1d(padded, layer.conv.weight, layer.conv.bias,
                                          strides).transpose(1, 2)  # TensorFlow's 'same
    torch.testing.assert_close(y, expected)


def test_trainable_false_freezes_a_layer_as_keras_does(tmp_path):
    """layer.trainable = False (or trainable=False before the build) keeps its
    weights as they are in fit; a frozen BatchNormalization also keeps its
    moving statistics and normalises by them; the names and the freezing
    are saved with the model."""
    from lstmkit import load_model
    from lstmkit.layers import BatchNormalization
    rng = np.random.default_rng(0)
    x, y = rng.random((32, 6, 3), dtype=np.float32), (rng.random((32, 1)) > 0.5).astype(np.float32)
    model = Sequential([LSTM(4, name="encoder"), BatchNormalization(), Dense(1, name="out")],
                       name="frozen")
    model.build((None, 6, 3))
    model.layers[0].trainable = False
    model.get_layer(index=1).trainable = False
    model.compile(loss="mse", optimizer="adam")
    before = [w.copy() for w in model.get_weights()]
    moving = model.layers[1].running_mean.clone()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    same = [np.array_equal(a, b) for a, b in zip(before, model.get_weights())]
    assert same == [True] * 8 + [False, False]  # LSTM 4, batch norm 2 (+2 moving), Dense 2
    assert torch.equal(model.layers[1].running_mean, moving) and not model.layers[1].training
    printed = []
    model.summary(print_fn=printed.append)
    assert "encoder (LSTM)" in printed[3] and "Trainable params: 5" in printed
    assert model.get_layer("out") is model.layers[2] and model.name == "frozen"
    with pytest.raises(InputError, match="no layer named 'decoder'; the layers are encoder, "
                                         "batchnormalization_1, out"):
        model.get_layer("decoder")
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert [layer.trainable for layer in loaded.layers] == [False, False, True]
    assert [layer.name for layer in loaded.layers] == ["encoder", None, "out"]
    assert [p.requires_grad for p in loaded.parameters()] == [False] * 6 + [True, True]
    torch.testing.assert_close(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    # before the build, and the whole model at once
    ids = Sequential([Embedding(10, 3, trainable=False), LSTM(2), Dense(1)])
    ids.compile(loss="mse", optimizer="adam")
    ids.fit(rng.integers(0, 10, (8, 5)), np.ones((8, 1), np.float32), verbose=0)
    table = next(ids.layers[0].parameters())
    assert not table.requires_grad and ids.layers[1].trainable
    ids.trainable = False
    assert not any(p.requires_grad for p in ids.parameters()) and not ids.trainable
    ids.trainable = True
    assert all(p.requires_grad for p in ids.parameters())


def test_predict_gives_each_output_of_a_last_layer_that_returns_several():
    from lstmkit.layers import GRU, Bidirectional, MaxPooling1D
    from lstmkit.layers.spelling import Input
    x = np.random.default_rng(0).random((5, 4, 3), dtype=np.float32)
    model = Sequential([Input(shape=(4, 3)), LSTM(4, return_state=True)])
    out, h, c = model.predict(x, batch_size=2)  # a list, as Keras' predict gives
    assert out.shape == h.shape == c.shape == (5, 4) and np.array_equal(out, h)
    pair = Sequential([Input(shape=(4, 3)), Bidirectional(GRU(2, return_sequences=True),
                                                          merge_mode=None)]).predict(x)
    assert [p.shape for p in pair] == [(5, 4, 2), (5, 4, 2)]
    model.compile(loss="mse", optimizer="adam")
    with pytest.raises(InputError, match=r"model.fit\(\) scores one output, and the last layer "
                                         r"returns several \(return_state=True\)"):
        model.fit(x, np.zeros((5, 4)), verbose=0)
    # a model without weights predicts on the CPU
    pooled = Sequential([Input(shape=(4, 3)), MaxPooling1D()]).predict(x)
    assert pooled.shape == (5, 2, 3)


def test_keras_weights_methods_save_weights_and_load_weights(tmp_path):
    from lstmkit.errors import ModelFileError
    x = torch.randn(3, 5, 2)
    model = Sequential([LSTM(4), Dense(1)])
    model.build((None, 5, 2))
    assert model.count_params() == sum(w.size for w in model.get_weights())
    assert len(model.trainable_weights) == len(model.weights) == 6
    model.save_weights(tmp_path / "m.weights.safetensors")
    fresh = Sequential([LSTM(4), Dense(1)])  # unbuilt: built for the sizes the file holds
    fresh.load_weights(tmp_path / "m.weights.safetensors")
    assert torch.equal(fresh(x), model(x))
    with pytest.raises(ModelFileError, match=r"weight_ih_l0 is torch.float32 \(16, 2\), this model needs"):
        _built(LSTM(3), Dense(1)).load_weights(tmp_path / "m.weights.safetensors")
    for call in (lambda: model.save_weights(tmp_path / "m.weights.h5"),
                 lambda: model.save(tmp_path / "m.h5")):
        with pytest.raises(InputError, match="lstmkit writes and reads no HDF5"):
            call()
    assert not list(tmp_path.glob("*.h5"))  # nothing written, not even a folder
    # a layer's own weights, as Keras': a pretrained embedding table
    ids = Sequential([Embedding(6, 3), LSTM(2)])
    ids.build((None, 4))
    table = np.arange(18, dtype=np.float32).reshape(6, 3)
    ids.layers[0].set_weights([table])
    assert np.array_equal(ids.layers[0].get_weights()[0], table)
    with pytest.raises(InputError, match=r"Embedding.set_weights: .* is \(6, 3\), got \(5, 3\)"):
        ids.layers[0].set_weights([table[:5]])


def test_keras_names_of_optimizers_losses_and_metrics_in_its_other_spellings():
    from lstmkit.metrics import resolve_loss
    x, y = np.zeros((4, 3), np.float32), np.zeros((4, 1), np.float32)
    for optimizer, torch_class in (("adagrad", torch.optim.Adagrad), ("Adadelta", torch.optim.Adadelta),
                                   ("adamax", torch.optim.Adamax), ("nadam", torch.optim.NAdam)):
        model = Sequential([Dense(1)])
        model.compile(optimizer, "mse")
        model.fit(x, y, verbose=0)
        assert isinstance(model.optimizer, torch_class)
        assert model.optimizer.param_groups[0]["lr"] == 1e-3  # Keras' default, not torch's
    for loss, canonical in (("MSE", "mean_squared_error"), ("MeanAbsoluteError", "mean_absolute_error"),
                            ("BinaryCrossentropy", "binary_crossentropy")):
        model = Sequential([Dense(1, activation="sigmoid")])
        model.compile("adam", loss, metrics=["BinaryAccuracy", "MAE"])
        history = model.fit(x, y, verbose=0)
        assert resolve_loss(loss).name == canonical
        assert {"BinaryAccuracy", "MAE"} <= set(history.history)
    with pytest.raises(InputError, match=r"unknown name 'AUC'.*passed as a callable"):
        Sequential([Dense(1)]).compile("adam", "binary_crossentropy", metrics=["AUC"])


def test_compile_makes_the_optimizer_of_a_built_model_with_keras_learning_rate():
    x, y = np.zeros((4, 5, 3), np.float32), np.zeros((4, 1), np.float32)
    model = Sequential([LSTM(2), Dense(1)])
    model.build((None, 5, 3))
    model.compile("adam", "mse")
    assert isinstance(model.optimizer, torch.optim.Adam) and model.optimizer.learning_rate == 1e-3
    model.optimizer.learning_rate = 1e-4  # as a Keras user lowers it before fine-tuning
    model.fit(x, y, verbose=0)
    assert model.optimizer.param_groups[0]["lr"] == 1e-4
    model.add(Dense(1))  # new weights: the optimizer is made again at the next fit
    assert model.optimizer is None
    model.fit(x, y, verbose=0)
    held = {id(p) for group in model.optimizer.param_groups for p in group["params"]}
    assert {id(p) for p in model.parameters()} <= held


def test_a_pretrained_embedding_table_as_keras_takes_it(tmp_path):
    from lstmkit import load_model
    from lstmkit.initializers import Constant
    table = np.random.default_rng(0).random((20, 4), dtype=np.float32)
    model = Sequential([Embedding(20, 4, weights=[table], trainable=False), LSTM(2), Dense(1)])
    model.compile("adam", "mse")
    model.fit(np.random.default_rng(1).integers(0, 20, (8, 5)), np.ones((8, 1), np.float32),
              verbose=0)
    assert np.array_equal(model.layers[0].get_weights()[0], table)  # frozen as given
    model.save(tmp_path / "m")
    assert np.array_equal(load_model(tmp_path / "m").layers[0].get_weights()[0], table)
    with pytest.raises(InputError, match=r"the table is \(5, 4\), the layer's is \(20, 4\)"):
        Embedding(20, 4, weights=[table[:5]])
    with pytest.raises(InputError, match=r"an array of shape \(20, 4\); a pretrained table goes "
                                         r"in as Embedding\(\.\.\., weights=\[table\]\)"):
        Embedding(20, 4, embeddings_initializer=Constant(table))


def test_keras_compile_arguments_are_taken_where_they_ask_what_lstmkit_does():
    from lstmkit.errors import InputTypeError
    model = Sequential([Dense(1)])
    model.compile("adam", "mse", run_eagerly=True, jit_compile=False, steps_per_execution=1)
    with pytest.raises(InputError, match=r"loss_weights=\[1.0\]\) is not supported by lstmkit: "
                                         r"a Sequential has one output"):
        model.compile("adam", "mse", loss_weights=[1.0])
    with pytest.raises(InputError, match="jit_compile=True"):
        model.compile("adam", "mse", jit_compile=True)
    with pytest.raises(InputTypeError, match="compile\\(\\) has no argument 'los'"):
        model.compile("adam", los="mse")


def test_keras_batch_methods_metrics_names_and_a_hint_for_what_is_not_there(ids_data):
    from lstmkit.keras import NotSupportedError
    from conftest import tutorial_model
    x, y = ids_data
    model = tutorial_model()
    assert model.metrics_names == ["loss", "accuracy"]
    assert model.predict_on_batch(x[:5]).shape == (5, 1)
    loss, accuracy = model.test_on_batch(x[:5], y[:5])
    assert [loss, accuracy] == pytest.approx(model.evaluate(x[:5], y[:5], batch_size=5))
    with pytest.raises(NotSupportedError, match="train_on_batch is not supported by lstmkit: "
                                                r"fit\(x, y, batch_size=len\(x\), epochs=1"):
        model.train_on_batch(x[:5], y[:5])
    assert not hasattr(model, "to_json")  # an AttributeError too, for hasattr and getattr


def test_keras_layer_arguments_dense_use_bias_and_the_refused_ones_with_advice(tmp_path):
    from lstmkit import load_model
    from lstmkit.errors import InputTypeError
    model = Sequential([LSTM(3, kernel_regularizer=None), Dense(2, use_bias=False)])
    model.build((None, 4, 2))
    assert model.layers[1].linear.bias is None and model.count_params() == 2 * 3 + \
        sum(p.numel() for p in model.layers[0].parameters())
    model.compile("adam", "mse")
    x = np.random.default_rng(0).random((5, 4, 2), dtype=np.float32)
    model.fit(x, np.zeros((5, 2), np.float32), verbose="auto")  # Keras' default verbose
    model.save(tmp_path / "m")
    np.testing.assert_array_equal(load_model(tmp_path / "m").predict(x), model.predict(x))
    with pytest.raises(InputTypeError, match="Dropout does not take Keras' seed= .*fit\\(seed=\\)"):
        Dropout(0.2, seed=1)
    with pytest.raises(InputTypeError, match="kernel_regularizer= \\(lstmkit has no per-layer"):
        Dense(2, kernel_regularizer="l2")


def test_what_review_found_build_twice_frozen_fit_names_and_nested_outputs():
    from lstmkit.errors import InputTypeError
    from lstmkit.layers import BatchNormalization, Bidirectional
    from lstmkit.layers.spelling import Input
    x, y = np.random.default_rng(0).random((6, 5, 3), dtype=np.float32), np.ones((6, 1), np.float32)
    model = Sequential([LSTM(4, input_shape=(5, 3)), Dense(1)])
    model.compile("adam", "mse")
    before = model.get_weights()
    model.build((None, 5, 3))  # built already: nothing remade (the optimizer holds its weights)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    history = model.fit(x, y, epochs=3, verbose=0)
    assert history.history["loss"][0] > history.history["loss"][-1]
    frozen = Sequential(trainable=False)
    frozen.add(Dense(2, input_shape=(3,)))  # the model's trainable=False holds for layers added
    assert not any(p.requires_grad for p in frozen.parameters())
    frozen.compile("adam", "mse")
    with pytest.raises(InputError, match="fit: no weight is trainable"):
        frozen.fit(np.zeros((3, 3), np.float32), np.zeros((3, 2), np.float32), verbose=0)
    with pytest.raises(InputError, match="a layer named 'x' is in the model already"):
        Sequential([Dense(2, name="x"), Dense(1, name="x")])
    with pytest.raises(InputTypeError, match="name must be a non-empty string, got 5"):
        Dense(2, name=5)
    nested = Sequential([Input(shape=(5, 3)), Bidirectional(LSTM(2, return_state=True),
                                                            merge_mode=None)])
    assert [o.shape for o in nested.predict(x)] == [(6, 2)] * 6  # forward, backward, h, c, h, c
    norm = BatchNormalization()
    norm.build((3,))
    norm.train()
    norm.trainable = False
    assert not norm.training
    norm.trainable = True  # unfrozen: it runs as the model does again
    assert norm.training
