"""Streaming inference: `y, state = model.step(x_t, state)` fed a sequence
step by step (or in chunks) gives the outputs of the whole sequence; lengths,
per-sample resets, and what step refuses."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lstmkit import Sequential
from lstmkit.errors import InputError, InputTypeError, LstmkitError
from lstmkit.layers import (GRU, LSTM, Activation, Bidirectional, Conv1D, Dense, Dropout,
                            Embedding, GlobalAveragePooling1D, Masking, MaxPooling1D,
                            SpatialDropout1D)


def stacked_projected_gru():
    torch.manual_seed(0)
    model = Sequential([LSTM(6, return_sequences=True, num_layers=2, dropout=0.3), Dropout(0.3),
                        GRU(5, return_sequences=True, num_layers=2),
                        LSTM(4, return_sequences=True, proj_size=3), Dense(2)])
    model.build((None, 3))
    return model.eval()


def classifier(mask_zero=False):
    torch.manual_seed(0)
    model = Sequential([Embedding(12, 5, mask_zero=mask_zero), LSTM(7), Dropout(0.5),
                        Dense(1, activation="sigmoid")])
    model.build((None,))
    return model.eval()


@pytest.mark.parametrize("model", [stacked_projected_gru(), Sequential(
    [GRU(4, return_sequences=True), SpatialDropout1D(0.5), Dense(3), Activation("softmax")]),
    Sequential(
    [LSTM(5, return_sequences=True, proj_size=2, num_layers=3), Dense(1)])],
    ids=["stacked-gru-projected", "gru", "projected-stacked"])
@pytest.mark.parametrize("impl", ["auto", "fused", "cell"])
def test_step_by_step_equals_the_whole_sequence(model, impl):
    if not model.built:
        torch.manual_seed(1)
        model.build((None, 3))
    model.eval()
    x = torch.randn(3, 11, 3)
    with torch.no_grad():
        whole, final = model(x, return_state=True)
    state, outputs = None, []
    for t in range(x.shape[1]):
        y, state = model.step(x[:, t], state, impl=impl)
        assert y.shape == (3, whole.shape[-1])  # one step in, the steps axis left out
        outputs.append(y)
    torch.testing.assert_close(torch.stack(outputs, 1), whole, atol=1e-6, rtol=1e-5)
    for i in final:
        for a, b in zip(state[i], final[i]):
            torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("cuts", [[1, 10], [4, 4, 3], [11]])
@pytest.mark.parametrize("impl", ["auto", "cell"])
def test_chunks_equal_the_whole_sequence(cuts, impl):
    model = stacked_projected_gru()
    x = torch.randn(2, 11, 3)
    with torch.no_grad():
        whole = model(x)
    state, outputs = None, []
    for chunk in x.split(cuts, dim=1):
        y, state = model.step(chunk, state, impl=impl)
        outputs.append(y)
    torch.testing.assert_close(torch.cat(outputs, 1), whole, atol=1e-6, rtol=1e-5)


def test_a_classifier_streamed_gives_the_prediction_of_each_prefix():
    model = classifier()
    x = np.random.default_rng(0).integers(1, 12, size=(4, 9))
    state = None
    for t in range(9):
        y, state = model.step(x[:, t], state)
        assert y.shape == (4, 1)
        np.testing.assert_allclose(y.numpy(), model.predict(x[:, : t + 1]), atol=1e-6)


@pytest.mark.parametrize("impl", ["fused", "cell"])
def test_padding_the_model_masks_is_stepped_over(impl):
    """Left padding (id 0 with mask_zero) fed step by step carries the state
    over it: the last output is predict's on the padded rows."""
    model = classifier(mask_zero=True)
    x = np.array([[0, 0, 0, 3, 4, 5], [1, 2, 3, 4, 5, 6], [0, 7, 0, 8, 9, 0]])
    state = None
    for t in range(x.shape[1]):
        y, state = model.step(x[:, t], state, impl=impl)
    np.testing.assert_allclose(y.numpy(), model.predict(x), atol=1e-6)
    np.testing.assert_allclose(y[2].numpy(), model.predict(x[2:, [1, 3, 4]])[0], atol=1e-6)


