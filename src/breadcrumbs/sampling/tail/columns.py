"""Whole-column edits and reads of span batches for the tail sampler (no Python per span)."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from breadcrumbs.model import SpanBatch, SpanKind

_DB_SYSTEM_KEYS: Final = ("db.system", "db.system.name")


def int_column(batch: SpanBatch, name: str) -> npt.NDArray[np.int64]:
    return np.asarray(batch.column(name).to_numpy(), dtype=np.int64)


def database_calls(batch: SpanBatch) -> npt.NDArray[np.bool_]:
    """Spans naming a database system: calls whose server side is never traced."""
    found = np.zeros(batch.num_rows, dtype=np.bool_)
    clients = np.flatnonzero(int_column(batch, "SpanKind") == SpanKind.CLIENT)
    if not len(clients):
        return found
    attributes = batch.column("SpanAttributes").take(clients)  # only calls can be db calls
    for key in _DB_SYSTEM_KEYS:
        found[clients] |= pc.is_valid(pc.map_lookup(attributes, key, "first")).to_numpy()
    return found


def with_attribute(batch: SpanBatch, key: str, values: pa.Array) -> SpanBatch:
    """Every span of ``batch`` with one more string attribute ``key`` (whole columns: the
    map's entries are rebuilt by one ``take``, type codes by one string join)."""
    spans = batch.num_rows
    attributes = batch.column("SpanAttributes").combine_chunks()
    offsets = np.asarray(attributes.offsets.to_numpy(), dtype=np.int64)
    first, last = int(offsets[0]), int(offsets[-1])
    keys = attributes.keys.slice(first, last - first)
    items = attributes.items.slice(first, last - first)
    entries = last - first
    new_offsets = offsets - first + np.arange(spans + 1)
    added = new_offsets[1:] - 1  # each span's new last entry
    source = np.empty(entries + spans, dtype=np.int64)
    is_added = np.zeros(entries + spans, dtype=np.bool_)
    is_added[added] = True
    source[~is_added] = np.arange(entries)
    source[added] = entries + np.arange(spans)
    take = pa.array(source)
    new_keys = pa.concat_arrays([keys, pa.array([key] * spans, pa.string())]).take(take)
    new_items = pa.concat_arrays([items, values.cast(pa.string())]).take(take)
    rebuilt = pa.MapArray.from_arrays(pa.array(new_offsets, pa.int32()), new_keys, new_items)
    codes = pc.binary_join_element_wise(batch.column("SpanAttributeTypes"), "s", "")
    index = batch.schema.get_field_index("SpanAttributes")
    batch = batch.set_column(
        index, batch.schema.field(index), rebuilt.cast(batch.schema.field(index).type)
    )
    index = batch.schema.get_field_index("SpanAttributeTypes")
    return batch.set_column(index, batch.schema.field(index), codes)
