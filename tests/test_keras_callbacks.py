"""Keras' callback protocol: hooks with Keras' arguments, self.model and
self.params, stop_training, beside the loop's own trainer-first callbacks."""

import numpy as np
import pytest

from lstmkit.callbacks import Callback

from conftest import tutorial_model


class Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin", self.params, self.model is not None))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, sorted(logs)))
        if epoch == 1:
            self.model.stop_training = True

    def on_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch, sorted(logs)))

    def on_test_end(self, logs=None):
        self.calls.append(("test_end", sorted(logs)))


class Plain:
    """A Keras callback written without the base class."""

    def __init__(self):
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append((epoch, logs["loss"]))


class TrainerFirst:
    def __init__(self):
        self.epochs = []

    def on_epoch_end(self, trainer, epoch, logs):
        self.epochs.append(epoch)


def test_keras_and_trainer_first_callbacks_work_in_one_fit(ids_data):
    x, y = ids_data
    keras, plain, ours = Recorder(), Plain(), TrainerFirst()
    history = tutorial_model().fit(x, y, batch_size=100, epochs=5, verbose=0,
                                   validation_split=0.2, callbacks=[keras, plain, ours])
    assert len(history.epoch) == 2  # stop_training after the second epoch
    assert keras.calls[0] == ("train_begin", {"epochs": 5, "verbose": 0, "steps": 3}, True)
    assert ("batch_end", 0, ["accuracy", "loss"]) in keras.calls
    assert ("test_end", ["accuracy", "loss"]) in keras.calls
    assert ("epoch_end", 0, ["accuracy", "loss", "val_accuracy", "val_loss"]) in keras.calls
    assert [e for e, _ in plain.epochs] == ours.epochs == [0, 1]
    assert plain.epochs[0][1] == pytest.approx(history.history["loss"][0])


def test_evaluate_and_predict_call_their_hooks(ids_data):
    x, y = ids_data
    seen = []

    class Look(Callback):
        def on_test_batch_end(self, batch, logs=None):
            seen.append(("test", batch, sorted(logs)))

        def on_predict_batch_end(self, batch, logs=None):
            seen.append(("predict", batch, logs["outputs"].shape))

    model = tutorial_model()
    model.fit(x, y, epochs=1, verbose=0)
    model.evaluate(x, y, batch_size=200, callbacks=[Look()])
    out = model.predict(x[:10], batch_size=4, callbacks=[Look()])
    assert seen == [("test", 0, ["accuracy", "loss"]), ("test", 1, ["accuracy", "loss"]),
                    ("predict", 0, (4, 1)), ("predict", 1, (4, 1)), ("predict", 2, (2, 1))]
    assert isinstance(out, np.ndarray) and out.shape == (10, 1)


# ----- Keras' built-in callbacks (lstmkit.keras.callbacks) --------------------

import csv  # noqa: E402
import math  # noqa: E402
import warnings  # noqa: E402

import safetensors.torch  # noqa: E402
import torch  # noqa: E402

from lstmkit import errors  # noqa: E402
from lstmkit.callbacks import KerasHooks, ModelCheckpointEveryNBatches, TerminatedOnNaN  # noqa: E402
from lstmkit.keras import callbacks as K  # noqa: E402
from lstmkit.keras.models import load_model  # noqa: E402

from conftest import StopAt  # noqa: E402


class FakeModel:
    """What a Keras callback sees of a model, for its decisions alone."""

    def __init__(self):
        self.stop_training = False
        self.optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        self.weights = 0

    def state_dict(self):
        return {"w": torch.tensor(float(self.weights))}

    def load_state_dict(self, state):
        self.weights = float(state["w"])


def run_epochs(callback, values, key="loss"):
    """Feed a callback epoch-end logs {key: value}; returns the epoch training stopped at."""
    model = FakeModel()
    callback.set_model(model)
    callback.on_train_begin({})
    for epoch, value in enumerate(values):
        model.weights = epoch
        callback.on_epoch_begin(epoch, {})
        callback.on_epoch_end(epoch, {key: value})
        if model.stop_training:
            return epoch, model
    return None, model


def test_early_stopping_decides_as_keras():
    # Keras: wait counts every epoch, an improvement resets it, stop once wait >= patience
    assert run_epochs(K.EarlyStopping("loss", patience=2), [1, 0.9, 0.95, 0.96, 0.97])[0] == 3
    assert run_epochs(K.EarlyStopping("loss", patience=0), [1, 0.9, 0.95])[0] == 2
    assert run_epochs(K.EarlyStopping("loss", min_delta=0.2, patience=1), [1, 0.9, 0.85])[0] == 1
    # an improvement that misses the baseline keeps counting, but does not stop by itself
    assert run_epochs(K.EarlyStopping("loss", patience=1, baseline=0.5), [1, 0.9, 0.95])[0] == 2
    assert run_epochs(K.EarlyStopping("loss", patience=0, start_from_epoch=2),
                      [1, 2, 3, 4])[0] == 3
    assert run_epochs(K.EarlyStopping("val_accuracy", patience=0), [0.5, 0.6, 0.55],
                      "val_accuracy")[0] == 2  # 'auto' maximises an accuracy
    stop = K.EarlyStopping("loss", patience=1, restore_best_weights=True)
    epoch, model = run_epochs(stop, [1, 0.5, 0.7, 0.8])
    stop.on_train_end({})
    assert epoch == 2 and model.weights == 1  # the best epoch's weights are back


