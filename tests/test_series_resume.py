"""An interrupted series training continues where it stopped (--resume) and
ends as the uninterrupted run: members kept as they finish, the member in
training from its newest checkpoint; another run's folder is refused."""

import json
import os

import numpy as np
import pytest

from lstmkit.checkpoints import list_checkpoints
from lstmkit.cli import main
from lstmkit.data.tsfile import TimeSeriesData
from lstmkit.errors import InputError
from lstmkit.tasks import series_ensemble
from lstmkit.tasks.series_ensemble import SeriesClassifier, train_classifier
from test_series import sine_mixtures, write_ts

OPTIONS = {"members": 3, "epochs": 6, "patience": 2, "batch_size": 4, "units": 2,
           "conv_filters": 2, "device": "cpu"}


def small_data(seed=3):
    return TimeSeriesData(*sine_mixtures(20, classes=2, dimensions=1, seed=seed, lengths=(5, 9)))


def interrupt(monkeypatch, member, step):
    """Ctrl-C during the training of member `member` (0-based), after its
    step `step`, as the training loop sees it."""
    built = []

    class EarlyStopping(series_ensemble.EarlyStopping):  # the name a checkpoint records
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self)

        def on_train_batch_end(self, trainer, batch, size):
            if len(built) == member + 1 and trainer.global_step == step:
                trainer.interrupted = True

    monkeypatch.setattr(series_ensemble, "EarlyStopping", EarlyStopping)


def same_ensemble(a, b, data):
    np.testing.assert_array_equal(a.predict_proba(data), b.predict_proba(data))
    for key in ("seeds", "best_epochs", "refit_epochs", "out_of_fold"):
        assert a.info[key] == b.info[key], key


@pytest.mark.parametrize("every", [None, 2])
def test_an_interrupted_training_resumed_ends_as_the_whole_run(tmp_path, monkeypatch, every):
    data = small_data()
    whole = train_classifier(data, **OPTIONS)
    folder = tmp_path / "checkpoints"
    with monkeypatch.context() as patch:
        interrupt(patch, member=1, step=5)
        with pytest.raises(KeyboardInterrupt):
            train_classifier(data, checkpoint_dir=folder, checkpoint_every=every, **OPTIONS)
    assert (folder / "member-0" / "done.json").exists()
    assert not (folder / "member-1" / "done.json").exists()
    started = list_checkpoints(folder / "member-1" / "checkpoints")
    assert bool(started) == (every is not None)
    assert every is None or started[-1].endswith("-000000005.safetensors")  # the interruption
    resumed = train_classifier(data, checkpoint_dir=folder, checkpoint_every=every, resume=True,
                               **OPTIONS)
    same_ensemble(whole, resumed, data)
    assert resumed.info["resumed"] == {"from": str(folder), "members_kept": 1}
    assert not (folder / "member-1" / "checkpoints").exists()  # finished: its checkpoints go
    again = train_classifier(data, checkpoint_dir=folder, resume=True, **OPTIONS)
    same_ensemble(whole, again, data)  # every member kept, none trained
    assert again.info["resumed"]["members_kept"] == 3


def test_refit_members_are_kept_too(tmp_path, monkeypatch):
    data = small_data()
    options = {**OPTIONS, "members": 2, "refit": True}
    whole = train_classifier(data, **options)
    with monkeypatch.context() as patch:
        original = series_ensemble.fit_member

        def stop_in_the_second_refit(x, y, train, held, seed, epochs, fit, checkpoints):
            if held is None and seed == 1:
                raise KeyboardInterrupt
            return original(x, y, train, held, seed, epochs, fit, checkpoints)

        patch.setattr(series_ensemble, "fit_member", stop_in_the_second_refit)
        with pytest.raises(KeyboardInterrupt):
            train_classifier(data, checkpoint_dir=tmp_path, **options)
    assert sorted(p for p in os.listdir(tmp_path) if (tmp_path / p / "done.json").exists()) == [
        "member-0", "member-1", "refit-0"]
    resumed = train_classifier(data, checkpoint_dir=tmp_path, resume=True, **options)
    same_ensemble(whole, resumed, data)
    assert resumed.info["resumed"]["members_kept"] == 3


def contents(folder):
    return {os.path.relpath(os.path.join(d, f), folder): open(os.path.join(d, f), "rb").read()
            for d, _, files in os.walk(folder) for f in files}


def test_a_member_killed_after_early_stopping_ended_it_ends_there_when_resumed(tmp_path,
                                                                               monkeypatch):
    from lstmkit.checkpoints import read_checkpoint
    from lstmkit.tasks import series_store
    data = small_data()
    options = {**OPTIONS, "members": 2, "epochs": 30, "patience": 0, "learning_rate": 0.1}
    whole = train_classifier(data, checkpoint_dir=tmp_path / "whole", **options)
    assert whole.info["best_epochs"][0] + 1 < 30  # member 0 stops early
    with monkeypatch.context() as patch:
        write = series_store.atomic_write

        def killed_before_done(path, data):
            if str(path).endswith(os.path.join("member-0", "done.json")):
                raise KeyboardInterrupt  # its model written, its record not
            write(path, data)

        patch.setattr(series_store, "atomic_write", killed_before_done)
        with pytest.raises(KeyboardInterrupt):
            train_classifier(data, checkpoint_dir=tmp_path / "cut", checkpoint_every=100,
                             **options)
    last = list_checkpoints(tmp_path / "cut" / "member-0" / "checkpoints")[-1]
    assert read_checkpoint(last)["stopped"]  # the epoch EarlyStopping ended it at
    resumed = train_classifier(data, checkpoint_dir=tmp_path / "cut", checkpoint_every=100,
                               resume=True, **options)
    same_ensemble(whole, resumed, data)
    record = "member-0/done.json"  # the held-out losses: no epoch trained after the stop
    assert contents(tmp_path / "cut")[record] == contents(tmp_path / "whole")[record]


