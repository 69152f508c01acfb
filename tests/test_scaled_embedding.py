"""Embedding(scaled=True): the table read is weight * a fixed scale (NBSVM's
log-count ratios), kept through save and load, exported folded into the
table, and refused where a scale makes no sense."""

import importlib.util

import numpy as np
import pytest
import torch

from lstmkit import Sequential, load_model
from lstmkit.errors import InputError, InputTypeError
from lstmkit.layers import Dense, Embedding, GlobalAveragePooling1D

HAVE_ONNX = all(importlib.util.find_spec(m) for m in ("onnx", "onnxruntime"))


def linear_bag(seed=0):
    torch.manual_seed(seed)
    model = Sequential([Embedding(12, 2, mask_zero=True, scaled=True), GlobalAveragePooling1D(),
                        Dense(1, activation="sigmoid")])
    model.build((None,))
    model.layers[0].set_scale(np.linspace(-2, 2, 12))
    return model


def test_the_rows_read_are_weight_times_scale_with_and_without_dropout():
    model = linear_bag()
    emb = model.layers[0]
    x = torch.tensor([[3, 5, 0, 11]])
    expected = emb.embedding.weight[x] * emb.scale[x]
    torch.testing.assert_close(emb.eval()(x), expected)
    assert emb.scale[3].tolist() == [emb.scale[3, 0].item()] * 2  # a row's entries alike
    emb.dropout = 0.5
    y = emb.train()(x)
    kept = y.abs().sum(-1) > 0
    torch.testing.assert_close(y[kept], 2 * expected[kept])
    scale = torch.arange(24.0).view(12, 2)  # one multiplier per entry
    emb.set_scale(scale)
    torch.testing.assert_close(emb.table(), emb.embedding.weight * scale)


def test_the_scale_is_saved_with_the_weights(tmp_path):
    model = linear_bag()
    model.compile(loss="binary_crossentropy", optimizer="adam")
    x = torch.tensor([[1, 4, 7], [2, 0, 0]])
    before = model.predict(x)
    model.save(tmp_path / "m")
    again = load_model(tmp_path / "m")
    assert again.layers[0].scaled and again.get_config() == model.get_config()
    torch.testing.assert_close(again.layers[0].scale, model.layers[0].scale)
    np.testing.assert_allclose(again.predict(x), before, rtol=1e-6)


def test_a_scale_must_fit_and_needs_a_scaled_embedding():
    model = linear_bag()
    with pytest.raises(InputError, match=r"must be finite and \(12, 2\)"):
        model.layers[0].set_scale(np.ones(5))
    with pytest.raises(InputError, match="finite"):
        model.layers[0].set_scale(np.full(12, np.inf))
    plain = Embedding(4, 2)
    plain.build((None,))
    with pytest.raises(InputError, match="scaled=True"):
        plain.set_scale(np.ones(4))
    with pytest.raises(InputTypeError, match="scaled must be True or False"):
        Embedding(4, 2, scaled="yes")
    tied = Sequential([Embedding(6, 3, scaled=True), Dense(6, tie_weights=True)])
    with pytest.raises(InputError, match="cannot tie to a scaled Embedding"):
        tied.build((None,))


@pytest.mark.skipif(not HAVE_ONNX, reason="onnx and onnxruntime are not installed")
def test_the_export_reads_the_scaled_table(tmp_path):
    """export checks the graph against lstmkit itself (max abs difference 1e-4)."""
    model = linear_bag()
    with torch.no_grad():
        model.layers[0].embedding.weight.normal_()
    assert model.export(tmp_path / "bag.onnx") == [str(tmp_path / "bag.onnx")]
