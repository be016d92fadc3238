"""The ClickHouse layout (schema version 8), as DDL for one server or a cluster.

- ``spans``: one row per span, ordered by (10-minute bucket of the start, ServiceName,
  TraceId), so a time window reads only its buckets, a search by service (the Jaeger and
  Zipkin APIs always name one) only that service's granules of them, and one trace is one
  granule per service it crosses. (The Collector exporter's ``(ServiceName, SpanName, time)``
  order spreads a trace over every granule of its time: get-trace 80-250 ms; DESIGN.md.)
  v1 had no ServiceName in the key: a tagged search read every service's spans, 2.9x slower
  at equal get-trace (bench/README.md); ``migrations`` rewrites a v1 table. Ids are binary
  (``FixedString(16)`` and ``UInt64``), times ``Int64`` ns, names
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
  v4 (1M spans, the whole database incl. RED 44.5 -> 40.4 B/span):
  SpanAttributes ``ZSTD(9)`` (7.6 -> 6.8), Timestamp and ResourceHash ``ZSTD(9)`` (-0.4),
  ParentSpanId and SpanName ``ZSTD(3)`` (-0.2), the RED columns ``ZSTD(9)`` (``red.COLUMNS``,
  4.0 -> 1.4), trace_ranges' Services ``ZSTD(9)`` (-0.4) and starts ``T64`` (-0.4: in
  TraceId order they are random within the hour, where ``DoubleDelta`` gains nothing), in
  256-row granules (a lookup of 20 traces reads 256 rows per part, not 8192: 28 -> 13 ms on
  chDB, +0.4 B/span).
  v5: a span's Events and Links are each one ``String`` (``EventsText``, ``LinksText``: JSON,
  '' when empty), written through ``EPHEMERAL`` columns (``EventsIn``, ``LinksIn``:
  ClickHouse packs them) and read in SQL through ALIAS columns of the old names and types, so
  every SQL read names them as before; get-trace reads the JSON itself and decodes the few
  non-empty ones in Python (``store.unpacked``): most of what Events and Links cost a
  get-trace was ClickHouse's conversion of them to Arrow. 15 column streams become 2, and the
  mostly empty ones take the sparse serialization (as arrays: 265 KB per 1.1M spans, packed:
  242 KB). Same process, interleaved, 1.1M spans (bench/README.md, 4 Dec): get-trace and a
  search's 20 traces ~10% faster than v4's arrays, of which reading the JSON a few %.
  v6: the spans' compressed blocks at least 16 KiB, not ClickHouse's 64 KiB
  (``SPANS_MIN_COMPRESS_BLOCK``): a trace's few rows in a granule made every column's read
  decompress ~64 KiB. Same process, 1.1M spans (bench/README.md, 4 Dec): get-trace -12..-22%
  p50, a search's 20 traces -25%, +0.3 B/span (8 KiB: a little faster, +0.6 B/span; 512- or
  256-row granules without it: no gain). v5 databases change the setting by ``ALTER``
  (parts already written keep their blocks until merges rewrite them).
  v8: Timestamp ``ZSTD(9)`` without ``Delta``: in this order a row's neighbours are mostly
  other traces' spans, so the deltas are as random as the values (1M spans: 3.99 -> 3.59
  B/span, the database 40.6 -> 40.2; no measurable write cost). Higher levels on the parent
  ids and the small columns took it to 40.0 for +10% write CPU, not taken (bench/README.md).
- ``resources``: each resource's attributes once, by ``ResourceHash`` (they repeat for every
  span of a process: 10 of v2's 50 bytes per span, bench/README.md). Writers insert the
  resources they have not seen and reload ``resources_dict`` (a hashed dictionary over the
  table, its lifetime a backstop for other writers) before the spans that name them.
- ``trace_ranges``: TraceId -> first and last start and its services, kept by a materialized
  view as spans arrive (merged in the background): get-trace reads it first, then only that
  range of those services' keys (v3: one granule per service instead of the whole bucket's).
- ``operations``: (ServiceName, SpanName, SpanKind) -> newest start, kept by a materialized
  view; services and operations read this small table.
- ``event_keys`` (v5): every attribute key of a stored event, kept by a materialized view; a
  tag search leaves out the events branch of its OR when no event has the tag's key
  (``sql.tag_lookup``).
- ``wal_sequence``: per writing node (its WAL), the WAL sequences written with its batches
  (see ``Store.write``); several ingest nodes share one database, each replays its own WAL.
- ``span_metrics`` (v3): the kept RED aggregates, every level in one AggregatingMergeTree
  keyed by (Resolution, Time, series, status), with each writer's WAL-sequence marker rows
  (``red.py``). Its rows are never fed by a materialized view: a flush is one insert of one
  part, atomic. No TTL (retention per level is ``Store.expire_span_metrics``).
- ``dependency_edges`` (v7): kept dependency counts, per 15 s unit of the calls' anchors,
  each unit's rows under the stamp of the spans they were counted from
  (``sql.dependency_stamps``) with a marker row (``Parent`` and ``Child`` ''), inserted
  together (one block: with a cluster, sharded by unit, so one part on one shard). Filled by
  the engine's background work (``ClickHouseStore.refresh_dependencies``); a query uses a
  unit's rows only while their stamp is still the unit's.
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

SCHEMA_VERSION: Final = 8
RESOURCES_VERSION: Final = 3  # the version whose migration moved resources to their table
BUCKET_NS: Final = 600 * 10**9  # the spans table's first sort key: 10-minute buckets
SPANS_MIN_COMPRESS_BLOCK: Final = 16384  # v6: bytes; smaller blocks, smaller point reads

_SPANS_COLUMNS: Final = """
    Timestamp Int64 CODEC(ZSTD(9)),
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
    EventsIn {events} EPHEMERAL,
    LinksIn {links} EPHEMERAL,
    EventsText String DEFAULT if(empty(EventsIn), '', toJSONString(EventsIn)) CODEC(ZSTD(1)),
    LinksText String DEFAULT if(empty(LinksIn), '', toJSONString(LinksIn)) CODEC(ZSTD(1)),
    Events {events} ALIAS JSONExtract(if(EventsText = '', '[]', EventsText), '{events}'),
    Links {links} ALIAS JSONExtract(if(LinksText = '', '[]', LinksText), '{links}'),
    INDEX attribute_keys mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX attribute_values mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX service ServiceName TYPE set(64) GRANULARITY 1,
    INDEX duration Duration TYPE minmax GRANULARITY 1
