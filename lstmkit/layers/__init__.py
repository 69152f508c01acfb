"""Keras-style layers on PyTorch, and the LSTM cell they are built on.

Every layer is a `torch.nn.Module` whose parameters are created by
`build(input_shape)` once the size of its input is known, so a `Sequential`
infers sizes at its first call. Layers take and return a padding mask, (N, T)
booleans with True at real steps, so masking flows through a model the way
Keras users expect.
"""

from ..rnn import gru_cell, lstm_cell
from .core import (AttentionPooling1D, BatchNormalization, ConcatPooling1D, Conv1D, Dense,
                   Dropout, Embedding, GlobalAveragePooling1D, GlobalMaxPooling1D, Layer,
                   LockedDropout, Masking, Parallel, TimeDistributed)
from .recurrent import GRU, LSTM, Bidirectional
from .spelling import Input
from .weightless import (Activation, DimensionShuffle, Flatten, MaxPooling1D, RepeatVector,
                         SpatialDropout1D)

__all__ = ["Layer", "Embedding", "LSTM", "GRU", "Bidirectional", "Dropout", "LockedDropout",
           "Dense", "Masking", "TimeDistributed", "GlobalAveragePooling1D", "GlobalMaxPooling1D",
           "AttentionPooling1D", "ConcatPooling1D", "Conv1D", "BatchNormalization", "Parallel",
           "Activation", "DimensionShuffle",
           "Flatten", "MaxPooling1D", "RepeatVector", "SpatialDropout1D", "Input", "lstm_cell", "gru_cell", "LAYERS"]

# the layer types a saved model may name
LAYERS = {cls.__name__: cls for cls in (Embedding, LSTM, GRU, Bidirectional, Dropout,
                                        LockedDropout, Dense, Masking, TimeDistributed,
                                        GlobalAveragePooling1D, GlobalMaxPooling1D,
                                        AttentionPooling1D, ConcatPooling1D, Conv1D,
                                        BatchNormalization, Parallel,
                                        Activation, Flatten, MaxPooling1D, RepeatVector,
                                        SpatialDropout1D, DimensionShuffle)}
