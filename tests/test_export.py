"""ONNX export: every layer lstmkit has, run by onnxruntime against lstmkit
(max abs difference <= 1e-4) over batch sizes, lengths, masks and states;
the text model with its vocabulary, run without torch; what is refused, and
that nothing is half-written. Tests that need onnx and onnxruntime (the
`onnx` extra) skip with the reason when they are absent."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lstmkit import Sequential, load_model
from lstmkit import export
from lstmkit.cli import main
from lstmkit.data.text import TextEncoder
from lstmkit.errors import InputError, InternalError, MissingDependencyError
from lstmkit.layers import (GRU, LSTM, Activation, AttentionPooling1D, BatchNormalization,
                            Bidirectional, ConcatPooling1D, Conv1D, Dense, DimensionShuffle,
                            Dropout, Embedding, Flatten, GlobalAveragePooling1D,
                            GlobalMaxPooling1D, LockedDropout, Masking, MaxPooling1D, Parallel,
                            RepeatVector, SpatialDropout1D, TimeDistributed)
from lstmkit.streaming import per_step_output
from lstmkit.tasks import TASKS

ROOT = Path(__file__).resolve().parents[1]
HAVE_ONNX = all(importlib.util.find_spec(m) for m in ("onnx", "onnxruntime"))
needs_onnx = pytest.mark.skipif(not HAVE_ONNX, reason="onnx and onnxruntime are not installed "
                                "(the onnx extra: pip install 'lstmkit[onnx]')")
TOLERANCE = 1e-4
RUNS = [(1, 1), (4, 7), (16, 30)]  # (batch size, steps)


def built(layers, input_shape, seed=0, dtype=torch.float32):
    torch.manual_seed(seed)
    model = Sequential(layers)
    model.build(input_shape)
    return model.to(dtype).eval()


def with_statistics(model, seed=0):
    """The model with moving statistics and factors in its BatchNormalization
    layers other than their initial ones."""
    rng = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, BatchNormalization):
                layer.running_mean.copy_(torch.randn(layer.running_mean.shape, generator=rng))
                layer.running_var.copy_(torch.rand(layer.running_var.shape, generator=rng) + 0.5)
                if layer.weight is not None:
                    layer.weight.copy_(torch.rand(layer.weight.shape, generator=rng) + 0.5)
    return model


MODELS = {
    "tutorial": lambda: built([Embedding(20, 6), LSTM(8), Dropout(0.5),
                               Dense(1, activation="sigmoid")], (None,)),
    "masked ids, per step": lambda: built([Embedding(5, 4, mask_zero=True),
                                           LSTM(6, return_sequences=True),
                                           Dense(3, activation="softmax")], (None,)),
    "stacked, GRU, projected": lambda: built([
        LSTM(6, return_sequences=True, num_layers=2), LockedDropout(0.2),
        GRU(5, return_sequences=True, num_layers=2), LSTM(4, return_sequences=True, proj_size=3),
        TimeDistributed(Dense(2, activation="relu"))], (None, 3)),
    "masking, bidirectional": lambda: built([
        Masking(), Bidirectional(LSTM(4, return_sequences=True, num_layers=2)),
        Bidirectional(GRU(3), merge_mode="ave"), Dense(1)], (None, 2)),
    "bidirectional projected": lambda: built([
        Bidirectional(LSTM(5, proj_size=2, num_layers=2, return_sequences=True), merge_mode="mul"),
        Bidirectional(GRU(3, return_sequences=True), merge_mode="sum"),
        Dense(2, activation="tanh")], (None, 3)),
    "two masks, one after the other": lambda: built([
        Embedding(5, 4, mask_zero=True), LSTM(6, return_sequences=True),
        Dense(2, activation="relu"), Masking(), GRU(3, return_sequences=True), Dense(2)], (None,)),
    "series: Masking, Conv1D front, LSTM": lambda: built([
        Masking(), Conv1D(8, 7, activation="relu"), Conv1D(8, 5, activation="relu"),
        Conv1D(8, 3, dilation_rate=2, activation="relu"), LSTM(6),
        Dense(3, activation="softmax")], (None, 2)),
    "series: Masking, Conv1D, windows that keep the mask (--lstm-steps), LSTM": lambda: built([
        Masking(), Conv1D(6, 3, activation="relu"), MaxPooling1D(3, keep_mask=True), LSTM(5),
        Dense(3, activation="softmax")], (None, 2)),
    "series: Conv1D, BatchNormalization, LSTM": lambda: with_statistics(built([
        Masking(), Conv1D(8, 5), BatchNormalization(), Activation("relu"), LSTM(6),
        BatchNormalization(center=False), Dense(3, activation="softmax")], (None, 2))),
    "LSTM-FCN: Parallel of an LSTM and pooled convolutions": lambda: with_statistics(built([
        Parallel([[LSTM(5, num_layers=2), Dropout(0.5)],
                  [Conv1D(6, 4), BatchNormalization(), Activation("relu"),
                   GlobalAveragePooling1D()]]), Dense(3, activation="softmax")], (None, 2))),
    "LSTM-FCN's dimension shuffle, masked": lambda: with_statistics(built([
        Masking(), Parallel([[DimensionShuffle(5), LSTM(4), Dropout(0.5)],
                             [Conv1D(6, 4), BatchNormalization(), Activation("relu"),
                              GlobalAveragePooling1D()]]), Dense(3, activation="softmax")],
        (None, 2))),
    "Parallel per step, masked": lambda: built([
        Masking(), Parallel([[Conv1D(3, 3)], [Bidirectional(GRU(2, return_sequences=True))],
                             [LSTM(3, return_sequences=True, proj_size=2)]]),
        LSTM(4, return_sequences=True), Dense(2)], (None, 2)),
    "attention pooling, convolution on ids": lambda: built([
        Embedding(6, 3, mask_zero=True), Conv1D(4, 4, activation="tanh"),
        Bidirectional(LSTM(5, return_sequences=True)), AttentionPooling1D(4),
        Dense(2, activation="softmax")], (None,)),
    "mean pooling": lambda: built([Conv1D(4, 3), LSTM(5, return_sequences=True),
                                   GlobalAveragePooling1D(), Dense(1)], (None, 2)),
    "max pooling, masked": lambda: built([Masking(), GRU(5, return_sequences=True),
                                          GlobalMaxPooling1D(), Dense(1)], (None, 2)),
    "Keras' CNN-LSTM: Conv1D, MaxPooling1D, Activation": lambda: built([
        Embedding(20, 6, mask_zero=True), SpatialDropout1D(0.2), Conv1D(4, 3, activation="relu"),
        MaxPooling1D(3, strides=2, padding="same"), LSTM(5), Dense(1), Activation("sigmoid")],
        (None,)),
    "Keras' seq2seq: RepeatVector": lambda: built([
        LSTM(4), RepeatVector(3), LSTM(5, return_sequences=True), TimeDistributed(Dense(2)),
        Activation("softmax")], (None, 2)),
    "float64, masked projected": lambda: built([
        Embedding(6, 3, mask_zero=True), LSTM(5, proj_size=3),
        Dense(2, activation="softmax")], (None,), dtype=torch.float64),
}


def session_of(path):
    import onnxruntime

    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def as_tensor(model, array):
    t = torch.as_tensor(array)
    return t.to(model.parameter_dtype()) if t.is_floating_point() else t


def lstmkit_rows(model, feeds):
    """What lstmkit's public API gives for the graph's inputs, row by row:
    each row cut to its length and run alone from its state with
    model(x, state=..., return_state=True), the graph's lengths being
    right padding."""
    layout = export.state_layout(model)
    rows = []
    for r, n in enumerate(feeds["lengths"]):
        state = {i: tuple(as_tensor(model, feeds[f"state_{i}_{name}"][:, r : r + 1])
                          for name, _ in names) for i, names in layout.items()}
        if n == 0:
            rows.append((None, state))
            continue
        with torch.no_grad():
            out, new = model(as_tensor(model, feeds["x"][r : r + 1, :n]), state=state,
                             return_state=True)
        rows.append((out, new))
    return rows


def assert_close(got, want, what):
    want = want.float().numpy() if isinstance(want, torch.Tensor) else want
    assert got.shape == want.shape, f"{what}: shapes {got.shape} and {want.shape}"
    worst = float(np.abs(got - want).max()) if got.size else 0.0
    assert worst <= TOLERANCE, f"{what}: max abs difference {worst:.3g}"


@needs_onnx
@pytest.mark.parametrize("name", MODELS)
def test_onnxruntime_gives_lstmkits_outputs_and_states(name, tmp_path):
    model = MODELS[name]()
    path = tmp_path / "model.onnx"
    assert model.export(path) == [str(path)]  # verified by onnxruntime before it is written
    session = session_of(path)
    names = ["output", *export.state_names(model, "new_state")]
    assert [o.name for o in session.get_outputs()] == names
    assert [i.name for i in session.get_inputs()] == export.input_names(model)
    assert session.get_inputs()[0].shape[:2] == ["batch", "time"]  # dynamic axes
    rng = np.random.default_rng(1)
    layout = export.state_layout(model)
    per_step = per_step_output(model)
    for batch_size, steps in RUNS:
        feeds = export.sample_inputs(model, rng, batch_size, steps)
        steps = feeds["x"].shape[1]  # raised to what a pooling window needs
        # every step real: the whole batch at once, as model(x, state=...) runs it
        whole = {**feeds, "lengths": np.full(batch_size, steps, dtype=np.int64)}
        got = dict(zip(names, session.run(None, whole)))
        state = {i: tuple(as_tensor(model, whole[f"state_{i}_{n}"]) for n, _ in v)
                 for i, v in layout.items()}
        with torch.no_grad():
            out, new = model(as_tensor(model, whole["x"]), state=state, return_state=True)
        assert_close(got["output"], out, f"{batch_size}x{steps} output")
        for i, v in layout.items():
            for (n, _), s in zip(v, new[i]):
                assert_close(got[f"new_state_{i}_{n}"], s, f"{batch_size}x{steps} state {i} {n}")
        # lengths from full down to 0: each row equals that row cut and run alone,
        # unless a layer ends the mask before the steps are all read (a pooling
        # window, RepeatVector): from there every step is real, as in lstmkit
        got = dict(zip(names, session.run(None, feeds)))
        if any(isinstance(layer, RepeatVector) or (isinstance(layer, MaxPooling1D) and not
                                                   layer.keep_mask) for layer in model.layers):
            for name, a, b in zip(names, got.values(), export.reference_outputs(model, feeds)):
                assert_close(a, b, f"{batch_size}x{steps} {name}, with lengths")
            continue
        for r, (out, new) in enumerate(lstmkit_rows(model, feeds)):
            n = int(feeds["lengths"][r])
            if out is not None:
                row = got["output"][r : r + 1, :n] if per_step else got["output"][r : r + 1]
                assert_close(row, out, f"{batch_size}x{steps} row {r} output")
            for i, v in layout.items():
                for (k, _), s in zip(v, new[i]):
                    assert_close(got[f"new_state_{i}_{k}"][:, r : r + 1], s,
                                 f"{batch_size}x{steps} row {r} of {n} steps, state {i} {k}")


@needs_onnx
@pytest.mark.parametrize("layers, shape", [
    ([Embedding(20, 6, mask_zero=True), LSTM(8, return_state=True)], (None,)),
    ([Bidirectional(GRU(3, return_state=True))], (None, 2)),
    ([TimeDistributed(Embedding(9, 2)), TimeDistributed(Dense(3)), Dense(1)], (None, 4)),
    ([LSTM(3), Dense(1)], (7, 2)),
    ([Embedding(9, 2, mask_zero=True), Dense(3)], (None,)),
    ([LSTM(3, kernel_initializer=torch.nn.init.xavier_uniform_), Dense(1)], (None, 2)),
    ([Embedding(9, 3, mask_zero=True), Flatten(), Dense(1, activation="sigmoid")], (6,)),
    ([Embedding(9, 3), Conv1D(4, 3), MaxPooling1D(4), LSTM(3), Dense(1)], (None,)),
    ([Embedding(11, 4), LSTM(5, return_sequences=True), LSTM(4, return_sequences=True),
      Dense(11, activation="softmax", tie_weights=True)], (None,)),
    ([Embedding(9, 3, mask_zero=True), Bidirectional(LSTM(4, return_sequences=True)),
      ConcatPooling1D(), Dense(1, activation="sigmoid")], (None,)),
], ids=["return_state", "bidirectional GRU return_state", "TimeDistributed Embedding",
        "built for 7 steps", "no recurrent layer", "an initialiser function, named in metadata",
        "Flatten, built for 6 steps", "a pooling window longer than one step",
        "a language model's step, the output tied to the embedding",
        "max and mean pooling side by side over masked steps"])
def test_other_layouts_export_and_agree_with_lstmkit(layers, shape, tmp_path):
    """Checked by the export's own comparison with lstmkit (a last layer's
    return_state: its output, the states being the graph's state outputs)."""
    model = built(layers, shape)
    assert model.export(tmp_path / "model.onnx") == [str(tmp_path / "model.onnx")]