"""

EVENTS_TYPE: Final = (
    "Array(Tuple(Timestamp Int64, Name String, Attributes Map(String, String), "
    "AttributeTypes String))"
)
LINKS_TYPE: Final = (
    "Array(Tuple(TraceId String, SpanId String, TraceState String, "
    "Attributes Map(String, String), AttributeTypes String))"
)

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
    "SpanAttributeTypes", "Duration", "StatusCode", "StatusMessage", "EventsText", "LinksText",
)  # fmt: skip
"""The spans table's stored columns (its ALIAS columns are not among them). Writers insert
``EventsIn`` and ``LinksIn`` (``EPHEMERAL``: ClickHouse packs them) instead of
``PACKED_COLUMNS``."""
PACKED_COLUMNS: Final = ("EventsText", "LinksText")

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
    columns = (
        _SPANS_COLUMNS.replace("{dictionary}", _dictionary(database))
        .replace("{events}", EVENTS_TYPE)
        .replace("{links}", LINKS_TYPE)
    )
    return f"""({columns})
ENGINE = {_engine("", cluster, table)}
PARTITION BY {_DAY}
ORDER BY ({SPANS_ORDER}){_ttl(ttl_s)}
SETTINGS index_granularity = 1024, min_compress_block_size = {SPANS_MIN_COMPRESS_BLOCK}{
        ", ttl_only_drop_parts = 1" if ttl_s else ""
    }"""


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
        *event_keys_ddl(database, cluster),
        f"""CREATE TABLE IF NOT EXISTS {table("wal_sequence")}{on} (Node String, Sequence UInt64)
ENGINE = {_engine("", cluster, "wal_sequence")} ORDER BY Node""",
        span_metrics(database, cluster),
        f"""CREATE TABLE IF NOT EXISTS {table("meta")}{on} (Key String, Value Int64)
