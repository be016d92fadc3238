"""The DuckDB file's tables and their migrations.

Physical layout (chosen by measurement, see ``bench/README.md``):

- ``spans``: ids as integers (``TraceId`` UHUGEINT, ``SpanId``/``ParentSpanId`` UBIGINT, a root's
  parent NULL); each flushed batch is inserted sorted by (``ServiceName``, ``TraceId``): a
  search by service reads only that service's segments (3-5x faster than trace order), and a
  trace's spans of one service sit together (RLE on TraceId). No ART index: it cost more
  bytes than the rest of a span and blocked ingest for seconds during retention deletes.
- attributes as lists of (key, value) structs (see ``_ENTRIES``).
- ``resources``: resource attributes deduplicated (they repeat for every span of a process);
  a span keeps a small ``ResourceId``. ``ResourceHash`` finds an existing row on insert.
- ``operations``: (service, span name, kind) with the newest start seen, so ``services`` and
  ``operations`` read a tiny table and retention can drop entries exactly.
- ``trace_ranges`` and ``trace_ranges_1`` .. ``trace_ranges_5``: each trace
  prefix's first and last span start, as LSM-style levels (see ``_V2``, ``_V3``, ``_V6``).
  ``trace_ranges`` is the tail: one row per trace prefix per flushed batch, appended in time
  order, so each of its row groups covers the whole prefix space. Compaction
  (``DuckDBStore.compact``, driven by the server between flushes) merges a level that outgrew
  its capacity into the next one, one transaction per merge, as one row per prefix sorted by
  prefix: a level's row groups cover narrow prefix ranges and zone maps prune a lookup to
  about one row group per level. Capacities grow geometrically (``store._TAIL_ROWS`` x
  ``store._LEVEL_FANOUT`` per level), so a row is rewritten O(log n) times; the last level
  has no bound. A prefix may have rows in several levels: the lookup takes min/max over all
  of them. A merge replaces the next level's table (``CREATE OR REPLACE``) and empties its
  source; retention deletes from every level. Sorted levels keep the range in whole
  microseconds, widened outwards (first start rounded down, the length rounded up), as a
  start and a length: in prefix order the starts are random, and a length needs about half
  the bits of a second start (``_V7``); a wider range only lets the span scan read a
  microsecond more. Table macros ``trace_spans_<levels>``
  (``sql.trace_spans_macro``, not a migration: made on open and by merges) and
  ``trace_spans_at`` (``sql.TRACE_SPANS_AT``, made on open) hold get-trace.
- ``attribute_keys``: span attribute keys and when last seen (see ``_V4``).
- ``dependency_edges``: service-to-service call counts per 15 s (see ``_V5``).
- ``span_metrics_1m``, ``_5m``, ``_1h``: RED aggregates per level, series, status and time
  bucket, with latency histograms (see ``_V9`` and ``red.py``).
- ``meta``: ``schema_version``, the WAL sequence committed with the last batch and the one
  committed with the last span-metric aggregates.
"""

from __future__ import annotations

from typing import Final

from breadcrumbs.analysis.red import LEVELS_NS
from breadcrumbs.store.duckdb import red

SCHEMA_VERSION_KEY: Final = "schema_version"
WAL_SEQUENCE_KEY: Final = "wal_sequence"
SPAN_METRICS_SEQUENCE_KEY: Final = "span_metrics_wal_sequence"

META_DDL: Final = "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value BIGINT NOT NULL)"

# Span and resource attributes are stored as a list of (key, value) structs, not a MAP: the
# same physical layout, but DuckDB validates every MAP it stores (unique keys), which made
# inserts 3-4x slower. Event and link attributes (rare) stay MAPs.
_ENTRIES: Final = "STRUCT(key VARCHAR, value VARCHAR)[]"
_ATTRS: Final = "MAP(VARCHAR, VARCHAR)"

