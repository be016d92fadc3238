"""The native trace format for big traces (``/api/x/traces/{id}``): columnar, compact, chunked.

A trace goes out as a header (the summary, one deduplicated string table) followed by chunks of
parallel arrays, one entry per span, so a browser can start drawing a 1M-span trace before the
last byte arrives and never builds one object per span. Everything here works on whole Arrow
columns; the only per-span Python work is orjson serialising the finished lists.

Header: ``{"type": "header", "traceId", "summary": {...}, "strings": [...], "chunkSize",
"warnings": [...]}``. Chunk: ``{"type": "spans", "offset", "count", "spanId": [hex],
"parent": [row index or -1], "start": [ns after the trace start], "duration": [ns],
"service": [string index], "name": [string index], "kind": [SpanKind], "status":
[StatusCode], "links": [count], "eventSpan": [row index], "eventTime": [ns after the trace
start], "eventName": [string index], "spanWarnings": [[row, text], ...]}``. Rows are in start
order; ``parent`` indexes the whole trace, so a chunk may point at rows of an earlier chunk.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from breadcrumbs.codec.jaeger import typed_tags
from breadcrumbs.model import SpanBatch, SpanKind, StatusCode

DEFAULT_CHUNK: Final = 50_000
_NARROW: Final = (
    "Timestamp",
    "TraceId",
    "SpanId",
    "ParentSpanId",
    "SpanName",
    "SpanKind",
    "ServiceName",
    "Duration",
    "StatusCode",
    "Events",
)
# Pointer jumping doubles the covered depth per round: 64 rounds cover any real tree and stop
# a parent cycle (malformed input) from looping forever.
_MAX_JUMPS: Final = 64


@dataclass(frozen=True, slots=True)
class NativeTrace:
    """A trace's columns ready to serialise: computed once, sliced into chunks."""

    trace_id: str
    start_ns: int
    span_ids: pa.Array
    parent: pa.Array  # int64, -1 for a root or a parent that never arrived
    start: pa.Array  # int64 ns after start_ns
    duration: pa.Array
    service: pa.Array  # int32 indices into strings
    name: pa.Array
    kind: pa.Array
    status: pa.Array
    links: pa.Array
    event_offsets: pa.Array  # span i's events are flat rows [offsets[i], offsets[i+1])
    event_span: pa.Array  # per event: its span's row
    event_time: pa.Array
    event_name: pa.Array
    strings: list[str]
    span_warnings: list[tuple[int, str]]
    summary: dict[str, Any]


def _encode(column: pa.ChunkedArray | pa.Array, strings: list[str]) -> pa.Array:
    """Dictionary-encode a string column into the shared table; returns int32 indices."""
    encoded = pc.dictionary_encode(_whole(column))
    base = len(strings)
    strings.extend(encoded.dictionary.to_pylist())
    return pc.add(encoded.indices.cast(pa.int32()), pa.scalar(base, pa.int32()))


