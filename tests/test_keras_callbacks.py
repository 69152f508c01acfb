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
