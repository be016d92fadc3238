"""OTLP traces (protobuf and JSON) to ``SpanBatch`` and back.

The protobuf path is the ingest hot path, so it is built for speed in pure Python:

* upb parses the body with a *shadow* copy of the OTLP schema in which every ``attributes``
  field is ``repeated bytes`` and ``Span.status`` is ``bytes``. This is wire-compatible (a
  sub-message is a length-delimited field), so upb hands each attribute back as its raw
  ``KeyValue`` bytes in one C call per span instead of one Python wrapper per attribute.
* Raw ``KeyValue`` bytes repeat a lot (``http.method=GET``, ``db.system=postgresql`` ...), so
  their decoded (key, text, type code) live in a process-wide cache keyed by the raw bytes;
  a miss is decoded once with the real ``KeyValue`` class (upb again).
* Columns are Python lists filled in one walk (local-bound appends, no per-span limit work)
  and turned into Arrow arrays once per request; ids are hex-encoded in one ``hexlify`` per
  column; checks on ids, times and enums are a few C-level passes (``map``, ``min``, ``in``)
  with a per-span loop only when something is wrong; rejected spans go in one
  ``Table.filter``. Limits and marker attributes are applied after the walk.
* Resource and scope columns are decoded once per ``ResourceSpans``/``ScopeSpans`` and
  repeated per span with ``take``.
* Per-request fixed costs matter as much (SDKs often send a few spans at a time): small
  attribute columns skip Arrow kernels, whose call overhead beats their speed there.

Rules (see also ``codec/base.py``):

* A span is rejected (OTLP partial success) for a trace id that is not 16 bytes or all zero, a
  span id that is not 8 bytes or all zero, a parent id that is neither empty nor a valid span
  id, a start time of 0, before 2000-01-01 or more than a day ahead, an end time before the
  start (rejected rather than clamped: the client sent a broken span and should hear so) or
  more than a day ahead.
* Duplicate attribute keys: the last one wins, at the position of the first.
* Unknown span kinds and status codes (proto3 enums are open) read as 0 (unspecified/unset).
* A truncated value keeps its first ``max_value_length`` characters and becomes a string
  (``s``): a cut JSON array or base64 text would no longer decode as its type. Only string,
  bytes, array and kvlist values are cut; numbers and bools (and so our int markers) never.
* A link with an invalid trace or span id is dropped and counted in
  ``breadcrumbs.dropped_links``; it does not reject its span.
"""

from __future__ import annotations

import base64
import binascii
import math
import operator
import threading
import time
from array import array
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import accumulate, compress, count, islice, pairwise, repeat
from typing import Any, Final, TypeAlias

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from breadcrumbs.codec.base import (
    DROPPED_ATTRIBUTES_KEY,
    DROPPED_EVENTS_KEY,
    DROPPED_LINKS_KEY,
    TRUNCATED_KEY,
    DecodeLimits,
    DecodeResult,
)
from breadcrumbs.codec.proto_columns import key_value_columns
from breadcrumbs.errors import BadInput
from breadcrumbs.model import (
    ATTRIBUTES_TYPE,
    EVENT_TYPE,
    LINK_TYPE,
    SPAN_SCHEMA,
    UNKNOWN_SERVICE,
    SpanBatch,
    encode_value,
)

__all__ = ["DEFAULT_LIMITS", "decode_json", "decode_proto", "decode_request", "encode_proto"]

_MIN_START_NS: Final = 946_684_800 * 10**9  # 2000-01-01T00:00:00Z
_FUTURE_SLACK_NS: Final = 86_400 * 10**9  # clocks may run ahead, but not by a day
_INT64_MAX: Final = 2**63 - 1
_ZERO16: Final = bytes(16)
_ZERO8: Final = bytes(8)
_CACHE_MAX_ENTRIES: Final = 65_536  # ~300 bytes each; unique values (URLs) refill it

DEFAULT_LIMITS: Final = DecodeLimits()

_EVENTS_TYPE: Final = SPAN_SCHEMA.field("Events").type
_LINKS_TYPE: Final = SPAN_SCHEMA.field("Links").type


# --- the shadow schema ---------------------------------------------------------------------


def _shadow_request_class() -> Any:
    """``ExportTraceServiceRequest`` with attributes and status left as raw bytes."""
    protos = []
    for module in (common_pb2, resource_pb2, trace_pb2, trace_service_pb2):
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        protos.append(proto)
    raw = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES

    def rawify(message: descriptor_pb2.DescriptorProto, names: Iterable[str]) -> None:
        for field in message.field:
            if field.name in names:
                field.type = raw
                field.ClearField("type_name")

    for proto in protos:
        for message in proto.message_type:
            if message.name == "Resource":
                rawify(message, ["attributes"])
            elif message.name == "Span":
                rawify(message, ["attributes", "status"])
                for nested in message.nested_type:
                    if nested.name in ("Event", "Link"):
                        rawify(nested, ["attributes"])
    pool = descriptor_pool.DescriptorPool()
    for proto in protos:
        pool.Add(proto)
    name = ExportTraceServiceRequest.DESCRIPTOR.full_name
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(name))


_ShadowRequest: Final = _shadow_request_class()


# --- attribute values ----------------------------------------------------------------------


def _any_python(value: Any) -> Any:
    """An ``AnyValue`` as a plain Python value (None when empty), for JSON texts."""
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_any_python(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _any_python(kv.value) for kv in value.kvlist_value.values}
    if which is None or which == "string_value_strindex":  # strindex: profiles only
        return None
    return getattr(value, which)


def _any_text(value: Any) -> tuple[str, str]:
    """An ``AnyValue`` as (value text, type code), per ``model.encode_value``."""
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value, "s"
    if which == "int_value":
        return str(value.int_value), "i"
    if which == "double_value":
        return repr(value.double_value), "d"
    if which == "bool_value":
        return ("true" if value.bool_value else "false"), "b"
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii"), "y"
    if which == "array_value" or which == "kvlist_value":
        return encode_value(_any_python(value))
    return "", "s"  # an empty value (OTLP's null) reads as an empty string


_Raw: TypeAlias = bytes | tuple[Any, ...]
"""One attribute as it arrives, hashable so the cache can key on it: raw ``KeyValue`` bytes
(protobuf); (key, JSON value name, JSON scalar) for OTLP/JSON string, int and bool values;
(key, "", value text, type code) for any other JSON value."""


