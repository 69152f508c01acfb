"""Tiny data and models shared by the tests; nothing here needs the network."""

import numpy as np
import pytest
import torch

from lstmkit import Sequential
from lstmkit.layers import LSTM, Dense, Dropout, Embedding


@pytest.fixture
def ids_data():
    """300 id sequences whose label is whether token 5 occurs: an LSTM learns it."""
    rng = np.random.default_rng(0)
    x = rng.integers(1, 20, size=(300, 12))
    y = (x == 5).any(axis=1).astype(np.float32)
    return x, y


def tutorial_model(num_words=20, dropout=0.5, units=8, embedding_dim=6):
    """The tutorial's architecture, small."""
    model = Sequential()
    model.add(Embedding(num_words, output_dim=embedding_dim))
    model.add(LSTM(units))
    model.add(Dropout(dropout))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="rmsprop", metrics=["accuracy"],
                  device="cpu")
    return model


def assert_same_outputs_and_gradients(first, second, x, mask=None, reduce=torch.sum, **tolerance):
    """Two layers holding the same weights give the same outputs, and the same
    gradients for the input and every parameter, of reduce(output)."""
    results = []
    for layer in (first, second):
        xi = x.clone().requires_grad_()
        y = layer(xi, mask=mask)
        reduce(y).backward()
        results.append((y, xi.grad, *[p.grad for p in layer.parameters()]))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, **tolerance)


class StopAt:
    """Stops training after `step` steps, as Ctrl-C does (a checkpoint is
    written if checkpointing is on); -1 never stops, so that a resumed run
    has the same callbacks."""

    def __init__(self, step):
        self.step = step

    def on_train_batch_end(self, trainer, batch, size):
        if trainer.global_step == self.step:
            trainer.interrupted = True


@pytest.fixture
def small_model():
    torch.manual_seed(0)
    return tutorial_model()


# Tests check behaviour on tiny models, which run fastest on one thread; one
# thread also keeps the suite from fighting another process for the cores.
torch.set_num_threads(1)


def ragged(n=13, features=2, seed=0):
    """n float32 sequences (steps, features) of 1 to 8 steps each."""
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(int(rng.integers(1, 9)), features)).astype(np.float32)
            for _ in range(n)]


def padded_batch(sequences, left=False):
    """x (N, T, F) with the real steps first (or last) and 7 elsewhere (padding
    never read), and its mask."""
    T = max(len(s) for s in sequences)
    x = torch.full((len(sequences), T, sequences[0].shape[1]), 7.0)
    mask = torch.zeros(len(sequences), T, dtype=torch.bool)
    for i, s in enumerate(sequences):
        where = slice(T - len(s), T) if left else slice(0, len(s))
        x[i, where], mask[i, where] = torch.as_tensor(s), True
    return x, mask


def assert_each_sample_alone(model, sequences, left=False):
    """The model's outputs on a padded, masked batch of `sequences` are each
    sample's run alone, unpadded."""
    x, mask = padded_batch(sequences, left)
    with torch.no_grad():
        batched = model(x, mask=mask)
        alone = torch.cat([model(torch.as_tensor(s)[None]) for s in sequences])
    torch.testing.assert_close(batched, alone, rtol=1e-5, atol=1e-6)
