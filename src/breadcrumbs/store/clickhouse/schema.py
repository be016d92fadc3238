"""The ClickHouse layout (schema version 4), as DDL for one server or a cluster.

- ``spans``: one row per span, ordered by (10-minute bucket of the start, ServiceName,
  TraceId), so a time window reads only its buckets, a search by service (the Jaeger and
  Zipkin APIs always name one) only that service's granules of them, and one trace is one
  granule per service it crosses. (The Collector exporter's ``(ServiceName, SpanName, time)``
  order spreads a trace over every granule of its time: get-trace 80-250 ms; DESIGN.md.)
  v1 had no ServiceName in the key: a tagged search read every service's spans, 2.9x slower
  at equal get-trace (bench/README.md); ``migrations`` rewrites a v1 table. Ids are binary
  (``FixedString(16)`` and ``UInt64``), times ``Int64`` ns with delta codecs, names
  ``LowCardinality``, attributes ``Map`` with bloom-filter skip indexes on their keys and
  values so a tag search skips granules without the tag. A span's resource is a
  ``ResourceHash`` (v3; ``RESOURCE_HASH``); ``ResourceAttributes`` and
  ``ResourceAttributeTypes`` are ALIAS columns looking it up in ``resources_dict``, so every
  read names them as before. v3's codecs, measured on 300k generated spans (bench/README.md):
  Timestamp ``Delta`` (in this order a trace's starts are close, not evenly spaced:
  ``DoubleDelta`` 5.4 B/span, ``Delta`` 4.2), SpanAttributes ``ZSTD(6)`` (9.9 -> 7.7).
  1024-row granules (8192 read ~2x slower per get-trace on chDB). Daily partitions; with a
  retention, a TTL drops whole expired days (``ttl_only_drop_parts``) even where no
  breadcrumbs process runs the retention loop, which deletes to the exact cutoff
  (``Store.delete_before``).
  v4 (``CODECS_V4``, 1M spans, the whole database incl. RED 44.5 -> 40.4 B/span):
  SpanAttributes ``ZSTD(9)`` (7.6 -> 6.8), Timestamp and ResourceHash ``ZSTD(9)`` (-0.4),
  ParentSpanId and SpanName ``ZSTD(3)`` (-0.2), the RED columns ``ZSTD(9)`` (``red.COLUMNS``,
  4.0 -> 1.4), trace_ranges' Services ``ZSTD(9)`` (-0.4) and starts ``T64`` (-0.4: in
  TraceId order they are random within the hour, where ``DoubleDelta`` gains nothing), in
  256-row granules (a lookup of 20 traces reads 256 rows per part, not 8192: 28 -> 13 ms on
  chDB, +0.4 B/span).
- ``resources``: each resource's attributes once, by ``ResourceHash`` (they repeat for every
  span of a process: 10 of v2's 50 bytes per span, bench/README.md). Writers insert the
  resources they have not seen and reload ``resources_dict`` (a hashed dictionary over the
  table, its lifetime a backstop for other writers) before the spans that name them.
- ``trace_ranges``: TraceId -> first and last start and its services, kept by a materialized
  view as spans arrive (merged in the background): get-trace reads it first, then only that
  range of those services' keys (v3: one granule per service instead of the whole bucket's).
- ``operations``: (ServiceName, SpanName, SpanKind) -> newest start, kept by a materialized
  view; services and operations read this small table.
- ``wal_sequence``: per writing node (its WAL), the WAL sequences written with its batches
  (see ``Store.write``); several ingest nodes share one database, each replays its own WAL.
- ``span_metrics`` (v3): the kept RED aggregates, every level in one AggregatingMergeTree
  keyed by (Resolution, Time, series, status), with each writer's WAL-sequence marker rows
  (``red.py``). Its rows are never fed by a materialized view: a flush is one insert of one
  part, atomic. No TTL (retention per level is ``Store.expire_span_metrics``).
- ``meta``: the schema version.

With a cluster name every statement runs ``ON CLUSTER``: the tables are
``Replicated*MergeTree`` (``_local`` suffix) and ``Distributed`` tables of the plain names
sit over them, sharded by TraceId so a trace and its range live on one shard.
"""

