"""The C allocator's settings for a training loop (Linux with glibc).

A training step allocates and frees the same large buffers every time: a
language model's (batch x steps, vocabulary) logits and their gradient are
16 MB each at PTB's sizes. glibc's malloc serves blocks that large with
mmap and gives them back to the kernel when freed (and trims the heap above
128 KB free), so the next step maps them again and the kernel zeroes every
page on first touch: about 8,800 page faults, some 35 MB zeroed, per step
of Zaremba's small PTB model (measured with getrusage; benchmarks/
ptb_small.py). Raising the mmap and trim thresholds keeps freed memory in
the process for the next step: the process holds its peak footprint (what
the step needs anyway) instead of returning it between steps.

`keep_freed_memory` is called once when training starts (lstmkit.train.
fit_model). LSTMKIT_KEEP_FREED_MEMORY=0 leaves the allocator as it is.
"""

import ctypes
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
MMAP_THRESHOLDS = (1 << 30, 32 << 20)  # 1 GiB; older glibc accept at most 32 MiB
TRIM_THRESHOLD = 1 << 30

_applied = None


def keep_freed_memory():
    """Have glibc keep freed blocks up to 1 GiB for reuse instead of
    unmapping them; returns whether the settings were applied (False off
    Linux/glibc or when LSTMKIT_KEEP_FREED_MEMORY=0). Idempotent."""
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if not sys.platform.startswith("linux") or os.environ.get("LSTMKIT_KEEP_FREED_MEMORY") == "0":
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # musl and other C libraries: nothing to set
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    if any(mallopt(M_MMAP_THRESHOLD, value) == 1 for value in MMAP_THRESHOLDS):
        _applied = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    return _applied
