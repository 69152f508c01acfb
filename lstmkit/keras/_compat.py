"""What of Keras lstmkit.keras accepts, accepts with another meaning, or refuses.

ROWS is the table README's "Keras code on lstmkit" shows between the
markers `<!-- keras-compat -->` and `<!-- /keras-compat -->`; each row's
entries are Python expressions under `keras` (lstmkit.keras), and
tests/test_keras_compat.py evaluates every one: an accepted entry must give
a value, a refused one must raise a LstmkitError (NotSupportedError for a
name), and README must hold exactly `table()`. To rewrite README's copy:

    .venv/bin/python -m lstmkit.keras._compat --write README.md
"""

import re
import sys
from dataclasses import dataclass

ACCEPTED, DIFFERENT, REFUSED = "accepted", "accepted, another meaning", "refused"
BEGIN, END = "<!-- keras-compat -->", "<!-- /keras-compat -->"


@dataclass(frozen=True)
class Row:
    entries: tuple  # expressions under `keras`
    status: str
    note: str


ROWS = [
    # ----- models and layers
    Row(("Sequential", "models.Sequential"), ACCEPTED,
        "lstmkit's Sequential (a torch.nn.Module); compile in Keras' order, fit, evaluate, "
        "predict, summary"),
    Row(("models.load_model", "models.save_model"), DIFFERENT,
        "the file is lstmkit's safe format (JSON and safetensors, never a pickle), written by "
        "model.save(path), not Keras' .keras zip; only names of losses, metrics and optimizers "
        "are kept in it"),
    Row(("layers.Embedding", "layers.LSTM", "layers.GRU", "layers.Bidirectional",
         "layers.Dropout", "layers.Dense", "layers.Masking", "layers.TimeDistributed",
         "layers.GlobalAveragePooling1D", "layers.GlobalMaxPooling1D", "layers.MaxPooling1D",
         "layers.SpatialDropout1D", "layers.Flatten", "layers.RepeatVector", "layers.Activation",
         "layers.Input", "Input"), ACCEPTED,
        "lstmkit.layers' classes, with Keras' arguments and input spellings"),
    Row(("layers.LSTM(4, dropout=.2)", "layers.GRU(4, dropout=.2)"), ACCEPTED,
        "Keras' meaning: the input features dropped, one mask a sequence (lstmkit's "
        "input_dropout, on the fused kernel); lstmkit.layers.LSTM's own dropout= acts between "
        "stacked layers (num_layers > 1), torch's meaning"),
    Row(("layers.Conv1D(4, 3)", "layers.Conv1D(4, 3, strides=2, padding='same')"), ACCEPTED,
        "Keras' arguments and default padding='valid' (lstmkit.layers.Conv1D defaults to "
        "'same'); a mask passes only 'same' with stride 1, as Keras drops it otherwise"),
    Row(("layers.BatchNormalization()", "layers.BatchNormalization(momentum=.9, "
         "synchronized=True)"), ACCEPTED,
        "Keras' arguments and defaults (its momentum, epsilon and biased moving variance), on "
        "the last axis only; under a mask, the statistics of the real steps"),
    Row(("layers.Layer", "Layer"), DIFFERENT,
        "lstmkit's base class: a subclass writes build, output_shape and forward, not Keras' "
        "call"),
    Row(("layers.SimpleRNN", "layers.LSTMCell", "layers.GRUCell", "layers.RNN",
         "layers.CuDNNLSTM"), REFUSED,
        "use LSTM or GRU (which run cuDNN on a GPU themselves)"),
    Row(("layers.Lambda",), REFUSED, "a model file holds no code: subclass lstmkit.layers.Layer"),
    Row(("layers.Concatenate", "layers.Add", "Model", "models.Model", "models.clone_model",
         "models.model_from_json"), REFUSED,
        "Sequential models only: no functional API and no subclassed Model"),
    Row(("layers.Conv2D", "layers.LayerNormalization", "layers.MultiHeadAttention",
         "layers.TextVectorization"), REFUSED,
        "with what to use where lstmkit has something near it; any layer lstmkit lacks is "
        "refused so"),
    # ----- training
    Row(("optimizers.SGD(momentum=.9)", "optimizers.RMSprop()", "optimizers.Adam(1e-3)",
         "optimizers.AdamW()", "optimizers.Adagrad()", "optimizers.Adadelta()",
         "optimizers.Adamax()", "optimizers.Nadam()"), DIFFERENT,
        "Keras' arguments and defaults, making torch.optim's optimizer of the same algorithm "
        "(compile takes it as a factory f(params)); weight_decay decoupled and clipnorm, "
        "clipvalue, global_clipnorm as Keras'; torch places epsilon otherwise (outside the root "
        "for RMSprop and Adagrad, after bias correction for the Adam family); a model file "
        "does not keep it"),
    Row(("optimizers.schedules.ExponentialDecay(.1, 100, .9)",
         "optimizers.schedules.CosineDecay(.1, 100)",
         "optimizers.schedules.PiecewiseConstantDecay([10], [.1, .01])"), ACCEPTED,
        "set the learning rate at every step, the step count kept in checkpoints"),
    Row(("optimizers.Adam(lr=.01)", "optimizers.Adam(use_ema=True)", "optimizers.Lion()",
         "optimizers.Ftrl()"), REFUSED,
        "Keras 2's lr (use learning_rate), moving averages, and algorithms torch.optim lacks"),
    Row(("losses.BinaryCrossentropy()", "losses.CategoricalCrossentropy()",
         "losses.SparseCategoricalCrossentropy()", "losses.MeanSquaredError()",
         "losses.MeanAbsoluteError()", "losses.binary_crossentropy", "losses.mse"), ACCEPTED,
        "lstmkit's losses by name (from the logits after a sigmoid or softmax), saved with the "
        "model"),
    Row(("losses.BinaryCrossentropy(from_logits=True)",
         "losses.CategoricalCrossentropy(label_smoothing=.1)",
         "losses.MeanSquaredError(reduction='sum')", "losses.Huber()", "losses.KLDivergence()"),
        REFUSED,
        "from_logits: give the last layer its sigmoid or softmax, lstmkit uses the logits "
        "itself; other losses: pass a callable loss(y_pred, y_true)"),
    Row(("metrics.BinaryAccuracy()", "metrics.CategoricalAccuracy()",
         "metrics.SparseCategoricalAccuracy()", "metrics.MeanSquaredError()",
         "metrics.MeanAbsoluteError()", "metrics.binary_accuracy"), ACCEPTED,
        "lstmkit's metrics by name; another name= or threshold= makes a callable metric"),
    Row(("metrics.Accuracy()",), DIFFERENT,
        "lstmkit's 'accuracy': binary, categorical or sparse accuracy picked from the loss, as "
        "Keras' string 'accuracy'; Keras' Accuracy class compares for equality"),
    Row(("metrics.AUC()", "metrics.Precision()", "metrics.F1Score()"), REFUSED,
        "pass a callable metric(y_pred, y_true) giving one value per sample"),
    Row(("initializers.GlorotUniform()", "initializers.Orthogonal()",
         "initializers.he_normal", "initializers.get('lecun_uniform')"), ACCEPTED,
        "every initialiser Keras documents, Keras' defaults and fans; saved as its name"),
    Row(("initializers.RandomNormal(stddev=.1)", "initializers.GlorotUniform(seed=1)"),
        DIFFERENT, "trains, but a model file cannot hold it (only default arguments are names)"),
    Row(("activations.relu", "activations.softmax"), DIFFERENT,
        "the names 'relu', ..., which layers take and files keep; not functions of a tensor"),
    Row(("activations.gelu",), REFUSED,
        "lstmkit's layers take linear, sigmoid, tanh, relu and softmax"),
    # ----- callbacks
    Row(("callbacks.Callback", "callbacks.LambdaCallback()", "callbacks.EarlyStopping()",
         "callbacks.CSVLogger('log.csv')", "callbacks.ReduceLROnPlateau()",
         "callbacks.LearningRateScheduler(lambda epoch, lr: lr)"), ACCEPTED,
        "Keras' hooks, arguments and decisions; their state goes into lstmkit's checkpoints, "
        "so a resumed run ends as an uninterrupted one"),
    Row(("callbacks.ModelCheckpoint('m-{epoch:02d}.keras')",), DIFFERENT,
        "writes model.save's format (weights only: one safetensors file), not Keras' files"),
    Row(("callbacks.TerminateOnNaN()",), DIFFERENT,
        "stops at the first non-finite batch loss by raising TerminatedOnNaN (a "
        "NonFiniteLossError and RuntimeError) even with raise_error=False: lstmkit's loop never "
        "returns after one (it stops on its own within half a second without it)"),
    Row(("callbacks.History",), DIFFERENT,
        "the object fit returns; lstmkit's hooks (trainer first), no .model or .params; it "
        "records the logs before the Keras callbacks add learning_rate to them"),
    Row(("callbacks.ModelCheckpoint('m.h5')", "callbacks.TensorBoard",
         "callbacks.BackupAndRestore", "callbacks.ProgbarLogger"), REFUSED,
        "HDF5; TensorBoard (use CSVLogger); BackupAndRestore (use fit(checkpoint_dir=..., "
        "resume=...)); the bar is fit(verbose=1)"),
    # ----- data and utilities
    Row(("datasets.imdb.load_data", "datasets.imdb.get_word_index"), DIFFERENT,
        "Keras' arguments and ids, from a local copy of the review archive (path=, "
        "LSTMKIT_IMDB, or the shared one; never the network), tokenised from the text, so a "
        "review may differ from Keras' by a word and the order is another"),
    Row(("datasets.mnist", "datasets.reuters", "utils.get_file"), REFUSED,
        "IMDB only, and nothing is downloaded"),
    Row(("preprocessing.sequence.pad_sequences", "utils.pad_sequences",
         "utils.to_categorical"), DIFFERENT,
        "Keras' arguments; the padded ids are int64 (Keras: int32), one-hot rows float32 "
        "(Keras: float64)"),
    Row(("utils.set_random_seed", "utils.normalize", "backend.epsilon()", "backend.floatx()"),
        ACCEPTED, "set_random_seed seeds Python, NumPy and torch (lstmkit.set_seed)"),
    Row(("utils.clear_session()", "backend.clear_session()"), DIFFERENT,
        "does nothing: lstmkit keeps no global graph"),
    Row(("regularizers", "constraints", "ops", "mixed_precision", "preprocessing.text",
         "utils.plot_model"), REFUSED,
        "with what to use instead (dropout options, weight_decay=, torch code, "
        "fit(precision='mixed_bfloat16'), lstmkit.data.text, model.summary())"),
]


def _cell(entries):
    return ", ".join(f"`keras.{e}`" for e in entries)


def table():
    """The Markdown table of ROWS, as README holds it between the markers.
    (Its numbers are written .1, not 0.1: tests/test_readme.py takes a
    README table with figures such as 0.1 for a measurement.)"""
    lines = ["| Keras code | on lstmkit |", "|---|---|"]
    for row in ROWS:
        lines.append(f"| {_cell(row.entries)} | **{row.status}**: {row.note} |")
    return "\n".join(lines) + "\n"


MARKED = re.compile(re.escape(BEGIN) + r"\n(.*?)" + re.escape(END), re.DOTALL)


def in_readme(text):
    """What README holds between the markers, or None."""
    found = MARKED.search(text)
    return found.group(1) if found else None


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 2 and argv[0] == "--write":
        with open(argv[1], encoding="utf-8") as f:
            text = f.read()
        if in_readme(text) is None:
            sys.exit(f"{argv[1]} has no {BEGIN} ... {END} markers")
        with open(argv[1], "w", encoding="utf-8") as f:
            f.write(MARKED.sub(lambda m: f"{BEGIN}\n{table()}{END}", text))
    else:
        sys.stdout.write(table())


if __name__ == "__main__":
    main()
