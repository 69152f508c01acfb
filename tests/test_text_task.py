"""`lstmkit text train / eval / predict` end to end on tiny data, the
tokenizers and maxlen policies, the classifier's files, and each bad input."""

import csv
import json

import numpy as np
import pytest

import lstmkit
from lstmkit.cli import main
from lstmkit.data.text import (OOV, START, TextEncoder, Tokenizer, split_text, truncate,
                               with_ngrams, word_pieces)
from lstmkit.data.textfiles import TextData
from lstmkit.errors import InputError
from lstmkit.tasks.text import TextClassifier, train_text_classifier

GOOD = ["great", "wonderful", "loved", "superb", "fine", "brilliant"]
BAD = ["awful", "boring", "hated", "dull", "poor", "terrible"]


def reviews(n=48, seed=0):
    """Short texts whose label a word decides."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        label = ["neg", "pos"][i % 2]
        words = list(rng.choice(["the", "film", "was", "a", "story", "and"], 4))
        words.insert(int(rng.integers(5)), rng.choice(GOOD if label == "pos" else BAD))
        texts.append(" ".join(words) + ("!" if i % 3 else "."))
        labels.append(label)
    return texts, labels


def write_csv(path, texts, labels):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["review", "sentiment"])
        writer.writerows(zip(texts, labels))
    return path


# ----- tokenizers and encoders -----------------------------------------------------

def test_split_text_levels():
    text = "It's GREAT!<br /><br />Really &amp; truly... 10/10"
    assert split_text(text, "keras") == ["it's", "great", "br", "br", "really", "amp", "truly",
                                          "10", "10"]
    assert split_text(text, "words") == ["it's", "great", "!", "really", "truly", "10", "10"]
    assert split_text("Ab  c<br />d", "chars") == list("ab c d")
    assert split_text("Ab", "chars", lower=False) == ["A", "b"]
    assert with_ngrams(["a", "b", "c"]) == ["a", "b", "c", "a b", "b c"]
    assert with_ngrams(["a", "b", "c"], 3) == ["a", "b", "c", "a b", "b c", "a b c"]
    assert with_ngrams(["a"], 3) == ["a"]


def test_maxlen_policies():
    ids = list(range(10))
    assert truncate(ids, 4, "head") == [0, 1, 2, 3]
    assert truncate(ids, 4, "tail") == [6, 7, 8, 9]
    assert truncate(ids, 8, "head+tail") == [0, 1, 4, 5, 6, 7, 8, 9]
    assert truncate(ids, 20, "head+tail") == ids
    with pytest.raises(InputError, match="truncate must be one of"):
        truncate(ids, 4, "middle")


def test_encoder_settings_round_trip_and_old_files_still_read():
    texts = ["good good film", "bad film", "good plot"]
    encoder = TextEncoder.fit(texts, ["p", "n", "p"], num_words=50, maxlen=3, level="words",
                              ngrams=2, truncate="head", min_count=1)
    assert encoder.ids("good film and more") == [START, 3, 4, encoder.vocabulary.index[
        "good film"]]  # the start id, 2 words kept (head), then their bigram
    assert encoder.ids("film noir") == [START, 4, OOV, OOV]
    again = TextEncoder.from_json(json.loads(json.dumps(encoder.to_json())))
    assert again.to_json() == encoder.to_json()
    assert again.ids("good film and more") == encoder.ids("good film and more")
    old = {"vocabulary": encoder.vocabulary.to_json(), "maxlen": 3, "labels": ["n", "p"]}
    assert TextEncoder.from_json(old).level == "keras"  # what a version-1 file meant
    with pytest.raises(InputError, match="optionally"):
        TextEncoder.from_json({**old, "colour": "red"})


def test_word_pieces_are_marked_and_saved_with_the_encoder():
    # each word's character n-grams with its ends marked, once per text, apart from the words
    assert word_pieces(["ab", "ab"], 2, 3) == ["#<a", "#ab", "#b>", "#<ab", "#ab>"]
    assert word_pieces(["there"], 3, 3) == ["#<th", "#the", "#her", "#ere", "#re>"]
    encoder = TextEncoder.fit(["the film", "there"], ["p", "n"], num_words=100, level="words",
                              char_ngrams=[3, 3])
    index = encoder.vocabulary.index
    assert "the" in index and "#the" in index and index["the"] != index["#the"]
    ids = encoder.ids("the theme")
    assert ids[:3] == [START, index["the"], OOV] and index["#the"] in ids[3:]
    again = TextEncoder.from_json(json.loads(json.dumps(encoder.to_json())))
    assert again.char_ngrams == [3, 3] and again.ids("the theme") == ids
    assert encoder.encode(["the", "the theme"]).shape[1] == len(ids)  # padded to the longest
    for bad in ([3], [0, 2], [4, 3], "3-5"):
        with pytest.raises(InputError, match="char_ngrams must be"):
            TextEncoder.fit(["a"], ["p"], level="words", char_ngrams=bad)
    with pytest.raises(InputError, match="need level 'words'"):
        TextEncoder.fit(["a"], ["p"], level="chars", char_ngrams=[2, 3])


def test_min_count_and_num_words():
    encoder = TextEncoder.fit(["a a b c", "a b d"], ["x", "y"], num_words=100, min_count=2,
                              level="words")
    assert set(encoder.vocabulary.index) == {"a", "b"}
    assert encoder.vocabulary.num_words == 5  # cut to the ids in use


def test_multilabel_encoding():
    encoder = TextEncoder.fit(["a", "b", "c"], [("x",), ("x", "y"), ("z",)], level="words")
    assert encoder.multilabel and encoder.labels == ["x", "y", "z"]
    assert encoder.encode_labels([("y",), ("x", "z")]).tolist() == [[0, 1, 0], [1, 0, 1]]
    assert encoder.decode_predictions([[0.9, 0.6, 0.1]]) == [("x|y", [0.9, 0.6, 0.1])]


def test_keras_tokenizer_behaviour():
    tokenizer = Tokenizer(num_words=4, oov_token="<OOV>")
    tokenizer.fit_on_texts(["The cat sat on the mat.", "The dog ate my homework!"])
    assert tokenizer.word_index == {"<OOV>": 1, "the": 2, "cat": 3, "sat": 4, "on": 5, "mat": 6,
                                    "dog": 7, "ate": 8, "my": 9, "homework": 10}
    assert tokenizer.word_counts["the"] == 3 and tokenizer.word_docs["the"] == 2
    assert tokenizer.document_count == 2
    # ids at or above num_words become the OOV id; unknown words too
    assert tokenizer.texts_to_sequences(["the cat ate a fish"]) == [[2, 3, 1, 1, 1]]
    plain = Tokenizer()
    plain.fit_on_texts(["b a a", "c a b"])
    assert plain.texts_to_sequences(["a b c d"]) == [[1, 2, 3]]  # no OOV token: dropped
    assert plain.sequences_to_texts([[1, 3]]) == ["a c"]
    matrix = plain.texts_to_matrix(["a a d"], mode="count")
    assert matrix.tolist() == [[0, 2, 0, 0]]
    chars = Tokenizer(char_level=True)
    chars.fit_on_texts(["aab"])
    assert chars.word_index == {"a": 1, "b": 2}
    again = lstmkit.data.text.tokenizer_from_json(plain.to_json())
    assert again.word_index == plain.word_index
    assert again.texts_to_sequences(["c a"]) == [[3, 1]]


# ----- the library --------------------------------------------------------------------

def test_train_predict_save_load(tmp_path):
    texts, labels = reviews()
    classifier = train_text_classifier(TextData(texts, labels), valid_split=0.25, epochs=2,
                                       model="default", seed=0)
    assert classifier.labels == ["neg", "pos"] and len(classifier.members) == 3
    p = classifier.predict_proba(["a great film", "an awful film"])
    assert p.shape == (2, 2) and np.allclose(p.sum(1), 1)
    classifier.save(tmp_path / "m")
    loaded = TextClassifier.load(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba(["a great film", "an awful film"]), p,
                               rtol=1e-5)
    member = lstmkit.load_model(tmp_path / "m" / "member-0")  # each member reads raw text
    assert isinstance(member.preprocessing, TextEncoder)


def test_a_large_vocabulary_saves_and_loads(tmp_path):
    # 60,000 distinct words and their subwords: a config of several MB (its vocabulary)
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words = ["".join(rng.choice(letters, 7)) for _ in range(60000)]
    texts = [" ".join(words[i:i + 300]) for i in range(0, 60000, 300)]
    labels = ["pos" if i % 2 else "neg" for i in range(len(texts))]
    classifier = train_text_classifier(TextData(texts, labels), model="nbchar", epochs=1,
                                       refit=False)
    classifier.save(tmp_path / "m")
    assert (tmp_path / "m" / "member-0" / "config.json").stat().st_size > 4 << 20
    again = TextClassifier.load(tmp_path / "m")
    np.testing.assert_allclose(again.predict_proba(texts[:3]), classifier.predict_proba(
        texts[:3]), rtol=1e-5)


def test_refit_trains_the_members_again_on_every_training_text():
    texts, labels = reviews(60)
    data = TextData(texts, labels)
    once = train_text_classifier(data, valid_split=0.25, model="nb", seed=0, refit=False)
    again = train_text_classifier(data, valid_split=0.25, model="nb", seed=0)
    assert once.info["training_texts"] == 60 - once.info["validation_texts"]
    assert again.info["training_texts"] == 60
    assert again.info["settings"]["refit"] and not once.info["settings"]["refit"]
    # the same split, epochs and weights were chosen; the vocabulary now holds every text's words
    assert again.info["best_epochs"] == once.info["best_epochs"]
    assert again.info["validation"] == once.info["validation"]
    vocabulary = again.members[0].preprocessing.vocabulary
    assert len(vocabulary) > len(once.members[0].preprocessing.vocabulary)
    # a validation file the user gives is never trained on
    given = train_text_classifier(data.subset(range(45)), valid=data.subset(range(45, 60)),
                                  model="nb", seed=0)
    assert not given.info["settings"]["refit"] and given.info["training_texts"] == 45


# ----- the command line -----------------------------------------------------------------

def test_cli_train_eval_predict(tmp_path, capsys):
    texts, labels = reviews(48)
    train = write_csv(tmp_path / "train.csv", texts, labels)
    test_texts, test_labels = reviews(16, seed=1)
    test = write_csv(tmp_path / "test.csv", test_texts, test_labels)
    out = tmp_path / "model"
    assert main(["text", "train", str(train), "--text-col", "review", "--label-col",
                 "sentiment", "--test", str(test), "--epochs", "2", "--quiet", "--out",
                 str(out)]) == 0
    printed = capsys.readouterr().out
    assert "validation (4 texts, scored before the members were trained again" in printed
    assert "ROC AUC" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["samples"] == 16 and 0 <= metrics["test"]["accuracy"] <= 1
    for name in ("training_curves.png", "confusion.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"

    assert main(["text", "eval", str(out), str(test), "--out", str(tmp_path / "r.json")]) == 0
    assert "confusion" in capsys.readouterr().out
    assert json.loads((tmp_path / "r.json").read_text())["samples"] == 16

    assert main(["text", "predict", str(out), "a great film", "a dull story"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [l.split("\t")[2] for l in lines] == ["a great film", "a dull story"]
    assert all(l.split("\t")[0] in ("neg", "pos") for l in lines)

    (tmp_path / "new.txt").write_text("loved it\n\nboring, \"really\"\n")
    assert main(["text", "predict", str(out), "--file", str(tmp_path / "new.txt"), "--out",
                 str(tmp_path / "p.csv")]) == 0
    rows = list(csv.DictReader(open(tmp_path / "p.csv")))
    assert [r["text"] for r in rows] == ["loved it", 'boring, "really"']
    assert set(rows[0]) == {"text", "label", "probability", "p_neg", "p_pos"}


def test_cli_train_in_bfloat16_and_without_refit(tmp_path, capsys):
    texts, labels = reviews(40)
    train = write_csv(tmp_path / "train.csv", texts, labels)
    out = tmp_path / "m"
    assert main(["text", "train", str(train), "--model", "lstm", "--epochs", "1", "--quiet",
                 "--precision", "bf16", "--no-refit", "--out", str(out)]) == 0
    assert "validation (4 texts):" in capsys.readouterr().out
    info = json.loads((out / "classifier.json").read_text())["info"]
    assert info["settings"]["precision"] == "mixed_bfloat16" and not info["settings"]["refit"]
    assert TextClassifier.load(out).predict(["a great film"])[0] in ("neg", "pos")
    with pytest.raises(InputError, match="precision must be one of"):
        train_text_classifier(TextData(texts, labels), model="nb", precision="half")


def test_cli_tutorial_model_and_demo_model_predict(tmp_path, capsys):
    texts, labels = reviews(32)
    train = write_csv(tmp_path / "train.csv", texts, labels)
    assert main(["text", "train", str(train), "--model", "tutorial", "--epochs", "1",
                 "--quiet", "--out", str(tmp_path / "t")]) == 0
    capsys.readouterr()
    assert main(["text", "predict", str(tmp_path / "t"), "great"]) == 0
    assert capsys.readouterr().out.split("\t")[0] in ("neg", "pos")


def bad_inputs(tmp_path):
    texts, labels = reviews(24)
    good = write_csv(tmp_path / "good.csv", texts, labels)
    (tmp_path / "empty.csv").write_text("")
    write_csv(tmp_path / "one.csv", texts, ["pos"] * len(texts))
    write_csv(tmp_path / "unseen.csv", texts[:4], ["pos", "neg", "meh", "pos"])
    (tmp_path / "latin.csv").write_bytes("review,sentiment\ncaf\xe9 fine,pos\n".encode("latin-1"))
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "a.txt").write_text("x")
    (tmp_path / "cut.tar.gz").write_bytes(b"\x1f\x8b\x08\x00" + b"\x00" * 20)
    return {
        "empty": (["text", "train", str(tmp_path / "empty.csv")], "the file is empty"),
        "column": (["text", "train", str(good), "--text-col", "body"],
                   "no column named 'body'; the columns are 'review', 'sentiment'"),
        "one class": (["text", "train", str(tmp_path / "one.csv")], "at least two classes"),
        "unseen": (["text", "train", str(good), "--test", str(tmp_path / "unseen.csv")],
                   "unseen.csv, line 4: a test label 'meh' is not in the training data"),
        "encoding": (["text", "train", str(tmp_path / "latin.csv")],
                     r"line 2: byte \d+ \(0xe9\) is not utf-8 text.*--encoding"),
        "no label folders": (["text", "train", str(tmp_path / "flat")], "no label sub-folders"),
        "truncated": (["text", "train", str(tmp_path / "cut.tar.gz")], "truncated or damaged"),
    }


@pytest.mark.parametrize("case", ["empty", "column", "one class", "unseen", "encoding",
                                  "no label folders", "truncated"])
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, case):
    argv, match = bad_inputs(tmp_path)[case]
    out = tmp_path / "out"
    assert main([*argv, "--epochs", "1", "--quiet", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    import re
    assert re.search(match, err), err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_predict_needs_texts(tmp_path, capsys):
    assert main(["text", "predict", str(tmp_path)]) == 2
    assert "give texts to label" in capsys.readouterr().err


def test_member_weights_are_chosen_on_validation_and_checked():
    from lstmkit.tasks.text import check_weights, choose_weights

    y = np.array([0, 1, 1, 0])
    good = np.array([[0.9, 0.1], [0.2, 0.8], [0.1, 0.9], [0.8, 0.2]])
    poor = np.full((4, 2), 0.5)
    assert choose_weights([good, poor], y) == [1.0, 0.0]
    assert choose_weights([good, good], y) == [0.5, 0.5]  # ties: nearest an even mix
    assert choose_weights([good], y) == [1.0]
    assert choose_weights([poor, good, poor], y) == [0.0, 1.0, 0.0]
    # two members that err on different texts: a mix beats either alone
    left = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.8, 0.2]])
    right = np.array([[0.4, 0.6], [0.2, 0.8], [0.1, 0.9], [0.8, 0.2]])
    w = choose_weights([left, poor, right], y)
    assert w[1] == 0.0 and 0 < w[0] < 1 and abs(sum(w) - 1) < 1e-9
    assert check_weights(None, 4) == [0.25] * 4
    with pytest.raises(InputError, match="summing to 1"):
        check_weights([0.5, 0.6], 2)


# ----- the NB bag ---------------------------------------------------------------------

def test_log_count_ratios_count_each_text_once_and_smooth():
    from lstmkit.tasks.text_models import log_count_ratios
    # ids 3 in both texts of class 1 (twice in one), 4 in the class-0 text, 5 everywhere
    sequences = [np.array([1, 3, 3, 5]), np.array([1, 3, 5]), np.array([1, 4, 5])]
    r = log_count_ratios(sequences, np.array([1, 1, 0]), 6, 1)
    p = np.array([2, 0, 2]) + 1.0  # texts of class 1 holding ids 3, 4, 5, smoothed
    q = np.array([0, 1, 1]) + 1.0  # the reserved ids 0-2 count nowhere
    np.testing.assert_allclose(r[:, 0], np.r_[0, 0, 0, np.log(p / p.sum()) - np.log(
        q / q.sum())])
    three = log_count_ratios(sequences, np.array([2, 1, 0]), 6, 3)  # each class: vs the rest
    assert three.shape == (6, 3) and three[4, 0] > 0 > three[4, 1]
    labels = np.array([[1, 0], [1, 1], [0, 1]], np.float32)  # multi-label: each label vs not
    assert log_count_ratios(sequences, labels, 6, 2).shape == (6, 2)


@pytest.mark.parametrize("kind", ["binary", "three classes", "multi-label"])
def test_the_nb_bag_trains_from_naive_bayes_and_saves(kind, tmp_path):
    texts, labels = reviews(60)
    if kind == "three classes":
        labels = [l if i % 3 else "mixed" for i, l in enumerate(labels)]
    if kind == "multi-label":
        labels = [(l,) if i % 3 else (l, "long") for i, l in enumerate(labels)]
    classifier = train_text_classifier(TextData(texts, labels), valid_split=0.25, epochs=3,
                                       model="nb", seed=0)
    member = classifier.members[0]
    emb = member.layers[0]
    assert emb.scaled and float(emb.scale.abs().sum()) > 0  # the ratios, set before training
    if kind == "binary":
        great = member.preprocessing.vocabulary.index["great"]
        assert float(emb.scale[great, 0]) > 0  # a word of the 'pos' texts leans to 'pos'
        assert classifier.predict(["a superb story", "a dull story"]) == ["pos", "neg"]
    classifier.save(tmp_path / "m")
    again = TextClassifier.load(tmp_path / "m")
    np.testing.assert_allclose(again.predict_proba(texts[:5]), classifier.predict_proba(
        texts[:5]), rtol=1e-5)
