"""Series classification: ragged batches and the pooling layers keep each
sample's result equal to running it alone, the scaler's missing-value
policy, the ensemble on a multivariate unequal-length problem made here,
its files, and the `lstmkit series` commands with their one-line errors."""

import json
import os

import numpy as np
import pytest
import torch

import lstmkit
from conftest import assert_each_sample_alone, padded_batch, ragged
from lstmkit import Sequential
from lstmkit.cli import main
from lstmkit.data.sources import SequenceBatches
from lstmkit.data.tsfile import TimeSeriesData, read_ts
from lstmkit.errors import DataFileError, InputError, ModelFileError
from lstmkit.layers import (LSTM, AttentionPooling1D, Bidirectional, DimensionShuffle,
                            GlobalAveragePooling1D, GlobalMaxPooling1D, MaxPooling1D)
from lstmkit.layers.core import Conv1D
from lstmkit.tasks import TASKS
from lstmkit.data.seriesscaler import SeriesScaler
from lstmkit.reports import classification_report
from lstmkit.tasks.series_ensemble import (SeriesClassifier, build_classifier,
                                           predict_proba_model, stratified_folds,
                                           train_classifier)

# ----- a multivariate, unequal-length problem -------------------------------------------


def sine_mixtures(n, classes=4, dimensions=3, seed=0, lengths=(20, 60)):
    """Samples of `dimensions` noisy sine mixtures of random length; each
    class has its own pair of frequencies per dimension, phases are random.
    Returns (series, labels)."""
    rng = np.random.default_rng(seed)
    frequencies = np.random.default_rng(1234).uniform(0.05, 0.45, size=(classes, dimensions, 2))
    series, labels = [], []
    for i in range(n):
        c = i % classes
        T = int(rng.integers(*lengths))
        t = np.arange(T)[:, None]  # (T, 1)
        phase = rng.uniform(0, 2 * np.pi, size=(2, dimensions))
        x = (np.sin(2 * np.pi * frequencies[c, :, 0] * t + phase[0])
             + 0.5 * np.sin(2 * np.pi * frequencies[c, :, 1] * t + phase[1])
             + rng.normal(0, 0.3, size=(T, dimensions)))  # (T, D)
        series.append((3.0 * x + 10.0).astype(np.float32))  # off-centre: the scaler's job
        labels.append(f"c{c}")
    return series, labels


def write_ts(path, series, labels, classes=None, problem="Sines"):
    """A .ts file of multivariate, unequal-length samples."""
    classes = classes or sorted(set(labels))
    lines = [f"@problemName {problem}", "@timeStamps false", "@missing false",
             "@univariate false", f"@dimensions {series[0].shape[1]}", "@equalLength false",
             f"@classLabel true {' '.join(classes)}", "@data"]
    for s, label in zip(series, labels):
        dims = [",".join("?" if np.isnan(v) else f"{v:.5g}" for v in s[:, d])
                for d in range(s.shape[1])]
        lines.append(":".join(dims) + f":{label}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def sines(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sines")
    train = write_ts(folder / "Sines_TRAIN.ts", *sine_mixtures(160, seed=0))
    test = write_ts(folder / "Sines_TEST.ts", *sine_mixtures(120, seed=1))
    return train, test


FAST = dict(members=2, epochs=30, patience=30, batch_size=16, units=16, conv_filters=16,
            learning_rate=5e-3, device="cpu")


@pytest.fixture(scope="module")
def trained(sines):
    torch.manual_seed(0)
    return train_classifier(read_ts(sines[0]), seed=0, **FAST)


def test_the_classifier_learns_a_multivariate_unequal_length_problem(sines, trained):
    test = read_ts(sines[1])
    assert test.n_features == 3 and len(set(test.lengths)) > 10
    report = trained.evaluate(test)
    assert report["accuracy"] > 0.8  # chance is 0.25
    assert report["balanced_accuracy"] > 0.8 and report["macro_f1"] > 0.8
    assert np.sum(report["confusion"]) == len(test)
    info = trained.info
    assert info["settings"]["members"] == 2 and len(info["seeds"]) == 2
    assert info["out_of_fold"]["samples"] == 64  # two of five folds held out
    assert 0 < info["out_of_fold"]["log_loss"] < np.log(4)  # below chance's


# ----- ragged batches and masks ----------------------------------------------------------


def test_sequence_batches_pad_after_the_real_steps_and_mark_them():
    sequences = ragged(13)
    source = SequenceBatches(sequences, torch.arange(13), batch_size=4, shuffle=True, seed=3)
    seen = []
    for x, y, mask in source.batches(0):
        assert x.shape[:2] == mask.shape and x.shape[1] == int(mask.sum(1).max())
        for row, label, m in zip(x, y, mask):
            real = sequences[int(label)]
            assert torch.equal(row[:len(real)], torch.as_tensor(real))
            assert m[:len(real)].all() and not m[len(real):].any() and not row[len(real):].any()
        seen += y.tolist()
    assert sorted(seen) == list(range(13)) and len(source) == 4
    # the same seed draws the same order; a saved generator state draws an epoch again
    again = SequenceBatches(sequences, torch.arange(13), batch_size=4, shuffle=True, seed=3)
    state = again.state_dict()
    first = [y.tolist() for _, y, _ in again.batches(0)]
    again.load_state_dict(state)
    assert [y.tolist() for _, y, _ in again.batches(0)] == first


