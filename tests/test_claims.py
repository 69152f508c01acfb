"""README's concrete claims about the API, held to the code.

Each test pins one claim: a signature as README writes it, the exception
types it promises, the names it lists. When the code changes, the test says
which passage of README to update.
"""

import ast
import inspect
import json
import re
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

import lstmkit
from lstmkit import Sequential, errors, files, layers
from lstmkit.checkpoints import list_checkpoints, read_checkpoint
from lstmkit.config import TrainConfig
from lstmkit.initializers import INITIALIZERS
from lstmkit.inspect import gates, plot_gates
from lstmkit.layers.core import ACTIVATIONS
from lstmkit.optimizers import OPTIMIZERS
from lstmkit.metrics import resolve_loss

README = " ".join((Path(__file__).parent.parent / "README.md").read_text().split())


def written(name):
    """Every `name(...)` README writes in code: signatures such as
    `Dense(units, activation=None)` and calls such as `fit(..., seed=0)`,
    as (positional parameter names, None for a value; keyword arguments).
    A trailing ', ...' (more arguments follow) is dropped."""
    found = []
    for params in re.findall(rf"`(?:[\w.]+\.)?{name}\(([^`]*)\)`", README):
        call = ast.parse(f"f({params.removesuffix(', ...')})", mode="eval").body
        positional = [a.id if isinstance(a, ast.Name) else None for a in call.args]
        found.append((positional, {k.arg: k.value for k in call.keywords}))
    assert found, f"README writes no {name}(...)"
    return found


def code_parameters(fn):
    """fn's parameters and defaults, those of fit read from TrainConfig (its
    None means 'the config's value'; its **settings take any field)."""
    config = TrainConfig()
    found = {p.name: (getattr(config, p.name) if fn is Sequential.fit and p.default is None
                      and hasattr(config, p.name) else p.default)
             for p in inspect.signature(fn).parameters.values()
             if p.name != "self" and p.kind is not p.VAR_KEYWORD}
    if fn is Sequential.fit:
        found.update({k: v for k, v in vars(config).items() if k not in found})
    return found


@pytest.mark.parametrize("name, fn", [
    ("Embedding", layers.Embedding), ("LSTM", layers.LSTM), ("GRU", layers.GRU),
    ("Dropout", layers.Dropout), ("LockedDropout", layers.LockedDropout),
    ("Masking", layers.Masking), ("Dense", layers.Dense),
    ("TimeDistributed", layers.TimeDistributed), ("fit", Sequential.fit),
    ("gates", gates), ("compile", Sequential.compile),
])
def test_signatures_and_calls_as_readme_writes_them(name, fn):
    """A signature README writes lists the code's first parameters, in order,
    with the same defaults; a call names only parameters that exist."""
    code = code_parameters(fn)
    order = list(code)
    for positional, keywords in written(name):
        for i, param in enumerate(positional):
            assert param is None or param == order[i], f"README: {name}(... {param}), code: {order}"
        signature = bool(positional) and None not in positional
        for j, (param, value) in enumerate(keywords.items()):
            assert param in code, f"README: {name}({param}=...), which the code does not take"
            if signature:
                assert param == order[len(positional) + j], f"README: {name} order, code: {order}"
                assert ast.literal_eval(value) == code[param], (
                    f"README: {name}({param}={ast.unparse(value)}), code: {code[param]!r}")


def test_the_lstm_signature_is_written_out_whole():
    positional, keywords = max(written("LSTM"), key=lambda w: len(w[1]))
    assert positional + list(keywords) == list(code_parameters(layers.LSTM))


def test_fit_settings_readme_names():
    """README names seed and keep_checkpoints=3 in prose; calls are checked above."""
    assert TrainConfig().keep_checkpoints == 3 and "keep_checkpoints=3" in README
    assert "seed" in code_parameters(Sequential.fit) and "`seed` makes a run repeat" in README


@pytest.mark.parametrize("error, builtin", [
    (errors.InputError, ValueError), (errors.DataFileError, ValueError),
    (errors.ModelFileError, ValueError), (errors.InputTypeError, TypeError),
    (errors.NotCompiledError, RuntimeError), (errors.NonFiniteLossError, FloatingPointError),
    (errors.MissingDependencyError, ImportError),
])
def test_each_user_error_is_also_the_builtin_readme_names(error, builtin):
    assert issubclass(error, errors.LstmkitError) and issubclass(error, builtin)
    # README pairs them: "`InputTypeError` a `TypeError`", at most two names between
    pairing = rf"`{error.__name__}`[^`]*(?:`\w+`[^`]*){{0,2}}`{builtin.__name__}`"
    assert re.search(pairing, README), f"README: is {error.__name__} a {builtin.__name__}?"


def test_every_error_class_is_in_readme():
    names = {c.__name__ for c in vars(errors).values() if isinstance(c, type)
             and issubclass(c, Exception) and c.__module__ == errors.__name__}
    assert names <= set(re.findall(r"`(?:lstmkit\.(?:errors\.)?)?(\w+Error)`", README))


def test_an_internal_error_is_a_bug_not_a_user_error():
    assert issubclass(errors.InternalError, RuntimeError)
    assert not issubclass(errors.InternalError, errors.LstmkitError)
    assert "`lstmkit.errors.InternalError`, a `RuntimeError` and deliberately not a" in README