_V1: Final[tuple[str, ...]] = (
    f"""
    CREATE TABLE resources (
        ResourceId INTEGER PRIMARY KEY,
        ResourceHash UBIGINT NOT NULL,
        ResourceAttributes {_ENTRIES} NOT NULL,
        ResourceAttributeTypes VARCHAR NOT NULL
    )
    """,
    """
    CREATE TABLE operations (
        ServiceName VARCHAR NOT NULL,
        SpanName VARCHAR NOT NULL,
        SpanKind TINYINT NOT NULL,
        LastSeen BIGINT NOT NULL,
        PRIMARY KEY (ServiceName, SpanName, SpanKind)
    )
    """,
    f"""
    CREATE TABLE spans (
        Timestamp BIGINT NOT NULL,
        TraceId UHUGEINT NOT NULL,
        SpanId UBIGINT NOT NULL,
        ParentSpanId UBIGINT,
        TraceState VARCHAR NOT NULL,
        SpanName VARCHAR NOT NULL,
        SpanKind TINYINT NOT NULL,
        ServiceName VARCHAR NOT NULL,
        ResourceId INTEGER NOT NULL,
        ScopeName VARCHAR NOT NULL,
        ScopeVersion VARCHAR NOT NULL,
        SpanAttributes {_ENTRIES} NOT NULL,
        SpanAttributeTypes VARCHAR NOT NULL,
        Duration BIGINT NOT NULL,
        StatusCode TINYINT NOT NULL,
        StatusMessage VARCHAR NOT NULL,
        Events STRUCT(
            Timestamp BIGINT, Name VARCHAR, Attributes {_ATTRS}, AttributeTypes VARCHAR
        )[] NOT NULL,
        Links STRUCT(
            TraceId VARCHAR, SpanId VARCHAR, TraceState VARCHAR,
            Attributes {_ATTRS}, AttributeTypes VARCHAR
        )[] NOT NULL
    )
    """,
)

# v2: trace-id -> time-range lookup. Each batch is time-ordered relative to the others, so a
# trace's time range lets the span scan skip every row group but one or two (zone maps); the
# lookup rows are ~1/10 of the spans and, sorted by TraceId per batch, prune by segment.
_V2: Final[tuple[str, ...]] = (
    """
    CREATE TABLE trace_ranges (
        TraceId UHUGEINT NOT NULL,
        FirstStart BIGINT NOT NULL,
        LastStart BIGINT NOT NULL
    )
    """,
    """
    INSERT INTO trace_ranges
    SELECT TraceId, min(Timestamp), max(Timestamp) FROM spans GROUP BY TraceId ORDER BY TraceId
    """,
)

# v3: the lookup keyed by the trace id's high 64 bits (half the key bytes; a shared prefix
# only widens the time range, the span scan still matches the whole id).
_V3: Final[tuple[str, ...]] = (
    "DROP TABLE trace_ranges",
    """
    CREATE TABLE trace_ranges (
        TracePrefix UBIGINT NOT NULL,
        FirstStart BIGINT NOT NULL,
        LastStart BIGINT NOT NULL
    )
    """,
    """
    INSERT INTO trace_ranges
    SELECT (TraceId >> 64)::UBIGINT AS p, min(Timestamp), max(Timestamp)
    FROM spans GROUP BY p ORDER BY p
    """,
)

# v4: span attribute keys with the newest start they were seen at (Zipkin autocomplete reads
# this tiny table instead of unnesting every span's attributes).
_V4: Final[tuple[str, ...]] = (
    "CREATE TABLE attribute_keys (Key VARCHAR PRIMARY KEY, LastSeen BIGINT NOT NULL)",
    """
    INSERT INTO attribute_keys
    SELECT k, max(Timestamp) FROM (
        SELECT unnest(list_transform(SpanAttributes, lambda a: a.key)) AS k, Timestamp
        FROM spans
    ) GROUP BY k
    """,
)

# v5: service-to-service call counts per unit of time (see dependencies.py). Filled by the store's
# refresh from the data already there, so the migration only creates the table.
_V5: Final[tuple[str, ...]] = (
    """
    CREATE TABLE IF NOT EXISTS dependency_edges (
        Peer BOOLEAN NOT NULL,
        Lo BIGINT NOT NULL,
        Hi BIGINT NOT NULL,
        Parent VARCHAR NOT NULL,
        Child VARCHAR NOT NULL,
        Calls BIGINT NOT NULL,
        Errors BIGINT NOT NULL
    )
    """,
)

RANGE_LEVELS: Final = 5
"""Sorted levels of the trace lookup after the tail, the tables ``_V6`` creates (their
capacities are in ``store``)."""

RANGE_COLUMNS: Final = (
    "TracePrefix UBIGINT NOT NULL, FirstStart BIGINT NOT NULL, LastStart BIGINT NOT NULL"
)


def range_table(level: int) -> str:
    """The table of lookup level ``level`` (0: the unsorted tail)."""
    return f"trace_ranges_{level}" if level else "trace_ranges"


# v6: sorted levels of the trace lookup (see the module docstring). The v5 table stays as the
# tail; the store's first compactions sort its rows into the levels.
_V6: Final[tuple[str, ...]] = tuple(
    f"CREATE TABLE {range_table(level)} ({RANGE_COLUMNS})" for level in (1, 2, 3, 4, 5)
)


def _in_microseconds(table: str) -> str:
    """A v6 sorted level rewritten as v7 keeps it (see ``_V7``)."""
    return f"""
    CREATE OR REPLACE TABLE {table} AS
    SELECT TracePrefix, FirstStart // 1000 AS FirstStartUs,
           (LastStart + 999) // 1000 - FirstStart // 1000 AS LengthUs
    FROM {table} ORDER BY TracePrefix
    """  # noqa: S608  # table names come from range_table, never from input


