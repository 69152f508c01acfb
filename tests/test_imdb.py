"""load_imdb on a tiny archive built here, and on the real one when present."""

import io
import json
import os
import tarfile

import numpy as np
import pytest

from lstmkit.data.imdb import ARCHIVE, WORD_INDEX, load_imdb
from lstmkit.errors import DataFileError, InputError

# Keras ranks from 1; ids are rank + 2, so the(3) movie(4) good(5) bad(6) br(7) it's(8).
WORD_INDEX_JSON = {"the": 1, "movie": 2, "good": 3, "bad": 4, "br": 5, "it's": 6}
REVIEWS = {  # deliberately not in path order
    "aclImdb/train/pos/7_9.txt": "The movie was GOOD.<br /><br />It's good!",
    "aclImdb/train/neg/3_1.txt": "bad, bad movie",
    "aclImdb/train/neg/10_2.txt": "the worst",
    "aclImdb/test/pos/0_10.txt": "good",
    "aclImdb/test/neg/0_4.txt": "Bad.",
}
OTHER_FILES = {"aclImdb/README": "not a review", "aclImdb/train/urls_pos.txt": "http://x",
               "aclImdb/imdb.vocab": "the\nmovie"}


def write_archive(path, files):
    with tarfile.open(path, "w:gz") as archive:
        for name, text in files.items():
            data = text.encode("utf-8") if isinstance(text, str) else text
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def as_lists(data):
    """((x, y), (x, y)) with the label arrays as lists, to compare with ==."""
    return [(x, y.tolist()) for x, y in data]


@pytest.fixture
def imdb_dir(tmp_path):
    """A folder like the shared one: the archive and Keras' word index."""
    write_archive(tmp_path / ARCHIVE, {**REVIEWS, **OTHER_FILES})
    (tmp_path / WORD_INDEX).write_text(json.dumps(WORD_INDEX_JSON))
    return tmp_path


def test_encoding_follows_keras(imdb_dir):
    (x_train, y_train), (x_test, y_test) = load_imdb(imdb_dir / ARCHIVE, num_words=100, seed=None)
    # sorted by path: neg/10_2, neg/3_1, pos/7_9; unknown words are 2
    assert x_train == [[1, 3, 2], [1, 6, 6, 4], [1, 3, 4, 2, 5, 7, 7, 8, 5]]
    assert x_test == [[1, 6], [1, 5]]
    assert y_train.tolist() == [0, 0, 1] and y_test.tolist() == [0, 1]
    assert y_train.dtype == np.int64


def test_num_words_turns_rare_words_into_oov(imdb_dir):
    (x_train, _), _ = load_imdb(imdb_dir / ARCHIVE, num_words=7, seed=None)  # keeps ids 3..6
    assert x_train[2] == [1, 3, 4, 2, 5, 2, 2, 2, 5]  # br (7) and it's (8) are now OOV


def test_maxlen_pads_and_cuts_before(imdb_dir):
    (x_train, _), (x_test, _) = load_imdb(imdb_dir / ARCHIVE, num_words=100, maxlen=4, seed=None)
    assert x_train.tolist() == [[0, 1, 3, 2], [1, 6, 6, 4], [7, 7, 8, 5]]
    assert x_test.shape == (2, 4) and x_test.dtype == np.int64


def test_extracted_folder_gives_the_same_data(imdb_dir, tmp_path):
    with tarfile.open(imdb_dir / ARCHIVE) as archive:
        archive.extractall(tmp_path / "extracted", filter="data")
    (tmp_path / "extracted" / WORD_INDEX).write_text(json.dumps(WORD_INDEX_JSON))
    expected = as_lists(load_imdb(imdb_dir / ARCHIVE, num_words=100))
    for path in (tmp_path / "extracted" / "aclImdb", str(tmp_path / "extracted") + os.sep,
                 tmp_path / "extracted"):
        assert as_lists(load_imdb(path, num_words=100)) == expected