def test_early_stopping_arguments_as_keras():
    with pytest.raises(errors.InputError, match="pass mode='max' or mode='min'"):
        K.EarlyStopping(monitor="val_f2")
    with pytest.warns(UserWarning, match="mode 'upwards' is unknown, fallback to auto mode"):
        K.EarlyStopping(mode="upwards")
    with pytest.warns(UserWarning, match="`val_loss` which is not available"):
        assert run_epochs(K.EarlyStopping(patience=0), [1, 2, 3])[0] is None


def test_reduce_lr_on_plateau_as_keras():
    plateau = K.ReduceLROnPlateau("loss", factor=0.5, patience=2, cooldown=1, min_lr=0.02)
    model = FakeModel()
    plateau.set_model(model)
    plateau.on_train_begin({})
    rates = []
    for epoch, value in enumerate([1.0] * 8):
        logs = {"loss": value}
        plateau.on_epoch_end(epoch, logs)
        rates.append(model.optimizer.param_groups[0]["lr"])
        assert logs["learning_rate"] == pytest.approx(rates[-2] if epoch else 0.1)
    # reduced after 2 epochs without improvement; the cooldown epoch ends with its count
    # back to 0, so it counts as the first of the next 2 (Keras' order); never below 0.02
    assert rates == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02])
    with pytest.raises(errors.InputError, match="factor >= 1.0"):
        K.ReduceLROnPlateau(factor=1.5)


def test_learning_rate_scheduler_sets_every_epoch(ids_data):
    x, y = ids_data
    seen = []
    model = tutorial_model()
    record = K.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(logs["learning_rate"]))
    model.fit(x, y, epochs=3, verbose=0, callbacks=[
        K.LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch else 0.01), record])
    assert seen == pytest.approx([0.01, 0.005, 0.0025])
    model.fit(x, y, epochs=2, verbose=0, callbacks=[K.LearningRateScheduler(lambda e: 0.1 / (e + 1))])
    assert model.optimizer.param_groups[0]["lr"] == pytest.approx(0.05)  # Keras' old one-argument form
    with pytest.raises(errors.InputError, match="should be a float"):
        model.fit(x, y, verbose=0, callbacks=[K.LearningRateScheduler(lambda e, lr: "fast")])


def test_lambda_callback_hooks_set_on_the_instance_are_called(ids_data):
    x, y = ids_data
    calls = []
    hooks = K.LambdaCallback(on_train_begin=lambda logs: calls.append("begin"),
                             on_train_batch_end=lambda batch, logs: calls.append(("batch", batch)),
                             on_train_end=lambda logs: calls.append("end"),
                             on_test_end=lambda logs: calls.append(("test", sorted(logs))))
    assert KerasHooks(hooks).batch_ends  # a hook on the instance counts (Keras' LambdaCallback)
    tutorial_model().fit(x, y, batch_size=100, verbose=0, validation_split=0.2, callbacks=[hooks])
    assert calls == ["begin", ("batch", 0), ("batch", 1), ("batch", 2),
                     ("test", ["accuracy", "loss"]), "end"]
    with pytest.raises(errors.InputError, match="unknown hook"):
        K.LambdaCallback(on_epoch_finish=print)


def test_terminate_on_nan_stops_at_the_bad_batch(ids_data):
    x, y = ids_data
    calls = {"n": 0}

    def loss(p, t):
        calls["n"] += 1
        value = ((p - t) ** 2).mean()
        return value * math.nan if calls["n"] == 4 else value

    model = tutorial_model()
    model.compile(loss=loss, optimizer="sgd", device="cpu")
    with pytest.raises(TerminatedOnNaN, match="epoch 1, batch 4") as e:
        model.fit(x, y, batch_size=30, verbose=0, callbacks=[K.TerminateOnNaN()])
    assert isinstance(e.value, RuntimeError) and isinstance(e.value, errors.NonFiniteLossError)
    assert calls["n"] == 4  # no step after it


