"""The storage contracts: what every engine implements, with parameter objects.

Every engine passes the one storage test suite in ``tests/store/``. What an engine cannot do
it names in ``Capabilities`` (a ``Capability`` with the reason) and raises ``Unsupported``
for, so callers can fall back. ``store.factory.open_store`` picks the engine from a URL; the
server knows only ``Store``.

All times are ns since the Unix epoch (UTC); all ids lowercase hex (``model.normalize_*``
has already run: nothing here re-checks them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, Literal, Protocol, runtime_checkable

import pyarrow as pa

from breadcrumbs.analysis.red import LEVELS_NS
from breadcrumbs.errors import BreadcrumbsError
from breadcrumbs.model import SpanBatch, SpanKind, StatusCode


class Unsupported(BreadcrumbsError):
    """The engine cannot do this operation; see its ``Capabilities``."""

    http_status = 501


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose spans a read sees. Every reader's parameter object carries one, so tenancy (a
    later issue) adds fields here and no reader's signature changes. No fields yet: a
    breadcrumbs server has one tenant, and every read sees the whole store."""


WHOLE_STORE: Final = Scope()


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
    scope: Scope = WHOLE_STORE


@dataclass(frozen=True, slots=True)
class GetTraceParams:
    """One trace; the optional time hints let an engine prune (a span outside them may
    still be returned)."""

    trace_id: str
    start_ns: int | None = None
    end_ns: int | None = None
    scope: Scope = WHOLE_STORE


@dataclass(frozen=True, slots=True)
class TraceIdPrefix:
    """Trace ids starting with ``prefix`` (8 to 32 lowercase hex characters), the newest
    traces first, at most ``limit`` of them: what a person copied from a log line or a
    terminal."""

    prefix: str
    limit: int = 10
    scope: Scope = WHOLE_STORE


@dataclass(frozen=True, slots=True, order=True)
class Operation:
    name: str
    span_kind: SpanKind


LISTING_WINDOW_NS: Final = 24 * 3600 * 10**9
"""How far back ``remote_services`` looks from the newest span: Zipkin's default lookback."""

DEPENDENCY_HORIZON_NS: Final = 60 * 10**9
"""How far apart the two spans of one call may start (see ``DependencyLink``)."""


@dataclass(frozen=True, slots=True)
class DependencyLink:
    """Calls from ``parent`` to ``child`` service among the spans starting in a window.

    The definition every engine implements (``tests/store/traffic.links`` is its reference):

    - a *pair*: a span whose parent span is in another service, both spans starting in the
      window and at most ``DEPENDENCY_HORIZON_NS`` apart; counted as parent's service ->
      span's service, an error when the child span's status is Error;
    - a *peer call*: a client or producer span in the window whose ``peer.service`` names a
      service other than its own and that has no child span (anywhere) starting within the
      horizon of it, an uninstrumented callee; counted as its service -> the peer, an error
      when the client span's status is Error.

    The horizon bounds how far any engine looks for a span's other half (as Tempo's service
    graphs bound their wait), so a count never depends on the window it is read for, and a
    parent and child starting further apart are not a call.
    """

    parent: str
    child: str
    call_count: int
    error_count: int = 0


@dataclass(frozen=True, slots=True)
class RedLevel:
    """One resolution of the kept RED aggregates and how long its rows are kept."""

    resolution_ns: int
    retention_ns: int


RED_LEVELS: Final = (
    RedLevel(LEVELS_NS[0], 2 * 86_400 * 10**9),  # 1 min rows: two days
    RedLevel(LEVELS_NS[1], 15 * 86_400 * 10**9),  # 5 min rows: fifteen days
    RedLevel(LEVELS_NS[2], 400 * 86_400 * 10**9),  # 1 h rows: over a year
)
"""The levels every engine keeps (``analysis.red.LEVELS_NS``), finest first. Aggregates
outlive spans (span retention does not touch them): a week-old dashboard still has its hours."""


