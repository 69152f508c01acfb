"""Language-model corpora and BPTT streams: vocabularies, splits, token
files, and awd-lstm-lm's stream layout."""

import numpy as np
import pytest
import torch

from lstmkit.data.corpus import EOS, UNK, CorpusVocabulary, load_corpus
from lstmkit.data.streams import StreamBatches
from lstmkit.errors import DataFileError, InputError


@pytest.fixture
def text_file(tmp_path):
    def write(name, text, mode="w"):
        path = tmp_path / name
        if mode == "wb":
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return str(path)
    return write


def test_char_corpus_splits_90_10_with_the_whole_files_characters(text_file, tmp_path):
    text = "abcab" * 18 + "xyzzy" * 2  # 100 chars; x, y, z only in the last 10
    path = text_file("t.txt", text[:90] + "ab" * 5)
    corpus = load_corpus(path, level="char", cache_dir=tmp_path / "cache")
    assert corpus.vocabulary.tokens == ["a", "b", "c"]
    assert len(corpus.train) == 90 and len(corpus.valid) == 10
    assert corpus.vocabulary.decode(corpus.train) == text[:90]
    assert isinstance(corpus.train, np.memmap)  # read from the token file, not held in memory
    late = load_corpus(text_file("late.txt", text), level="char", cache_dir=tmp_path / "cache")
    assert late.vocabulary.tokens == ["a", "b", "c", "x", "y", "z"]  # found only in the last 10
    assert late.vocabulary.decode(late.valid) == "xyzzy" * 2
    # a validation file of its own: characters outside the training file's are refused
    valid = text_file("valid.txt", "xyz")
    with pytest.raises(DataFileError, match="outside the training part's vocabulary: 'x' 'y' 'z'"):
        load_corpus(path, valid, level="char", cache_dir=tmp_path / "cache")


@pytest.mark.parametrize("level", ["char", "word"])
def test_windows_line_ends_and_a_byte_order_mark_read_as_the_plain_text(text_file, tmp_path,
                                                                         level):
    text = "First Citizen:\nBefore we proceed any further, hear me speak.\n" * 8
    plain = load_corpus(text_file("plain.txt", text), level=level, cache_dir=tmp_path / "a")
    windows = text_file("windows.txt", b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode(),
                        mode="wb")
    saved = load_corpus(windows, level=level, cache_dir=tmp_path / "b")
    assert saved.vocabulary.tokens == plain.vocabulary.tokens  # no '\r', no '\ufeff'
    assert list(saved.train) == list(plain.train) and list(saved.valid) == list(plain.valid)


def test_token_files_are_written_once_and_reused(text_file, tmp_path):
    path = text_file("t.txt", "one two three\nfour five\n" * 10)
    first = load_corpus(path, level="word", cache_dir=tmp_path / "cache")
    token_file = first.sources["train"]["token_file"]
    written = (tmp_path / "cache").stat().st_mtime_ns, len(list((tmp_path / "cache").iterdir()))
    again = load_corpus(path, level="word", cache_dir=tmp_path / "cache")
    assert again.sources["train"]["token_file"] == token_file
    assert len(list((tmp_path / "cache").iterdir())) == written[1]
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".tmp")]


def test_word_corpus_reads_lines_with_eos_as_ptb_is_read(text_file, tmp_path):
    train = text_file("train.txt", " the cat sat \n the dog <unk> ran\n")
    valid = text_file("valid.txt", "the bird sat\n")
    corpus = load_corpus(train, valid, level="word", cache_dir=tmp_path)
    assert corpus.vocabulary.tokens == ["the", "cat", "sat", EOS, "dog", UNK, "ran"]
    assert corpus.vocabulary.decode(corpus.train).split() == \
        "the cat sat <eos> the dog <unk> ran <eos>".replace("<eos>", "").split()
    unk = corpus.vocabulary.index[UNK]
    assert list(corpus.valid) == [0, unk, 2, 3]  # 'bird' is outside: <unk>


def test_max_vocab_keeps_the_most_frequent_words_and_unk(text_file, tmp_path):
    path = text_file("t.txt", "a a a b b c\nd a b\n")
    corpus = load_corpus(path, level="word", max_vocab=3, valid_fraction=0, cache_dir=tmp_path)
    assert corpus.vocabulary.tokens == ["a", "b", UNK]  # <eos> (2) ties c, d... a, b lead
    assert corpus.vocabulary.unk == UNK
    assert corpus.vocabulary.decode(corpus.train).split()[:6] == ["a", "a", "a", "b", "b", UNK]