def _decode_one_by_one(raws: list[_Raw]) -> tuple[list[str], list[str], str]:
    """Keys, value texts and type codes of raw attributes, each decoded on its own."""
    keys: list[str] = []
    texts: list[str] = []
    codes: list[str] = []
    for raw in raws:
        if isinstance(raw, bytes):
            try:
                kv = common_pb2.KeyValue.FromString(raw)
            except DecodeError as exc:
                raise BadInput(f"malformed OTLP attribute: {exc}") from None
            key = kv.key
            text, code = _any_text(kv.value)
        else:
            key, text, code = raw[0], *_json_scalar_text(raw[1], raw[2], raw[3:])
        keys.append(key)
        texts.append(text)
        codes.append(code)
    return keys, texts, "".join(codes)


class _AttributeCache:
    """Every distinct raw attribute seen: its key, value text, type code, as Arrow columns.

    Decoding a request's attributes is then one dict lookup per attribute (raw -> entry
    number) and a few vectorised ``take``s. One cache per value-length limit, shared by
    threads: entries are only appended (under a lock), and a full cache is replaced by a new
    one rather than cleared, so a request never sees an entry vanish.
    """

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length
        self.ids: dict[_Raw, int] = {}
        self.any_truncated = False
        # Entry number -> ...; lists are only appended to, so readers need no lock.
        self.keys: list[str] = []
        self.texts: list[str] = []
        self.codes: list[str] = []
        self.key_numbers: list[int] = []  # the same number for the same key: spots duplicates
        self.truncated: list[bool] = []
        self._numbers: dict[str, tuple[str, int]] = {}
        self._chunks: list[tuple[pa.Array, ...]] = []
        self._converted = 0
        self._lock = threading.Lock()

    def lookup(self, raws: list[_Raw]) -> list[int]:
        """The entry number of every raw attribute, adding the ones never seen."""
        ids: list[int | None] = list(map(self.ids.get, raws))
        if None in ids:
            with self._lock:
                self._fill(raws, ids)
        return ids  # type: ignore[return-value]  # no None is left

    def _fill(self, raws: list[_Raw], ids: list[int | None]) -> None:
        """Decodes and adds the raws at the None positions of ``ids``. Unique values (URLs,
        user ids) miss on every request, so encoded ones are decoded together in one upb
        parse (``proto_columns``), one at a time only where that does not apply."""
        known = self.ids
        positions = list(compress(count(), map(operator.is_, ids, repeat(None))))
        # Unique, in order; another thread may have added some since ``lookup``.
        missing = [
            raw for raw in dict.fromkeys(map(raws.__getitem__, positions)) if raw not in known
        ]
        encoded: list[bytes] = [raw for raw in missing if isinstance(raw, bytes)]
        decoded = key_value_columns(encoded) if len(encoded) > 1 else None
        if decoded is not None:
            self._add(encoded, *decoded)
            missing = [raw for raw in missing if not isinstance(raw, bytes)]
        if missing:
            self._add(missing, *_decode_one_by_one(missing))
        for i in positions:
            ids[i] = known[raws[i]]

    def _add(self, raws: Sequence[_Raw], keys: list[str], texts: list[str], codes: str) -> None:
        """Adds decoded attributes, a column at a time (every miss comes through here)."""
        if max(map(len, texts)) > self.max_length:
            texts, codes = self._cut(texts, codes)
        else:
            self.truncated.extend(repeat(False, len(texts)))
        numbers = self._numbers
        if None in map(numbers.get, keys):
            for key in keys:  # one str object and one number per distinct key
                if key not in numbers:
                    numbers[key] = (key, len(numbers))
        seen = list(map(numbers.__getitem__, keys))
        start = len(self.texts)
        self.keys.extend(map(operator.itemgetter(0), seen))
        self.key_numbers.extend(map(operator.itemgetter(1), seen))
        self.texts.extend(texts)
        self.codes.extend(codes)
        # Last: other threads take presence in ``ids`` as "complete".
        self.ids.update(zip(raws, count(start)))

    def _cut(self, texts: list[str], codes: str) -> tuple[list[str], str]:
        """Texts over the length limit cut (numbers never are), marked in ``truncated``."""
        max_length = self.max_length
        cut_texts: list[str] = []
        cut_codes: list[str] = []
        for text, code in zip(texts, codes, strict=True):
            cut = len(text) > max_length and code in "syam"
            if cut:
                text, code = text[:max_length], "s"
                self.any_truncated = True
            cut_texts.append(text)
            cut_codes.append(code)
            self.truncated.append(cut)
        return cut_texts, "".join(cut_codes)

    def columns(self) -> list[pa.ChunkedArray]:
        """keys, texts, codes (uint8), key numbers of every entry so far, as Arrow."""
        with self._lock:
            start, end = self._converted, len(self.keys)
            if start < end:
                codes = pa.py_buffer("".join(self.codes[start:end]).encode("ascii"))
                self._chunks.append(
                    (
                        pa.array(self.keys[start:end], pa.string()),
                        pa.array(self.texts[start:end], pa.string()),
                        pa.Array.from_buffers(pa.uint8(), end - start, [None, codes]),
                        pa.array(self.key_numbers[start:end], pa.int32()),
                    )
                )
                self._converted = end
                if len(self._chunks) > 16:  # keep takes cheap: one chunk now and then
                    self._chunks = [
                        tuple(
                            pa.concat_arrays(list(column))
                            for column in zip(*self._chunks, strict=True)
                        )
                    ]
            chunks = list(self._chunks)
        return [pa.chunked_array(column) for column in zip(*chunks, strict=True)]


_caches: dict[int, _AttributeCache] = {}


def _cache_for(max_length: int) -> _AttributeCache:
    cache = _caches.get(max_length)
    if cache is None or len(cache.ids) > _CACHE_MAX_ENTRIES:
        cache = _caches[max_length] = _AttributeCache(max_length)
    return cache


@lru_cache(maxsize=4096)
def _marker(key: str, count: int) -> bytes:
    """The raw ``KeyValue`` of one of our ``breadcrumbs.*`` int markers."""
    return common_pb2.KeyValue(
        key=key, value=common_pb2.AnyValue(int_value=count)
    ).SerializeToString()


_SMALL: Final = 1024  # attributes in a column below which plain Python lists are faster
_NO_STRINGS: Final = pa.array([], pa.string())
_NO_BYTES: Final = pa.py_buffer(b"")


def _int32_array(values: list[int]) -> pa.Array:
    return pa.Array.from_buffers(pa.int32(), len(values), [None, pa.py_buffer(array("i", values))])


def _take(column: pa.ChunkedArray, indices: pa.Array) -> pa.Array:
    taken = column.take(indices)
    return taken.chunk(0) if taken.num_chunks == 1 else taken.combine_chunks()