def test_a_folder_of_another_run_is_refused_and_nothing_is_lost(tmp_path):
    data = small_data()
    options = {**OPTIONS, "members": 1, "epochs": 1}
    train_classifier(data, checkpoint_dir=tmp_path, **options)
    kept = contents(tmp_path)
    with pytest.raises(InputError, match=r"holds an earlier run's training: continue it with "
                                         r"--resume .* \(resume=True\), or remove it"):
        train_classifier(data, checkpoint_dir=tmp_path, **options)
    with pytest.raises(InputError, match=r"holds another run's training: run\.settings\.epochs: "
                                         r"checkpoint has 1, this run has 2"):
        train_classifier(data, checkpoint_dir=tmp_path, resume=True, **{**options, "epochs": 2})
    with pytest.raises(InputError, match=r"another run's training: run\.data"):
        train_classifier(small_data(seed=4), checkpoint_dir=tmp_path, resume=True, **options)
    with pytest.raises(InputError, match="checkpoint_every and resume need a checkpoint_dir"):
        train_classifier(data, resume=True, **options)
    assert contents(tmp_path) == kept


def test_series_train_resumes_from_the_command_line(tmp_path, monkeypatch, capsys):
    series, labels = sine_mixtures(24, classes=2, dimensions=2, seed=5, lengths=(6, 12))
    train = write_ts(tmp_path / "train.ts", series, labels)
    args = ["series", "train", str(train), "--members", "2", "--epochs", "4", "--units", "2",
            "--conv-filters", "2", "--batch-size", "4", "--quiet", "--device", "cpu",
            "--folds", "2"]
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0
    out = tmp_path / "cut"
    with monkeypatch.context() as patch:
        interrupt(patch, member=3, step=3)  # in the second fold's second member
        assert main([*args, "--out", str(out), "--checkpoint-every", "2"]) == 130
    err = capsys.readouterr().err
    assert f"continue with the same command and --resume {out / 'checkpoints'}" in err
    assert main([*args, "--out", str(out)]) == 2  # not without --resume
    assert "holds an earlier run's training" in capsys.readouterr().err
    assert main([*args, "--out", str(out), "--resume", str(out), "--checkpoint-every", "2"]) == 0
    assert f"continuing the training kept in {out / 'checkpoints'}" in capsys.readouterr().out
    assert sorted(os.listdir(out)) == ["ensemble.json", "member-0", "member-1"]
    whole = SeriesClassifier.load(tmp_path / "whole")
    resumed = SeriesClassifier.load(out)
    same_ensemble(whole, resumed, series)
    info = json.loads((out / "ensemble.json").read_text())["info"]
    assert info["cross_validation"] == whole.info["cross_validation"]


def test_series_train_resumes_from_out_and_a_new_run_never_replaces_an_interrupted_one(
        tmp_path, monkeypatch, capsys):
    series, labels = sine_mixtures(24, classes=2, dimensions=2, seed=5, lengths=(6, 12))
    train = write_ts(tmp_path / "train.ts", series, labels)
    args = ["series", "train", str(train), "--members", "3", "--epochs", "4", "--units", "2",
            "--conv-filters", "2", "--batch-size", "4", "--quiet", "--device", "cpu"]
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0
    out = tmp_path / "cut"
    with monkeypatch.context() as patch:
        interrupt(patch, member=1, step=3)
        assert main([*args, "--out", str(out)]) == 130
    kept = contents(out / "checkpoints")
    capsys.readouterr()
    assert main([*args, "--out", str(out), "--folds", "2"]) == 2  # a new run, refused at once
    assert f"{out / 'checkpoints'} holds an earlier run's training" in capsys.readouterr().err
    assert main([*args, "--out", str(out), "--resume", str(tmp_path / "whole")]) == 2
    assert "no series training to continue there" in capsys.readouterr().err
    assert contents(out / "checkpoints") == kept
    assert main([*args, "--out", str(out), "--resume", str(out)]) == 0
    assert "member 1/3: best epoch" in capsys.readouterr().out
    resumed = json.loads((out / "ensemble.json").read_text())["info"]
    assert resumed["resumed"] == {"from": str(out / "checkpoints"), "members_kept": 1}
    same_ensemble(SeriesClassifier.load(tmp_path / "whole"), SeriesClassifier.load(out), series)


def test_a_resumed_epoch_of_augmented_batches_draws_what_the_whole_epoch_did():
    import torch
    from lstmkit.data.seriesaugment import AugmentedSequenceBatches
    series, _ = sine_mixtures(10, classes=2, dimensions=2, seed=6, lengths=(4, 9))
    source = AugmentedSequenceBatches(series, torch.zeros(10, dtype=torch.long), 3, seed=0,
                                      jitter=0.1, scale=0.2)
    start = source.state_dict()
    whole = list(source.batches(0))
    after = source.state_dict()
    source.load_state_dict(start)
    tail = list(source.batches(0, start=2))
    assert len(tail) == len(whole) - 2
    for a, b in zip(whole[2:], tail):
        for u, v in zip(a, b):
            assert torch.equal(u, v)
    assert torch.equal(source.state_dict()["generator"], after["generator"])