def test_augmented_batches_jitter_and_scale_the_real_steps_only():
    from lstmkit.data.seriesaugment import AugmentedSequenceBatches
    sequences = ragged(13)

    def epoch(**augment):
        source = AugmentedSequenceBatches(sequences, torch.arange(13), 4, seed=3, **augment)
        return list(source.batches(0))
    plain = list(SequenceBatches(sequences, torch.arange(13), 4, shuffle=True, seed=3).batches(0))
    for (x, y, mask), (x0, y0, mask0) in zip(epoch(), plain):  # no augmentation: as it is
        assert torch.equal(x, x0) and torch.equal(y, y0) and torch.equal(mask, mask0)
    jittered = epoch(jitter=0.1, scale=0.2)
    for (x, y, mask), (x0, y0, mask0) in zip(jittered, plain):
        assert torch.equal(y, y0) and torch.equal(mask, mask0)  # the same order and masks
        assert not x[~mask].any()  # padding stays zero
        change = (x - x0)[mask]
        assert change.abs().min() > 0 and change.abs().max() < 2  # every real value moved a little
    again = epoch(jitter=0.1, scale=0.2)  # one seed, one run
    assert all(torch.equal(a[0], b[0]) for a, b in zip(jittered, again))
    # a scaling alone multiplies each sample's feature by one factor over all its steps
    x, _, mask = epoch(scale=0.2)[0]
    x0, _, _ = plain[0]
    for row, row0, m in zip(x, x0, mask):
        ratio = row[m] / row0[m]  # (steps, F)
        torch.testing.assert_close(ratio, ratio[:1].expand_as(ratio))
    # two processes (torchrun) each take their part of the batch one process would see
    def ranks(world):
        return [list(AugmentedSequenceBatches(sequences[:12], torch.arange(12), 4, seed=3,
                                              jitter=0.1, scale=0.2, length_noise=0.5)
                     .batches(0, rank=r, world=world))
                for r in range(world)]
    for (x, y, mask), (x0, y0, m0), (x1, y1, m1) in zip(*ranks(1), *ranks(2)):
        assert torch.equal(torch.cat([y0, y1]), y)
        for whole, half in ((x[:len(y0), :x0.shape[1]], x0), (x[len(y0):, :x1.shape[1]], x1)):
            assert torch.equal(whole, half)
    with pytest.raises(InputError, match="jitter must be a number in"):
        AugmentedSequenceBatches(sequences, None, 4, jitter=-0.1)


def test_bucketed_batches_carry_less_padding():
    sequences = ragged(200, seed=1)

    def padding(bucket):
        source = SequenceBatches(sequences, None, 8, shuffle=True, seed=0, bucket=bucket)
        return sum(int((~mask).sum()) for _, _, mask in source.batches(0))

    assert padding(True) < 0.5 * padding(False)


@pytest.mark.parametrize("sequences, message", [
    ([np.zeros((3, 2)), np.zeros((0, 2))], "sequence 1 is empty"),
    ([np.zeros((3, 2)), np.zeros((3, 1))], "sequence 1 has 1 features per step, sequence 0 has 2"),
    ([np.array([[0.0], [np.nan]])], "sequence 0 holds 1 NaN or infinite value.*step 1, feature 0"),
    ([np.zeros(3)], r"sequence 0 must be \(steps, features\)"),
    ([], "sequences is empty"),
])
def test_sequence_batches_refuse_what_cannot_be_batched(sequences, message):
    with pytest.raises(InputError, match=message):
        SequenceBatches(sequences)


@pytest.mark.parametrize("layers", [
    lambda: [GlobalAveragePooling1D()],
    lambda: [GlobalMaxPooling1D()],
    lambda: [AttentionPooling1D(units=5)],
    lambda: [Conv1D(4, 3, activation="relu"), Conv1D(3, 4, dilation_rate=2), LSTM(3)],
    lambda: [Bidirectional(LSTM(3, return_sequences=True)), AttentionPooling1D(4)],
    lambda: [Conv1D(4, 5), Bidirectional(LSTM(3, return_sequences=True)), GlobalMaxPooling1D()],
    lambda: [Conv1D(4, 3), MaxPooling1D(3, keep_mask=True), LSTM(3)],
    lambda: [MaxPooling1D(2, keep_mask=True), Bidirectional(LSTM(3, return_sequences=True)),
             GlobalAveragePooling1D()],
])
@pytest.mark.parametrize("left", [False, True])
def test_masked_layers_give_each_sample_its_result_alone(layers, left):
    torch.manual_seed(0)
    model = Sequential(layers())
    model.build((None, 2))
    assert_each_sample_alone(model, ragged(6), left)