# S608: only checked identifiers (database, cluster) are formatted into the DDL.
# ruff: noqa: S608

from __future__ import annotations

from typing import Final

from breadcrumbs.store.clickhouse import red

SCHEMA_VERSION: Final = 4
RESOURCES_VERSION: Final = 3  # the version whose migration moved resources to their table
BUCKET_NS: Final = 600 * 10**9  # the spans table's first sort key: 10-minute buckets

_SPANS_COLUMNS: Final = """
    Timestamp Int64 CODEC(Delta, ZSTD(9)),
    TraceId FixedString(16) CODEC(ZSTD(1)),
    SpanId UInt64 CODEC(ZSTD(1)),
    ParentSpanId UInt64 CODEC(ZSTD(3)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(3)),
    SpanKind Int8 CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceHash UInt64 CODEC(ZSTD(9)),
    ResourceAttributes Map(String, String)
        ALIAS dictGet({dictionary}, 'ResourceAttributes', ResourceHash),
    ResourceAttributeTypes String
        ALIAS dictGet({dictionary}, 'ResourceAttributeTypes', ResourceHash),
    ScopeName LowCardinality(String) CODEC(ZSTD(1)),
    ScopeVersion LowCardinality(String) CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(9)),
    SpanAttributeTypes LowCardinality(String) CODEC(ZSTD(1)),
    Duration Int64 CODEC(T64, ZSTD(1)),
    StatusCode Int8 CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Array(Tuple(
        Timestamp Int64, Name String, Attributes Map(String, String), AttributeTypes String
    )) CODEC(ZSTD(1)),
    Links Array(Tuple(
        TraceId String, SpanId String, TraceState String,
        Attributes Map(String, String), AttributeTypes String
    )) CODEC(ZSTD(1)),
    INDEX attribute_keys mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX attribute_values mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX service ServiceName TYPE set(64) GRANULARITY 1,
    INDEX duration Duration TYPE minmax GRANULARITY 1
"""

_DAY: Final = "toDate(fromUnixTimestamp(intDiv(Timestamp, 1000000000)))"


def _ttl(ttl_s: int) -> str:
    if not ttl_s:
        return ""
    # A day's partition expires once its newest span is older than the retention.
    return f"\nTTL {_DAY} + INTERVAL {int(ttl_s) + 86400} SECOND DELETE"


def _engine(kind: str, cluster: str | None, table: str, args: str = "") -> str:
    if cluster is None:
        return f"{kind}MergeTree({args})"
    path = f"'/clickhouse/tables/{{shard}}/{{database}}/{table}', '{{replica}}'"
    return f"Replicated{kind}MergeTree({path}{', ' + args if args else ''})"


SPAN_TABLE_COLUMNS: Final = (
    "Timestamp", "TraceId", "SpanId", "ParentSpanId", "TraceState", "SpanName", "SpanKind",
    "ServiceName", "ResourceHash", "ScopeName", "ScopeVersion", "SpanAttributes",
    "SpanAttributeTypes", "Duration", "StatusCode", "StatusMessage", "Events", "Links",
)  # fmt: skip
"""The spans table's stored columns (its ALIAS columns are not among them)."""

SPANS_ORDER: Final = f"intDiv(Timestamp, {BUCKET_NS}), ServiceName, TraceId, SpanId"


RESOURCE_TEXT: Final = (
    "concat(arrayStringConcat(mapKeys(ResourceAttributes), '\\x1f'), '\\x1e', "
    "arrayStringConcat(mapValues(ResourceAttributes), '\\x1f'), '\\x1e', ResourceAttributeTypes)"
)
RESOURCE_HASH: Final = f"reinterpretAsUInt64(substring(MD5({RESOURCE_TEXT}), 1, 8))"
"""A resource's ``ResourceHash`` in SQL (the v3 migration); ``store.resource_hashes`` computes
the same in Arrow: the first 8 bytes of the MD5 of keys, values (each joined by 0x1f) and
types joined by 0x1e, read little-endian."""


