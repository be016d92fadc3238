"""OTLP protobuf decoding in Rust (``breadcrumbs._native``), the same batch as ``proto_in``.

The extension walks the request without the GIL and returns each column as Arrow-layout
buffers (int32 offsets, UTF-8 data, little-endian integers); this module wraps them with
``pa.py_buffer`` (no copy: the buffers export the buffer protocol) and assembles the
``SPAN_SCHEMA`` table. The rules, limits, markers
and error messages are ``proto_in``'s (see ``codec/otlp/__init__.py``); the differential
tests in ``tests/codec/test_otlp_native.py`` hold the two to the same output.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Final

import pyarrow as pa

from breadcrumbs.codec.base import DecodeLimits, DecodeResult
from breadcrumbs.codec.otlp import proto_in
from breadcrumbs.codec.otlp.columns import DEFAULT_LIMITS
from breadcrumbs.model import ATTRIBUTES_TYPE, EVENT_TYPE, LINK_TYPE, SPAN_SCHEMA

_native: ModuleType | None
try:
    import breadcrumbs._native as _native
except ImportError:  # built by ``pip install`` where cargo is present; else Python decodes
    _native = None

AVAILABLE: Final = _native is not None

_EMPTY_BATCH: Final = SPAN_SCHEMA.empty_table()
_EVENTS_TYPE: Final = SPAN_SCHEMA.field("Events").type
_LINKS_TYPE: Final = SPAN_SCHEMA.field("Links").type
_EVENT_FIELDS: Final = list(EVENT_TYPE)
_LINK_FIELDS: Final = list(LINK_TYPE)
_INT8: Final = pa.int8()
_INT32: Final = pa.int32()
_INT64: Final = pa.int64()
_STRING: Final = pa.string()


def decode_proto(body: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> DecodeResult:
    """A serialized ``ExportTraceServiceRequest`` as a ``SpanBatch`` (native decoder)."""
    if _native is None:
        raise RuntimeError("breadcrumbs._native is not built")
    try:
        parts = _native.decode_otlp_proto(
            bytes(body),
            limits.max_spans,
            limits.max_attributes,
            limits.max_value_length,
            limits.max_events,
            limits.max_links,
        )
    except ValueError:
        # A body the wire format refuses: the reference decoder names why, so both decoders
        # give the same message even where upb finds another fault first (bad UTF-8 before a
        # corrupt length, say). Bad input only, so the hot path never pays for it.
        return proto_in.decode_proto(body, limits)
    return batch_from_parts(parts)


def batch_from_parts(parts: tuple[Any, ...] | None) -> DecodeResult:
    """The ``SpanBatch`` of a native decoder's columns (None: no spans). Every native
    decoder (OTLP protobuf and JSON, Zipkin) returns this one tuple layout."""
    if parts is None:
        return DecodeResult(_EMPTY_BATCH)
    (
        count,
        starts,
        trace_ids,
        span_ids,
        parent_ids,
        trace_states,
        names,
        kinds,
        services,
        resources,
        scope_names,
        scope_versions,
        attributes,
        durations,
        status_codes,
        status_messages,
        event_offsets,
        event_times,
        event_names,
        event_attributes,
        link_offsets,
        link_trace_ids,
        link_span_ids,
        link_states,
        link_attributes,
        keep,
        rejected,
        error,
    ) = parts
    resource_maps, resource_types = _attributes(resources)
    span_maps, span_types = _attributes(attributes)
    columns = [
        _numbers(_INT64, count, starts),
        _strings(trace_ids),
        _strings(span_ids),
        _strings(parent_ids),
        _strings(trace_states),
        _strings(names),
        _numbers(_INT8, count, kinds),
        _strings(services),
        resource_maps,
        resource_types,
        _strings(scope_names),
        _strings(scope_versions),
        span_maps,
        span_types,
        _numbers(_INT64, count, durations),
        _numbers(_INT8, count, status_codes),
        _strings(status_messages),
        _events(count, event_offsets, event_times, event_names, event_attributes),
        _links(count, link_offsets, link_trace_ids, link_span_ids, link_states, link_attributes),
    ]
    table = pa.Table.from_arrays(columns, schema=SPAN_SCHEMA)
    if keep is None:
        return DecodeResult(table)
    mask = pa.Array.from_buffers(pa.uint8(), count, [None, pa.py_buffer(keep)])
    return DecodeResult(table.filter(mask.cast(pa.bool_())), rejected, error)


def _numbers(kind: pa.DataType, rows: int, data: Any) -> pa.Array:
    return pa.Array.from_buffers(kind, rows, [None, pa.py_buffer(data)])


def _strings(part: tuple[int, Any, Any]) -> pa.Array:
    rows, offsets, data = part
    return pa.Array.from_buffers(_STRING, rows, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _attributes(part: tuple[int, Any, Any, Any, Any]) -> tuple[pa.Array, pa.Array]:
    """(map column, type-code column): the codes share the map's offsets."""
    rows, offsets, keys, texts, codes = part
    offset_buffer = pa.py_buffer(offsets)
    maps = pa.MapArray.from_arrays(
        pa.Array.from_buffers(_INT32, rows + 1, [None, offset_buffer]),
        _strings(keys),
        _strings(texts),
        type=ATTRIBUTES_TYPE,
    )
    types = pa.Array.from_buffers(_STRING, rows, [None, offset_buffer, pa.py_buffer(codes)])
    return maps, types


def _events(count: int, offsets: Any, times: Any, names: Any, attributes: Any) -> pa.Array:
    maps, types = _attributes(attributes)
    events = pa.StructArray.from_arrays(
        [_numbers(_INT64, len(maps), times), _strings(names), maps, types],
        fields=_EVENT_FIELDS,
    )
    return pa.ListArray.from_arrays(_numbers(_INT32, count + 1, offsets), events, type=_EVENTS_TYPE)


def _links(
    count: int,
    offsets: Any,
    trace_ids: Any,
    span_ids: Any,
    states: Any,
    attributes: Any,
) -> pa.Array:
    maps, types = _attributes(attributes)
    links = pa.StructArray.from_arrays(
        [_strings(trace_ids), _strings(span_ids), _strings(states), maps, types],
        fields=_LINK_FIELDS,
    )
    return pa.ListArray.from_arrays(_numbers(_INT32, count + 1, offsets), links, type=_LINKS_TYPE)