def test_windows_that_keep_the_mask_cut_each_samples_last_one_short():
    pool = MaxPooling1D(3, keep_mask=True)
    pool.build((None, 1))
    x, mask = padded_batch([np.arange(1, 8, dtype=np.float32)[:, None],  # 7 steps: 3 windows
                            -np.arange(1, 3, dtype=np.float32)[:, None]])  # 2 steps: 1 window
    x.requires_grad_()
    y = pool(x, mask=mask)
    assert y[..., 0].tolist() == [[3.0, 6.0, 7.0], [-1.0, 0.0, 0.0]]  # padding (7) never wins
    assert pool.compute_mask(x, mask).tolist() == [[True, True, True], [True, False, False]]
    assert pool.output_shape((7, 1)) == (3, 1) and pool(x.detach()).shape == (2, 3, 1)
    y.sum().backward()
    assert x.grad[1, :, 0].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert MaxPooling1D(3).compute_mask(x, mask) is None  # Keras' MaxPooling1D ends the mask
    for wrong in (dict(strides=1), dict(padding="same")):
        with pytest.raises(InputError, match="keep_mask=True takes windows side by side"):
            MaxPooling1D(3, keep_mask=True, **wrong)
    # lengths given to the layers' run (as export's reference takes them) pass the windows too
    from lstmkit.streaming import run
    model = Sequential([Conv1D(2, 3), MaxPooling1D(2, keep_mask=True), LSTM(3)])
    model.build((None, 2))
    x, lengths = torch.randn(3, 7, 2), torch.tensor([7, 4, 1])
    with torch.no_grad():
        out, _ = run(model.eval(), x, {2: None}, lengths=lengths)
        alone = torch.cat([model(x[i:i + 1, :n]) for i, n in enumerate(lengths.tolist())])
    torch.testing.assert_close(out, alone, rtol=1e-5, atol=1e-6)


def test_lstm_steps_shortens_what_the_serial_lstm_reads_and_is_refused_elsewhere(tmp_path):
    model = build_classifier(2, 3, layout="serial", lstm_steps=16, length=150, device="cpu")
    pool = [layer for layer in model.layers if isinstance(layer, MaxPooling1D)]
    assert len(pool) == 1 and pool[0].pool_size == 10 and pool[0].keep_mask  # ceil(150 / 16)
    model.save(tmp_path / "m")
    assert lstmkit.load_model(tmp_path / "m").layers[9].get_config() == pool[0].get_config()
    short = build_classifier(2, 3, layout="serial", lstm_steps=16, length=16, device="cpu")
    assert not any(isinstance(layer, MaxPooling1D) for layer in short.layers)
    with pytest.raises(InputError, match=r"it takes layout='serial' \(--layout serial\)"):
        build_classifier(2, 3, lstm_steps=16, length=150, device="cpu")
    with pytest.raises(InputError, match="lstm_steps must be a whole number"):
        build_classifier(2, 3, layout="serial", lstm_steps=0, length=150, device="cpu")


def test_attention_weights_are_zero_at_padding_and_sum_to_one():
    torch.manual_seed(0)
    layer = AttentionPooling1D(3)
    layer.build((None, 2))
    x, mask = padded_batch(ragged(5))
    a = layer.weights(x, mask)
    assert torch.all(a[~mask] == 0)
    torch.testing.assert_close(a.sum(1), torch.ones(5))


@pytest.mark.parametrize("options", [
    dict(bidirectional=True, pooling="max", batch_norm=False, layout="serial"),
    dict(batch_norm=True, pooling="attention", layout="serial"),
    dict(batch_norm=True, length=6),  # the default: LSTM-FCN's layout, the dimension shuffle
    dict(pooling="mean", bidirectional=True, dimension_shuffle=False),
    dict(length=5, pooling="max"),  # samples of 1 to 8 steps: padded and cut
    dict(length=8, bidirectional=True, pooling="attention"),
    dict(batch_norm=True, layout="serial", lstm_steps=3, length=8),  # windows of 3 steps
])
def test_the_classifier_model_scores_a_sample_in_a_batch_as_alone(options):
    torch.manual_seed(0)
    model = build_classifier(2, 3, units=4, conv_filters=3, device="cpu", **options)
    if options.get("batch_norm"):  # moving statistics other than the initial ones
        model.fit(SequenceBatches(ragged(12, seed=4), torch.arange(12) % 3, 4), epochs=2,
                  verbose=0)
    sequences = ragged(9)
    p = predict_proba_model(model, sequences, batch_size=4)
    alone = np.concatenate([predict_proba_model(model, [s]) for s in sequences])
    np.testing.assert_allclose(p, alone, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-6)


def test_the_dimension_shuffle_gives_each_feature_as_one_step_of_the_padded_or_cut_series():
    x, mask = padded_batch([np.array([[1, 10], [2, 20]], np.float32),
                            np.array([[3, 30], [4, 40], [5, 50], [6, 60]], np.float32)])
    shuffle = DimensionShuffle(3)
    shuffle.build((None, 2))
    assert shuffle.output_shape((None, 2)) == (2, 3)
    out = shuffle(x, mask=mask)  # the padding (7s) zeroed, the longer sample cut
    torch.testing.assert_close(out, torch.tensor([[[1., 2, 0], [10, 20, 0]],
                                                  [[3., 4, 5], [30, 40, 50]]]))
    assert shuffle.compute_mask(x, mask) is None
    with pytest.raises(InputError, match="DimensionShuffle length must be"):
        DimensionShuffle(0)
    with pytest.raises(InputError, match="dimension_shuffle needs the length"):
        build_classifier(2, 3, device="cpu")


