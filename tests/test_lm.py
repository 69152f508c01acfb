"""The language-model task: the model, truncated BPTT through the engine,
figures over whole streams, exact resume, weight tying, and the CLI."""

import json
import math
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lstmkit
from lstmkit.cli import main
from lstmkit.data.corpus import load_corpus
from lstmkit.data.streams import StreamBatches
from lstmkit.tasks.lm import (DEFAULTS, build_language_model, evaluate_stream, step_decay,
                              train_language_model)

from conftest import StopAt

TEXT = ("ROMEO: to be or not to be, that is the question.\nJULIET: O Romeo, Romeo!\n") * 12


@pytest.fixture
def corpus_file(tmp_path, monkeypatch):
    monkeypatch.setenv("LSTMKIT_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "tiny.txt"
    path.write_text(TEXT)
    return str(path)


def tiny_options(**overrides):
    return {**DEFAULTS["char"], "units": 16, "embedding": 8, "bptt": 10, "batch_size": 4,
            "epochs": 2, "optimizer": "sgd", "lr": 0.5, "lr_decay": 2.0, "decay_after": 1,
            **overrides}


def long_pass_loss(model, tokens):
    """The mean cross-entropy of one forward pass over the whole stream."""
    ids = torch.tensor(np.asarray(tokens), dtype=torch.int64)
    model.eval()
    with torch.no_grad():
        logits = model(ids[None, :-1], logits=True)[0]  # (T, V)
    return float(F.cross_entropy(logits, ids[1:]))


def test_the_model_zaremba_describes():
    torch.manual_seed(0)
    model = build_language_model(50, units=12, layers=2, dropout=0.5, init_range=0.1,
                                 device="cpu")
    names = [type(layer).__name__ for layer in model.layers]
    assert names == ["Embedding", "Dropout", "LSTM", "Dropout", "Dense"]
    assert model.layers[2].num_layers == 2 and model.layers[2].dropout == 0.5  # between layers
    assert all(float(p.detach().abs().max()) <= 0.1 for p in model.parameters())
    assert model._compiled["loss"].from_logits  # the loss is taken on the logits


def test_state_carried_across_windows_equals_one_long_pass(corpus_file):
    corpus = load_corpus(corpus_file, level="char")
    torch.manual_seed(0)
    model = build_language_model(len(corpus.vocabulary), units=16, embedding=8, device="cpu")
    whole = long_pass_loss(model, corpus.train)
    windows = evaluate_stream(model, corpus.train, batch_size=1, bptt=7)
    assert math.isclose(windows, whole, rel_tol=1e-5)
    # training carries it too: with a learning rate of 0 the epoch's loss is the long pass's
    model.optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    history = model.fit(StreamBatches(corpus.train, 1, 7), epochs=1, shuffle=False, verbose=0)
    assert math.isclose(history.history["loss"][0], whole, rel_tol=1e-5)


def test_perplexity_over_the_stream_is_exp_of_the_mean_over_every_token(corpus_file):
    corpus = load_corpus(corpus_file, level="word", valid_fraction=0.2)
    torch.manual_seed(0)
    model = build_language_model(len(corpus.vocabulary), units=8, device="cpu")
    # 3 parallel streams of the valid part, each read from zeros with its state carried
    streams = StreamBatches(corpus.valid, 3, 4)
    total, count = 0.0, 0
    model.eval()
    for b in range(3):
        row = torch.tensor(np.asarray(corpus.valid[b * streams.length:(b + 1) * streams.length]),
                           dtype=torch.int64)
        with torch.no_grad():
            logits = model(row[None, :-1], logits=True)[0]
        total += float(F.cross_entropy(logits, row[1:], reduction="sum"))
        count += len(row) - 1
    nats = evaluate_stream(model, corpus.valid, batch_size=3, bptt=4)
    assert math.isclose(nats, total / count, rel_tol=1e-5)


def test_step_decay_halves_after_epoch_k():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = step_decay(optimizer, 2.0, 4)
    rates = []
    for _ in range(7):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates == [1.0, 1.0, 1.0, 1.0, 0.5, 0.25, 0.125]  # Zaremba's small: epochs 1-4 at 1


def test_resume_mid_epoch_is_exact(corpus_file, tmp_path):
    corpus = load_corpus(corpus_file, level="char")
    options = tiny_options(variable_bptt=True)
    straight, full = train_language_model(corpus, options, seed=1, verbose=0,
                                          callbacks=[StopAt(-1)])
    folder = str(tmp_path / "ckpt")
    train_language_model(corpus, options, seed=1, verbose=0, checkpoint_dir=folder,
                         callbacks=[StopAt(20)])  # stopped mid-epoch 2 (17 windows an epoch)
    resumed, history = train_language_model(corpus, options, seed=1, verbose=0,
                                            checkpoint_dir=folder, resume=folder,
                                            callbacks=[StopAt(-1)])
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    # the schedule resumed with the run: lr 0.5, then 0.25, and 0.125 set for a third epoch
    assert history.history["learning_rate"] == full.history["learning_rate"] == [0.25, 0.125]
    assert history.history["loss"] == full.history["loss"]


def test_tied_weights_share_one_table_and_save_and_load(tmp_path):
    torch.manual_seed(0)
    model = build_language_model(30, units=8, tie=True, device="cpu")
    dense, embedding = model.layers[-1], model.layers[0]
    assert dense.kernel is embedding.embedding.weight
    assert "layers.2.linear.weight" not in model.state_dict()
    assert sum(p.numel() for p in model.parameters()) == (
        30 * 8 + sum(p.numel() for p in model.layers[1].parameters()) + 30)
    x = torch.randint(0, 30, (2, 5))
    F.cross_entropy(model(x, logits=True).reshape(-1, 30), x.reshape(-1)).backward()
    assert embedding.embedding.weight.grad.abs().sum() > 0
    model.save(tmp_path / "tied")
    loaded = lstmkit.load_model(tmp_path / "tied")
    assert loaded.layers[-1].kernel is loaded.layers[0].embedding.weight
    model.eval()
    torch.testing.assert_close(loaded(x), model(x))
    with pytest.raises(lstmkit.errors.InputError, match="embedding size to equal"):
        build_language_model(30, units=8, embedding=4, tie=True)


def test_step_streams_the_language_model():
    torch.manual_seed(0)
    model = build_language_model(20, units=6, embedding=4, device="cpu")
    model.eval()
    x = torch.randint(0, 20, (3, 9))
    with torch.no_grad():
        whole = model(x)
    state, outputs = None, []
    for t in range(9):
        y, state = model.step(x[:, t], state)
        outputs.append(y)
    torch.testing.assert_close(torch.stack(outputs, 1), whole, rtol=1e-4, atol=1e-6)


# ----- the command line ------------------------------------------------------------------

def train_args(corpus_file, out, *extra):
    return ["lm", "train", corpus_file, "--level", "char", "--out", str(out), "--epochs", "1",
            "--units", "16", "--embedding", "8", "--bptt", "10", "--batch-size", "4", "--quiet",
            *extra]


def test_cli_trains_evaluates_generates_and_resumes(corpus_file, tmp_path, capsys):
    out = tmp_path / "model"
    assert main(train_args(corpus_file, out)) == 0
    printed = capsys.readouterr().out
    assert "valid bits per char:" in printed and f"model written to {out}" in printed
    written = set(os.listdir(out))
    assert {"config.json", "model.safetensors", "report.json", "checkpoints"} <= written
    assert main(["lm", "eval", str(out), corpus_file]) == 0
    assert "bits per char:" in capsys.readouterr().out
    assert main(["generate", str(out), "--prompt", "ROMEO:", "--length", "30", "--seed", "3"]) == 0
    first = capsys.readouterr().out
    assert first.startswith("ROMEO:") and len(first.rstrip("\n")) >= 30
    assert main(["generate", str(out), "--prompt", "ROMEO:", "--length", "30", "--seed", "3"]) == 0
    assert capsys.readouterr().out == first
    # two more epochs from the checkpoint of the first
    args = train_args(corpus_file, out, "--resume", str(out / "checkpoints"))
    args[args.index("--epochs") + 1] = "2"
    assert main(args) == 0
    assert "model written to" in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert [row["epoch"] for row in report["epochs"]] == [1, 2]


def test_cli_eval_of_a_file_too_short_to_score_says_so(corpus_file, tmp_path, capsys):
    out = tmp_path / "model"
    assert main(train_args(corpus_file, out)) == 0
    capsys.readouterr()
    for text, message in (("", "is empty: no tokens"), ("R", "holds 1 token(s); evaluation "
                                                           "scores each token given those before")):
        short = tmp_path / "short.txt"
        short.write_text(text)
        assert main(["lm", "eval", str(out), str(short), "--batch-size", "1"]) == 2
        err = capsys.readouterr().err
        assert message in err and "train on" not in err and "batch size" not in err


def test_cli_help_has_examples():
    parser = lstmkit.cli.build_parser()
    for command in (["lm", "train"], ["lm", "eval"], ["generate"]):
        with pytest.raises(SystemExit):
            parser.parse_args([*command, "--help"])


@pytest.mark.parametrize("case, message", [
    ("empty", "is empty"),
    ("bptt", "bptt 5000 is longer than"),
    ("corrupt", "not a valid checkpoint"),
    ("missing", "no such checkpoint"),
])
def test_cli_bad_training_input(corpus_file, tmp_path, capsys, case, message):
    out = tmp_path / "out"
    args = train_args(corpus_file, out)
    if case == "empty":
        empty = tmp_path / "empty.txt"
        empty.write_text("")
        args[2] = str(empty)
    elif case == "bptt":
        args[args.index("--bptt") + 1] = "5000"
    elif case == "corrupt":
        bad = tmp_path / "ckpt-00001-000000001.safetensors"
        bad.write_bytes(b"not a checkpoint")
        args += ["--resume", str(bad)]
    else:
        args += ["--resume", str(tmp_path / "nowhere")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()  # nothing half-written


@pytest.mark.parametrize("extra, message", [
    (["--temperature", "-1"], "temperature must be a number >= 0"),
    (["--top-p", "0"], "top_p must be a number in (0, 1]"),
    (["--top-p", "1.5"], "top_p must be a number in (0, 1]"),
    (["--top-k", "0"], "top_k must be an int of at least 1"),
    (["--prompt", "ROMEO~"], "outside the model's vocabulary: '~'"),
])
def test_cli_bad_generation_input(corpus_file, tmp_path, capsys, extra, message):
    out = tmp_path / "model"
    assert main(train_args(corpus_file, out)) == 0
    capsys.readouterr()
    assert main(["generate", str(out), "--prompt", "ROMEO:", "--length", "5", *extra]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and len(captured.err.strip().splitlines()) == 1
    assert captured.out == ""  # nothing printed before the refusal


def test_cli_word_prompt_outside_the_vocabulary_is_read_as_unk(corpus_file, tmp_path, capsys):
    out = tmp_path / "words"
    args = train_args(corpus_file, out)
    args[args.index("char")] = "word"
    args[args.index("--bptt") + 1] = "3"
    assert main(args) == 0
    capsys.readouterr()
    assert main(["generate", str(out), "--prompt", "ROMEO: to sleep", "--length", "4",
                 "--temperature", "0"]) == 0
    captured = capsys.readouterr()
    assert "read as <unk>: sleep" in captured.err
    assert captured.out.startswith("ROMEO: to sleep")


def test_cli_trains_in_bf16_and_refuses_fp16_off_a_gpu(corpus_file, tmp_path, capsys):
    out = tmp_path / "model"
    assert main(train_args(corpus_file, out, "--precision", "bf16")) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["options"]["precision"] == "bf16" and math.isfinite(report["valid"]["nats_per_char"])
    if not torch.cuda.is_available():
        capsys.readouterr()
        other = tmp_path / "fp16"
        assert main(train_args(corpus_file, other, "--precision", "fp16")) == 2
        err = capsys.readouterr().err.strip()
        assert "mixed_float16 needs a CUDA GPU" in err and len(err.splitlines()) == 1
        assert not other.exists()
