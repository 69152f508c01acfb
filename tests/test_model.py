import numpy as np
import pytest
import torch

import lstmkit
from lstmkit import Sequential
from lstmkit.callbacks import CSVLogger, EarlyStopping
from lstmkit.layers import LSTM, Dense, Embedding

from conftest import tutorial_model


def test_tutorial_workflow_learns(ids_data, small_model):
    x, y = ids_data
    small_model.compile(loss="binary_crossentropy", metrics=["accuracy"],
                        optimizer=lambda params: torch.optim.RMSprop(params, lr=1e-2))
    history = small_model.fit(x[:240], y[:240], batch_size=16, epochs=12, verbose=0, seed=0)
    assert list(history.history) == ["loss", "accuracy"]
    assert len(history.history["loss"]) == 12 and history.epoch == list(range(12))
    assert history.history["loss"][-1] < history.history["loss"][0]
    loss, accuracy = small_model.evaluate(x[240:], y[240:], batch_size=16)
    assert accuracy > 0.8
    p = small_model.predict(x[240:], batch_size=16)
    assert isinstance(p, np.ndarray) and p.shape == (60, 1) and ((p >= 0) & (p <= 1)).all()
    assert accuracy == pytest.approx(((p[:, 0] > 0.5) == y[240:]).mean())


def test_sequential_is_a_plain_module(ids_data, small_model):
    x, _ = ids_data
    assert isinstance(small_model, torch.nn.Module)
    out = small_model(torch.as_tensor(x[:4]))  # builds on first call
    assert out.shape == (4, 1)
    keys = set(small_model.state_dict())
    assert "layers.1.lstm.weight_ih_l0" in keys and "layers.0.embedding.weight" in keys
    assert sum(p.numel() for p in small_model.parameters()) > 0


def test_summary_lists_shapes_and_counts(ids_data, small_model, capsys):
    small_model.summary()
    assert "not built" in capsys.readouterr().out
    small_model.build((None,))
    small_model.summary()
    text = capsys.readouterr().out
    assert "(None, None, 6)" in text and "(None, 8)" in text and "(None, 1)" in text
    lstm_params = 4 * 8 * (6 + 8) + 2 * 4 * 8
    assert str(lstm_params) in text
    assert f"Total params: {20 * 6 + lstm_params + 9:,}" in text


def test_seed_repeats_a_run_exactly(ids_data):
    x, y = ids_data
    runs = []
    for _ in range(2):
        model = tutorial_model()
        model.fit(x, y, batch_size=32, epochs=2, verbose=0, seed=7)
        runs.append(model.state_dict())
    for k in runs[0]:
        assert torch.equal(runs[0][k], runs[1][k])


def test_variable_length_lists_are_padded_before(small_model):
    x = [[3, 4, 5], [6], [7, 8, 9, 10, 11]]
    small_model.fit(x, [1, 0, 1], epochs=1, verbose=0)
    p = small_model.predict([[6], [0, 0, 0, 0, 6]])  # 'pre' padding: same last steps
    assert p.shape == (2, 1)


def test_validation_split_and_data(ids_data, small_model):
    x, y = ids_data
    h = small_model.fit(x, y, epochs=1, validation_split=0.25, verbose=0)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    h = small_model.fit(x[:200], y[:200], epochs=1, validation_data=(x[200:], y[200:]), verbose=0)
    assert "val_loss" in h.history


def test_evaluate_return_forms(ids_data, small_model):
    x, y = ids_data
    small_model.fit(x, y, epochs=1, verbose=0)
    logs = small_model.evaluate(x, y, return_dict=True)
    assert set(logs) == {"loss", "accuracy"}
    model = Sequential([Embedding(20, 4), LSTM(3), Dense(1)])
    model.compile(loss="mse", optimizer="adam")
    model.fit(x, y, epochs=1, verbose=0)
    assert isinstance(model.evaluate(x, y), float)


def test_regression_on_float_sequences():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 10, 2)).astype(np.float32)
    y = x[:, :, 0].sum(1)
    model = Sequential([LSTM(16), Dense(1)])
    model.compile(loss="mse", optimizer="adam", metrics=["mae"], device="cpu")
    h = model.fit(x, y, batch_size=20, epochs=15, verbose=0, seed=0)
    assert h.history["loss"][-1] < 0.5 * h.history["loss"][0]
    assert set(h.history) == {"loss", "mae"}


def test_multiclass_softmax_sparse_and_categorical():
    rng = np.random.default_rng(2)
    x = rng.integers(1, 10, size=(120, 6))
    y = x[:, -1] % 3
    for loss, target in (("sparse_categorical_crossentropy", y),
                         ("categorical_crossentropy", np.eye(3)[y])):
        model = Sequential([Embedding(10, 4), LSTM(8), Dense(3, activation="softmax")])
        model.compile(loss=loss, optimizer=lambda p: torch.optim.Adam(p, lr=1e-2),
                      metrics=["accuracy"])
        h = model.fit(x, target, batch_size=12, epochs=10, verbose=0, seed=0)
        assert h.history["accuracy"][-1] > 0.6
        assert np.allclose(model.predict(x[:5]).sum(1), 1, atol=1e-5)


def test_optimizer_forms(ids_data):
    x, y = ids_data
    for optimizer in ("adam", "sgd", "adamw", torch.optim.Adam,
                      lambda params: torch.optim.SGD(params, lr=0.1)):
        model = tutorial_model()
        model.compile(loss="binary_crossentropy", optimizer=optimizer)
        model.fit(x, y, epochs=1, verbose=0)
    model = tutorial_model()
    model.build((None,))
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-2)
    model.compile(loss="binary_crossentropy", optimizer=opt)
    model.fit(x, y, epochs=1, verbose=0)
    assert model.optimizer is opt


