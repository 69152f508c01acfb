"""Classify texts with a text model exported by `lstmkit export`, with
onnxruntime and NumPy alone: neither torch nor lstmkit is imported.

    .venv/bin/lstmkit demo --out runs/demo --quiet
    .venv/bin/lstmkit export runs/demo --format onnx    # model.onnx, model.preprocessing.json
    .venv/bin/python examples/onnx_inference.py runs/demo/model.onnx "not worth it" "works great"

    .venv/bin/lstmkit text train reviews.csv --out runs/reviews
    .venv/bin/lstmkit export runs/reviews --out runs/reviews-onnx   # an ensemble: a folder
    .venv/bin/python examples/onnx_inference.py runs/reviews-onnx "not worth it" "works great"

Each text is encoded as lstmkit's TextEncoder does, from the encoder
written beside each graph: its tokens at the encoder's level ('keras':
lower case, punctuation to spaces, as Keras' tokenizer; 'words': HTML tags
removed, words and ! ?; 'chars'), cut to maxlen by its policy (head, tail
or head+tail), runs of up to n words added for ngrams=n, then, for
char_ngrams [low, high], each distinct character n-gram of the words read
as '<word>', written '#' + n-gram; ids 0 pad, 1 start, 2 out of
vocabulary, padded before the text. An ensemble's members are weighted as
its ensemble.json says. Prints, per text, the label, its probability and
the text.
"""

import html
import json
import os
import re
import sys

import numpy as np
import onnxruntime

PAD, START, OOV = 0, 1, 2
KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'  # Keras' text_to_word_sequence; ' is kept
KERAS_TABLE = str.maketrans(KERAS_FILTERS, " " * len(KERAS_FILTERS))
TAG = re.compile(r"<[^<>]{0,200}>")
WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[!?]")
SPACE = re.compile(r"\s+")


def tokens(text, encoder):
    """A text's tokens at the encoder's level."""
    if encoder["level"] == "keras":
        return text.lower().translate(KERAS_TABLE).split()
    text = html.unescape(TAG.sub(" ", text))
    text = text.lower() if encoder["lower"] else text
    if encoder["level"] == "words":
        return WORD.findall(text)
    return list(SPACE.sub(" ", text).strip())  # characters


def cut(items, n, policy):
    """At most n items: the first, the last, or the first quarter and the last three quarters."""
    if len(items) <= n:
        return items
    if policy == "head":
        return items[:n]
    head = n // 4 if policy == "head+tail" else 0
    return items[:head] + items[len(items) - (n - head):]


def pieces(words, low, high):
    """The distinct character n-grams of the words, each word read as '<word>'."""
    out = {}
    for word in dict.fromkeys(words):
        word = f"<{word}>"
        for k in range(low, min(high, len(word)) + 1):
            for i in range(len(word) - k + 1):
                out.setdefault("#" + word[i:i + k], None)
    return list(out)


def encode(texts, encoder):
    """Texts -> (N, width) int64 ids, padded before the text."""
    index, num_words = encoder["vocabulary"]["index"], encoder["vocabulary"]["num_words"]
    maxlen, start = encoder["maxlen"], encoder["start"]
    n, char_ngrams = encoder["ngrams"], encoder.get("char_ngrams")
    each = []
    for text in texts:
        words = cut(tokens(text, encoder), maxlen - int(start), encoder["truncate"])
        items = words + [" ".join(words[i:i + k]) for k in range(2, n + 1)
                         for i in range(len(words) - k + 1)]
        items += pieces(words, *char_ngrams) if char_ngrams else []
        ids = [index.get(item, OOV) for item in items]
        each.append(([START] if start else []) + [i if i < num_words else OOV for i in ids])
    width = (max(len(ids) for ids in each) if char_ngrams
             else sum(max(maxlen - k + 1, 0) for k in range(1, n + 1)))
    rows = [[PAD] * (width - len(ids)) + ids for ids in ((ids or [OOV])[-width:] for ids in each)]
    return np.array(rows, dtype=np.int64)


def probabilities(graph, texts):
    """(N, labels) probabilities of one exported graph, and its encoder."""
    stem = graph[:-5] if graph.endswith(".onnx") else graph
    with open(stem + ".preprocessing.json", encoding="utf-8") as f:
        encoder = json.load(f)["data"]
    session = onnxruntime.InferenceSession(graph, providers=["CPUExecutionProvider"])
    x = encode(texts, encoder)
    feeds = {"x": x, "lengths": np.full(len(x), x.shape[1], dtype=np.int64)}  # every step read
    for state in session.get_inputs()[2:]:  # state_<layer>_h, _c: zeros, a fresh start
        stacked, _, size = state.shape
        feeds[state.name] = np.zeros((stacked, len(x), size), dtype=np.float32)
    output = session.run(["output"], feeds)[0].astype(np.float64)  # (N, 1) sigmoid or (N, C)
    if output.shape[1] == 1 and len(encoder["labels"]) == 2 and not encoder.get("multilabel"):
        output = np.concatenate([1 - output, output], axis=1)  # the probability of labels[1]
    return output, encoder


def classify(path, texts):
    """[(label, probability of that label)] per text, from a graph file or
    an exported ensemble's folder."""
    if os.path.isdir(path):
        with open(os.path.join(path, "ensemble.json"), encoding="utf-8") as f:
            manifest = json.load(f)
        p = sum(member["weight"] * probabilities(os.path.join(path, member["graph"]), texts)[0]
                for member in manifest["members"])
        labels = manifest["labels"]
        multilabel = False
    else:
        p, encoder = probabilities(path, texts)
        labels, multilabel = encoder["labels"], encoder.get("multilabel", False)
    if multilabel:
        return [("|".join(labels[i] for i in np.flatnonzero(row > 0.5)), float(row.max()))
                for row in p]
    return [(labels[int(row.argmax())], float(row.max())) for row in p]


def main(argv):
    if len(argv) < 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    for text, (label, probability) in zip(argv[1:], classify(argv[0], argv[1:])):
        print(f"{label}\t{probability:.6f}\t{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