def test_the_lstm_is_lstm_fcns_where_it_reads_the_shuffle_and_64_units_elsewhere():
    from lstmkit.layers import Dropout
    for options, (units, rate) in [({"length": 6}, (8, 0.8)), ({"layout": "serial"}, (64, 0.2)),
                                   ({"dimension_shuffle": False}, (64, 0.2)),
                                   ({"length": 6, "units": 5, "dropout": 0.1}, (5, 0.1))]:
        model = build_classifier(2, 3, device="cpu", **options)
        found = [m for m in model.modules() if isinstance(m, (LSTM, Dropout))]
        assert (found[0].units, found[1].rate) == (units, rate), options


def test_a_shuffled_classifier_keeps_the_longest_training_length_and_loads_as_saved(tmp_path):
    series, labels = sine_mixtures(20, classes=2, dimensions=2, seed=3, lengths=(5, 9))
    classifier = train_classifier(TimeSeriesData(series, labels), members=1, epochs=1, units=2,
                                  conv_filters=2, device="cpu")  # the shuffle: the default
    shuffle = classifier.members[0].layers[0].branches[0][0]
    assert isinstance(shuffle, DimensionShuffle)
    assert shuffle.length == max(len(s) for s in series)
    assert (classifier.info["settings"]["units"], classifier.info["settings"]["dropout"]) == (2, 0.8)
    classifier.save(tmp_path / "m")
    longer = [np.concatenate([s, s]) for s in series[:3]]  # cut to the training length
    loaded = SeriesClassifier.load(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba(longer), classifier.predict_proba(longer),
                               rtol=1e-6)


# ----- the scaler ---------------------------------------------------------------------


def data(series, labels, path=None, classes=None):
    return TimeSeriesData([np.asarray(s, dtype=np.float32) for s in series], labels,
                          class_labels=classes, path=path,
                          lines=None if path is None else list(range(10, 10 + len(series))))


def test_the_scaler_is_fitted_on_training_values_per_feature():
    train = data([[[0, 10], [2, 10]], [[4, 30], [np.nan, np.nan]]], ["b", "a"], classes=["b", "a"])
    scaler = SeriesScaler.fit(train)
    np.testing.assert_allclose(scaler.mean, [2, 50 / 3])
    np.testing.assert_allclose(scaler.std, [np.std([0, 2, 4]), np.std([10, 10, 30])])
    assert scaler.labels == ["b", "a"]  # the file's declared order
    x = scaler.transform(train)
    assert [len(s) for s in x] == [2, 1]  # the all-NaN last step was padding
    np.testing.assert_allclose(x[0][:, 0], (np.array([0, 2]) - 2) / np.std([0, 2, 4]), rtol=1e-6)
    assert list(scaler.encode_labels(train)) == [0, 1]
    again = SeriesScaler.from_json(json.loads(json.dumps(scaler.to_json())))
    assert again.to_json() == scaler.to_json()


def test_missing_values_are_interpolated_or_refused_with_the_place():
    series = [[[1.0, 0], [np.nan, 1], [3.0, 2], [np.nan, 3], [np.nan, np.nan]],
              [[5.0, 1], [5.0, 1], [5.0, 1], [5.0, 1], [5.0, 1]]]
    train = data(series, ["x", "y"], path="train.ts")
    scaler = SeriesScaler.fit(train)
    filled = scaler.transform(train)[0]  # the last step, all NaN, is padding and dropped
    np.testing.assert_allclose(filled[:, 0] * scaler.std[0] + scaler.mean[0], [1, 2, 3, 3],
                               rtol=1e-6)
    with pytest.raises(DataFileError, match=r"train\.ts, line 10: sample 1 step 2, feature 1 "
                                            r"is missing \(NaN\)"):
        SeriesScaler.fit(train, missing="refuse").transform(train)
    with pytest.raises(DataFileError, match="line 11: sample 2 has no values"):
        scaler.transform(data([[[1.0, 1]], [[np.nan, np.nan]]], ["x", "y"], "t.ts"))
    with pytest.raises(DataFileError, match="sample 1 step 1, feature 2 is infinite"):
        scaler.transform(data([[[1.0, np.inf]]], ["x"], "t.ts"))
    with pytest.raises(DataFileError, match="sample 1 step 3, feature 1 is missing"):  # as filed
        SeriesScaler.fit(train, missing="refuse").transform(
            data([[[np.nan, np.nan], [1.0, 1], [np.nan, 1]]], ["x"], "t.ts"))


def test_labels_and_features_the_model_does_not_know_are_refused():
    scaler = SeriesScaler.fit(data([[[1.0]], [[2.0]]], ["x", "y"]))
    with pytest.raises(DataFileError, match=r"test\.ts, line 11: sample 2 has label 'z', which "
                                            r"the training data did not hold \(known: x, y\)"):
        scaler.encode_labels(data([[[1.0]], [[2.0]]], ["x", "z"], "test.ts"))
    with pytest.raises(DataFileError, match="sample 1 has 2 features per step, the model reads 1"):
        scaler.transform(data([[[1.0, 2.0]]], ["x"], "test.ts"))
    with pytest.raises(InputError, match="one class"):
        SeriesScaler.fit(data([[[1.0]], [[2.0]]], ["x", "x"]))
    with pytest.raises(InputError, match="regression targets"):
        SeriesScaler.fit(TimeSeriesData([np.zeros((2, 1))] * 2, np.array([1.0, 2.0])))


