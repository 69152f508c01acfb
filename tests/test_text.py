import pytest

from lstmkit.data.text import OOV, START, Vocabulary, read_labelled_lines, tokenize
from lstmkit.errors import DataFileError
from lstmkit.tasks.text import TextEncoder, choose_maxlen, stratified_split


def test_tokenize_as_keras():
    assert tokenize("It's GREAT!<br />Really, great...") == ["it's", "great", "br", "really", "great"]


def test_vocabulary_ids_follow_keras():
    vocab = Vocabulary.build(["b a a", "c a b"], num_words=5)  # keeps the 2 most frequent
    assert vocab.encode("a b c d") == [START, 3, 4, OOV, OOV]
    assert vocab.decode([START, 3, 4, OOV]) == "<start> a b <oov>"
    again = Vocabulary.from_json(vocab.to_json())
    assert again.encode("a b c") == vocab.encode("a b c")
    keras = Vocabulary.from_word_index({"the": 1, "and": 2, "zebra": 3000}, num_words=1000)
    assert keras.encode("the and zebra") == [START, 3, 4, OOV]


def test_read_labelled_lines(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("good film\t1\n\nbad\tfilm\t0\n")
    assert read_labelled_lines(path) == (["good film", "bad\tfilm"], ["1", "0"])


@pytest.mark.parametrize("content, match", [
    ("", "empty"),
    ("good\t1\nno label here\n", r"line 2: expected text'\\t'label"),
    ("good\t\n", "line 1, column 6: the label is empty"),
])
def test_read_labelled_lines_errors(tmp_path, content, match):
    path = tmp_path / "s.txt"
    path.write_text(content)
    with pytest.raises(DataFileError, match=match):
        read_labelled_lines(path)


def test_read_labelled_lines_bad_encoding_and_missing(tmp_path):
    path = tmp_path / "s.txt"
    path.write_bytes(b"caf\xe9\t1\n")
    with pytest.raises(DataFileError, match="not utf-8 text"):
        read_labelled_lines(path)
    with pytest.raises(DataFileError, match="No such file"):
        read_labelled_lines(tmp_path / "missing.txt")


def test_text_encoder_and_split():
    texts = ["good"] * 6 + ["bad movie"] * 4
    labels = ["pos"] * 6 + ["neg"] * 4
    train, held = stratified_split(labels, 0.5, seed=0)
    assert sorted(labels[i] for i in held) == ["neg", "neg", "pos", "pos", "pos"]
    assert not set(train) & set(held)
    encoder = TextEncoder.fit(texts, labels, num_words=10)
    assert encoder.labels == ["neg", "pos"] and encoder.maxlen == 3
    assert encoder.encode(["bad"]).shape == (1, 3)
    assert list(encoder.encode_labels(["pos", "neg"])) == [1, 0]
    assert encoder.decode_predictions([[0.9], [0.2]]) == [("pos", 0.9), ("neg", 0.8)]
    assert choose_maxlen([[1] * n for n in range(1, 101)]) == 95