@dataclass(frozen=True, slots=True)
class RedQuery:
    """RED metrics from the kept span-metric aggregates (``analysis.red``), per step.

    Steps start at ``start_ns`` floored to the minute and are ``step_ns`` long (a whole
    number of minutes, the finest resolution); the last one starts before ``end_ns``.
    A step's row covers the ``window_ns`` (a whole number of minutes; default: the step)
    that end where the step ends, so windows longer than the step slide (as a Prometheus
    ``rate(...[window])`` evaluated every step does). Empty filters match everything.
    Without ``by_operation`` (``by_kind``) rows add up every operation (kind) of a service,
    and carry ``SpanName`` "" (``SpanKind`` -1).

    An engine answers each part of a step from the coarsest level (``RED_LEVELS``) whose
    rows fit inside it, so steps aligned to 5 min or an hour read those levels: callers that
    want speed align ``start_ns`` and ``step_ns`` (``query.red_params`` does). Sliding
    windows read the coarsest level dividing the start, step and window.
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
    scope: Scope = WHOLE_STORE


RED_SCHEMA = pa.schema(
    [
        pa.field("Step", pa.int64(), nullable=False),  # start of the step, ns
        pa.field("ServiceName", pa.string(), nullable=False),
        pa.field("SpanName", pa.string(), nullable=False),
        pa.field("SpanKind", pa.int8(), nullable=False),
        # Adjusted counts: estimates of the real traffic when spans were sampled.
        pa.field("Calls", pa.float64(), nullable=False),
        pa.field("Errors", pa.float64(), nullable=False),
        pa.field("DurationSum", pa.float64(), nullable=False),  # ns, weighted
        # One duration (ns) per ``RedQuery.quantiles``, in that order (weighted).
        pa.field("Quantiles", pa.list_(pa.float64()), nullable=False),
        # Spans stored (exact); ``Calls != Spans``: the figures are estimates.
        pa.field("Spans", pa.int64(), nullable=False),
    ]
)
"""What ``SpanReader.red`` returns: one row per step and series that had calls."""


@dataclass(frozen=True, slots=True)
class ServiceGraphQuery:
    """Calls between services in [start, end): pairs of a span and its parent in another
    service, and client/producer spans to an uninstrumented peer (named by ``peer.service``,
    ``db.system``, ``messaging.system`` or ``server.address``).

    ``peers_ended_before_ns``: a client span ending at or after it is no peer call yet. Its
    callee's span may still be on its way (SDKs export on a timer), and counting it would put
    a transient "uninstrumented" peer, named by the address it called, on a live map.
    ``PEER_SETTLE_NS`` before now for live reads; by default every client span counts."""

    start_ns: int
    end_ns: int
    bounds_ns: tuple[int, ...] = ()
    scope: Scope = WHOLE_STORE
    peers_ended_before_ns: int = 2**63 - 1


PEER_SETTLE_NS: Final = 15 * 10**9
"""How long after a client span ends its callee's span is waited for before the call may count
as one to an uninstrumented peer: the callee's span ends first and OpenTelemetry SDKs export
every 5 s by default (``OTEL_BSP_SCHEDULE_DELAY``), then the server takes up to 2 s to make
it searchable. In the demo, such transient peers were gone from windows ending 10 s ago."""


@dataclass(frozen=True, slots=True)
class ServiceGraphEdge:
    """``peer_kind``: "" for an instrumented callee, else how the peer was named:
    ``peer``, ``database`` or ``queue``. ``p95_ns``: of the callee's span (the client span's
    for a peer), weighted: the shortest duration at or below which 95% of the edge's
    weighted calls fall (nearest rank; a call sampled at 1/4 counts four times).
    ``server``/``client``: the callee's and the caller's durations as histogram counts over
    ``ServiceGraphQuery.bounds_ns`` (one count per bound, then the rest).

    Counts are weighted by the callee span's adjusted count (the client span's for a peer;
    ``sampling.adjusted_count``), so they estimate real calls when spans were sampled;
    ``spans`` is how many calls were seen, unweighted (``estimated``: they differ)."""

    parent: str
    child: str
    calls: float
    errors: float
    p95_ns: float
    peer_kind: str = ""
    server_counts: tuple[float, ...] = ()
    server_sum_ns: float = 0
    client_counts: tuple[float, ...] = ()
    client_sum_ns: float = 0
    spans: int = 0

    @property
    def estimated(self) -> bool:
        return self.calls != self.spans

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> ServiceGraphEdge:
        """From an engine's service-graph row: parent, child, peer kind, calls, errors, p95,
        server counts, server sum, client counts, client sum, spans (both engines' order)."""
        parent, child, kind, calls, errors, p95, server, server_sum, client, client_sum, n = row
        return cls(
            parent,
            child,
            float(calls),
            float(errors),
            float(p95 or 0.0),
            kind,
            server_counts=tuple(float(c) for c in server),
            server_sum_ns=float(server_sum or 0),
            client_counts=tuple(float(c) for c in client),
            client_sum_ns=float(client_sum or 0),
            spans=int(n),
        )


@dataclass(frozen=True, slots=True)
class StoreStats:
    spans: int
    bytes_on_disk: int
    oldest_ns: int | None = None
    newest_ns: int | None = None


class Capability(StrEnum):
    """An operation or guarantee an engine may lack."""

    FIND_TRACE_IDS = "find_trace_ids"
    EVENT_TAGS = "event_tags"
    """``TagFilter`` with scope ``any`` also matches an event's attributes."""
    REMOTE_SERVICES = "remote_services"
    DEPENDENCIES = "dependencies"
    TAG_KEYS = "tag_keys"
    TAG_VALUES = "tag_values"
    ATOMIC_WRITE = "atomic_write"
    """A failed ``write`` commits none of its spans and not its ``wal_sequence``."""
    DELETE_BEFORE = "delete_before"
    TRACE_ID_PREFIX = "trace_id_prefix"
    """``trace_ids_with_prefix``: a trace found by the first 8+ hex characters of its id."""
    SELECTIONS = "selections"
    """``selection_counts``, ``latency_distribution``, ``typical_traces`` (why, compare)."""
    DOCTOR = "doctor"
    """The trace doctor's ``*_profile`` reads."""
    SPAN_METRICS = "span_metrics"
    """RED aggregates kept at ingest: ``write_span_metrics`` and ``red``."""
    SERVICE_GRAPH = "service_graph"


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What an engine cannot do, each with the reason (shown by the storage test suite)."""

    missing: Mapping[Capability, str] = field(default_factory=dict)

    def has(self, capability: Capability) -> bool:
        return capability not in self.missing


# --- many traces: "what is different", latency, typical traces ------------------------------


@dataclass(frozen=True, slots=True)
class Endpoint:
    """The traces of one endpoint: those with an *anchor* span of ``service`` (and
    ``operation``, when given) starting in [start_ns, end_ns]. Without an operation the
    anchors are the service's entry spans (server, consumer or root spans). A trace's
    duration is its longest anchor's; it failed when an anchor has an error status."""

    start_ns: int
    end_ns: int
    service: str
    operation: str | None = None


IGNORED_KEYS = r"(^|[._])(port|pid)$|^thread\.(id|name)$|^otel\.scope\."
"""Keys that only tell which connection, process or thread served a span: they follow the
time (connection reuse) and would rank as noise."""


@dataclass(frozen=True, slots=True)
class TraceSelection:
    """Split an endpoint's traces into a selection and its baseline (the others; when the
    endpoint names no operation, only the others whose anchor, the longest anchor span's name,
    is one of the selection's: a service's cheap GETs are no baseline for its failing POSTs).

    Exactly one criterion: anchor in a duration band, at least ``slower_than_ns`` and (when
    given) under ``faster_than_ns`` (the middle of a bimodal latency, a region brushed on a
    heatmap), or only under ``faster_than_ns``; at or above the
    ``percentile`` (0-100 exclusive) of anchor durations; or ``errors`` (an anchor failed).
    Each side is read from at most ``max_traces_per_side`` traces (a uniform sample by trace
    id beyond that). Per (service, span name, key) at most ``max_values_per_key`` values are
    counted, those with the largest share on either side; a key whose distinct values exceed
    that and ``unique_share`` of its traces (ids, timestamps) is dropped, unless numeric:
    numeric keys with many values are counted in power-of-two buckets instead.
    """

    endpoint: Endpoint
    slower_than_ns: int | None = None
    faster_than_ns: int | None = None
    percentile: float | None = None
    errors: bool = False
    max_traces_per_side: int = 10_000
    max_values_per_key: int = 24
    unique_share: float = 0.5
    slack_ns: int = 10 * 60 * 10**9
    """How far before the first and after the last anchor the traces' other spans are read."""
    ignored_keys: str = IGNORED_KEYS
    """Keys left out (an RE2 pattern searched in the key)."""
    scope: Scope = WHOLE_STORE


AttributeScope = Literal["span", "resource"]


@dataclass(frozen=True, slots=True)
class AttributeCount:
    """Traces on each side with a span of (service, span name) carrying ``key = value``
    (resource scope: a span of the service whose resource carries it; ``span_name`` is "").
    A bucket of a numeric key has ``value`` like ``[4, 8)`` and its bounds in ``low``/``high``
    (``high`` excluded); an exact numeric value has ``low == high``; text values have None."""

    scope: AttributeScope
    service: str
    span_name: str
    key: str
    value: str
    selected: int
    baseline: int
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True, slots=True)
class OperationCount:
    """One (service, span name) over each side's traces: how many traces have it, its spans'
    summed duration and summed self time (duration minus its children's, at least 0)."""

    service: str
    span_name: str
    selected_traces: int
    baseline_traces: int
    selected_spans: int
    baseline_spans: int
    selected_ns: int
    baseline_ns: int
    selected_self_ns: int
    baseline_self_ns: int


