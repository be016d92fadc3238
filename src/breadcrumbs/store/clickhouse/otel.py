"""``OtelTracesStore``: breadcrumbs' APIs, UI and analysis over the tables the OpenTelemetry
Collector's ClickHouse exporter fills, read-only (``--store ...?layout=otel``).

It is the ClickHouse engine with two differences: its SQL runs through an executor that
replaces breadcrumbs' tables by views of the exporter's (``otel_sql.rewrite``), and nothing
is ever written (the exporter owns the tables; ``ReadOnlyStore``, 403, for any write; the
server turns its receivers off). Get-trace and search use their own SQL on the raw columns
(``otel_sql``), so the exporter's TraceId bloom filter, lookup table and sort key prune.

What the exporter's data cannot give (``capabilities``): attribute types (it stores every
value as text, so the APIs return string tags), RED aggregates (breadcrumbs keeps them at
ingest, and spans do not pass through it), retention (the exporter's TTL expires the data).
"""

# S608: only checked identifiers (database, table) are formatted in; values are bound.
# ruff: noqa: S608

from __future__ import annotations

import logging
from typing import Any

import pyarrow as pa

from breadcrumbs.errors import ReadOnlyStore
from breadcrumbs.model import SpanBatch, empty_batch
from breadcrumbs.selfmetrics import SelfMetrics
from breadcrumbs.store.base import (
    Capabilities,
    Capability,
    GetTraceParams,
    GetTracesParams,
    RedQuery,
    StoreStats,
    TraceQuery,
    Unsupported,
)
from breadcrumbs.store.clickhouse import otel_sql
from breadcrumbs.store.clickhouse.executor import Executor, Params
from breadcrumbs.store.clickhouse.store import ClickHouseStore

log = logging.getLogger(__name__)

_READ_ONLY = (
    "the store is the OpenTelemetry Collector's {table} (layout=otel), read-only: send spans "
    "to the Collector, or run breadcrumbs on its own store"
)


class _Rewriting:
    """An executor reading the exporter's tables wherever the engine's SQL names its own."""

    def __init__(self, inner: Executor, database: str, table: str) -> None:
        self.inner, self.database, self.table = inner, f"`{database}`", table
        self.scoped = True
        self.lookup_seconds = True

    def command(self, text: str, params: Params | None = None) -> None:
        raise ReadOnlyStore(_READ_ONLY.format(table=self.table))

    def insert(self, table: str, data: pa.Table, settings: Params | None = None) -> None:
        raise ReadOnlyStore(_READ_ONLY.format(table=self.table))

    def query(self, text: str, params: Params | None = None) -> pa.Table:
        rewritten = otel_sql.rewrite(
            text,
            self.database,
            self.table,
            scoped=self.scoped,
            lookup_seconds=self.lookup_seconds,
        )
        return self.inner.query(rewritten, params)

    def close(self) -> None:
        self.inner.close()


