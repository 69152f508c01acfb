"""Checkpoints: exact resume after SIGKILL or Ctrl-C, refusal of the wrong model,
non-finite losses, and files that hold no pickle."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from lstmkit import LstmkitError
from lstmkit.checkpoints import join_tensors, list_checkpoints, read_checkpoint, split_tensors
from lstmkit.errors import InputError, ModelFileError, NonFiniteLossError

from conftest import tutorial_model

TRAIN = textwrap.dedent("""
    import os, signal, sys
    import numpy as np, torch
    torch.set_num_threads(1)
    sys.path.insert(0, {tests!r})
    from conftest import tutorial_model
    from lstmkit.callbacks import EarlyStopping

    folder, stop_at, how, resume = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    rng = np.random.default_rng(0)
    x = rng.integers(1, 20, size=(100, 12))
    y = (x == 5).any(axis=1).astype(np.float32)

    class Stop:
        def on_train_batch_end(self, trainer, batch, size):
            if trainer.global_step == stop_at:
                os.kill(os.getpid(), signal.SIGKILL if how == "kill" else signal.SIGINT)

    model = tutorial_model()
    history = model.fit(x, y, batch_size=8, epochs=4, verbose=0, seed=3, validation_split=0.2,
                        callbacks=[Stop(), EarlyStopping(monitor="val_loss", patience=10)],
                        checkpoint_dir=folder, checkpoint_every=5,
                        resume=None if resume == "-" else resume)
    model.save(os.path.join(folder, "final"))
    print("epochs", len(history.epoch), "loss", history.history["loss"])
