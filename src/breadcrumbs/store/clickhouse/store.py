"""``ClickHouseStore``: spans in ClickHouse, a server, a cluster or chDB in-process.

Every public method runs its ClickHouse work in a worker thread through an ``Executor``
(``executor.py``); the SQL is ``sql.py``, the layout ``schema.py``. Ids cross as binary
(converted in Arrow, ``binary_ids``), results come back as Arrow and are cast to
``SPAN_SCHEMA``. Writes are one insert per batch into ``spans`` (ClickHouse wants large
inserts; the WAL writer batches them), before it the resources this store has not written
yet (rare: a process started), and, with a WAL sequence, a row into ``wal_sequence``.
"""

# S608: only the checked database name and constants are formatted in; values are bound.
# ruff: noqa: S608

from __future__ import annotations

import array
import asyncio
import dataclasses
import hashlib
import logging
import struct
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from breadcrumbs.analysis import red as red_math
from breadcrumbs.errors import QueryTimeout
from breadcrumbs.model import SPAN_SCHEMA, SpanBatch, SpanKind, empty_batch
from breadcrumbs.selfmetrics import SelfMetrics
from breadcrumbs.store.base import (
    DEPENDENCY_HORIZON_NS,
    LISTING_WINDOW_NS,
    RED_LEVELS,
    RED_SCHEMA,
    Capabilities,
    Capability,
    DependenciesQuery,
    DependencyLink,
    DoctorWindow,
    DroppedKey,
    GetTraceParams,
    GetTracesParams,
    LatencyCell,
    LatencyDistribution,
    LatencyQuery,
    Operation,
    OperationCount,
    OperationsQuery,
    RedQuery,
    RemoteServicesQuery,
    SelectionCounts,
    ServiceGraphEdge,
    ServiceGraphQuery,
    ServicesQuery,
    StoreStats,
    TagKeysQuery,
    TagValuesQuery,
    TraceIdPrefix,
    TraceQuery,
    TraceSelection,
    TypicalTraceQuery,
)
from breadcrumbs.store.clickhouse import analysis_sql, doctor_sql, red, schema, sql
from breadcrumbs.store.clickhouse.executor import Executor
from breadcrumbs.store.selection_rows import (
    EXAMPLES,
    PERCENTILES,
    attribute_count,
    latency_step,
    sample_rate,
)
from breadcrumbs.store.threads import StoreThreads

log = logging.getLogger(__name__)

T = TypeVar("T")

_INSERT_COLUMNS = (
    "Timestamp", "TraceState", "SpanName", "SpanKind", "ServiceName", "ScopeName",
    "ScopeVersion", "SpanAttributes", "SpanAttributeTypes", "Duration", "StatusCode",
    "StatusMessage", "Events", "Links",
)  # fmt: skip
_RECENT_WINDOW_NS = 3600 * 10**9
# Kept dependency counts: units of the 3 hours before the newest span (older windows count
# from the spans), counted once the spans within the horizon of them are 10 s older than the
# newest, at most 40 units (10 min, a spans bucket: a step reads whole buckets) per refresh;
# a query reads its window's whole units from them when kept.
_KEPT_FOR_NS = 3 * 3600 * 10**9
_SETTLE_NS = 10 * 10**9
_REFRESH_UNITS = 40
_SWEEP_EVERY = 30  # refreshes: every ~5 min when idle
_CATCH_UP_PAUSE_S = 0.1
_RECOUNT_PAUSE_S = 10.0
_RED_EXPIRE_EVERY_S = 600.0
TRACES_PER_STATEMENT = 100  # get_traces' ids per statement: short URLs over HTTP
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


def resource_hashes(batch: SpanBatch) -> pa.Array:
    """Each span's ``ResourceHash`` (``schema.RESOURCE_HASH``, which the migration computes in
    SQL): the resource as one text per span in Arrow, hashed once per distinct text."""
    entries = batch.column("ResourceAttributes").combine_chunks()
    keys = pa.ListArray.from_arrays(entries.offsets, entries.keys)
    values = pa.ListArray.from_arrays(entries.offsets, entries.items)
    text = pc.binary_join_element_wise(
        pc.binary_join(keys, "\x1f"),
        pc.binary_join(values, "\x1f"),
        batch.column("ResourceAttributeTypes").combine_chunks(),
        "\x1e",
    ).dictionary_encode()
    hashes = pa.array(
        [
            # An identity, not a security boundary; MD5 because ClickHouse has it built in.
            int.from_bytes(
                hashlib.md5(resource.encode(), usedforsecurity=False).digest()[:8], "little"
            )
            for resource in text.dictionary.to_pylist()
        ],
        pa.uint64(),
    )
    return hashes.take(text.indices)