@pytest.mark.parametrize("impl", ["fused", "cell"])
def test_lengths_mark_the_real_steps_of_each_row(impl):
    """A chunk whose rows hold 5, 2 and 0 real steps at the front: each row
    ends in the state of its real steps alone, with zeros past them."""
    model = stacked_projected_gru()
    x = torch.randn(3, 5, 3)
    y, state = model.step(x, lengths=[5, 2, 0], impl=impl)
    for row, n in enumerate([5, 2]):
        alone, alone_state = model.step(x[row : row + 1, :n])
        torch.testing.assert_close(y[row : row + 1, :n], alone, atol=1e-6, rtol=1e-5)
        for i in state:
            for a, b in zip(state[i], alone_state[i]):
                torch.testing.assert_close(a[:, row : row + 1], b, atol=1e-6, rtol=1e-5)
    assert torch.all(y[1, 2:] == model.layers[-1].linear.bias)  # padding: the Dense of zeros
    for i in state:  # a row of no real step keeps the state it came with
        assert all(torch.all(s[:, 2] == 0) for s in state[i])


def test_a_per_sample_reset_starts_only_those_slots_afresh():
    model = stacked_projected_gru()
    first, second = torch.randn(3, 4, 3), torch.randn(3, 6, 3)
    _, state = model.step(first)
    y, _ = model.step(second, state, reset=[False, True, False])
    fresh, _ = model.step(second)
    carried, _ = model.step(second, state)
    torch.testing.assert_close(y[1], fresh[1])
    torch.testing.assert_close(y[[0, 2]], carried[[0, 2]])
    assert not torch.allclose(y[0], fresh[0])


def test_step_leaves_the_training_flag_and_carried_states_alone():
    torch.manual_seed(0)
    model = Sequential([LSTM(4, return_sequences=True, stateful=True), Dropout(0.9), Dense(2)])
    model.build((None, 3))
    model.train()
    x = torch.randn(2, 5, 3)
    a, _ = model.step(x)
    b, _ = model.step(x)
    torch.testing.assert_close(a, b)  # no dropout: evaluation mode
    assert model.training and model.layers[0].states is None
    assert not a.requires_grad


def test_a_float64_model_steps_in_float64():
    model = stacked_projected_gru().double()
    y, state = model.step(np.random.default_rng(0).standard_normal((2, 3)))
    assert y.dtype == torch.float64 and state[0][0].dtype == torch.float64


def test_a_bidirectional_layer_is_refused_with_the_reason():
    torch.manual_seed(0)
    model = Sequential([Masking(), Bidirectional(LSTM(4)), Dense(1)])
    model.build((None, 2))
    with pytest.raises(InputError, match=r"layer 1 \(Bidirectional\) cannot stream: its "
                                         "backward direction starts at the end"):
        model.step(torch.randn(2, 2))


@pytest.mark.parametrize("layer", [GlobalAveragePooling1D(), Conv1D(4, 3), MaxPooling1D(2)],
                         ids=["pooling", "convolution", "pooling window"])
def test_a_layer_that_reads_other_steps_is_refused_with_the_reason(layer):
    torch.manual_seed(0)
    model = Sequential([LSTM(4, return_sequences=True), layer, Dense(1)])
    model.build((None, 2))
    with pytest.raises(InputError, match=rf"layer 1 \({type(layer).__name__}\) cannot stream: "
                                         "it reads other steps than the current one"):
        model.step(torch.randn(2, 2))


def test_a_state_of_the_wrong_shape_is_refused_naming_the_layer():
    model = stacked_projected_gru()
    _, state = model.step(torch.randn(2, 3))
    wrong = {**state, 3: (state[3][0], state[3][0])}  # c given the shape of h
    with pytest.raises(InputError, match=r"state\[3\] \(LSTM\) must be 2 tensor\(s\) \(h/c\) "
                                         r"shaped \[\(1, 2, 3\), \(1, 2, 4\)\] \(layers x "
                                         r"directions, samples, units\), got \[\(1, 2, 3\), "
                                         r"\(1, 2, 3\)\]"):
        model.step(torch.randn(2, 3), wrong)
    with pytest.raises(InputError, match=r"state\[0\] \(LSTM\) .* got \[\(2, 2, 6\), "):
        model.step(torch.randn(3, 3), state)  # a state for 2 samples, 3 given
    with pytest.raises(InputError, match=r"state has no entry for layer 2 \(GRU\)"):
        model.step(torch.randn(2, 3), {i: s for i, s in state.items() if i != 2})
    with pytest.raises(InputError, match=r"state names layer\(s\) \[1\], which are not recurrent"):
        model.step(torch.randn(2, 3), {**state, 1: state[0]})
    with pytest.raises(InputTypeError, match="state must be a dict"):
        model.step(torch.randn(2, 3), list(state.values()))
    for bad, message in [("ab", "cannot be read as an array of numbers"), (None, "cannot be read"),
                         ([[1], [2, 3]], "cannot be read"),
                         (np.ones((1, 2, 4), np.complex64), "must hold real numbers")]:
        with pytest.raises(InputTypeError, match=rf"state\[3\] {message}"):
            model.step(torch.randn(2, 3), {**state, 3: (bad, state[3][1])})
    c = state[3][1].clone()
    c[0, 1, 2] = float("nan")
    with pytest.raises(InputError, match=r"state\[3\] contains 1 non-finite value"):
        model.step(torch.randn(2, 3), {**state, 3: (state[3][0], c)})


