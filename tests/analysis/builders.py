"""Hand-built traces for the analysis tests: spans by small integer ids, times in ns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from breadcrumbs.model import (
    AttributeValue,
    Event,
    Span,
    SpanBatch,
    SpanKind,
    StatusCode,
    batch_from_spans,
)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def sid(number: int) -> str:
    return f"{number:016x}"


def span(
    number: int,
    parent: int | None,
    start: int,
    end: int,
    *,
    service: str = "svc",
    name: str | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    error: bool = False,
    status_message: str = "",
    events: Sequence[Event] = (),
    attributes: Mapping[str, AttributeValue] | None = None,
    host: str | None = None,
    trace: str = TRACE,
) -> Span:
    return Span(
        trace_id=trace,
        span_id=sid(number),
        parent_span_id="" if parent is None else sid(parent),
        name=name or f"op{number}",
        service=service,
        start_ns=start,
        duration_ns=end - start,
        kind=kind,
        status=StatusCode.ERROR if error else StatusCode.UNSET,
        status_message=status_message,
        events=events,
        attributes=attributes,
        resource={"host.name": host} if host else None,
    )


def batch(*spans: Span) -> SpanBatch:
    return batch_from_spans(list(spans))


def exception(kind: str, message: str, stacktrace: str, at: int = 0) -> Event:
    return Event(
        at,
        "exception",
        {"exception.type": kind, "exception.message": message, "exception.stacktrace": stacktrace},
    )


def columnar_batch(
    parents: Sequence[int], starts: Sequence[int], ends: Sequence[int], services: Sequence[str]
) -> SpanBatch:
    """A big trace built straight as columns: span ``i`` has id ``i + 1`` and parent
    ``parents[i]`` (0: a root). For traces too big for ``Span`` objects."""
    import pyarrow as pa

    from breadcrumbs.model import SPAN_SCHEMA

    count = len(starts)
    empty_map = pa.array([[]] * count, SPAN_SCHEMA.field("SpanAttributes").type)
    text = pa.array([""] * count, pa.string())
    columns = {
        "Timestamp": pa.array(starts, pa.int64()),
        "TraceId": pa.array([TRACE] * count, pa.string()),
        "SpanId": pa.array([sid(i + 1) for i in range(count)], pa.string()),
        "ParentSpanId": pa.array([sid(p) if p else "" for p in parents], pa.string()),
        "TraceState": text,
        "SpanName": pa.array([f"op{p}" for p in parents], pa.string()),
        "SpanKind": pa.array([1] * count, pa.int8()),
        "ServiceName": pa.array(services, pa.string()),
        "ResourceAttributes": empty_map,
        "ResourceAttributeTypes": text,
        "ScopeName": text,
        "ScopeVersion": text,
        "SpanAttributes": empty_map,
        "SpanAttributeTypes": text,
        "Duration": pa.array([e - s for s, e in zip(starts, ends, strict=True)], pa.int64()),
        "StatusCode": pa.array([0] * count, pa.int8()),
        "StatusMessage": text,
        "Events": pa.array([[]] * count, SPAN_SCHEMA.field("Events").type),
        "Links": pa.array([[]] * count, SPAN_SCHEMA.field("Links").type),
    }
    return pa.table(columns, schema=SPAN_SCHEMA)