def test_named_optimizers_take_torchs_fastest_update_and_it_is_the_same_update():
    from lstmkit.optimizers import OPTIMIZERS, fastest

    def trained(make, steps=20):
        torch.manual_seed(0)
        weights = [torch.nn.Parameter(torch.randn(50, 7)), torch.nn.Parameter(torch.randn(7))]
        optimizer = make(weights)
        g = torch.Generator().manual_seed(1)
        for _ in range(steps):
            for w in weights:
                w.grad = torch.randn(w.shape, generator=g)
            optimizer.step()
        return weights

    w = [torch.nn.Parameter(torch.zeros(3))]
    assert OPTIMIZERS["adam"](w).defaults["fused"] and OPTIMIZERS["sgd"](w).defaults["fused"]
    assert OPTIMIZERS["adamw"]([{"params": w}]).defaults["fused"]
    assert not OPTIMIZERS["rmsprop"](w).defaults["foreach"]  # torch has no fused RMSprop
    # what a caller chooses stays chosen; integer tensors cannot take the fused kernel
    assert not fastest(torch.optim.Adam, w, foreach=False).defaults["fused"]
    assert not fastest(torch.optim.SGD, [torch.zeros(2, dtype=torch.int64)], lr=0.1).defaults[
        "fused"]
    ours = trained(OPTIMIZERS["adam"])  # torch's default update, to within the last place
    default = trained(lambda p: torch.optim.Adam(p, lr=1e-3, eps=1e-7))
    for a, b in zip(ours, default):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=0)


def test_callbacks_early_stopping_and_csv(ids_data, small_model, tmp_path):
    x, y = ids_data
    calls = []

    class Recorder:
        def on_epoch_end(self, trainer, epoch, logs):
            calls.append((epoch, sorted(logs)))

        def on_train_batch_end(self, trainer, batch, batch_size):
            if batch == 0:
                assert "loss" in trainer.running_logs()

    stop = EarlyStopping(monitor="loss", patience=0, min_delta=10.0)
    h = small_model.fit(x, y, epochs=10, verbose=0,
                        callbacks=[Recorder(), stop, CSVLogger(tmp_path / "log.csv")])
    assert len(h.epoch) == 2 and stop.stopped_epoch == 1
    assert calls[0] == (0, ["accuracy", "loss"])
    lines = (tmp_path / "log.csv").read_text().splitlines()
    assert lines[0] == "epoch,loss,accuracy" and len(lines) == 3


def test_progress_bar_and_line_output(ids_data, small_model, capsys):
    x, y = ids_data
    small_model.fit(x, y, epochs=1, verbose=2)
    err = capsys.readouterr().err
    assert "Epoch 1/1" in err and "loss:" in err and "accuracy:" in err
    small_model.fit(x, y, epochs=1, verbose=1)
    err = capsys.readouterr().err
    assert "sample/s" in err and "Epoch 1/1" in err


def test_save_and_load_round_trip(ids_data, small_model, tmp_path):
    x, y = ids_data
    small_model.fit(x, y, epochs=1, verbose=0)
    small_model.save(tmp_path / "m", metadata={"note": "hi"})
    loaded = lstmkit.load_model(tmp_path / "m")
    assert loaded.metadata == {"note": "hi"}
    np.testing.assert_array_equal(loaded.predict(x), small_model.predict(x))
    assert loaded.evaluate(x, y) == pytest.approx(small_model.evaluate(x, y))
    loaded.fit(x, y, epochs=1, verbose=0)  # compiled again from the saved names
    assert not list(tmp_path.glob("m/.tmp-*"))


def test_public_names():
    from lstmkit import Sequential, load_model  # noqa: F401
    from lstmkit.layers import Dense, Dropout, Embedding, LSTM  # noqa: F401
    assert lstmkit.__version__


def test_bucket_by_length_batches_similar_lengths():
    from lstmkit.data.batching import batch_indices
    lengths = torch.arange(400) % 37
    seen = []
    spreads = []
    for index in batch_indices(400, 8, shuffle=True, generator=torch.Generator().manual_seed(0),
                               lengths=lengths):
        seen += index.tolist()
        spreads.append(int(lengths[index].max() - lengths[index].min()))
    assert sorted(seen) == list(range(400))  # every sample once
    assert np.median(spreads) <= 2  # random batches of 8 would spread over ~30
    model = Sequential([Embedding(20, 4, mask_zero=True), LSTM(3), Dense(1)])
    model.compile(loss="mse")
    x = lstmkit.pad_sequences([[1] * (i % 9 + 1) for i in range(50)])
    model.fit(x, np.zeros(50), bucket_by_length=True, verbose=0)
    unmasked = Sequential([Embedding(20, 4), LSTM(3), Dense(1)])
    unmasked.compile(loss="mse")
    with pytest.raises(lstmkit.LstmkitError, match="bucket_by_length needs a mask"):
        unmasked.fit(x, np.zeros(50), bucket_by_length=True, verbose=0)


@pytest.mark.parametrize("cast", ["double", "bfloat16"])
def test_a_model_cast_to_another_precision_reads_its_input_in_it(cast):
    model = Sequential([LSTM(4), Dense(1)])
    model.compile(loss="mse", device="cpu")
    model.build((None, 2))
    getattr(model, cast)()
    x, y = np.random.rand(8, 5, 2).astype(np.float32), np.random.rand(8).astype(np.float32)
    model.fit(x, y, verbose=0)
    assert np.isfinite(model.evaluate(x, y))
    assert model.predict(x).dtype == (np.float64 if cast == "double" else np.float32)