def test_plotting_without_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import now raises ImportError
    with pytest.raises(errors.MissingDependencyError, match=r"pip install 'lstmkit\[plot\]'") as e:
        plot_gates({})
    assert isinstance(e.value, ImportError)


def test_initialisers_are_those_readme_lists():
    listed = re.search(r"one of Keras' (\d+) names: (.*?) \(`lstmkit/initializers", README)
    assert set(re.findall(r"'(\w+)'", listed.group(2))) == set(INITIALIZERS)
    assert len(INITIALIZERS) == int(listed.group(1))
    with pytest.raises(errors.InputError, match="unknown initialiser .xavier_uniform.; known:"):
        layers.Dense(2, kernel_initializer="xavier_uniform")  # torch's name, not Keras'
    layers.Dense(2, kernel_initializer=partial(torch.nn.init.constant_, val=0.5))  # a callable


def test_keras_initial_values():
    """Uniform +-0.05 embeddings and a forget-gate bias of 1 (README: Keras' defaults)."""
    model = Sequential([layers.Embedding(50, 8), layers.LSTM(4), layers.Dense(1)])
    model.build((None,))
    embedding = model.layers[0].embedding.weight
    assert embedding.abs().max() <= 0.05
    lstm = model.layers[1].lstm
    assert torch.equal(lstm.bias_ih_l0[4:8], torch.ones(4)) and not lstm.bias_hh_l0.any()


def test_model_files_have_no_migrations_yet(tmp_path):
    """README: version 1 is the only format so far, MIGRATIONS is empty, and a
    file of a newer version is refused."""
    assert files.FORMAT_VERSION == 1 and files.MIGRATIONS == {}
    assert "`lstmkit.files.MIGRATIONS`, where the steps from older versions will go, is empty" \
        in README
    model = Sequential([layers.LSTM(2), layers.Dense(1)])
    model.build((None, 3))
    model.save(tmp_path / "m")
    config_path = tmp_path / "m" / files.CONFIG_FILE
    config = json.loads(config_path.read_text())
    config["format_version"] = files.FORMAT_VERSION + 1
    config_path.write_text(json.dumps(config))
    with pytest.raises(errors.ModelFileError, match="newer than this lstmkit reads"):
        lstmkit.load_model(tmp_path / "m")


def test_names_readme_lists():
    assert "with 'linear', 'sigmoid', 'tanh', 'relu', 'softmax'," in README
    assert set(ACTIVATIONS) == {"linear", "sigmoid", "tanh", "relu", "softmax"}
    assert "merge_mode='concat'|'sum'|'mul'|'ave'|None" in README
    assert set(layers.Bidirectional.MERGES) == {"concat", "sum", "mul", "ave", None}
    assert "'adam', 'adamw', 'sgd', 'adagrad', 'adadelta', 'adamax', 'nadam'" in README
    assert set(OPTIMIZERS) == {"rmsprop", "adam", "adamw", "sgd", "adagrad", "adadelta", "adamax",
                               "nadam"}
    rmsprop = OPTIMIZERS["rmsprop"]([torch.zeros(1, requires_grad=True)]).defaults
    assert (rmsprop["lr"], rmsprop["alpha"], rmsprop["eps"]) == (1e-3, 0.9, 1e-7)
    for loss in ("binary_crossentropy", "categorical_crossentropy",
                 "sparse_categorical_crossentropy", "mse", "mae"):
        assert f"'{loss}'" in README and resolve_loss(loss).name


def test_a_learning_rate_schedule_is_checkpointed(tmp_path):
    model = Sequential([layers.LSTM(2), layers.Dense(1)])
    model.compile(loss="mse", optimizer="sgd", device="cpu")
    step = partial(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5)
    model.fit(np.zeros((4, 3, 2)), np.zeros(4), epochs=1, verbose=0, scheduler=step,
              checkpoint_dir=str(tmp_path))
    state = read_checkpoint(list_checkpoints(tmp_path)[-1])
    assert state["scheduler"]["last_epoch"] == 1
    assert "A learning-rate schedule's state (`fit(scheduler=...)`) is saved too." in README


def test_gru_takes_the_lstm_options_but_projection():
    assert "options but `proj_size` and `unit_forget_bias`, which have no GRU" in README
    lstm, gru = code_parameters(layers.LSTM), code_parameters(layers.GRU)
    assert {k: v for k, v in lstm.items() if k not in ("proj_size", "unit_forget_bias")} == gru


def test_variable_length_sequences_are_padded_before():
    assert "variable-length sequences, padded with zeros before the sequence" in README
    assert lstmkit.pad_sequences([[1, 2], [3]]).tolist() == [[1, 2], [0, 3]]


@pytest.mark.parametrize("optimizer", [
    torch.optim.Adam,  # a class
    lambda params: torch.optim.SGD(params, lr=0.1),  # a factory f(params)
    "instance",
])
def test_torch_optimizers_and_a_callable_loss(optimizer):
    assert "an optimizer class, a factory `f(params)`, an instance; a callable loss" in README
    model = Sequential([layers.LSTM(2), layers.Dense(1)])
    if optimizer == "instance":
        model.build((None, 2))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.compile(loss=lambda p, y: ((p - y) ** 2).mean(), optimizer=optimizer, device="cpu")
    before = [p.detach().clone() for p in model.parameters()] if model.built else None
    model.fit(np.ones((4, 3, 2)), np.ones(4), verbose=0)
    if before is not None:
        assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
