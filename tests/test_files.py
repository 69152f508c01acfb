"""Model files: safetensors + JSON, validated before anything is built, never unpickled."""

import json
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save as save_safetensors

import lstmkit
from lstmkit import files
from lstmkit.errors import ModelFileError

from conftest import tutorial_model

FIXTURE = Path(__file__).parent / "fixtures" / "model_v1"


@pytest.fixture
def saved(tmp_path, ids_data):
    model = tutorial_model()
    model.fit(*ids_data, epochs=1, verbose=0)
    model.save(tmp_path / "m")
    return tmp_path / "m", model


def rewrite_weights(folder, data):
    """Replace the weights file and make config.json's checksum agree, so the
    test reaches the deeper checks."""
    (folder / "model.safetensors").write_bytes(data)
    config = json.loads((folder / "config.json").read_text())
    import hashlib
    config["weights_sha256"] = hashlib.sha256(data).hexdigest()
    (folder / "config.json").write_text(json.dumps(config))


def test_folder_holds_json_and_safetensors(saved):
    folder, _ = saved
    assert sorted(os.listdir(folder)) == ["config.json", "model.safetensors"]
    config = json.loads((folder / "config.json").read_text())
    assert config["format"] == "lstmkit.model" and config["format_version"] == files.FORMAT_VERSION
    assert [l["class"] for l in config["model"]["layers"]] == ["Embedding", "LSTM", "Dropout", "Dense"]
    assert config["compile"] == {"loss": "binary_crossentropy", "optimizer": "rmsprop", "metrics": ["accuracy"]}


class Payload:
    def __reduce__(self):
        return (os.system, ("touch /tmp/lstmkit-pwned",))


def test_pickle_payload_is_refused_and_not_executed(saved, tmp_path):
    folder, _ = saved
    marker = Path("/tmp/lstmkit-pwned")
    marker.unlink(missing_ok=True)
    rewrite_weights(folder, pickle.dumps({"layers.0.embedding.weight": Payload()}))
    with pytest.raises(ModelFileError, match="not a valid safetensors file"):
        lstmkit.load_model(folder)
    torch_style = tmp_path / "torch_save.pt"
    torch.save({"x": Payload()}, torch_style)  # a torch.save zip with a pickle inside
    rewrite_weights(folder, torch_style.read_bytes())
    with pytest.raises(ModelFileError, match="not a valid safetensors file"):
        lstmkit.load_model(folder)
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["truncate", "empty", "huge_header", "flip"])
def test_damaged_weights_are_refused(saved, damage):
    folder, _ = saved
    path = folder / "model.safetensors"
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "huge_header":
        rewrite_weights(folder, struct.pack("<Q", 2**62) + data[8:])
    else:
        path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(ModelFileError, match="checksum|not a valid safetensors"):
        lstmkit.load_model(folder)


def test_weights_of_the_wrong_dtype_or_shape(saved):
    folder, model = saved
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["layers.3.linear.bias"] = state["layers.3.linear.bias"].double()
    rewrite_weights(folder, save_safetensors(state))
    with pytest.raises(ModelFileError, match=r"layers.3.linear.bias is torch.float64.*needs torch.float32"):
        lstmkit.load_model(folder)
    state = {k: v.float() for k, v in state.items()}
    del state["layers.3.linear.bias"]
    rewrite_weights(folder, save_safetensors(state))
    with pytest.raises(ModelFileError, match=r"missing: \['layers.3.linear.bias'\]"):
        lstmkit.load_model(folder)


