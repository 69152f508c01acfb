"""BatchNormalization: torch's BatchNorm1d's values on unmasked batches
(Keras' momentum and biased moving variance), batch statistics over the real
steps only, each masked sample's inference result equal to running it
unpadded, the moving statistics saved, loaded and resumed exactly, and its
arguments refused with a one-line error."""

import numpy as np
import pytest
import torch

import lstmkit
from conftest import padded_batch
from lstmkit import Sequential
from lstmkit.data.sources import SequenceBatches
from lstmkit.errors import InputError
from lstmkit.layers import LSTM, BatchNormalization, Conv1D, Dense, GlobalAveragePooling1D


def ragged(n=11, features=3, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(int(rng.integers(1, 9)), features)) * 2 + 1).astype(np.float32)
            for _ in range(n)]


def twin(features, momentum=0.99, epsilon=1e-3):
    """A built BatchNormalization and torch's BatchNorm1d with its settings,
    the same random gamma and beta."""
    torch.manual_seed(0)
    ours = BatchNormalization(momentum=momentum, epsilon=epsilon)
    ours.build((None, features))
    theirs = torch.nn.BatchNorm1d(features, eps=epsilon, momentum=1 - momentum)
    with torch.no_grad():
        ours.weight.copy_(torch.rand(features) + 0.5)
        ours.bias.copy_(torch.randn(features))
        theirs.weight.copy_(ours.weight)
        theirs.bias.copy_(ours.bias)
    return ours, theirs


@pytest.mark.parametrize("shape", [(16, 5), (6, 9, 5)])
def test_unmasked_values_are_torchs_batchnorm1d(shape):
    ours, theirs = twin(shape[-1])
    rng = torch.Generator().manual_seed(1)
    n = shape[0] * (shape[1] if len(shape) == 3 else 1)  # values per feature
    for _ in range(3):  # training: batch statistics, the moving ones updated
        x = torch.randn(*shape, generator=rng) * 3 + 2
        got = ours.train()(x)
        want = theirs.train()(x if x.dim() == 2 else x.transpose(1, 2))
        torch.testing.assert_close(got, want if x.dim() == 2 else want.transpose(1, 2))
    torch.testing.assert_close(ours.running_mean, theirs.running_mean)
    # torch keeps the unbiased variance, Keras (and this layer) the biased one, (n - 1) / n
    # times it: what the three batches added to the initial 1 (0.99 ** 3 of it left) differs so
    kept = 0.99 ** 3
    keras_var = kept + (theirs.running_var - kept) * (n - 1) / n
    torch.testing.assert_close(ours.running_var, keras_var)
    with torch.no_grad():
        theirs.running_var.copy_(ours.running_var)
    x = torch.randn(*shape, generator=rng)
    want = theirs.eval()(x if x.dim() == 2 else x.transpose(1, 2))
    torch.testing.assert_close(ours.eval()(x), want if x.dim() == 2 else want.transpose(1, 2))


def test_keras_momentum_moves_the_averages_by_one_hundredth():
    layer = BatchNormalization()
    layer.build((None, 2))
    layer.train()(torch.tensor([[[1.0, 10.0], [3.0, 30.0]]]))  # mean (2, 20), var (1, 100)
    torch.testing.assert_close(layer.running_mean, torch.tensor([0.02, 0.2]))
    torch.testing.assert_close(layer.running_var, torch.tensor([0.99 + 0.01, 0.99 + 1.0]))


def held_channels_first(x):
    """x (N, T, F) as a convolution leaves it: a view of (N, F, T) memory."""
    return x.transpose(1, 2).contiguous().transpose(1, 2)


# the input in either memory layout (a convolution's output is held channels first)
LAYOUTS = [(False, False), (True, False), (False, True), (True, True)]  # (left, channels first)


@pytest.mark.parametrize("left, channels_first", LAYOUTS)
def test_training_statistics_are_those_of_the_real_steps(left, channels_first):
    """As torch's BatchNorm1d over the real steps alone, whatever (finite)
    the padding holds."""
    sequences = ragged()
    x, mask = padded_batch(sequences, left)
    x = held_channels_first(x) if channels_first else x
    ours, theirs = twin(3, momentum=0.9)
    got = ours.train()(x, mask=mask)
    real = torch.cat([torch.as_tensor(s) for s in sequences])  # (steps, F)
    want = theirs.train()(real)
    torch.testing.assert_close(got[mask], want)
    assert torch.all(got[~mask] == 0)  # padded steps: zero out
    torch.testing.assert_close(ours.running_mean, theirs.running_mean)
    n = len(real)
    torch.testing.assert_close(ours.running_var, 0.9 + (theirs.running_var - 0.9) * (n - 1) / n)
    assert ours.compute_mask(x, mask) is mask  # the mask passes on


