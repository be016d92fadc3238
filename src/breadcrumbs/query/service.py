"""The one place API adapters ask for traces: runs query objects on a ``SpanReader``, splits
results per trace and applies the standard adjusters. Adapters translate; this computes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from breadcrumbs.errors import BadInput, NotFound
from breadcrumbs.model import SpanBatch, SpanKind, StatusCode
from breadcrumbs.query.adjusters import (
    DEFAULT_MAX_DELTA_NS,
    AdjustedTrace,
    Adjuster,
    adjust,
    dedupe,
    standard_adjusters,
    uniquify_shared,
)
from breadcrumbs.query.derived_tags import lift_derived_tags
from breadcrumbs.query.gc_pause import gc_paused
from breadcrumbs.query.matching import matching_mask
from breadcrumbs.query.search_params import NativeSearch
from breadcrumbs.query.trace_ids import parse_trace_id_or_prefix
from breadcrumbs.store.base import (
    DependenciesQuery,
    DependencyLink,
    GetTraceParams,
    GetTracesParams,
    Operation,
    OperationsQuery,
    RemoteServicesQuery,
    ServicesQuery,
    SpanReader,
    TagKeysQuery,
    TagValuesQuery,
    TraceIdPrefix,
    TraceQuery,
)
from breadcrumbs.store.threads import lower_priority

T = TypeVar("T")

# When bare-key conditions are checked after the store's search, ask it for this many times
# the wanted traces, so that filtering still fills the page in the common case.
_OVERFETCH = 4
_MAX_FETCH = 2_000


@dataclass(frozen=True, slots=True)
class QueryBounds:
    """What one request may ask for (``--max-query-window``, ``--max-query-traces``): a
    search's or dependency graph's time window, and the traces a search or list returns.
    Beyond them: ``BadInput`` (400) naming the setting, never a query that runs for minutes."""

    max_window_ns: int = 7 * 24 * 3600 * 10**9
    max_traces: int = 1500

    def check_window(self, start_ns: int, end_ns: int, what: str) -> None:
        if end_ns - start_ns > self.max_window_ns:
            raise BadInput(
                f"the {what} window of {_duration_text(end_ns - start_ns)} is longer than the "
                f"{_duration_text(self.max_window_ns)} allowed (--max-query-window); "
                "narrow it"
            )

    def check_traces(self, count: int, what: str) -> None:
        if count > self.max_traces:
            raise BadInput(
                f"{what} asks for {count} traces, more than the {self.max_traces} allowed "
                "(--max-query-traces)"
            )


def _duration_text(ns: int) -> str:
    """``7d``, ``36h``, ``90s``: the largest unit that divides the duration (else seconds)."""
    seconds = ns / 10**9
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def split_traces(batch: SpanBatch, order: Sequence[str]) -> list[SpanBatch]:
    """One batch per trace id in ``order`` (ids with no spans are skipped), each in start
    order (start time, then span id): one sort and one ``take`` for the whole batch, then
    zero-copy slices, instead of a ``take`` per trace and another to sort it."""
    if batch.num_rows == 0:
        return []
    wanted = list(dict.fromkeys(order))
    rank = pc.index_in(batch["TraceId"], value_set=pa.array(wanted, pa.string()))
    keyed = pa.table({"rank": rank, "start": batch["Timestamp"], "span": batch["SpanId"]}).filter(
        pc.is_valid(rank)
    )
    indices = pc.sort_indices(
        keyed, [("rank", "ascending"), ("start", "ascending"), ("span", "ascending")]
    )
    ranks = keyed["rank"].take(indices).to_pylist()
    rows = pc.take(pc.indices_nonzero(pc.is_valid(rank)), indices)
    ordered = batch.take(rows)
    slices: dict[str, SpanBatch] = {}
    begin = 0
    for end in range(1, len(ranks) + 1):
        if end == len(ranks) or ranks[end] != ranks[begin]:
            slices[wanted[ranks[begin]]] = ordered.slice(begin, end - begin)
            begin = end
    return [slices[trace_id] for trace_id in order if trace_id in slices]


def _has_keys(spans: SpanBatch, keys: Sequence[str], query: TraceQuery) -> bool:
    """Some span that meets the query's own conditions also has every key as a span attribute
    key, a resource attribute key or an event name (Zipkin: a tag key or an annotation value):
    all of a Zipkin ``annotationQuery`` must hold on one span."""
    if query.service is not None:
        spans = spans.filter(pc.equal(spans["ServiceName"], query.service))
    if query.operation is not None:
        spans = spans.filter(pc.equal(spans["SpanName"], query.operation))
    if query.span_kind is not None:
        spans = spans.filter(pc.equal(spans["SpanKind"], pa.scalar(query.span_kind, pa.int8())))
    if query.status_codes:
        codes = pa.array([int(c) for c in query.status_codes], pa.int8())
        spans = spans.filter(pc.is_in(spans["StatusCode"], value_set=codes))
    if query.min_duration_ns is not None:
        spans = spans.filter(pc.greater_equal(spans["Duration"], query.min_duration_ns))
    if query.max_duration_ns is not None:
        spans = spans.filter(pc.less_equal(spans["Duration"], query.max_duration_ns))
    # Per-span Python over the few spans left: key presence across three maps and a list.
    attributes = spans["SpanAttributes"].to_pylist()
    resources = spans["ResourceAttributes"].to_pylist()
    events = spans["Events"].to_pylist()
    failed = pc.equal(spans["StatusCode"], pa.scalar(StatusCode.ERROR, pa.int8())).to_pylist()
    for attrs, resource, evs, error in zip(attributes, resources, events, failed, strict=True):
        span_attrs = dict(attrs)
        everything = {**dict(resource), **span_attrs}
        for event in evs:
            everything.update(event["Attributes"])
        if any(
            (span_attrs if tag.scope == "span" else everything).get(tag.key) != tag.value
            for tag in query.tags
        ):
            continue
        # Zipkin shows an error status as an ``error`` tag.
        present = (
            everything.keys() | {event["Name"] for event in evs} | ({"error"} if error else set())
        )
        if all(key in present for key in keys):
            return True
    return False


def _adjust_paused(spans: SpanBatch, adjusters: Sequence[Adjuster]) -> AdjustedTrace:
    with gc_paused():
        return adjust(spans, adjusters)


class QueryService:
    def __init__(
        self,
        reader: SpanReader,
        *,
        max_clock_skew_ns: int = DEFAULT_MAX_DELTA_NS,
        adjusters: Sequence[Adjuster] | None = None,
        bounds: QueryBounds = QueryBounds(),
    ) -> None:
        self.reader = reader
        self.bounds = bounds
        # CPU-bound analysis of fetched traces, on threads of its own (not asyncio's shared
        # default executor, where the ingest pipeline's stages also run).
        self._compute = ThreadPoolExecutor(
            2, thread_name_prefix="analysis", initializer=lower_priority
        )
        self.adjusters = (
            tuple(adjusters) if adjusters is not None else standard_adjusters(max_clock_skew_ns)
        )
        self.shared_id_adjusters = (
            tuple(adjusters)
            if adjusters is not None
            else standard_adjusters(max_clock_skew_ns, shared_ids=True)
        )

    async def compute(self, work: Callable[..., T], *args: object) -> T:
        """``work(*args)`` off the event loop, on the analysis threads."""
        return await asyncio.get_running_loop().run_in_executor(self._compute, work, *args)

    def close(self) -> None:
        self._compute.shutdown(wait=False, cancel_futures=True)

    def _adjust(self, spans: SpanBatch, shared_ids: bool = False) -> AdjustedTrace:
        return adjust(spans, self.shared_id_adjusters if shared_ids else self.adjusters)

    # Adjusting runs on the analysis threads: it is per-row Python for repeated span ids, and
    # on the event loop it held every ingest ack meanwhile.
    def _adjust_paused(self, spans: SpanBatch, shared_ids: bool) -> AdjustedTrace:
        with gc_paused():
            return self._adjust(spans, shared_ids)

    def _adjust_all(
        self, batch: SpanBatch, trace_ids: Sequence[str], shared_ids: bool
    ) -> list[AdjustedTrace]:
        with gc_paused():
            return [self._adjust(spans, shared_ids) for spans in split_traces(batch, trace_ids)]

    async def get_trace(
        self,
        trace_id: str,
        start_ns: int | None = None,
        end_ns: int | None = None,
        *,
        raw: bool = False,
        shared_ids: bool = False,
    ) -> AdjustedTrace:
        """One adjusted trace (as stored when ``raw``); ``NotFound`` when no span is stored.

        ``shared_ids`` keeps Zipkin's shared client/server span ids as they are (the Zipkin
        API); otherwise the server half gets its own id (the Jaeger APIs)."""
        spans = await self.reader.get_trace(GetTraceParams(trace_id, start_ns, end_ns))
        if spans.num_rows == 0:
            raise NotFound("trace not found")
        if raw:
            return AdjustedTrace.of(spans)
        return await self.compute(self._adjust_paused, spans, shared_ids)

    async def get_trace_unskewed(self, trace_id: str) -> AdjustedTrace:
        """One trace deduplicated, with shared Zipkin span ids split, clocks as recorded (in
        stored order): for the native API, which shows skew as a per-span warning from the
        analysis instead of moving spans, and whose big traces cannot afford the per-span
        clock-skew pass. ``NotFound`` when no span is stored."""
        spans = await self.reader.get_trace(GetTraceParams(trace_id))
        if spans.num_rows == 0:
            raise NotFound("trace not found")
        return await self.compute(_adjust_paused, spans, (dedupe, uniquify_shared))

    async def get_traces(
        self, trace_ids: Sequence[str], *, shared_ids: bool = False
    ) -> list[AdjustedTrace]:
        """The traces that exist, in the order asked."""
        self.bounds.check_traces(len(set(trace_ids)), "the trace list")
        return await self._fetch(trace_ids, shared_ids)

    async def _fetch(self, trace_ids: Sequence[str], shared_ids: bool) -> list[AdjustedTrace]:
        if not trace_ids:
            return []
        batch = await self.reader.get_traces(GetTracesParams(tuple(trace_ids)))
        return await self.compute(self._adjust_all, batch, trace_ids, shared_ids)

    async def find_traces(
        self,
        query: TraceQuery,
        *,
        required_keys: Sequence[str] = (),
        shared_ids: bool = False,
        fold_case: bool = False,
    ) -> list[AdjustedTrace]:
        """Traces matching ``query``, newest first. ``required_keys`` are checked here on the
        fetched traces (the store contract has no "key exists" condition). ``fold_case``
        matches service and operation names case-insensitively (Zipkin lowercases names)."""
        self.bounds.check_window(query.start_ns, query.end_ns, "search")
        self.bounds.check_traces(query.limit, "the search")
        query = lift_derived_tags(query)
        if fold_case:
            query = await self._fold_case(query)
        if not required_keys:
            ids = await self.reader.find_trace_ids(query)
            return await self._fetch(ids, shared_ids)
        wanted = query.limit
        widened = replace(query, limit=min(_MAX_FETCH, max(wanted, wanted * _OVERFETCH)))
        traces = await self._fetch(await self.reader.find_trace_ids(widened), shared_ids)
        kept = [t for t in traces if _has_keys(t.spans, required_keys, query)]
        return kept[:wanted]

    async def search(self, search: NativeSearch) -> list[tuple[AdjustedTrace, pa.Array]]:
        """Traces with a span meeting ``search.query`` whose whole duration fits, newest
        first, each with its matching spans (a boolean per row). With trace-duration bounds
        the store is asked for more traces than wanted, as they are checked here."""
        wanted = search.query.limit
        bounded = search.min_trace_ns is not None or search.max_trace_ns is not None
        query = (
            replace(search.query, limit=min(_MAX_FETCH, wanted * _OVERFETCH))
            if bounded
            else search.query
        )
        found: list[tuple[AdjustedTrace, pa.Array]] = []
        for trace in await self.find_traces(query):
            spans = trace.spans
            start = pc.min(spans["Timestamp"]).as_py()
            end = pc.max(pc.add(spans["Timestamp"], spans["Duration"])).as_py()
            if search.trace_fits(int(end) - int(start)):
                found.append((trace, matching_mask(spans, search.query)))
            if len(found) == wanted:
                break
        return found

    async def resolve_service(self, name: str) -> str:
        """The stored spelling of a service name given in any case (itself when unknown)."""
        services = await self.reader.services(ServicesQuery())
        if name in services:
            return name
        folded = name.casefold()
        return next((known for known in services if known.casefold() == folded), name)

    async def _fold_case(self, query: TraceQuery) -> TraceQuery:
        service, operation = query.service, query.operation
        if service is not None:
            service = await self.resolve_service(service)
            if operation is not None:
                names = await self.operation_names(service)
                if operation not in names:
                    folded = operation.casefold()
                    operation = next((n for n in names if n.casefold() == folded), operation)
        return replace(query, service=service, operation=operation)

    async def services(self) -> list[str]:
        return await self.reader.services(ServicesQuery())

    async def operations(self, service: str, span_kind: SpanKind | None = None) -> list[Operation]:
        return await self.reader.operations(OperationsQuery(service, span_kind))

    async def operation_names(self, service: str) -> list[str]:
        """Distinct operation names of a service, sorted (kinds merged)."""
        return sorted({op.name for op in await self.reader.operations(OperationsQuery(service))})

    async def remote_services(self, service: str) -> list[str]:
        return await self.reader.remote_services(RemoteServicesQuery(service))

    async def dependencies(self, end_ns: int, lookback_ns: int) -> list[DependencyLink]:
        self.bounds.check_window(end_ns - lookback_ns, end_ns, "dependencies")
        return await self.reader.dependencies(DependenciesQuery(end_ns, lookback_ns))

    async def tag_keys(self) -> list[str]:
        return await self.reader.tag_keys(TagKeysQuery())

    async def tag_values(self, key: str) -> list[str]:
        return await self.reader.tag_values(TagValuesQuery(key))

    # --- analysis reads ---------------------------------------------------------------------

    async def resolve_trace_id(self, text: str) -> str:
        """A full trace id from a full id or a prefix of 8+ hex characters (a 16-hex text is
        first taken as a Zipkin 64-bit id). ``NotFound`` when nothing matches, ``BadInput``
        when a prefix matches several traces (their ids in the message)."""
        full, prefix = parse_trace_id_or_prefix(text)
        if prefix is None:
            assert full is not None
            return full
        if full is not None and (await self.reader.get_trace(GetTraceParams(full))).num_rows:
            return full
        matches = await self.reader.trace_ids_with_prefix(TraceIdPrefix(prefix, limit=6))
        if not matches:
            raise NotFound(f"no trace id starts with {prefix}")
        if len(matches) > 1:
            listed = ", ".join(matches[:5])
            raise BadInput(
                f"{len(matches)}+ traces start with {prefix}: {listed}; give more of the id"
            )
        return matches[0]

    async def get_trace_for_analysis(self, trace_id: str) -> SpanBatch:
        """One trace's spans with timestamps as received (analyses report skew themselves),
        duplicates dropped and Zipkin shared ids split; ``NotFound`` when none is stored."""
        spans = await self.reader.get_trace(GetTraceParams(trace_id))
        if spans.num_rows == 0:
            raise NotFound("trace not found")
        return (await self.compute(_adjust_paused, spans, (dedupe, uniquify_shared))).spans
