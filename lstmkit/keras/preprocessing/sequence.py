"""keras.preprocessing.sequence: pad_sequences (lstmkit's; int64 by default)."""

from ...data.batching import pad_sequences

__all__ = ["pad_sequences"]
