"""``DuckDBStore``: the embedded engine, one DuckDB file, one process.

Every public method is async and runs its DuckDB work in a thread of its own kind
(``store.threads``: writes, upkeep, reads) with its own cursor (a DuckDB connection is not
shared between threads), fetching each result fully before the next statement. Writes (and
retention's bookkeeping) are serialised by one lock: they touch the small
``resources``/``operations``/``meta`` tables, where concurrent transactions would conflict.
Reads never take it, and DuckDB's MVCC lets a flush commit while a read runs. A read past
the query timeout, or whose caller went away, is interrupted (``_Read``).
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import dataclasses
import logging
import struct
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from breadcrumbs.errors import Unavailable
from breadcrumbs.model import ATTRIBUTES_TYPE, SPAN_SCHEMA, SpanBatch, SpanKind, empty_batch
from breadcrumbs.selfmetrics import SelfMetrics
from breadcrumbs.store.base import (
    LISTING_WINDOW_NS,
    RED_LEVELS,
    Capabilities,
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
    RedLevel,
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
from breadcrumbs.store.duckdb import (
    analysis_sql,
    dependencies,
    doctor_sql,
    lookup_tail,
    schema,
    sql,
)
from breadcrumbs.store.duckdb.parallelism import Parallelism
from breadcrumbs.store.duckdb.red_levels import RedLevels
from breadcrumbs.store.gather import ENTRIES_TYPE, take_entries
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

# Span and resource attributes cross into DuckDB as lists of entries (see schema._ENTRIES).
_LIST_COLUMNS = ("ResourceAttributes", "SpanAttributes")


def _as_entries(batch: SpanBatch) -> pa.Table:
    """Map columns as lists of entries: the same buffers, no copy."""
    for name in _LIST_COLUMNS:
        i = batch.schema.get_field_index(name)
        batch = batch.set_column(i, name, batch.column(i).cast(ENTRIES_TYPE))
    return batch


def _entries_to_map(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Lists of (key, value) entries back into map arrays, reusing the buffers."""
    chunks = []
    for chunk in column.chunks:
        entries = chunk.values
        chunks.append(
            pa.MapArray.from_arrays(
                chunk.offsets, entries.field("key"), entries.field("value"), ATTRIBUTES_TYPE
            )
        )
    return pa.chunked_array(chunks, ATTRIBUTES_TYPE)


def _hex(*words: pa.ChunkedArray) -> pa.Array:
    """Unsigned 64-bit columns as lowercase hex, 16 digits per column per row (a row's words
    side by side: a trace id from its two halves), nulls as zeros: one ``bytes.hex`` over
    the big-endian words, no Python per row."""
    count = len(words[0])
    stacked = np.empty((count, len(words)), dtype=">u8")
    for i, column in enumerate(words):
        stacked[:, i] = pc.fill_null(column, 0).to_numpy()
    digits = stacked.tobytes().hex().encode("ascii")
    width = 16 * len(words)
    offsets = np.arange(0, width * (count + 1), width, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(), count, [None, pa.py_buffer(offsets), pa.py_buffer(digits)]
    )


# ``maintain``'s pauses.
_CATCH_UP_PAUSE_S = 0.1  # between dependency-count steps on start, each ~1 s at 10M spans/h
_RECOUNT_PAUSE_S = 10.0  # between looks for uncounted dependency units once caught up
_COMPACT_RETRY_S = 60.0  # after a failed merge
_RED_COMPACT_EVERY_S = 5.0  # RED rows of the open buckets merged this often (~5 rows per key)
_RED_EXPIRE_EVERY_S = 600.0
_COMPACT_PAUSE_S = 1.0  # between checks for trace-lookup work (a check with none is in memory)

_DEFAULT_CHECKPOINT_THRESHOLD = "16MiB"
_LARGE_FLUSH = 80_000
# At low volume DuckDB's WAL (uncompressed, ~340 B/span) would wait an hour or more for the
# size-triggered checkpoint, so a small store is mostly WAL: ~600 B/span on disk against ~50
# when compressed. compact() checkpoints once writes pause for _QUIET_S, or once the WAL
# has held data for _WAL_AGE_S while staying below _QUIET_WAL_BYTES (a busy store reaches
# the threshold and checkpoints by itself long before).
_QUIET_S = 5.0
_WAL_AGE_S = 60.0
_QUIET_WAL_BYTES = 16 << 20

# Physical order of each flushed batch (see schema), as sort keys of ``spans_in``.
_SORT_KEYS: dict[str, list[tuple[str, str]]] = {
    "trace": [("TraceHi", "ascending"), ("TraceLo", "ascending")],
    "service_trace": [("ServiceName", "ascending"), ("TraceHi", "ascending")],
    "time": [("Timestamp", "ascending")],
    "service_time": [("ServiceName", "ascending"), ("Timestamp", "ascending")],
}

# Spans per slice when finding each attribute key's newest start (``_prepare``).
_KEYS_SLICE = 16_384

# Columns of ``spans_in`` (sql.INSERT_SPANS) taken as they are from the batch.
_SPAN_COLUMNS = (
    "Timestamp", "SpanId", "ParentSpanId", "TraceState", "SpanName", "SpanKind",
    "ServiceName", "ScopeName", "ScopeVersion", "SpanAttributes", "SpanAttributeTypes",
    "Duration", "StatusCode", "StatusMessage", "Events", "Links",
)  # fmt: skip