ENGINE = {_engine("Replacing", cluster, "meta", "Value")} ORDER BY Key""",
        dependency_edges_ddl(database, cluster),
    ]
    if cluster:
        shard = {
            "spans": "cityHash64(TraceId)",
            "trace_ranges": "cityHash64(TraceId)",
            "dependency_edges": "intHash64(Unit)",  # a unit's rows and marker: one shard
        }
        for name in (
            "spans",
            "trace_ranges",
            "operations",
            "event_keys",
            "wal_sequence",
            "span_metrics",
            "meta",
            "resources",
            "dependency_edges",
        ):
            statements.append(
                f"CREATE TABLE IF NOT EXISTS {db}.{name}{on} AS {table(name)}\n"
                f"ENGINE = Distributed(`{cluster}`, {db}, {name}_local, "
                f"{shard.get(name, 'rand()')})"
            )
    return statements


def dependency_edges_ddl(database: str, cluster: str | None = None) -> str:
    """The kept dependency counts' table (v7; see the module docstring). Replacing: writers
    counting one unit under one stamp write the same rows, which merges fold (reads count
    each once in any case, ``sql.dependencies_kept``)."""
    on = f" ON CLUSTER `{cluster}`" if cluster else ""
    local = "_local" if cluster else ""
    return f"""CREATE TABLE IF NOT EXISTS `{database}`.dependency_edges{local}{on} (
    Unit Int64,
    Stamp UInt64,
    Parent String,
    Child String,
    Calls Float64,
    Errors Float64
)
ENGINE = {_engine("Replacing", cluster, "dependency_edges")}
ORDER BY (Unit, Stamp, Parent, Child)"""


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


EVENT_KEYS: Final = (
    "arrayJoin(arrayDistinct(arrayFlatten(arrayMap(e -> mapKeys(e.Attributes), Events))))"
)
"""The distinct attribute keys of a span's events, one row each (``event_keys``)."""


