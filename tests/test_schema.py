"""config.json against lstmkit.schema: the schema covers every constructor
argument, accepts what model.save writes, and turns every hostile value into
a ModelFileError naming the field, never another exception."""

import copy
import inspect
import json

import pytest
import torch

import lstmkit
from lstmkit import Sequential, cli, files
from lstmkit.data.text import TextEncoder
from lstmkit.errors import InputError, InputTypeError, ModelFileError
from lstmkit.initializers import INITIALIZERS, initialize
from lstmkit.layers import (GRU, LAYERS, LSTM, BatchNormalization, Bidirectional, Conv1D, Dense,
                            Dropout, Embedding, GlobalAveragePooling1D, LockedDropout, Masking,
                            Parallel, TimeDistributed)
from lstmkit.schema import (ARGUMENTS, BIAS_INITIALIZER, LAYER_ARGUMENTS, MAX_WRAPPERS, Bool,
                            Choice, Int, Number, SchemaError)


def constructor_arguments(cls):
    """{name: default, or inspect.Parameter.empty when required}."""
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]  # not self
    return {p.name: p.default for p in parameters  # **keras: spellings that are not saved
            if p.kind is not inspect.Parameter.VAR_KEYWORD}


def test_schema_covers_every_constructor_argument():
    assert set(LAYER_ARGUMENTS) == set(LAYERS)
    for name, cls in LAYERS.items():
        arguments = constructor_arguments(cls)
        assert set(LAYER_ARGUMENTS[name]) == set(arguments), name
        required = {a for a, default in arguments.items() if default is inspect.Parameter.empty}
        assert ARGUMENTS[name].required == required, name
        for argument, default in arguments.items():
            if default is not inspect.Parameter.empty:  # a file that leaves it out gets this
                ARGUMENTS[name].fields[argument].check(default, f"{name}.{argument}", 0)


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_bias_initializers_are_those_a_vector_takes(name):
    """A layer accepts any initialiser name for its bias, but those that need a
    matrix fail when it is built: the schema refuses them in a file."""
    try:
        initialize(torch.empty(3), name)
        works = True
    except ValueError:
        works = False
    assert (name in BIAS_INITIALIZER.names) == works


def minimal_arguments(name):
    """Required arguments of a layer class, each int at its schema maximum (so
    that proj_size may reach its own), each rate 0, a layer an LSTM."""
    fields = ARGUMENTS[name].fields
    values = {}
    for argument in ARGUMENTS[name].required:
        spec = fields[argument]
        values[argument] = spec.high if isinstance(spec, Int) else (
            0.0 if isinstance(spec, Number) else LSTM(1))
    return values


def bound_cases():
    """(class, argument, value, inside the bounds?) at each edge the schema declares."""
    for name, fields in ARGUMENTS.items():
        for argument, spec in fields.fields.items():
            if isinstance(spec, Int) and spec.low is not None and spec.high is not None:
                yield from ((name, argument, spec.low, True), (name, argument, spec.high, True),
                            (name, argument, spec.low - 1, False),
                            (name, argument, spec.high + 1, False))
            elif isinstance(spec, Number) and spec.high < float("inf"):
                below = spec.high - 1e-6 if spec.high_open else spec.high
                yield from ((name, argument, spec.low, True), (name, argument, below, True),
                            (name, argument, spec.low - 1e-6, False))
                if spec.high_open:
                    yield name, argument, spec.high, False


@pytest.mark.parametrize("name, argument, value, inside", list(bound_cases()))
def test_bounds_agree_with_the_constructors(name, argument, value, inside):
    """The schema's bounds are the constructors' own: a value one of them
    refuses and the other accepts would mean the two have drifted apart."""
    arguments = {**minimal_arguments(name), argument: value}
    try:
        LAYERS[name](**arguments)
        constructed = True
    except (InputError, InputTypeError):
        constructed = False
    assert constructed == inside
    path = f"{name}.{argument}"
    if inside:
        ARGUMENTS[name].fields[argument].check(value, path, 0)
    else:
        with pytest.raises(SchemaError, match="must be"):
            ARGUMENTS[name].fields[argument].check(value, path, 0)


def option_values(spec):
    """The values of a name or bool argument, to try each one."""
    if isinstance(spec, Choice):
        return [n for n in spec.names if n is not None]
    return [False, True] if isinstance(spec, Bool) else []


SMALL = {"units": 2, "input_dim": 20, "output_dim": 3, "rate": 0.5, "activation": "tanh",
         "n": 2, "length": 4}  # required, but a layer
