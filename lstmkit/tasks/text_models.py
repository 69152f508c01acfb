"""The members a text classifier is made of: each recipe's TextEncoder
settings, its model and how it trains.

The recipes (`RECIPES`):

- 'tutorial': the tutorial's model, Embedding(1024 words, 256) -> LSTM(128)
  -> Dropout(0.5) -> Dense (sigmoid for two classes), RMSprop, texts split
  as Keras splits them, padded and cut before the text to the length of 95%
  of them, at most 200 words (as examples/imdb_sentiment.py).
- 'lstm': a bidirectional LSTM over a 30,000-word vocabulary (words seen
  twice or more), Embedding(mask_zero=True) with word dropout and locked
  dropout, max and mean pooling over the real steps (ConcatPooling1D;
  Johnson & Zhang 2016), Adam; texts cut to 400 words head+tail; batches
  bucketed by length, padded after the real steps and masked.
- 'bag': word unigrams and bigrams averaged in one embedding (fastText,
  Joulin et al. 2017; NBSVM's bigrams, Wang & Manning 2012), Adam.
- 'nb': NBSVM (Wang & Manning 2012) as a network: word 1- to 3-grams, each
  with a weight scaled by its naive Bayes log-count ratio in the training
  texts, averaged over the text; training starts from naive Bayes' scores.
- 'nbchar': the same model over word 1- and 2-grams and the character 2- to
  5-grams of the text's words (TextEncoder's char_ngrams; fastText's
  subwords), every one kept: what a stem or an affix says reaches a model
  that sees no letters, which short texts need most.
- 'default' = 'lstm' + 'nb' + 'nbchar', weighted on the validation data:
  the order-aware recurrent model and the n-gram models err on different
  texts, and the weights find which n-grams suit the data (trigrams for
  long reviews, subwords for short sentences). The members and their
  settings were chosen on IMDB's validation tenth and on an inner
  cross-validation of Rotten Tomatoes' first training part (README).

Every member stops early on the validation data (a split of the training
data unless given), keeping its best epoch's weights; with a split, it is
then trained again on all the training texts for that many epochs.
"""

import numpy as np
import torch

from ..data.text import FIRST_WORD_ID
from ..errors import InputError
from ..layers import (LSTM, Bidirectional, ConcatPooling1D, Dense, Dropout, Embedding,
                      GlobalAveragePooling1D, LockedDropout)
from ..model import Sequential
from ..optimizers import fastest


def _output(encoder, **dense):
    """(output layer, loss) for the encoder's labels; `dense`: the layer's other arguments."""
    classes = len(encoder.labels)
    if encoder.multilabel:
        return Dense(classes, activation="sigmoid", **dense), "binary_crossentropy"
    if classes == 2:
        return Dense(1, activation="sigmoid", **dense), "binary_crossentropy"
    return Dense(classes, activation="softmax", **dense), "sparse_categorical_crossentropy"


def build_classifier(num_words=1024, num_classes=2, embedding_dim=256, units=128, dropout=0.5,
                     device="auto"):
    """The tutorial's model, compiled; a sigmoid output for two classes."""
    binary = num_classes == 2
    model = Sequential([
        Embedding(num_words, output_dim=embedding_dim),
        LSTM(units),
        Dropout(dropout),
        Dense(1 if binary else num_classes, activation="sigmoid" if binary else "softmax"),
    ])
    model.compile(
        loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy",
        optimizer="rmsprop",
        metrics=["accuracy"],
        device=device,
    )
    return model


def build_tutorial(encoder, device="auto"):
    if encoder.multilabel:
        raise InputError("the tutorial's model has one label per text; use --model default "
                         "for multi-label data")
    return build_classifier(encoder.vocabulary.num_words, len(encoder.labels), device=device)


def build_lstm(encoder, device="auto", embedding_dim=128, units=64, dropout=0.5,
               word_dropout=0.3, learning_rate=1e-3):
    """Embedding(mask_zero) -> LockedDropout -> Bidirectional(LSTM, all steps)
    -> max and mean pooling over the real steps -> Dropout -> Dense."""
    output, loss = _output(encoder)
    model = Sequential([
        Embedding(encoder.vocabulary.num_words, embedding_dim, mask_zero=True,
                  dropout=word_dropout),
        LockedDropout(dropout),
        Bidirectional(LSTM(units, return_sequences=True)),
        ConcatPooling1D(["max", "mean"]),
        Dropout(dropout),
        output,
    ])
    return _compiled(model, encoder, loss, learning_rate, device)


def _compiled(model, encoder, loss, learning_rate, device):
    """`model` compiled with Adam at `learning_rate` (accuracy for one label a
    text) and built for id sequences of any length."""
    model.compile(loss=loss, optimizer=lambda p: fastest(torch.optim.Adam, p, lr=learning_rate),
                  metrics=None if encoder.multilabel else ["accuracy"], device=device)
    model.build((None,))
    return model