""")


def run(tmp_path, folder, stop_at=-1, how="kill", resume="-"):
    script = tmp_path / "train.py"
    script.write_text(TRAIN.format(tests=os.path.dirname(__file__)))
    return subprocess.run([sys.executable, str(script), str(folder), str(stop_at), how, resume],
                          capture_output=True, text=True, timeout=120)


def final_weights(folder):
    return load_file(os.path.join(folder, "final", "model.safetensors"))


@pytest.mark.parametrize("how, stop_at", [("kill", 17), ("interrupt", 23)])
def test_resumed_run_ends_bit_identical(tmp_path, how, stop_at):
    whole = run(tmp_path, tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr
    cut = run(tmp_path, tmp_path / "cut", stop_at=stop_at, how=how)
    if how == "kill":
        assert cut.returncode == -signal.SIGKILL
    else:  # Ctrl-C: fit returns cleanly after the step, with a checkpoint
        assert cut.returncode == 0 and "training interrupted" in cut.stderr
    assert not (tmp_path / "cut" / "final").exists() or how == "interrupt"
    resumed = run(tmp_path, tmp_path / "cut", resume=str(tmp_path / "cut"))
    assert resumed.returncode == 0, resumed.stderr
    a, b = final_weights(tmp_path / "whole"), final_weights(tmp_path / "cut")
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert whole.stdout == resumed.stdout  # the same History, epoch by epoch


def test_checkpoint_contents_and_pruning(tmp_path, ids_data):
    x, y = ids_data
    model = tutorial_model()
    history = model.fit(x, y, batch_size=30, epochs=3, verbose=0, seed=0,
                        checkpoint_dir=tmp_path, checkpoint_every=4, keep_checkpoints=2)
    found = list_checkpoints(tmp_path)
    assert len(found) == 2 and found[-1] == history.last_checkpoint
    assert [p for p in os.listdir(tmp_path) if p.startswith(".tmp")] == []
    state = read_checkpoint(found[-1])
    assert (state["epoch"], state["batch"], state["global_step"]) == (3, 0, 30)
    assert state["callbacks"][0][1]["history"]["loss"] == history.history["loss"]
    assert set(state["optimizer"]["state"][0]) == {"step", "square_avg"}
    for key, value in model.state_dict().items():
        assert torch.equal(state["model"][key], value)


def test_resume_refuses_a_different_model_or_data(tmp_path, ids_data):
    x, y = ids_data
    tutorial_model().fit(x, y, epochs=1, verbose=0, checkpoint_dir=tmp_path)
    other = tutorial_model(units=16)
    with pytest.raises(InputError, match=r"different model: .*units: checkpoint has 8, this run has 16"):
        other.fit(x, y, epochs=2, verbose=0, resume=tmp_path)
    with pytest.raises(InputError, match="300 samples, this run has 200"):
        tutorial_model().fit(x[:200], y[:200], epochs=2, verbose=0, resume=tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFileError, match="no checkpoint"):
        tutorial_model().fit(x, y, verbose=0, resume=tmp_path / "empty")


def test_damaged_checkpoints_are_refused(tmp_path, ids_data):
    x, y = ids_data
    path = tmp_path / "ckpt-00001-000000010.safetensors"
    path.write_bytes(b"\x80\x04not a checkpoint")
    with pytest.raises(ModelFileError, match="not a valid checkpoint"):
        tutorial_model().fit(x, y, verbose=0, resume=path)


def test_split_and_join_keep_types():
    tensors = {}
    value = {"a": (1, [2.5, torch.ones(2)]), 3: {"b": None, "c": np.arange(3, dtype=np.uint32)}}
    document = split_tensors(value, tensors, "s")
    back = join_tensors(document, tensors)
    assert back["a"][0] == 1 and isinstance(back["a"], tuple) and torch.equal(back["a"][1][1], torch.ones(2))
    assert 3 in back and back[3]["b"] is None and back[3]["c"].tolist() == [0, 1, 2]


def exploding_loss(after):
    calls = {"n": 0}

    def loss(p, y):
        calls["n"] += 1
        value = torch.nn.functional.mse_loss(p, y)
        return value * float("nan") if calls["n"] > after else value
    return loss


def test_a_run_early_stopping_ended_stays_ended_when_resumed_from_its_last_checkpoint(
        tmp_path, ids_data):
    from lstmkit.callbacks import EarlyStopping
    x, y = ids_data

    def fit(**resume):
        model = tutorial_model()
        stop = EarlyStopping("loss", min_delta=10.0, patience=0, restore_best_weights=True)
        history = model.fit(x, y, batch_size=30, epochs=6, verbose=0, seed=0, callbacks=[stop],
                            checkpoint_dir=tmp_path, **resume)
        return model, history

    whole, history = fit()
    assert len(history.epoch) == 2 and not history.interrupted  # stopped at epoch 2 of 6
    assert read_checkpoint(history.last_checkpoint)["stopped"]
    written = list_checkpoints(tmp_path)
    again, resumed = fit(resume=tmp_path)  # e.g. killed after that checkpoint was written
    assert resumed.history == history.history and list_checkpoints(tmp_path) == written
    for key, value in whole.state_dict().items():  # the best epoch's weights, restored again
        assert torch.equal(again.state_dict()[key], value), key


def test_a_stop_asked_mid_epoch_ends_that_epoch_when_resumed_from_a_later_step(tmp_path,
                                                                              ids_data):
    from conftest import StopAt
    x, y = ids_data

    class StopMidEpoch:  # asks the run to end at step 13 (epoch 2 of 10-step epochs)
        def on_train_batch_end(self, trainer, batch, size):
            if trainer.global_step == 13:
                trainer.should_stop = True

    def fit(folder, stop_at=-1, **resume):
        model = tutorial_model()
        history = model.fit(x, y, batch_size=30, epochs=4, verbose=0, seed=0,
                            callbacks=[StopMidEpoch(), StopAt(stop_at)], checkpoint_dir=folder,
                            **resume)
        return model, history

    whole, history = fit(tmp_path / "whole")
    assert len(history.epoch) == 2
    _, cut = fit(tmp_path / "cut", stop_at=15)  # Ctrl-C after the stop was asked
    assert cut.interrupted and read_checkpoint(cut.last_checkpoint)["batch"] == 5
    again, resumed = fit(tmp_path / "cut", resume=tmp_path / "cut")
    assert resumed.history == history.history
    for key, value in whole.state_dict().items():
        assert torch.equal(again.state_dict()[key], value), key


def test_nonfinite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, ids_data):
    x, y = ids_data
    model = tutorial_model()
    model.compile(loss=exploding_loss(after=13), optimizer="rmsprop")
    with pytest.raises(NonFiniteLossError, match=r"epoch 2, step 14 \(batch 4 of the epoch\).*ckpt-00001") as info:
        model.fit(x, y, batch_size=30, epochs=3, verbose=0, checkpoint_dir=tmp_path)
    assert isinstance(info.value, LstmkitError)
    state = read_checkpoint(list_checkpoints(tmp_path)[-1])
    assert state["global_step"] == 10
    assert all(torch.isfinite(v).all() for v in state["model"].values())


def test_skip_nonfinite_counts_and_continues(ids_data):
    x, y = ids_data
    model = tutorial_model()
    model.compile(loss=exploding_loss(after=5), optimizer="rmsprop")
    history = model.fit(x, y, batch_size=30, epochs=1, verbose=0, skip_nonfinite=True)
    assert history.history["skipped_batches"] == [5]
    assert all(torch.isfinite(v).all() for v in model.state_dict().values())


def test_stateful_layers_resume_with_their_carried_state(tmp_path):
    from lstmkit import Sequential
    from lstmkit.layers import LSTM, Dense
    x = np.random.default_rng(0).normal(size=(8, 5, 2)).astype(np.float32)
    y = x.sum(axis=(1, 2))

    def model():
        torch.manual_seed(0)
        m = Sequential([LSTM(4, stateful=True), Dense(1)])
        m.compile(loss="mse")
        return m

    whole = model()
    whole.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0, seed=1)
    first = model()
    first.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0, seed=1, checkpoint_dir=tmp_path)
    second = model()
    second.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0, seed=1, resume=tmp_path)
    for key, value in whole.state_dict().items():
        assert torch.equal(value, second.state_dict()[key]), key