def test_empty_and_unreadable_corpora_are_refused(text_file, tmp_path):
    with pytest.raises(DataFileError, match="empty"):
        load_corpus(text_file("e.txt", ""), level="char", cache_dir=tmp_path)
    with pytest.raises(DataFileError, match="empty"):
        load_corpus(text_file("w.txt", ""), level="word", cache_dir=tmp_path)
    with pytest.raises(DataFileError, match="no such file"):
        load_corpus(str(tmp_path / "missing.txt"), level="char", cache_dir=tmp_path)
    with pytest.raises(DataFileError, match=r"line 2, column 1: not UTF-8 text \(byte 0xff\)"):
        load_corpus(text_file("b.txt", b"fine\n\xff\xfe bad\n", "wb"), level="word",
                    cache_dir=tmp_path)


def test_vocabulary_encodes_prompts_and_round_trips():
    chars = CorpusVocabulary(list("abc "), "char")
    assert chars.encode("ab c") == ([0, 1, 3, 2], [])
    with pytest.raises(InputError, match=r"2 character\(s\) outside .*'Q' 'Z'"):
        chars.encode("aZbQ")
    words = CorpusVocabulary(["the", "cat", EOS, UNK], "word", UNK)
    assert words.encode("the dog") == ([0, 3], ["dog"])
    assert words.decode([0, 1, 2]) == " the cat\n"
    again = CorpusVocabulary.from_json(words.to_json())
    assert again.tokens == words.tokens and again.unk == UNK and again.level == "word"


# ----- BPTT streams -------------------------------------------------------------------

def batchify(data, bsz):
    """awd-lstm-lm's batchify (data.py of salesforce/awd-lstm-lm), on a tensor."""
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    return data.view(bsz, -1).t().contiguous()


def get_batch(source, i, bptt):
    """awd-lstm-lm's get_batch (seq_len given), targets unflattened."""
    seq_len = min(bptt, len(source) - 1 - i)
    return source[i:i + seq_len], source[i + 1:i + 1 + seq_len]


@pytest.mark.parametrize("tokens, batch_size, bptt", [(103, 4, 7), (50, 5, 9), (64, 2, 31)])
def test_stream_layout_equals_awd_lstm_lm_batchify_and_get_batch(tokens, batch_size, bptt):
    data = torch.arange(tokens) * 3 % 17
    source = StreamBatches(data.numpy(), batch_size, bptt)
    reference = batchify(data, batch_size)  # (n, B), time first
    expected = [get_batch(reference, i, bptt) for i in range(0, reference.size(0) - 1, bptt)]
    got = list(source.batches(0))
    assert len(got) == len(expected) == len(source)
    for (x, y), (rx, ry) in zip(got, expected):
        assert torch.equal(x, rx.t()) and torch.equal(y, ry.t())  # ours is batch first
        assert x.dtype == torch.int64
    assert source.carries_state


def test_each_process_takes_its_own_streams():
    data = np.arange(200)
    source = StreamBatches(data, 6, 5)
    whole = list(source.batches(0))
    parts = [list(source.batches(0, rank=r, world=4)) for r in range(4)]
    for i, (x, y) in enumerate(whole):
        assert torch.equal(torch.cat([p[i][0] for p in parts]), x)
        assert torch.equal(torch.cat([p[i][1] for p in parts]), y)
    assert [len(p[0][0]) for p in parts] == [2, 2, 1, 1]


def test_resuming_mid_epoch_gives_the_remaining_windows():
    source = StreamBatches(np.arange(500), 4, 6, variable=True, seed=3)
    state = source.state_dict()
    full = list(source.batches(2, 0))
    again = StreamBatches(np.arange(500), 4, 6, variable=True, seed=3)
    again.load_state_dict(state)
    rest = list(again.batches(2, 5))
    assert len(rest) == len(full) - 5
    assert all(torch.equal(a[0], b[0]) for a, b in zip(full[5:], rest))


def test_variable_bptt_covers_the_stream_once_with_lengths_per_epoch():
    source = StreamBatches(np.arange(4000), 2, 20, variable=True, seed=0)
    for epoch in range(3):
        windows = source.windows(epoch)
        assert windows[0][0] == 0 and all(a[0] + a[1] == b[0] for a, b in zip(windows, windows[1:]))
        assert windows[-1][0] + windows[-1][1] == source.length - 1
        assert all(5 <= steps <= 40 for _, steps in windows[:-1])
        assert windows == source.windows(epoch)  # the same for every process and on resume
    assert source.windows(0) != source.windows(1)
    source.load_state_dict({"epoch": 1})
    assert len(source) == len(source.windows(1))
    list(source.batches(1))
    assert len(source) == len(source.windows(2))  # len() counts the next epoch's windows


def test_bptt_longer_than_the_corpus_is_refused():
    with pytest.raises(InputError, match="bptt 50 is longer than each of the 4 streams"):
        StreamBatches(np.arange(100), 4, 50)
    with pytest.raises(InputError, match="too few"):
        StreamBatches(np.arange(3), 2, 1)
