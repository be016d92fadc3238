"""The storage contracts: what every engine implements, with parameter objects.

Every engine passes the one storage test suite in ``tests/store/``. What an engine cannot do
it names in ``Capabilities`` and raises ``Unsupported`` for, so callers can fall back.

All times are ns since the Unix epoch (UTC); all ids lowercase hex (``model.normalize_*``
has already run: nothing here re-checks them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import pyarrow as pa

from breadcrumbs.errors import BreadcrumbsError
from breadcrumbs.model import SpanBatch, SpanKind, StatusCode


class Unsupported(BreadcrumbsError):
    """The engine cannot do this operation; see its ``Capabilities``."""

    http_status = 501


TagScope = Literal["span", "resource", "any"]


@dataclass(frozen=True, slots=True)
class TagFilter:
    """``key = value`` on the value text (see ``model``), on one span.

    ``any`` matches span attributes, resource attributes or an event's attributes, as the
    Jaeger API does for its ``tags`` parameter.
    """

    key: str
    value: str
    scope: TagScope = "any"


@dataclass(frozen=True, slots=True)
class TraceQuery:
    """Find traces containing at least one span that matches every given condition.

    Results are trace ids ordered by their matching span's start time, newest first, at most
    ``limit`` of them. ``start_ns``/``end_ns`` bound the matching span's start time.
    """

    start_ns: int
    end_ns: int
    service: str | None = None
    operation: str | None = None
    span_kind: SpanKind | None = None
    tags: tuple[TagFilter, ...] = ()
    min_duration_ns: int | None = None
    max_duration_ns: int | None = None
    limit: int = 20
    status_codes: tuple[StatusCode, ...] = ()
    """The matching span's status is one of these; any status when empty."""


@dataclass(frozen=True, slots=True)
class GetTraceParams:
    """One trace; the optional time hints let an engine prune (a span outside them may
    still be returned)."""

    trace_id: str
    start_ns: int | None = None
    end_ns: int | None = None


@dataclass(frozen=True, slots=True, order=True)
class Operation:
    name: str
    span_kind: SpanKind


@dataclass(frozen=True, slots=True)
class DependencyLink:
    """Calls from ``parent`` to ``child`` service: a span whose parent span is in another
    service, or a client span with ``peer.service`` naming an uninstrumented service."""

    parent: str
    child: str
    call_count: int
    error_count: int = 0