class _ResourceMap:
    """Resource hash -> ResourceId, with Arrow arrays for a vectorised lookup."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.ids: dict[int, int] = {int(h): int(i) for h, i in rows}
        self._hashes = pa.array(list(self.ids), pa.uint64())
        self._values = pa.array(list(self.ids.values()), pa.int32())

    def lookup(self, hashes: pa.ChunkedArray) -> pa.ChunkedArray:
        found: pa.ChunkedArray = self._values.take(pc.index_in(hashes, value_set=self._hashes))
        if found.null_count:
            raise RuntimeError("a span's resource is missing from the resources table")
        return found


@dataclasses.dataclass(frozen=True, slots=True)
class _Prepared:
    spans: pa.Table
    ranges: pa.Table
    operations: pa.Table
    keys: pa.Table


def _resources_in(batch: SpanBatch) -> pa.Table:
    return pa.table(
        {
            "ResourceAttributes": batch.column("ResourceAttributes").cast(ENTRIES_TYPE),
            "ResourceAttributeTypes": batch.column("ResourceAttributeTypes"),
        }
    )


def _trace_id_halves(column: pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """32-digit hex trace ids as their high and low 64 bits.

    One C-speed ``bytes.fromhex`` over the column's character buffer (every id has exactly 32
    digits) instead of a string concatenation and cast per row in SQL.
    """
    ids = column.combine_chunks()
    count = len(ids)
    if not count:
        empty = pa.array([], pa.uint64())
        return empty, empty
    lengths = pc.min_max(pc.binary_length(ids))
    if lengths["min"].as_py() != 32 or lengths["max"].as_py() != 32:
        raise ValueError("trace ids must have 32 hex digits")
    offsets, data = ids.buffers()[1:3]
    start = struct.unpack_from("<i", offsets, ids.offset * 4)[0]
    digits = memoryview(data)[start : start + 32 * count]
    words = array.array("Q", bytes.fromhex(bytes(digits).decode("ascii")))
    if sys.byteorder == "little":
        words.byteswap()  # hex digits are big-endian
    pairs = pa.FixedSizeListArray.from_arrays(
        pa.Array.from_buffers(pa.uint64(), 2 * count, [None, pa.py_buffer(words)]), 2
    )
    return pc.list_element(pairs, 0), pc.list_element(pairs, 1)


def _prepare(
    batch: SpanBatch,
    resource_ids: pa.ChunkedArray,
    sort_keys: list[tuple[str, str]],
    flush: int,
) -> _Prepared:
    """The batch as ``spans_in`` in on-disk order, plus its per-trace/operation/key rows
    (``flush``: this flush's number, in the lookup rows)."""
    high, low = _trace_id_halves(batch.column("TraceId"))
    columns: dict[str, Any] = {name: batch.column(name) for name in _SPAN_COLUMNS}
    columns["SpanAttributes"] = columns["SpanAttributes"].cast(ENTRIES_TYPE)
    columns.update(TraceHi=high, TraceLo=low, ResourceId=resource_ids)
    spans = pa.table(columns)
    # Sorting in Arrow moves each column once (resource attributes are not among them);
    # DuckDB's ORDER BY of the wide rows cost ~3x more. The attributes are gathered from
    # their chunks: a take concatenates them first (gather.py).
    order = pc.sort_indices(spans, sort_keys=sort_keys)
    attributes = take_entries(spans.column("SpanAttributes"), order)
    spans = spans.drop_columns(["SpanAttributes"]).take(order)
    spans = spans.append_column("SpanAttributes", attributes)

    by_trace = (
        spans.select(["TraceHi", "Timestamp"])
        .group_by("TraceHi")
        .aggregate([("Timestamp", "min"), ("Timestamp", "max")])
    )
    flushes = pa.array(np.full(by_trace.num_rows, flush, np.int64))
    ranges = pa.table(
        {
            "TracePrefix": by_trace.column("TraceHi"),
            "FirstStart": by_trace.column("Timestamp_min"),
            "LastStart": by_trace.column("Timestamp_max"),
            "FirstFlush": flushes,
            "LastFlush": flushes,
        }
    ).sort_by("FirstStart")  # time order compresses the starts (~0.2 bytes/span)

    names = ["ServiceName", "SpanName", "SpanKind"]
    operations = (
        spans.select([*names, "Timestamp"]).group_by(names).aggregate([("Timestamp", "max")])
    )

    # Each attribute key with the newest start of a span carrying it, a slice of spans at a
    # time: each entry's start for the whole flush (~30 MB at 200k spans) is not held at once.
    parts = [
        pa.table(
            {
                "Key": pc.struct_field(pc.list_flatten(part.column("SpanAttributes")), "key"),
                "LastSeen": part.column("Timestamp").take(
                    pc.list_parent_indices(part.column("SpanAttributes"))
                ),
            }
        )
        .group_by("Key")
        .aggregate([("LastSeen", "max")])
        .select(["Key", "LastSeen_max"])
        .rename_columns(["Key", "LastSeen"])
        for part in spans.select(["SpanAttributes", "Timestamp"]).to_batches(_KEYS_SLICE)
    ]
    keys = (
        pa.concat_tables(parts).group_by("Key").aggregate([("LastSeen", "max")])
        if parts
        else pa.table({"Key": pa.array([], pa.string()), "LastSeen_max": pa.array([], pa.int64())})
    )
    return _Prepared(
        spans,
        ranges,
        operations.select([*names, "Timestamp_max"]),
        keys.select(["Key", "LastSeen_max"]),
    )


# find_trace_ids widens its window in these steps (fractions of the asked window). At 10M
# spans/hour, CPU per search against (64, 8, 1): service+tag+duration 22 -> 17 ms, a search
# matching nothing (reads all) ~150 -> ~135 ms. (64, 4, 1) against (64, 16, 1) at 1M spans/hour,
# service + a rare tag + duration (~4 of 20 traces in the first 1/64, 9 in 1/16, 19.5 in 1/4):
# ~19 -> ~12 ms; a search matching nothing reads 1.27 windows instead of 1.08.
_SEARCH_FRACTIONS = (64, 4, 1)

# get_trace sorts a trace of up to this many spans by start: the query layer's adjusters
# want start order and only check it then (a Python pass), while sorting a few rows is cheap.
# Past it the rows stay as read (the contract promises no order): a take of 1M wide rows cost
# ~1.2 s CPU, and the native trace API sorts only the narrow columns it sends. get_traces
# does not sort: the query layer splits its batch by trace with a sort of its own.
_SORTED_ROWS = 10_000

# get_traces binds one parameter per id; chunks keep statements small.
_IDS_PER_STATEMENT = 50
# The range lookup reads the whole lookup table whatever the number of ids (500 ids: one
# statement ~30 ms, ten of 50 ~150 ms).
_IDS_PER_LOOKUP = 1000

# get_traces reads traces close in time with one shared scan (sql.spans_in_ranges). A scan of a
# row group costs about as much as 2-3 single-trace scans (10M spans/hour: ~10 ms against ~4),
# so traces share one when less than a third of a row group's time apart, as estimated from
# the table's span count and time extent: ~15 s at 10M spans/hour, ~8 min at 300k. Measured on
# search results at 10M (20 traces within ~1 min): one scan per trace 102 ms, grouped within
# 10 s 35 ms, within 30 s 26 ms.
_ROW_GROUP_ROWS = 122_880  # DuckDB's default
_SHARE_FRACTION = 3


# Trace lookup levels (see schema): the tail holds up to _TAIL_ROWS rows (~4.5 min of traces
# at 10M spans/hour), each level _LEVEL_FANOUT times the one before; the last has no bound.
# Merging level k into k + 1 rewrites at most (1 + fanout) * capacity(k) rows, so a row is
# rewritten up to ~fanout times per level over O(log n) levels (measured ~1% of write CPU);
# the lookup reads one row group or so per level.
_TAIL_ROWS = 65_536
_LEVEL_FANOUT = 8


def _meta_value(cur: duckdb.DuckDBPyConnection, key: str) -> int:
    """An integer kept in ``meta``; 0 when the key was never written."""
    row = cur.execute(sql.META_VALUE, [key]).fetchone()
    return int(row[0]) if row else 0


def _overflowing(rows: tuple[int, ...], tail_rows: int) -> int | None:
    """The lowest lookup level holding more rows than its capacity (None: none does)."""
    for level, count in enumerate(rows[:-1]):
        if count > tail_rows * _LEVEL_FANOUT**level:
            return level
    return None


def _in_use(rows: tuple[int, ...]) -> tuple[int, ...]:
    """The lookup levels a lookup reads: the tail and every level holding rows."""
    return tuple(level for level, count in enumerate(rows) if count or not level)


def _near_ns(rows: int, oldest: int | None, newest: int | None) -> int:
    """How far apart two traces may start and still share a scan."""
    if not rows or oldest is None or newest is None or newest <= oldest:
        return 0
    return (newest - oldest) * _ROW_GROUP_ROWS // (rows * _SHARE_FRACTION)


def _near_in_time(ranges: list[sql.TraceRange], near_ns: int) -> list[list[sql.TraceRange]]:
    """Ranges sorted by first flush, then first start, grouped where they are in the same or
    the next flush and the gaps in time are short. Flushes that overlap in time each get a
    scan of their own: one scan of all of them read every row group (12 flushes of 200k spans
    in the same minute, 20 traces: ~400 ms, bench/store_overlap.py)."""
    groups: list[list[sql.TraceRange]] = []
    end = last_flush = 0
    for trace in ranges:
        if groups and trace.first - end <= near_ns and trace.first_flush <= last_flush + 1:
            groups[-1].append(trace)
            end = max(end, trace.last)
            last_flush = max(last_flush, trace.last_flush)
        else:
            groups.append([trace])
            end, last_flush = trace.last, trace.last_flush
    return groups


# The sorted lookup levels are kept in memory (40 bytes a row since v10's flush columns) up to
# this many rows, ~160 MB: ~45M spans at the generator's ~12 spans per trace (10M spans: 869k
# rows, ~35 MB, loaded in 45-100 ms CPU by the first many-id read after a merge). A lookup of
# many ids in SQL evaluates its IN list against every row of the levels (20 ids at 10M spans:
# ~12 ms CPU, a quarter of a search's get_traces); a binary search in memory takes
# microseconds. Bigger stores look up in SQL.
_CACHED_LOOKUP_ROWS = 4_000_000


_Range = lookup_tail.Range

_Extent = tuple[int, int | None, int | None]
"""The spans table's rows, oldest and newest start."""

_Resources = tuple[pa.Array, pa.ChunkedArray, pa.ChunkedArray]
"""The resources table's ids, attribute lists and type codes."""


class _UntilChanged(Generic[T]):
    """A value read from the database, kept until ``changed()``: a change bumps the
    generation, and a load started before a change is not kept."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._value: T | None = None

    def changed(self) -> None:
        with self._lock:
            self._generation += 1
            self._value = None

    def get(self, load: Callable[[], T], *, fresh: bool = False) -> T:
        with self._lock:
            cached, generation = self._value, self._generation
        if cached is not None and not fresh:
            return cached
        loaded = load()
        with self._lock:
            if generation == self._generation:
                self._value = loaded
        return loaded


def _ranges_by_prefix(rows: list[tuple[Any, ...]]) -> dict[int, _Range]:
    """``sql.trace_ranges``' rows as prefix -> range."""
    return {prefix: (first, last, lo, hi) for prefix, first, last, lo, hi in rows}


@dataclasses.dataclass(frozen=True, slots=True)
class _SortedLevels:
    """The sorted lookup levels' rows (schema ``_V7``, ``_V10``) as arrays sorted by prefix,
    as of one level generation (a merge changes the generation; retention drops the copy)."""

    generation: int
    ranges: lookup_tail.SortedRanges

    @classmethod
    def load(
        cls, cur: duckdb.DuckDBPyConnection, generation: int, levels: list[int]
    ) -> _SortedLevels:
        parts = [cur.sql(sql.sorted_level_rows(level)).to_arrow_table() for level in levels]
        if not parts:
            return cls(generation, lookup_tail.SortedRanges.empty())
        # The levels keep whole microseconds (widened outwards): ns here, as the tail's.
        ranges = lookup_tail.SortedRanges.of(pa.concat_tables(parts), start_unit_ns=1000)
        return cls(generation, ranges)

    def merge_into(self, found: dict[int, _Range], prefixes: list[int]) -> None:
        """Widen ``found`` (prefix -> first, last start in ns, first, last flush) by these
        levels' rows."""
        self.ranges.merge_into(found, prefixes)


class _Read(Generic[T]):
    """One read on a cursor of its own, which another thread may interrupt."""

    def __init__(
        self, conn: duckdb.DuckDBPyConnection, work: Callable[[duckdb.DuckDBPyConnection], T]
    ) -> None:
        self._conn = conn
        self._work = work
        self._lock = threading.Lock()
        self._cursor: duckdb.DuckDBPyConnection | None = None
        self._stopped = False

    def run(self) -> T:
        cur = self._conn.cursor()
        try:
            with self._lock:
                if self._stopped:
                    raise duckdb.InterruptException("stopped before it started")
                self._cursor = cur
            return self._work(cur)
        finally:
            with self._lock:
                self._cursor = None
            cur.close()

    def interrupt(self) -> None:
        with self._lock:
            self._stopped = True
            if self._cursor is not None:
                self._cursor.interrupt()


DEFAULT_QUERY_TIMEOUT_S = 30.0
# DuckDB's buffer pool (``memory_limit``; its default is 80% of RAM). It keeps every block it
# wrote cached until the limit: 200 MB after 4M ingested spans, growing with the store, so
# a long ingest grew the server without bound. Evicted blocks are re-read through the page
# cache; larger operators spill to the temp directory. 256 MiB cost no ingest rate
# (bench/README.md, Ingest, 3 Dec evening). None: DuckDB's default.
DEFAULT_MEMORY_LIMIT = "256MiB"
DEFAULT_QUERY_THREADS = 4


class DuckDBStore:
    """The embedded store in the database file ``path`` (created or migrated on open)."""

    capabilities = Capabilities()

    def __init__(
        self,
        path: Path,
        *,
        metrics: SelfMetrics | None = None,
        threads: int | None = None,
        sort_order: str = "service_trace",
        trace_index: bool = False,
        checkpoint_threshold: str = "64MiB",
        dependency_counts: bool = True,
        dependency_refresh_share: float = dependencies.MAX_REFRESH_SHARE,
        lookup_tail_rows: int = _TAIL_ROWS,
        quiet_s: float = _QUIET_S,
        wal_age_s: float = _WAL_AGE_S,
        query_timeout_s: float = DEFAULT_QUERY_TIMEOUT_S,
        query_threads: int = DEFAULT_QUERY_THREADS,
        red_levels: tuple[RedLevel, ...] = RED_LEVELS,
        ingest_behind: Callable[[], bool] | None = None,
        memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
        graph_slice_spans: int = sql.SERVICE_GRAPH_SLICE_SPANS,
    ) -> None:
        # Benchmark knobs, defaults the measured best: sort_order orders each flushed batch on
        # disk (_SORT_KEYS); trace_index adds an ART index on TraceId; checkpoint_threshold
        # is explained below; dependency_counts=False keeps no per-minute call counts (every
        # dependencies call joins the spans of its window); lookup_tail_rows bounds the trace
        # lookup's tail (tests use a few rows to exercise every level); quiet_s and wal_age_s
        # say when compact() checkpoints a quiet store (_QUIET_S); graph_slice_spans: the
        # service graph's slices (``sql.SERVICE_GRAPH_ROWS``; tests cut a few spans' slices).
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._metrics = metrics
        # DuckDB's own WAL holds each committed flush uncompressed (~340 bytes/span) until a
        # checkpoint compresses it into the file. At the default 16 MiB nearly every ~45k-span
        # flush checkpointed, recompressing the table's last, partly filled row group each
        # time; 64 MiB cut write CPU by ~15% and the file by ~10% at no measurable memory
        # cost (bench/README.md, Store). Durability is unchanged: a commit is in the WAL.
        # A flush of _LARGE_FLUSH rows or more is written with the default threshold: DuckDB
        # then skips its WAL and writes the rows compressed at commit, which measured cheaper
        # than a WAL copy for such batches.
        self._thresholds = (checkpoint_threshold, _DEFAULT_CHECKPOINT_THRESHOLD)
        self._threshold = checkpoint_threshold
        config: dict[str, Any] = {"checkpoint_threshold": checkpoint_threshold}
        if threads is not None:
            config["threads"] = threads
        if memory_limit:
            config["memory_limit"] = memory_limit
        self._memory_limit = memory_limit
        self._graph_slice_spans = graph_slice_spans
        self._conn = duckdb.connect(str(self.path), config=config)
        self._ingest_behind = ingest_behind
        # fetchall: a result left unfinished on the connection keeps its transaction open,
        # and DuckDB then skips checkpoints.
        pool = self._conn.execute("SELECT current_setting('threads')").fetchall()
        self._parallelism = Parallelism(int(pool[0][0]))
        self._threads = StoreThreads(
            "duckdb",
            readers=query_threads,
            timeout_s=query_timeout_s,
            ingest_behind=ingest_behind,
        )
        self._write_lock = threading.Lock()
        self._red = RedLevels(self._write_lock, red_levels)
        # Compaction and retention of the lookup levels (they delete the same rows); taken
        # after the write lock when both are held. Rows per level as last counted, plus the
        # rows flushes appended to the tail since (None: count them).
        self._ranges_lock = threading.Lock()
        self._level_rows: tuple[int, ...] | None = None
        self._tail_rows = lookup_tail_rows
        # Lookups read only the levels holding rows (``_levels``, the tail always), checked
        # like a seqlock: a merge makes the generation odd before it commits and even again
        # after updating ``_levels``; a lookup that saw it change reads every level.
        self._levels: tuple[int, ...] = sql.ALL_LEVELS
        self._level_generation = 0
        # The sorted levels in memory for lookups of many ids (``_SortedLevels``), as of a
        # generation; None: not loaded (or dropped by retention).
        self._sorted_lock = threading.Lock()
        self._sorted: _SortedLevels | None = None
        # The resources table, and the spans table's extent (every write or delete of spans
        # changes it), read once per change.
        self._resource_cache: _UntilChanged[_Resources] = _UntilChanged()
        self._extent: _UntilChanged[_Extent] = _UntilChanged()
        self._sort_keys = _SORT_KEYS[sort_order]
        self._dependencies = dependencies.Tracker(
            sql.DEPENDENCY_HORIZON_NS, max_share=dependency_refresh_share
        )
        self._dependency_counts = dependency_counts
        # The writers' copy of resource hash -> id (under the write lock; None: load it).
        self._resource_ids: _ResourceMap | None = None
        self._closed = False
        self._quiet_s, self._wal_age_s = quiet_s, wal_age_s
        self._last_write = time.monotonic()
        self._wal_since: float | None = None  # when compact() first saw the WAL hold data
        try:
            self._migrate()
        except BaseException:
            self._conn.close()
            self._threads.close()
            raise
        if trace_index:
            self._conn.execute("CREATE INDEX IF NOT EXISTS spans_trace_id ON spans (TraceId)")
        cur = self._conn.cursor()
        try:
            self._levels = _in_use(self._count_levels(cur))
            self._tail = lookup_tail.LookupTail(cur.sql(sql.TAIL_ROWS).to_arrow_table())
            self._flush: int = _meta_value(cur, schema.FLUSH_KEY)  # the last flush (schema _V10)
            # get_trace's macros (sql.trace_spans_macro) for the levels in use and for all of
            # them, made by this version's code whatever made the file.
            cur.begin()
            for levels in {self._levels, sql.ALL_LEVELS}:
                cur.execute(sql.trace_spans_macro(levels)[1])
            cur.execute(sql.TRACE_SPANS_AT)
            cur.commit()
        finally:
            cur.close()

    # --- life cycle -------------------------------------------------------------------------

    def _migrate(self) -> None:
        cur = self._conn.cursor()
        try:
            cur.execute(schema.META_DDL)
            version = _meta_value(cur, schema.SCHEMA_VERSION_KEY)
            if version > schema.SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self.path} has schema version {version}, newer than this "
                    f"breadcrumbs ({schema.SCHEMA_VERSION}); upgrade breadcrumbs"
                )
            for target in range(version + 1, schema.SCHEMA_VERSION + 1):
                cur.begin()
                for statement in schema.MIGRATIONS[target - 1]:
                    cur.execute(statement)
                cur.execute(
                    "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                    [schema.SCHEMA_VERSION_KEY, target],
                )
                cur.execute("INSERT OR IGNORE INTO meta VALUES (?, 0)", [schema.WAL_SEQUENCE_KEY])
                cur.commit()
                if version:  # a new file is simply created at the latest version
                    log.info("migrated %s to schema version %d", self.path, target)
            if not version:
                log.info("created %s at schema version %d", self.path, schema.SCHEMA_VERSION)
        finally:
            cur.close()

    async def maintain(self) -> None:
        """The background work of this engine, beside flushes: the trace lookup's merges
        (``compact``) and the dependency counts that writes left (``refresh_dependencies``:
        spans stored before an upgrade, late spans followed by quiet)."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._compact_lookup(), name="lookup-compaction")
            group.create_task(self._count_dependencies(), name="dependency-counts")
            group.create_task(self._keep_span_metrics(), name="span-metrics-compaction")

    async def _keep_span_metrics(self) -> None:
        expired_at = 0.0
        while True:
            try:
                await self.compact_span_metrics()
                if time.monotonic() - expired_at >= _RED_EXPIRE_EVERY_S:
                    await self.expire_span_metrics(time.time_ns())
                    expired_at = time.monotonic()
            except Exception:  # queries stay exact, only slower; do not flood the log
                log.exception("compacting RED aggregates failed; trying again in a minute")
                await asyncio.sleep(_COMPACT_RETRY_S)
                continue
            await asyncio.sleep(_RED_COMPACT_EVERY_S)

    async def _compact_lookup(self) -> None:
        while True:
            try:
                merged = await self.compact()
            except Exception:  # lookups stay exact, only slower; do not flood the log
                log.exception("compacting the trace lookup failed; trying again in a minute")
                await asyncio.sleep(_COMPACT_RETRY_S)
                continue
            await asyncio.sleep(0 if merged else _COMPACT_PAUSE_S)

    async def _count_dependencies(self) -> None:
        try:
            while True:
                counted = await self.refresh_dependencies()
                # Short pauses while catching up let flushes take the write lock between steps.
                await asyncio.sleep(_CATCH_UP_PAUSE_S if counted else _RECOUNT_PAUSE_S)
        except Exception:
            log.exception("counting dependencies failed (queries join the spans instead)")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        self._threads.close()
        with self._write_lock, self._ranges_lock:
            self._conn.execute("CHECKPOINT")
            self._conn.close()

    def _on_cursor(self, work: Callable[[duckdb.DuckDBPyConnection], T]) -> Callable[[], T]:
        def in_thread() -> T:
            cur = self._conn.cursor()
            try:
                return work(cur)
            finally:
                cur.close()

        return in_thread

    def _fitted(
        self, work: Callable[[duckdb.DuckDBPyConnection], T]
    ) -> Callable[[duckdb.DuckDBPyConnection], T]:
        """``work`` after DuckDB's pool is fitted to ingest's state (``parallelism``), asked
        here, on the event loop, where the pipeline's state may be read."""
        if self._ingest_behind is None:
            return work
        threads = self._parallelism.wanted(self._ingest_behind())

        def fitted(cur: duckdb.DuckDBPyConnection) -> T:
            self._parallelism.apply(cur, threads)
            return work(cur)

        return fitted

    async def _write_run(self, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        return await self._threads.write(self._on_cursor(self._fitted(work)))

    async def _upkeep_run(self, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        return await self._threads.upkeep(self._on_cursor(work))

    async def _read(self, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """A read: on a reader thread, interrupted past the timeout or when cancelled."""
        try:
            return await self._read_once(work)
        except duckdb.OutOfMemoryException:
            # DuckDB's memory limit is shared with the flush in flight, whose rows stay
            # pinned until it commits (seen under full ingest beside 4 searching clients).
            # Once it has, the read usually fits; if not, the client is told to come back.
            pass
        await self._threads.write(lambda: None)
        try:
            return await self._read_once(work)
        except duckdb.OutOfMemoryException:
            raise Unavailable(
                f"the store is short of memory while it writes (DuckDB's limit, "
                f"{self._memory_limit or 'its default'}); retry in a moment",
                retry_after_s=1,
            ) from None

    async def _read_once(self, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        read = _Read(self._conn, self._fitted(work))
        return await self._threads.read(read.run, read.interrupt)

    # --- write ------------------------------------------------------------------------------

    async def write(self, batch: SpanBatch, *, wal_sequence: int | None = None) -> None:
        if batch.num_rows == 0 and wal_sequence is None:
            return
        await self._write_run(lambda cur: self._write(cur, batch, wal_sequence))

    def _write(
        self, cur: duckdb.DuckDBPyConnection, batch: SpanBatch, wal_sequence: int | None
    ) -> None:
        # Per-span work runs in Arrow kernels or DuckDB (both release the GIL); Python only
        # handles per-batch objects. One transaction: spans, summaries and the WAL sequence
        # commit together or not at all.
        with self._write_lock:
            registered: list[str] = []

            def register(name: str, table: pa.Table) -> None:
                cur.register(name, table)
                registered.append(name)

            starts = batch.column("Timestamp")
            ranges = 0  # trace lookup rows appended
            try:
                hashes: pa.ChunkedArray | None = None
                new: list[int] = []
                if batch.num_rows:
                    register("resources_in", _resources_in(batch))
                    hashes = cur.sql(sql.RESOURCE_HASHES).to_arrow_table().column(0)
                    resources = self._resource_map(cur)
                    new = [h for h in pc.unique(hashes).to_pylist() if h not in resources.ids]
                threshold = self._thresholds[batch.num_rows >= _LARGE_FLUSH]
                if threshold != self._threshold:
                    cur.execute(f"SET checkpoint_threshold = '{threshold}'")
                    self._threshold = threshold
                cur.begin()
                try:
                    if hashes is not None:
                        if new:
                            cur.execute(sql.INSERT_RESOURCES, [new])
                            resources = _ResourceMap(cur.execute(sql.RESOURCE_IDS).fetchall())
                        flush = self._flush + 1
                        prepared = _prepare(batch, resources.lookup(hashes), self._sort_keys, flush)
                        register("spans_in", prepared.spans)
                        register("ranges_in", prepared.ranges)
                        register("operations_in", prepared.operations)
                        register("keys_in", prepared.keys)
                        cur.execute(sql.INSERT_SPANS, {"flush": flush})
                        cur.execute(sql.SET_META, [flush, schema.FLUSH_KEY])
                        cur.execute(sql.INSERT_TRACE_RANGES)
                        self._tail.add(prepared.ranges)  # before the commit (lookup_tail)
                        cur.execute(sql.UPSERT_OPERATIONS)
                        cur.execute(sql.UPSERT_ATTRIBUTE_KEYS)
                        ranges = prepared.ranges.num_rows
                        del prepared  # its sorted copy of the flush is released below
                    coverage = self._dependencies.on_write(cur, starts)
                    if wal_sequence is not None:
                        cur.execute(sql.SET_WAL_SEQUENCE, [wal_sequence, schema.WAL_SEQUENCE_KEY])
                    cur.commit()
                except BaseException:
                    cur.rollback()
                    raise
                if new:
                    self._resource_ids = resources
                    self._resource_cache.changed()
                if batch.num_rows:
                    self._extent.changed()
                if hashes is not None:
                    self._flush = flush
                    self._appended_to_tail(ranges)
                self._last_write = time.monotonic()
                self._dependencies.committed(coverage, starts)
            finally:
                for name in registered:
                    cur.unregister(name)
            # After the flush's Arrow copies are gone (~0.5 KB per span): the refresh's join
            # takes as much memory again, and both at once made the server's peak.
            if self._dependency_counts:
                self._refresh_dependencies(cur)

    async def refresh_dependencies(self) -> int:
        """Counts dependency units that have settled but are not counted yet (a bounded
        stretch per call); returns how many, 0 also when the last refresh was too recent for
        what it cost. Each write does this after its flush; the server also calls it between
        writes, so a store that receives nothing for a while (just upgraded to v5, idle, or
        quiet after a burst of late spans) ends up counted."""
        if not self._dependency_counts:
            return 0

        def work(cur: duckdb.DuckDBPyConnection) -> int:
            with self._write_lock:
                return self._refresh_counts(cur)

        return await self._upkeep_run(work)

    def _refresh_dependencies(self, cur: duckdb.DuckDBPyConnection) -> None:
        # The batch is committed: a failure here must not fail the write (the writer would
        # write the batch again); the next write's refresh retries.
        try:
            self._refresh_counts(cur)
        except Exception:
            log.exception("refreshing dependency counts failed; retrying after the next write")

    # --- lookup compaction ------------------------------------------------------------------

    def _appended_to_tail(self, rows: int) -> None:
        counted = self._level_rows
        if counted is not None:
            self._level_rows = (counted[0] + rows, *counted[1:])

    async def compact(self) -> bool:
        """One step of the store's upkeep: merges the trace lookup's lowest level that
        outgrew its capacity into the next (see schema), in one transaction, or else
        checkpoints a quiet store's WAL (see _QUIET_S). Returns whether it merged; callers
        repeat while it does. A merge takes no lock that writes or reads take: flushes go on
        meanwhile (they only append to the tail)."""
        counted = self._level_rows
        overflowing = counted is None or _overflowing(counted, self._tail_rows) is not None
        if overflowing and await self._upkeep_run(self._compact):
            return True
        if self._checkpoint_due():
            await self._upkeep_run(self._checkpoint)
        return False

    @property
    def wal_path(self) -> Path:
        return self.path.with_name(self.path.name + ".wal")

    def _checkpoint_due(self) -> bool:
        try:
            wal_bytes = self.wal_path.stat().st_size
        except FileNotFoundError:
            wal_bytes = 0
        now = time.monotonic()
        if wal_bytes == 0:
            self._wal_since = None
            return False
        if self._wal_since is None:
            self._wal_since = now
        return now - self._last_write >= self._quiet_s or (
            now - self._wal_since >= self._wal_age_s and wal_bytes < _QUIET_WAL_BYTES
        )

    def _checkpoint(self, cur: duckdb.DuckDBPyConnection) -> None:
        with self._write_lock, self._ranges_lock:
            try:
                cur.execute("CHECKPOINT")
            except duckdb.Error as error:  # e.g. a long read still running: next time
                log.debug("checkpoint put off: %s", error)
                return
        self._wal_since = None

    def _compact(self, cur: duckdb.DuckDBPyConnection) -> bool:
        began = time.perf_counter()
        merged = self._merge_step(cur)
        if merged and self._metrics is not None:
            self._metrics.lookup_merge_duration.observe(time.perf_counter() - began)
        return merged

    def _merge_step(self, cur: duckdb.DuckDBPyConnection) -> bool:
        with self._ranges_lock:
            cur.begin()
            try:
                counted = self._count_levels(cur)
                level = _overflowing(counted, self._tail_rows)
                moved = None  # the last flush whose tail rows this merge moves
                if level == 0:
                    ((moved,),) = cur.execute(sql.TAIL_LAST_FLUSH).fetchall()
                if level is not None:
                    for statement in sql.merge_level(level):
                        cur.execute(statement)
                    counted = self._count_levels(cur)
                    cur.execute(sql.trace_spans_macro(_in_use(counted))[1])
            except BaseException:
                cur.rollback()
                self._level_rows = None
                raise
            if level is None:
                cur.commit()
                self._level_rows = counted  # the next calls need no query until flushes add
                return False
            self._level_generation += 1  # odd: lookups read every level meanwhile
            try:
                cur.commit()
            except BaseException:
                self._level_rows = None
                self._levels = sql.ALL_LEVELS
                self._level_generation += 1
                raise
            if moved is not None:  # still odd: a lookup that read the tail meanwhile retries
                self._tail.drop_through(int(moved))
            self._level_rows = counted
            self._levels = _in_use(counted)
            self._level_generation += 1
            log.debug("merged trace lookup level %d into %d: rows %s", level, level + 1, counted)
            return True

    def _looked_up(self, lookup: Callable[[tuple[int, ...]], T]) -> T:
        """``lookup(levels)`` with the levels holding rows, or every level when a merge
        committed meanwhile (its answer may have missed the merged rows)."""
        generation = self._level_generation
        if generation % 2 == 0:
            answer = lookup(self._levels)
            if self._level_generation == generation:
                return answer
        return lookup(sql.ALL_LEVELS)

    @staticmethod
    def _count_levels(cur: duckdb.DuckDBPyConnection) -> tuple[int, ...]:
        ((*counts,),) = cur.execute(sql.LEVEL_ROWS).fetchall()
        return tuple(int(count) for count in counts)

    def _refresh_counts(self, cur: duckdb.DuckDBPyConnection) -> int:
        """A dependency refresh when its turn has come (under the write lock), then the
        uncounted gauge."""
        counted = self._dependencies.refresh_in_turn(cur)
        uncounted = self._dependencies.uncounted_ns
        if self._metrics is not None and uncounted is not None:
            self._metrics.dependencies_uncounted.set(uncounted / 1e9)
        return counted

    def _resource_map(self, cur: duckdb.DuckDBPyConnection) -> _ResourceMap:
        """The committed resources' hash -> id map (loaded on first use)."""
        if self._resource_ids is None:
            self._resource_ids = _ResourceMap(cur.execute(sql.RESOURCE_IDS).fetchall())
        return self._resource_ids

    async def last_wal_sequence(self) -> int:
        return await self._write_run(lambda cur: _meta_value(cur, schema.WAL_SEQUENCE_KEY))

    # --- read -------------------------------------------------------------------------------

    def _span_extent(self, cur: duckdb.DuckDBPyConnection) -> _Extent:
        """(rows, oldest start, newest start) of the spans table: from the table's statistics
        (~0.8 ms a statement, two per search) when spans changed since the last call."""

        def load() -> _Extent:
            ((rows, oldest, newest),) = cur.execute(sql.SPANS_EXTENT).fetchall()
            return int(rows), oldest, newest

        return self._extent.get(load)

    def _resources(self, cur: duckdb.DuckDBPyConnection, *, fresh: bool = False) -> _Resources:
        def load() -> _Resources:
            table: pa.Table = cur.sql(sql.RESOURCES).to_arrow_table()
            return table.column(0).combine_chunks(), table.column(1), table.column(2)

        return self._resource_cache.get(load, fresh=fresh)

    def _resources_with(self, cur: duckdb.DuckDBPyConnection, key: str, value: str) -> list[int]:
        """Ids of the resources having the attribute ``key`` = ``value``, from the cached
        resources table (a statement over the table cost ~1-1.7 ms of a search; this ~0.05)."""
        ids, attributes, _ = self._resources(cur)
        lists = attributes.combine_chunks()
        entries = lists.flatten()
        hits = pc.and_(pc.equal(entries.field("key"), key), pc.equal(entries.field("value"), value))
        rows = pc.unique(pc.list_parent_indices(lists).filter(hits))
        return [int(i) for i in ids.take(rows).to_pylist()]

    def _spans(
        self,
        cur: duckdb.DuckDBPyConnection,
        text: str,
        params: list[Any],
        *,
        in_start_order: bool = False,
    ) -> SpanBatch:
        """The rows of ``text`` (``sql.SPAN_COLUMNS``) as a span batch; ``in_start_order``
        (start, then span id) when asked and at most ``_SORTED_ROWS`` rows."""
        table: pa.Table = cur.sql(text, params=params).to_arrow_table()
        if in_start_order and 1 < table.num_rows <= _SORTED_ROWS:
            order = pc.sort_indices(
                table.select(["Timestamp", "SpanId"]),
                [("Timestamp", "ascending"), ("SpanId", "ascending")],
            )
            if not np.array_equal(order.to_numpy(), np.arange(len(order))):
                table = table.take(order)
        resource_ids = table.column("ResourceId")
        ids, attributes, types = self._resources(cur)
        rows = pc.index_in(resource_ids, value_set=ids)
        if rows.null_count:  # a resource newer than the cache (or a concurrent change)
            ids, attributes, types = self._resources(cur, fresh=True)
            rows = pc.index_in(resource_ids, value_set=ids)
        columns = {name: table.column(name) for name in table.column_names}
        columns["TraceId"] = _hex(table.column("TraceHi"), table.column("TraceLo"))
        columns["SpanId"] = _hex(table.column("SpanId"))
        parents = table.column("ParentSpanId")
        columns["ParentSpanId"] = (
            pc.if_else(pc.is_null(parents), "", _hex(parents))
            if parents.null_count
            else _hex(parents)
        )
        columns["ResourceAttributes"] = _entries_to_map(
            pc.fill_null(attributes.take(rows), pa.scalar([], ENTRIES_TYPE))
        )
        columns["ResourceAttributeTypes"] = pc.fill_null(types.take(rows), "")
        columns["SpanAttributes"] = _entries_to_map(table.column("SpanAttributes"))
        return pa.table([columns[name] for name in SPAN_SCHEMA.names], schema=SPAN_SCHEMA)

    def _traces(self, cur: duckdb.DuckDBPyConnection, trace_ids: list[str]) -> SpanBatch:
        # Each trace's time and flush range from the small lookup table, then its spans
        # within them (row groups outside are skipped by their statistics). One trace: both
        # in one statement. Several: ranges first, then scans shared by traces close in time.
        if len(trace_ids) == 1:
            known, one = self._one_range(cur, trace_ids[0])
            if known:
                if one is None:
                    return empty_batch()
                params = [sql.trace_id_param(trace_ids[0]), *one]
                return self._spans(cur, sql.SPANS_AT, params, in_start_order=True)
            return self._looked_up(
                lambda levels: self._spans(
                    cur, *sql.spans_of_trace(trace_ids[0], levels), in_start_order=True
                )
            )
        ranges: list[sql.TraceRange] = []
        for i in range(0, len(trace_ids), _IDS_PER_LOOKUP):
            chunk = trace_ids[i : i + _IDS_PER_LOOKUP]
            found = self._trace_ranges(cur, chunk)
            ranges.extend(
                sql.TraceRange(t, *found[int(t[:16], 16)])
                for t in chunk
                if int(t[:16], 16) in found
            )
        if not ranges:
            return empty_batch()
        rows, oldest, newest = self._span_extent(cur)
        near = _near_ns(rows, oldest, newest)
        # Oldest first, so each statement's traces are neighbours and share scans.
        ranges.sort(key=lambda r: (r.first_flush, r.first))
        parts = [
            self._spans(
                cur,
                *sql.spans_in_ranges(_near_in_time(ranges[i : i + _IDS_PER_STATEMENT], near)),
            )
            for i in range(0, len(ranges), _IDS_PER_STATEMENT)
        ]
        return pa.concat_tables(parts) if parts else empty_batch()

    def _one_range(
        self, cur: duckdb.DuckDBPyConnection, trace_id: str
    ) -> tuple[bool, _Range | None]:
        """(True, one trace's range or None when the lookup has none) from the sorted levels
        and the tail in memory (``lookup_tail``; a short statement on the tail when its copy
        was dropped), or (False, None) when the levels are not loaded or a merge committed
        meanwhile (the seqlock of ``_looked_up``). With the span scan as a statement of its
        own this took ~1.2 ms off a get-trace's ~9 against the lookup inside the scan's
        statement (``sql.trace_spans_macro``); the tail in memory ~1 ms more."""
        generation = self._level_generation
        cached = self._sorted_levels(cur, generation, self._levels)
        if cached is None:
            return False, None
        prefix = int(trace_id[:16], 16)
        found: dict[int, _Range] = {}
        cached.merge_into(found, [prefix])
        if not self._tail.merge_into(found, [prefix]):
            ((first, last, first_flush, last_flush),) = cur.execute(
                sql.TAIL_RANGE, [prefix]
            ).fetchall()
            if first is not None:
                tail = (int(first), int(last), int(first_flush), int(last_flush))
                old = found.get(prefix)
                found[prefix] = tail if old is None else lookup_tail.widened(old, tail)
        if self._level_generation != generation:
            return False, None
        return True, found.get(prefix)

    def _trace_ranges(
        self, cur: duckdb.DuckDBPyConnection, trace_ids: list[str]
    ) -> dict[int, _Range]:
        """Trace prefix -> its ``_Range`` for the ids whose prefix is known: the tail and
        the sorted levels from memory (``lookup_tail``, ``_SortedLevels``; the tail in SQL
        when its copy was dropped) while no merge commits meanwhile (the seqlock of
        ``_looked_up``); else every level in SQL."""
        generation = self._level_generation
        levels = self._levels
        cached = self._sorted_levels(cur, generation, levels)
        if cached is not None:
            prefixes = [int(t[:16], 16) for t in trace_ids]
            found: dict[int, _Range] = {}
            if not self._tail.merge_into(found, prefixes):
                text, values = sql.trace_ranges(trace_ids, (0,))
                found = _ranges_by_prefix(cur.execute(text, values).fetchall())
            cached.merge_into(found, prefixes)
            if self._level_generation == generation:
                return found

        def lookup(levels: tuple[int, ...]) -> list[tuple[Any, ...]]:
            return cur.execute(*sql.trace_ranges(trace_ids, levels)).fetchall()

        return _ranges_by_prefix(self._looked_up(lookup))

    def _sorted_levels(
        self, cur: duckdb.DuckDBPyConnection, generation: int, levels: tuple[int, ...]
    ) -> _SortedLevels | None:
        """The sorted levels as of ``generation`` (loaded when older or missing); None while
        a merge commits or when they hold more rows than memory is given for."""
        if generation % 2:
            return None
        with self._sorted_lock:
            cached = self._sorted
            if cached is not None and cached.generation == generation:
                return cached
            counted = self._level_rows
            sorted_rows = sum(counted[1:]) if counted is not None else None
            if sorted_rows is None or sorted_rows > _CACHED_LOOKUP_ROWS:
                return None
            loaded = _SortedLevels.load(cur, generation, [level for level in levels if level])
            if self._level_generation != generation:
                return None
            self._sorted = loaded
            return loaded

    async def get_trace(self, params: GetTraceParams) -> SpanBatch:
        # The lookup's range is exact, so the caller's time hints add nothing.
        return await self._read(lambda cur: self._traces(cur, [params.trace_id]))

    async def get_traces(self, params: GetTracesParams) -> SpanBatch:
        unique = list(dict.fromkeys(params.trace_ids))
        return await self._read(lambda cur: self._traces(cur, unique))

    async def find_trace_ids(self, query: TraceQuery) -> list[str]:
        if query.limit <= 0:
            return []

        def work(cur: duckdb.DuckDBPyConnection) -> list[str]:
            resource_ids: list[list[int]] = []
            for tag in query.tags:
                ids: list[int] = []
                if tag.scope != "span":
                    ids = self._resources_with(cur, tag.key, tag.value)
                    if tag.scope == "resource" and not ids:
                        return []
                resource_ids.append(ids)
            # Newest first: search the last 1/64 of the window, then 1/4, then all of it.
            # When a sub-window [end - w, end] already holds `limit` traces, they are the
            # answer: any other trace's newest matching span starts before end - w. Row
            # groups are in time order, so a short window reads few of them. The fractions
            # are of the part of the window that holds data (a 2-day default lookback over
            # an hour of spans would otherwise read most of the hour in its first step).
            _, oldest, newest = self._span_extent(cur)
            if oldest is None or newest is None:
                return []
            top = min(query.end_ns, newest)
            span = max(0, top - max(query.start_ns, oldest))
            found: list[str] = []
            for fraction in _SEARCH_FRACTIONS:
                start = (
                    query.start_ns if fraction == 1 else max(query.start_ns, top - span // fraction)
                )
                narrowed = dataclasses.replace(query, start_ns=start)
                text, values = sql.find_trace_ids(narrowed, resource_ids)
                found = [row[0] for row in cur.execute(text, values).fetchall()]
                if len(found) >= query.limit or start == query.start_ns:
                    break
            return found

        return await self._read(work)

    async def _column(self, text: str, params: list[Any] | None = None) -> list[Any]:
        return await self._read(
            lambda cur: [row[0] for row in cur.execute(text, params or []).fetchall()]
        )

    async def services(self, query: ServicesQuery) -> list[str]:
        return await self._column("SELECT DISTINCT ServiceName FROM operations ORDER BY 1")

    async def operations(self, query: OperationsQuery) -> list[Operation]:
        service, span_kind = query.service, query.span_kind
        text = "SELECT SpanName, SpanKind FROM operations WHERE ServiceName = ?"
        params: list[Any] = [service]
        if span_kind is not None:
            text += " AND SpanKind = ?"
            params.append(int(span_kind))
        rows = await self._read(lambda cur: cur.execute(text, params).fetchall())
        return sorted(Operation(name, SpanKind(kind)) for name, kind in rows)

    async def remote_services(self, query: RemoteServicesQuery) -> list[str]:
        service = query.service

        def work(cur: duckdb.DuckDBPyConnection) -> list[str]:
            _, _, newest = self._span_extent(cur)
            if newest is None:
                return []
            since = int(newest) - LISTING_WINDOW_NS
            return [row[0] for row in cur.execute(sql.REMOTE_SERVICES, [service, since]).fetchall()]

        return await self._read(work)

    async def dependencies(self, query: DependenciesQuery) -> list[DependencyLink]:
        end_ns, lookback_ns = query.end_ns, query.lookback_ns
        rows = await self._read(
            lambda cur: dependencies.links(cur, end_ns, lookback_ns, self._dependencies.horizon_ns)
        )
        # Weighted sums (estimates when spans were sampled); the APIs speak whole calls.
        return [DependencyLink(p, c, round(n), round(e)) for p, c, n, e in rows]

    async def tag_keys(self, query: TagKeysQuery) -> list[str]:
        # Every key in retained data (retention drops keys last seen before its cutoff).
        return await self._column(sql.TAG_KEYS)

    async def tag_values(self, query: TagValuesQuery) -> list[str]:
        key = query.key
        return await self._column(sql.TAG_VALUES, [key, sql.RECENT_WINDOW_NS])

    def bytes_on_disk(self) -> int:
        total = 0
        for file in (self.path, self.path.with_name(self.path.name + ".wal")):
            with contextlib.suppress(FileNotFoundError):
                total += file.stat().st_size
        return total

    async def stats(self) -> StoreStats:
        row = await self._read(lambda cur: cur.execute(sql.STATS).fetchone())
        spans, oldest, newest = row if row else (0, None, None)
        result = StoreStats(
            spans=int(spans),
            bytes_on_disk=self.bytes_on_disk(),
            oldest_ns=None if oldest is None else int(oldest),
            newest_ns=None if newest is None else int(newest),
        )
        if self._metrics is not None:
            self._metrics.store_spans.set(result.spans)
            self._metrics.store_bytes.set(result.bytes_on_disk)
        return result

    # --- retention --------------------------------------------------------------------------

    async def delete_before(self, cutoff_ns: int) -> int:
        # Counted by the caller (pipeline.retention), which knows why spans go.
        return await self._upkeep_run(lambda cur: self._delete_before(cur, cutoff_ns))

    def _delete_before(self, cur: duckdb.DuckDBPyConnection, cutoff_ns: int) -> int:
        # Dependency counts first, so no count outlives its spans.
        with self._write_lock:
            cur.begin()
            try:
                coverage = self._dependencies.on_retention(cur, cutoff_ns)
                cur.commit()
            except BaseException:
                cur.rollback()
                raise
            self._dependencies.adopt(coverage)
        # The big delete runs outside the write lock: appends and deletes of other rows do
        # not conflict in DuckDB, so ingest goes on meanwhile.
        row = cur.execute(sql.DELETE_SPANS, [cutoff_ns]).fetchone()
        deleted = int(row[0]) if row else 0
        self._extent.changed()
        with self._ranges_lock:
            cur.begin()
            try:
                for statement in sql.DELETE_TRACE_RANGES:
                    cur.execute(statement, [cutoff_ns])
                cur.commit()
            except BaseException:
                cur.rollback()
                raise
            finally:
                self._level_rows = None
                self._sorted = None
        with self._write_lock:
            cur.begin()
            try:
                cur.execute(sql.DELETE_OPERATIONS, [cutoff_ns])
                cur.execute(sql.DELETE_ATTRIBUTE_KEYS, [cutoff_ns])
                cur.execute(sql.DELETE_RESOURCES)
                cur.commit()
                self._resource_ids = None
                self._resource_cache.changed()
            except BaseException:
                cur.rollback()
                raise
        return deleted

    # --- analysis reads ---------------------------------------------------------------------

    async def trace_ids_with_prefix(self, query: TraceIdPrefix) -> list[str]:
        prefix = query.prefix
        if query.limit <= 0 or not prefix:
            return []
        low, high = int(prefix.ljust(32, "0"), 16), int(prefix.ljust(32, "f"), 16)

        def work(cur: duckdb.DuckDBPyConnection) -> list[str]:
            # The lookup knows each 64-bit prefix's time range; the spans in that range
            # give the full ids.
            def lookup(levels: tuple[int, ...]) -> list[tuple[Any, ...]]:
                return cur.execute(
                    *sql.prefix_ranges(low >> 64, high >> 64, query.limit, levels)
                ).fetchall()

            ranges = self._looked_up(lookup)
            if not ranges:
                return []
            first, last = min(r[1] for r in ranges), max(r[2] for r in ranges)
            rows = cur.execute(
                sql.TRACE_IDS_BETWEEN, [low, high, first, last, query.limit]
            ).fetchall()
            return [row[0] for row in rows]

        return await self._read(work)

    # --- many traces (analysis) -------------------------------------------------------------

    async def selection_counts(self, selection: TraceSelection) -> SelectionCounts:
        return await self._read(lambda cur: _selection_counts(cur, selection))

    async def latency_distribution(self, query: LatencyQuery) -> LatencyDistribution:
        return await self._read(lambda cur: _latency_distribution(cur, query))

    async def typical_traces(self, query: TypicalTraceQuery) -> list[str]:
        text, params = analysis_sql.typical_traces(query.endpoint, query.limit + len(query.exclude))
        found = await self._column(text, params)
        return [t for t in found if t not in query.exclude][: query.limit]

    # --- trace doctor reads (base.DoctorWindow; the SQL is in doctor_sql) --------------------

    async def _table(self, statement: tuple[str, list[Any]]) -> pa.Table:
        text, params = statement
        return await self._read(lambda cur: cur.sql(text, params=params).to_arrow_table())

    async def operation_profile(self, window: DoctorWindow) -> pa.Table:
        return await self._table(doctor_sql.operation_profile(window))

    async def parent_profile(self, window: DoctorWindow) -> pa.Table:
        return await self._table(doctor_sql.parent_profile(window))

    async def call_profile(self, window: DoctorWindow) -> pa.Table:
        return await self._table(doctor_sql.call_profile(window))

    async def root_profile(self, window: DoctorWindow) -> pa.Table:
        return await self._table(doctor_sql.root_profile(window))

    async def attribute_profile(self, window: DoctorWindow) -> pa.Table:
        return await self._table(doctor_sql.attribute_profile(window))

    # --- RED metrics and the service graph (issue 10) ---------------------------------------

    async def write_span_metrics(self, rows: pa.Table, *, wal_sequence: int) -> None:
        # The span writer's lock (inside): both update ``meta``.
        await self._write_run(lambda cur: self._red.write(cur, rows, wal_sequence))

    async def span_metrics_wal_sequence(self) -> int:
        return await self._write_run(lambda cur: _meta_value(cur, schema.SPAN_METRICS_SEQUENCE_KEY))

    async def compact_span_metrics(self) -> int:
        """Merge the RED rows of one key written since the last pass (``red_levels``);
        returns how many rows went. Queries are exact either way."""
        return await self._upkeep_run(self._red.compact)

    async def expire_span_metrics(self, now_ns: int) -> int:
        """Drop each RED level's rows older than its retention (``base.RED_LEVELS``)."""
        return await self._upkeep_run(lambda cur: self._red.expire(cur, now_ns))

    async def span_metrics_rows(self) -> dict[int, int]:
        """RED rows kept per level's resolution (ns)."""
        return await self._read(self._red.rows)

    async def red(self, query: RedQuery) -> pa.Table:
        return await self._read(lambda cur: self._red.query(cur, query))

    async def service_graph(self, query: ServiceGraphQuery) -> list[ServiceGraphEdge]:
        window = (query.start_ns, query.end_ns)
        horizon = self._dependencies.horizon_ns
        settled = query.peers_ended_before_ns

        def edges(cur: duckdb.DuckDBPyConnection) -> list[Any]:
            cur.execute("BEGIN TRANSACTION")  # one snapshot for every slice
            try:
                ((spans,),) = cur.execute(sql.SPANS_BETWEEN, list(window)).fetchall()
                cur.execute(sql.SERVICE_GRAPH_ROWS)
                for piece in sql.service_graph_pieces(window, spans, self._graph_slice_spans):
                    cur.execute(*sql.service_graph_slice(window, piece, horizon, settled))
                return cur.execute(*sql.service_graph(query.bounds_ns)).fetchall()
            finally:
                cur.execute("ROLLBACK")  # the temporary table goes with it

        return [ServiceGraphEdge.from_row(row) for row in await self._read(edges)]


def _selection_counts(cur: duckdb.DuckDBPyConnection, selection: TraceSelection) -> SelectionCounts:
    cur.execute(*analysis_sql.endpoint_traces(selection.endpoint))
    threshold: int | None = None
    condition_params: list[Any]
    if selection.errors:
        condition, condition_params = analysis_sql.FAILED, []
    else:
        if selection.percentile is not None:
            row = cur.execute(analysis_sql.PERCENTILE, [selection.percentile / 100]).fetchone()
            threshold = None if row is None or row[0] is None else int(row[0])
        else:
            threshold = selection.slower_than_ns
        upper = None if selection.percentile is not None else selection.faster_than_ns
        if threshold is None and upper is None:  # no traces (or no criterion): all baseline
            condition, condition_params = "false", []
        else:
            condition, condition_params = analysis_sql.band(threshold, upper)
    if selection.endpoint.operation is None:
        cur.execute(analysis_sql.same_anchors(condition), condition_params * 3)
    ((selected, baseline, first, last),) = cur.execute(
        analysis_sql.sides(condition), condition_params * 2
    ).fetchall()
    if not selected + baseline:
        return SelectionCounts(threshold, 0, 0, 0, 0)
    cap = selection.max_traces_per_side
    rates = [sample_rate(selected, cap), sample_rate(baseline, cap)]
    cur.execute(analysis_sql.pick(condition), [*condition_params * 2, *rates])
    ((sampled_selected, sampled_baseline),) = cur.execute(analysis_sql.PICKED_SIDES).fetchall()
    window = [first - selection.slack_ns, last + selection.slack_ns]
    cur.execute(analysis_sql.PICKED_SPANS, window)
    operations = tuple(
        OperationCount(*(row[:2]), *(int(n) for n in row[2:]))
        for row in cur.execute(analysis_sql.OPERATIONS).fetchall()
    )
    values_cap = selection.max_values_per_key
    cur.execute(analysis_sql.ATTRIBUTES, [*window, selection.ignored_keys])
    cur.execute(analysis_sql.KEYS)
    dropped = tuple(
        DroppedKey(scope, service, span, key, int(n))
        for scope, service, span, key, n in cur.execute(
            analysis_sql.DROPPED_KEYS, [values_cap, selection.unique_share]
        ).fetchall()
    )
    rows = cur.execute(
        analysis_sql.VALUES,
        [values_cap, selection.unique_share, max(sampled_baseline, 1), max(sampled_selected, 1)],
    ).fetchall()
    attributes = [attribute_count(*row) for row in rows]
    found = cur.execute(analysis_sql.examples(condition), [*condition_params, EXAMPLES]).fetchall()
    return SelectionCounts(
        threshold,
        int(selected),
        int(baseline),
        int(sampled_selected),
        int(sampled_baseline),
        tuple(attributes),
        operations,
        dropped,
        tuple(str(trace_id) for (trace_id,) in found),
    )


def _latency_distribution(
    cur: duckdb.DuckDBPyConnection, query: LatencyQuery
) -> LatencyDistribution:
    ((count, errors, first, last, low, high, quantiles),) = cur.execute(
        *analysis_sql.latency_extent(query.endpoint)
    ).fetchall()
    if not count:
        return LatencyDistribution(query.endpoint.start_ns, 0, 0, 0, None, None, {}, ())
    step = latency_step(int(first), int(last), query.time_buckets)
    cells = tuple(
        LatencyCell(int(s), int(b), int(n), int(e))
        for s, b, n, e in cur.execute(
            *analysis_sql.latency_cells(
                query.endpoint, int(first), step, query.buckets_per_doubling
            )
        ).fetchall()
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