class _Attributes:
    """One attribute-map column under construction: raw attributes per row.

    Walks append ``raws`` and ``offsets`` directly; limits and our marker attributes are
    applied in ``finish``, so the walk does no per-row limit work.
    """

    __slots__ = ("extra", "offsets", "raws")

    def __init__(self) -> None:
        self.raws: list[_Raw] = []
        self.offsets: list[int] = [0]
        self.extra: dict[int, list[_Raw]] = {}  # row -> marker attributes to append

    def add_row(self, raws: Iterable[_Raw], extra: Sequence[_Raw] = ()) -> None:
        self.raws.extend(raws)
        self.offsets.append(len(self.raws))
        if extra:
            self.extra[len(self.offsets) - 2] = list(extra)

    def finish(self, limits: DecodeLimits, marked: bool = False) -> tuple[pa.Array, pa.Array]:
        """(map column, type-code column); ``marked``: limits and markers are applied."""
        offsets = self.offsets
        if (
            not marked
            and self.raws
            and max(map(operator.sub, islice(offsets, 1, None), offsets)) > limits.max_attributes
        ):
            self._cap(limits.max_attributes)
        if self.extra:
            self._append_extra()
        raws, offsets = self.raws, self.offsets
        rows = len(offsets) - 1
        offsets_array = _int32_array(offsets)
        if not raws:
            maps = pa.MapArray.from_arrays(
                offsets_array, _NO_STRINGS, _NO_STRINGS, type=ATTRIBUTES_TYPE
            )
            return maps, pa.StringArray.from_buffers(rows, offsets_array.buffers()[1], _NO_BYTES)
        cache = _cache_for(limits.max_value_length)
        ids = cache.lookup(raws)
        if cache.any_truncated and not marked and any(map(cache.truncated.__getitem__, ids)):
            cut = list(map(cache.truncated.__getitem__, ids))
            for row, (start, end) in enumerate(pairwise(offsets)):
                if count := sum(cut[start:end]):
                    self.extra[row] = [_marker(TRUNCATED_KEY, count)]
            self._append_extra()
            return self.finish(limits, marked=True)
        if len(ids) < _SMALL:  # per-call overhead of Arrow kernels beats their speed here
            key_column = pa.array(list(map(cache.keys.__getitem__, ids)), pa.string())
            text_column = pa.array(list(map(cache.texts.__getitem__, ids)), pa.string())
            code_data = pa.py_buffer("".join(map(cache.codes.__getitem__, ids)).encode("ascii"))
            numbers = list(map(cache.key_numbers.__getitem__, ids))
            duplicates = any(
                len(set(numbers[start:end])) != end - start for start, end in pairwise(offsets)
            )
        else:
            id_array = _int32_array(ids)
            keys, texts, codes, numbers_column = cache.columns()
            key_column = _take(keys, id_array)
            text_column = _take(texts, id_array)
            code_data = _take(codes, id_array).buffers()[1]
            duplicates = _has_duplicate_keys(_take(numbers_column, id_array), offsets_array)
        if duplicates:
            return _dedupe(key_column, text_column, code_data, offsets)
        maps = pa.MapArray.from_arrays(offsets_array, key_column, text_column, type=ATTRIBUTES_TYPE)
        types = pa.StringArray.from_buffers(rows, offsets_array.buffers()[1], code_data)
        return maps, types

    def _cap(self, limit: int) -> None:
        """Keeps the first ``limit`` attributes of each row and marks the rest (rare path)."""
        raws, offsets = self.raws, self.offsets
        self.raws, self.offsets = [], [0]
        for row, (start, end) in enumerate(pairwise(offsets)):
            if end - start > limit:
                self.extra.setdefault(row, []).insert(
                    0, _marker(DROPPED_ATTRIBUTES_KEY, end - start - limit)
                )
                end = start + limit
            self.raws.extend(raws[start:end])
            self.offsets.append(len(self.raws))

    def _append_extra(self) -> None:
        """Appends the marker attributes to their rows (rare path)."""
        raws, offsets, extra = self.raws, self.offsets, self.extra
        self.raws, self.offsets, self.extra = [], [0], {}
        for row, (start, end) in enumerate(pairwise(offsets)):
            self.raws.extend(raws[start:end])
            self.raws.extend(extra.get(row, ()))
            self.offsets.append(len(self.raws))


def _has_duplicate_keys(numbers: pa.Array, offsets: pa.Array) -> bool:
    rows = pc.list_parent_indices(pa.ListArray.from_arrays(offsets, numbers))
    # An explicitly typed scalar: inferring the type of a bare int makes pyarrow try optional
    # imports (pandas, dateutil) on every call, ~0.2 ms each when they are absent.
    row_step = pa.scalar(1 << 32, pa.int64())
    combined = pc.add(pc.multiply(rows.cast(pa.int64()), row_step), numbers.cast(pa.int64()))
    return len(pc.unique(combined)) != len(numbers)


def _dedupe(
    keys: pa.Array, texts: pa.Array, code_data: pa.Buffer, offsets: list[int]
) -> tuple[pa.Array, pa.Array]:
    """Last value wins for a repeated key, at the first key's position (rare path)."""
    all_keys, all_texts = keys.to_pylist(), texts.to_pylist()
    all_codes = code_data.to_pybytes().decode("ascii")
    rows: list[list[tuple[str, str]]] = []
    types: list[str] = []
    for start, end in pairwise(offsets):
        row: dict[str, tuple[str, str]] = {}
        for i in range(start, end):
            row[all_keys[i]] = (all_texts[i], all_codes[i])
        rows.append([(key, text) for key, (text, _) in row.items()])
        types.append("".join(code for _, code in row.values()))
    return pa.array(rows, ATTRIBUTES_TYPE), pa.array(types, pa.string())


# --- ids and timestamps --------------------------------------------------------------------


def _hex_column(ids: list[bytes]) -> pa.Array:
    """Lowercase hex strings of byte ids, in one hexlify for the whole column."""
    offsets = array("i", map(operator.mul, accumulate(map(len, ids), initial=0), repeat(2)))
    data = binascii.hexlify(b"".join(ids))
    return pa.StringArray.from_buffers(len(ids), pa.py_buffer(offsets), pa.py_buffer(data))


