"""Keras' initialisers on torch tensors: every name with Keras' defaults, fans
read from torch's (out, in) layout to equal Keras' (in, out) ones, the class
spellings, and which of them a model file can hold."""

import math

import numpy as np
import pytest
import torch

from lstmkit import Sequential, errors, load_model
from lstmkit.initializers import (INITIALIZERS, VECTOR_INITIALIZERS, GlorotUniform,
                                  RandomNormal, check_initializer, fans, initialize,
                                  initializers_for)
from lstmkit.layers import LSTM, Dense, Embedding

KERAS_NAMES = {"random_uniform", "random_normal", "truncated_normal", "zeros", "ones", "constant",
               "variance_scaling", "glorot_uniform", "glorot_normal", "lecun_uniform",
               "lecun_normal", "he_uniform", "he_normal", "orthogonal", "identity"}


def test_every_keras_name_is_taken_and_the_aliases_kept():
    assert set(INITIALIZERS) == KERAS_NAMES | {"uniform", "normal"}
    for spelling, name in [("GlorotUniform", "glorot_uniform"), ("zero", "zeros"),
                           ("one", "ones"), ("OrthogonalInitializer", "orthogonal")]:
        assert check_initializer(spelling, "kernel_initializer") == name


def test_fans_read_from_torch_layout_equal_keras():
    assert fans((30, 20)) == (20, 30)  # Dense: torch (out, in), Keras (in, out)
    assert fans((20, 30), "keras") == (20, 30)
    assert fans((4 * 8, 5)) == (5, 32)  # an LSTM's input kernel (4H, in): Keras (in, 4H)
    assert fans((16, 5, 3)) == (15, 48)  # Conv1D (out, in, k); Keras (k, in, out)
    assert fans((3, 5, 16), "keras") == (15, 48)
    assert fans((7,)) == (7, 7)  # a bias, as Keras counts it
    assert fans((50, 8), "in_out") == (50, 8)  # an Embedding table (input_dim, output_dim)


@pytest.mark.parametrize("name, bound", [
    ("glorot_uniform", math.sqrt(6 / (20 + 30))), ("he_uniform", math.sqrt(6 / 20)),
    ("lecun_uniform", math.sqrt(3 / 20)), ("random_uniform", 0.05), ("uniform", 0.05),
    # truncated normals are cut at two standard deviations (those of variance_scaling
    # divided by 0.8796 so that the truncated draws keep the asked variance)
    ("truncated_normal", 0.1), ("glorot_normal", 2 * math.sqrt(2 / 50) / 0.87962566103423978),
    ("he_normal", 2 * math.sqrt(2 / 20) / 0.87962566103423978),
    ("lecun_normal", 2 * math.sqrt(1 / 20) / 0.87962566103423978),
    ("variance_scaling", 2 * math.sqrt(1 / 20) / 0.87962566103423978),
])
def test_bounds_of_a_dense_kernel(name, bound):
    torch.manual_seed(0)
    w = torch.empty(30, 20)  # torch's Dense weight: out 30, in 20
    initialize(w, name)
    assert w.abs().max() <= bound + 1e-6
    assert w.abs().max() > 0.8 * bound  # and it reaches near it


def test_spreads_and_constants():
    torch.manual_seed(0)
    big = torch.empty(400, 500)
    initialize(big, "he_normal")
    assert float(big.std()) == pytest.approx(math.sqrt(2 / 500), rel=0.02)  # variance kept
    initialize(big, "random_normal")
    assert float(big.std()) == pytest.approx(0.05, rel=0.02)
    initialize(big, "glorot_uniform")
    assert float(big.std()) == pytest.approx(math.sqrt(2 / 900), rel=0.02)
    for name, value in [("zeros", 0.0), ("ones", 1.0), ("constant", 0.0)]:
        initialize(big, name)
        assert torch.all(big == value)


