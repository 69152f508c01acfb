"""The task contract: a task's preprocessing is saved with its models and
read back, the command line is built from the task registry, and `inspect`
asks the model's task how to read text."""

import json

import numpy as np
import pytest
import torch

import lstmkit
from lstmkit.cli import build_parser, main
from lstmkit.data.preprocessing import KINDS, Preprocessing
from lstmkit.data.text import TextEncoder
from lstmkit.errors import ModelFileError
from lstmkit.tasks import TASKS, task_of

TEXTS = ["a good film", "a bad film", "good good", "bad plot"]


def text_model(tmp_path):
    task = TASKS["text_classification"]
    encoder = TextEncoder.fit(TEXTS, ["pos", "neg", "pos", "neg"], num_words=20)
    torch.manual_seed(0)
    model = task.build_model(encoder, units=4, embedding_dim=3, device="cpu")
    model.build((None,))
    task.save(model, tmp_path / "m", encoder, data="four texts")
    return encoder, lstmkit.load_model(tmp_path / "m")


def test_the_preprocessing_is_saved_versioned_and_read_back(tmp_path):
    encoder, loaded = text_model(tmp_path)
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["preprocessing"] == {"kind": "text_encoder", "version": 1,
                                       "data": encoder.to_json()}
    assert config["metadata"] == {"task": "text_classification", "data": "four texts"}
    assert isinstance(loaded.preprocessing, TextEncoder)
    assert loaded.preprocessing.to_json() == encoder.to_json()
    assert task_of(loaded) is TASKS["text_classification"]
    assert np.array_equal(loaded.preprocessing.encode(["good plot"]), encoder.encode(["good plot"]))
    loaded.save(tmp_path / "again")  # a loaded model keeps its preprocessing and metadata
    assert json.loads((tmp_path / "again" / "config.json").read_text())["preprocessing"] == \
        config["preprocessing"]


def rewrite(folder, change):
    config = json.loads((folder / "config.json").read_text())
    change(config)
    (folder / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize("change, message", [
    (lambda c: c["preprocessing"].update(kind="tokenizer"), "kind 'tokenizer' is not one"),
    (lambda c: c["preprocessing"].update(version=2), "version 2 is newer than this lstmkit"),
    (lambda c: c["preprocessing"]["data"].update(maxlen="long"), "maxlen must be a positive int"),
    (lambda c: c["preprocessing"]["data"]["vocabulary"].update(index={"a": [1]}),
     "maps words to ids"),
])
def test_damaged_preprocessing_is_a_model_file_error(tmp_path, change, message):
    text_model(tmp_path)
    rewrite(tmp_path / "m", change)
    with pytest.raises(ModelFileError, match=message):
        lstmkit.load_model(tmp_path / "m")


def test_a_text_model_of_lstmkit_0_1_keeps_its_encoder(tmp_path):
    encoder, _ = text_model(tmp_path)

    def old_layout(config):
        config["metadata"]["encoder"] = config.pop("preprocessing")["data"]

    rewrite(tmp_path / "m", old_layout)
    assert lstmkit.load_model(tmp_path / "m").preprocessing.to_json() == encoder.to_json()


def test_every_kind_is_registered_and_round_trips():
    assert KINDS["text_encoder"] is TextEncoder
    for cls in KINDS.values():
        assert issubclass(cls, Preprocessing) and isinstance(cls.VERSION, int)


def test_the_command_line_is_built_from_the_tasks():
    commands = build_parser()._subparsers._group_actions[0].choices
    assert {"demo", "inspect"} <= set(commands)
    for task in TASKS.values():
        assert task.name and task.preprocessing is not None and task.defaults


def test_a_callable_loss_is_reported_on_save_and_on_load(tmp_path):
    from lstmkit import Sequential
    from lstmkit.layers import LSTM, Dense
    model = Sequential([LSTM(3), Dense(1)])
    model.compile(loss=lambda p, y: ((p - y) ** 2).mean(), optimizer="adam")
    model.build((None, 2))
    with pytest.warns(UserWarning, match="saving without the compile settings loss '<lambda>'"):
        model.save(tmp_path / "m")
    with pytest.warns(UserWarning, match="loss could not be saved .* loads uncompiled"):
        lstmkit.load_model(tmp_path / "m")


def test_inspect_makes_its_out_folder_and_refuses_a_sample_beyond_the_input(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    text_model(tmp_path)
    assert main(["inspect", str(tmp_path / "m"), "--text", "good", "--out",
                 str(tmp_path / "new" / "g.png")]) == 0
    assert (tmp_path / "new" / "g.png").read_bytes()[:4] == b"\x89PNG"
    (tmp_path / "notes").write_text("")
    assert main(["inspect", str(tmp_path / "m"), "--text", "good", "--out",
                 str(tmp_path / "notes" / "g.png")]) == 2
    assert "notes is a file, not a folder" in capsys.readouterr().err
    assert main(["inspect", str(tmp_path / "m"), "--text", "good", "--sample", "3", "--out",
                 str(tmp_path / "g.png")]) == 2
    assert "--sample 3: the input holds 1 sample(s)" in capsys.readouterr().err
    assert main(["inspect", str(tmp_path / "m"), "--text", "a good film", "--out",
                 str(tmp_path / "g.png")]) == 0
    assert "good" in capsys.readouterr().out


def test_an_internal_error_is_reported_as_a_bug_with_exit_1(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    from lstmkit import inspect
    from lstmkit.errors import InternalError
    text_model(tmp_path)

    def broken(*args, **kwargs):
        raise InternalError("the reference cell's outputs differ")

    monkeypatch.setattr(inspect, "gates", broken)
    assert main(["inspect", str(tmp_path / "m"), "--text", "good", "--out",
                 str(tmp_path / "g.png")]) == 1
    assert "this is a bug in lstmkit" in capsys.readouterr().err
