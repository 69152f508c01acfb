"""Regularisers from the literature: on while training, off at evaluation, and
each doing what its paper describes. Masking and TimeDistributed too."""

import numpy as np
import pytest
import torch

import lstmkit
from lstmkit import Sequential
from lstmkit.layers import (LSTM, Bidirectional, Dense, Embedding, LockedDropout, Masking,
                            TimeDistributed, lstm_cell)


def built(layer, shape):
    torch.manual_seed(0)
    layer.build(shape)
    return layer


def test_embedding_dropout_drops_whole_words():
    emb = built(Embedding(50, 8, dropout=0.5), (None,))
    x = torch.tensor([[3, 3, 7, 3, 7, 9] * 4])
    y = emb.train()(x)
    rows = (y.abs().sum(-1) == 0)[0]  # dropped positions
    for word in (3, 7, 9):  # a word is dropped everywhere or nowhere in the batch
        assert rows[x[0] == word].all() or not rows[x[0] == word].any()
    kept = ~rows
    torch.testing.assert_close(y[0, kept], 2 * emb.embedding.weight[x[0, kept]])
    torch.testing.assert_close(emb.eval()(x), emb.embedding.weight[x])


def test_locked_dropout_uses_one_mask_for_every_step():
    drop = LockedDropout(0.5)
    x = torch.ones(4, 10, 6)
    y = drop.train()(x)
    assert torch.equal(y, y[:, :1].expand_as(y))  # same at every step
    assert set(y.unique().tolist()) <= {0.0, 2.0}
    assert torch.equal(drop.eval()(x), x)


def test_recurrent_dropout_is_one_mask_per_sequence():
    layer = built(LSTM(4, return_sequences=True, recurrent_dropout=0.5), (None, 3)).double()
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    torch.manual_seed(1)
    got = layer.train()(x)
    torch.manual_seed(1)  # redo by hand: one mask, drawn first, on every step's h
    p = layer.lstm
    h = c = torch.zeros(2, 4, dtype=torch.float64)
    keep = torch.nn.functional.dropout(torch.ones_like(h), 0.5, True)
    expected = []
    for t in range(6):
        h, c = lstm_cell(x[:, t], h * keep, c, p.weight_ih_l0, p.weight_hh_l0, p.bias_ih_l0, p.bias_hh_l0)
        expected.append(h)
    torch.testing.assert_close(got, torch.stack(expected, 1))
    plain = built(LSTM(4, return_sequences=True, impl="fused"), (None, 3)).double()
    plain.load_state_dict(layer.state_dict())
    torch.testing.assert_close(layer.eval()(x), plain(x))  # evaluation: the fused kernel, no dropout


def test_recurrent_dropout_refuses_the_fused_kernel():
    with pytest.raises(lstmkit.LstmkitError, match="impl='fused' cannot apply recurrent_dropout"):
        LSTM(4, recurrent_dropout=0.2, impl="fused")


def test_weight_dropout_same_masks_in_fused_and_reference():
    fused = built(LSTM(4, return_sequences=True, weight_dropout=0.5), (None, 3)).double()
    ref = built(LSTM(4, return_sequences=True, weight_dropout=0.5, impl="reference"), (None, 3)).double()
    ref.load_state_dict(fused.state_dict())
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    outs = []
    for layer in (fused, ref):
        torch.manual_seed(3)
        outs.append(layer.train()(x))
    torch.testing.assert_close(outs[0], outs[1])
    torch.manual_seed(4)
    assert not torch.equal(fused(x), outs[0])  # a new DropConnect mask per batch
    torch.testing.assert_close(fused.eval()(x), ref.eval()(x))
    w = fused.dropped_weights()["weight_hh_l0"]
    assert ((w == 0) | torch.isclose(w, 2 * fused.lstm.weight_hh_l0)).all()


@pytest.mark.parametrize("padding", ["pre", "post"])
def test_masking_layer_skips_padded_steps(padding):
    torch.manual_seed(0)
    model = Sequential([Masking(0.0), LSTM(4)])
    seqs = [np.random.default_rng(i).normal(size=(n, 2)).astype(np.float32) for i, n in enumerate((5, 2, 3))]
    x = lstmkit.pad_sequences(seqs, dtype="float32", padding=padding, value=0.0)
    batch = model(torch.as_tensor(x))
    for i, s in enumerate(seqs):
        torch.testing.assert_close(batch[i], model(torch.as_tensor(s)[None])[0])


def test_time_distributed_dense_per_step_labels():
    rng = np.random.default_rng(0)
    x = rng.integers(1, 9, size=(64, 6))
    y = x % 2  # a per-step label
    model = Sequential([Embedding(9, 8), LSTM(16, return_sequences=True),
                        TimeDistributed(Dense(2, activation="softmax"))])
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  optimizer=lambda p: torch.optim.Adam(p, lr=0.02))
    assert model._compiled["loss"].from_logits  # the softmax is skipped for the loss
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0, seed=0)
    assert history.history["accuracy"][-1] > 0.95
    assert model.predict(x[:2]).shape == (2, 6, 2)


def test_every_option_saves_and_loads(tmp_path):
    model = Sequential([
        Embedding(20, 6, mask_zero=True, dropout=0.1),
        Bidirectional(LSTM(5, return_sequences=True, num_layers=2, dropout=0.2, proj_size=3,
                           recurrent_dropout=0.1, weight_dropout=0.3), merge_mode="ave"),
        LockedDropout(0.2),
        LSTM(4, return_sequences=True, kernel_initializer="he_uniform", unit_forget_bias=False),
        TimeDistributed(Dense(3, activation="softmax")),
    ])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adamw", metrics=["accuracy"])
    x = np.random.default_rng(0).integers(0, 20, size=(12, 7))
    model.fit(x, x % 3, epochs=1, batch_size=4, verbose=0)
    model.save(tmp_path / "m")
    loaded = lstmkit.load_model(tmp_path / "m")
    assert loaded.get_config() == model.get_config()
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6, atol=1e-7)


def test_regularisers_change_nothing_at_evaluation():
    model = Sequential([Embedding(20, 6, dropout=0.5), LSTM(5, weight_dropout=0.5, recurrent_dropout=0.5),
                        Dense(1)])
    x = torch.randint(0, 20, (4, 6))
    model(x)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))


def test_padded_steps_are_left_out_of_losses_and_metrics():
    x = np.array([[0, 0, 3, 4], [5, 6, 7, 8]])  # the first sample has two padded steps
    y = np.array([[1, 1, 0, 1], [1, 0, 1, 0]])
    y_other = y.copy()
    y_other[0, :2] = 0  # different labels, only at padded steps
    torch.manual_seed(0)
    model = Sequential([Embedding(10, 4, mask_zero=True), LSTM(3, return_sequences=True),
                        Dense(2, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.build((None,))
    assert model.evaluate(x, y, return_dict=True) == model.evaluate(x, y_other, return_dict=True)
    probs = model.predict(x)
    real = x != 0
    expected = -np.log(np.take_along_axis(probs, y[..., None], -1)[..., 0])[real].mean()
    assert model.evaluate(x, y) == pytest.approx([expected, (probs.argmax(-1) == y)[real].mean()], rel=1e-5)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.fit(x, y, epochs=1, verbose=0, shuffle=False)
    after_y = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y_other, epochs=1, verbose=0, shuffle=False)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, after_y[key])
