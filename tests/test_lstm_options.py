"""Stacked, bidirectional and projected LSTMs: fused and reference agree, masks
give each sample's unpadded result, and everything saves and loads."""

import numpy as np
import pytest
import torch

import lstmkit
from lstmkit import Sequential
from lstmkit.layers import LSTM, Bidirectional, Dense, Embedding, lstm_cell

from conftest import assert_same_outputs_and_gradients

OPTIONS = [
    dict(),
    dict(num_layers=3),
    dict(proj_size=3),
    dict(num_layers=2, proj_size=2),
]


def make(options, bidirectional, impl="fused", features=3, **extra):
    torch.manual_seed(0)
    layer = LSTM(5, impl=impl, **options, **extra)
    wrapped = Bidirectional(layer) if bidirectional else layer
    wrapped.build((None, features))
    return wrapped.double()


def pad_batch(seqs, T, padding):
    x = torch.zeros(len(seqs), T, seqs[0].shape[1], dtype=torch.float64)
    mask = torch.zeros(len(seqs), T, dtype=torch.bool)
    for i, s in enumerate(seqs):
        span = slice(T - len(s), T) if padding == "pre" else slice(0, len(s))
        x[i, span], mask[i, span] = s, True
    return x, mask


@pytest.mark.parametrize("options", OPTIONS, ids=str)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_fused_and_reference_agree(options, bidirectional, masked):
    fused = make(options, bidirectional, return_sequences=True)
    reference = make(options, bidirectional, impl="reference", return_sequences=True)
    reference.load_state_dict(fused.state_dict())
    x, mask = pad_batch([torch.randn(n, 3, dtype=torch.float64) for n in (6, 3, 1, 5)], 6, "post")
    assert_same_outputs_and_gradients(fused, reference, x, mask if masked else None,
                                      lambda y: y.tanh().sum(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("impl", ["fused", "reference"])
@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("options", OPTIONS[:2], ids=str)
def test_bidirectional_masked_equals_each_sample_alone(impl, padding, options):
    layer = make(options, True, impl=impl, return_sequences=True)
    last = make(options, True, impl=impl)
    last.load_state_dict(layer.state_dict())
    seqs = [torch.randn(n, 3, dtype=torch.float64) for n in (4, 1, 7, 2)]
    x, mask = pad_batch(seqs, 7, padding)
    y, y_last = layer(x, mask=mask), last(x, mask=mask)
    for i, s in enumerate(seqs):
        torch.testing.assert_close(y[i][mask[i]], layer(s[None])[0])
        torch.testing.assert_close(y_last[i], last(s[None])[0])
        assert torch.all(y[i][~mask[i]] == 0)


def test_merge_modes_and_states():
    torch.manual_seed(0)
    x = torch.randn(2, 4, 3)
    outputs, state = {}, None
    for mode in ("concat", "sum", "mul", "ave", None):
        layer = Bidirectional(LSTM(5, return_sequences=True), merge_mode=mode)
        layer.build((None, 3))
        state = state or layer.state_dict()  # the same weights for every mode
        layer.load_state_dict(state)
        outputs[mode] = layer(x)
    forward, backward = outputs[None]
    torch.testing.assert_close(outputs["concat"], torch.cat([forward, backward], -1))
    torch.testing.assert_close(outputs["sum"], forward + backward)
    torch.testing.assert_close(outputs["mul"], forward * backward)
    torch.testing.assert_close(outputs["ave"], (forward + backward) / 2)
    with_state = Bidirectional(LSTM(5, return_state=True))
    with_state.build((None, 3))
    y, h_f, c_f, h_b, c_b = with_state(x)
    torch.testing.assert_close(y, torch.cat([h_f, h_b], -1))
    assert c_f.shape == c_b.shape == (2, 5)


def test_backward_direction_reads_the_sequence_reversed():
    layer = make({}, True, return_sequences=True)
    x = torch.randn(1, 5, 3, dtype=torch.float64)
    p = layer.layer.lstm
    h = c = torch.zeros(1, 5, dtype=torch.float64)
    for t in reversed(range(5)):
        h, c = lstm_cell(x[:, t], h, c, p.weight_ih_l0_reverse, p.weight_hh_l0_reverse,
                         p.bias_ih_l0_reverse, p.bias_hh_l0_reverse)
    torch.testing.assert_close(layer(x)[0, 0, 5:], h[0])  # backward output at t=0


def test_projection_gradcheck():
    torch.manual_seed(0)
    args = [torch.randn(s, dtype=torch.float64, requires_grad=True)
            for s in [(2, 3), (2, 2), (2, 4), (16, 3), (16, 2), (16,), (16,), (2, 4)]]
    assert torch.autograd.gradcheck(lambda *a: lstm_cell(*a), args)


def test_interlayer_dropout_only_in_training():
    layer = make(dict(num_layers=2, dropout=0.5), False, return_sequences=True)
    x = torch.randn(4, 6, 3, dtype=torch.float64)
    layer.eval()
    torch.testing.assert_close(layer(x), layer(x))
    layer.train()
    assert not torch.equal(layer(x), layer(x))


def test_shapes_and_initial_state():
    layer = make(dict(num_layers=2, proj_size=3), False, return_state=True)
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    y, h, c = layer(x)
    assert y.shape == (2, 3) and h.shape == (2, 3) and c.shape == (2, 5)
    h0 = torch.randn(2, 2, 3, dtype=torch.float64)
    c0 = torch.randn(2, 2, 5, dtype=torch.float64)
    assert not torch.equal(layer(x, initial_state=(h0, c0))[0], y)
    with pytest.raises(lstmkit.LstmkitError, match="initial_state must be"):
        layer(x, initial_state=(h0[0], c0[0]))


def test_bidirectional_model_trains_saves_and_loads(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 12, size=(64, 9))
    y = (x[:, 0] > 5).astype(np.float32)  # needs the first step: easy backwards
    model = Sequential([
        Embedding(12, 4, mask_zero=True),
        Bidirectional(LSTM(6, num_layers=2, dropout=0.1, return_sequences=True), merge_mode="sum"),
        Bidirectional(LSTM(4, proj_size=2)),
        Dense(1, activation="sigmoid"),
    ])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, seed=0)
    model.save(tmp_path / "m")
    loaded = lstmkit.load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.layers[1].merge_mode == "sum" and loaded.layers[1].layer.num_layers == 2
    lines = []
    model.summary(print_fn=lines.append)
    assert any("(None, None, 6)" in line for line in lines)
    assert any("(None, 4)" in line for line in lines)


@pytest.mark.parametrize("make_layer, match", [
    (lambda: Bidirectional(Dense(3)), "wraps an LSTM"),
    (lambda: Bidirectional(LSTM(3), merge_mode="max"), "merge_mode"),
    (lambda: LSTM(4, proj_size=4), "proj_size"),
    (lambda: LSTM(4, num_layers=0), "num_layers"),
    (lambda: LSTM(4, dropout=1.0), "dropout"),
])
def test_bad_options(make_layer, match):
    with pytest.raises(lstmkit.LstmkitError, match=match):
        make_layer()


@pytest.mark.parametrize("impl", ["fused", "reference"])
def test_stateful_chunks_equal_the_whole_sequence(impl):
    whole = make(dict(num_layers=2), False, impl=impl, return_sequences=True)
    chunked = make(dict(num_layers=2), False, impl=impl, return_sequences=True, stateful=True)
    chunked.load_state_dict(whole.state_dict())
    x = torch.randn(3, 20, 3, dtype=torch.float64)
    pieces = [chunked(x[:, t : t + 5]) for t in range(0, 20, 5)]
    torch.testing.assert_close(torch.cat(pieces, dim=1), whole(x))
    assert not chunked.states[0].requires_grad  # detached: truncated backpropagation
    chunked.reset_states()
    torch.testing.assert_close(chunked(x[:, :5]), whole(x[:, :5]))
    with pytest.raises(lstmkit.LstmkitError, match="stateful LSTM carries state for 3 samples"):
        chunked(x[:2, :5])


def test_stateful_model_in_fit():
    model = Sequential([LSTM(4, stateful=True, return_sequences=True), Dense(1)])
    model.compile(loss="mse")
    x, y = np.zeros((8, 5, 2), dtype=np.float32), np.zeros((8, 5, 1), dtype=np.float32)
    with pytest.raises(lstmkit.LstmkitError, match="shuffle=False"):
        model.fit(x, y, batch_size=4, verbose=0)
    model.fit(x, y, batch_size=4, shuffle=False, verbose=0)
    assert model.layers[0].states is not None
    # states carried out of evaluation and prediction (inference mode) train on, as Keras'
    model.fit(x, y, batch_size=4, shuffle=False, epochs=2, validation_data=(x, y), verbose=0)
    model.predict(x, batch_size=4, verbose=0)
    model.fit(x, y, batch_size=4, shuffle=False, verbose=0)
    model.reset_states()
    assert model.layers[0].states is None


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("padding", ["pre", "post"])
def test_padded_and_packed_masked_paths_agree(return_sequences, padding):
    packed = make(dict(num_layers=2), False, masked_impl="packed", return_sequences=return_sequences)
    padded = make(dict(num_layers=2), False, masked_impl="padded", return_sequences=return_sequences)
    padded.load_state_dict(packed.state_dict())
    seqs = [torch.randn(n, 3, dtype=torch.float64) for n in (4, 1, 6, 2)]
    x, mask = pad_batch(seqs, 7, padding)
    mask[1] = False  # a row with no real step
    assert_same_outputs_and_gradients(packed, padded, x, mask, lambda y: y.square().sum())


def test_padded_path_refuses_what_it_cannot_give():
    with pytest.raises(lstmkit.LstmkitError, match="no final cell state"):
        LSTM(3, masked_impl="padded", return_state=True)
    layer = Bidirectional(LSTM(3, masked_impl="padded", proj_size=2))
    layer.build((None, 2))
    with pytest.raises(lstmkit.LstmkitError, match="without a projection"):
        layer(torch.randn(2, 4, 2), mask=torch.ones(2, 4, dtype=torch.bool))