def _dictionary(database: str) -> str:
    return f"'{database}.resources_dict'"


def _spans_body(database: str, cluster: str | None, table: str, ttl_s: int) -> str:
    columns = _SPANS_COLUMNS.replace("{dictionary}", _dictionary(database))
    return f"""({columns})
ENGINE = {_engine("", cluster, table)}
PARTITION BY {_DAY}
ORDER BY ({SPANS_ORDER}){_ttl(ttl_s)}
SETTINGS index_granularity = 1024{", ttl_only_drop_parts = 1" if ttl_s else ""}"""


def ddl(database: str, cluster: str | None = None, ttl_s: int = 0) -> list[str]:
    """Statements creating every table (idempotent). ``database`` and ``cluster`` are checked
    identifiers (``store.url``), the only names formatted into the text; ``ttl_s`` (0: keep
    forever) a retention in whole seconds."""
    if ttl_s < 0:
        raise ValueError("a retention is not negative")
    on = f" ON CLUSTER `{cluster}`" if cluster else ""
    local = "_local" if cluster else ""
    db = f"`{database}`"

    def table(name: str) -> str:
        return f"{db}.{name}{local}"

    statements = [
        f"CREATE DATABASE IF NOT EXISTS {db}{on}",
        *resource_ddl(database, cluster),
        f"CREATE TABLE IF NOT EXISTS {table('spans')}{on} "
        f"{_spans_body(database, cluster, 'spans', ttl_s)}",
        *trace_ranges_ddl(database, cluster),
        f"""CREATE TABLE IF NOT EXISTS {table("operations")}{on} (
    ServiceName LowCardinality(String),
    SpanName LowCardinality(String),
    SpanKind Int8,
    LastSeen SimpleAggregateFunction(max, Int64)
)
ENGINE = {_engine("Aggregating", cluster, "operations")}
ORDER BY (ServiceName, SpanName, SpanKind)""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {table("operations_mv")}{on}
TO {table("operations")} AS
SELECT ServiceName, SpanName, SpanKind, max(Timestamp) AS LastSeen
FROM {table("spans")} GROUP BY ServiceName, SpanName, SpanKind""",
        f"""CREATE TABLE IF NOT EXISTS {table("wal_sequence")}{on} (Node String, Sequence UInt64)
ENGINE = {_engine("", cluster, "wal_sequence")} ORDER BY Node""",
        span_metrics(database, cluster),
        f"""CREATE TABLE IF NOT EXISTS {table("meta")}{on} (Key String, Value Int64)
ENGINE = {_engine("Replacing", cluster, "meta", "Value")} ORDER BY Key""",
    ]
    if cluster:
        shard = {"spans": "cityHash64(TraceId)", "trace_ranges": "cityHash64(TraceId)"}
        for name in (
            "spans",
            "trace_ranges",
            "operations",
            "wal_sequence",
            "span_metrics",
            "meta",
            "resources",
        ):
            statements.append(
                f"CREATE TABLE IF NOT EXISTS {db}.{name}{on} AS {table(name)}\n"
                f"ENGINE = Distributed(`{cluster}`, {db}, {name}_local, "
                f"{shard.get(name, 'rand()')})"
            )
    return statements


def span_metrics(database: str, cluster: str | None = None) -> str:
    """The RED aggregates' table (v3). Not partitioned: one flush must be one part. With a
    cluster, the Distributed table over it reads every shard; writers insert into their
    server's local table (``ClickHouseStore.write_span_metrics``), so the shard key is
    never used (``rand()``). Deduplication of a retried insert is on (the last 1,000 blocks;
    replicated tables deduplicate by default)."""
    on = f" ON CLUSTER `{cluster}`" if cluster else ""
    local = "_local" if cluster else ""
    dedupe = "" if cluster else "\nSETTINGS non_replicated_deduplication_window = 1000"
    return f"""CREATE TABLE IF NOT EXISTS `{database}`.span_metrics{local}{on} ({red.COLUMNS})
ENGINE = {_engine("Aggregating", cluster, "span_metrics")}
ORDER BY ({red.ORDER}){dedupe}"""


