"""Rows of a chunked attribute column in a given order, without concatenating it first.

pyarrow's ``take`` of a chunked list column concatenates the chunks, then takes: a flush
sorting 200k spans held a ~60 MB copy of ``SpanAttributes`` beside the sorted one, and Arrow's
pool keeps its peak resident (bench/README.md, Ingest, 4 Dec). ``take_entries`` gathers the
rows from the chunks directly (``breadcrumbs._native``), sized exactly; where the extension is
not built, or a chunk has nulls or array offsets, it is pyarrow's ``take``.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

from breadcrumbs.codec.otlp.native import _native

ENTRIES_TYPE: Final = pa.list_(
    pa.struct([pa.field("key", pa.string(), nullable=False), pa.field("value", pa.string())])
)
"""Attribute maps as the stores take them: lists of (key, value) entries."""


def _buffers(chunk: pa.Array) -> list[pa.Buffer] | None:
    """(list offsets, key offsets, key bytes, value offsets, value bytes), or None where the
    chunk is not in the plain layout the native gather reads (nulls, offsets into buffers)."""
    assert isinstance(chunk, pa.ListArray)
    entries = chunk.values
    assert isinstance(entries, pa.StructArray)
    keys, values = entries.field(0), entries.field(1)
    parts = (chunk, entries, keys, values)
    if any(part.offset or part.null_count for part in parts):
        return None
    key_offsets, key_bytes = keys.buffers()[1:3]
    value_offsets, value_bytes = values.buffers()[1:3]
    list_offsets = chunk.buffers()[1]
    found = [list_offsets, key_offsets, key_bytes, value_offsets, value_bytes]
    if any(buffer is None for buffer in found):
        return None  # an empty array may come without buffers
    return [buffer for buffer in found if buffer is not None]


def take_entries(column: pa.ChunkedArray, indices: pa.Array) -> pa.ChunkedArray:
    """``column.take(indices)`` for an ``ENTRIES_TYPE`` column (``indices``: uint64 or int64,
    no nulls, as ``pc.sort_indices`` gives)."""
    if _native is None or not column.type.equals(ENTRIES_TYPE) or indices.null_count:
        return column.take(indices)
    chunks = []
    for chunk in column.chunks:
        buffers = _buffers(chunk)
        if buffers is None:
            return column.take(indices)
        chunks.append(buffers)
    index = indices.cast(pa.uint64())  # sort_indices gives uint64: no copy then
    if not len(index) or index.offset:
        return column.take(indices)
    try:
        _capsule, address = _native.take_entries(chunks, index.buffers()[1])
    except ValueError:  # an index out of range: pyarrow says which
        return column.take(indices)
    return pa.chunked_array([pa.Array._import_from_c(address, ENTRIES_TYPE)])
