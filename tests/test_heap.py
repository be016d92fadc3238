"""``heap.map_large_chunks``: glibc maps large chunks on their own, however large a chunk it
freed before (its default threshold rises with each, and large chunks then fill the heap)."""

from __future__ import annotations

import ctypes
import subprocess
import sys

import pytest

# In a child: the setting is for the whole process. A 16 MiB chunk freed, then how an 8 MiB
# one is allocated (mallinfo2's hblkhd: bytes in mapped chunks).
_CHILD = """
import ctypes, sys
from breadcrumbs import heap
class Info(ctypes.Structure):
    names = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
    _fields_ = [(n, ctypes.c_size_t) for n in names.split()]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
if sys.argv[1] == "fixed":
    assert heap.map_large_chunks()
freed = bytearray(16 << 20)
del freed
before = libc.mallinfo2().hblkhd
chunk = bytearray(8 << 20)
print(libc.mallinfo2().hblkhd - before >= 8 << 20)
"""


def _mapped(mode: str) -> bool:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, mode], capture_output=True, text=True, check=True
    )
    return out.stdout.strip() == "True"


def test_a_large_chunk_is_mapped_after_a_larger_one_was_freed() -> None:
    if not hasattr(ctypes.CDLL(None), "mallinfo2"):
        pytest.skip("needs glibc >= 2.33 (mallinfo2)")
    assert not _mapped("default")  # glibc's threshold rose to 16 MiB
    assert _mapped("fixed")