@needs_onnx
def test_the_graph_streamed_step_by_step_equals_lstmkit_on_the_whole(tmp_path):
    model = MODELS["stacked, GRU, projected"]()
    model.export(tmp_path / "model.onnx")
    session = session_of(tmp_path / "model.onnx")
    x = np.random.default_rng(0).standard_normal((3, 12, 3)).astype(np.float32)
    names = export.state_names(model, "state")
    feeds = {n: np.zeros((s.shape[0], 3, s.shape[2]), np.float32)
             for n, s in zip(names, session.get_inputs()[2:])}
    outputs = []
    for t in range(x.shape[1]):
        y, *states = session.run(None, {"x": x[:, t : t + 1], "lengths": np.ones(3, np.int64),
                                        **feeds})
        feeds = dict(zip(names, states))
        outputs.append(y)
    with torch.no_grad():
        whole = model(torch.from_numpy(x))
    assert_close(np.concatenate(outputs, 1), whole, "streamed")
    y, _ = model.step(x[:, :5])  # and model.step keeps the same contract
    assert_close(session.run(["output"], {"x": x[:, :5], "lengths": np.full(3, 5), **{
        n: np.zeros_like(v) for n, v in feeds.items()}})[0], y, "step")


def text_model(folder):
    texts = ["a fine phone", "not good at all", "great value", "broke after a day",
             "works well, really well", "bad bad bad"]
    labels = ["1", "0", "1", "0", "1", "0"]
    encoder = TextEncoder.fit(texts, labels, num_words=12, maxlen=6)
    torch.manual_seed(0)
    task = TASKS["text_classification"]
    model = task.build_model(encoder, device="cpu", embedding_dim=5, units=4)
    model.fit(encoder.encode(texts), encoder.encode_labels(labels), epochs=1, verbose=0)
    task.save(model, folder, encoder)
    return encoder, texts


