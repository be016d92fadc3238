"""``ClickHouseStore``: spans in ClickHouse, a server, a cluster or chDB in-process.

Every public method runs its ClickHouse work in a worker thread through an ``Executor``
(``executor.py``); the SQL is ``sql.py``, the layout ``schema.py``. Ids cross as binary
(converted in Arrow, ``_binary_ids``), results come back as Arrow and are cast to
``SPAN_SCHEMA``. Writes are one insert per batch into ``spans`` (ClickHouse wants large
inserts; the WAL writer batches them) and, with a WAL sequence, a row into ``wal_sequence``.
"""

# S608: only the checked database name and constants are formatted in; values are bound.
# ruff: noqa: S608

from __future__ import annotations

import array
import asyncio
import dataclasses
import logging
import struct
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from breadcrumbs.model import SPAN_SCHEMA, SpanBatch, SpanKind, empty_batch
from breadcrumbs.selfmetrics import SelfMetrics
from breadcrumbs.store.base import (
    Capabilities,
    Capability,
    DependencyLink,
    DoctorWindow,
    GetTraceParams,
    LatencyDistribution,
    LatencyQuery,
    Operation,
    RedQuery,
    SelectionCounts,
    ServiceGraphEdge,
    ServiceGraphQuery,
    StoreStats,
    TraceIdPrefix,
    TraceQuery,
    TraceSelection,
    TypicalTraceQuery,
    Unsupported,
)
from breadcrumbs.store.clickhouse import schema, sql
from breadcrumbs.store.clickhouse.executor import Executor

log = logging.getLogger(__name__)

T = TypeVar("T")

_INSERT_COLUMNS = (
    "Timestamp", "TraceState", "SpanName", "SpanKind", "ServiceName", "ResourceAttributes",
    "ResourceAttributeTypes", "ScopeName", "ScopeVersion", "SpanAttributes",
    "SpanAttributeTypes", "Duration", "StatusCode", "StatusMessage", "Events", "Links",
)  # fmt: skip
_RECENT_WINDOW_NS = 3600 * 10**9
_SEARCH_FRACTIONS = (
    64,
    16,
    1,
)  # find_trace_ids' widening windows  # autocomplete values come from the newest hour


def _hex_words(column: pa.ChunkedArray, digits: int) -> bytes:
    """Fixed-width hex strings as their bytes, one C-speed ``bytes.fromhex`` over the
    column's character buffer."""
    ids = column.combine_chunks()
    if not len(ids):
        return b""
    lengths = pc.min_max(pc.binary_length(ids))
    if lengths["min"].as_py() != digits or lengths["max"].as_py() != digits:
        raise ValueError(f"ids must have {digits} hex digits")
    offsets, data = ids.buffers()[1:3]
    start = struct.unpack_from("<i", offsets, ids.offset * 4)[0]
    return bytes.fromhex(bytes(memoryview(data)[start : start + digits * len(ids)]).decode())


def _span_ids(column: pa.ChunkedArray) -> pa.Array:
    """16-hex span ids as UInt64 ("" as 0, a root's parent)."""
    filled = pc.if_else(pc.equal(column, ""), "0" * 16, column)
    words = array.array("Q", _hex_words(filled, 16))
    if sys.byteorder == "little":
        words.byteswap()  # hex digits are big-endian
    return pa.Array.from_buffers(pa.uint64(), len(words), [None, pa.py_buffer(words)])


def _binary_ids(batch: SpanBatch) -> pa.Table:
    """The batch as the ``spans`` table's columns: binary ids, the rest as they are."""
    trace_ids = _hex_words(batch.column("TraceId"), 32)
    columns: dict[str, Any] = {name: batch.column(name) for name in _INSERT_COLUMNS}
    columns["TraceId"] = pa.Array.from_buffers(
        pa.binary(16), batch.num_rows, [None, pa.py_buffer(trace_ids)]
    )
    columns["SpanId"] = _span_ids(batch.column("SpanId"))
    columns["ParentSpanId"] = _span_ids(batch.column("ParentSpanId"))
    return pa.table(columns)


