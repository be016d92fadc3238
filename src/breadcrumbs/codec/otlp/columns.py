"""The span columns of one request under construction, filled by ``proto_in`` or ``json_in`` and
turned into a ``SpanBatch`` once: the attribute cache, attribute-map columns with their limits
and markers, id and time checks, events and links.
"""

from __future__ import annotations

import binascii
import operator
import threading
import time
from array import array
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import accumulate, compress, count, islice, pairwise, repeat
from typing import Final, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc
from opentelemetry.proto.common.v1 import common_pb2

from breadcrumbs.codec.base import (
    DROPPED_ATTRIBUTES_KEY,
    DROPPED_LINKS_KEY,
    TRUNCATED_KEY,
    DecodeLimits,
    DecodeResult,
)
from breadcrumbs.codec.otlp.key_values import key_value_columns
from breadcrumbs.codec.otlp.values import _decode_one_by_one, _Raw
from breadcrumbs.model import (
    ATTRIBUTES_TYPE,
    EVENT_TYPE,
    LINK_TYPE,
    SPAN_SCHEMA,
    UNKNOWN_SERVICE,
)

_MIN_START_NS: Final = 946_684_800 * 10**9  # 2000-01-01T00:00:00Z
_FUTURE_SLACK_NS: Final = 86_400 * 10**9  # clocks may run ahead, but not by a day
_INT64_MAX: Final = 2**63 - 1
_ZERO16: Final = bytes(16)
_ZERO8: Final = bytes(8)
_CACHE_MAX_ENTRIES: Final = 65_536  # ~300 bytes each; unique values (URLs) refill it

DEFAULT_LIMITS: Final = DecodeLimits()

_EVENTS_TYPE: Final = SPAN_SCHEMA.field("Events").type
_LINKS_TYPE: Final = SPAN_SCHEMA.field("Links").type


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
        parse (``key_values``), one at a time only where that does not apply."""
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