# v7: sorted levels as (first start, length) in microseconds, widened outwards (~0.37 bytes
# per span less at 10M spans; bench/README.md, trace-by-id). The tail keeps nanoseconds.
_V7: Final[tuple[str, ...]] = tuple(
    _in_microseconds(range_table(level)) for level in (1, 2, 3, 4, 5)
)

# v8: RED aggregates kept as spans arrive (``analysis.red``: calls, errors and duration sum
# per minute, service, operation, kind and log latency bucket; rows of one key merge by
# addition, through the primary key's ON CONFLICT). A few hundred rows per series per hour, so
# RED over a day never reads spans. Spans stored before v8 are not counted (the counts start
# with the pipeline stage); the WAL sequence committed with them is in ``meta``.
_V8: Final[tuple[str, ...]] = (
    """
    CREATE TABLE IF NOT EXISTS span_metrics (
        Minute BIGINT NOT NULL,
        ServiceName VARCHAR NOT NULL,
        SpanName VARCHAR NOT NULL,
        SpanKind TINYINT NOT NULL,
        Bucket SMALLINT NOT NULL,
        Calls BIGINT NOT NULL,
        Errors BIGINT NOT NULL,
        DurationSum BIGINT NOT NULL,
        PRIMARY KEY (Minute, ServiceName, SpanName, SpanKind, Bucket)
    )
    """,
    f"INSERT OR IGNORE INTO meta VALUES ('{SPAN_METRICS_SEQUENCE_KEY}', 0)",  # noqa: S608
)

# v9: RED aggregates compact (``store.duckdb.red``): one row per series, status and time
# bucket holding its latency histogram as lists, at three levels (1 min, 5 min, 1 h), counts
# weighted by the spans' adjusted counts (DOUBLE). v8 held a row per latency bucket: about
# one row per span at ordinary traffic, slower to read than the spans. Its rows move over
# (with status Unset). Dependency counts weighted too (DOUBLE).
_V9: Final[tuple[str, ...]] = (
    *red.CREATE,
    *(red.from_v8(level) for level in LEVELS_NS),
    "DROP TABLE span_metrics",
    "ALTER TABLE dependency_edges ALTER Calls TYPE DOUBLE",
    "ALTER TABLE dependency_edges ALTER Errors TYPE DOUBLE",
)

FLUSH_KEY: Final = "flush"
"""``meta`` key of the number of the last flush (see ``_V10``)."""

# v10: each span carries the number of the flush that wrote it (constant per flush: no bytes
# to speak of), and the trace lookup each trace's flush range beside its time range (sorted
# levels: first flush and count, like the microseconds). Zone maps on the flush number prune a
# get-trace to the row groups of its flushes when flushes overlap in time: at high rates every
# flush covers the same seconds (exporters send spans seconds after they start), and in the
# peers benchmark the same minute, where the time range pruned nothing (bench/README.md).
# Rows from before v10 are flush 0 on both sides, so their ranges still cover them.
_V10: Final[tuple[str, ...]] = (
    "ALTER TABLE spans ADD COLUMN IF NOT EXISTS Flush BIGINT DEFAULT 0",
    f"ALTER TABLE {range_table(0)} ADD COLUMN IF NOT EXISTS FirstFlush BIGINT DEFAULT 0",
    f"ALTER TABLE {range_table(0)} ADD COLUMN IF NOT EXISTS LastFlush BIGINT DEFAULT 0",
    *(
        f"ALTER TABLE {range_table(level)} ADD COLUMN IF NOT EXISTS {column} BIGINT DEFAULT 0"
        for level in (1, 2, 3, 4, 5)
        for column in ("FirstFlush", "FlushLength")
    ),
    f"INSERT OR IGNORE INTO meta VALUES ('{FLUSH_KEY}', 0)",  # noqa: S608
)

SORTED_RANGE_COLUMNS: Final = (
    "TracePrefix UBIGINT NOT NULL, FirstStartUs BIGINT NOT NULL, LengthUs BIGINT NOT NULL, "
    "FirstFlush BIGINT, FlushLength BIGINT"
)
"""A sorted lookup level's columns as of v10 (a merge recreates the level it emptied)."""

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    _V1,
    _V2,
    _V3,
    _V4,
    _V5,
    _V6,
    _V7,
    _V8,
    _V9,
    _V10,
)
"""``MIGRATIONS[i]`` takes the file from version ``i`` to ``i + 1``; append, never edit."""

SCHEMA_VERSION: Final = len(MIGRATIONS)