def test_word_index_path_and_default_location(imdb_dir, tmp_path, monkeypatch):
    elsewhere = tmp_path / "index.json"
    elsewhere.write_text(json.dumps({"bad": 1}))
    _, (x_test, _) = load_imdb(imdb_dir / ARCHIVE, word_index_path=elsewhere, seed=None)
    assert x_test == [[1, 3], [1, 2]]
    # the default is ../shared/datasets/imdb/ from the current directory
    shared = tmp_path / "shared" / "datasets" / "imdb"
    shared.mkdir(parents=True)
    for name in (ARCHIVE, WORD_INDEX):
        (shared / name).write_bytes((imdb_dir / name).read_bytes())
    (tmp_path / "checkout").mkdir()
    monkeypatch.chdir(tmp_path / "checkout")
    assert as_lists(load_imdb(num_words=100)) == as_lists(load_imdb(imdb_dir / ARCHIVE,
                                                                     num_words=100))


def test_missing_archive_is_named(tmp_path):
    with pytest.raises(DataFileError, match="nowhere.tar.gz: no such file"):
        load_imdb(tmp_path / "nowhere.tar.gz")


def test_archive_or_folder_without_the_acl_tree(tmp_path):
    write_archive(tmp_path / "other.tar.gz", {"reviews/pos/1_9.txt": "good"})
    (tmp_path / WORD_INDEX).write_text(json.dumps(WORD_INDEX_JSON))
    with pytest.raises(DataFileError, match=r"other.tar.gz: no reviews under aclImdb/train"):
        load_imdb(tmp_path / "other.tar.gz")
    with pytest.raises(DataFileError, match="expected the archive, an aclImdb/ folder"):
        load_imdb(tmp_path)


def test_damaged_archive_and_review(imdb_dir):
    (imdb_dir / "broken.tar.gz").write_bytes(b"this is not gzip")
    with pytest.raises(DataFileError, match="broken.tar.gz: not a readable tar archive"):
        load_imdb(imdb_dir / "broken.tar.gz")
    write_archive(imdb_dir / "latin1.tar.gz", {**REVIEWS, "aclImdb/test/pos/1_8.txt": b"caf\xe9"})
    with pytest.raises(DataFileError, match="aclImdb/test/pos/1_8.txt is not UTF-8"):
        load_imdb(imdb_dir / "latin1.tar.gz")


def test_word_index_errors_name_the_file(imdb_dir):
    (imdb_dir / WORD_INDEX).unlink()
    with pytest.raises(DataFileError, match=f"{WORD_INDEX}: No such file"):
        load_imdb(imdb_dir / ARCHIVE)
    (imdb_dir / WORD_INDEX).write_text('{"the": 1,\n "movie" 2}')
    with pytest.raises(DataFileError, match=f"{WORD_INDEX}, line 2, column 10: not valid JSON"):
        load_imdb(imdb_dir / ARCHIVE)
    (imdb_dir / WORD_INDEX).write_text('["the", "movie"]')
    with pytest.raises(DataFileError, match="expected a word index"):
        load_imdb(imdb_dir / ARCHIVE)


@pytest.mark.parametrize("arguments", [{"num_words": 3}, {"num_words": 1.5e3}, {"maxlen": 0}])
def test_bad_arguments_fail_before_reading(arguments, tmp_path):
    with pytest.raises(InputError, match=next(iter(arguments))):
        load_imdb(tmp_path / "not read", **arguments)


SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "datasets", "imdb")


@pytest.mark.skipif(not os.path.exists(os.path.join(SHARED, ARCHIVE)),
                    reason="the shared IMDB archive is not beside this checkout")
def test_real_archive():
    (x_train, y_train), (x_test, y_test) = load_imdb(os.path.join(SHARED, ARCHIVE), seed=None)
    assert len(x_train) == len(x_test) == 25_000
    assert y_train.sum() == y_test.sum() == 12_500
    lengths = np.array([len(x) for x in x_train])
    # golden values measured with this loader on the v1.0 archive
    assert lengths.max() == 2494 and abs(lengths.mean() - 238.71) < 0.01
    assert all(x[0] == 1 and max(x) < 1024 for x in x_test)


def test_splits_are_shuffled_as_keras_does(imdb_dir):
    (x_train, y_train), _ = load_imdb(imdb_dir / ARCHIVE, num_words=100, seed=None)
    (x_mixed, y_mixed), _ = load_imdb(imdb_dir / ARCHIVE, num_words=100)
    order = np.arange(len(x_train))
    np.random.RandomState(113).shuffle(order)
    assert x_mixed == [x_train[i] for i in order] and list(y_mixed) == list(y_train[order])