def trace_ranges_ddl(database: str, cluster: str | None = None) -> list[str]:
    """``trace_ranges`` and the view keeping it (v3: with the trace's services, so get-trace's
    key condition names them and reads one granule per service, not every service's)."""
    on = f" ON CLUSTER `{cluster}`" if cluster else ""
    local = "_local" if cluster else ""
    db = f"`{database}`"
    return [
        f"""CREATE TABLE IF NOT EXISTS {db}.trace_ranges{local}{on} (
    TraceId FixedString(16) CODEC(ZSTD(1)),
    FirstStart SimpleAggregateFunction(min, Int64) CODEC(T64, ZSTD(1)),
    LastStart SimpleAggregateFunction(max, Int64) CODEC(T64, ZSTD(1)),
    Services SimpleAggregateFunction(groupUniqArrayArray, Array(String)) CODEC(ZSTD(9))
)
ENGINE = {_engine("Aggregating", cluster, "trace_ranges")}
PARTITION BY toDate(fromUnixTimestamp(intDiv(FirstStart, 1000000000)))
ORDER BY TraceId
SETTINGS index_granularity = 256""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.trace_ranges_mv{local}{on}
TO {db}.trace_ranges{local} AS
SELECT TraceId, min(Timestamp) AS FirstStart, max(Timestamp) AS LastStart,
       groupUniqArray(toString(ServiceName)) AS Services
FROM {db}.spans{local} GROUP BY TraceId""",
    ]


def resource_ddl(database: str, cluster: str | None = None) -> list[str]:
    """The ``resources`` table and its dictionary (before the spans table, whose ALIAS columns
    name the dictionary). On a cluster the dictionary on every node reads the Distributed
    ``resources`` table: resources are few, so every node holds them all."""
    on = f" ON CLUSTER `{cluster}`" if cluster else ""
    local = "_local" if cluster else ""
    db = f"`{database}`"
    columns = """
    ResourceHash UInt64,
    ResourceAttributes Map(String, String),
    ResourceAttributeTypes String"""
    return [
        f"""CREATE TABLE IF NOT EXISTS {db}.resources{local}{on} ({columns}
)
ENGINE = {_engine("Replacing", cluster, "resources")}
ORDER BY ResourceHash""",
        f"""CREATE DICTIONARY IF NOT EXISTS {db}.resources_dict{on} ({columns}
)
PRIMARY KEY ResourceHash
SOURCE(CLICKHOUSE(DB '{database}' TABLE 'resources'))
LAYOUT(HASHED())
LIFETIME(MIN 30 MAX 60)""",
    ]


def reload_resources(database: str, cluster: str | None = None) -> str:
    """Makes ``resources_dict`` see the rows just inserted into ``resources``."""
    on = f" ON CLUSTER `{cluster}`" if cluster else ""
    return f"SYSTEM RELOAD DICTIONARY `{database}`.resources_dict{on}"


CODECS_V4: Final = {
    "spans": (
        "Timestamp Int64 CODEC(Delta, ZSTD(9))",
        "ParentSpanId UInt64 CODEC(ZSTD(3))",
        "SpanName LowCardinality(String) CODEC(ZSTD(3))",
        "ResourceHash UInt64 CODEC(ZSTD(9))",
        "SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(9))",
    ),
    "span_metrics": tuple(
        column.strip().rstrip(",")
        for column in red.COLUMNS.strip().splitlines()
        if "ZSTD(9)" in column
    ),
}
"""The columns whose codecs v4 changed, as ``_SPANS_COLUMNS`` and ``red.COLUMNS`` declare them
(a test holds them equal)."""


def _codecs_v4(database: str, cluster: str | None) -> list[str]:
    on = f" ON CLUSTER `{cluster}`" if cluster else ""
    local = "_local" if cluster else ""
    return [
        f"ALTER TABLE `{database}`.{table}{local}{on} "
        + ", ".join(f"MODIFY COLUMN {column}" for column in columns)
        for table, columns in CODECS_V4.items()
    ]


