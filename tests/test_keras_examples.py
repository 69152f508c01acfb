"""Keras' classic LSTM examples, their model-building and training lines
written afresh as Keras' examples write them, run through lstmkit.keras
with only the imports changed (and sizes made tiny).

The examples: imdb_lstm, imdb_bidirectional_lstm, imdb_cnn_lstm,
lstm_text_generation, lstm_stateful and addition_rnn (Keras' examples/
folder, and keras.io's versions). Data is tiny and made here; IMDB comes
from a small archive in the layout of the real one, found through
LSTMKIT_IMDB as a user's copy would be. An example that cannot run yet is
marked xfail(strict=True) naming the missing piece, so it flips when the
piece lands.
"""

import random

import numpy as np
import pytest

from test_imdb import ARCHIVE, WORD_INDEX, write_archive

WORDS = ["the", "movie", "was", "good", "bad", "great", "awful", "plot", "actor", "film"]


@pytest.fixture
def imdb_copy(tmp_path, monkeypatch):
    """60 reviews (40 to train, 20 to test): positive ones say good or great."""
    rng = random.Random(0)
    files = {}
    for split, count in (("train", 40), ("test", 20)):
        for i in range(count):
            label = "pos" if i % 2 else "neg"
            cue = ["good", "great"] if label == "pos" else ["bad", "awful"]
            words = [rng.choice(WORDS[:3] + WORDS[7:]) for _ in range(rng.randint(4, 9))]
            words.insert(rng.randrange(len(words)), rng.choice(cue))
            files[f"aclImdb/{split}/{label}/{i}_{8 if label == 'pos' else 2}.txt"] = " ".join(words)
    write_archive(tmp_path / ARCHIVE, files)
    (tmp_path / WORD_INDEX).write_text(
        "{" + ", ".join(f'"{w}": {i + 1}' for i, w in enumerate(WORDS)) + "}")
    monkeypatch.setenv("LSTMKIT_IMDB", str(tmp_path / ARCHIVE))


def test_imdb_lstm(imdb_copy):
    from lstmkit.keras.preprocessing import sequence
    from lstmkit.keras.models import Sequential
    from lstmkit.keras.layers import Dense, Embedding
    from lstmkit.keras.layers import LSTM
    from lstmkit.keras.datasets import imdb

    max_features = 20
    maxlen = 8
    batch_size = 8

    (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=max_features)
    x_train = sequence.pad_sequences(x_train, maxlen=maxlen)
    x_test = sequence.pad_sequences(x_test, maxlen=maxlen)

    model = Sequential()
    model.add(Embedding(max_features, 8))
    model.add(LSTM(8, dropout=0.2, recurrent_dropout=0.2))
    model.add(Dense(1, activation='sigmoid'))

    model.compile(loss='binary_crossentropy',
                  optimizer='adam',
                  metrics=['accuracy'])

    model.fit(x_train, y_train,
              batch_size=batch_size,
              epochs=2,
              validation_data=(x_test, y_test))
    score, acc = model.evaluate(x_test, y_test,
                                batch_size=batch_size)
    assert 0 <= acc <= 1 and np.isfinite(score)