@pytest.mark.parametrize("change, message", [
    ({"features": 0}, "features must be a positive int"),
    ({"mean": [0.0, "a"]}, "mean must be a list of 2 finite numbers"),
    ({"std": [1.0, 0.0]}, "std must be positive"),
    ({"labels": ["a", "a"]}, "labels must be a list of at least two distinct strings"),
    ({"missing": "drop"}, "missing must be one of"),
])
def test_a_damaged_scaler_is_refused(change, message):
    good = SeriesScaler(2, [0.0, 1.0], [1.0, 2.0], ["a", "b"]).to_json()
    with pytest.raises(InputError, match=message):
        SeriesScaler.from_json({**good, **change})


def test_the_report_figures():
    report = classification_report([0, 0, 0, 1, 2, 2], [0, 0, 1, 1, 2, 0], ["a", "b", "c"])
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["balanced_accuracy"] == pytest.approx((2 / 3 + 1 + 1 / 2) / 3)
    f1 = [2 * (2 / 3 * 2 / 3) / (4 / 3), 2 * (0.5 * 1) / 1.5, 2 * (1 * 0.5) / 1.5]
    assert report["macro_f1"] == pytest.approx(np.mean(f1))
    assert report["confusion"] == [[2, 1, 0], [0, 1, 0], [1, 0, 1]]


def test_folds_are_stratified_and_never_empty():
    y = np.array([0] * 12 + [1] * 3)
    folds = stratified_folds(y, 5, seed=0)
    assert sorted(np.bincount(folds)) == [3, 3, 3, 3, 3]
    assert all(np.sum((folds == f) & (y == 1)) <= 1 for f in range(5))


# ----- files ---------------------------------------------------------------------------


def test_a_saved_classifier_predicts_the_same_and_each_member_is_a_model(sines, trained, tmp_path):
    trained.save(tmp_path / "m")
    assert sorted(os.listdir(tmp_path)) == ["m"]  # no temporary folder left behind
    loaded = SeriesClassifier.load(tmp_path / "m")
    test = read_ts(sines[1])
    np.testing.assert_allclose(loaded.predict_proba(test), trained.predict_proba(test), rtol=1e-5)
    assert loaded.info["seeds"] == trained.info["seeds"]
    member = lstmkit.load_model(tmp_path / "m" / "member-1")
    assert member.metadata == {"task": "series_classification", "member": 1, "seed": 1}
    assert isinstance(member.preprocessing, SeriesScaler)
    # one member alone is a classifier too
    one = SeriesClassifier.load(tmp_path / "m" / "member-0")
    assert len(one.members) == 1 and one.labels == trained.labels


def test_saving_over_a_classifier_replaces_it_whole(trained, tmp_path, monkeypatch):
    trained.save(tmp_path / "m")
    before = (tmp_path / "m" / "ensemble.json").read_text()
    from lstmkit.tasks import series_ensemble as series

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(series, "atomic_write", broken)
    with pytest.raises(OSError):
        trained.save(tmp_path / "m")
    assert (tmp_path / "m" / "ensemble.json").read_text() == before
    assert sorted(os.listdir(tmp_path)) == ["m"]


@pytest.mark.parametrize("change, message", [
    (lambda m: m.update(format="other"), "not a series ensemble"),
    (lambda m: m.update(format_version=9), "format_version 9"),
    (lambda m: m.update(members=["../x"]), "members must be a list"),
    (lambda m: m.update(members=[]), "members must be a list"),
])
def test_a_damaged_manifest_is_a_model_file_error(trained, tmp_path, change, message):
    trained.save(tmp_path / "m")
    path = tmp_path / "m" / "ensemble.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))
    with pytest.raises(ModelFileError, match=message):
        SeriesClassifier.load(tmp_path / "m")


# ----- the command line ----------------------------------------------------------------


def test_train_in_bfloat16_and_refit_from_the_command_line(sines, tmp_path, capsys):
    train, _ = sines
    out = tmp_path / "bf16"
    fast = ["--members", "1", "--epochs", "2", "--units", "4", "--conv-filters", "4", "--quiet",
            "--device", "cpu"]
    assert main(["series", "train", str(train), "--out", str(out), "--precision", "bf16",
                 "--refit", *fast]) == 0
    manifest = json.loads((out / "ensemble.json").read_text())
    assert manifest["info"]["settings"]["precision"] == "mixed_bfloat16"
    assert manifest["info"]["settings"]["refit"]
    assert manifest["info"]["settings"]["length_noise"] == 0.5  # the default
    assert "each member trained again on all 160 samples" in capsys.readouterr().out
    sorted_out = tmp_path / "sorted"
    assert main(["series", "train", str(train), "--out", str(sorted_out), "--length-noise", "0",
                 *fast]) == 0
    manifest = json.loads((sorted_out / "ensemble.json").read_text())
    assert "length_noise" not in manifest["info"]["settings"]  # 0: as runs before the option
    capsys.readouterr()
    assert main(["series", "train", str(train), "--out", str(tmp_path / "x"), "--length-noise",
                 "1", *fast]) == 2
    assert "length_noise must be a number from 0 to below 1" in capsys.readouterr().err
    capsys.readouterr()
    assert main(["series", "train", str(train), "--out", str(tmp_path / "fp16"), "--precision",
                 "fp16", *fast]) == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err
    assert not (tmp_path / "fp16").exists()