AROUND = {  # a model that builds around the layer, and its per-sample input shape
    "Embedding": (lambda layer: [layer, LSTM(2)], (None,)),
    "Dense": (lambda layer: [Embedding(2, 3), layer], (None,)),  # tie_weights needs (2, 3)
    "Masking": (lambda layer: [layer, LSTM(2)], (None, 3)),
    "RepeatVector": (lambda layer: [layer, LSTM(2)], (3,)),
    "Flatten": (lambda layer: [layer, Dense(2)], (4, 3)),
}


def saved_variants():
    """(label, layers, input shape) of models that use every layer class, and
    each one with every value of each of its name and bool arguments."""
    for name, cls in LAYERS.items():
        if {"layer", "branches"} & ARGUMENTS[name].required:
            continue  # a wrapper or a Parallel: below
        around, shape = AROUND.get(name, (lambda layer: [layer], (None, 3)))
        small = {k: SMALL[k] for k in ARGUMENTS[name].required}
        yield f"{name} with defaults", around(cls(**small)), shape
        for argument, spec in ARGUMENTS[name].fields.items():
            for value in option_values(spec):
                yield f"{name}.{argument}={value}", around(cls(**{**small, argument: value})), shape
    yield "Parallel(LSTM | Conv1D, BatchNormalization, pooling)", [
        Parallel([[LSTM(2), Dropout(0.1)],
                  [Conv1D(3, 2), BatchNormalization(), GlobalAveragePooling1D()]])], (None, 3)
    yield "TimeDistributed(Bidirectional(GRU))", [
        TimeDistributed(Bidirectional(GRU(2, return_sequences=True)))], (None, 4, 3)
    for inner in (LSTM, GRU):
        for merge_mode in Bidirectional.MERGES:  # None gives a pair: the last layer only
            yield f"Bidirectional({inner.__name__}, {merge_mode})", [
                LockedDropout(0.5), Dropout(0.2),
                Bidirectional(inner(2, return_sequences=True), merge_mode=merge_mode)], (None, 3)


def test_saved_models_of_every_layer_and_option_pass(tmp_path):
    """A config written by model.save passes the schema and loads, for every
    layer class and every value of every name and bool argument."""
    used = set()
    for i, (label, layers, shape) in enumerate(saved_variants()):
        model = Sequential(layers)
        model.build_per_sample(shape)
        model.compile("mse", metrics=["mae"], device="cpu")
        model.save(tmp_path / str(i), metadata={"note": label, "nested": {"a": [1, [2.5]]}})
        loaded = lstmkit.load_model(tmp_path / str(i))
        assert loaded.get_config() == model.get_config(), label
        used.update(type(l).__name__ for l in model.layers)
        used.update(type(getattr(l, "layer", l)).__name__ for l in model.layers)
    assert used == set(LAYERS)


# ----- hostile values --------------------------------------------------------


def saved_model(folder):
    """A compiled model using every layer class but Masking (on ids), saved
    with metadata and a text encoder as its preprocessing; returns its
    config.json."""
    model = Sequential([
        Embedding(20, 4, mask_zero=True, dropout=0.1), Dropout(0.2), LockedDropout(0.1),
        Bidirectional(LSTM(3, return_sequences=True, proj_size=2), merge_mode="sum"),
        GRU(3, return_sequences=True, num_layers=2, dropout=0.1),
        TimeDistributed(Dense(2, activation="relu")), LSTM(2), Dense(1, activation="sigmoid")])
    model.build((None,))
    model.compile("binary_crossentropy", metrics=["accuracy"], device="cpu")
    encoder = TextEncoder.fit(["a fine day", "a bad day"], ["good", "bad"], num_words=20)
    model.save(folder, metadata={"note": {"nested": [1, [2.5, None]]}}, preprocessing=encoder)
    return json.loads((folder / files.CONFIG_FILE).read_text())


def series_model(folder):
    """A model on float series, starting with Masking."""
    model = Sequential([Masking(-1.0), LSTM(3, return_sequences=True, stateful=True),
                        GRU(2, impl="reference"), Dense(2, activation="softmax")])
    model.build((None, 3))
    model.save(folder)
    return json.loads((folder / files.CONFIG_FILE).read_text())


def write(folder, config):
    (folder / files.CONFIG_FILE).write_text(json.dumps(config))


def load(folder, config):
    write(folder, config)
    return lstmkit.load_model(folder)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("schema") / "m"
    return folder, saved_model(folder)