class _Spans:
    """The span columns of one request, filled by a proto or a JSON walk."""

    def __init__(self) -> None:
        self.trace_ids: list[bytes] = []
        self.span_ids: list[bytes] = []
        self.parent_ids: list[bytes] = []
        self.trace_states: list[str] = []
        self.names: list[str] = []
        self.kinds: list[int] = []
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.status_codes: list[int] = []
        self.status_messages: list[str] = []
        self.attributes = _Attributes()
        self.resource_index: list[int] = []  # per span
        self.scope_index: list[int] = []  # per span
        # per resource / scope
        self.resources = _Attributes()
        self.scope_names: list[str] = []
        self.scope_versions: list[str] = []
        # events and links: per span offsets, per event/link values
        self.event_offsets: list[int] = [0]
        self.event_times: list[int] = []
        self.event_names: list[str] = []
        self.event_attributes = _Attributes()
        self.link_offsets: list[int] = [0]
        self.link_trace_ids: list[bytes] = []
        self.link_span_ids: list[bytes] = []
        self.link_states: list[str] = []
        self.link_attributes = _Attributes()

    def finish(self, limits: DecodeLimits) -> DecodeResult:
        count = len(self.trace_ids)
        if count == 0:
            return DecodeResult(_EMPTY_BATCH)
        keep, error = self._check()
        starts, ends = self.starts, self.ends
        resource_maps, resource_types = self.resources.finish(limits)
        services = _service_names(resource_maps, resource_types)
        resource_index = pa.array(self.resource_index, pa.int32())
        scope_index = pa.array(self.scope_index, pa.int32())
        span_maps, span_types = self.attributes.finish(limits)
        columns = [
            pa.array(starts, pa.int64()),
            _hex_column(self.trace_ids),
            _hex_column(self.span_ids),
            _hex_column(self.parent_ids),
            pa.array(self.trace_states, pa.string()),
            pa.array(self.names, pa.string()),
            _enum_column(self.kinds, 5),
            services.take(resource_index),
            resource_maps.take(resource_index),
            resource_types.take(resource_index),
            pa.array(self.scope_names, pa.string()).take(scope_index),
            pa.array(self.scope_versions, pa.string()).take(scope_index),
            span_maps,
            span_types,
            pa.array(list(map(operator.sub, ends, starts)), pa.int64()),
            _enum_column(self.status_codes, 2),
            pa.array(self.status_messages, pa.string()),
            self._events(limits),
            self._links(limits),
        ]
        table = pa.Table.from_arrays(columns, schema=SPAN_SCHEMA)
        if keep is None:
            return DecodeResult(table)
        rejected = count - sum(keep)
        return DecodeResult(table.filter(pa.array(keep, pa.bool_())), rejected, error)

    def _check(self) -> tuple[list[bool] | None, str]:
        """Which spans to keep (None: all) and why the others were rejected.

        The common all-good case costs a few C-level passes over each column; only a request
        with bad spans pays for a per-span loop, which also zeroes their times so that they
        convert to int64 (they are filtered out afterwards).
        """
        trace_ids, span_ids, parent_ids = self.trace_ids, self.span_ids, self.parent_ids
        starts, ends = self.starts, self.ends
        latest = time.time_ns() + _FUTURE_SLACK_NS
        if (
            set(map(len, trace_ids)) == {16}
            and _ZERO16 not in trace_ids
            and set(map(len, span_ids)) == {8}
            and _ZERO8 not in span_ids
            and set(map(len, parent_ids)) <= {0, 8}
            and _ZERO8 not in parent_ids
            and min(starts) >= _MIN_START_NS
            and max(ends) <= latest
            and all(map(operator.ge, ends, starts))
        ):
            return None, ""
        keep: list[bool] = []
        reasons: dict[str, int] = {}
        for i, (trace_id, span_id, parent_id) in enumerate(
            zip(trace_ids, span_ids, parent_ids, strict=True)
        ):
            reason = _span_problem(trace_id, span_id, parent_id, starts[i], ends[i], latest)
            keep.append(not reason)
            if reason:
                reasons[reason] = reasons.get(reason, 0) + 1
                starts[i] = ends[i] = 0
        rejected = len(keep) - sum(keep)
        details = "; ".join(f"{reason} ({n})" for reason, n in reasons.items())
        return keep, f"rejected {rejected} of {len(keep)} spans: {details}"

    def _events(self, limits: DecodeLimits) -> pa.Array:
        offsets = pa.array(self.event_offsets, pa.int32())
        if not self.event_times:
            return pa.ListArray.from_arrays(offsets, _NO_EVENTS, type=_EVENTS_TYPE)
        maps, types = self.event_attributes.finish(limits)
        times = self.event_times
        if max(times) > _INT64_MAX:
            times = [t if t <= _INT64_MAX else 0 for t in times]
        names = pa.array(self.event_names, pa.string())
        events = pa.StructArray.from_arrays(
            [pa.array(times, pa.int64()), names, maps, types], fields=list(EVENT_TYPE)
        )
        return pa.ListArray.from_arrays(offsets, events, type=_EVENTS_TYPE)

    def _links(self, limits: DecodeLimits) -> pa.Array:
        offsets = pa.array(self.link_offsets, pa.int32())
        if not self.link_trace_ids:
            return pa.ListArray.from_arrays(offsets, _NO_LINKS, type=_LINKS_TYPE)
        maps, types = self.link_attributes.finish(limits)
        links = pa.StructArray.from_arrays(
            [
                _hex_column(self.link_trace_ids),
                _hex_column(self.link_span_ids),
                pa.array(self.link_states, pa.string()),
                maps,
                types,
            ],
            fields=list(LINK_TYPE),
        )
        return pa.ListArray.from_arrays(offsets, links, type=_LINKS_TYPE)


_EMPTY_BATCH: Final = SPAN_SCHEMA.empty_table()  # slow to make (~0.5 ms); tables are immutable
_NO_EVENTS: Final = pa.array([], EVENT_TYPE)
_NO_LINKS: Final = pa.array([], LINK_TYPE)


def _span_problem(
    trace_id: bytes, span_id: bytes, parent_id: bytes, start: int, end: int, latest: int
) -> str:
    """Why a span is rejected, or "" (the slow path of ``_Spans._check``)."""
    if len(trace_id) != 16 or trace_id == _ZERO16:
        return "invalid trace id (must be 16 bytes, not all zero)"
    if len(span_id) != 8 or span_id == _ZERO8:
        return "invalid span id (must be 8 bytes, not all zero)"
    if parent_id and (len(parent_id) != 8 or parent_id == _ZERO8):
        return "invalid parent span id (must be empty or 8 bytes, not all zero)"
    if start < _MIN_START_NS:
        return "start time is 0 or before the year 2000"
    if start > latest:
        return "start time is more than a day in the future"
    if end < start:
        return "end time is before start time"
    if end > latest:
        return "end time is more than a day in the future"
    return ""


def _enum_column(values: list[int], highest: int) -> pa.Array:
    """An int8 enum column; values outside 0..highest read as 0."""
    if values and (min(values) < 0 or max(values) > highest):
        values = [v if 0 <= v <= highest else 0 for v in values]
    return pa.array(values, pa.int8())


