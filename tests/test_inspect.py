import numpy as np
import pytest
import torch

import lstmkit.inspect
from lstmkit import Sequential, LstmkitError
from lstmkit.errors import InternalError
from lstmkit.inspect import gates, plot_gates
from lstmkit.layers import LSTM, Bidirectional, Dense, Embedding


def trained(layer, mask_zero=True):
    torch.manual_seed(0)
    model = Sequential([Embedding(12, 4, mask_zero=mask_zero), layer, Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy")
    x = np.random.default_rng(0).integers(1, 12, size=(20, 6))
    model.fit(x, (x[:, -1] > 5).astype(float), epochs=1, verbose=0)
    return model


def test_gates_follow_the_equations_and_match_the_fused_outputs():
    model = trained(LSTM(5))
    x = np.array([[0, 0, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6]])  # left-padded first sample
    g = gates(model, x)
    assert g["mask"].tolist() == [[False, False, True, True, True, True], [True] * 6]
    for name in ("forget", "input", "output"):
        assert g[name].shape == (2, 6, 5) and (g[name] >= 0).all() and (g[name] <= 1).all()
    real = g["mask"]
    c_prev = np.zeros((2, 5), dtype=np.float32)
    for t in range(6):  # c_t = f*c_{t-1} + i*g, h_t = o*tanh(c_t), on real steps
        m = real[:, t, None]
        c = g["forget"][:, t] * c_prev + g["input"][:, t] * g["candidate"][:, t]
        np.testing.assert_allclose(g["cell"][:, t], c * m, atol=1e-6)
        np.testing.assert_allclose(g["hidden"][:, t], g["output"][:, t] * np.tanh(c) * m, atol=1e-6)
        c_prev = np.where(m, c, c_prev)
    lstm = model.layers[1]
    with torch.no_grad():
        h = lstm(model.layers[0](torch.as_tensor(x)), mask=torch.as_tensor(x) != 0)
    np.testing.assert_allclose(g["hidden"][:, -1], h.numpy(), atol=1e-6)


def test_gates_of_stacked_and_backward_layers():
    model = trained(Bidirectional(LSTM(4, num_layers=2)))
    x = np.array([[0, 3, 4, 5]])
    back = gates(model, x, depth=1, direction=1)
    assert back["hidden"].shape == (1, 4, 4) and (back["hidden"][0, 0] == 0).all()
    with pytest.raises(LstmkitError, match="direction must be"):
        gates(model, x, direction=2)
    with pytest.raises(LstmkitError, match="not an LSTM"):
        gates(model, x, layer=0)


@pytest.mark.parametrize("mask_zero, kernel", [(True, "fused_rnn"), (False, "run_module")])
def test_a_reference_fused_mismatch_is_a_bug_not_a_user_error(monkeypatch, mask_zero, kernel):
    model = trained(LSTM(3), mask_zero=mask_zero)
    run = getattr(lstmkit.inspect, kernel)

    def off_by_one(*args):  # a fused kernel that disagrees with the reference cell
        out, (h, c) = run(*args)
        return out + 1, (h, c)

    monkeypatch.setattr(lstmkit.inspect, kernel, off_by_one)
    with pytest.raises(InternalError, match="outputs differ .* by 1; this is a bug in lstmkit") as info:
        gates(model, [[1, 2, 3]])
    assert not isinstance(info.value, LstmkitError) and isinstance(info.value, RuntimeError)


def test_plot_gates_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    model = trained(LSTM(3))
    g = gates(model, [[1, 2, 3]])
    path = plot_gates(g, labels=["a", "b", "c"], path=tmp_path / "g.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