def event_keys_ddl(database: str, cluster: str | None = None) -> list[str]:
    """``event_keys`` (v5): every attribute key any stored event has had, kept by a
    materialized view from the spans with events. A tag search reads it first and leaves out
    the events branch of its condition when no event has the key (``sql.tag_lookup``). Keys
    are never removed: one whose events have expired costs a search that branch, no result."""
    on = f" ON CLUSTER `{cluster}`" if cluster else ""
    local = "_local" if cluster else ""
    db = f"`{database}`"
    return [
        f"""CREATE TABLE IF NOT EXISTS {db}.event_keys{local}{on} (
    Key String,
    LastSeen SimpleAggregateFunction(max, Int64)
)
ENGINE = {_engine("Aggregating", cluster, "event_keys")}
ORDER BY Key""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.event_keys_mv{local}{on}
TO {db}.event_keys{local} AS
SELECT {EVENT_KEYS} AS Key, max(Timestamp) AS LastSeen
FROM {db}.spans{local} WHERE EventsText != '' GROUP BY Key""",
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


SPAN_CODECS_V8: Final = tuple(
    column.strip().rstrip(",")
    for column in _SPANS_COLUMNS.strip().splitlines()
    if column.split()[0] == "Timestamp"
)
"""The spans columns whose codecs v8 changed, as ``_SPANS_COLUMNS`` declares them."""

RED_CODECS_V4: Final = tuple(
    column.strip().rstrip(",") for column in red.COLUMNS.strip().splitlines() if "ZSTD(9)" in column
)
"""The RED table's columns whose codecs v4 changed, as ``red.COLUMNS`` declares them."""


def migrations(
    version: int, database: str, cluster: str | None = None, ttl_s: int = 0
) -> list[str]:
    """Statements taking a database from ``version`` to ``SCHEMA_VERSION``, run before
    ``ddl`` (which then recreates what they dropped, and creates new tables: v3's
    ``span_metrics`` needs no statement here).

    Every version before v5's spans are copied into a table in the current layout, which takes
    the old one's name (v5 packs Events and Links, v4 changed codecs, v3 named resources by
    hash, v2 ordered by service: one copy does all of it). Before v3 the distinct resources
    of the spans go into ``resources`` first (hashed in SQL as the writers hash them in
    Arrow). Before v4 ``trace_ranges`` (v3: with each trace's services; v4: new codecs,
    256-row granules) is made again from the spans, and v3's RED table gets v4's codecs
    (``RED_CODECS_V4``). The views feeding the lookup tables are
    dropped first (they follow their source table, not its name) and made again by ``ddl``;
    ``operations`` stays as it is (the same spans), and so does v4's ``trace_ranges``. v5's
    spans need no copy for v6: its smaller compressed blocks are a setting, changed by
    ``ALTER`` (new parts and merges write them). v7 adds ``dependency_edges``, which ``ddl``
    creates (empty: the engine's background work fills it). v8's Timestamp codec
    (``SPAN_CODECS_V8``) comes by ``ALTER`` as v6's setting did, for v5-v7.

    Every statement can run again after a run cut short."""
    if version >= SCHEMA_VERSION:
        return []
    on = f" ON CLUSTER `{cluster}`" if cluster else ""
    local = "_local" if cluster else ""
    db = f"`{database}`"
    codecs = f"ALTER TABLE {db}.spans{local}{on} " + ", ".join(
        f"MODIFY COLUMN {column}" for column in SPAN_CODECS_V8
    )
    if version in (6, 7):
        return [codecs]
    if version == 5:
        return [
            f"ALTER TABLE {db}.spans{local}{on} "
            f"MODIFY SETTING min_compress_block_size = {SPANS_MIN_COMPRESS_BLOCK}",
            codecs,
        ]
    # The copy's name is the version's: a replicated table's path keeps the name it was made
    # with, so each migration's copy needs its own.
    new = f"spans_v{SCHEMA_VERSION}"
    spans, moved, old = (f"{db}.{name}{local}" for name in ("spans", new, "spans_old"))
    resources = f"{db}.resources{local}"
    copied = ", ".join(c for c in SPAN_TABLE_COLUMNS if c not in PACKED_COLUMNS)
    # A run cut short after its rename copies the new table again: its Events and Links
    # (ALIAS columns there) read as the old table's do.
    hashed = version < RESOURCES_VERSION
    return [
        f"DROP TABLE IF EXISTS {old}{on}",  # left by a run cut short after its rename
        # A Distributed table keeps the columns it was made with: ddl makes it again.
        *([f"DROP TABLE IF EXISTS {db}.spans{on}"] if cluster else []),
        f"DROP VIEW IF EXISTS {db}.trace_ranges_mv{local}{on}",
        f"DROP VIEW IF EXISTS {db}.operations_mv{local}{on}",
        f"DROP VIEW IF EXISTS {db}.event_keys_mv{local}{on}",
        *(
            [
                *resource_ddl(database, cluster),
                f"""INSERT INTO {resources}
SELECT {RESOURCE_HASH} AS h, any(ResourceAttributes), any(ResourceAttributeTypes)
FROM {spans} GROUP BY h""",
                reload_resources(database, cluster),
            ]
            if hashed
            else []
        ),
        f"CREATE TABLE IF NOT EXISTS {moved}{on} {_spans_body(database, cluster, new, ttl_s)}",
        f"TRUNCATE TABLE {moved}{on}",  # left part-filled by a run cut short
        f"INSERT INTO {moved} ({copied}, EventsIn, LinksIn) "
        f"SELECT {copied.replace('ResourceHash', RESOURCE_HASH) if hashed else copied}, "
        f"Events, Links FROM {spans}",
        f"RENAME TABLE {spans} TO {old}, {moved} TO {spans}{on}",
        f"DROP TABLE {old}{on}",
        # v5's event_keys, from the spans (its view comes with ddl).
        event_keys_ddl(database, cluster)[0],
        f"TRUNCATE TABLE {db}.event_keys{local}{on}",
        f"INSERT INTO {db}.event_keys{local} SELECT {EVENT_KEYS} AS Key, max(Timestamp) "
        f"FROM {spans} WHERE EventsText != '' GROUP BY Key",
        *(_trace_ranges_again(database, cluster) if version < 4 else []),
        # v3's RED table (v2 had none): v4's codecs, by ALTER (metadata: the parts already
        # written keep theirs until merges rewrite them).
        *(
            [
                f"ALTER TABLE {db}.span_metrics{local}{on} "
                + ", ".join(f"MODIFY COLUMN {column}" for column in RED_CODECS_V4)
            ]
            if version == RESOURCES_VERSION
            else []
        ),
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