@dataclass(frozen=True, slots=True)
class DroppedKey:
    """A key left out because its values are nearly unique per trace (ids, timestamps)."""

    scope: AttributeScope
    service: str
    span_name: str
    key: str
    distinct_values: int


@dataclass(frozen=True, slots=True)
class SelectionCounts:
    """What ``selection_counts`` found: ``selected``/``baseline`` traces in the endpoint,
    ``sampled_*`` of them read; counts below are over the sampled traces."""

    threshold_ns: int | None
    selected: int
    baseline: int
    sampled_selected: int
    sampled_baseline: int
    attributes: tuple[AttributeCount, ...] = ()
    operations: tuple[OperationCount, ...] = ()
    dropped_keys: tuple[DroppedKey, ...] = ()
    examples: tuple[str, ...] = ()
    """Trace ids of the selection to look at first: the newest (lowercase hex)."""


@dataclass(frozen=True, slots=True)
class LatencyQuery:
    """Anchor span durations of an endpoint in log buckets (``buckets_per_doubling`` per
    power of two of ns), over ``time_buckets`` equal steps of the endpoint's window."""

    endpoint: Endpoint
    time_buckets: int = 60
    buckets_per_doubling: int = 4
    scope: Scope = WHOLE_STORE


@dataclass(frozen=True, slots=True)
class LatencyCell:
    """Anchors in time step ``step`` (from the window start) and duration bucket
    ``bucket`` (durations in [2**(bucket/b), 2**((bucket+1)/b)) ns, b buckets per doubling)."""

    step: int
    bucket: int
    count: int
    errors: int