def test_bad_input_is_a_lstmkit_error():
    model = stacked_projected_gru()
    with pytest.raises(InputError, match="not built yet"):
        Sequential([LSTM(3)]).step(torch.randn(2, 3))
    with pytest.raises(InputError, match=r"got shape \(2, 3, 4, 5\)"):
        model.step(torch.randn(2, 3, 4, 5))
    with pytest.raises(InputError, match=r"steps of shape \(4,\), the model was built for \(3,\)"):
        model.step(torch.randn(2, 4))
    with pytest.raises(InputError, match="non-finite"):
        model.step(torch.tensor([[0.0, float("nan"), 1.0]]))
    with pytest.raises(InputError, match=r"lengths must lie in \[0, 4\]"):
        model.step(torch.randn(2, 4, 3), lengths=[5, 1])
    with pytest.raises(InputError, match=r"lengths must be shaped \(2,\)"):
        model.step(torch.randn(2, 4, 3), lengths=[4])
    with pytest.raises(InputError, match="step impl must be 'auto', 'fused' or 'cell', got 'fast'"):
        model.step(torch.randn(2, 3), impl="fast")
    with pytest.raises(InputError, match=r"reset must be \(2,\) booleans"):
        model.step(torch.randn(2, 3), reset=[1, 0])
    with pytest.raises(InputTypeError, match="reset cannot be read as an array of numbers"):
        model.step(torch.randn(2, 3), reset="ab")
    with pytest.raises(InputTypeError, match="lengths cannot be read as an array of numbers"):
        model.step(torch.randn(2, 4, 3), lengths="ab")
    with pytest.raises(InputTypeError, match="lengths must hold real numbers"):
        model.step(torch.randn(2, 4, 3), lengths=np.ones(2, np.complex64))
    with pytest.raises(LstmkitError, match=r"Embedding ids in x must lie in \[0, 12\)"):
        classifier().step([3, 12])


dtypes = st.sampled_from([np.int8, np.int64, np.uint8, np.uint64, np.float16, np.float32,
                          np.float64, np.bool_, np.complex64])
arrays = dtypes.flatmap(lambda d: hnp.arrays(d, hnp.array_shapes(min_dims=0, max_dims=4,
                                                                  min_side=0, max_side=4)))
data = st.one_of(arrays, arrays.map(torch.from_numpy), st.none(), st.text(max_size=3),
                 st.lists(st.one_of(st.integers(-3, 40), st.floats()), max_size=4))
states = st.one_of(st.none(), data, st.dictionaries(st.integers(-1, 3), st.one_of(
    data, st.tuples(data, data)), max_size=3))


@pytest.mark.parametrize("make", [classifier, stacked_projected_gru], ids=["ids", "series"])
def test_any_input_to_step_gives_a_result_or_a_lstmkit_error(make):
    model = make()

    good_x = np.ones((2, 3), np.int64) if make is classifier else np.ones((2, 3, 3), np.float32)
    _, good_state = model.step(good_x)
    # a state, lengths and reset drawn freely beside a good x, and a good state's
    # tensors swapped for drawn values, so that the checks after x's are reached
    states_near = st.one_of(states, st.builds(
        lambda i, k, v: {j: tuple(v if (j, n) == (i, k) else s for n, s in enumerate(value))
                         for j, value in good_state.items()},
        st.sampled_from(sorted(good_state)), st.integers(0, 1), data))

    @settings(max_examples=60, deadline=None, derandomize=True)
    @given(x=data)
    def check_x(x):
        try:
            model.step(x)
        except LstmkitError:
            pass

    @settings(max_examples=60, deadline=None, derandomize=True)
    @given(state=states_near, lengths=st.one_of(st.none(), data), reset=st.one_of(st.none(), data))
    def check_the_rest(state, lengths, reset):
        try:
            model.step(good_x, state, lengths, reset)
        except LstmkitError:
            pass

    check_x()
    check_the_rest()