def run_example(path, queries, cwd):
    """examples/onnx_inference.py on `path` in a process that must import
    neither torch nor lstmkit; its lines (label, probability, text)."""
    example = str(ROOT / "examples" / "onnx_inference.py")
    script = (f"import runpy, sys; sys.argv = {[example, str(path), *queries]!r}\n"
              f"try:\n    runpy.run_path({example!r}, run_name='__main__')\n"
              "except SystemExit as e:\n    assert e.code == 0, e.code\n"
              "assert 'torch' not in sys.modules and 'lstmkit' not in sys.modules, 'imported'\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=cwd)
    assert result.returncode == 0, result.stderr
    return [line.split("\t") for line in result.stdout.splitlines()]


@needs_onnx
def test_the_text_model_exports_with_its_vocabulary_and_runs_without_torch(tmp_path, capsys):
    encoder, texts = text_model(tmp_path / "model")
    assert main(["export", str(tmp_path / "model"), "--format", "onnx"]) == 0
    onnx_file = tmp_path / "model" / "model.onnx"
    side = tmp_path / "model" / "model.preprocessing.json"
    printed = capsys.readouterr().out
    assert f"ONNX graph written to {onnx_file} (checked with onnxruntime" in printed
    assert json.loads(side.read_text()) == encoder.document()
    queries = texts[:3] + ["an unseen word, and punctuation!"]
    lines = run_example(onnx_file, queries, tmp_path)
    model = load_model(tmp_path / "model")
    want = encoder.decode_predictions(model.predict(encoder.encode(queries)))
    assert len(lines) == len(queries), lines
    for (got_label, got_p, got_text), (label, p), text in zip(lines, want, queries):
        assert (got_label, got_text) == (label, text)
        assert abs(float(got_p) - p) <= TOLERANCE


@needs_onnx
def test_a_trained_text_ensemble_exports_as_a_folder_that_runs_without_lstmkit(tmp_path, capsys):
    """`lstmkit text train`'s default (a BiLSTM over words and NB models of
    word n-grams and of the words' character n-grams, weighted) exported,
    and each text encoded outside lstmkit from the encoders written beside
    the graphs."""
    from lstmkit.tasks.text import TextClassifier

    good = ["a fine phone <br />really", "great value!", "works well, really well", "i love it"]
    bad = ["not good at all", "broke after a day", "bad bad bad", "awful, i hate it"]
    data = tmp_path / "reviews.csv"
    data.write_text("text,label\n" + "".join(f'"{t}",{l}\n' for i in range(6)
                                              for t, l in [(good[i % 4], "pos"),
                                                           (bad[i % 4], "neg")]))
    assert main(["text", "train", str(data), "--out", str(tmp_path / "m"), "--epochs", "2",
                 "--quiet"]) == 0
    assert main(["export", str(tmp_path / "m"), "--out", str(tmp_path / "onnx")]) == 0
    assert "member graphs" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "onnx" / "ensemble.json").read_text())
    assert manifest["labels"] == ["neg", "pos"] and len(manifest["members"]) == 3
    queries = ["A fine phone, I love it!", "<i>not</i> good, broke", "unseen words entirely",
               "great " * 300]  # longer than maxlen: cut by the encoder's policy
    classifier = TextClassifier.load(tmp_path / "m")
    want = classifier.predict_proba(queries)
    got = run_example(tmp_path / "onnx", queries, tmp_path)
    assert [g[2] for g in got] == queries
    for (label, p, _), row in zip(got, want):
        assert label == classifier.labels[int(row.argmax())]
        assert abs(float(p) - row.max()) <= TOLERANCE