def test_model_checkpoint_formats_paths_and_saves_the_best(tmp_path, ids_data):
    x, y = ids_data
    model = tutorial_model()
    best = K.ModelCheckpoint(str(tmp_path / "best.keras"), monitor="val_accuracy",
                             save_best_only=True)
    every = K.ModelCheckpoint(str(tmp_path / "m-{epoch:02d}-{val_loss:.2f}.keras"))
    weights = K.ModelCheckpoint(str(tmp_path / "w-{epoch}.safetensors"), save_weights_only=True)
    history = model.fit(x, y, epochs=3, verbose=0, validation_split=0.2, seed=0,
                        callbacks=[best, every, weights])
    names = sorted(p.name for p in tmp_path.iterdir())
    losses = history.history["val_loss"]
    assert names == sorted(["best.keras", *(f"m-{e + 1:02d}-{v:.2f}.keras"
                                            for e, v in enumerate(losses)),
                            "w-1.safetensors", "w-2.safetensors", "w-3.safetensors"])
    assert best.best == max(history.history["val_accuracy"])
    final = load_model(tmp_path / f"m-03-{losses[-1]:.2f}.keras")
    for name, value in model.state_dict().items():
        assert torch.equal(final.state_dict()[name], value)
        assert torch.equal(safetensors.torch.load_file(tmp_path / "w-3.safetensors")[name], value)
    assert type(every) is K.ModelCheckpoint and not KerasHooks(every).batch_ends


def test_model_checkpoint_every_n_batches_and_refusals(tmp_path, ids_data):
    x, y = ids_data
    every = K.ModelCheckpoint(str(tmp_path / "e{epoch}-b{batch}.keras"), save_freq=4)
    assert isinstance(every, ModelCheckpointEveryNBatches) and KerasHooks(every).batch_ends
    tutorial_model().fit(x, y, batch_size=50, epochs=2, verbose=0, callbacks=[every])
    # 6 batches an epoch: saved after 4 and 8 (the second epoch's 2nd) and 12
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e1-b4.keras", "e2-b2.keras",
                                                          "e2-b6.keras"]
    with pytest.raises(errors.InputError, match="lstmkit writes no HDF5"):
        K.ModelCheckpoint("model.weights.h5", save_weights_only=True)
    with pytest.raises(errors.InputError, match="the logs have no 'val_loss'"):
        tutorial_model().fit(x, y, verbose=0, callbacks=[
            K.ModelCheckpoint(str(tmp_path / "{val_loss}.keras"))])


def test_csv_logger_writes_keras_columns(tmp_path, ids_data):
    x, y = ids_data
    path = tmp_path / "log.csv"
    tutorial_model().fit(x, y, epochs=2, verbose=0, callbacks=[K.CSVLogger(path)])
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1"] and rows[1][3:] == ["NA", "NA"]
    tutorial_model().fit(x, y, epochs=1, verbose=0, callbacks=[K.CSVLogger(path, append=True)])
    assert len(list(csv.reader(path.open()))) == 4  # the header once


def test_keras_callbacks_resume_bit_identical(tmp_path, ids_data):
    """Every Keras callback's state goes into checkpoints: a run stopped in the
    middle of an epoch and resumed ends as the uninterrupted one, its
    callbacks' decisions and files included."""
    x, y = ids_data

    def callbacks(folder):
        return [K.EarlyStopping(patience=3, restore_best_weights=True),
                K.ReduceLROnPlateau("loss", factor=0.5, patience=1, min_delta=1.0),
                K.LearningRateScheduler(lambda epoch, lr: lr * 0.9),
                K.ModelCheckpoint(str(folder / "best.keras"), save_best_only=True),
                K.CSVLogger(folder / "log.csv")]

    settings = dict(batch_size=30, epochs=4, verbose=0, seed=3, validation_split=0.2)
    for name in ("whole", "cut"):
        (tmp_path / name).mkdir()
    whole = tutorial_model()
    kept = callbacks(tmp_path / "whole")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole.fit(x, y, callbacks=[*kept, StopAt(-1)], **settings)
        first = tutorial_model()
        first.fit(x, y, callbacks=[*callbacks(tmp_path / "cut"), StopAt(12)],
                  checkpoint_dir=tmp_path / "ckpt", **settings)  # mid-epoch 2 (8 batches each)
        second = tutorial_model()
        resumed = callbacks(tmp_path / "cut")
        second.fit(x, y, callbacks=[*resumed, StopAt(-1)], resume=tmp_path / "ckpt", **settings)
    for name, value in whole.state_dict().items():
        assert torch.equal(second.state_dict()[name], value), name
    assert second.optimizer.param_groups[0]["lr"] == whole.optimizer.param_groups[0]["lr"]
    assert (tmp_path / "cut" / "log.csv").read_text() == (tmp_path / "whole" / "log.csv").read_text()
    for a, b in zip(kept, resumed):
        if not isinstance(a, (K.CSVLogger, K.EarlyStopping)):
            assert a.state_dict() == b.state_dict(), type(a).__name__
    assert kept[0].best == resumed[0].best and kept[0].wait == resumed[0].wait
    assert torch.equal(load_model(tmp_path / "cut" / "best.keras").state_dict()["layers.1.lstm.weight_hh_l0"],
                       load_model(tmp_path / "whole" / "best.keras").state_dict()["layers.1.lstm.weight_hh_l0"])