def test_train_eval_and_predict_from_the_command_line(sines, tmp_path, capsys):
    train, test = sines
    out = tmp_path / "model"
    assert main(["series", "train", str(train), "--test", str(test), "--out", str(out),
                 "--members", "1", "--epochs", "5", "--units", "8", "--conv-filters", "8",
                 "--quiet", "--device", "cpu", "--pooling", "max", "--bidirectional",
                 "--folds", "2"]) == 0
    printed = capsys.readouterr().out
    assert "160 samples, 3 feature(s)" in printed and "out-of-fold accuracy" in printed
    assert "2-fold cross-validation on" in printed
    assert "test (" in printed and "confusion" in printed and f"model saved to {out}" in printed
    manifest = json.loads((out / "ensemble.json").read_text())
    assert manifest["info"]["settings"]["pooling"] == "max"
    assert manifest["info"]["test"]["samples"] == 120
    assert manifest["info"]["cross_validation"]["samples"] == 160

    assert main(["series", "eval", str(out), str(test), "--out", str(tmp_path / "r.json")]) == 0
    printed = capsys.readouterr().out
    report = json.loads((tmp_path / "r.json").read_text())
    assert f"accuracy {report['accuracy']:.4f}" in printed
    assert report["accuracy"] == pytest.approx(manifest["info"]["test"]["accuracy"])

    assert main(["series", "predict", str(out), str(test), "--out", str(tmp_path / "p.csv")]) == 0
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert rows[0] == "sample,line,label,p_c0,p_c1,p_c2,p_c3" and len(rows) == 121
    first = rows[1].split(",")
    assert first[:2] == ["1", "9"] and first[2] in {"c0", "c1", "c2", "c3"}
    assert sum(float(v) for v in first[3:]) == pytest.approx(1, abs=1e-5)


def test_predicting_series_longer_than_the_shuffle_reads_says_so(tmp_path, capsys):
    series, labels = sine_mixtures(20, classes=2, dimensions=1, seed=3, lengths=(5, 9))
    train = write_ts(tmp_path / "short.ts", series, labels)
    longer = write_ts(tmp_path / "long.ts", *sine_mixtures(6, classes=2, dimensions=1, seed=4,
                                                           lengths=(12, 20)))
    out = tmp_path / "model"
    assert main(["series", "train", str(train), "--out", str(out), "--members", "1",
                 "--epochs", "1", "--units", "2", "--conv-filters", "2", "--quiet"]) == 0
    keep = max(len(s) for s in series)
    capsys.readouterr()
    assert main(["series", "predict", str(out), str(longer), "--out", str(tmp_path / "p.csv")]) == 0
    assert capsys.readouterr().err == (
        f"note: 6 series of {longer} are longer than the {keep} steps the LSTM's dimension "
        f"shuffle reads (the longest training series): it reads their first {keep}, the "
        "convolutions all of them\n")
    assert main(["series", "predict", str(out), str(train), "--out", str(tmp_path / "q.csv")]) == 0
    assert capsys.readouterr().err == ""
    # a file the model cannot read, of longer series: the features are named, with no note
    # on the length
    other = write_ts(tmp_path / "other.ts", *sine_mixtures(4, classes=2, dimensions=2, seed=5,
                                                           lengths=(12, 20)))
    for command in ("eval", "predict"):
        assert main(["series", command, str(out), str(other)]) == 2
        err = capsys.readouterr().err
        assert "note" not in err and "sample 1 has 2 features per step, the model reads 1" in err


