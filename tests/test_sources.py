"""Batch sources: the loop trains on any object with the protocol, ragged
sequences with their masks and language-model streams with a carried state
alike, and a resumed run on a source continues exactly."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lstmkit import Sequential
from lstmkit.config import TrainConfig
from lstmkit.data.sources import ArrayBatches, BatchSource, shard
from lstmkit.errors import InputError
from lstmkit.layers import LSTM, Dense, Embedding

from conftest import StopAt, tutorial_model


class RaggedBatches(BatchSource):
    """Variable-length float sequences, each batch padded after its real
    steps to its own longest one, with the mask that marks them."""

    def __init__(self, sequences, labels, batch_size, shuffle=False, seed=0):
        self.sequences = [torch.as_tensor(s, dtype=torch.float32) for s in sequences]
        self.labels = torch.as_tensor(labels, dtype=torch.float32)[:, None]
        self.batch_size, self.shuffle = batch_size, shuffle
        self.generator = torch.Generator().manual_seed(seed)
        self.samples = len(self.sequences)

    def __len__(self):
        return math.ceil(self.samples / self.batch_size)

    def batches(self, epoch, start=0, rank=0, world=1):
        order = (torch.randperm(self.samples, generator=self.generator) if self.shuffle
                 else torch.arange(self.samples))
        for index in order.split(self.batch_size)[start:]:
            index = shard(index, rank, world)
            rows = [self.sequences[i] for i in index]
            x = torch.nn.utils.rnn.pad_sequence(rows, batch_first=True)  # (N, T_batch, F)
            mask = torch.arange(x.shape[1])[None] < torch.tensor([len(r) for r in rows])[:, None]
            yield x, self.labels[index], mask

    def state_dict(self):
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state):
        self.generator.set_state(state["generator"])


class TokenStream(BatchSource):
    """A token sequence as `streams` parallel rows read in windows of `bptt`
    steps, the targets shifted by one (awd-lstm-lm's batchify/get_batch)."""

    carries_state = True

    def __init__(self, tokens, streams, bptt):
        n = (len(tokens) - 1) // streams
        tokens = torch.as_tensor(tokens[: n * streams + 1])
        self.inputs = tokens[:-1].view(streams, n)  # (B, n)
        self.targets = tokens[1:].view(streams, n)
        self.bptt, self.samples = bptt, streams

    def __len__(self):
        return math.ceil(self.inputs.shape[1] / self.bptt)

    def batches(self, epoch, start=0, rank=0, world=1):
        for i in range(start, len(self)):
            window = slice(i * self.bptt, (i + 1) * self.bptt)
            yield self.inputs[:, window], self.targets[:, window]


def ragged_data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    sequences = [rng.normal(size=(rng.integers(2, 12), 2)).astype(np.float32) for _ in range(n)]
    labels = np.array([s[:, 0].mean() > 0 for s in sequences], dtype=np.float32)
    return sequences, labels


def classifier():
    torch.manual_seed(0)
    model = Sequential([LSTM(8), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=lambda p: torch.optim.Adam(p, lr=0.02),
                  metrics=["accuracy"], device="cpu")
    return model


def test_a_ragged_source_trains_and_its_mask_reaches_the_lstm():
    sequences, labels = ragged_data()
    model = classifier()
    history = model.fit(RaggedBatches(sequences, labels, 16, shuffle=True), epochs=25, verbose=0,
                        seed=0)
    assert history.history["accuracy"][-1] > 0.85
    # each sample's loss through the padded, masked batches is its loss run alone
    loss = model.evaluate(RaggedBatches(sequences, labels, 16))[0]
    with torch.no_grad():
        alone = [F.binary_cross_entropy(model(torch.as_tensor(s)[None]), torch.tensor([[l]]))
                 for s, l in zip(sequences, labels)]
    assert loss == pytest.approx(float(torch.stack(alone).mean()), rel=1e-5)


def language_model(vocabulary=7):
    torch.manual_seed(0)
    model = Sequential([Embedding(vocabulary, 5), LSTM(12, return_sequences=True),
                        Dense(vocabulary, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=lambda p: torch.optim.SGD(p, lr=0.5), device="cpu")
    model.build((None,))
    return model


def tokens(n=241, vocabulary=7):
    return torch.tensor([(3 * i + i // 5) % vocabulary for i in range(n)])


def test_a_stream_carries_the_state_as_a_hand_written_bptt_loop_does():
    stream = TokenStream(tokens(), streams=4, bptt=6)
    model, hand = language_model(), language_model()
    model.fit(stream, epochs=2, verbose=0, shuffle=False)
    optimizer = torch.optim.SGD(hand.parameters(), lr=0.5)
    hand.train()
    for _ in range(2):
        state = {}  # each epoch starts from zeros
        for x, y in stream.batches(0):
            logits, state = hand(x, state=state, logits=True, return_state=True)
            loss = F.cross_entropy(logits.reshape(-1, 7), y.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            state = {i: tuple(s.detach() for s in v) for i, v in state.items()}
    for name, value in hand.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], value, rtol=1e-6, atol=1e-7)


def test_evaluation_carries_the_state_through_the_whole_stream():
    model = language_model()
    windows = model.evaluate(TokenStream(tokens(), streams=4, bptt=6))
    whole = model.evaluate(TokenStream(tokens(), streams=4, bptt=10_000))
    assert windows == pytest.approx(whole, rel=1e-5)


@pytest.mark.parametrize("make", [
    lambda: TokenStream(tokens(), streams=4, bptt=6),
    lambda: RaggedBatches(*ragged_data(40), 8, shuffle=True, seed=5),
])
def test_a_run_on_a_source_resumes_exactly(tmp_path, make):
    def model():
        return language_model() if isinstance(make(), TokenStream) else classifier()

    whole = model()
    whole.fit(make(), epochs=3, verbose=0, seed=1, shuffle=False)
    first = model()
    first.fit(make(), epochs=3, verbose=0, seed=1, shuffle=False, callbacks=[StopAt(13)],
              checkpoint_dir=tmp_path)
    second = model()
    second.fit(make(), epochs=3, verbose=0, seed=1, shuffle=False, callbacks=[StopAt(-1)],
               resume=tmp_path)
    for name, value in whole.state_dict().items():
        assert torch.equal(second.state_dict()[name], value), name


def test_resume_with_another_batch_size_is_refused_naming_both(tmp_path, ids_data):
    x, y = ids_data
    tutorial_model().fit(x, y, batch_size=30, epochs=1, verbose=0, checkpoint_dir=tmp_path)
    with pytest.raises(InputError, match="batch_size: the checkpoint was written with 30, this "
                                         "run has 20"):
        tutorial_model().fit(x, y, batch_size=20, epochs=2, verbose=0, resume=tmp_path)


def test_array_batches_shard_each_batch_between_processes():
    x = torch.arange(10)
    source = ArrayBatches(x, x, batch_size=4)
    parts = [[b[0].tolist() for b in source.batches(0, rank=r, world=2)] for r in range(2)]
    assert parts == [[[0, 1], [4, 5], [8]], [[2, 3], [6, 7], [9]]]
    assert [b[0].tolist() for b in source.batches(0, start=2)] == [[8, 9]]


def test_train_config_checks_and_overrides():
    config = TrainConfig(batch_size=8)
    assert config.replace(epochs=3).batch_size == 8
    with pytest.raises(InputError, match=r"unknown training setting\(s\) \['epoch_count'\]"):
        config.replace(epoch_count=3)
    for field, value, message in (("batch_size", 0, "batch_size must be at least 1"),
                                  ("clip_grad_norm", -1.0, "clip_grad_norm must be a positive"),
                                  ("scheduler_interval", "batch", "'epoch' or 'step'"),
                                  ("verbose", 3, "verbose must be 0, 1 or 2"),
                                  ("validation_split", 1.0, r"validation_split must be in \[0, 1\)")):
        with pytest.raises(InputError, match=message):
            config.replace(**{field: value})


def test_a_source_as_x_takes_no_y_and_no_split(ids_data):
    x, y = ids_data
    source = ArrayBatches(torch.as_tensor(x), torch.as_tensor(y)[:, None], 30)
    model = tutorial_model()
    with pytest.raises(InputError, match="pass y=None"):
        model.fit(source, y, verbose=0)
    with pytest.raises(InputError, match="validation_split cannot split a batch source"):
        model.fit(source, validation_split=0.2, verbose=0)
    history = model.fit(source, validation_data=source, epochs=1, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}


def batch_sets(lengths, batch_size, noise, seed=0, epochs=3):
    """The batches of `epochs` bucketed, shuffled epochs, each as a set of frozensets."""
    from lstmkit.data.batching import batch_indices
    generator = torch.Generator().manual_seed(seed)
    return [{frozenset(i.tolist()) for i in batch_indices(len(lengths), batch_size, True,
                                                          generator, lengths, noise)}
            for _ in range(epochs)]


def test_noisy_lengths_mix_a_small_data_sets_batches_anew_each_epoch():
    """Sorted exactly, fewer samples than 50 batches are batched alike every
    epoch; lengths scaled by a random factor (length_noise) mix them, still
    far closer in length than random batches."""
    lengths = torch.tensor([10 + 7 * i for i in range(60)])
    sorted_epochs = batch_sets(lengths, 6, 0.0)
    assert sorted_epochs[0] == sorted_epochs[1] == sorted_epochs[2]
    noisy = batch_sets(lengths, 6, 0.5)
    assert noisy[0] != noisy[1] and noisy[1] != noisy[2]
    for epoch in noisy:
        assert sorted(i for b in epoch for i in b) == list(range(60))  # every sample once
    spread = np.median([int(lengths[list(b)].max() - lengths[list(b)].min())
                        for b in noisy[0]])
    assert spread < 0.5 * (lengths.max() - lengths.min())  # random batches of 6: ~0.7
    # a factor in [0.5, 1.5]: a length over 3 times another's is always sorted after it, so
    # no two batches each hold a sample over 3 times one of the other's
    ratio = 1.5 / 0.5
    for epoch in noisy:
        for a in epoch:
            for b in epoch - {a}:
                la, lb = lengths[list(a)].float(), lengths[list(b)].float()
                assert not (la.max() > ratio * lb.min() and lb.max() > ratio * la.min())


def test_noisy_lengths_leave_equal_lengths_batched_as_before():
    """Where every length is the same there is nothing to sort: the noise is
    not drawn, and the batches (and the generator after them) are those of
    length_noise 0."""
    lengths = torch.full((40,), 24)
    assert batch_sets(lengths, 5, 0.5) == batch_sets(lengths, 5, 0.0)


def test_sequence_batches_refuse_a_length_noise_out_of_range():
    from lstmkit.data.sources import SequenceBatches
    with pytest.raises(InputError, match="length_noise must be a number from 0 to below 1"):
        SequenceBatches([np.zeros((3, 1))], length_noise=1.5)
    source = SequenceBatches([np.zeros((n, 1)) for n in (3, 5, 8)], batch_size=2, shuffle=True,
                             length_noise=0.5)
    assert source.signature()["length_noise"] == 0.5
    assert "length_noise" not in SequenceBatches([np.zeros((3, 1))]).signature()
