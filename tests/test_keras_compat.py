"""README's compatibility table for Keras code, held to lstmkit.keras.

The table is lstmkit.keras._compat.ROWS, rendered: README must hold it as
table() renders it, and each entry of each row must behave as the row says
(accepted: evaluates to a value; refused: raises a LstmkitError, never an
AttributeError). Every public name Keras has in the mirrored modules is
either there or refused with advice."""

from pathlib import Path

import pytest

import lstmkit.keras as keras
from lstmkit import errors
from lstmkit.keras import NotSupportedError
from lstmkit.keras._compat import REFUSED, ROWS, in_readme, table
from lstmkit.keras._keras_names import KERAS_NAMES

README = (Path(__file__).parent.parent / "README.md").read_text()
ENTRIES = [(entry, row.status) for row in ROWS for entry in row.entries]


def test_readme_holds_the_table_as_generated():
    assert in_readme(README) == table(), (
        "README's Keras table is stale: run .venv/bin/python -m lstmkit.keras._compat "
        "--write README.md")


@pytest.mark.parametrize("entry, status", ENTRIES, ids=[e for e, _ in ENTRIES])
def test_each_entry_behaves_as_the_table_says(entry, status, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # entries that name files make none elsewhere
    if status == REFUSED:
        with pytest.raises(errors.LstmkitError) as e:
            eval(f"keras.{entry}", {"keras": keras})
        assert not isinstance(e.value, AttributeError)
    else:
        eval(f"keras.{entry}", {"keras": keras})  # no error


MODULES = {"": keras, "layers": keras.layers, "callbacks": keras.callbacks,
           "optimizers": keras.optimizers, "optimizers.schedules": keras.optimizers.schedules,
           "losses": keras.losses, "metrics": keras.metrics,
           "initializers": keras.initializers, "activations": keras.activations,
           "utils": keras.utils, "models": keras.models, "backend": keras.backend,
           "datasets": keras.datasets, "datasets.imdb": keras.datasets.imdb,
           "preprocessing": keras.preprocessing,
           "preprocessing.sequence": keras.preprocessing.sequence}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_keras_name_is_there_or_refused_with_advice(module):
    refused = []
    for name in sorted(KERAS_NAMES[module]):
        try:
            getattr(MODULES[module], name)
        except NotSupportedError as e:
            assert "is not supported by lstmkit: " in str(e) and str(e).split(": ", 1)[1]
            refused.append(name)
    offered = set(KERAS_NAMES[module]) - set(refused)
    assert offered <= set(dir(MODULES[module])) | set(getattr(MODULES[module], "__all__", ()))