def binary_ids(batch: SpanBatch, hashes: pa.Array | None = None) -> pa.Table:
    """The batch as the ``spans`` table's columns: binary ids, the resource as its hash
    (``hashes``: ``resource_hashes(batch)`` if already computed), Events and Links as
    ``EventsIn`` and ``LinksIn`` (ClickHouse packs them, ``schema``), the rest as they are."""
    trace_ids = _hex_words(batch.column("TraceId"), 32)
    columns: dict[str, Any] = {name: batch.column(name) for name in _INSERT_COLUMNS}
    columns["EventsIn"] = columns.pop("Events")
    columns["LinksIn"] = columns.pop("Links")
    columns["ResourceHash"] = resource_hashes(batch) if hashes is None else hashes
    columns["TraceId"] = pa.Array.from_buffers(
        pa.binary(16), batch.num_rows, [None, pa.py_buffer(trace_ids)]
    )
    columns["SpanId"] = _span_ids(batch.column("SpanId"))
    columns["ParentSpanId"] = _span_ids(batch.column("ParentSpanId"))
    return pa.table(columns)


def unpacked(table: pa.Table) -> pa.Table:
    """``sql.SPAN_COLUMNS``' rows with ``EventsText`` and ``LinksText`` (a span's events and
    links as JSON, '' for none: ``schema``) as ``SPAN_SCHEMA``'s Events and Links. Only the
    non-empty ones are decoded (a per-span Python loop over those: few in a trace)."""
    for packed, name in (("EventsText", "Events"), ("LinksText", "Links")):
        column = table.column(packed).combine_chunks()
        kind = SPAN_SCHEMA.field(name).type
        fields = [field.name for field in kind.value_type]
        lists: list[list[Any]] = [[]] * len(column)
        # binary_length: a server may send String as Arrow binary (orjson reads bytes too).
        for i in pc.indices_nonzero(pc.binary_length(column)).to_pylist():
            items = [
                # A server set not to write tuples as objects writes them as arrays, and one
                # set to quote 64-bit integers, an event's Timestamp as a string.
                dict(zip(fields, item, strict=True)) if isinstance(item, list) else item
                for item in orjson.loads(column[i].as_py())
            ]
            for item in items:
                if "Timestamp" in item:
                    item["Timestamp"] = int(item["Timestamp"])
            lists[i] = items
        at = table.schema.get_field_index(packed)
        table = table.set_column(at, name, pa.array(lists, kind))
    return table


