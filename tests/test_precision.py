"""Mixed precision (TrainConfig.precision): the forward pass in bfloat16,
float32 weights, outputs and carried state; float16 on a GPU only; a run
repeats under a seed and resumes only under the precision it was written with."""

import numpy as np
import pytest
import torch

from lstmkit.config import TrainConfig
from lstmkit.data.streams import StreamBatches
from lstmkit.errors import InputError
from lstmkit.layers import LSTM, Dense, Embedding
from lstmkit.model import Sequential

from conftest import tutorial_model


def sequences(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 12, 3)).astype(np.float32)
    return x, (x[:, -1, 0] > 0).astype(np.float32)  # read off the last step


def classifier():
    model = Sequential([LSTM(16), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


@pytest.mark.parametrize("given, name", [("float32", "float32"), ("fp32", "float32"),
                                         ("bf16", "mixed_bfloat16"),
                                         ("mixed_bfloat16", "mixed_bfloat16"),
                                         ("fp16", "mixed_float16")])
def test_keras_policy_names_and_short_aliases(given, name):
    assert TrainConfig(precision=given).precision == name


def test_an_unknown_precision_is_refused_with_the_choices():
    with pytest.raises(InputError, match="precision must be one of float32, mixed_bfloat16, "
                                         "mixed_float16 .*got 'half'"):
        TrainConfig(precision="half")


def test_bf16_runs_the_forward_in_bfloat16_and_learns_like_float32():
    x, y = sequences()
    seen = []
    runs = {}
    for precision in ("float32", "bf16"):
        model = classifier()  # built by fit, from its seed
        hook = model.layers[-1].register_forward_hook(
            lambda module, args, out: seen.append((precision, out.dtype)))
        history = model.fit(x, y, epochs=8, batch_size=16, seed=0, verbose=0,
                            validation_split=0.25, precision=precision)
        hook.remove()
        runs[precision] = history.history
        assert model.training_config["precision"] == TrainConfig(precision=precision).precision
        for parameter in model.parameters():
            assert parameter.dtype == torch.float32  # the weights stay float32
    assert {dtype for p, dtype in seen if p == "float32"} == {torch.float32}
    assert {dtype for p, dtype in seen if p == "bf16"} == {torch.bfloat16}
    for key in ("loss", "val_loss"):
        assert all(np.isfinite(runs["bf16"][key]))
        assert runs["bf16"][key][-1] < runs["bf16"][key][0] - 0.02  # it learns
        # the same first epoch, to bfloat16's rounding (later epochs drift apart)
        assert abs(runs["bf16"][key][0] - runs["float32"][key][0]) < 0.01


def test_bf16_repeats_exactly_under_a_seed():
    x, y = sequences()
    weights = []
    for _ in range(2):
        model = classifier()
        model.fit(x, y, epochs=2, batch_size=16, seed=4, verbose=0, precision="bf16")
        weights.append({k: v.clone() for k, v in model.state_dict().items()})
    for key in weights[0]:
        assert torch.equal(weights[0][key], weights[1][key]), key


def test_a_stream_carries_a_float32_state_between_windows():
    tokens = np.random.default_rng(1).integers(0, 30, size=2000)
    model = Sequential([Embedding(30, 16), LSTM(24, return_sequences=True),
                        Dense(30, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    carried = []

    class Watch:
        def on_train_batch_end(self, trainer, batch, size):
            carried.extend(s.dtype for value in trainer.carried.values() for s in value)

    history = model.fit(StreamBatches(tokens, 4, 10), epochs=1, shuffle=False, verbose=0,
                        precision="bf16", callbacks=[Watch()],
                        validation_data=StreamBatches(tokens[:400], 2, 10))
    assert carried and set(carried) == {torch.float32}
    assert np.isfinite(history.history["loss"][0]) and np.isfinite(history.history["val_loss"][0])


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU trains float16")
def test_float16_off_a_gpu_is_refused_naming_bf16():
    x, y = sequences()
    with pytest.raises(InputError, match="mixed_float16 needs a CUDA GPU .*use mixed_bfloat16"):
        classifier().fit(x, y, epochs=1, verbose=0, precision="fp16")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="float16 trains on a CUDA GPU")
def test_float16_on_a_gpu_scales_the_loss_and_learns():
    x, y = sequences()
    model = classifier()
    model.compile(loss="binary_crossentropy", optimizer="adam", device="cuda")
    history = model.fit(x, y, epochs=8, batch_size=16, seed=0, verbose=0, precision="fp16")
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_resume_under_another_precision_is_refused(tmp_path, ids_data):
    x, y = ids_data
    tutorial_model().fit(x, y, epochs=1, verbose=0, checkpoint_dir=tmp_path, precision="bf16")
    with pytest.raises(InputError, match="precision: the checkpoint was written with "
                                         "'mixed_bfloat16', this run has 'float32'"):
        tutorial_model().fit(x, y, epochs=2, verbose=0, resume=tmp_path)
    history = tutorial_model().fit(x, y, epochs=2, verbose=0, resume=tmp_path, precision="bf16")
    assert len(history.history["loss"]) == 2