@needs_onnx
def test_a_series_ensemble_exports_its_members(tmp_path):
    data = tmp_path / "waves.ts"
    rows = [",".join(f"{(i % 2 * 2 - 1) * t / 10 + (i * t) % 3 / 10:.2f}" for t in range(8))
            + f":{'up' if i % 2 else 'down'}" for i in range(12)]
    data.write_text("@problemName Waves\n@univariate true\n@equalLength true\n"
                    "@classLabel true up down\n@data\n" + "\n".join(rows) + "\n")
    assert main(["series", "train", str(data), "--members", "2", "--epochs", "2", "--quiet",
                 "--out", str(tmp_path / "s")]) == 0
    assert main(["export", str(tmp_path / "s")]) == 0
    manifest = json.loads((tmp_path / "s" / "onnx" / "ensemble.json").read_text())
    assert [m["weight"] for m in manifest["members"]] == [0.5, 0.5]
    assert manifest["labels"] == ["up", "down"]
    assert sorted(os.listdir(tmp_path / "s" / "onnx")) == [
        "ensemble.json", "member-0.onnx", "member-0.preprocessing.json", "member-1.onnx",
        "member-1.preprocessing.json"]


@needs_onnx
def test_the_command_writes_where_out_says(tmp_path, capsys):
    text_model(tmp_path / "model")
    assert main(["export", str(tmp_path / "model"), "--out", str(tmp_path / "demo.onnx")]) == 0
    assert sorted(os.listdir(tmp_path)) == ["demo.onnx", "demo.preprocessing.json", "model"]
    capsys.readouterr()
    # missing folders are made, as mkdir -p makes them
    assert main(["export", str(tmp_path / "model"), "--out", str(tmp_path / "a" / "b" / "m.onnx")]) == 0
    assert sorted(os.listdir(tmp_path / "a" / "b")) == ["m.onnx", "m.preprocessing.json"]
    capsys.readouterr()
    (tmp_path / "notes").write_text("")
    assert main(["export", str(tmp_path / "model"), "--out", str(tmp_path / "notes" / "m.onnx")]) == 2
    assert capsys.readouterr().err == (f"lstmkit export: error: path {tmp_path / 'notes' / 'm.onnx'}: "
                                       f"{tmp_path / 'notes'} is a file, not a folder\n")
    assert main(["export", str(tmp_path / "missing")]) == 2
    assert "no such model folder" in capsys.readouterr().err


