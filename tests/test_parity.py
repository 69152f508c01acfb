"""Parity: lstmkit's `fit` / `evaluate` against a hand-written PyTorch loop.

As in Lightning Fabric's tests/tests_fabric/parity: the same model, the same
initial weights, the same batches in the same order and the same optimizer,
trained once by lstmkit and once by plain PyTorch, must end with the same
weights. Any extra or missing step, reordered batch, different loss or
optimizer setting shows up as a weight difference.
"""

import pytest
import torch
from torch import nn

from lstmkit import Sequential
from lstmkit.layers import LSTM, Dense, Dropout, Embedding

VOCAB, EMBED, UNITS, STEPS = 50, 8, 6, 7
SAMPLES, BATCH = 40, 8  # 5 batches an epoch
# Both sides run the same CPU kernels in the same order, so the results are
# normally bitwise equal; the tolerance only allows for kernel reassociation.
TIGHT = {"rtol": 1e-6, "atol": 1e-7}


class HandModel(nn.Module):
    """The lstmkit model written in plain PyTorch."""

    def __init__(self, dropout=0.0):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, EMBED)
        self.lstm = nn.LSTM(EMBED, UNITS, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(UNITS, 1)

    def forward(self, x):
        out, _ = self.lstm(self.embedding(x))  # (N, T, H)
        return self.linear(self.dropout(out[:, -1]))  # (N, 1) logits


# lstmkit's state-dict names -> the hand model's
NAMES = {
    "layers.0.embedding.weight": "embedding.weight",
    "layers.1.lstm.weight_ih_l0": "lstm.weight_ih_l0",
    "layers.1.lstm.weight_hh_l0": "lstm.weight_hh_l0",
    "layers.1.lstm.bias_ih_l0": "lstm.bias_ih_l0",
    "layers.1.lstm.bias_hh_l0": "lstm.bias_hh_l0",
    "layers.3.linear.weight": "linear.weight",
    "layers.3.linear.bias": "linear.bias",
}


def make_pair(dropout=0.0, seed=0):
    torch.manual_seed(seed)
    model = Sequential([Embedding(VOCAB, EMBED), LSTM(UNITS), Dropout(dropout),
                        Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="rmsprop", device="cpu")
    model.build((STEPS,))
    state = model.state_dict()
    assert set(state) == set(NAMES)
    hand = HandModel(dropout)
    hand.load_state_dict({NAMES[k]: v.clone() for k, v in state.items()})
    return model, hand


def make_data(seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, VOCAB, (SAMPLES, STEPS), generator=g)
    y = torch.randint(0, 2, (SAMPLES,), generator=g).float()
    return x, y


def hand_fit(hand, x, y, epochs, shuffle_seed=None):
    """The plain loop fit() should be: RMSprop with Keras' defaults, BCE on logits."""
    optimizer = torch.optim.RMSprop(hand.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    loss_fn = nn.BCEWithLogitsLoss()
    generator = torch.Generator().manual_seed(shuffle_seed) if shuffle_seed is not None else None
    hand.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator) if generator else torch.arange(len(x))
        for start in range(0, len(x), BATCH):
            index = order[start : start + BATCH]
            loss = loss_fn(hand(x[index]), y[index, None])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()


def assert_same_weights(model, hand):
    ours = model.state_dict()
    theirs = hand.state_dict()
    for name, mapped in NAMES.items():
        torch.testing.assert_close(ours[name], theirs[mapped], **TIGHT, msg=name)


def test_fit_unshuffled_matches_hand_loop():
    model, hand = make_pair()
    x, y = make_data()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    hand_fit(hand, x, y, epochs=1)
    assert_same_weights(model, hand)
    # the comparison is not vacuous: training moved every weight
    for name, value in model.state_dict().items():
        assert not torch.equal(value, before[name]), f"{name} did not change"


def test_fit_shuffled_with_seed_matches_hand_loop():
    """fit(seed=s) shuffles with torch.randperm(n, Generator().manual_seed(s)),
    one permutation per epoch from the same generator, and seeds torch's
    global generator (dropout) with s; the hand loop does the same."""
    seed = 123
    model, hand = make_pair(dropout=0.5)
    x, y = make_data()
    model.fit(x, y, batch_size=BATCH, epochs=2, shuffle=True, verbose=0, seed=seed)
    torch.manual_seed(seed)  # what fit's set_seed does, for the dropout masks
    hand_fit(hand, x, y, epochs=2, shuffle_seed=seed)
    assert_same_weights(model, hand)


def test_shuffled_differs_from_unshuffled():
    """Guards the test above: a different batch order gives different weights."""
    model, _ = make_pair()
    _, hand = make_pair()
    x, y = make_data()
    model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=True, verbose=0, seed=123)
    hand_fit(hand, x, y, epochs=1)
    with pytest.raises(AssertionError):
        assert_same_weights(model, hand)


@pytest.mark.parametrize("batch_size", [BATCH, 16])  # 16 leaves a short last batch
def test_evaluate_loss_matches_hand_mean(batch_size):
    model, hand = make_pair(dropout=0.5)  # evaluate must switch dropout off
    x, y = make_data()
    loss = model.evaluate(x, y, batch_size=batch_size)
    hand.eval()
    with torch.no_grad():
        expected = nn.BCEWithLogitsLoss()(hand(x), y[:, None]).item()
    assert isinstance(loss, float)
    assert loss == pytest.approx(expected, rel=1e-6, abs=1e-7)