@dataclass(frozen=True, slots=True)
class LatencyDistribution:
    start_ns: int
    """Where step 0 starts: the first anchor's start."""
    step_ns: int
    count: int
    errors: int
    min_ns: int | None
    max_ns: int | None
    percentiles_ns: dict[int, int]
    """p50, p90, p95, p99 of anchor durations (empty when there are none)."""
    cells: tuple[LatencyCell, ...]


@dataclass(frozen=True, slots=True)
class TypicalTraceQuery:
    """The traces of an endpoint whose duration (see ``Endpoint``) is nearest the median of
    the endpoint's traces, nearest first: first those whose anchor did not fail, around their
    median (a failed request is no picture of a normal one), then the failed ones (around the
    median of all when every one failed). ``exclude`` is never returned."""

    endpoint: Endpoint
    limit: int = 1
    exclude: tuple[str, ...] = ()
    scope: Scope = WHOLE_STORE


@dataclass(frozen=True, slots=True)
class GetTracesParams:
    """Several traces at once (a search's page)."""

    trace_ids: tuple[str, ...]
    scope: Scope = WHOLE_STORE


@dataclass(frozen=True, slots=True)
class ServicesQuery:
    """Every service in retained data."""

    scope: Scope = WHOLE_STORE


@dataclass(frozen=True, slots=True)
class OperationsQuery:
    """The operations of one service, optionally of one span kind."""

    service: str
    span_kind: SpanKind | None = None
    scope: Scope = WHOLE_STORE


@dataclass(frozen=True, slots=True)
class RemoteServicesQuery:
    """What one service calls (see ``SpanReader.remote_services``)."""

    service: str
    scope: Scope = WHOLE_STORE


@dataclass(frozen=True, slots=True)
class DependenciesQuery:
    """Calls between services among spans starting in (end - lookback, end]."""

    end_ns: int
    lookback_ns: int
    scope: Scope = WHOLE_STORE


@dataclass(frozen=True, slots=True)
class TagKeysQuery:
    """Span attribute keys seen recently (Zipkin autocomplete)."""

    scope: Scope = WHOLE_STORE


@dataclass(frozen=True, slots=True)
class TagValuesQuery:
    """Value texts of one span attribute key (Zipkin autocomplete)."""

    key: str
    scope: Scope = WHOLE_STORE


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
        """Add ``analysis.red.AGGREGATE_SCHEMA`` rows of the finest level (one minute) to
        every kept level (rows of a key already kept add up exactly, whenever the engine
        merges them), committing ``wal_sequence`` atomically with them."""
        ...

    async def span_metrics_wal_sequence(self) -> int:
        """The ``wal_sequence`` committed with the last aggregates, 0 when none."""
        ...