@needs_onnx
@pytest.mark.parametrize("layers, shape, message", [
    ([TimeDistributed(LSTM(3)), Dense(1)], (None, 4, 2),
     r"layer 0 \(TimeDistributed\): TimeDistributed\(LSTM\) cannot be exported: only Dense, "
     "Embedding and the dropouts"),
    ([Bidirectional(LSTM(3), merge_mode=None)], (None, 2),
     r"layer 0 \(Bidirectional\): merge_mode=None gives a pair of outputs"),
])
def test_what_onnx_cannot_express_is_refused_naming_the_layer(layers, shape, message, tmp_path):
    model = built(layers, shape)
    with pytest.raises(InputError, match=message):
        model.export(tmp_path / "model.onnx")
    assert os.listdir(tmp_path) == []


def test_bad_exports_are_lstmkit_errors(tmp_path):
    with pytest.raises(InputError, match="not built yet: train it or call build"):
        Sequential([LSTM(3)]).export(tmp_path / "m.onnx")
    model = MODELS["tutorial"]()
    with pytest.raises(InputError, match="format must be 'onnx'"):
        model.export(tmp_path / "m.tflite", format="tflite")
    (tmp_path / "notes").write_text("")
    with pytest.raises(InputError, match="notes is a file, not a folder"):
        model.export(tmp_path / "notes" / "new" / "m.onnx")
    with pytest.raises(InputError, match="is a folder"):
        model.export(tmp_path)
    with pytest.raises(InputError, match="export reads float32 or float64 weights"):
        MODELS["tutorial"]().to(torch.bfloat16).export(tmp_path / "m.onnx")
    assert os.listdir(tmp_path) == ["notes"]


