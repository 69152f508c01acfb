"""Classify texts with a text model exported by `lstmkit export`, with
onnxruntime and NumPy alone: neither torch nor lstmkit is imported.

    .venv/bin/lstmkit demo --out runs/demo --quiet
    .venv/bin/lstmkit export runs/demo --format onnx    # model.onnx, model.preprocessing.json
    .venv/bin/python examples/onnx_inference.py runs/demo/model.onnx "not worth it" "works great"

Each text is encoded as lstmkit's TextEncoder does (Keras' tokenizer: lower
case, punctuation to spaces; ids 0 pad, 1 start, 2 out of vocabulary; cut
and padded before the text to maxlen), from the vocabulary written beside
the graph. Prints, per text, the label, its probability and the text.
"""

import json
import sys

import numpy as np
import onnxruntime

FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'  # Keras' text_to_word_sequence; ' is kept
PAD, START, OOV = 0, 1, 2


def encode(texts, encoder):
    """Texts -> (N, maxlen) int64 ids, padded and cut before the text."""
    index, num_words = encoder["vocabulary"]["index"], encoder["vocabulary"]["num_words"]
    maxlen, table = encoder["maxlen"], str.maketrans(FILTERS, " " * len(FILTERS))
    rows = []
    for text in texts:
        ids = [START] + [index.get(word, OOV) for word in text.lower().translate(table).split()]
        ids = [i if i < num_words else OOV for i in ids][-maxlen:]
        rows.append([PAD] * (maxlen - len(ids)) + ids)
    return np.array(rows, dtype=np.int64)


def classify(model_path, texts):
    """[(label, probability of that label)] per text."""
    stem = model_path[:-5] if model_path.endswith(".onnx") else model_path
    with open(stem + ".preprocessing.json", encoding="utf-8") as f:
        encoder = json.load(f)["data"]
    session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    x = encode(texts, encoder)
    feeds = {"x": x, "lengths": np.full(len(x), x.shape[1], dtype=np.int64)}  # every step read
    for state in session.get_inputs()[2:]:  # state_<layer>_h, _c: zeros, a fresh start
        stacked, _, size = state.shape
        feeds[state.name] = np.zeros((stacked, len(x), size), dtype=np.float32)
    output = session.run(["output"], feeds)[0]  # (N, 1) sigmoid, or (N, classes) softmax
    labels = encoder["labels"]
    if output.shape[1] == 1:
        return [(labels[int(p > 0.5)], float(p if p > 0.5 else 1 - p)) for p in output[:, 0]]
    return [(labels[int(row.argmax())], float(row.max())) for row in output]


def main(argv):
    if len(argv) < 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    for text, (label, probability) in zip(argv[1:], classify(argv[0], argv[1:])):
        print(f"{label}\t{probability:.6f}\t{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
