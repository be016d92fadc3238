"""The one place API adapters ask for traces: runs query objects on a ``SpanReader``, splits
results per trace and applies the standard adjusters. Adapters translate; this computes."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from breadcrumbs.errors import NotFound
from breadcrumbs.model import SpanBatch, SpanKind
from breadcrumbs.query.adjusters import (
    DEFAULT_MAX_DELTA_NS,
    AdjustedTrace,
    Adjuster,
    adjust,
    standard_adjusters,
)
from breadcrumbs.store.base import (
    DependencyLink,
    GetTraceParams,
    Operation,
    SpanReader,
    TraceQuery,
)

# When bare-key conditions are checked after the store's search, ask it for this many times
# the wanted traces, so that filtering still fills the page in the common case.
_OVERFETCH = 4
_MAX_FETCH = 2_000


def split_traces(batch: SpanBatch, order: Sequence[str]) -> list[SpanBatch]:
    """One batch per trace id in ``order`` (ids with no spans are skipped)."""
    if batch.num_rows == 0:
        return []
    rows: dict[str, list[int]] = {}
    for index, trace_id in enumerate(batch["TraceId"].to_pylist()):
        rows.setdefault(trace_id, []).append(index)
    return [
        batch.take(pa.array(rows[trace_id], type=pa.int64()))
        for trace_id in order
        if trace_id in rows
    ]


def _has_keys(spans: SpanBatch, keys: Sequence[str], query: TraceQuery) -> bool:
    """Some span that meets the query's own conditions also has every key as a span attribute
    key, a resource attribute key or an event name (Zipkin: a tag key or an annotation value):
    all of a Zipkin ``annotationQuery`` must hold on one span."""
    if query.service is not None:
        spans = spans.filter(pc.equal(spans["ServiceName"], query.service))
    if query.operation is not None:
        spans = spans.filter(pc.equal(spans["SpanName"], query.operation))
    if query.min_duration_ns is not None:
        spans = spans.filter(pc.greater_equal(spans["Duration"], query.min_duration_ns))
    if query.max_duration_ns is not None:
        spans = spans.filter(pc.less_equal(spans["Duration"], query.max_duration_ns))
    # Per-span Python over the few spans left: key presence across three maps and a list.
    attributes = spans["SpanAttributes"].to_pylist()
    resources = spans["ResourceAttributes"].to_pylist()
    events = spans["Events"].to_pylist()
    for attrs, resource, evs in zip(attributes, resources, events, strict=True):
        span_attrs = dict(attrs)
        everything = {**dict(resource), **span_attrs}
        for event in evs:
            everything.update(event["Attributes"])
        if any(
            (span_attrs if tag.scope == "span" else everything).get(tag.key) != tag.value
            for tag in query.tags
        ):
            continue
        present = everything.keys() | {event["Name"] for event in evs}
        if all(key in present for key in keys):
            return True
    return False


class QueryService:
    def __init__(
        self,
        reader: SpanReader,
        *,
        max_clock_skew_ns: int = DEFAULT_MAX_DELTA_NS,
        adjusters: Sequence[Adjuster] | None = None,
    ) -> None:
        self.reader = reader
        self.adjusters = (
            tuple(adjusters) if adjusters is not None else standard_adjusters(max_clock_skew_ns)
        )

    def _adjust(self, spans: SpanBatch) -> AdjustedTrace:
        return adjust(spans, self.adjusters)

    async def get_trace(
        self,
        trace_id: str,
        start_ns: int | None = None,
        end_ns: int | None = None,
        *,
        raw: bool = False,
    ) -> AdjustedTrace:
        """One adjusted trace (as stored when ``raw``); ``NotFound`` when no span is stored."""
        spans = await self.reader.get_trace(GetTraceParams(trace_id, start_ns, end_ns))
        if spans.num_rows == 0:
            raise NotFound("trace not found")
        return AdjustedTrace.of(spans) if raw else self._adjust(spans)

    async def get_traces(self, trace_ids: Sequence[str]) -> list[AdjustedTrace]:
        """The traces that exist, in the order asked."""
        if not trace_ids:
            return []
        batch = await self.reader.get_traces(list(trace_ids))
        return [self._adjust(spans) for spans in split_traces(batch, trace_ids)]

    async def find_traces(
        self, query: TraceQuery, *, required_keys: Sequence[str] = ()
    ) -> list[AdjustedTrace]:
        """Traces matching ``query``, newest first. ``required_keys`` are checked here on the
        fetched traces (the store contract has no "key exists" condition)."""
        if not required_keys:
            return await self.get_traces(await self.reader.find_trace_ids(query))
        wanted = query.limit
        widened = TraceQuery(
            start_ns=query.start_ns,
            end_ns=query.end_ns,
            service=query.service,
            operation=query.operation,
            span_kind=query.span_kind,
            tags=query.tags,
            min_duration_ns=query.min_duration_ns,
            max_duration_ns=query.max_duration_ns,
            limit=min(_MAX_FETCH, max(wanted, wanted * _OVERFETCH)),
        )
        traces = await self.get_traces(await self.reader.find_trace_ids(widened))
        kept = [t for t in traces if _has_keys(t.spans, required_keys, query)]
        return kept[:wanted]

    async def services(self) -> list[str]:
        return await self.reader.services()

    async def operations(self, service: str, span_kind: SpanKind | None = None) -> list[Operation]:
        return await self.reader.operations(service, span_kind)

    async def operation_names(self, service: str) -> list[str]:
        """Distinct operation names of a service, sorted (kinds merged)."""
        return sorted({op.name for op in await self.reader.operations(service)})

    async def remote_services(self, service: str) -> list[str]:
        return await self.reader.remote_services(service)

    async def dependencies(self, end_ns: int, lookback_ns: int) -> list[DependencyLink]:
        return await self.reader.dependencies(end_ns, lookback_ns)

    async def tag_keys(self) -> list[str]:
        return await self.reader.tag_keys()

    async def tag_values(self, key: str) -> list[str]:
        return await self.reader.tag_values(key)