@pytest.mark.parametrize("left, channels_first", LAYOUTS)
def test_training_gradients_are_those_of_the_real_steps(left, channels_first):
    """Backward through the padded batch is backward through torch's
    BatchNorm1d on the real steps alone; padded steps get no gradient."""
    sequences = ragged()
    x, mask = padded_batch(sequences, left)
    x.requires_grad_()
    ours, theirs = twin(3, momentum=0.9)
    upstream = torch.randn(x.shape, generator=torch.Generator().manual_seed(2))
    got = ours.train()(held_channels_first(x) if channels_first else x, mask=mask)
    (got * upstream).sum().backward()
    real = x.detach()[mask].requires_grad_()
    (theirs.train()(real) * upstream[mask]).sum().backward()
    torch.testing.assert_close(x.grad[mask], real.grad)
    assert torch.all(x.grad[~mask] == 0)
    torch.testing.assert_close(ours.weight.grad, theirs.weight.grad)
    torch.testing.assert_close(ours.bias.grad, theirs.bias.grad)


def test_a_mask_without_padding_gives_what_no_mask_gives():
    x = torch.randn(4, 6, 3, generator=torch.Generator().manual_seed(3)) * 2 + 1
    full = torch.ones(4, 6, dtype=torch.bool)
    results = []
    for mask in (None, full):
        layer, _ = twin(3, momentum=0.9)
        results.append((layer.train()(x, mask=mask), layer.running_mean, layer.running_var))
    for got, want in zip(*results):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_input_is_normalised_in_float32(dtype):
    sequences = ragged()
    x, mask = padded_batch(sequences)
    ours, theirs = twin(3, momentum=0.9)
    got = ours.train()(x.to(dtype), mask=mask)
    assert got.dtype == dtype and ours.running_mean.dtype == torch.float32
    want = theirs.train()(x.to(dtype).float()[mask])
    torch.testing.assert_close(got[mask].float(), want, atol=1e-2, rtol=1e-2)


@pytest.mark.parametrize("channels_first", [False, True])
def test_a_batch_of_no_real_step_leaves_the_averages(channels_first):
    layer = BatchNormalization()
    layer.build((None, 2))
    x = torch.ones(2, 3, 2)
    out = layer.train()(held_channels_first(x) if channels_first else x,
                        mask=torch.zeros(2, 3, dtype=torch.bool))
    assert torch.all(out == 0)
    assert torch.equal(layer.running_mean, torch.zeros(2))
    assert torch.equal(layer.running_var, torch.ones(2))


