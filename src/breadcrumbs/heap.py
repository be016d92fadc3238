"""glibc's heap under ingest: chunks of 4 MiB and more are mapped on their own.

glibc maps a chunk above its threshold separately and unmaps it when freed; the threshold
starts at 128 KiB and rises to the size of each mapped chunk freed, up to 32 MiB. A flush's
sorted attribute maps (``store/gather.py``: ~60 MB in chunks of 1-30 MB) thus soon come from
the heap itself, and the holes they leave there stay resident between the decoded batches
waiting for the store. A fixed threshold keeps them mapped: the heap holds what the decoders
allocate (requests of ~0.1-1 MB), the flush's transient chunks go back to the kernel
(bench/README.md, Ingest, 4 Dec).
"""

from __future__ import annotations

import ctypes
from typing import Final

MMAP_THRESHOLD: Final = 4 << 20
_M_MMAP_THRESHOLD: Final = -3  # malloc.h


def map_large_chunks(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold at ``threshold`` bytes; False where this is not glibc."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, threshold))