def edit_config(folder, change):
    config = json.loads((folder / "config.json").read_text())
    change(config)
    (folder / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize("change, match", [
    (lambda c: c["model"]["layers"][1].update({"class": "Lambda"}), r"model.layers\[1\].class must be one of 'Embedding'.*got str 'Lambda'"),
    (lambda c: c["model"]["layers"][1]["config"].update({"units": 10**12}), r"model.layers\[1\].config.units must be between 1 and"),
    (lambda c: c["model"]["layers"][0]["config"].update({"input_dim": 10**12}), "input_dim must be between"),
    (lambda c: c["model"]["layers"][1]["config"].update({"eval": "os.system"}), r"model.layers\[1\].config holds \['eval'\], which LSTM does not take"),
    (lambda c: c["model"].update({"input_shape": [10**15]}), "input_shape"),
    (lambda c: c.update({"format_version": 99}), "newer than this lstmkit reads"),
    (lambda c: c.update({"format": "keras"}), "not an lstmkit model"),
    (lambda c: c["model"]["layers"][1]["config"].update({"units": "128"}), "units must be an int"),
])
def test_bad_configs_are_refused_before_allocation(saved, change, match):
    folder, _ = saved
    edit_config(folder, change)
    with pytest.raises(ModelFileError, match=match):
        lstmkit.load_model(folder)


def test_broken_json_names_line_and_column(saved):
    folder, _ = saved
    (folder / "config.json").write_text('{\n  "format": "lstmkit.model",\n  oops\n}')
    with pytest.raises(ModelFileError, match=r"config.json, line 3, column 3: invalid JSON"):
        lstmkit.load_model(folder)


@pytest.mark.parametrize("text, match", [
    ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", "nest 100001 deep, more than"),
    ('{"a": "' + "[" * 100 + '", "b": [[[]]]}', "not an lstmkit model"),  # strings do not count
    ('{"a": "\\"[[[[", "b": ' + "{" * 70, "nest 71 deep"),  # nor after an escaped quote
    ('{"a": "' + '\\"' * 100_000, "invalid JSON"),  # unterminated: found in linear time
    ('{"a": NaN}', "NaN is not a number JSON allows"),
    ('{"a": -Infinity}', "-Infinity is not a number"),
    ('{"a": 1e999}', "1e999 is too large a number"),
    ('{"a": ' + "9" * 5000 + "}", "an integer of 5000 digits"),
])
def test_json_that_python_mishandles_is_refused(saved, text, match):
    """Deep nesting would end in RecursionError, and a long integer in a
    ValueError, inside json.loads; NaN and infinities parse but are not JSON."""
    folder, _ = saved
    (folder / "config.json").write_text(text)
    with pytest.raises(ModelFileError, match=match):
        lstmkit.load_model(folder)


def test_nesting_depth_counts_brackets_outside_strings():
    assert files.nesting_depth('3') == 0
    assert files.nesting_depth('{"a": [1, {"b": "]]]}}"}], "c": {}}') == 3
    assert files.nesting_depth('["\\\\", ["\\"]"]]') == 2


def test_missing_files(tmp_path, saved):
    with pytest.raises(ModelFileError, match="no such model folder"):
        lstmkit.load_model(tmp_path / "nowhere")
    folder, _ = saved
    (folder / "model.safetensors").unlink()
    with pytest.raises(ModelFileError, match="model.safetensors: missing"):
        lstmkit.load_model(folder)


def test_an_oversized_config_is_refused_before_it_is_read(saved, monkeypatch):
    folder, _ = saved
    monkeypatch.setattr(files, "MAX_CONFIG_BYTES", 100)
    with pytest.raises(ModelFileError, match="more than a model config can be"):
        lstmkit.load_model(folder)


def test_unsaveable_config_is_refused(tmp_path, ids_data):
    from lstmkit import Sequential
    from lstmkit.layers import Dense, Embedding, LSTM
    model = Sequential([Embedding(20, 4, embeddings_initializer=torch.nn.init.zeros_), LSTM(3), Dense(1)])
    model.build((None,))
    with pytest.raises(ModelFileError, match="callables"):
        model.save(tmp_path / "m")


def test_atomic_write_replaces_whole_files(tmp_path):
    path = tmp_path / "f.bin"
    files.atomic_write(path, b"old")
    files.atomic_write(path, b"new")
    assert path.read_bytes() == b"new" and os.listdir(tmp_path) == ["f.bin"]


def test_stored_fixture_from_format_version_1_still_loads():
    model = lstmkit.load_model(FIXTURE)
    x = np.array([[1, 2, 3, 4, 5], [5, 4, 3, 2, 1]])
    expected = np.array(json.loads((FIXTURE / "expected.json").read_text())["predictions"])
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["model.keras", "model.lstmkit", "model.safetensors"])
def test_a_single_file_path_saves_one_safe_file(tmp_path, ids_data, name):
    model = tutorial_model()
    model.fit(*ids_data, epochs=1, verbose=0)
    model.save(tmp_path / name)
    assert sorted(os.listdir(tmp_path)) == [name]
    loaded = lstmkit.load_model(tmp_path / name)
    x = ids_data[0][:5]
    assert np.array_equal(loaded.predict(x), model.predict(x))
    data = bytearray((tmp_path / name).read_bytes())
    data[-3] ^= 0xFF  # a flipped byte in the weights
    (tmp_path / name).write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="checksum does not match"):
        lstmkit.load_model(tmp_path / name)
    (tmp_path / "other.safetensors").write_bytes(save_safetensors({"w": torch.zeros(2)}))
    with pytest.raises(ModelFileError, match="not an lstmkit model"):
        lstmkit.load_model(tmp_path / "other.safetensors")