def trained_model(epochs=2, **fit):
    """Conv1D -> BatchNormalization -> LSTM -> Dense, trained a little on
    ragged sequences so that its moving statistics are not the initial ones."""
    torch.manual_seed(0)
    model = Sequential([Conv1D(4, 3), BatchNormalization(momentum=0.5), LSTM(3),
                        Dense(2, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", device="cpu")
    model.build((None, 3))
    sequences = ragged(24)
    y = torch.tensor([i % 2 for i in range(24)])
    model.fit(SequenceBatches(sequences, y, batch_size=6, shuffle=True, seed=2), epochs=epochs,
              verbose=0, seed=1, **fit)
    return model


@pytest.mark.parametrize("left", [False, True])
def test_at_inference_a_masked_sample_gets_its_result_alone(left):
    model = trained_model().eval()
    norm = model.layers[1]
    assert not torch.equal(norm.running_mean, torch.zeros(4))
    sequences = ragged(9, seed=3)
    x, mask = padded_batch(sequences, left)
    with torch.no_grad():
        batched = model(x, mask=mask)
        alone = torch.cat([model(torch.as_tensor(s)[None]) for s in sequences])
        pooled = Sequential([BatchNormalization(), GlobalAveragePooling1D()])
        pooled.build((None, None, 3))
        pooled.layers[0].running_mean.fill_(0.5)
        pooled.eval()
        torch.testing.assert_close(pooled(x, mask=mask),
                                   torch.cat([pooled(torch.as_tensor(s)[None])
                                              for s in sequences]))
    torch.testing.assert_close(batched, alone, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["folder", "model.keras"])
def test_moving_statistics_are_saved_and_loaded(tmp_path, name):
    model = trained_model()
    model.save(tmp_path / name)
    loaded = lstmkit.load_model(tmp_path / name)
    for key in ("layers.1.running_mean", "layers.1.running_var", "layers.1.weight",
                "layers.1.bias"):
        assert torch.equal(model.state_dict()[key], loaded.state_dict()[key]), key
    x = torch.as_tensor(ragged(1, seed=5)[0])[None]
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), loaded.eval()(x), rtol=0, atol=0)
    assert loaded.layers[1].get_config() == {"axis": -1, "momentum": 0.5, "epsilon": 1e-3,
                                             "center": True, "scale": True,
                                             "synchronized": False}


def test_a_resumed_fit_ends_with_the_same_statistics(tmp_path):
    whole = trained_model(epochs=3)
    trained_model(epochs=1, checkpoint_dir=tmp_path)
    resumed = trained_model(epochs=3, resume=tmp_path)
    for key, value in whole.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_without_center_and_scale_it_has_no_weights():
    layer = BatchNormalization(center=False, scale=False)
    layer.build((None, 2))
    assert list(layer.parameters()) == []
    x = torch.tensor([[1.0, 2.0], [3.0, 6.0]])
    torch.testing.assert_close(layer.train()(x), (x - x.mean(0)) / torch.sqrt(
        x.var(0, unbiased=False) + 1e-3))


@pytest.mark.parametrize("masked", [False, True])
def test_synchronized_statistics_are_the_whole_batchs(tmp_path, masked):
    """The all-reduced sums give the statistics and gradients the local
    two-pass moments give (one process: the all-reduce is the identity)."""
    import torch.distributed as dist

    from lstmkit.layers.core import _global_moments, batch_moments

    x, mask = padded_batch(ragged())
    mask = mask if masked else None
    dist.init_process_group("gloo", init_method=f"file://{tmp_path}/store", rank=0,
                            world_size=1)
    try:
        a = x.clone().requires_grad_()
        b = x.clone().requires_grad_()
        local, total = batch_moments(a, mask), _global_moments(b, mask)
        for u, v in zip(local, total):
            torch.testing.assert_close(u.float(), v.float(), rtol=1e-5, atol=1e-5)
        (local[0].sum() + local[1].sum()).backward()
        (total[0].sum() + total[1].sum()).backward()
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-5)
    finally:
        dist.destroy_process_group()
    layer = BatchNormalization(synchronized=True)
    assert layer.get_config()["synchronized"] is True
    assert lstmkit.layers.core.Conv1D(4, use_bias=False).get_config()["use_bias"] is False


def test_a_convolution_without_bias_before_the_normalisation():
    model = Sequential([Conv1D(4, 3, use_bias=False), BatchNormalization(), Dense(2)])
    model.build((None, 3))
    assert model.layers[0].conv.bias is None
    assert model(torch.randn(2, 5, 3)).shape == (2, 5, 2)
    with pytest.raises(InputError, match="use_bias must be True or False"):
        Conv1D(4, use_bias="no")


@pytest.mark.parametrize("make, message", [
    (lambda: BatchNormalization(synchronized=1), "synchronized must be True or False"),
    (lambda: BatchNormalization(axis=1), "axis must be -1 .*got 1"),
    (lambda: BatchNormalization(axis=True), "axis must be -1"),
    (lambda: BatchNormalization(momentum=1.5), r"momentum must be a number in \[0, 1\], got 1.5"),
    (lambda: BatchNormalization(momentum="0.9"), "momentum must be a number"),
    (lambda: BatchNormalization(epsilon=0), "epsilon must be a number above 0, got 0"),
    (lambda: BatchNormalization(epsilon=float("inf")), "epsilon must be a number above 0"),
    (lambda: BatchNormalization(center="yes"), "center must be True or False, got 'yes'"),
    (lambda: BatchNormalization(scale=1), "scale must be True or False"),
    (lambda: BatchNormalization().build((None, 4, 3)), "expects .* got per-sample shape"),
])
def test_bad_arguments_are_input_errors(make, message):
    with pytest.raises(InputError, match=message):
        make()