@runtime_checkable
class SpanReader(Protocol):
    async def get_trace(self, params: GetTraceParams) -> SpanBatch:
        """Every span of one trace (an empty batch when unknown), in no particular order."""
        ...

    async def get_traces(self, params: GetTracesParams) -> SpanBatch:
        """Every span of each given trace, mixed in one batch."""
        ...

    async def find_trace_ids(self, query: TraceQuery) -> list[str]: ...

    async def services(self, query: ServicesQuery) -> list[str]:
        """Every ServiceName seen in retained data, sorted."""
        ...

    async def operations(self, query: OperationsQuery) -> list[Operation]:
        """Distinct (SpanName, SpanKind) of a service, sorted."""
        ...

    async def remote_services(self, query: RemoteServicesQuery) -> list[str]:
        """Services a service's client/producer spans call (``peer.service`` or, failing that,
        ``server.address``/``net.peer.name``), sorted, among spans starting at most
        ``LISTING_WINDOW_NS`` before the newest span (the Zipkin ``remoteServices`` API has no
        time parameters, and a scan of every span of a busy service would be unbounded)."""
        ...

    async def dependencies(self, query: DependenciesQuery) -> list[DependencyLink]:
        """Service-to-service call counts for spans starting in (end - lookback, end], as
        ``DependencyLink`` defines them."""
        ...

    async def tag_keys(self, query: TagKeysQuery) -> list[str]:
        """Span attribute keys seen recently, sorted (Zipkin autocomplete)."""
        ...

    async def tag_values(self, query: TagValuesQuery) -> list[str]:
        """Distinct value texts of one span attribute key, sorted (Zipkin autocomplete)."""
        ...

    async def stats(self) -> StoreStats: ...

    async def trace_ids_with_prefix(self, query: TraceIdPrefix) -> list[str]:
        """Full trace ids starting with the prefix, newest first (see ``TraceIdPrefix``)."""

    # --- many traces (analysis) -------------------------------------------------------------

    async def selection_counts(self, selection: TraceSelection) -> SelectionCounts:
        """Per side of ``selection``: trace counts of attribute values and operations found
        in any span of the traces (see ``TraceSelection``). ``analysis.why`` ranks them."""
        ...

    async def latency_distribution(self, query: LatencyQuery) -> LatencyDistribution:
        """Histogram and time x duration heatmap of an endpoint's anchor durations."""
        ...

    async def typical_traces(self, query: TypicalTraceQuery) -> list[str]:
        """Trace ids nearest the endpoint's median duration (see ``TypicalTraceQuery``)."""

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
        SpanKind, ParentService, ParentKind, Host, ParentHost); ParentService and ParentKind
        are null when the parent never arrived; Host and ParentHost are the spans' resource
        ``host.name`` (null when not set).

        Columns: the keys, Spans, InCompleteTraces (spans of traces whose root span arrived,
        or that started over ``margin_ns`` before the window's end: a missing parent there
        is missing, not an ancestor still running), StartsBefore (the parent is in another
        service or on another host, and started more than ``tolerance_ns`` later),
        StartsAfter (the parent, a client span in another service or on another host, had
        ended more than ``tolerance_ns`` before the span
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

    async def maintain(self) -> None:
        """The engine's own background work (merges, kept counts), run by the server as one
        task for as long as the store is open and cancelled before ``close``. It handles and
        logs its own failures; an engine with nothing to do returns at once."""
        ...

    async def compact_span_metrics(self) -> int:
        """Merge kept rows of one key and bucket into one (exact addition; ``red`` answers
        the same before and after); returns how many rows went. An engine whose storage
        merges by itself (a ClickHouse AggregatingMergeTree) may do nothing. Engines run it
        in their ``maintain``; a crash during it loses and doubles nothing."""
        ...

    async def expire_span_metrics(self, now_ns: int) -> int:
        """Delete each level's rows older than its retention (``RED_LEVELS``) before
        ``now_ns``; returns how many rows went."""
        ...

    async def delete_before(self, cutoff_ns: int) -> int:
        """Retention: delete spans that started before ``cutoff_ns``; returns how many. The
        RED aggregates stay (``expire_span_metrics`` keeps each level its own time)."""
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
    scope: Scope = WHOLE_STORE