def edited(config, path, value):
    """A copy of config with the value at `path` (keys and indices) replaced."""
    config = copy.deepcopy(config)
    *parents, last = path
    parent = config
    for key in parents:
        parent = parent[key]
    parent[last] = value
    return config


def without(config, path):
    """A copy of config without the value at `path`."""
    config = copy.deepcopy(config)
    *parents, last = path
    parent = config
    for key in parents:
        parent = parent[key]
    del parent[last]
    return config


L = ("model", "layers")
BIDIRECTIONAL, DENSE, INNER = (*L, 3, "config"), (*L, 7, "config"), (*L, 3, "config", "layer")


@pytest.mark.parametrize("path, value, match", [
    ((*L, 1, "class"), ["Dropout"], r"model.layers\[1\].class must be one of 'Embed.*got list"),
    ((*DENSE, "activation"), ["relu"], r"layers\[7\].config.activation must be one of .*got list"),
    ((*BIDIRECTIONAL, "merge_mode"), {"a": 1}, r"merge_mode must be one of 'concat'.*got dict"),
    (("compile", "metrics"), 3, "compile.metrics must be a list, got int 3"),
    (("metadata",), 3, "metadata must be an object, got int 3"),
    ((*INNER, "class"), ["LSTM"], r"config.layer.class must be one of 'LSTM', 'GRU', got list"),
    ((*INNER, "class"), "Dense", r"layer.class must be one of 'LSTM', 'GRU', got str 'Dense'"),
    ((*INNER, "config", "impl"), [], r"layers\[3\].config.layer.config.impl must be one of 'auto'"),
    ((*DENSE, "kernel_initializer"), {}, "kernel_initializer must be one of 'glorot_.*got dict"),
    ((*DENSE, "bias_initializer"), "orthogonal", "bias_initializer must be one of "),
    ((*DENSE, "units"), [1], r"model.layers\[7\].config.units must be an int, got list"),
    ((*DENSE, "units"), True, "units must be an int, got bool True"),
    ((*DENSE, "units"), 2.0, "units must be an int, got float 2.0"),
    ((*L, 1, "config", "rate"), "0.5", r"rate must be a finite number, got str '0.5'"),
    ((*L, 1, "config", "rate"), 1.0, r"rate must be a number in \[0, 1\), got float 1.0"),
    ((*L, 0, "config", "mask_zero"), 1, "mask_zero must be true or false, got int 1"),
    ((*L, 0, "config"), [], r"model.layers\[0\].config must be an object, got list"),
    ((*L, 0), "Embedding", r"model.layers\[0\] must be an object, got str"),
    (L, [], "model.layers must hold at least 1 item"),
    (("model", "input_shape"), [0], r"input_shape\[0\] must be between 1 and"),
    (("model", "input_shape"), [None] * 9, "input_shape must hold at most 8 items"),
    (("model", "input_dtype"), "float64", "input_dtype must be one of 'int64', 'float32'"),
    (("model", "class"), "Functional", "model.class must be one of 'Sequential'"),
    (("compile",), [], "compile must be an object, got list"),
    (("compile", "loss"), {"name": "mse"}, "compile.loss must be a string, got dict"),
    (("preprocessing",), "text", "preprocessing must be an object, got str"),
    (("preprocessing", "kind"), 1, "preprocessing.kind must be a string, got int 1"),
    (("preprocessing", "version"), True, "preprocessing.version must be an int, got bool"),
    (("preprocessing", "data"), [1], "preprocessing.data must be an object, got list"),
    (("weights_sha256",), 5, "weights_sha256 must be a string"),
])
def test_hostile_values_name_the_field(saved, path, value, match):
    """A list for a class or an activation, a dict for merge_mode, an int for
    metrics or the metadata were TypeErrors or AttributeErrors once."""
    folder, config = saved
    with pytest.raises(ModelFileError, match=match):
        load(folder, edited(config, path, value))


@pytest.mark.parametrize("path, match", [
    ((*DENSE, "units"), r"model.layers\[7\].config.units is missing"),
    ((*INNER, "config"), r"model.layers\[3\].config.layer.config is missing"),
    (("model",), "model is missing"),
    (("preprocessing", "version"), "preprocessing.version is missing"),
])
def test_missing_required_fields_name_the_field(saved, path, match):
    folder, config = saved
    with pytest.raises(ModelFileError, match=match):
        load(folder, without(config, path))