def one_line_error(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_bad_input_is_a_one_line_error_and_writes_nothing(sines, tmp_path, capsys):
    train, _ = sines
    series, labels = sine_mixtures(6, seed=2)
    unseen = write_ts(tmp_path / "unseen.ts", series, labels[:5] + ["c9"],
                      classes=["c0", "c1", "c2", "c3", "c9"])
    two = write_ts(tmp_path / "two.ts", [s[:, :2] for s in series], labels)
    holes = [s.copy() for s in series]
    holes[2][3, 1] = np.nan
    gaps = write_ts(tmp_path / "gaps.ts", holes, labels)
    (tmp_path / "empty.ts").write_text("")
    disagree = tmp_path / "disagree.ts"
    disagree.write_text(train.read_text().replace("@dimensions 3", "@dimensions 2"))
    out = tmp_path / "runs" / "never"  # its folder made only when the model is written
    fast = ["--members", "1", "--epochs", "1", "--quiet", "--device", "cpu", "--out", str(out)]

    err = one_line_error(capsys, ["series", "train", str(train), "--test", str(unseen), *fast])
    assert "unseen.ts, line 14: sample 6 has label 'c9', which the training data did not hold" \
        in err
    err = one_line_error(capsys, ["series", "train", str(train), "--test", str(two), *fast])
    assert "two.ts, line 9: sample 1 has 2 features per step, the model reads 3" in err
    err = one_line_error(capsys, ["series", "train", str(gaps), "--missing", "refuse", *fast])
    assert "gaps.ts, line 11: sample 3 step 4, feature 2 is missing (NaN)" in err
    assert "missing='refuse' does not accept" in err and "was trained with" not in err
    err = one_line_error(capsys, ["series", "train", str(tmp_path / "empty.ts"), *fast])
    assert "empty.ts: the file is empty" in err
    err = one_line_error(capsys, ["series", "train", str(train), "--resume", str(out), *fast])
    assert f"--resume {out}: no series training to continue there" in err
    err = one_line_error(capsys, ["series", "train", str(disagree), *fast])
    assert "line 9" in err and "expected 2 as @dimensions" in err
    (tmp_path / "notes").write_text("")
    err = one_line_error(capsys, ["series", "train", str(train), *fast[:-1],
                                  str(tmp_path / "notes" / "m")])
    assert f"--out {tmp_path / 'notes' / 'm'}: {tmp_path / 'notes'} is a file, not a folder" in err
    assert not (tmp_path / "runs").exists()

    assert main(["series", "train", str(gaps), *fast]) == 0  # interpolated by default
    capsys.readouterr()
    err = one_line_error(capsys, ["series", "eval", str(out), str(two)])
    assert "the model reads 3" in err
    err = one_line_error(capsys, ["series", "predict", str(out), str(two),
                                  "--out", str(tmp_path / "p.csv")])
    assert not (tmp_path / "p.csv").exists()
    err = one_line_error(capsys, ["series", "eval", str(tmp_path / "nothing"), str(two)])
    assert "no such model folder" in err


def test_the_task_is_registered():
    task = TASKS["series_classification"]
    assert task.preprocessing is SeriesScaler and task.defaults["members"] == 5
    scaler = SeriesScaler(2, [0, 0], [1, 1], ["a", "b", "c"])
    model = task.build_model(scaler, units=4, length=6, device="cpu")
    assert model.output_shape() == (3,)
    report = task.evaluate(model, ragged(4), [0, 1, 2, 0])
    assert report["samples"] == 4


def test_members_beyond_five_start_a_new_split_each_holding_out_a_fifth():
    series, labels = sine_mixtures(20, classes=2, dimensions=1, seed=3, lengths=(5, 9))
    classifier = train_classifier(TimeSeriesData(series, labels), members=6, epochs=1,
                                  units=2, conv_filters=2, device="cpu")
    assert len(classifier.members) == 6 and classifier.info["seeds"] == list(range(6))
    assert classifier.info["out_of_fold"]["samples"] == 20  # the first split covers every sample
    p = classifier.predict_proba(series)
    np.testing.assert_allclose(p, np.mean([predict_proba_model(m, classifier.preprocessing
                                                               .transform(series))
                                           for m in classifier.members], axis=0), rtol=1e-6)


def test_refit_trains_every_member_again_on_every_sample_for_the_pooled_epoch_count(
        monkeypatch):
    from lstmkit.tasks import series_ensemble
    series, labels = sine_mixtures(20, classes=2, dimensions=1, seed=3, lengths=(5, 9))
    data = TimeSeriesData(series, labels)
    options = {"members": 2, "epochs": 6, "patience": 1, "units": 2, "conv_filters": 2,
               "device": "cpu"}
    calls, curves, fit_member = [], [], series_ensemble.fit_member

    def spy(x, y, train, held, seed, epochs, fit, checkpoints):
        calls.append((len(train), held is None, seed, epochs))
        model, best, curve = fit_member(x, y, train, held, seed, epochs, fit, checkpoints)
        curves.append(curve)
        return model, best, curve

    monkeypatch.setattr(series_ensemble, "fit_member", spy)
    once = train_classifier(data, **options)
    assert [c[:2] for c in calls] == [(16, False), (16, False)] and not once.info["settings"][
        "refit"] and once.info["refit_epochs"] is None
    calls.clear(), curves.clear()
    again = train_classifier(data, refit=True, **options)
    assert again.info["best_epochs"] == once.info["best_epochs"] and again.info["settings"][
        "refit"]
    # the held-out folds' losses pooled (4 samples each), the shorter curve held at its last
    longest = max(len(c) for c in curves[:2])
    pooled = [sum(c[min(e, len(c) - 1)] for c in curves[:2]) for e in range(longest)]
    epochs = again.info["refit_epochs"]
    assert epochs == int(np.argmin(pooled)) + 1
    # each member stopped early on its fold, then each from its seed on all 20
    assert calls == [(16, False, 0, 6), (16, False, 1, 6), (20, True, 0, epochs),
                     (20, True, 1, epochs)]
    assert again.info["out_of_fold"] == once.info["out_of_fold"]  # the first pass's
    assert not np.allclose(again.predict_proba(series), once.predict_proba(series))


def test_pooled_best_epoch_weighs_folds_by_size_and_holds_a_stopped_member_at_its_last():
    from lstmkit.tasks.series_ensemble import pooled_best_epoch
    assert pooled_best_epoch([(1, [3.0, 2.0, 1.0])]) == 3
    # 3 * [1, 1, 1, 1] + 1 * [4, 3, 2, 0]: lowest at the fourth epoch
    assert pooled_best_epoch([(3, [1.0, 1.0]), (1, [4.0, 3.0, 2.0, 0.0])]) == 4
    # the larger fold outweighs: 5 * [1, 2, 2] + 1 * [3, 0, 0] = [8, 10, 10]
    assert pooled_best_epoch([(5, [1.0, 2.0]), (1, [3.0, 0.0, 0.0])]) == 1


def test_cross_validation_scores_every_sample_once_by_a_classifier_that_did_not_see_it(sines,
                                                                                       capsys):
    from lstmkit.tasks.series_ensemble import cross_validate
    data = read_ts(sines[0])
    result = cross_validate(data, folds=3, seed=0, **{**FAST, "members": 1, "epochs": 3})
    assert result["folds"] == 3 and result["samples"] == 160
    assert sum(r["samples"] for r in result["per_fold"]) == 160
    assert np.sum(result["confusion"]) == 160
    with pytest.raises(InputError, match="folds 64: the data hold only 20 samples"):
        cross_validate(TimeSeriesData(data.series[:20], data.labels[:20]), folds=64)


def test_balanced_class_weights_train_and_the_saved_members_keep_named_settings(tmp_path):
    series, labels = sine_mixtures(40, classes=2, dimensions=2, seed=4, lengths=(6, 12))
    keep = [i for i, label in enumerate(labels) if label == "c0" or i % 8 == 1]  # 20 to 5
    data = TimeSeriesData([series[i] for i in keep], [labels[i] for i in keep])
    from lstmkit.tasks.series_ensemble import WeightedCrossEntropy, balanced_weights
    np.testing.assert_allclose(balanced_weights(np.array([0] * 20 + [1] * 5), 2), [0.625, 2.5])
    p = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
    loss = WeightedCrossEntropy([0.5, 2.0])(p, torch.tensor([0, 1]))
    torch.testing.assert_close(loss, torch.tensor([-0.5 * np.log(0.9), -2.0 * np.log(0.8)],
                                                  dtype=torch.float32))
    classifier = train_classifier(data, members=1, epochs=2, units=2, conv_filters=2,
                                  class_weight="balanced", device="cpu")
    assert classifier.info["settings"]["class_weight"] == "balanced"
    assert (classifier.info["settings"]["jitter"], classifier.info["settings"]["scale"]) == (
        0.05, 0.1)  # the default augmentation
    classifier.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "member-0" / "config.json").read_text())
    assert config["compile"]["loss"] == "sparse_categorical_crossentropy"
    with pytest.raises(InputError, match="class_weight must be None or 'balanced'"):
        train_classifier(data, class_weight="inverse")
    with pytest.raises(InputError, match="scale must be a number in"):
        train_classifier(data, scale=10)