def test_imdb_bidirectional_lstm(imdb_copy):
    import numpy as np
    from lstmkit.keras.preprocessing import sequence
    from lstmkit.keras.models import Sequential
    from lstmkit.keras.layers import Dense, Dropout, Embedding, LSTM, Bidirectional
    from lstmkit.keras.datasets import imdb

    max_features = 20
    maxlen = 10
    batch_size = 8

    (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=max_features)
    x_train = sequence.pad_sequences(x_train, maxlen=maxlen)
    x_test = sequence.pad_sequences(x_test, maxlen=maxlen)
    y_train = np.array(y_train)
    y_test = np.array(y_test)

    model = Sequential()
    model.add(Embedding(max_features, 8, input_length=maxlen))
    model.add(Bidirectional(LSTM(8)))
    model.add(Dropout(0.5))
    model.add(Dense(1, activation='sigmoid'))

    model.compile('adam', 'binary_crossentropy', metrics=['accuracy'])

    history = model.fit(x_train, y_train,
                        batch_size=batch_size,
                        epochs=2,
                        validation_data=[x_test, y_test])
    assert set(history.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_imdb_cnn_lstm(imdb_copy):
    from lstmkit.keras.preprocessing import sequence
    from lstmkit.keras.models import Sequential
    from lstmkit.keras.layers import Dense, Dropout, Activation
    from lstmkit.keras.layers import Embedding
    from lstmkit.keras.layers import LSTM
    from lstmkit.keras.layers import Conv1D, MaxPooling1D
    from lstmkit.keras.datasets import imdb

    max_features = 20
    maxlen = 10
    embedding_size = 8
    kernel_size = 3
    filters = 4
    pool_size = 2
    lstm_output_size = 6
    batch_size = 8
    epochs = 2

    (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=max_features)
    x_train = sequence.pad_sequences(x_train, maxlen=maxlen)
    x_test = sequence.pad_sequences(x_test, maxlen=maxlen)

    model = Sequential()
    model.add(Embedding(max_features, embedding_size, input_length=maxlen))
    model.add(Dropout(0.25))
    model.add(Conv1D(filters,
                     kernel_size,
                     padding='valid',
                     activation='relu',
                     strides=1))
    model.add(MaxPooling1D(pool_size=pool_size))
    model.add(LSTM(lstm_output_size))
    model.add(Dense(1))
    model.add(Activation('sigmoid'))

    model.compile(loss='binary_crossentropy',
                  optimizer='adam',
                  metrics=['accuracy'])
    model.fit(x_train, y_train,
              batch_size=batch_size,
              epochs=epochs,
              validation_data=(x_test, y_test))
    score, acc = model.evaluate(x_test, y_test, batch_size=batch_size)
    assert 0 <= acc <= 1 and np.isfinite(score)


def test_lstm_text_generation():
    from lstmkit.keras.callbacks import LambdaCallback
    from lstmkit.keras.models import Sequential
    from lstmkit.keras.layers import Dense
    from lstmkit.keras.layers import LSTM
    from lstmkit.keras.optimizers import RMSprop
    import numpy as np
    import random

    text = "the quick brown fox jumps over the lazy dog. " * 6
    chars = sorted(list(set(text)))
    char_indices = dict((c, i) for i, c in enumerate(chars))
    indices_char = dict((i, c) for i, c in enumerate(chars))

    maxlen = 10
    step = 3
    sentences = []
    next_chars = []
    for i in range(0, len(text) - maxlen, step):
        sentences.append(text[i: i + maxlen])
        next_chars.append(text[i + maxlen])

    x = np.zeros((len(sentences), maxlen, len(chars)), dtype=bool)
    y = np.zeros((len(sentences), len(chars)), dtype=bool)
    for i, sentence in enumerate(sentences):
        for t, char in enumerate(sentence):
            x[i, t, char_indices[char]] = 1
        y[i, char_indices[next_chars[i]]] = 1

    model = Sequential()
    model.add(LSTM(16, input_shape=(maxlen, len(chars))))
    model.add(Dense(len(chars), activation='softmax'))

    optimizer = RMSprop(learning_rate=0.01)
    model.compile(loss='categorical_crossentropy', optimizer=optimizer)

    def sample(preds, temperature=1.0):
        preds = np.asarray(preds).astype('float64')
        preds = np.log(preds) / temperature
        exp_preds = np.exp(preds)
        preds = exp_preds / np.sum(exp_preds)
        probas = np.random.multinomial(1, preds, 1)
        return np.argmax(probas)

    generated_texts = []

    def on_epoch_end(epoch, _):
        start_index = random.randint(0, len(text) - maxlen - 1)
        for diversity in [0.2, 1.0]:
            generated = ''
            sentence = text[start_index: start_index + maxlen]
            generated += sentence
            for i in range(20):
                x_pred = np.zeros((1, maxlen, len(chars)))
                for t, char in enumerate(sentence):
                    x_pred[0, t, char_indices[char]] = 1.

                preds = model.predict(x_pred, verbose=0)[0]
                next_index = sample(preds, diversity)
                next_char = indices_char[next_index]

                sentence = sentence[1:] + next_char
                generated += next_char
            generated_texts.append(generated)

    print_callback = LambdaCallback(on_epoch_end=on_epoch_end)

    model.fit(x, y,
              batch_size=16,
              epochs=2,
              callbacks=[print_callback])
    assert len(generated_texts) == 4 and all(len(g) == maxlen + 20 for g in generated_texts)


def test_lstm_stateful():
    import numpy as np
    from lstmkit.keras.models import Sequential
    from lstmkit.keras.layers import Dense, LSTM

    tsteps = 1
    batch_size = 5
    epochs = 3
    lahead = 1

    def gen_cosine_amp(amp=100, period=10, x0=0, xn=100, step=1, k=0.0001):
        cos = np.zeros(((xn - x0) * step, 1, 1))
        for i in range(len(cos)):
            idx = x0 + i * step
            cos[i, 0, 0] = amp * np.cos(2 * np.pi * idx / period)
            cos[i, 0, 0] = cos[i, 0, 0] * np.exp(-k * idx)
        return cos

    cos = gen_cosine_amp()
    expected_output = np.zeros((len(cos), 1))
    for i in range(len(cos) - lahead):
        expected_output[i, 0] = np.mean(cos[i + 1:i + lahead + 1])

    model = Sequential()
    model.add(LSTM(8,
                   batch_input_shape=(batch_size, tsteps, 1),
                   return_sequences=False,
                   stateful=True))
    model.add(Dense(1))
    model.compile(loss='mse', optimizer='rmsprop')

    for i in range(epochs):
        model.fit(cos, expected_output,
                  batch_size=batch_size,
                  epochs=1,
                  verbose=1,
                  shuffle=False)
        model.reset_states()

    predicted_output = model.predict(cos, batch_size=batch_size)
    assert predicted_output.shape == (len(cos), 1)


def test_addition_rnn():
    import numpy as np
    from lstmkit.keras.models import Sequential
    from lstmkit.keras import layers

    class CharacterTable:
        def __init__(self, chars):
            self.chars = sorted(set(chars))
            self.char_indices = dict((c, i) for i, c in enumerate(self.chars))
            self.indices_char = dict((i, c) for i, c in enumerate(self.chars))

        def encode(self, C, num_rows):
            x = np.zeros((num_rows, len(self.chars)))
            for i, c in enumerate(C):
                x[i, self.char_indices[c]] = 1
            return x

        def decode(self, x, calc_argmax=True):
            if calc_argmax:
                x = x.argmax(axis=-1)
            return ''.join(self.indices_char[x] for x in x)

    TRAINING_SIZE = 200
    DIGITS = 2
    REVERSE = True
    MAXLEN = DIGITS + 1 + DIGITS

    chars = '0123456789+ '
    ctable = CharacterTable(chars)

    questions = []
    expected = []
    seen = set()
    np.random.seed(0)
    while len(questions) < TRAINING_SIZE:
        f = lambda: int(''.join(np.random.choice(list('0123456789'))  # noqa: E731
                                for i in range(np.random.randint(1, DIGITS + 1))))
        a, b = f(), f()
        key = tuple(sorted((a, b)))
        if key in seen:
            continue
        seen.add(key)
        q = '{}+{}'.format(a, b)
        query = q + ' ' * (MAXLEN - len(q))
        ans = str(a + b)
        ans += ' ' * (DIGITS + 1 - len(ans))
        if REVERSE:
            query = query[::-1]
        questions.append(query)
        expected.append(ans)

    x = np.zeros((len(questions), MAXLEN, len(chars)), dtype=bool)
    y = np.zeros((len(questions), DIGITS + 1, len(chars)), dtype=bool)
    for i, sentence in enumerate(questions):
        x[i] = ctable.encode(sentence, MAXLEN)
    for i, sentence in enumerate(expected):
        y[i] = ctable.encode(sentence, DIGITS + 1)

    indices = np.arange(len(y))
    np.random.shuffle(indices)
    x = x[indices]
    y = y[indices]

    split_at = len(x) - len(x) // 10
    (x_train, x_val) = x[:split_at], x[split_at:]
    (y_train, y_val) = y[:split_at], y[split_at:]

    RNN = layers.LSTM
    HIDDEN_SIZE = 16
    BATCH_SIZE = 32
    LAYERS = 1

    model = Sequential()
    model.add(RNN(HIDDEN_SIZE, input_shape=(MAXLEN, len(chars))))
    model.add(layers.RepeatVector(DIGITS + 1))
    for _ in range(LAYERS):
        model.add(RNN(HIDDEN_SIZE, return_sequences=True))
    model.add(layers.TimeDistributed(layers.Dense(len(chars), activation='softmax')))
    model.compile(loss='categorical_crossentropy',
                  optimizer='adam',
                  metrics=['accuracy'])
    model.summary()

    guesses = []
    for iteration in range(1, 3):
        model.fit(x_train, y_train,
                  batch_size=BATCH_SIZE,
                  epochs=1,
                  validation_data=(x_val, y_val))
        for i in range(3):
            ind = np.random.randint(0, len(x_val))
            rowx, rowy = x_val[np.array([ind])], y_val[np.array([ind])]
            preds = np.argmax(model.predict(rowx, verbose=0), axis=-1)
            q = ctable.decode(rowx[0])
            correct = ctable.decode(rowy[0])
            guess = ctable.decode(preds[0], calc_argmax=False)
            guesses.append((q, correct, guess))
    assert len(guesses) == 6 and all(len(g) == DIGITS + 1 for _, _, g in guesses)