def _whole(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks()
    return column


def parent_rows(span_ids: pa.Array, parent_ids: pa.Array) -> pa.Array:
    """Each span's parent as a row index, -1 for roots and for parents not in the trace."""
    found = pc.index_in(parent_ids, value_set=span_ids)
    return pc.fill_null(found, -1).cast(pa.int64())


def depths(parent: pa.Array) -> pa.Array:
    """Each row's depth (a root is 0) by pointer jumping: log2(depth) whole-column rounds."""
    n = len(parent)
    sentinel = pa.scalar(n, pa.int64())
    # Row n is a sentinel that is its own parent at depth 0: roots point at it.
    jump = pa.concat_arrays(
        [pc.if_else(pc.less(parent, 0), sentinel, parent), pa.array([n], pa.int64())]
    )
    depth = pa.concat_arrays(
        [pc.if_else(pc.less(parent, 0), 0, 1).cast(pa.int64()), pa.array([0], pa.int64())]
    )
    for _ in range(_MAX_JUMPS):
        if pc.all(pc.equal(jump, sentinel)).as_py():
            break
        depth = pc.add(depth, pc.take(depth, jump))
        jump = pc.take(jump, jump)
    return depth.slice(0, n)


def build(spans: SpanBatch, warnings: Sequence[Sequence[str]], cap: int) -> NativeTrace:
    """The native form of one trace's spans, sorted by start then span id, keeping at most
    ``cap`` rows (the earliest)."""
    total = spans.num_rows
    # Only the columns sent: the attribute maps stay behind (a take of those costs seconds at 1M).
    spans = pa.table(
        {
            **{name: spans[name] for name in _NARROW},
            "Links": pc.list_value_length(_whole(spans["Links"])),
        }
    )
    timestamps = _whole(spans["Timestamp"])
    if (
        total > 1
        and not pc.all(
            pc.greater_equal(timestamps.slice(1), timestamps.slice(0, total - 1))
        ).as_py()
    ):
        order = pc.sort_indices(spans, [("Timestamp", "ascending"), ("SpanId", "ascending")])
        spans = spans.take(order)
        if any(warnings):
            warnings = [warnings[i] for i in order.to_pylist()]
    notes: list[str] = []
    if total > cap:
        spans = spans.slice(0, cap)
        warnings = warnings[:cap]
        notes.append(
            f"this trace has {total:,} spans; only the first {cap:,} by start time are shown"
        )
    timestamps = _whole(spans["Timestamp"])
    durations = _whole(spans["Duration"])
    start_ns = int(pc.min(timestamps).as_py())
    end_ns = int(pc.max(pc.add(timestamps, durations)).as_py())
    span_ids = _whole(spans["SpanId"])
    parent = parent_rows(span_ids, _whole(spans["ParentSpanId"]))
    strings: list[str] = []
    service = _encode(spans["ServiceName"], strings)
    name = _encode(spans["SpanName"], strings)
    status = _whole(spans["StatusCode"])
    events = _whole(spans["Events"])
    flat = pc.list_flatten(events)
    event_name = _encode(flat.field("Name"), strings) if len(flat) else pa.array([], pa.int32())
    errors = pc.equal(status, int(StatusCode.ERROR))
    roots = pc.equal(parent, -1)
    depth = depths(parent)
    summary = _summary(spans, span_ids, parent, errors, roots, depth, start_ns, end_ns, total)
    return NativeTrace(
        trace_id=str(spans["TraceId"][0].as_py()),
        start_ns=start_ns,
        span_ids=span_ids,
        parent=parent,
        start=pc.subtract(timestamps, start_ns),
        duration=durations,
        service=service,
        name=name,
        kind=_whole(spans["SpanKind"]),
        status=status,
        links=_whole(spans["Links"]),
        event_offsets=pc.subtract(events.offsets, events.offsets[0]),
        event_span=pc.list_parent_indices(events),
        event_time=pc.subtract(flat.field("Timestamp"), start_ns),
        event_name=event_name,
        strings=strings,
        span_warnings=[(row, text) for row, texts in enumerate(warnings) for text in texts],
        summary={**summary, "warnings": notes},
    )


def _summary(
    spans: SpanBatch,
    span_ids: pa.Array,
    parent: pa.Array,
    errors: pa.Array,
    roots: pa.Array,
    depth: pa.Array,
    start_ns: int,
    end_ns: int,
    total: int,
) -> dict[str, Any]:
    by_service = (
        pa.table({"service": spans["ServiceName"], "error": pc.cast(errors, pa.int64())})
        .group_by("service")
        .aggregate([("service", "count"), ("error", "sum")])
        .sort_by([("service_count", "descending"), ("service", "ascending")])
    )
    root_rows = pc.indices_nonzero(roots)
    root = None
    if len(root_rows):
        row = int(root_rows[0].as_py())
        root = {
            "spanId": span_ids[row].as_py(),
            "service": spans["ServiceName"][row].as_py(),
            "name": spans["SpanName"][row].as_py(),
        }
    children = pc.value_counts(pc.filter(parent, pc.greater_equal(parent, 0)))
    max_fan_out = int(pc.max(children.field("counts")).as_py() or 0) if len(children) else 0
    return {
        "spanCount": spans.num_rows,
        "storedSpanCount": total,
        "startNs": start_ns,
        "durationNs": end_ns - start_ns,
        "depth": int(pc.max(depth).as_py() or 0) + 1 if len(depth) else 0,
        "maxFanOut": max_fan_out,
        "errorCount": int(pc.sum(pc.cast(errors, pa.int64())).as_py() or 0),
        "rootCount": len(root_rows),
        "root": root,
        "services": [
            {"name": svc, "spans": count, "errors": errs}
            for svc, count, errs in zip(
                by_service["service"].to_pylist(),
                by_service["service_count"].to_pylist(),
                by_service["error_sum"].to_pylist(),
                strict=True,
            )
        ],
    }


def header(trace: NativeTrace, chunk_size: int) -> dict[str, Any]:
    return {
        "type": "header",
        "traceId": trace.trace_id,
        "summary": {key: value for key, value in trace.summary.items() if key != "warnings"},
        "strings": trace.strings,
        "chunkSize": chunk_size,
        "warnings": trace.summary["warnings"],
    }


def chunks(trace: NativeTrace, chunk_size: int) -> Iterator[dict[str, Any]]:
    """The span columns in slices of ``chunk_size`` rows, in row order."""
    total = len(trace.span_ids)
    warnings = trace.span_warnings
    for offset in range(0, total, chunk_size):
        count = min(chunk_size, total - offset)
        first_event = trace.event_offsets[offset].as_py()
        event_count = trace.event_offsets[offset + count].as_py() - first_event
        yield {
            "type": "spans",
            "offset": offset,
            "count": count,
            "spanId": trace.span_ids.slice(offset, count).to_pylist(),
            "parent": trace.parent.slice(offset, count).to_pylist(),
            "start": trace.start.slice(offset, count).to_pylist(),
            "duration": trace.duration.slice(offset, count).to_pylist(),
            "service": trace.service.slice(offset, count).to_pylist(),
            "name": trace.name.slice(offset, count).to_pylist(),
            "kind": trace.kind.slice(offset, count).to_pylist(),
            "status": trace.status.slice(offset, count).to_pylist(),
            "links": trace.links.slice(offset, count).to_pylist(),
            "eventSpan": trace.event_span.slice(first_event, event_count).to_pylist(),
            "eventTime": trace.event_time.slice(first_event, event_count).to_pylist(),
            "eventName": trace.event_name.slice(first_event, event_count).to_pylist(),
            "spanWarnings": [
                [row, text] for row, text in warnings if offset <= row < offset + count
            ],
        }


def span_detail(
    spans: SpanBatch, warnings: Sequence[Sequence[str]], span_id: str
) -> dict[str, Any] | None:
    """Everything about one span for the span panel: typed attributes, resource, events, links
    both ways (spans of this trace that link to it), status, kind, scope, adjuster warnings."""
    rows = pc.indices_nonzero(pc.equal(spans["SpanId"], span_id))
    if not len(rows):
        return None
    row = int(rows[0].as_py())
    span = spans.slice(row, 1).to_pylist()[0]
    kind = span["SpanKind"]
    status = span["StatusCode"]
    linked_from = _linked_from(spans, span_id)
    return {
        "traceId": span["TraceId"],
        "spanId": span["SpanId"],
        "parentSpanId": span["ParentSpanId"] or None,
        "name": span["SpanName"],
        "service": span["ServiceName"],
        "kind": SpanKind(kind).label if kind in SpanKind._value2member_map_ else str(kind),
        "startNs": span["Timestamp"],
        "durationNs": span["Duration"],
        "status": {
            "code": StatusCode(status).label
            if status in StatusCode._value2member_map_
            else str(status),
            "message": span["StatusMessage"],
        },
        "traceState": span["TraceState"],
        "scope": {"name": span["ScopeName"], "version": span["ScopeVersion"]},
        "attributes": typed_tags(span["SpanAttributes"], span["SpanAttributeTypes"]),
        "resource": typed_tags(span["ResourceAttributes"], span["ResourceAttributeTypes"]),
        "events": [
            {
                "timeNs": event["Timestamp"],
                "name": event["Name"],
                "attributes": typed_tags(event["Attributes"], event["AttributeTypes"]),
            }
            for event in span["Events"]
        ],
        "links": [
            {
                "traceId": link["TraceId"],
                "spanId": link["SpanId"],
                "attributes": typed_tags(link["Attributes"], link["AttributeTypes"]),
            }
            for link in span["Links"]
        ],
        "linkedFrom": linked_from,
        "warnings": list(warnings[row]) if row < len(warnings) else [],
    }


def _linked_from(spans: SpanBatch, span_id: str) -> list[dict[str, str]]:
    """Spans of this trace whose links point at ``span_id`` (the reverse direction)."""
    links = _whole(spans["Links"])
    flat = pc.list_flatten(links)
    if not len(flat):
        return []
    hits = pc.indices_nonzero(pc.equal(flat.field("SpanId"), span_id))
    if not len(hits):
        return []
    owners = pc.take(pc.list_parent_indices(links), hits)
    return [
        {"traceId": trace_id, "spanId": sid}
        for trace_id, sid in zip(
            pc.take(_whole(spans["TraceId"]), owners).to_pylist(),
            pc.take(_whole(spans["SpanId"]), owners).to_pylist(),
            strict=True,
        )
    ]