def test_orthogonal_and_identity():
    torch.manual_seed(0)
    w = torch.empty(4 * 6, 6)  # an LSTM's recurrent kernel (4H, H)
    initialize(w, "orthogonal")
    torch.testing.assert_close(w.T @ w, torch.eye(6), atol=1e-5, rtol=0)
    initialize(w, "identity")
    assert torch.equal(w, torch.eye(24, 6))
    with pytest.raises(errors.InputError, match="Identity needs a 2-D tensor"):
        initialize(torch.empty(4, 3, 2), "identity")
    with pytest.raises(errors.InputError, match="Orthogonal needs a tensor of 2 or more"):
        initialize(torch.empty(4), "orthogonal")


def test_a_vector_takes_the_fan_based_ones_as_keras_does():
    for name in VECTOR_INITIALIZERS:
        initialize(torch.empty(9), name)
    bias = torch.empty(9)
    initialize(bias, "he_uniform")
    assert bias.abs().max() <= math.sqrt(6 / 9)
    assert set(initializers_for(1)) == set(INITIALIZERS) - {"orthogonal", "identity"}
    assert "identity" not in initializers_for(3) and "orthogonal" in initializers_for(3)


def test_classes_take_keras_arguments_and_defaults():
    from lstmkit import initializers as K

    assert K.RandomNormal().get_config() == {"mean": 0.0, "stddev": 0.05, "seed": None}
    assert K.RandomUniform().get_config() == {"minval": -0.05, "maxval": 0.05, "seed": None}
    assert K.VarianceScaling().get_config() == {
        "scale": 1.0, "mode": "fan_in", "distribution": "truncated_normal", "seed": None}
    assert K.Orthogonal().get_config() == {"gain": 1.0, "seed": None}
    assert K.Constant(0.5)(shape=(2, 3)).tolist() == [[0.5] * 3] * 2
    values = K.GlorotUniform(seed=3)(shape=(20, 30))  # a Keras shape: (in, out)
    assert values.shape == (20, 30) and values.abs().max() <= math.sqrt(6 / 50)
    assert torch.equal(values, K.GlorotUniform(seed=3)(shape=(20, 30)))  # a seed repeats
    with pytest.raises(errors.InputError, match="mode must be one of"):
        K.VarianceScaling(mode="fan_sideways")
    assert K.RandomNormal(0.0, 0.2) == K.RandomNormal(stddev=0.2)  # Keras' positional order
    assert K.Constant(2.0).get_config() == {"value": 2.0}  # constant ones take no seed


def test_an_instance_with_defaults_saves_as_its_name(tmp_path):
    model = Sequential([LSTM(3, kernel_initializer=GlorotUniform(),
                             recurrent_initializer=RandomNormal()), Dense(1)])
    assert model.layers[0].kernel_initializer == "glorot_uniform"
    assert model.layers[0].recurrent_initializer == "random_normal"
    model.build((None, 2))
    model.save(tmp_path / "m")
    assert load_model(tmp_path / "m").get_config() == model.get_config()


def test_an_instance_with_other_arguments_trains_but_cannot_be_saved(tmp_path):
    init = RandomNormal(stddev=0.5, seed=1)
    model = Sequential([LSTM(3, kernel_initializer=init), Dense(1)])
    assert model.layers[0].kernel_initializer is init
    model.compile("mse", device="cpu")
    with pytest.warns(UserWarning, match="can be trained but not saved"):
        model.fit(np.zeros((4, 5, 2)), np.zeros(4), verbose=0)
    with pytest.raises(errors.ModelFileError, match="callable"):
        model.save(tmp_path / "m")


def test_an_embedding_table_reads_keras_fans_with_its_layout():
    table = torch.empty(1000, 4)  # (input_dim, output_dim) in torch and Keras alike
    initialize(table, "lecun_uniform", layout="in_out")
    assert table.abs().max() <= math.sqrt(3 / 1000)  # Keras: fan_in = input_dim
    Embedding(1000, 4, embeddings_initializer="he_uniform")  # a name it takes
