"""Which spans of a fetched trace meet a ``TraceQuery``'s span conditions: the spans a search
found the trace by, so the trace view can highlight them.

The conditions are those every store applies in ``find_trace_ids`` (one span meets all of
them), evaluated on the trace's Arrow columns: service, operation, kind, status, duration,
the start-time window, and tag filters on value texts (``span``: span attributes;
``resource``: resource attributes; ``any``: either, or one event's attributes). The storage
test suite's search cases and ``tests/query/test_matching.py`` hold both to the same answers.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from breadcrumbs.model import SpanBatch
from breadcrumbs.query.derived_tags import lift_derived_tags
from breadcrumbs.store.base import TagFilter, TraceQuery


def _has_pair(entries: list[tuple[str, str]], tag: TagFilter) -> bool:
    return any(key == tag.key and value == tag.value for key, value in entries)


def _tag_holds(
    tag: TagFilter,
    span: list[tuple[str, str]],
    resource: list[tuple[str, str]],
    events: list[dict[str, object]],
) -> bool:
    if tag.scope == "span":
        return _has_pair(span, tag)
    if tag.scope == "resource":
        return _has_pair(resource, tag)
    return (
        _has_pair(resource, tag)
        or _has_pair(span, tag)
        or any(_has_pair(event["Attributes"], tag) for event in events)  # type: ignore[arg-type]
    )


def matching_mask(spans: SpanBatch, query: TraceQuery, *, in_window: bool = True) -> pa.Array:
    """A boolean per row of ``spans``: the span meets every condition of ``query`` (its
    limit aside). ``in_window=False`` leaves the start-time window out."""
    query = lift_derived_tags(query)
    n = spans.num_rows
    conditions: list[pa.Array | pa.ChunkedArray] = []
    if in_window:
        start = spans["Timestamp"]
        conditions += [
            pc.greater_equal(start, query.start_ns),
            pc.less_equal(start, query.end_ns),
        ]
    if query.service is not None:
        conditions.append(pc.equal(spans["ServiceName"], query.service))
    if query.operation is not None:
        conditions.append(pc.equal(spans["SpanName"], query.operation))
    if query.span_kind is not None:
        conditions.append(pc.equal(spans["SpanKind"], pa.scalar(query.span_kind, pa.int8())))
    if query.status_codes:
        codes = pa.array([int(code) for code in query.status_codes], pa.int8())
        conditions.append(pc.is_in(spans["StatusCode"], value_set=codes))
    if query.min_duration_ns is not None:
        conditions.append(pc.greater_equal(spans["Duration"], query.min_duration_ns))
    if query.max_duration_ns is not None:
        conditions.append(pc.less_equal(spans["Duration"], query.max_duration_ns))
    mask = pa.array([True] * n, pa.bool_())
    for condition in conditions:
        mask = pc.and_(mask, condition)
    mask = pa.chunked_array([mask]).combine_chunks() if isinstance(mask, pa.ChunkedArray) else mask
    if not query.tags or n == 0:
        return mask
    # Per-span Python only over the spans every column condition already kept.
    rows = pc.indices_nonzero(mask)
    candidates = spans.take(rows)
    span_attrs = candidates["SpanAttributes"].to_pylist()
    resources = candidates["ResourceAttributes"].to_pylist()
    events = candidates["Events"].to_pylist()
    flags = [False] * n
    for row, attrs, resource, evs in zip(
        rows.to_pylist(), span_attrs, resources, events, strict=True
    ):
        flags[row] = all(_tag_holds(tag, attrs, resource, evs) for tag in query.tags)
    return pa.array(flags, pa.bool_())