def _service_names(maps: pa.Array, types: pa.Array) -> pa.Array:
    """``service.name`` of each resource (few rows: plain Python is fine here)."""
    names = []
    for entries, codes in zip(maps.to_pylist(), types.to_pylist(), strict=True):
        name = UNKNOWN_SERVICE
        for (key, text), code in zip(entries, codes, strict=True):
            if key == "service.name" and code == "s" and text:
                name = text
        names.append(name)
    return pa.array(names, pa.string())


# --- protobuf in ---------------------------------------------------------------------------


def decode_proto(body: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> DecodeResult:
    """A serialized ``ExportTraceServiceRequest`` as a ``SpanBatch``."""
    request = _ShadowRequest()
    try:
        request.ParseFromString(body)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise BadInput(f"malformed OTLP protobuf request: {exc}") from None
    return _decode(request, limits)


def decode_request(
    request: ExportTraceServiceRequest, limits: DecodeLimits = DEFAULT_LIMITS
) -> DecodeResult:
    """For the gRPC receiver. Re-serialising (upb, fast) beats walking the real message's
    attribute wrappers; a receiver that registers a raw-bytes deserializer can call
    ``decode_proto`` directly and skip both."""
    return decode_proto(request.SerializeToString(), limits)


def _decode(request: Any, limits: DecodeLimits) -> DecodeResult:
    total = sum(
        len(scope_spans.spans) for rs in request.resource_spans for scope_spans in rs.scope_spans
    )
    if total > limits.max_spans:
        raise BadInput(f"too many spans in one request: {total} > {limits.max_spans}")
    out = _Spans()
    max_events = limits.max_events
    # The hot loop: one local-bound append per column, no limit checks (``finish`` applies
    # them), events inline, links (rare) in a function.
    trace_ids = out.trace_ids.append
    span_ids = out.span_ids.append
    parent_ids = out.parent_ids.append
    trace_states = out.trace_states.append
    names = out.names.append
    kinds = out.kinds.append
    starts = out.starts.append
    ends = out.ends.append
    statuses: list[bytes] = []
    status = statuses.append
    raw_list = out.attributes.raws
    raws = raw_list.extend
    offsets = out.attributes.offsets.append
    event_times_list = out.event_times
    event_times = event_times_list.append
    event_names = out.event_names.append
    event_raw_list = out.event_attributes.raws
    event_raws = event_raw_list.extend
    event_raw_offsets = out.event_attributes.offsets.append
    event_offsets = out.event_offsets.append
    link_list = out.link_trace_ids
    link_offsets = out.link_offsets.append
    span_list = out.trace_ids
    for r, resource_spans in enumerate(request.resource_spans):
        out.resources.add_row(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope
            s = len(out.scope_names)
            out.scope_names.append(scope.name)
            out.scope_versions.append(scope.version)
            spans = scope_spans.spans
            out.resource_index.extend(repeat(r, len(spans)))
            out.scope_index.extend(repeat(s, len(spans)))
            for span in spans:
                trace_ids(span.trace_id)
                span_ids(span.span_id)
                parent_ids(span.parent_span_id)
                trace_states(span.trace_state)
                names(span.name)
                kinds(span.kind)
                starts(span.start_time_unix_nano)
                ends(span.end_time_unix_nano)
                status(span.status)
                raws(span.attributes)
                offsets(len(raw_list))
                events = span.events
                if events:
                    if len(events) > max_events:
                        out.attributes.extra.setdefault(len(span_list) - 1, []).append(
                            _marker(DROPPED_EVENTS_KEY, len(events) - max_events)
                        )
                        events = events[:max_events]
                    for event in events:
                        event_times(event.time_unix_nano)
                        event_names(event.name)
                        event_raws(event.attributes)
                        event_raw_offsets(len(event_raw_list))
                event_offsets(len(event_times_list))
                links = span.links
                if links:
                    _proto_links(out, links, limits)
                link_offsets(len(link_list))
    out.status_codes, out.status_messages = _statuses(statuses)
    return out.finish(limits)


def _proto_links(out: _Spans, links: Any, limits: DecodeLimits) -> None:
    _add_links(
        out,
        [(k.trace_id, k.span_id, k.trace_state, k.attributes) for k in links[: limits.max_links]],
        len(links),
    )


_status_codes: dict[bytes, int] = {}
_status_messages: dict[bytes, str] = {}


def _statuses(raws: list[bytes]) -> tuple[list[int], list[str]]:
    """Raw ``Status`` bytes (nearly always one of a handful) as codes and messages."""
    global _status_codes, _status_messages
    codes, messages = _status_codes, _status_messages
    if len(codes) > _CACHE_MAX_ENTRIES:  # replaced, never cleared: other threads may read
        codes, messages = _status_codes, _status_messages = {}, {}
    for raw in set(raws).difference(codes):
        try:
            parsed = trace_pb2.Status.FromString(raw)
        except DecodeError as exc:
            raise BadInput(f"malformed OTLP span status: {exc}") from None
        messages[raw] = parsed.message
        codes[raw] = parsed.code
    return list(map(codes.__getitem__, raws)), list(map(messages.__getitem__, raws))


_Link: TypeAlias = tuple[bytes, bytes, str, Sequence[_Raw]]  # trace id, span id, state, attrs


def _add_links(out: _Spans, links: list[_Link], count: int) -> None:
    """Adds the current span's links, already cut to the limit (``count``: before cutting);
    invalid ones are dropped, and the dropped are marked on the span."""
    dropped = count - len(links)
    for trace_id, span_id, state, raws in links:
        if len(trace_id) != 16 or trace_id == _ZERO16 or len(span_id) != 8 or span_id == _ZERO8:
            dropped += 1
            continue
        out.link_trace_ids.append(trace_id)
        out.link_span_ids.append(span_id)
        out.link_states.append(state)
        out.link_attributes.add_row(raws)
    if dropped:
        span = len(out.trace_ids) - 1
        out.attributes.extra.setdefault(span, []).append(_marker(DROPPED_LINKS_KEY, dropped))


# --- JSON in -------------------------------------------------------------------------------


def decode_json(body: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> DecodeResult:
    """An OTLP/JSON ``ExportTraceServiceRequest`` as a ``SpanBatch``.

    As the OTLP spec has it: lowerCamelCase field names (snake_case accepted too), hex trace
    and span ids (any case), enums as ints (names accepted too), 64-bit ints as strings or
    numbers, bytes as base64, unknown fields ignored. A malformed id only rejects its span
    (or drops its link); a document of the wrong shape is a ``BadInput``.
    """
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadInput(f"malformed OTLP/JSON request: {exc}") from None
    try:
        return _decode_json(document, limits)
    except BadInput:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, OverflowError, RecursionError) as exc:
        raise BadInput(f"malformed OTLP/JSON request: {exc!r}") from None


def _bad(what: str) -> BadInput:
    return BadInput(f"malformed OTLP/JSON request: {what}")


def _field(item: Any, name: str, kind: type, default: Any, snake: str = "") -> Any:
    """A JSON object's field by its lowerCamelCase (or ``snake``) name; ``default`` when
    absent or null."""
    if type(item) is not dict:
        raise _bad(f"expected an object, got {item!r:.80}")
    value = item.get(name)
    if value is None:
        value = item.get(snake) if snake else None
        if value is None:
            return default
    if not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool):
        raise _bad(f"{name} must be a {kind.__name__}, got {value!r:.40}")
    return value


def _json_int(value: Any, name: str) -> int:
    if type(value) is int:
        return value
    if type(value) is str:
        try:
            return int(value)
        except ValueError:
            pass
    raise _bad(f"{name} must be an integer, got {value!r:.40}")


def _json_uint64(value: Any, name: str) -> int:
    """Out-of-range times read as 0, which the time checks then reject with a reason."""
    if value is None:
        return 0
    number = _json_int(value, name)
    return number if 0 <= number < 2**64 else 0


def _json_enum(value: Any, names: dict[str, int], name: str) -> int:
    if value is None:
        return 0
    if type(value) is str and value in names:
        return names[value]
    number = _json_int(value, name)
    return number if 0 <= number <= 127 else 0  # unknown values read as 0 anyway


def _snake(camel: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)


def _json_id(value: Any) -> bytes:
    """Hex id bytes; anything malformed is b"" (rejected later with the span's reason)."""
    if type(value) is not str:
        return b""
    try:
        return bytes.fromhex(value)
    except ValueError:
        return b""


_KIND_NAMES: Final = {name: int(v) for name, v in trace_pb2.Span.SpanKind.items()}
_STATUS_NAMES: Final = {name: int(v) for name, v in trace_pb2.Status.StatusCode.items()}


def _json_attributes(items: Any) -> list[_Raw]:
    """OTLP/JSON KeyValues as raw attributes (see ``_Raw``).

    Strings, ints and bools are passed on as they are: the cache checks and converts them
    once per distinct value. Only doubles (``-0.0 == 0.0`` and ``nan != nan`` would confuse
    the cache) and arrays, kvlists and bytes are converted here.
    """
    if items is None:
        return []
    if type(items) is not list:
        raise _bad("attributes must be a list")
    raws: list[_Raw] = []
    append = raws.append
    for kv in items:
        if type(kv) is dict:
            key = kv.get("key")
            value = kv.get("value")
            if type(key) is str and type(value) is dict and len(value) == 1:
                ((name, inner),) = value.items()
                kind = type(inner)
                if (kind is str or kind is int or kind is bool) and name in _SCALAR_NAMES:
                    append((key, name, inner))
                    continue
        key = _field(kv, "key", str, "")
        python = _json_python(_field(kv, "value", dict, {}))
        text, code = ("", "s") if python is None else encode_value(python)
        append((key, "", text, code))
    return raws


_VALUE_NAMES: Final = {
    spelling: camel
    for camel in (
        "stringValue",
        "intValue",
        "boolValue",
        "doubleValue",
        "bytesValue",
        "arrayValue",
        "kvlistValue",
    )
    for spelling in (camel, _snake(camel))
}
_SCALAR_NAMES: Final = frozenset(
    n for n, camel in _VALUE_NAMES.items() if camel in ("stringValue", "intValue", "boolValue")
)


def _json_scalar_text(name: str, inner: Any, rest: tuple[Any, ...]) -> tuple[str, str]:
    """(value text, type code) of a raw JSON attribute's value (see ``_Raw``)."""
    if not name:
        text, code = inner, rest[0]
        return text, code
    name = _VALUE_NAMES[name]
    if name == "stringValue" and type(inner) is str:
        return inner, "s"
    if name == "boolValue" and type(inner) is bool:
        return ("true" if inner else "false"), "b"
    if name == "intValue" and type(inner) is not bool:
        number = _json_int(inner, "intValue")
        if -(2**63) <= number < 2**63:
            return str(number), "i"
        raise _bad("intValue out of the int64 range")
    raise _bad(f"{name} of the wrong type: {inner!r:.40}")


def _json_python(value: Any) -> Any:
    """An OTLP/JSON AnyValue as a plain Python value (None when empty)."""
    if type(value) is not dict:
        raise _bad("an attribute value must be an object")
    for spelling, inner in value.items():
        name = _VALUE_NAMES.get(spelling)
        if name == "stringValue":
            if type(inner) is not str:
                raise _bad("stringValue must be a string")
            return inner
        if name == "boolValue":
            if type(inner) is not bool:
                raise _bad("boolValue must be true or false")
            return inner
        if name == "intValue":
            number = _json_int(inner, "intValue")
            if not -(2**63) <= number < 2**63:
                raise _bad("intValue out of the int64 range")
            return number
        if name == "doubleValue":
            return _json_double(inner)
        if name == "bytesValue":
            return _json_bytes(inner)
        if name == "arrayValue":
            return [_json_python(v) for v in _field(inner, "values", list, [])]
        if name == "kvlistValue":
            return {
                _field(kv, "key", str, ""): _json_python(_field(kv, "value", dict, {}))
                for kv in _field(inner, "values", list, [])
            }
    return None  # empty, or only unknown fields


def _json_bytes(value: Any) -> bytes:
    if type(value) is not str:
        raise _bad("bytesValue must be base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        try:  # protobuf's JSON mapping also accepts URL-safe base64
            return base64.urlsafe_b64decode(value)
        except binascii.Error as exc:
            raise _bad(f"bytesValue: {exc}") from None


_DOUBLE_WORDS: Final = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _json_double(value: Any) -> float:
    if type(value) is float or type(value) is int:
        return float(value)
    if type(value) is str:
        if value in _DOUBLE_WORDS:
            return _DOUBLE_WORDS[value]
        try:
            return float(value)
        except ValueError:
            pass
    raise _bad(f"doubleValue must be a number, got {value!r:.40}")


def _decode_json(document: Any, limits: DecodeLimits) -> DecodeResult:
    resource_spans_list = _field(document, "resourceSpans", list, [], "resource_spans")
    scope_spans_lists = [
        _field(rs, "scopeSpans", list, [], "scope_spans") for rs in resource_spans_list
    ]
    total = sum(len(_field(ss, "spans", list, [])) for sss in scope_spans_lists for ss in sss)
    if total > limits.max_spans:
        raise BadInput(f"too many spans in one request: {total} > {limits.max_spans}")
    out = _Spans()
    status_codes: list[int] = []
    status_messages: list[str] = []
    attributes = out.attributes
    for r, resource_spans in enumerate(resource_spans_list):
        resource = _field(resource_spans, "resource", dict, {})
        out.resources.add_row(_json_attributes(resource.get("attributes")))
        for scope_spans in scope_spans_lists[r]:
            scope = _field(scope_spans, "scope", dict, {})
            s = len(out.scope_names)
            out.scope_names.append(_field(scope, "name", str, ""))
            out.scope_versions.append(_field(scope, "version", str, ""))
            spans = _field(scope_spans, "spans", list, [])
            out.resource_index.extend(repeat(r, len(spans)))
            out.scope_index.extend(repeat(s, len(spans)))
            for span in spans:
                if type(span) is not dict:
                    raise _bad("a span must be an object")
                get = span.get
                # lowerCamelCase first, snake_case when absent (inline: this is per span)
                value = get("traceId")
                out.trace_ids.append(_json_id(get("trace_id") if value is None else value))
                value = get("spanId")
                out.span_ids.append(_json_id(get("span_id") if value is None else value))
                value = get("parentSpanId")
                value = get("parent_span_id") if value is None else value
                out.parent_ids.append(_json_id(value) if value else b"")
                out.trace_states.append(_field(span, "traceState", str, "", "trace_state"))
                out.names.append(_field(span, "name", str, ""))
                out.kinds.append(_json_enum(get("kind"), _KIND_NAMES, "kind"))
                value = get("startTimeUnixNano")
                value = get("start_time_unix_nano") if value is None else value
                out.starts.append(_json_uint64(value, "startTimeUnixNano"))
                value = get("endTimeUnixNano")
                value = get("end_time_unix_nano") if value is None else value
                out.ends.append(_json_uint64(value, "endTimeUnixNano"))
                status = get("status")
                if status:
                    code = _json_enum(
                        _field(span, "status", dict, {}).get("code"), _STATUS_NAMES, "code"
                    )
                    status_codes.append(code)
                    status_messages.append(_field(status, "message", str, ""))
                else:
                    status_codes.append(0)
                    status_messages.append("")
                attributes.add_row(_json_attributes(get("attributes")))
                events = get("events")
                if events:
                    _json_events(out, _field(span, "events", list, []), limits)
                out.event_offsets.append(len(out.event_times))
                links = get("links")
                if links:
                    _json_links(out, _field(span, "links", list, []), limits)
                out.link_offsets.append(len(out.link_trace_ids))
    out.status_codes, out.status_messages = status_codes, status_messages
    return out.finish(limits)


def _json_events(out: _Spans, events: list[Any], limits: DecodeLimits) -> None:
    if len(events) > limits.max_events:
        out.attributes.extra.setdefault(len(out.trace_ids) - 1, []).append(
            _marker(DROPPED_EVENTS_KEY, len(events) - limits.max_events)
        )
    for event in events[: limits.max_events]:
        out.event_names.append(_field(event, "name", str, ""))  # checks it is an object, too
        time_ns = event.get("timeUnixNano", event.get("time_unix_nano"))
        out.event_times.append(_json_uint64(time_ns, "timeUnixNano"))
        out.event_attributes.add_row(_json_attributes(event.get("attributes")))


def _json_links(out: _Spans, links: list[Any], limits: DecodeLimits) -> None:
    _add_links(
        out,
        [
            (
                _json_id(_field(link, "traceId", str, "", "trace_id")),
                _json_id(_field(link, "spanId", str, "", "span_id")),
                _field(link, "traceState", str, "", "trace_state"),
                _json_attributes(link.get("attributes")),
            )
            for link in links[: limits.max_links]
        ],
        len(links),
    )


# --- protobuf out --------------------------------------------------------------------------


def _shadow(name: str) -> Any:
    pool = _ShadowRequest.DESCRIPTOR.file.pool
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(name))


# Encoding uses the shadow schema too: attributes go in as memoised raw ``KeyValue`` bytes.
_ShadowResourceSpans: Final = _shadow("opentelemetry.proto.trace.v1.ResourceSpans")
_ShadowScopeSpans: Final = _shadow("opentelemetry.proto.trace.v1.ScopeSpans")
_ShadowResource: Final = _shadow("opentelemetry.proto.resource.v1.Resource")
_ShadowScope: Final = _shadow("opentelemetry.proto.common.v1.InstrumentationScope")
_ShadowSpan: Final = _shadow("opentelemetry.proto.trace.v1.Span")
_ShadowEvent: Final = _shadow("opentelemetry.proto.trace.v1.Span.Event")
_ShadowLink: Final = _shadow("opentelemetry.proto.trace.v1.Span.Link")


def encode_proto(batch: SpanBatch) -> bytes:
    """A ``SpanBatch`` as a serialized ``ExportTraceServiceRequest``, one ``ResourceSpans``
    per distinct resource and one ``ScopeSpans`` per scope in it (first-seen order).

    A resource without ``service.name`` gets it from ``ServiceName`` (unless that is the
    unknown-service default), so the service survives the trip.
    """
    if batch.num_rows == 0:
        return b""
    batch = batch.combine_chunks()

    def column(name: str) -> pa.Array:
        return batch.column(name).chunk(0)

    def values(name: str) -> list[Any]:
        items: list[Any] = column(name).to_pylist()
        return items

    encoded = _encoded_attributes()
    span_attributes = _attribute_rows(
        column("SpanAttributes"), column("SpanAttributeTypes"), encoded
    )
    resource_attributes = _attribute_rows(
        column("ResourceAttributes"), column("ResourceAttributeTypes"), encoded
    )
    events = _event_rows(column("Events"), encoded)
    links = _link_rows(column("Links"), encoded)
    trace_ids, span_ids, parent_ids = values("TraceId"), values("SpanId"), values("ParentSpanId")
    states, names, kinds = values("TraceState"), values("SpanName"), values("SpanKind")
    starts, durations = values("Timestamp"), values("Duration")
    status_codes, status_messages = values("StatusCode"), values("StatusMessage")
    services, scope_names, scope_versions = (
        values("ServiceName"),
        values("ScopeName"),
        values("ScopeVersion"),
    )
    resources: dict[tuple[Any, ...], dict[tuple[str, str], list[Any]]] = defaultdict(dict)
    resource_messages: dict[tuple[Any, ...], Any] = {}
    for i in range(batch.num_rows):
        service = services[i]
        key = (*resource_attributes[i], service)
        if key not in resource_messages:
            attributes = resource_attributes[i]
            names_in = {common_pb2.KeyValue.FromString(raw).key for raw in attributes}
            if service != UNKNOWN_SERVICE and "service.name" not in names_in:
                attributes = [*attributes, _raw_attribute("service.name", service, "s", encoded)]
            resource_messages[key] = _ShadowResource(attributes=attributes)
        start = starts[i]
        span = _ShadowSpan(
            trace_id=bytes.fromhex(trace_ids[i]),
            span_id=bytes.fromhex(span_ids[i]),
            parent_span_id=bytes.fromhex(parent_ids[i]),
            trace_state=states[i],
            name=names[i],
            kind=kinds[i],
            start_time_unix_nano=start,
            end_time_unix_nano=start + durations[i],
            attributes=span_attributes[i],
            events=events[i],
            links=links[i],
            status=_status(status_codes[i], status_messages[i]),
        )
        resources[key].setdefault((scope_names[i], scope_versions[i]), []).append(span)
    request = _ShadowRequest(
        resource_spans=[
            _ShadowResourceSpans(
                resource=resource_messages[key],
                scope_spans=[
                    _ShadowScopeSpans(scope=_ShadowScope(name=name, version=version), spans=spans)
                    for (name, version), spans in scopes.items()
                ],
            )
            for key, scopes in resources.items()
        ]
    )
    data: bytes = request.SerializeToString()
    return data


_Encoded: TypeAlias = dict[tuple[str, str, str], bytes]
_encoded: _Encoded = {}


def _encoded_attributes() -> _Encoded:
    """(key, text, code) -> raw ``KeyValue`` bytes; replaced (never cleared) when full."""
    global _encoded
    if len(_encoded) > _CACHE_MAX_ENTRIES:
        _encoded = {}
    return _encoded


def _raw_attribute(key: str, text: str, code: str, encoded: _Encoded) -> bytes:
    raw = encoded.get((key, text, code))
    if raw is None:
        kv = common_pb2.KeyValue(key=key, value=_any_value(text, code))
        raw = encoded[(key, text, code)] = kv.SerializeToString()
    return raw


def _attribute_rows(maps: pa.Array, types: pa.Array, encoded: _Encoded) -> list[list[bytes]]:
    """Each row's attributes as raw ``KeyValue`` bytes (one dict lookup per attribute)."""
    offsets = maps.offsets.to_pylist()  # absolute positions in .keys/.items, even when sliced
    first, last = offsets[0], offsets[-1]
    keys = maps.keys.to_pylist()[first:last]
    texts = maps.items.to_pylist()[first:last]
    codes = types.to_pylist()
    if list(map(len, codes)) == list(map(operator.sub, islice(offsets, 1, None), offsets)):
        flat_codes: Sequence[str] = "".join(codes)
    else:  # not from our decoders: a missing code reads as a string
        flat_codes = [
            c[j] if j < len(c) else "s"
            for c, (start, end) in zip(codes, pairwise(offsets), strict=True)
            for j in range(end - start)
        ]
    triples = list(zip(keys, texts, flat_codes, strict=True))
    raws: list[bytes | None] = list(map(encoded.get, triples))
    i = -1
    while True:
        try:
            i = raws.index(None, i + 1)
        except ValueError:
            break
        raws[i] = _raw_attribute(*triples[i], encoded)
    return [raws[start - first : end - first] for start, end in pairwise(offsets)]  # type: ignore[misc]


def _event_rows(events: pa.Array, encoded: _Encoded) -> list[list[Any]]:
    offsets = events.offsets.to_pylist()
    if offsets[0] == offsets[-1]:
        return [[] for _ in range(len(events))]
    # .values: absolute positions, like the offsets; flatten(): fields cut to the struct's slice
    times, names, maps, types = events.values.flatten()
    times, names = times.to_pylist(), names.to_pylist()
    attributes = _attribute_rows(maps, types, encoded)
    messages = [
        _ShadowEvent(time_unix_nano=t, name=n, attributes=a)
        for t, n, a in zip(times, names, attributes, strict=True)
    ]
    return [messages[start:end] for start, end in pairwise(offsets)]


def _link_rows(links: pa.Array, encoded: _Encoded) -> list[list[Any]]:
    offsets = links.offsets.to_pylist()
    if offsets[0] == offsets[-1]:
        return [[] for _ in range(len(links))]
    trace_id_column, span_id_column, state_column, maps, types = links.values.flatten()
    trace_ids, span_ids = trace_id_column.to_pylist(), span_id_column.to_pylist()
    states = state_column.to_pylist()
    attributes = _attribute_rows(maps, types, encoded)
    messages = [
        _ShadowLink(
            trace_id=bytes.fromhex(t), span_id=bytes.fromhex(s), trace_state=st, attributes=a
        )
        for t, s, st, a in zip(trace_ids, span_ids, states, attributes, strict=True)
    ]
    return [messages[start:end] for start, end in pairwise(offsets)]


def _status(code: int, message: str) -> bytes:
    if not code and not message:
        return b""
    data: bytes = trace_pb2.Status(code=code, message=message).SerializeToString()  # type: ignore[arg-type]
    return data


def _any_value(text: str, code: str) -> Any:
    """An attribute's value text and type code as an ``AnyValue``."""
    if code == "a" or code == "m":
        return _any_from_python(orjson.loads(text))
    if code == "i":
        return common_pb2.AnyValue(int_value=int(text))
    if code == "d":
        return common_pb2.AnyValue(double_value=float(text))
    if code == "b":
        return common_pb2.AnyValue(bool_value=text == "true")
    if code == "y":
        return common_pb2.AnyValue(bytes_value=base64.b64decode(text))
    return common_pb2.AnyValue(string_value=text)


def _any_from_python(value: Any) -> Any:
    if value is None:
        return common_pb2.AnyValue()
    if isinstance(value, bool):
        return common_pb2.AnyValue(bool_value=value)
    if isinstance(value, int):
        if -(2**63) <= value <= _INT64_MAX:
            return common_pb2.AnyValue(int_value=value)
        return common_pb2.AnyValue(double_value=float(value))
    if isinstance(value, float):
        return common_pb2.AnyValue(double_value=value)
    if isinstance(value, str):
        return common_pb2.AnyValue(string_value=value)
    if isinstance(value, list):
        return common_pb2.AnyValue(
            array_value=common_pb2.ArrayValue(values=[_any_from_python(v) for v in value])
        )
    return common_pb2.AnyValue(
        kvlist_value=common_pb2.KeyValueList(
            values=[common_pb2.KeyValue(key=k, value=_any_from_python(v)) for k, v in value.items()]
        )
    )