def test_without_the_extra_export_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx then raises ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'lstmkit\[onnx\]'"):
        MODELS["tutorial"]().export(tmp_path / "m.onnx")
    assert os.listdir(tmp_path) == []


@needs_onnx
def test_a_failed_write_leaves_nothing_half_written(tmp_path, monkeypatch):
    encoder, _ = text_model(tmp_path / "model")
    model = load_model(tmp_path / "model")
    out = tmp_path / "out"
    out.mkdir()
    real = export.atomic_write

    def full_disk(path, data):
        if path.endswith(".onnx"):
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(export, "atomic_write", full_disk)
    with pytest.raises(InputError, match=r"cannot be written \(No space left on device\)"):
        model.export(out / "model.onnx")
    assert os.listdir(out) == []  # the vocabulary written first is taken back


@needs_onnx
def test_a_graph_that_disagrees_with_lstmkit_is_a_bug_and_is_not_written(tmp_path, monkeypatch):
    monkeypatch.setattr(export, "LSTM_GATES", [0, 1, 2, 3])  # torch's order, wrong for ONNX
    with pytest.raises(InternalError, match="differs from lstmkit's .* a bug in lstmkit.export"):
        MODELS["tutorial"]().export(tmp_path / "m.onnx")
    assert os.listdir(tmp_path) == []