def test_the_plateau_schedule_trains_every_member_on_every_sample_and_halves_the_rate(
        monkeypatch, tmp_path, capsys):
    from lstmkit.tasks import series_ensemble
    series, labels = sine_mixtures(40, classes=2, dimensions=1, seed=3, lengths=(5, 9))
    data = TimeSeriesData(series, labels)
    calls, fit_member = [], series_ensemble.fit_member

    def spy(x, y, train, held, seed, epochs, fit, checkpoints):
        model, best, curve = fit_member(x, y, train, held, seed, epochs, fit, checkpoints)
        calls.append((len(train), held, fit["batch_size"], model.optimizer.param_groups[0]["lr"]))
        return model, best, curve

    monkeypatch.setattr(series_ensemble, "fit_member", spy)
    classifier = train_classifier(data, members=2, epochs=20, patience=0, learning_rate=0.1,
                                  units=2, conv_filters=2, device="cpu", schedule="plateau")
    assert [c[:3] for c in calls] == [(40, None, 4), (40, None, 4)]  # min(16, 40 // 10)
    assert all(c[3] < 0.1 for c in calls)  # halved on the training loss's plateaus
    assert classifier.info["out_of_fold"] is None and classifier.info["best_epochs"] == [None] * 2
    assert classifier.info["settings"]["schedule"] == "plateau"
    with pytest.raises(InputError, match="schedule='plateau' trains every member on every"):
        train_classifier(data, schedule="plateau", refit=True)
    with pytest.raises(InputError, match="schedule must be one of 'early_stopping', 'plateau'"):
        train_classifier(data, schedule="cosine")
    with pytest.raises(InputError, match="length_noise must be a number from 0 to below 1"):
        train_classifier(data, length_noise=1)
    monkeypatch.undo()
    train = write_ts(tmp_path / "train.ts", series, labels)
    assert main(["series", "train", str(train), "--schedule", "plateau", "--members", "1",
                 "--epochs", "2", "--units", "2", "--conv-filters", "2", "--quiet",
                 "--device", "cpu", "--out", str(tmp_path / "m")]) == 0
    assert "no out-of-fold figures: every member trained on every sample" in \
        capsys.readouterr().out