@dataclass(frozen=True, slots=True)
class StoreStats:
    spans: int
    bytes_on_disk: int
    oldest_ns: int | None = None
    newest_ns: int | None = None


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What an engine cannot do, each with the reason (shown by the storage test suite)."""

    missing: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class SpanWriter(Protocol):
    async def write(self, batch: SpanBatch, *, wal_sequence: int | None = None) -> None:
        """Persist a batch. Returns only once the batch is durable in the store.

        ``wal_sequence`` is the highest WAL record sequence contained in the batch; an engine
        that can commits it atomically with the batch, so ``last_wal_sequence`` lets a WAL
        replay skip what the store already holds (no duplicates after a crash).
        """
        ...

    async def last_wal_sequence(self) -> int:
        """The highest ``wal_sequence`` committed with a batch, 0 when none."""
        ...


@runtime_checkable
class SpanReader(Protocol):
    async def get_trace(self, params: GetTraceParams) -> SpanBatch:
        """Every span of one trace (an empty batch when unknown), in no particular order."""
        ...

    async def get_traces(self, trace_ids: list[str]) -> SpanBatch:
        """Every span of each given trace, mixed in one batch."""
        ...

    async def find_trace_ids(self, query: TraceQuery) -> list[str]: ...

    async def services(self) -> list[str]:
        """Every ServiceName seen in retained data, sorted."""
        ...

    async def operations(self, service: str, span_kind: SpanKind | None = None) -> list[Operation]:
        """Distinct (SpanName, SpanKind) of a service, sorted."""
        ...

    async def remote_services(self, service: str) -> list[str]:
        """Services a service's client/producer spans call (``peer.service`` or, failing that,
        ``server.address``/``net.peer.name``), sorted. The Zipkin ``remoteServices`` API."""
        ...

    async def dependencies(self, end_ns: int, lookback_ns: int) -> list[DependencyLink]:
        """Service-to-service call counts for spans starting in (end - lookback, end]."""
        ...

    async def tag_keys(self) -> list[str]:
        """Span attribute keys seen recently, sorted (Zipkin autocomplete)."""
        ...

    async def tag_values(self, key: str) -> list[str]:
        """Distinct value texts of one span attribute key, sorted (Zipkin autocomplete)."""
        ...

    async def stats(self) -> StoreStats: ...

    # --- trace doctor reads: one row per group, at most ``window.max_rows`` rows, trace ids
    # as 32 lowercase hex, times and durations in ns (see DoctorWindow) ---

    async def operation_profile(self, window: DoctorWindow) -> pa.Table:
        """Spans of the window per (ServiceName, NameTemplate, SpanKind), most spans first.

        Columns: ServiceName, NameTemplate (SpanName with ``id_pattern`` matches as
        ``{id}``), SpanKind, Names (distinct SpanName), FirstName/LastName (two of them),
        Spans, Traces (approximate), Errors, Roots (no parent), LinkedRoots (roots with a
        link), Route (an ``http.route``), Method (an ``http.request.method``), DbSystem (a
        ``db.system``), SampledSpans (``ot=th:`` in TraceState), SampledState (one such
        TraceState), ErrorsSampled (error spans among SampledSpans), P50Ns, P99Ns, Example.
        """
        ...

    async def parent_profile(self, window: DoctorWindow) -> pa.Table:
        """Settled spans of the window with a parent id, per (ServiceName, SpanName,
        SpanKind, ParentService, ParentKind); ParentService and ParentKind are null when the
        parent never arrived.

        Columns: the keys, Spans, InCompleteTraces (spans of traces whose root span arrived,
        or that started over ``margin_ns`` before the window's end: a missing parent there
        is missing, not an ancestor still running), StartsBefore (the parent is in another
        service and started more than ``tolerance_ns`` later), StartsAfter (the parent, a
        client span in another service, had ended more than ``tolerance_ns`` before the span
        started: on one clock impossible for a call the client waited for), MaxBeforeNs,
        MaxAfterNs (the largest of each, ns), Example. A server span ending after its client
        span is not counted: servers end their span after sending the response.
        """
        ...

    async def call_profile(self, window: DoctorWindow) -> pa.Table:
        """Settled server, client and producer spans of the window per (ServiceName,
        SpanName, SpanKind, PeerService, Host, Port, System): a client's ``peer.service``
        and ``server.address``/``server.port`` (the callee), a server's own address; System
        is ``db.system`` or ``messaging.system``.

        Columns: the keys, Spans, Childless (spans no span names as parent), SelfP50Ns (the
        median of duration minus the children's summed durations, at least 0: uncovered
        time, never overstated), DurationP50Ns, Example (a childless one when any).
        """
        ...

    async def root_profile(self, window: DoctorWindow) -> pa.Table:
        """Traces of the window with several root spans, per set of root services.

        Columns: RootServices (sorted list), Traces, MaxRoots, Example.
        """
        ...

    async def attribute_profile(self, window: DoctorWindow) -> pa.Table:
        """Span attributes of the window per (ServiceName, KeyTemplate) (the key with
        ``id_pattern`` matches as ``{id}``), most spans first.

        Columns: ServiceName, KeyTemplate, Keys (distinct keys, approximate), ExampleKey,
        Spans, Values (distinct values, approximate), MaxLength (characters), Example (the
        trace of the longest value); over the sampled traces (``attribute_traces``).
        """
        ...


@runtime_checkable
class Store(SpanWriter, SpanReader, Protocol):
    """An engine: writer and reader over one set of data, plus its life cycle."""

    capabilities: Capabilities

    async def delete_before(self, cutoff_ns: int) -> int:
        """Retention: delete spans that started before ``cutoff_ns``; returns how many."""
        ...

    async def close(self) -> None: ...


# --- trace doctor reads (analysis.doctor): aggregates over a time range, never raw spans ---


@dataclass(frozen=True, slots=True)
class DoctorWindow:
    """The spans the doctor's reads aggregate: those starting in [start_ns, end_ns).

    Reads that look for a span's relatives (parent, children) look for them up to
    ``margin_ns`` outside the window, and judge only spans starting before
    ``end_ns - settle_ns`` (their relatives may still be in flight). ``id_pattern`` (RE2,
    as every engine speaks it) marks the id-like parts of span names and attribute keys;
    each match becomes ``{id}`` in a template. ``max_rows`` bounds every answer.
    """

    start_ns: int
    end_ns: int
    id_pattern: str
    margin_ns: int = 60 * 10**9
    settle_ns: int = 30 * 10**9
    max_rows: int = 5_000
    tolerance_ns: int = 10**6
    """Clock skew below this is jitter, not skew."""
    attribute_traces: int = 1
    """``attribute_profile`` reads the spans of about 1 in this many traces (chosen by trace
    id), as unnesting every attribute is the costliest read."""