def migrations(
    version: int, database: str, cluster: str | None = None, ttl_s: int = 0
) -> list[str]:
    """Statements taking a database from ``version`` to ``SCHEMA_VERSION``, run before
    ``ddl`` (which then recreates what they dropped, and creates new tables: v3's
    ``span_metrics`` needs no statement here).

    v1 or v2 -> v3 (one copy; v2's own step, reordering v1's spans by service, is the same
    copy into the current order): the distinct resources of the spans go into ``resources``
    (hashed in SQL as the writers hash them in Arrow), the spans are copied into a table in
    the v3 layout naming their resource by hash, which takes the old one's name, and
    ``trace_ranges`` (now with each trace's services) is made again from them. The views
    feeding the lookup tables are dropped first (they follow their source table, not its
    name) and made again by ``ddl``; ``operations`` stays as it is (the same spans).
    v3 -> v4: the spans' new codecs (``CODECS_V4``) by ``ALTER ... MODIFY COLUMN`` (metadata:
    the parts already written keep theirs until merges rewrite them), and ``trace_ranges``
    (new codecs, 256-row granules) made again from the spans, as from v1 or v2.

    Every statement can run again after a run cut short."""
    if version >= SCHEMA_VERSION:
        return []
    on = f" ON CLUSTER `{cluster}`" if cluster else ""
    local = "_local" if cluster else ""
    db = f"`{database}`"
    if version >= RESOURCES_VERSION:
        return [
            f"DROP VIEW IF EXISTS {db}.trace_ranges_mv{local}{on}",
            *_codecs_v4(database, cluster),
            *_trace_ranges_again(database, cluster),
        ]
    spans, moved, old = (f"{db}.{name}{local}" for name in ("spans", "spans_v3", "spans_old"))
    resources = f"{db}.resources{local}"
    copied = ", ".join(name for name in SPAN_TABLE_COLUMNS if name != "ResourceHash")
    return [
        f"DROP TABLE IF EXISTS {old}{on}",  # left by a run cut short after its rename
        f"DROP VIEW IF EXISTS {db}.trace_ranges_mv{local}{on}",
        f"DROP VIEW IF EXISTS {db}.operations_mv{local}{on}",
        *resource_ddl(database, cluster),
        f"""INSERT INTO {resources}
SELECT {RESOURCE_HASH} AS h, any(ResourceAttributes), any(ResourceAttributeTypes)
FROM {spans} GROUP BY h""",
        reload_resources(database, cluster),
        f"CREATE TABLE IF NOT EXISTS {moved}{on} "
        f"{_spans_body(database, cluster, 'spans_v3', ttl_s)}",
        f"TRUNCATE TABLE {moved}{on}",  # left part-filled by a run cut short
        f"INSERT INTO {moved} ({copied}, ResourceHash) "
        f"SELECT {copied}, {RESOURCE_HASH} FROM {spans}",
        f"RENAME TABLE {spans} TO {old}, {moved} TO {spans}{on}",
        f"DROP TABLE {old}{on}",
        # trace_ranges gained Services: made again from the spans (its view comes with ddl).
        *_trace_ranges_again(database, cluster),
    ]


def _trace_ranges_again(database: str, cluster: str | None) -> list[str]:
    """``trace_ranges`` dropped and made again from the spans (its view is ``ddl``'s)."""
    on = f" ON CLUSTER `{cluster}`" if cluster else ""
    local = "_local" if cluster else ""
    db = f"`{database}`"
    return [
        *([f"DROP TABLE IF EXISTS {db}.trace_ranges{on}"] if cluster else []),
        f"DROP TABLE IF EXISTS {db}.trace_ranges{local}{on}",
        trace_ranges_ddl(database, cluster)[0],
        f"""INSERT INTO {db}.trace_ranges{local}
SELECT TraceId, min(Timestamp), max(Timestamp), groupUniqArray(toString(ServiceName))
FROM {db}.spans{local} GROUP BY TraceId""",
    ]
