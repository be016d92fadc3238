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
class RedQuery:
    """RED metrics from the kept span-metric aggregates (``analysis.red``), per step.

    Steps start at ``start_ns`` floored to the minute and are ``step_ns`` long (a whole
    number of minutes, the aggregates' resolution); the last one starts before ``end_ns``.
    A step's row covers the ``window_ns`` (a whole number of minutes; default: the step)
    that end where the step ends, so windows longer than the step slide (as a Prometheus
    ``rate(...[window])`` evaluated every step does). Empty filters match everything.
    Without ``by_operation`` (``by_kind``) rows add up every operation (kind) of a service,
    and carry ``SpanName`` "" (``SpanKind`` -1).
    """

    start_ns: int
    end_ns: int
    step_ns: int
    services: tuple[str, ...] = ()
    operation: str | None = None
    span_kinds: tuple[SpanKind, ...] = ()
    by_operation: bool = True
    by_kind: bool = True
    quantiles: tuple[float, ...] = (0.5, 0.95, 0.99)
    window_ns: int | None = None


RED_SCHEMA = pa.schema(
    [
        pa.field("Step", pa.int64(), nullable=False),  # start of the step, ns
        pa.field("ServiceName", pa.string(), nullable=False),
        pa.field("SpanName", pa.string(), nullable=False),
        pa.field("SpanKind", pa.int8(), nullable=False),
        pa.field("Calls", pa.int64(), nullable=False),
        pa.field("Errors", pa.int64(), nullable=False),
        pa.field("DurationSum", pa.int64(), nullable=False),
        # One duration (ns) per ``RedQuery.quantiles``, in that order.
        pa.field("Quantiles", pa.list_(pa.float64()), nullable=False),
    ]
)
"""What ``SpanReader.red`` returns: one row per step and series that had calls."""


@dataclass(frozen=True, slots=True)
class ServiceGraphQuery:
    """Calls between services in [start, end): pairs of a span and its parent in another
    service, and client/producer spans to an uninstrumented peer (named by ``peer.service``,
    ``db.system``, ``messaging.system`` or ``server.address``)."""

    start_ns: int
    end_ns: int
    bounds_ns: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class ServiceGraphEdge:
    """``peer_kind``: "" for an instrumented callee, else how the peer was named:
    ``peer``, ``database`` or ``queue``. ``p95_ns``: of the callee's span (the client span's
    for a peer). ``server``/``client``: the callee's and the caller's durations as histogram
    counts over ``ServiceGraphQuery.bounds_ns`` (one count per bound, then the rest)."""

    parent: str
    child: str
    calls: int
    errors: int
    p95_ns: float
    peer_kind: str = ""
    server_counts: tuple[int, ...] = ()
    server_sum_ns: int = 0
    client_counts: tuple[int, ...] = ()
    client_sum_ns: int = 0


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
class SpanMetricsWriter(Protocol):
    async def write_span_metrics(self, rows: pa.Table, *, wal_sequence: int) -> None:
        """Add ``analysis.red.AGGREGATE_SCHEMA`` rows to the kept aggregates (rows of a key
        already kept add up), committing ``wal_sequence`` atomically with them."""
        ...

    async def span_metrics_wal_sequence(self) -> int:
        """The ``wal_sequence`` committed with the last aggregates, 0 when none."""
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

    # --- RED metrics and the service graph (issue 10) ------------------------------------

    async def red(self, query: RedQuery) -> pa.Table:
        """``RED_SCHEMA`` rows from the kept aggregates, ordered by series then step."""
        ...

    async def service_graph(self, query: ServiceGraphQuery) -> list[ServiceGraphEdge]:
        """Every edge with calls in the window, with errors and the p95 latency."""
        ...


@runtime_checkable
class Store(SpanWriter, SpanMetricsWriter, SpanReader, Protocol):
    """An engine: writer and reader over one set of data, plus its life cycle."""

    capabilities: Capabilities

    async def delete_before(self, cutoff_ns: int) -> int:
        """Retention: delete spans that started before ``cutoff_ns``; returns how many."""
        ...

    async def close(self) -> None: ...
