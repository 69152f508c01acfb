"""Readers and batching: from user files and arrays to tensors."""

from . import text  # noqa: F401 (defines the text encoder, a preprocessing kind)
