"""Readers and batching: from user files and arrays to tensors."""
