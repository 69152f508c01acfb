"""GRU on the LSTM's machinery: the cell equals torch's, fused equals
reference, masks, state and saving work the same way."""

import numpy as np
import pytest
import torch

import lstmkit
from lstmkit import Sequential
from lstmkit.layers import GRU, Bidirectional, Dense, Embedding, gru_cell

from conftest import assert_same_outputs_and_gradients


def make(bidirectional=False, impl="auto", **options):
    torch.manual_seed(0)
    layer = GRU(5, impl=impl, **options)
    wrapped = Bidirectional(layer) if bidirectional else layer
    wrapped.build((None, 3))
    return wrapped.double()


def test_gru_cell_equals_torch():
    torch.manual_seed(0)
    cell = torch.nn.GRUCell(3, 4).double()
    x, h = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)
    torch.testing.assert_close(gru_cell(x, h, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh),
                               cell(x, h))


def test_gru_cell_gradcheck():
    torch.manual_seed(0)
    args = [torch.randn(s, dtype=torch.float64, requires_grad=True)
            for s in [(2, 3), (2, 4), (12, 3), (12, 4), (12,), (12,)]]
    assert torch.autograd.gradcheck(gru_cell, args)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_fused_and_reference_agree(bidirectional, masked):
    fused = make(bidirectional, num_layers=2, return_sequences=True, masked_impl="packed")
    reference = make(bidirectional, "reference", num_layers=2, return_sequences=True)
    reference.load_state_dict(fused.state_dict())
    x = torch.randn(3, 6, 3, dtype=torch.float64)
    mask = torch.tensor([[True] * 6, [True] * 2 + [False] * 4, [False] * 3 + [True] * 3]) if masked else None
    assert_same_outputs_and_gradients(fused, reference, x, mask, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("masked_impl", ["packed", "padded"])
def test_masked_equals_each_sample_alone(masked_impl):
    layer = make(masked_impl=masked_impl)
    seqs = [torch.randn(n, 3, dtype=torch.float64) for n in (4, 1, 6)]
    x = torch.zeros(3, 6, 3, dtype=torch.float64)
    mask = torch.zeros(3, 6, dtype=torch.bool)
    for i, s in enumerate(seqs):
        x[i, 6 - len(s):], mask[i, 6 - len(s):] = s, True
    y = layer(x, mask=mask)
    for i, s in enumerate(seqs):
        torch.testing.assert_close(y[i], layer(s[None])[0])


def test_states_stateful_and_bidirectional_return_state():
    whole = make(return_sequences=True)
    chunked = make(return_sequences=True, stateful=True)
    chunked.load_state_dict(whole.state_dict())
    x = torch.randn(2, 9, 3, dtype=torch.float64)
    torch.testing.assert_close(torch.cat([chunked(x[:, t:t + 3]) for t in (0, 3, 6)], 1), whole(x))
    both = make(True, return_state=True)
    y, h_forward, h_backward = both(x)
    torch.testing.assert_close(y, torch.cat([h_forward, h_backward], -1))
    single = make(return_state=True)
    y, h = single(x, initial_state=torch.zeros(2, 5, dtype=torch.float64))
    torch.testing.assert_close(y, h)


def test_recurrent_dropout_masks_only_the_recurrent_input():
    layer = make(return_sequences=True, recurrent_dropout=0.5)
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    torch.manual_seed(1)
    got = layer.train()(x)
    torch.manual_seed(1)
    p = layer.gru
    h = torch.zeros(2, 5, dtype=torch.float64)
    keep = torch.nn.functional.dropout(torch.ones_like(h), 0.5, True)
    expected = []
    for t in range(4):
        h = gru_cell(x[:, t], h, p.weight_ih_l0, p.weight_hh_l0, p.bias_ih_l0, p.bias_hh_l0,
                     h_recurrent=h * keep)
        expected.append(h)
    torch.testing.assert_close(got, torch.stack(expected, 1))


def test_gru_model_trains_saves_and_loads(tmp_path):
    x = np.random.default_rng(0).integers(1, 10, size=(64, 7))
    y = (x[:, -1] > 4).astype(np.float32)
    model = Sequential([Embedding(10, 6, mask_zero=True), Bidirectional(GRU(8, weight_dropout=0.2)),
                        Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=lambda p: torch.optim.Adam(p, lr=0.02),
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=10, batch_size=16, verbose=0, seed=0)
    assert history.history["accuracy"][-1] > 0.9
    model.save(tmp_path / "m")
    loaded = lstmkit.load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert "layers.1.layer.gru.weight_hh_l0_reverse" in loaded.state_dict()


def test_gru_refuses_lstm_only_arguments():
    with pytest.raises(TypeError):
        GRU(4, proj_size=2)
