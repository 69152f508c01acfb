"""keras.layers: lstmkit's layers under Keras' names.

A Keras name is looked up in lstmkit.layers when it is asked for, so a
layer lstmkit gains is offered here at once. `SpatialDropout1D` is
lstmkit's `LockedDropout` (one mask per sequence, the same at every step,
which is what Keras' SpatialDropout1D draws) until lstmkit has a layer of
that name. lstmkit's own layers (`LockedDropout`, `AttentionPooling1D`) and
the cells (`lstm_cell`, `gru_cell`) are here too. A Keras layer lstmkit
lacks raises NotSupportedError with what to use instead.
"""

from .. import layers as _layers
from ._keras_names import KERAS_NAMES as _KERAS_NAMES
from ._support import refuse as _refuse_path
from ._support import refusals as _refusals

# Keras' name -> lstmkit's names for it, the first one lstmkit has wins
KERAS_TO_LSTMKIT = {
    "Embedding": ("Embedding",), "LSTM": ("LSTM",), "GRU": ("GRU",),
    "Bidirectional": ("Bidirectional",), "Dropout": ("Dropout",), "Dense": ("Dense",),
    "Masking": ("Masking",), "TimeDistributed": ("TimeDistributed",),
    "GlobalAveragePooling1D": ("GlobalAveragePooling1D",),
    "GlobalAvgPool1D": ("GlobalAveragePooling1D",),
    "GlobalMaxPooling1D": ("GlobalMaxPooling1D",), "GlobalMaxPool1D": ("GlobalMaxPooling1D",),
    "Conv1D": ("Conv1D",), "Convolution1D": ("Conv1D",),
    "MaxPooling1D": ("MaxPooling1D",), "MaxPool1D": ("MaxPooling1D",),
    "SpatialDropout1D": ("SpatialDropout1D", "LockedDropout"),
    "Input": ("Input",), "InputLayer": ("InputLayer",), "Activation": ("Activation",),
    "Flatten": ("Flatten",), "RepeatVector": ("RepeatVector",), "Layer": ("Layer",),
    "BatchNormalization": ("BatchNormalization",),
}
_LSTMKIT_ONLY = ("LockedDropout", "AttentionPooling1D", "lstm_cell", "gru_cell")

_HINTS = {
    "SimpleRNN": "use LSTM or GRU",
    "CuDNNLSTM": "use LSTM: it runs cuDNN's fused kernel on a GPU by itself",
    "CuDNNGRU": "use GRU: it runs cuDNN's fused kernel on a GPU by itself",
    "LSTMCell": "use LSTM (lstmkit.layers.lstm_cell is the step as a pure function)",
    "GRUCell": "use GRU (lstmkit.layers.gru_cell is the step as a pure function)",
    "SimpleRNNCell": "use LSTM or GRU",
    "RNN": "use LSTM or GRU; a custom cell is not supported",
    "StackedRNNCells": "stack LSTM layers, or use LSTM(num_layers=N)",
    "ConvLSTM1D": "use Conv1D then LSTM", "ConvLSTM2D": "not offered", "ConvLSTM3D": "not offered",
    "Lambda": "a model file cannot hold code: write a subclass of lstmkit.layers.Layer",
    "Attention": "AttentionPooling1D pools a sequence with learnt weights; "
                 "attention between sequences is not offered",
    "MultiHeadAttention": "AttentionPooling1D pools a sequence with learnt weights; "
                          "attention between sequences is not offered",
    "Concatenate": "lstmkit has Sequential models only (no functional API)",
    "concatenate": "lstmkit has Sequential models only (no functional API)",
    "Add": "lstmkit has Sequential models only", "add": "lstmkit has Sequential models only",
    "TextVectorization": "use lstmkit.data.text (Vocabulary, TextEncoder) before the model",
    "LayerNormalization": "not offered",
    "Reshape": "not offered",
    "Permute": "Permute((2, 1)) on a series, LSTM-FCN's dimension shuffle, is "
               "lstmkit.layers.DimensionShuffle(length) (any length, padded or cut)",
    "LeakyReLU": "use Dense(activation=...) with 'relu', 'tanh', 'sigmoid' or 'softmax'",
    "ReLU": "use Dense(activation='relu') (or Activation('relu') where lstmkit has it)",
    "Softmax": "use Dense(activation='softmax')",
}


class LSTM(_layers.LSTM):
    """lstmkit's LSTM with Keras' meaning of `dropout`: the input features
    dropped, one mask a sequence for all its steps (lstmkit's
    `input_dropout`; lstmkit.layers.LSTM's own `dropout` acts between
    stacked layers). Its saved configuration is lstmkit's LSTM's."""

    def __init__(self, units, *, dropout=0.0, **kwargs):
        super().__init__(units, input_dropout=dropout, **kwargs)


class GRU(_layers.GRU):
    """lstmkit's GRU with Keras' meaning of `dropout` (see LSTM)."""

    def __init__(self, units, *, dropout=0.0, **kwargs):
        super().__init__(units, input_dropout=dropout, **kwargs)


class Conv1D(_layers.Conv1D):
    """lstmkit's Conv1D in Keras' argument order and with Keras' default
    padding='valid' (lstmkit.layers.Conv1D defaults to 'same')."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", dilation_rate=1,
                 activation=None, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 **kwargs):
        super().__init__(filters, kernel_size, dilation_rate, activation, kernel_initializer,
                         bias_initializer, padding, strides, **kwargs)


Convolution1D = Conv1D


def _available():
    return [k for k, names in KERAS_TO_LSTMKIT.items()
            if any(hasattr(_layers, n) for n in names)] + list(_LSTMKIT_ONLY)


_refuse = _refusals("layers", _KERAS_NAMES["layers"] | set(_HINTS), _HINTS,
                   "lstmkit does not have this layer; its layers are those of lstmkit.layers",
                   _available)


# `from keras.layers import *` (older tutorials' way): every layer lstmkit has under Keras' names
__all__ = sorted(set(_available()))


def __getattr__(name):
    for target in KERAS_TO_LSTMKIT.get(name, ()):
        if hasattr(_layers, target):
            return getattr(_layers, target)
    if name in _LSTMKIT_ONLY:
        return getattr(_layers, name)
    if name in KERAS_TO_LSTMKIT:
        _refuse_path(f"layers.{name}", f"not in lstmkit.layers yet; its layers: "
               f"{', '.join(sorted(_available()))}")
    return _refuse(name)


def __dir__():
    return sorted(set(_available()) | {"KERAS_TO_LSTMKIT"})
