"""Parallel: branches of layers on the same input, concatenated; each masked
sample's result the one it gets alone; saved and loaded with its branches;
what cannot run in a branch refused with a one-line error."""

import pytest
import torch

import lstmkit
from conftest import assert_each_sample_alone, padded_batch, ragged
from lstmkit import Sequential
from lstmkit.errors import InputError, ModelFileError
from lstmkit.layers import (GRU, LSTM, Activation, BatchNormalization, Bidirectional, Conv1D,
                            Dense, Dropout, Embedding, GlobalAveragePooling1D, Masking,
                            MaxPooling1D, Parallel)


def lstm_fcn(features=2, classes=3):
    """LSTM-FCN's layout, small, its normalisation's moving statistics moved."""
    torch.manual_seed(0)
    model = Sequential([
        Parallel([[LSTM(5), Dropout(0.3)],
                  [Conv1D(4, 3), BatchNormalization(), Activation("relu"), Conv1D(6, 2),
                   GlobalAveragePooling1D()]]),
        Dense(classes, activation="softmax")])
    model.build((None, None, features))
    with torch.no_grad():
        norm = model.layers[0].branches[1][1]
        norm.running_mean.uniform_(-1, 1)
        norm.running_var.uniform_(0.5, 2)
    return model.eval()


def test_the_output_is_the_branches_outputs_side_by_side():
    model = lstm_fcn()
    parallel = model.layers[0]
    assert parallel.output_shape((None, 2)) == (11,) and model.output_shape() == (3,)
    x = torch.randn(4, 6, 2)
    with torch.no_grad():
        lstm, _ = parallel.branches[0]
        h = x
        for layer in parallel.branches[1]:
            h = layer(h)
        torch.testing.assert_close(parallel(x), torch.cat([lstm(x), h], -1))


@pytest.mark.parametrize("left", [False, True])
def test_a_masked_sample_gets_its_result_alone(left):
    model = lstm_fcn()
    assert_each_sample_alone(model, ragged(9), left)


def test_per_step_branches_pass_the_mask_on():
    torch.manual_seed(0)
    model = Sequential([Masking(7.0),
                        Parallel([[Conv1D(3, 3)], [Bidirectional(GRU(2, return_sequences=True))]]),
                        LSTM(3)])
    model.build((None, None, 2))
    sequences = ragged(9, seed=1)
    x, mask = padded_batch(sequences)
    assert model.layers[1].compute_mask(x, mask) is mask
    assert model.layers[1].output_shape((None, 2)) == (None, 7)
    with torch.no_grad():
        batched = model(x)  # the Masking marks the 7s as padding
        alone = torch.cat([model(torch.as_tensor(s)[None]) for s in sequences])
    torch.testing.assert_close(batched, alone, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["folder", "model.keras"])
def test_saved_and_loaded_with_its_branches(tmp_path, name):
    model = lstm_fcn()
    model.compile("sparse_categorical_crossentropy", device="cpu")
    model.save(tmp_path / name)
    loaded = lstmkit.load_model(tmp_path / name).eval()
    assert loaded.get_config() == model.get_config()
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    x = torch.randn(3, 5, 2)
    with torch.no_grad():
        torch.testing.assert_close(model(x), loaded(x), rtol=0, atol=0)


def test_a_file_with_a_bad_branch_is_a_model_file_error(tmp_path):
    import json

    model = lstm_fcn()
    model.save(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["model"]["layers"][0]["config"]["branches"][1][0]["config"]["filters"] = "4"
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match=r"branches\[1\]\[0\].config.filters must be an int"):
        lstmkit.load_model(tmp_path)


def built_lstm():
    layer = LSTM(2)
    layer.build((None, 2))
    return layer


@pytest.mark.parametrize("make, message", [
    (lambda: Parallel([[LSTM(2)]]), "2 to 16 branches .*got list of 1"),
    (lambda: Parallel(LSTM(2)), "must be a list of 2 to 16 branches"),
    (lambda: Parallel([[LSTM(2)], []]), "branch 1 must be a list of 1 to 64 lstmkit layers"),
    (lambda: Parallel([[LSTM(2)], ["Dense"]]), "branch 1 must be a list of 1 to 64"),
    (lambda: Parallel([[LSTM(2)], [Masking()]]), "branch 1: Masking makes a mask"),
    (lambda: Parallel([[Embedding(5, 2, mask_zero=True)], [Embedding(5, 2)]]), "makes a mask"),
    (lambda: Parallel([[LSTM(2, stateful=True)], [LSTM(2)]]), "carries a state"),
    (lambda: Parallel([[LSTM(2, return_state=True)], [LSTM(2)]]), "carries a state"),
    (lambda: Parallel([[Bidirectional(LSTM(2), merge_mode=None)], [LSTM(2)]]), "gives a pair"),
    (lambda: Parallel([[built_lstm()], [LSTM(2)]]), "branch 0: LSTM is built already"),
    (lambda: Parallel([[Dense(2, tie_weights=True)], [Dense(2)]]), "tie_weights"),
    (lambda: Parallel([[LSTM(2)], [LSTM(2, return_sequences=True)]]).build((None, 3)),
     r"shapes \(2,\), \(None, 2\): they must agree in all but the last axis"),
    (lambda: Parallel([[Conv1D(2, 3)], [MaxPooling1D(2)]]).build((8, 3)),
     "must agree in all but the last axis"),
])
def test_what_cannot_run_in_a_branch_is_refused(make, message):
    with pytest.raises(InputError, match=message):
        make()