def without_defaults(entry):
    """A layer entry leaving out each argument that has its default value."""
    defaults = constructor_arguments(LAYERS[entry["class"]])
    config = {k: without_defaults(v) if k == "layer" else v
              for k, v in entry["config"].items() if v != defaults[k]}
    return {"class": entry["class"], "config": config}


def test_arguments_a_file_leaves_out_take_their_defaults(saved):
    """Files from older releases omit arguments added since (the stored fixture
    of format version 1 has no Embedding dropout, no LSTM num_layers)."""
    folder, config = saved
    lean = edited(config, L, [without_defaults(e) for e in config["model"]["layers"]])
    assert lean["model"]["layers"][1] == {"class": "Dropout", "config": {"rate": 0.2}}
    for section in ("compile", "metadata", "preprocessing"):
        lean[section] = None
    del lean["lstmkit_version"]
    assert load(folder, lean).get_config() == config["model"]


def wrapped(depth):
    """A Dense inside `depth` TimeDistributed wrappers."""
    entry = {"class": "Dense", "config": {"units": 1}}
    for _ in range(depth):
        entry = {"class": "TimeDistributed", "config": {"layer": entry}}
    return entry


@pytest.mark.parametrize("first, shape, match", [
    (Masking(), [None, None], r"input_shape\[1\] must be a size, got null: it is the features"),
    (Dense(2), [None], r"input_shape\[0\] must be a size, got null"),
    (TimeDistributed(Embedding(5, 2)), [3, None], None),  # loads
])
def test_only_an_embedding_takes_a_null_last_axis(tmp_path, first, shape, match):
    """Other layers size their weights by the last axis: torch would refuse
    None there with a TypeError."""
    model = Sequential([first, LSTM(2)] if isinstance(first, Masking) else [first])
    model.build_per_sample([2 if size is None else size for size in shape])
    model.save(tmp_path)
    config = edited(json.loads((tmp_path / files.CONFIG_FILE).read_text()),
                    ("model", "input_shape"), shape)
    if match is None:
        assert load(tmp_path, config).input_shape == tuple(shape)
    else:
        with pytest.raises(ModelFileError, match=match):
            load(tmp_path, config)


def test_wrappers_nest_at_most_max_wrappers_deep(saved):
    folder, config = saved
    document = edited(config, L, [wrapped(MAX_WRAPPERS + 1)])
    with pytest.raises(ModelFileError, match=f"is a layer inside more than {MAX_WRAPPERS} wrap"):
        load(folder, edited(document, ("model", "input_shape"), [2] * 5))
    document = edited(config, L, [wrapped(MAX_WRAPPERS)])
    with pytest.raises(ModelFileError, match="weights do not fit"):  # past the schema
        load(folder, edited(document, ("model", "input_shape"), [2] * 4))


def test_lstmkit_inspect_reports_a_bad_metadata_as_an_error(saved, capsys):
    """The metadata was once only used, and failed with AttributeError, here."""
    folder, config = saved
    write(folder, edited(config, ("metadata",), 3))
    assert cli.main(["inspect", str(folder), "--text", "great"]) == 2
    assert "metadata must be an object, got int 3" in capsys.readouterr().err


REPLACEMENTS = {"list": [1, "x"], "dict": {"a": 1}, "string": "x", "float": 0.5,
                "huge int": 10**30, "null": None, "bool": True}


def paths(value, path=()):
    """The path of every value inside a parsed JSON document, containers too."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, item in items:
        yield path + (key,)
        yield from paths(item, path + (key,))


@pytest.mark.filterwarnings("ignore:.*could not be saved")  # a null loss or optimizer
@pytest.mark.parametrize("kind", sorted(REPLACEMENTS))
@pytest.mark.parametrize("model", [saved_model, series_model])
def test_any_field_replaced_by_any_kind_loads_or_is_a_model_file_error(
        tmp_path, model, kind):
    folder = tmp_path / "m"
    config = model(folder)
    value = REPLACEMENTS[kind]
    escaped = []
    for path in paths(config):
        try:
            load(folder, edited(config, path, value))
        except ModelFileError:
            pass
        except Exception as e:  # collected, so that one run names every such field
            escaped.append(f"{path}: {type(e).__name__}: {e}")
    assert not escaped, "\n".join(escaped)


@pytest.mark.parametrize("path, value", [((*L, 6, "config", "return_state"), True),
                                         ((*BIDIRECTIONAL, "merge_mode"), None)])
def test_a_tuple_before_the_last_layer_is_a_model_file_error(saved, path, value):
    folder, config = saved
    with pytest.raises(ModelFileError):
        load(folder, edited(config, path, value))