class ClickHouseStore:
    """The ClickHouse engine over ``executor`` in ``database`` (created or migrated on open;
    ``cluster``: the DDL runs ON CLUSTER; ``retention_s``: the spans table's TTL when it is
    created, see ``schema``; ``node``: names this writer's WAL, so each of several ingest
    nodes sharing a database keeps its own ``last_wal_sequence``)."""

    capabilities = Capabilities(
        missing={
            Capability.ATOMIC_WRITE: (
                "ClickHouse has no transaction across inserts: a batch's spans (whose "
                "materialized views feed trace_ranges and operations, each its own commit) "
                "and its WAL sequence are separate inserts, so a write failing after the "
                "spans insert keeps them; the WAL replays the batch and the query layer's "
                "dedupe adjuster hides the copies. (RED rows are one insert with their "
                "sequence, atomic: write_span_metrics.)"
            ),
        }
    )

    keeps_dependencies = True  # dependency counts kept in dependency_edges (schema)

    def __init__(
        self,
        executor: Executor,
        *,
        database: str = "breadcrumbs",
        cluster: str | None = None,
        retention_s: float = 0,
        node: str = "",
        metrics: SelfMetrics | None = None,
        query_timeout_s: float = 30.0,
        query_threads: int = 4,
        ingest_behind: Callable[[], bool] | None = None,
    ) -> None:
        if not database.replace("_", "").isalnum():
            raise ValueError(f"bad ClickHouse database name {database!r}")
        self._executor = executor
        self._db = f"`{database}`"
        self._cluster = cluster
        self._ttl_s = int(retention_s)
        self._node = node
        # RED rows go straight to this server's local table: one insert, one part, atomic
        # (a Distributed table would split it by shard and send it later).
        self._on_cluster = f" ON CLUSTER `{cluster}`" if cluster else ""
        self._span_metrics_local = f"{self._db}.span_metrics{'_local' if cluster else ''}"
        self._metrics = metrics
        self._closed = False
        self._resources: set[int] = set()  # hashes known to be in ``resources``, for writes
        self._refreshes = 0  # refresh_dependencies calls, for its sweeps
        self._catching_up = False
        self._threads = StoreThreads(
            "clickhouse",
            readers=query_threads,
            timeout_s=query_timeout_s,
            ingest_behind=ingest_behind,
        )
        try:
            self._migrate()
            self._resources.update(self._stored_resources())
        except BaseException:
            executor.close()
            self._threads.close()
            raise

    def _stored_resources(self) -> list[int]:
        """The resource hashes already in ``resources`` (a write stores only new ones)."""
        known = self._executor.query(f"SELECT DISTINCT ResourceHash FROM {self._db}.resources")
        return [int(h) for h in known.column(0).to_pylist()]

    def _migrate(self) -> None:
        database = self._db.strip("`")
        version = self._schema_version(database)
        if version > schema.SCHEMA_VERSION:
            raise RuntimeError(
                f"ClickHouse database {self._db} has schema version {version}, newer than "
                f"this breadcrumbs ({schema.SCHEMA_VERSION}); upgrade breadcrumbs"
            )
        steps = schema.migrations(version, database, self._cluster, self._ttl_s) if version else []
        if steps and self._cluster:
            raise RuntimeError(
                f"ClickHouse database {self._db} has schema version {version}; migrate the "
                "cluster by running these statements on every shard, then start again:\n"
                + ";\n".join(steps)
            )
        for statement in steps:
            self._executor.command(statement)
        for statement in schema.ddl(database, self._cluster, self._ttl_s):
            self._executor.command(statement)
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
            if version:
                log.info(
                    "migrated %s from schema version %d to %d",
                    self._db,
                    version,
                    schema.SCHEMA_VERSION,
                )
            else:
                log.info(
                    "created ClickHouse schema version %d in %s", schema.SCHEMA_VERSION, self._db
                )

    def _schema_version(self, database: str) -> int:
        """The database's schema version, 0 when it has no tables yet."""
        tables = self._executor.query(
            "SELECT count() AS n FROM system.tables WHERE database = {db:String} AND name = 'meta'",
            {"db": database},
        )
        if not tables.column(0)[0].as_py():
            return 0
        found = self._executor.query(
            f"SELECT max(Value) AS v FROM {self._db}.meta WHERE Key = 'schema_version'"
        ).column(0)[0]
        return int(found.as_py() or 0)

    async def _write_run(self, work: Callable[[Executor], T]) -> T:
        return await self._threads.write(lambda: work(self._executor))

    async def _upkeep_run(self, work: Callable[[Executor], T]) -> T:
        return await self._threads.upkeep(lambda: work(self._executor))

    async def _run(self, work: Callable[[Executor], T]) -> T:
        """A read, on a reader thread. Past the timeout the caller gets ``QueryTimeout`` once
        the statement ends (ClickHouse's own ``max_execution_time`` bounds it on a server);
        one not yet started is skipped."""
        stopped = threading.Event()

        def run() -> T:
            if stopped.is_set():
                raise QueryTimeout("stopped before it started")
            return work(self._executor)

        return await self._threads.read(run, stopped.set)

    async def maintain(self) -> None:
        """The RED levels' retention, every ``_RED_EXPIRE_EVERY_S`` (ClickHouse merges parts
        and aggregates rows of one key by itself), and the kept dependency counts
        (``refresh_dependencies``)."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._expire_red(), name="red-retention")
            group.create_task(self._count_dependencies(), name="dependency-counts")

    async def _count_dependencies(self) -> None:
        while True:
            try:
                counted = await self.refresh_dependencies()
            except Exception:  # queries count from the spans instead; do not flood the log
                log.exception("counting dependencies failed; trying again later")
                counted = 0
            # Short pauses while catching up let other work in between steps.
            await asyncio.sleep(_CATCH_UP_PAUSE_S if counted else _RECOUNT_PAUSE_S)

    async def _expire_red(self) -> None:
        while True:
            try:
                await self.expire_span_metrics(time.time_ns())
            except Exception:  # rows stay a little longer; do not flood the log
                log.exception("expiring RED aggregates failed; trying again later")
            await asyncio.sleep(_RED_EXPIRE_EVERY_S)

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await asyncio.to_thread(self._threads.close)
            await asyncio.to_thread(self._executor.close)

    # --- write ------------------------------------------------------------------------------

    async def write(self, batch: SpanBatch, *, wal_sequence: int | None = None) -> None:
        if batch.num_rows == 0 and wal_sequence is None:
            return
        hashes = resource_hashes(batch) if batch.num_rows else None
        rows = binary_ids(batch, hashes) if hashes is not None else None

        def work(executor: Executor) -> None:
            if hashes is not None and rows is not None:
                self._write_resources(executor, batch, hashes)
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

        await self._write_run(work)

    def _write_resources(self, executor: Executor, batch: SpanBatch, hashes: pa.Array) -> None:
        """The batch's resources not yet written by this store, then the dictionary reloaded,
        so a span is never read before its resource. (Another writer's copy of a resource is
        deduplicated by the ReplacingMergeTree.) On the writer thread only."""
        distinct = pc.unique(hashes)
        new = [h for h in distinct.to_pylist() if h not in self._resources]
        if not new:
            return
        first = pc.index_in(pa.array(new, pa.uint64()), hashes)
        executor.insert(
            f"{self._db}.resources",
            pa.table(
                {
                    "ResourceHash": pa.array(new, pa.uint64()),
                    "ResourceAttributes": batch.column("ResourceAttributes").take(first),
                    "ResourceAttributeTypes": batch.column("ResourceAttributeTypes").take(first),
                }
            ),
        )
        executor.command(schema.reload_resources(self._db.strip("`"), self._cluster))
        self._resources.update(new)

    async def last_wal_sequence(self) -> int:
        text = (
            f"SELECT max(Sequence) AS s FROM {self._db}.wal_sequence WHERE Node = {{node:String}}"
        )
        table = await self._write_run(lambda e: e.query(text, {"node": self._node}))
        return int(table.column(0)[0].as_py() or 0)

    # --- read -------------------------------------------------------------------------------

    @staticmethod
    def _spans(table: pa.Table) -> SpanBatch:
        if table.num_rows == 0:
            return empty_batch()
        return table.select(SPAN_SCHEMA.names).cast(SPAN_SCHEMA)

    async def get_trace(self, params: GetTraceParams) -> SpanBatch:
        text = sql.traces_spans(self._db, one=True, cluster=self._cluster is not None)
        table = await self._run(lambda e: e.query(text, {"trace": params.trace_id}))
        return self._spans(unpacked(table))

    async def get_traces(self, params: GetTracesParams) -> SpanBatch:
        unique = list(dict.fromkeys(params.trace_ids))
        if not unique:
            return empty_batch()
        text = sql.traces_spans(self._db, cluster=self._cluster is not None)

        def work(executor: Executor) -> pa.Table:
            parts = [
                executor.query(text, {"traces": unique[i : i + TRACES_PER_STATEMENT]})
                for i in range(0, len(unique), TRACES_PER_STATEMENT)
            ]
            if len(parts) == 1:
                return parts[0]
            return pa.concat_tables(parts).sort_by(
                [("Timestamp", "ascending"), ("SpanId", "ascending")]
            )

        return self._spans(unpacked(await self._run(work)))

    async def find_trace_ids(self, query: TraceQuery) -> list[str]:
        if query.limit <= 0:
            return []

        def work(executor: Executor) -> list[str]:
            # Newest first, as the DuckDB engine does: the last 1/64 of the window, then 1/16,
            # then all. When a sub-window holds ``limit`` traces they are the answer (any other
            # trace's newest match is older), and the time-ordered buckets of the sort key keep
            # a short window's read short. Unlike DuckDB's, the windows are the query's own,
            # not narrowed to the data first: that extent cost one more chDB query (~10 ms)
            # than an empty sub-window does.
            # Where each tag can match, looked up once for the windows (sql.tag_lookup).
            branches = tuple(sql.TagBranches() for _ in query.tags)
            if any(tag.scope != "span" for tag in query.tags):
                text, params = sql.tag_lookup(self._db, query.tags)
                row = executor.query(text, params).to_pylist()[0]
                branches = sql.tag_branches(row, query.tags)
            top = query.end_ns
            span = max(0, top - query.start_ns)
            found: list[str] = []
            for fraction in _SEARCH_FRACTIONS:
                start = (
                    query.start_ns if fraction == 1 else max(query.start_ns, top - span // fraction)
                )
                statement = sql.find_trace_ids(
                    self._db, dataclasses.replace(query, start_ns=start), branches
                )
                if statement is None:
                    return []  # a tag no span can match
                text, params = statement
                found = [str(t) for t in executor.query(text, params).column(0).to_pylist()]
                if len(found) >= query.limit or start == query.start_ns:
                    break
            return found

        return await self._run(work)

    async def _column(self, text: str, params: dict[str, Any] | None = None) -> list[Any]:
        table = await self._run(lambda e: e.query(text, params))
        return table.column(0).to_pylist() if table.num_columns else []

    async def services(self, query: ServicesQuery) -> list[str]:
        return await self._column(
            f"SELECT DISTINCT ServiceName FROM {self._db}.operations ORDER BY 1"
        )

    async def operations(self, query: OperationsQuery) -> list[Operation]:
        service, span_kind = query.service, query.span_kind
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

    async def remote_services(self, query: RemoteServicesQuery) -> list[str]:
        service = query.service
        params = {"service": service, "window": LISTING_WINDOW_NS}
        return await self._column(sql.remote_services(self._db), params)

    async def dependencies(self, query: DependenciesQuery) -> list[DependencyLink]:
        end_ns, lookback_ns = query.end_ns, query.lookback_ns
        # (end - lookback, end] is [end - lookback + 1, end + 1) of integer ns.
        first, stop = end_ns - lookback_ns + 1, end_ns + 1

        def work(executor: Executor) -> pa.Table:
            if not self.keeps_dependencies:
                params = {"first": first, "stop": stop}
                return executor.query(sql.dependencies(self._db), params)
            return _dependencies(executor, self._db, first, stop)

        table = await self._run(work)
        # Weighted sums (estimates when spans were sampled); the APIs speak whole calls.
        return [
            DependencyLink(row["parent"], row["child"], round(row["calls"]), round(row["errors"]))
            for row in table.to_pylist()
        ]

    async def refresh_dependencies(self) -> int:
        """Keep the dependency counts of settled units not kept under their current stamp
        (at most ``_REFRESH_UNITS`` of them); returns how many. Safe beside other writers
        doing the same (``schema``: ``dependency_edges``). It looks over the whole
        ``_KEPT_FOR_NS`` (reading every span's ids there: ~1 s at 10M spans/hour) while
        catching up and every ``_SWEEP_EVERY``-th time, else over the newest
        ``_REFRESH_UNITS`` units only (late spans further back: the next sweep)."""
        sweep = self._refreshes % _SWEEP_EVERY == 0 or self._catching_up
        self._refreshes += 1
        counted = await self._upkeep_run(lambda e: _refresh_dependencies(e, self._db, sweep=sweep))
        self._catching_up = counted > 0
        return counted

    async def tag_keys(self, query: TagKeysQuery) -> list[str]:
        return await self._column(
            f"SELECT DISTINCT arrayJoin(mapKeys(SpanAttributes)) AS k FROM {self._db}.spans "
            "ORDER BY k"
        )

    async def tag_values(self, query: TagValuesQuery) -> list[str]:
        key = query.key
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
                    # Units below the cutoff; those near it change stamp with their spans.
                    ("dependency_edges", f"Unit * {sql.DEPENDENCY_UNIT_NS}"),
                ):
                    executor.command(
                        f"DELETE FROM {self._db}.{table} WHERE {column} < {{cutoff:Int64}}",
                        params,
                    )
            return deleted

        # Counted once, by the caller (pipeline.retention), not here as well.
        return await self._upkeep_run(work)

    # --- analysis reads ---------------------------------------------------------------------

    async def trace_ids_with_prefix(self, query: TraceIdPrefix) -> list[str]:
        if query.limit <= 0 or not query.prefix:
            return []
        # trace_ranges is ordered by TraceId: the prefix is one key range of it.
        text = f"""
        SELECT lower(hex(TraceId)) FROM {self._db}.trace_ranges
        WHERE TraceId >= toFixedString(unhex({{low:String}}), 16)
          AND TraceId <= toFixedString(unhex({{high:String}}), 16)
        GROUP BY TraceId ORDER BY max(LastStart) DESC, TraceId LIMIT {{limit:UInt32}}
        """
        params = {
            "low": query.prefix.ljust(32, "0"),
            "high": query.prefix.ljust(32, "f"),
            "limit": query.limit,
        }
        return [str(t) for t in await self._column(text, params)]

    # --- many traces (analysis; the SQL is in analysis_sql) ---------------------------------

    async def selection_counts(self, selection: TraceSelection) -> SelectionCounts:
        return await self._run(lambda e: _selection_counts(e, self._db, selection))

    async def latency_distribution(self, query: LatencyQuery) -> LatencyDistribution:
        return await self._run(lambda e: _latency_distribution(e, self._db, query))

    async def typical_traces(self, query: TypicalTraceQuery) -> list[str]:
        text, params = analysis_sql.typical_traces(
            self._db, query.endpoint, query.limit + len(query.exclude)
        )
        found = await self._column(text, params)
        return [t for t in found if t not in query.exclude][: query.limit]

    # --- trace doctor reads (base.DoctorWindow; the SQL is in doctor_sql) --------------------

    async def _table(self, statement: tuple[str, dict[str, Any]]) -> pa.Table:
        text, params = statement
        return await self._run(lambda e: e.query(text, params))

    async def operation_profile(self, window: DoctorWindow) -> pa.Table:
        return await self._table(doctor_sql.operation_profile(self._db, window))

    async def parent_profile(self, window: DoctorWindow) -> pa.Table:
        return await self._table(doctor_sql.parent_profile(self._db, window))

    async def call_profile(self, window: DoctorWindow) -> pa.Table:
        return await self._table(doctor_sql.call_profile(self._db, window))

    async def root_profile(self, window: DoctorWindow) -> pa.Table:
        return await self._table(doctor_sql.root_profile(self._db, window))

    async def attribute_profile(self, window: DoctorWindow) -> pa.Table:
        return await self._table(doctor_sql.attribute_profile(self._db, window))

    # --- the service graph ------------------------------------------------------------------

    async def service_graph(self, query: ServiceGraphQuery) -> list[ServiceGraphEdge]:
        text, params = sql.service_graph(self._db, query.bounds_ns)
        params.update(first=query.start_ns, stop=query.end_ns, settled=query.peers_ended_before_ns)
        table = await self._run(lambda e: e.query(text, params))
        return [ServiceGraphEdge.from_row(row) for row in _rows(table)]

    # --- RED span metrics (the design is in ``red.py``) -------------------------------------

    async def write_span_metrics(self, rows: pa.Table, *, wal_sequence: int) -> None:
        # Rolled up before the write thread: flushes and span writes wait less.
        table = red.insert_rows(rows, wal_sequence, self._node)
        settings = {
            **red.INSERT_SETTINGS,
            "insert_deduplication_token": f"{self._node}:{wal_sequence}",
        }
        await self._write_run(lambda e: e.insert(self._span_metrics_local, table, settings))

    async def span_metrics_wal_sequence(self) -> int:
        text = red.wal_sequence(self._db)
        table = await self._write_run(lambda e: e.query(text, {"node": self._node}))
        return int(table.column(0)[0].as_py() or 0)

    async def compact_span_metrics(self) -> int:
        """Nothing to do: ClickHouse's merges add up the rows of one key (AggregatingMergeTree)."""
        return 0

    async def expire_span_metrics(self, now_ns: int) -> int:
        def work(executor: Executor) -> int:
            deleted = 0
            for level in RED_LEVELS:
                params = {"cutoff": now_ns - level.retention_ns}
                text = red.expired(
                    f"{self._db}.span_metrics", level.resolution_ns, "SELECT count() FROM"
                )
                found = int(executor.query(text, params).column(0)[0].as_py())
                if found:
                    delete = red.expired(
                        self._span_metrics_local + self._on_cluster,
                        level.resolution_ns,
                        "DELETE FROM",
                    )
                    executor.command(delete, params)
                deleted += found
            return deleted

        return await self._upkeep_run(work)

    async def span_metrics_rows(self) -> dict[int, int]:
        """Rows kept per level, merged or not (for benchmarks and tests)."""
        table = await self._run(lambda e: e.query(red.rows_per_level(self._db)))
        counts = dict.fromkeys((level.resolution_ns for level in RED_LEVELS), 0)
        counts.update({int(k): int(n) for k, n in _rows(table)})
        return counts

    async def red(self, query: RedQuery) -> pa.Table:
        text, params = red.red_query(self._db, query)
        table = await self._run(lambda e: e.query(text, params))
        return red_math.summarize(red.summary_rows(table), query.quantiles).cast(RED_SCHEMA)


def _ranges(units: list[int]) -> list[tuple[int, int]]:
    """Sorted units as merged [start, stop) ns ranges."""
    out: list[tuple[int, int]] = []
    for unit in units:
        start = unit * sql.DEPENDENCY_UNIT_NS
        if out and out[-1][1] == start:
            out[-1] = (out[-1][0], start + sql.DEPENDENCY_UNIT_NS)
        else:
            out.append((start, start + sql.DEPENDENCY_UNIT_NS))
    return out


def _dependencies(executor: Executor, db: str, first: int, stop: int) -> pa.Table:
    """Calls in [first, stop): kept counts for the window's units whose every call's spans
    are in it (anchored a horizon inside its ends) and whose stamp is kept, the rest counted
    from the spans within the horizon of the rest."""
    unit, horizon = sql.DEPENDENCY_UNIT_NS, DEPENDENCY_HORIZON_NS
    u0, u1 = -(-(first + horizon) // unit), (stop - horizon) // unit
    kept: list[tuple[int, int]] = []
    if u1 - u0 >= 2:
        found = executor.query(sql.kept_units(db), {"u0": u0, "u1": u1})
        kept = list(zip(*(column.to_pylist() for column in found.columns), strict=True))
    anchors: list[tuple[int, int]] = []
    at = first
    for start, end in _ranges([u for u, _ in kept]):
        if at < start:
            anchors.append((at, start))
        at = end
    if at < stop:
        anchors.append((at, stop))
    params = {"first": first, "stop": stop, "kept": kept, **sql.anchor_params(anchors)}
    return executor.query(sql.dependencies_kept(db, len(anchors)), params)


def _refresh_dependencies(executor: Executor, db: str, *, sweep: bool) -> int:
    """``ClickHouseStore.refresh_dependencies``. The stamps are read before the spans are
    counted: a span written in between changes the stamp, so those counts are never used
    (counted again next time), never wrong."""
    unit, horizon = sql.DEPENDENCY_UNIT_NS, DEPENDENCY_HORIZON_NS
    # The newest start: from the parts' min/max index of the partition key's column.
    newest = executor.query(f"SELECT max(Timestamp) AS t, count() AS n FROM {db}.spans")
    if not newest.column("n")[0].as_py():
        return 0
    settled = min(int(newest.column("t")[0].as_py()), time.time_ns()) - _SETTLE_NS
    top = (settled - horizon) // unit  # units below: every span within the horizon is in
    bottom = top - (_KEPT_FOR_NS // unit if sweep else _REFRESH_UNITS)
    params = {"u0": bottom, "u1": top}
    stamps = dict(_rows(executor.query(sql.dependency_stamps(db), params)))
    kept = set(_rows(executor.query(sql.kept_markers(db), params)))
    missing = sorted(u for u, stamp in stamps.items() if (u, stamp) not in kept)
    missing = missing[-_REFRESH_UNITS:]  # the newest first: a query's live tail shrinks
    if not missing:
        return 0
    anchors = _ranges(missing)
    counts = executor.query(
        sql.dependency_counts(db, len(anchors)),
        {
            "first": anchors[0][0] - horizon,
            "stop": anchors[-1][1] + horizon,
            **sql.anchor_params(anchors),
        },
    )
    # A marker row per unit ('' -> ''), with its calls in one insert (one part).
    rows = [(u, "", "", 0.0, 0.0) for u in missing] + [
        (int(u), str(p), str(c), float(n), float(e)) for u, p, c, n, e in _rows(counts)
    ]
    names = ("Unit", "Parent", "Child", "Calls", "Errors")
    table = pa.table(
        {
            **{name: [row[i] for row in rows] for i, name in enumerate(names)},
            "Stamp": pa.array([stamps[row[0]] for row in rows], pa.uint64()),
        }
    ).cast(
        pa.schema(
            [
                ("Unit", pa.int64()),
                ("Parent", pa.string()),
                ("Child", pa.string()),
                ("Calls", pa.float64()),
                ("Errors", pa.float64()),
                ("Stamp", pa.uint64()),
            ]
        )
    )
    executor.insert(f"{db}.dependency_edges", table)
    return len(missing)


def _rows(table: pa.Table) -> list[tuple[Any, ...]]:
    return list(zip(*(column.to_pylist() for column in table.columns), strict=True))


def _first_row(table: pa.Table) -> tuple[Any, ...]:
    return _rows(table)[0]


def _selection_counts(executor: Executor, db: str, selection: TraceSelection) -> SelectionCounts:
    endpoint = selection.endpoint
    threshold: int | None = selection.slower_than_ns
    if not selection.errors and selection.percentile is not None:
        text, params = analysis_sql.percentile(db, endpoint, selection.percentile / 100)
        row = executor.query(text, params).to_pylist()[0]
        threshold = int(row["q"]) if row["n"] else None
    upper = None if selection.percentile is not None else selection.faster_than_ns
    condition, condition_params = analysis_sql.selected_condition(
        threshold, selection.errors, upper
    )
    text, params = analysis_sql.sides(db, endpoint, condition)
    selected, baseline, first, last = _first_row(
        executor.query(text, {**params, **condition_params})
    )
    if not selected + baseline:
        return SelectionCounts(threshold, 0, 0, 0, 0)
    cap = selection.max_traces_per_side
    shared = {
        **condition_params,
        "rate_s": sample_rate(selected, cap),
        "rate_b": sample_rate(baseline, cap),
        "w_lo": first - selection.slack_ns,
        "w_hi": last + selection.slack_ns,
        "ignored": selection.ignored_keys,
        "cap": selection.max_values_per_key,
        "share": selection.unique_share,
    }

    def rows(statement: tuple[str, dict[str, Any]], **extra: Any) -> list[tuple[Any, ...]]:
        text, params = statement
        return _rows(executor.query(text, {**params, **shared, **extra}))

    ((sampled_selected, sampled_baseline),) = rows(
        analysis_sql.picked_sides(db, endpoint, condition)
    )
    operations = tuple(
        OperationCount(row[0], row[1], *(int(n) for n in row[2:]))
        for row in rows(analysis_sql.operations(db, endpoint, condition))
    )
    dropped = tuple(
        DroppedKey(scope, service, span, key, int(n))
        for scope, service, span, key, n in rows(
            analysis_sql.dropped_keys(db, selection, condition)
        )
    )
    attributes = tuple(
        attribute_count(*row)
        for row in rows(
            analysis_sql.values(db, selection, condition),
            ws=max(sampled_baseline, 1),
            wb=max(sampled_selected, 1),
        )
    )
    examples = analysis_sql.examples(db, endpoint, condition)
    return SelectionCounts(
        threshold,
        int(selected),
        int(baseline),
        int(sampled_selected),
        int(sampled_baseline),
        attributes,
        operations,
        dropped,
        tuple(str(trace_id) for (trace_id,) in rows(examples, examples=EXAMPLES)),
    )


def _latency_distribution(executor: Executor, db: str, query: LatencyQuery) -> LatencyDistribution:
    text, params = analysis_sql.latency_extent(db, query.endpoint)
    count, errors, first, last, low, high, quantiles = _first_row(executor.query(text, params))
    if not count:
        return LatencyDistribution(query.endpoint.start_ns, 0, 0, 0, None, None, {}, ())
    step = latency_step(int(first), int(last), query.time_buckets)
    text, params = analysis_sql.latency_cells(
        db, query.endpoint, int(first), step, query.buckets_per_doubling
    )
    cells = tuple(
        LatencyCell(int(s), int(b), int(n), int(e))
        for s, b, n, e in _rows(executor.query(text, params))
    )
    return LatencyDistribution(
        int(first),
        step,
        int(count),
        int(errors),
        int(low),
        int(high),
        {p: int(q) for p, q in zip(PERCENTILES, quantiles, strict=True)},
        cells,
    )