class OtelTracesStore(ClickHouseStore):
    """The exporter's ``database``.``table`` and its ``table``_trace_id_ts lookup."""

    capabilities = Capabilities(
        missing={
            Capability.ATOMIC_WRITE: "read-only: the Collector writes these tables",
            Capability.DELETE_BEFORE: (
                "read-only: the Collector exporter's TTL (ttl setting) expires its data"
            ),
            Capability.SPAN_METRICS: (
                "RED aggregates are kept as spans arrive through breadcrumbs; the Collector's "
                "spans do not (its spanmetrics connector is the way there)"
            ),
        }
    )

    def __init__(
        self,
        executor: Executor,
        *,
        database: str = "otel",
        table: str = "otel_traces",
        metrics: SelfMetrics | None = None,
        query_timeout_s: float = 30.0,
        query_threads: int = 4,
    ) -> None:
        if not table.replace("_", "").isalnum():
            raise ValueError(f"bad ClickHouse table name {table!r}")
        self._otel = _Rewriting(executor, database, table)
        self._otel_db, self._otel_table = f"`{database}`", table
        super().__init__(
            self._otel,
            database=otel_sql.PLACEHOLDER_DB.strip("`"),
            metrics=metrics,
            query_timeout_s=query_timeout_s,
            query_threads=query_threads,
        )

    def _migrate(self) -> None:
        """Nothing is created: the tables must be the exporter's, checked here."""
        inner, database = self._otel.inner, self._otel_db.strip("`")
        found = inner.query(
            "SELECT table, name, type FROM system.columns WHERE database = {db:String} "
            "AND table IN ({t:String}, {lookup:String})",
            {"db": database, "t": self._otel_table, "lookup": f"{self._otel_table}_trace_id_ts"},
        ).to_pylist()
        columns = {(row["table"], row["name"]): row["type"] for row in found}
        for needed in ("Timestamp", "TraceId", "SpanId", "SpanKind", "ServiceName", "Events.Name"):
            if (self._otel_table, needed) not in columns:
                raise RuntimeError(
                    f"{database}.{self._otel_table} is not the OpenTelemetry Collector exporter's "
                    f"traces table (no column {needed}); set table= in the store URL to its "
                    "traces_table_name"
                )
        lookup = f"{self._otel_table}_trace_id_ts"
        if (lookup, "Start") not in columns:
            raise RuntimeError(
                f"{database}.{lookup} (the exporter's trace id lookup) is missing: get-trace "
                "needs it; the exporter creates it with its tables (create_schema: true)"
            )
        self._otel.scoped = (self._otel_table, "ScopeName") in columns
        self._otel.lookup_seconds = not columns[(lookup, "Start")].startswith("DateTime64")
        log.info(
            "reading the OpenTelemetry Collector's %s.%s (read-only)", database, self._otel_table
        )

    def _stored_resources(self) -> list[int]:
        return []  # the exporter keeps each span's resource inline: nothing is written here

    # --- writes: refused -----------------------------------------------------------------

    async def write(self, batch: SpanBatch, *, wal_sequence: int | None = None) -> None:
        raise ReadOnlyStore(_READ_ONLY.format(table=self._otel_table))

    async def last_wal_sequence(self) -> int:
        return 0  # nothing was ever written through breadcrumbs

    async def delete_before(self, cutoff_ns: int) -> int:
        raise self._missing(Capability.DELETE_BEFORE)

    def _missing(self, capability: Capability) -> Unsupported:
        return Unsupported(f"{capability}: {self.capabilities.missing[capability]}")

    # --- dependencies: none kept (dependency_edges is breadcrumbs' own), counted from spans -

    keeps_dependencies = False

    async def refresh_dependencies(self) -> int:
        return 0

    # --- RED: none kept (the engine's span_metrics table is breadcrumbs' own) ---------------

    async def write_span_metrics(self, rows: pa.Table, *, wal_sequence: int) -> None:
        raise ReadOnlyStore(_READ_ONLY.format(table=self._otel_table))

    async def span_metrics_wal_sequence(self) -> int:
        return 0

    async def compact_span_metrics(self) -> int:
        return 0

    async def expire_span_metrics(self, now_ns: int) -> int:
        return 0

    async def red(self, query: RedQuery) -> pa.Table:
        raise self._missing(Capability.SPAN_METRICS)

    # --- reads on the raw columns ----------------------------------------------------------

    def _raw(self, text: str, params: dict[str, Any]) -> Any:
        return lambda _: self._otel.inner.query(text, params)

    async def get_trace(self, params: GetTraceParams) -> SpanBatch:
        text = otel_sql.trace_spans(
            self._otel_db, self._otel_table, scoped=self._otel.scoped, many=False
        )
        return self._spans(await self._run(self._raw(text, {"trace": params.trace_id})))

    async def get_traces(self, params: GetTracesParams) -> SpanBatch:
        unique = list(dict.fromkeys(params.trace_ids))
        if not unique:
            return empty_batch()
        text = otel_sql.trace_spans(
            self._otel_db, self._otel_table, scoped=self._otel.scoped, many=True
        )
        return self._spans(await self._run(self._raw(text, {"traces": unique})))

    async def find_trace_ids(self, query: TraceQuery) -> list[str]:
        if query.limit <= 0:
            return []
        text, params = otel_sql.find_trace_ids(self._otel_db, self._otel_table, query)
        table = await self._run(self._raw(text, params))
        return [str(t) for t in table.column(0).to_pylist()]

    async def stats(self) -> StoreStats:
        db, table = self._otel_db, self._otel_table
        text = (
            "SELECT count() AS n, min(toUnixTimestamp64Nano(Timestamp)) AS lo, "
            f"max(toUnixTimestamp64Nano(Timestamp)) AS hi FROM {db}.`{table}`"
        )
        size = (
            "SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND database = {db:String} "
            "AND table = {t:String}"
        )

        def work(_: Executor) -> StoreStats:
            row = self._otel.inner.query(text).to_pylist()[0]
            found = self._otel.inner.query(size, {"db": db.strip("`"), "t": table})
            spans = int(row["n"])
            return StoreStats(
                spans=spans,
                bytes_on_disk=int(found.column(0)[0].as_py() or 0),
                oldest_ns=int(row["lo"]) if spans else None,
                newest_ns=int(row["hi"]) if spans else None,
            )

        return await self._run(work)