class ClickHouseStore:
    """The ClickHouse engine over ``executor`` in ``database`` (created or migrated on open;
    ``cluster``: the DDL runs ON CLUSTER; ``retention_s``: the spans table's TTL when it is
    created, see ``schema``; ``node``: names this writer's WAL, so each of several ingest
    nodes sharing a database keeps its own ``last_wal_sequence``)."""

    capabilities = Capabilities(
        missing={
            Capability.ATOMIC_WRITE: (
                "ClickHouse has no transaction across inserts: a write failing after its "
                "spans insert keeps them, the WAL replays the batch, and the query layer's "
                "dedupe adjuster hides the copies"
            ),
            **dict.fromkeys(
                (
                    Capability.TRACE_ID_PREFIX,
                    Capability.SELECTIONS,
                    Capability.DOCTOR,
                    Capability.SPAN_METRICS,
                    Capability.SERVICE_GRAPH,
                ),
                "not built on ClickHouse yet: the DuckDB engine's analysis reads wait for their "
                "ClickHouse SQL (the API answers 501)",
            ),
        }
    )

    def __init__(
        self,
        executor: Executor,
        *,
        database: str = "breadcrumbs",
        cluster: str | None = None,
        retention_s: float = 0,
        node: str = "",
        metrics: SelfMetrics | None = None,
    ) -> None:
        if not database.replace("_", "").isalnum():
            raise ValueError(f"bad ClickHouse database name {database!r}")
        self._executor = executor
        self._db = f"`{database}`"
        self._cluster = cluster
        self._ttl_s = int(retention_s)
        self._node = node
        self._metrics = metrics
        self._closed = False
        try:
            self._migrate()
        except BaseException:
            executor.close()
            raise

    def _migrate(self) -> None:
        for statement in schema.ddl(self._db.strip("`"), self._cluster, self._ttl_s):
            self._executor.command(statement)
        found = self._executor.query(
            f"SELECT max(Value) AS v FROM {self._db}.meta WHERE Key = 'schema_version'"
        ).column(0)[0]
        version = found.as_py() or 0
        if version > schema.SCHEMA_VERSION:
            raise RuntimeError(
                f"ClickHouse database {self._db} has schema version {version}, newer than "
                f"this breadcrumbs ({schema.SCHEMA_VERSION}); upgrade breadcrumbs"
            )
        if version < schema.SCHEMA_VERSION:
            self._executor.insert(
                f"{self._db}.meta",
                pa.table(
                    {
                        "Key": pa.array(["schema_version"], pa.string()),
                        "Value": pa.array([schema.SCHEMA_VERSION], pa.int64()),
                    }
                ),
            )
            log.info("created ClickHouse schema version %d in %s", schema.SCHEMA_VERSION, self._db)

    async def _run(self, work: Callable[[Executor], T]) -> T:
        return await asyncio.to_thread(work, self._executor)

    async def maintain(self) -> None:
        """Nothing to do: ClickHouse merges parts and aggregates ranges by itself."""

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await asyncio.to_thread(self._executor.close)

    # --- write ------------------------------------------------------------------------------

    async def write(self, batch: SpanBatch, *, wal_sequence: int | None = None) -> None:
        if batch.num_rows == 0 and wal_sequence is None:
            return
        rows = _binary_ids(batch) if batch.num_rows else None

        def work(executor: Executor) -> None:
            if rows is not None:
                executor.insert(f"{self._db}.spans", rows)
            if wal_sequence is not None:
                executor.insert(
                    f"{self._db}.wal_sequence",
                    pa.table(
                        {
                            "Node": pa.array([self._node], pa.string()),
                            "Sequence": pa.array([wal_sequence], pa.uint64()),
                        }
                    ),
                )

        await self._run(work)

    async def last_wal_sequence(self) -> int:
        text = (
            f"SELECT max(Sequence) AS s FROM {self._db}.wal_sequence WHERE Node = {{node:String}}"
        )
        table = await self._run(lambda e: e.query(text, {"node": self._node}))
        return int(table.column(0)[0].as_py() or 0)

    # --- read -------------------------------------------------------------------------------

    @staticmethod
    def _spans(table: pa.Table) -> SpanBatch:
        if table.num_rows == 0:
            return empty_batch()
        return table.select(SPAN_SCHEMA.names).cast(SPAN_SCHEMA)

    async def get_trace(self, params: GetTraceParams) -> SpanBatch:
        text = sql.trace_spans(self._db)
        table = await self._run(lambda e: e.query(text, {"trace": params.trace_id}))
        return self._spans(table)

    async def get_traces(self, trace_ids: list[str]) -> SpanBatch:
        unique = list(dict.fromkeys(trace_ids))
        if not unique:
            return empty_batch()
        text = sql.traces_spans(self._db)
        return self._spans(await self._run(lambda e: e.query(text, {"traces": unique})))

    async def find_trace_ids(self, query: TraceQuery) -> list[str]:
        if query.limit <= 0:
            return []

        def work(executor: Executor) -> list[str]:
            # Newest first, as the DuckDB engine does: the last 1/64 of the part of the window
            # holding data, then 1/16, then all. When a sub-window holds ``limit`` traces they
            # are the answer (any other trace's newest match is older), and the time-ordered
            # buckets of the sort key keep a short window's read short.
            extent = executor.query(
                f"SELECT count() AS n, min(Timestamp) AS lo, max(Timestamp) AS hi "
                f"FROM {self._db}.spans"
            )
            if not extent.column(0)[0].as_py():  # min and max of no rows are 0, not NULL
                return []
            oldest, newest = extent.column(1)[0].as_py(), extent.column(2)[0].as_py()
            top = min(query.end_ns, int(newest))
            span = max(0, top - max(query.start_ns, int(oldest)))
            found: list[str] = []
            for fraction in _SEARCH_FRACTIONS:
                start = (
                    query.start_ns if fraction == 1 else max(query.start_ns, top - span // fraction)
                )
                text, params = sql.find_trace_ids(
                    self._db, dataclasses.replace(query, start_ns=start)
                )
                found = [str(t) for t in executor.query(text, params).column(0).to_pylist()]
                if len(found) >= query.limit or start == query.start_ns:
                    break
            return found

        return await self._run(work)

    async def _column(self, text: str, params: dict[str, Any] | None = None) -> list[Any]:
        table = await self._run(lambda e: e.query(text, params))
        return table.column(0).to_pylist() if table.num_columns else []

    async def services(self) -> list[str]:
        return await self._column(
            f"SELECT DISTINCT ServiceName FROM {self._db}.operations ORDER BY 1"
        )

    async def operations(self, service: str, span_kind: SpanKind | None = None) -> list[Operation]:
        text = (
            f"SELECT SpanName, SpanKind FROM {self._db}.operations "
            "WHERE ServiceName = {service:String}"
        )
        params: dict[str, Any] = {"service": service}
        if span_kind is not None:
            text += " AND SpanKind = {kind:Int8}"
            params["kind"] = int(span_kind)
        text += " GROUP BY SpanName, SpanKind"
        table = await self._run(lambda e: e.query(text, params))
        rows = zip(table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True)
        return sorted(Operation(name, SpanKind(kind)) for name, kind in rows)

    async def remote_services(self, service: str) -> list[str]:
        return await self._column(sql.remote_services(self._db), {"service": service})

    async def dependencies(self, end_ns: int, lookback_ns: int) -> list[DependencyLink]:
        params = {"lo": end_ns - lookback_ns, "hi": end_ns}
        table = await self._run(lambda e: e.query(sql.dependencies(self._db), params))
        return [
            DependencyLink(row["parent"], row["child"], int(row["calls"]), int(row["errors"]))
            for row in table.to_pylist()
        ]

    async def tag_keys(self) -> list[str]:
        return await self._column(
            f"SELECT DISTINCT arrayJoin(mapKeys(SpanAttributes)) AS k FROM {self._db}.spans "
            "ORDER BY k"
        )

    async def tag_values(self, key: str) -> list[str]:
        text = f"""
        SELECT DISTINCT SpanAttributes[{{key:String}}] AS v FROM {self._db}.spans
        WHERE Timestamp >= (SELECT max(Timestamp) FROM {self._db}.spans) - {_RECENT_WINDOW_NS}
          AND mapContains(SpanAttributes, {{key:String}})
        ORDER BY v
        """
        return await self._column(text, {"key": key})

    def _bytes_on_disk(self, executor: Executor) -> int:
        table = executor.query(
            "SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND database = {db:String}",
            {"db": self._db.strip("`")},
        )
        return int(table.column(0)[0].as_py() or 0)

    async def stats(self) -> StoreStats:
        def work(executor: Executor) -> StoreStats:
            table = executor.query(
                f"SELECT count() AS n, min(Timestamp) AS lo, max(Timestamp) AS hi "
                f"FROM {self._db}.spans"
            )
            spans = int(table.column(0)[0].as_py())
            oldest, newest = table.column(1)[0].as_py(), table.column(2)[0].as_py()
            return StoreStats(
                spans=spans,
                bytes_on_disk=self._bytes_on_disk(executor),
                oldest_ns=int(oldest) if spans else None,
                newest_ns=int(newest) if spans else None,
            )

        result = await self._run(work)
        if self._metrics is not None:
            self._metrics.store_spans.set(result.spans)
            self._metrics.store_bytes.set(result.bytes_on_disk)
        return result

    # --- retention --------------------------------------------------------------------------

    async def delete_before(self, cutoff_ns: int) -> int:
        def work(executor: Executor) -> int:
            params = {"cutoff": cutoff_ns}
            found = executor.query(
                f"SELECT count() FROM {self._db}.spans WHERE Timestamp < {{cutoff:Int64}}", params
            )
            deleted = int(found.column(0)[0].as_py())
            if deleted:
                # Lightweight deletes: rows masked at once, removed by the next merges.
                for table, column in (
                    ("spans", "Timestamp"),
                    ("trace_ranges", "LastStart"),
                    ("operations", "LastSeen"),
                ):
                    executor.command(
                        f"DELETE FROM {self._db}.{table} WHERE {column} < {{cutoff:Int64}}",
                        params,
                    )
            return deleted

        # Counted once, by the caller (pipeline.retention), not here as well.
        return await self._run(work)

    # --- reads not built on ClickHouse yet (see ``capabilities``) ---------------------------

    def _missing(self, capability: Capability) -> Unsupported:
        return Unsupported(f"{capability}: {self.capabilities.missing[capability]}")

    async def trace_ids_with_prefix(self, query: TraceIdPrefix) -> list[str]:
        raise self._missing(Capability.TRACE_ID_PREFIX)

    async def selection_counts(self, selection: TraceSelection) -> SelectionCounts:
        raise self._missing(Capability.SELECTIONS)

    async def latency_distribution(self, query: LatencyQuery) -> LatencyDistribution:
        raise self._missing(Capability.SELECTIONS)

    async def typical_traces(self, query: TypicalTraceQuery) -> list[str]:
        raise self._missing(Capability.SELECTIONS)

    async def operation_profile(self, window: DoctorWindow) -> pa.Table:
        raise self._missing(Capability.DOCTOR)

    async def parent_profile(self, window: DoctorWindow) -> pa.Table:
        raise self._missing(Capability.DOCTOR)

    async def call_profile(self, window: DoctorWindow) -> pa.Table:
        raise self._missing(Capability.DOCTOR)

    async def root_profile(self, window: DoctorWindow) -> pa.Table:
        raise self._missing(Capability.DOCTOR)

    async def attribute_profile(self, window: DoctorWindow) -> pa.Table:
        raise self._missing(Capability.DOCTOR)

    async def write_span_metrics(self, rows: pa.Table, *, wal_sequence: int) -> None:
        raise self._missing(Capability.SPAN_METRICS)

    async def span_metrics_wal_sequence(self) -> int:
        raise self._missing(Capability.SPAN_METRICS)

    async def compact_span_metrics(self) -> int:
        raise self._missing(Capability.SPAN_METRICS)

    async def expire_span_metrics(self, now_ns: int) -> int:
        raise self._missing(Capability.SPAN_METRICS)

    async def red(self, query: RedQuery) -> pa.Table:
        raise self._missing(Capability.SPAN_METRICS)

    async def service_graph(self, query: ServiceGraphQuery) -> list[ServiceGraphEdge]:
        raise self._missing(Capability.SERVICE_GRAPH)
