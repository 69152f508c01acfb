"""Explicit recurrent state: a model runs from a state and returns the new
one, per recurrent layer, so a caller can feed a sequence in chunks."""

import pytest
import torch

from lstmkit import Sequential
from lstmkit.errors import InputError
from lstmkit.layers import GRU, LSTM, Bidirectional, Dense, Dropout, Embedding


def stacked():
    torch.manual_seed(0)
    model = Sequential([LSTM(6, return_sequences=True, num_layers=2), Dropout(0.3),
                        GRU(5, return_sequences=True), LSTM(4, return_sequences=True, proj_size=3),
                        Dense(2)])
    model.build((None, 3))
    return model.eval()


@pytest.mark.parametrize("cuts", [[9], [1, 8], [4, 2, 3], [1] * 9])
def test_chunks_with_the_state_carried_equal_the_whole_sequence(cuts):
    model = stacked()
    x = torch.randn(2, 9, 3)
    with torch.no_grad():
        whole, final = model(x, return_state=True)
        state, outputs = None, []
        for chunk in x.split(cuts, dim=1):
            out, state = model(chunk, state=state, return_state=True)
            outputs.append(out)
    torch.testing.assert_close(torch.cat(outputs, 1), whole)
    assert sorted(state) == [0, 2, 3]  # the recurrent layers, by index
    assert [len(state[i]) for i in (0, 2, 3)] == [2, 1, 2]  # (h, c), (h,), (h, c)
    assert state[0][0].shape == (2, 2, 6) and state[3][0].shape == (1, 2, 3)  # (L*D, N, ·)
    for i in state:
        for a, b in zip(state[i], final[i]):
            torch.testing.assert_close(a, b)


def test_a_state_given_for_some_layers_starts_only_those():
    model = stacked()
    x = torch.randn(2, 5, 3)
    with torch.no_grad():
        _, state = model(x, return_state=True)
        zeros = {0: tuple(torch.zeros_like(s) for s in state[0])}
        assert torch.equal(model(x, state=zeros), model(x))
        assert not torch.equal(model(x, state={0: state[0]}), model(x))


def test_masked_chunks_carry_the_state_over_padding():
    """With left padding masked, the state after a chunk is that of each
    sample's real steps: feeding a padded sequence in chunks gives the same
    outputs at real steps as the whole sequence."""
    torch.manual_seed(0)
    model = Sequential([Embedding(9, 4, mask_zero=True), LSTM(5, return_sequences=True),
                        Dense(9)]).eval()
    x = torch.tensor([[0, 0, 3, 4, 5, 6, 7, 8], [1, 2, 3, 4, 5, 6, 7, 8]])
    with torch.no_grad():
        whole = model(x)
        first, state = model(x[:, :4], return_state=True)
        second = model(x[:, 4:], state=state)
    torch.testing.assert_close(torch.cat([first, second], 1)[x != 0], whole[x != 0])


def test_a_bidirectional_layer_returns_both_directions_state():
    torch.manual_seed(0)
    model = Sequential([Bidirectional(LSTM(4)), Dense(1)]).eval()
    x = torch.randn(3, 6, 2)
    with torch.no_grad():
        out, state = model(x, return_state=True)
    assert state[0][0].shape == (2, 3, 4)
    torch.testing.assert_close(model(x, state=state).shape, out.shape)


def test_a_state_of_the_wrong_shape_is_refused():
    model = stacked()
    with pytest.raises(InputError, match=r"LSTM initial_state must be shaped \[\(2, 2, 6\), \(2, 2, 6\)\]"):
        model(torch.randn(2, 4, 3), state={0: (torch.zeros(1, 2, 6), torch.zeros(1, 2, 6))})


def test_layers_after_a_pair_output_are_refused_when_added():
    with pytest.raises(InputError, match="merge_mode=None.*must be the last"):
        Sequential([Bidirectional(LSTM(4), merge_mode=None), Dense(1)])
    with pytest.raises(InputError, match="call the model with return_state=True instead"):
        Sequential([LSTM(4, return_state=True), Dense(1)])
