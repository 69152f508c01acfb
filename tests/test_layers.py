import pytest
import torch

from lstmkit.errors import InputError
from lstmkit.layers import LSTM, Dense, Dropout, Embedding, lstm_cell


def built_lstm(features=3, units=4, dtype=torch.float64, **kwargs):
    torch.manual_seed(0)
    layer = LSTM(units, **kwargs)
    layer.build((None, features))
    return layer.to(dtype)


def test_lstm_cell_matches_the_gate_equations():
    torch.manual_seed(0)
    x, h, c = torch.randn(2, 3), torch.randn(2, 4), torch.randn(2, 4)
    w_ih, w_hh, b_ih, b_hh = torch.randn(16, 3), torch.randn(16, 4), torch.randn(16), torch.randn(16)
    h_new, c_new = lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh)
    z = x @ w_ih.T + h @ w_hh.T + b_ih + b_hh
    i, f, g, o = torch.sigmoid(z[:, :4]), torch.sigmoid(z[:, 4:8]), torch.tanh(z[:, 8:12]), torch.sigmoid(z[:, 12:])
    torch.testing.assert_close(c_new, f * c + i * g)
    torch.testing.assert_close(h_new, o * torch.tanh(f * c + i * g))


def test_lstm_cell_gradcheck():
    torch.manual_seed(0)
    args = [torch.randn(s, dtype=torch.float64, requires_grad=True)
            for s in [(2, 3), (2, 4), (2, 4), (16, 3), (16, 4), (16,), (16,)]]
    assert torch.autograd.gradcheck(lambda *a: lstm_cell(*a), args)


def test_torch_lstm_cell_agrees_with_reference_cell():
    torch.manual_seed(0)
    cell = torch.nn.LSTMCell(3, 4).double()
    x, h, c = (torch.randn(5, n, dtype=torch.float64) for n in (3, 4, 4))
    expected = cell(x, (h, c))
    got = lstm_cell(x, h, c, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("return_sequences", [False, True])
def test_fused_and_reference_agree_on_outputs_and_gradients(return_sequences):
    fused = built_lstm(return_sequences=return_sequences, return_state=True)
    reference = built_lstm(return_sequences=return_sequences, return_state=True, impl="reference")
    reference.load_state_dict(fused.state_dict())  # one state dict serves both
    x = torch.randn(5, 7, 3, dtype=torch.float64)
    h0, c0 = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)
    outs = []
    for layer in (fused, reference):
        layer.zero_grad()
        xi = x.clone().requires_grad_()
        y, h, c = layer(xi, initial_state=(h0, c0))
        (y.sin().sum() + h.sum() + 2 * c.sum()).backward()
        outs.append((y, h, c, xi.grad, *[p.grad for p in layer.parameters()]))
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("impl", ["fused", "reference"])
@pytest.mark.parametrize("padding", ["pre", "post"])
def test_masked_output_equals_each_sample_run_alone(impl, padding):
    layer = built_lstm(return_sequences=True, return_state=True, impl=impl)
    lengths = [5, 2, 7, 1]
    T = 7
    seqs = [torch.randn(n, 3, dtype=torch.float64) for n in lengths]
    x = torch.zeros(len(seqs), T, 3, dtype=torch.float64)
    mask = torch.zeros(len(seqs), T, dtype=torch.bool)
    for i, s in enumerate(seqs):
        span = slice(T - len(s), T) if padding == "pre" else slice(0, len(s))
        x[i, span], mask[i, span] = s, True
    y, h, c = layer(x, mask=mask)
    for i, s in enumerate(seqs):
        y_alone, h_alone, c_alone = layer(s[None])
        torch.testing.assert_close(h[i], h_alone[0])
        torch.testing.assert_close(c[i], c_alone[0])
        torch.testing.assert_close(y[i][mask[i]], y_alone[0])
        assert torch.all(y[i][~mask[i]] == 0)


def test_fully_masked_sample_keeps_its_initial_state():
    layer = built_lstm(return_state=True)
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    mask = torch.tensor([[True] * 4, [False] * 4])
    _, h, c = layer(x, mask=mask)
    assert torch.all(h[1] == 0) and torch.all(c[1] == 0)


def test_keras_initialisation():
    layer = built_lstm(features=5, units=6, dtype=torch.float32)
    lstm = layer.lstm
    assert torch.all(lstm.bias_ih_l0[6:12] == 1) and torch.all(lstm.bias_ih_l0[:6] == 0)
    assert torch.all(lstm.bias_hh_l0 == 0)
    w = lstm.weight_hh_l0  # (4H, H) with orthonormal columns
    torch.testing.assert_close(w.T @ w, torch.eye(6), atol=1e-5, rtol=0)
    limit = (6 / (5 + 24)) ** 0.5
    assert lstm.weight_ih_l0.abs().max() <= limit
    emb = Embedding(10, 4)
    emb.build((None,))
    assert emb.embedding.weight.abs().max() <= 0.05


def test_shapes_and_state():
    layer = built_lstm(features=3, units=4, dtype=torch.float32)
    assert layer(torch.randn(2, 5, 3)).shape == (2, 4)
    assert layer.output_shape((None, 3)) == (4,)
    seq = built_lstm(return_sequences=True, dtype=torch.float32)
    assert seq(torch.randn(2, 5, 3)).shape == (2, 5, 4)
    assert seq.output_shape((5, 3)) == (5, 4)


def test_lstm_refuses_wrong_input():
    layer = built_lstm(dtype=torch.float32)
    with pytest.raises(InputError, match=r"\(samples, timesteps, features\).*x\[\.\.\., None\]"):
        layer(torch.randn(2, 5))
    with pytest.raises(InputError, match="built for 3 features"):
        layer(torch.randn(2, 5, 4))


def test_dense_and_dropout():
    d = Dense(3, activation="softmax")
    d.build((4,))
    y = d(torch.randn(2, 5, 4))
    assert y.shape == (2, 5, 3)
    torch.testing.assert_close(y.sum(-1), torch.ones(2, 5))
    drop = Dropout(0.5)
    x = torch.ones(1000)
    assert torch.equal(drop.eval()(x), x)
    assert (drop.train()(x) == 0).any()


@pytest.mark.parametrize("make, message", [
    (lambda: Dense(3, activation="swish"), "unknown name 'swish'; known: linear, sigmoid"),
    (lambda: LSTM(0), "LSTM units must be between 1"),
    (lambda: LSTM(10**12), "LSTM units must be between 1"),
    (lambda: LSTM(4, impl="cuda"), "impl must be"),
    (lambda: Dropout(1.5), "Dropout rate"),
    (lambda: Embedding(10, 4, embeddings_initializer="nope"), "unknown initialiser 'nope'"),
])
def test_bad_layer_arguments(make, message):
    with pytest.raises((InputError, TypeError), match=message):
        make()