def build_bag(encoder, device="auto", embedding_dim=32, dropout=0.2, learning_rate=5e-3):
    """Embedding(mask_zero) of unigrams and bigrams -> their mean -> Dropout -> Dense."""
    output, loss = _output(encoder)
    model = Sequential([
        Embedding(encoder.vocabulary.num_words, embedding_dim, mask_zero=True),
        GlobalAveragePooling1D(),
        Dropout(dropout),
        output,
    ])
    return _compiled(model, encoder, loss, learning_rate, device)


def build_nb(encoder, device="auto", learning_rate=2e-2):
    """NBSVM (Wang & Manning 2012) as a network: a weight per n-gram (and
    class), scaled by naive Bayes' log-count ratio (`set_nb_scale` sets it
    from the training texts), averaged over the text's n-grams, then a
    Dense for the output. The weights start at 1, so training starts from
    naive Bayes' own scores and early stopping keeps it between naive Bayes
    and logistic regression, as NBSVM's interpolation does."""
    output, loss = _output(encoder, kernel_initializer="identity")  # the scores as they come
    model = Sequential([
        Embedding(encoder.vocabulary.num_words, nb_columns(encoder), mask_zero=True,
                  scaled=True, embeddings_initializer="ones"),
        GlobalAveragePooling1D(),
        output,
    ])
    return _compiled(model, encoder, loss, learning_rate, device)


def nb_columns(encoder):
    """Score columns of an NB bag: one for two classes, else one per class (or label)."""
    return 1 if len(encoder.labels) == 2 and not encoder.multilabel else len(encoder.labels)


def log_count_ratios(sequences, y, num_words, columns, alpha=1.0):
    """Naive Bayes' log-count ratios (num_words, columns): for each id, the
    log of its share of the texts of a class that hold it over its share of
    the other texts', each smoothed by alpha. One column (two classes): the
    second class against the first; else each class (or label) against the
    rest. A text counts an id once; the reserved ids (padding, start,
    unknown) are 0.

    y: class ids (N,), or (N, C) 0/1 for multi-label texts.
    """
    y = np.asarray(y)
    member = y if y.ndim == 2 else np.eye(max(int(y.max()) + 1, 2))[y]  # (N, C) 0/1
    member = member[:, 1:] if columns == 1 else member
    present = [np.unique(s) for s in sequences]
    ids = np.concatenate(present)
    text = np.repeat(np.arange(len(present)), [len(p) for p in present])
    every = np.bincount(ids, minlength=num_words)[FIRST_WORD_ID:].astype(np.float64)
    ratios = np.zeros((num_words, columns))
    for c in range(columns):
        inside = np.bincount(ids, weights=member[text, c], minlength=num_words)[FIRST_WORD_ID:]
        p, q = inside + alpha, every - inside + alpha
        ratios[FIRST_WORD_ID:, c] = np.log(p / p.sum()) - np.log(q / q.sum())
    return ratios


def set_nb_scale(model, encoder, sequences, labels):
    """An NB bag's scale, from the training texts' ids and labels."""
    y = encoder.encode_labels(labels)
    model.layers[0].set_scale(log_count_ratios(sequences, y, encoder.vocabulary.num_words,
                                               nb_columns(encoder)))


# Each recipe: the TextEncoder's settings, the model builder, how its batches are
# made ('padded': (N, maxlen) arrays padded before the text, as the tutorial; 'bucketed':
# SequenceBatches of similar lengths, masked), and its training settings; 'prepare'
# (bucketed recipes only) sets what the model takes from the training texts' ids.
RECIPES = {
    "tutorial": {"encoder": {"level": "keras", "num_words": 1024, "truncate": "tail",
                             "maxlen_cap": 200},
                 "build": build_tutorial, "batches": "padded", "epochs": 10, "patience": 2,
                 "batch_size": 16},
    "lstm": {"encoder": {"level": "words", "num_words": 30000, "min_count": 2, "maxlen": 400,
                         "truncate": "head+tail"},
             "build": build_lstm, "batches": "bucketed", "epochs": 6, "patience": 2,
             "batch_size": 64},
    "bag": {"encoder": {"level": "words", "ngrams": 2, "num_words": 200000, "min_count": 2,
                        "maxlen": 1000, "truncate": "head+tail"},
            "build": build_bag, "batches": "bucketed", "epochs": 30, "patience": 2,
            "batch_size": 128},
    "nb": {"encoder": {"level": "words", "ngrams": 3, "num_words": 400000, "min_count": 2,
                       "maxlen": 1000, "truncate": "head+tail"},
           "build": build_nb, "prepare": set_nb_scale, "batches": "bucketed", "epochs": 20,
           "patience": 2, "batch_size": 64},
    "nbchar": {"encoder": {"level": "words", "ngrams": 2, "char_ngrams": [2, 5],
                           "num_words": 400000, "min_count": 1, "maxlen": 1000,
                           "truncate": "head+tail"},
               "build": build_nb, "prepare": set_nb_scale, "batches": "bucketed", "epochs": 20,
               "patience": 2, "batch_size": 64},
}
MODELS = {"default": ["lstm", "nb", "nbchar"], "tutorial": ["tutorial"], "lstm": ["lstm"],
          "bag": ["bag"], "nb": ["nb"], "nbchar": ["nbchar"]}

