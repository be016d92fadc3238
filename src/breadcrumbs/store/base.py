"""The storage contracts: what every engine implements, with parameter objects.

Every engine passes the one storage test suite in ``tests/store/``. What an engine cannot do
it names in ``Capabilities`` (a ``Capability`` with the reason) and raises ``Unsupported``
for, so callers can fall back. ``store.factory.open_store`` picks the engine from a URL; the
server knows only ``Store``.

All times are ns since the Unix epoch (UTC); all ids lowercase hex (``model.normalize_*``
has already run: nothing here re-checks them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, Literal, Protocol, runtime_checkable

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


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What an engine cannot do, each with the reason (shown by the storage test suite)."""

    missing: Mapping[Capability, str] = field(default_factory=dict)

    def has(self, capability: Capability) -> bool:
        return capability not in self.missing


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
        """Service-to-service call counts for spans starting in (end - lookback, end], as
        ``DependencyLink`` defines them."""
        ...

    async def tag_keys(self) -> list[str]:
        """Span attribute keys seen recently, sorted (Zipkin autocomplete)."""
        ...

    async def tag_values(self, key: str) -> list[str]:
        """Distinct value texts of one span attribute key, sorted (Zipkin autocomplete)."""
        ...

    async def stats(self) -> StoreStats: ...


@runtime_checkable
class Store(SpanWriter, SpanReader, Protocol):
    """An engine: writer and reader over one set of data, plus its life cycle."""

    capabilities: Capabilities

    async def maintain(self) -> None:
        """The engine's own background work (merges, kept counts), run by the server as one
        task for as long as the store is open and cancelled before ``close``. It handles and
        logs its own failures; an engine with nothing to do returns at once."""
        ...

    async def delete_before(self, cutoff_ns: int) -> int:
        """Retention: delete spans that started before ``cutoff_ns``; returns how many."""
        ...

    async def close(self) -> None: ...
