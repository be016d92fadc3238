"""SQL text for the DuckDB store. User values are always bound parameters, never formatted in."""

# S608: only this module's constant fragments are composed into statements; values are bound.
# ruff: noqa: S608

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, Final, NamedTuple

from breadcrumbs.store import base
from breadcrumbs.store.base import TagFilter, TraceQuery
from breadcrumbs.store.duckdb import schema

# --- write ---------------------------------------------------------------------------------
# The batch is prepared in Arrow (store._prepare: resource ids from a cached hash -> id map,
# TraceId as two 64-bit halves, rows sorted, per-operation/key/trace summaries) and registered
# as small tables on the writing cursor; each statement below is a plain append or upsert.

RESOURCE_HASH: Final = "hash(ResourceAttributes, ResourceAttributeTypes)"

# ``resources_in``: the batch's ResourceAttributes (as entries) and ResourceAttributeTypes.
RESOURCE_HASHES: Final = f"SELECT {RESOURCE_HASH} AS h FROM resources_in"

# New resources only (rare: a process started); ``?`` the hashes not yet in the table.
INSERT_RESOURCES: Final = f"""
INSERT INTO resources
SELECT (SELECT coalesce(max(ResourceId), 0) FROM resources) + row_number() OVER (),
       h, ResourceAttributes, ResourceAttributeTypes
FROM (
    SELECT {RESOURCE_HASH} AS h, ResourceAttributes, ResourceAttributeTypes FROM resources_in
    WHERE h IN (SELECT unnest(?::UBIGINT[]))
    QUALIFY row_number() OVER (PARTITION BY h) = 1
) AS n
"""

RESOURCE_IDS: Final = "SELECT ResourceHash, ResourceId FROM resources"

# ``spans_in`` is already in the on-disk order (DuckDB keeps insertion order), so no ORDER BY:
# sorting wide rows in DuckDB cost more than the rest of the insert.
INSERT_SPANS: Final = """
INSERT INTO spans
SELECT Timestamp,
       (TraceHi::UHUGEINT << 64) | TraceLo,
       ('0x' || SpanId)::UBIGINT,
       CASE WHEN ParentSpanId = '' THEN NULL ELSE ('0x' || ParentSpanId)::UBIGINT END,
       TraceState, SpanName, SpanKind, ServiceName, ResourceId,
       ScopeName, ScopeVersion, SpanAttributes, SpanAttributeTypes,
       Duration, StatusCode, StatusMessage, Events, Links, $flush
FROM spans_in
"""

# ``ranges_in``: (TracePrefix, FirstStart, LastStart, FirstFlush, LastFlush) per trace prefix.
INSERT_TRACE_RANGES: Final = "INSERT INTO trace_ranges SELECT * FROM ranges_in"

# ``operations_in`` / ``keys_in``: one row per operation / attribute key with its newest start.
UPSERT_OPERATIONS: Final = """
INSERT INTO operations SELECT * FROM operations_in
ON CONFLICT (ServiceName, SpanName, SpanKind)
DO UPDATE SET LastSeen = greatest(LastSeen, excluded.LastSeen)
"""

UPSERT_ATTRIBUTE_KEYS: Final = """
INSERT INTO attribute_keys SELECT * FROM keys_in
ON CONFLICT (Key) DO UPDATE SET LastSeen = greatest(LastSeen, excluded.LastSeen)
"""

SET_WAL_SEQUENCE: Final = "UPDATE meta SET value = greatest(value, ?) WHERE key = ?"
SET_META: Final = "UPDATE meta SET value = ? WHERE key = ?"
META_VALUE: Final = "SELECT value FROM meta WHERE key = ?"

# --- read -------------------------------------------------------------------------------------
# Columns as stored, in SPAN_SCHEMA order (TraceId as its two 64-bit halves); the store
# formats the ids as hex and sorts the rows in Arrow (``store._spans``): DuckDB's ORDER BY of
# a trace's wide rows cost ~1 ms of a ~9 ms get-trace at 2M spans and 1.25 s CPU of a 1M-span
# trace (bench/README.md). ResourceId stands for the two resource columns, joined in Arrow
# from a cached copy of the small resources table (a SQL join cost more than the rest of a
# get-trace).

SPAN_COLUMNS: Final = """
s.Timestamp AS Timestamp,
(s.TraceId >> 64)::UBIGINT AS TraceHi,
(s.TraceId & 18446744073709551615::UHUGEINT)::UBIGINT AS TraceLo,
s.SpanId AS SpanId,
s.ParentSpanId AS ParentSpanId,
s.TraceState AS TraceState,
s.SpanName AS SpanName,
s.SpanKind AS SpanKind,
s.ServiceName AS ServiceName,
s.ResourceId AS ResourceId,
s.ScopeName AS ScopeName,
s.ScopeVersion AS ScopeVersion,
s.SpanAttributes AS SpanAttributes,
s.SpanAttributeTypes AS SpanAttributeTypes,
s.Duration AS Duration,
s.StatusCode AS StatusCode,
s.StatusMessage AS StatusMessage,
s.Events AS Events,
s.Links AS Links
"""

SELECT_SPANS: Final = f"SELECT {SPAN_COLUMNS} FROM spans AS s"

RESOURCES: Final = (
    "SELECT ResourceId, ResourceAttributes, ResourceAttributeTypes FROM resources ORDER BY 1"
)


def trace_id_param(trace_id: str) -> int:
    return int(trace_id, 16)


_LEVELS: Final = tuple(schema.range_table(level) for level in range(schema.RANGE_LEVELS + 1))
ALL_LEVELS: Final = tuple(range(len(_LEVELS)))


# A sorted level's last start in nanoseconds (it keeps microseconds, see schema).
_SORTED_LAST_START: Final = "(FirstStartUs + LengthUs) * 1000"


def _range_columns(level: int) -> str:
    """A level's rows as (TracePrefix, FirstStart, LastStart, FirstFlush, LastFlush), times
    in nanoseconds (see schema)."""
    if level == 0:
        return "TracePrefix, FirstStart, LastStart, FirstFlush, LastFlush"
    return (
        f"TracePrefix, FirstStartUs * 1000 AS FirstStart, {_SORTED_LAST_START} AS LastStart, "
        "FirstFlush, FirstFlush + FlushLength AS LastFlush"
    )


def _every_level(levels: tuple[int, ...], condition: str) -> str:
    # One scan per level: a filter that zone maps prune to about one row group of a sorted
    # level (the tail is small). Each branch costs ~0.25 ms of planning even when empty, so
    # the store names only the levels holding rows.
    return "\nUNION ALL\n".join(
        f"SELECT {_range_columns(level)} FROM {_LEVELS[level]} WHERE {condition}"
        for level in levels
    )


def trace_ranges(trace_ids: list[str], levels: tuple[int, ...]) -> tuple[str, list[Any]]:
    """(trace prefix, first start, last start, first flush, last flush) of each trace whose
    prefix is known, looked up in ``levels`` (every level that may hold rows)."""
    # An IN list of constants is a scan filter that segment statistics prune; a join is not.
    prefixes = [int(t[:16], 16) for t in trace_ids]
    marks = ", ".join(f"${i + 1}::UBIGINT" for i in range(len(prefixes)))
    rows = _every_level(levels, f"TracePrefix IN ({marks})")
    text = (
        "SELECT TracePrefix, min(FirstStart), max(LastStart), min(FirstFlush), max(LastFlush)"
        f" FROM ({rows}) GROUP BY 1"
    )
    return text, prefixes


def sorted_level_rows(level: int) -> str:
    """A sorted level's rows as (prefix, first start, last start, first flush, last flush),
    times in microseconds."""
    return (
        "SELECT TracePrefix, FirstStartUs, FirstStartUs + LengthUs, FirstFlush, "
        f"FirstFlush + FlushLength FROM {_LEVELS[level]}"
    )


def trace_spans_macro(levels: tuple[int, ...]) -> tuple[str, str]:
    """Name and CREATE statement of the table macro of one trace's spans, its time range
    looked up in ``levels``.

    One trace in one statement: DuckDB pushes the looked-up range into the span scan as a
    dynamic filter (one row group read). A macro because the statement a get-trace sends is
    then short: the Python client parses and binds a statement's text more than once, and
    the full text cost ~2 ms of ~17 per get-trace at 10M spans (bench/README.md).
    """
    name = "trace_spans_" + "_".join(str(level) for level in levels)
    lookup = _every_level(levels, "TracePrefix = trace_prefix_arg")
    return (
        name,
        f"""
    CREATE OR REPLACE MACRO {name}(trace_prefix_arg, trace_id_arg) AS TABLE
    WITH r AS (
        SELECT min(FirstStart) AS lo, max(LastStart) AS hi,
               min(FirstFlush) AS first_flush, max(LastFlush) AS last_flush
        FROM ({lookup})
    )
    SELECT {SPAN_COLUMNS} FROM spans AS s, r
    WHERE s.TraceId = trace_id_arg AND s.Timestamp BETWEEN r.lo AND r.hi
      AND s.Flush BETWEEN r.first_flush AND r.last_flush
    """,
    )


def spans_of_trace(trace_id: str, levels: tuple[int, ...]) -> tuple[str, list[Any]]:
    """One trace's spans (in no particular order), through its macro (``trace_spans_macro``)."""
    name, _ = trace_spans_macro(levels)
    text = f"SELECT * FROM {name}($1::UBIGINT, $2::UHUGEINT)"
    return text, [int(trace_id[:16], 16), trace_id_param(trace_id)]


# One trace's spans within a known range: the store's get_trace when the trace's range comes
# from the lookup levels in memory and the tail (TAIL_RANGE). A macro for a short statement
# text, as trace_spans_macro.
TRACE_SPANS_AT: Final = f"""
CREATE OR REPLACE MACRO trace_spans_at(trace_id_arg, lo_arg, hi_arg, first_flush_arg,
                                       last_flush_arg) AS TABLE
SELECT {SPAN_COLUMNS} FROM spans AS s
WHERE s.TraceId = trace_id_arg AND s.Timestamp BETWEEN lo_arg AND hi_arg
  AND s.Flush BETWEEN first_flush_arg AND last_flush_arg
"""
SPANS_AT: Final = (
    "SELECT * FROM trace_spans_at($1::UHUGEINT, $2::BIGINT, $3::BIGINT, $4::BIGINT, $5::BIGINT)"
)

# The lookup's tail, as ``lookup_tail.LookupTail`` keeps it in memory (read once, at open),
# and the last flush whose rows a merge of the tail moves (read inside the merge).
TAIL_ROWS: Final = (
    "SELECT TracePrefix, FirstStart, LastStart, coalesce(FirstFlush, 0), coalesce(LastFlush, 0)"
    f" FROM {_LEVELS[0]}"
)
TAIL_LAST_FLUSH: Final = f"SELECT coalesce(max(LastFlush), 0) FROM {_LEVELS[0]}"

# One trace prefix's range in the lookup's tail, when its copy in memory was dropped.
TAIL_RANGE: Final = (
    "SELECT min(FirstStart), max(LastStart), min(FirstFlush), max(LastFlush)"
    f" FROM {_LEVELS[0]} WHERE TracePrefix = ?::UBIGINT"
)


class TraceRange(NamedTuple):
    """Where one trace's spans are: the starts and the flushes they lie between."""

    trace_id: str
    first: int
    last: int
    first_flush: int
    last_flush: int


def spans_in_ranges(groups: list[list[TraceRange]]) -> tuple[str, list[Any]]:
    """Spans of the given traces, each known to lie within its ``TraceRange``.

    ``groups``: traces whose ranges lie close together, one scan each. A lone trace is an
    equality-and-range scan, a pushed-down filter that skips the vectors without it (~4 ms at
    10M spans/hour). Several traces share one scan over the union of their ranges, which
    reads every row group in it (~10 ms each), so it pays only when they are close.
    """
    branches: list[str] = []
    params: list[Any] = []
    for group in groups:
        if len(group) == 1:
            ((trace_id, *bounds),) = group
            branches.append(f"{SELECT_SPANS} WHERE s.TraceId = ?::UHUGEINT AND {_IN_RANGE}")
            params.extend((trace_id_param(trace_id), *bounds))
        else:
            # A semi-join rather than an IN list: its build side becomes a filter applied
            # inside the scan (measured ~20% cheaper than IN's filter after the scan).
            rows = ", ".join("(?::UHUGEINT)" for _ in group)
            branches.append(
                f"{SELECT_SPANS} WHERE s.TraceId IN (SELECT id FROM (VALUES {rows}) AS w(id))"
                f" AND {_IN_RANGE}"
            )
            params.extend(trace_id_param(trace.trace_id) for trace in group)
            params.extend(
                (
                    min(trace.first for trace in group),
                    max(trace.last for trace in group),
                    min(trace.first_flush for trace in group),
                    max(trace.last_flush for trace in group),
                )
            )
    return "\nUNION ALL\n".join(branches), params


_IN_RANGE: Final = "s.Timestamp BETWEEN ? AND ? AND s.Flush BETWEEN ? AND ?"


# Answered from the table's statistics (~0.5-1 ms at 10M spans), not a scan.
SPANS_EXTENT: Final = "SELECT count(*), min(Timestamp), max(Timestamp) FROM spans"

# Attribute lists: a lambda over the entries measured ~2x faster than list_contains(struct).
_SPAN_TAG: Final = (
    "coalesce(list_bool_or(list_transform(s.SpanAttributes, lambda a: a.key = ? AND a.value = ?)),"
    " false)"
)
# Most spans have no events: the length test spares them the lambda.
_EVENT_TAG: Final = (
    "(len(s.Events) > 0 AND coalesce(list_bool_or(list_transform(s.Events, "
    "lambda e: map_extract_value(e.Attributes, ?) = ?)), false))"
)

# Resource scope is resolved first against the small resources table (in memory: the store's
# ``_resources_with``), so the span scan compares a small integer.


def _tag_condition(tag: TagFilter, resource_ids: list[int]) -> tuple[str, list[Any]]:
    pair = [tag.key, tag.value]
    if tag.scope == "span":
        return _SPAN_TAG, pair
    resource = "list_contains(?::INTEGER[], s.ResourceId)"
    if tag.scope == "resource":
        return resource, [resource_ids]
    # DuckDB evaluates OR terms left to right on the rows still undecided: cheapest first.
    return f"({resource} OR {_SPAN_TAG} OR {_EVENT_TAG})", [resource_ids, *pair, *pair]


def find_trace_ids(query: TraceQuery, resource_ids: list[list[int]]) -> tuple[str, list[Any]]:
    """Every condition holds on one span; traces ordered by their newest matching span.

    ``resource_ids[i]``: the resources matching ``query.tags[i]`` (the store's ``_resources_with``).
    """
    where = ["s.Timestamp >= ?", "s.Timestamp <= ?"]
    params: list[Any] = [query.start_ns, query.end_ns]
    if query.service is not None:
        where.append("s.ServiceName = ?")
        params.append(query.service)
    if query.operation is not None:
        where.append("s.SpanName = ?")
        params.append(query.operation)
    if query.span_kind is not None:
        where.append("s.SpanKind = ?")
        params.append(int(query.span_kind))
    if query.status_codes:
        where.append(f"s.StatusCode IN ({', '.join('?' * len(query.status_codes))})")
        params.extend(int(code) for code in query.status_codes)
    if query.min_duration_ns is not None:
        where.append("s.Duration >= ?")
        params.append(query.min_duration_ns)
    if query.max_duration_ns is not None:
        where.append("s.Duration <= ?")
        params.append(query.max_duration_ns)
    for tag, ids in zip(query.tags, resource_ids, strict=True):
        condition, values = _tag_condition(tag, ids)
        where.append(condition)
        params.extend(values)
    params.append(query.limit)
    sql = f"""
    SELECT lpad(lower(hex(s.TraceId)), 32, '0') AS t
    FROM spans AS s
    WHERE {" AND ".join(where)}
    GROUP BY s.TraceId
    ORDER BY max(s.Timestamp) DESC, s.TraceId
    LIMIT ?
    """
    return sql, params


# The peer a client or producer span calls, by the OpenTelemetry conventions' precedence.
def attribute(column: str, key: str) -> str:
    """The value of a constant ``key`` in an attribute list column (NULL when absent)."""
    return f"list_filter({column}, lambda a: a.key = '{key}')[1].value"


PEER: Final = (
    f"coalesce({attribute('SpanAttributes', 'peer.service')}, "
    f"{attribute('SpanAttributes', 'server.address')}, "
    f"{attribute('SpanAttributes', 'net.peer.name')})"
)

# Spans starting at or after the given time (base.LISTING_WINDOW_NS before the newest, given
# as a constant so row groups outside it are skipped by their statistics).
REMOTE_SERVICES: Final = f"""
SELECT DISTINCT {PEER} AS peer FROM spans
WHERE ServiceName = ? AND Timestamp >= ? AND SpanKind IN (3, 4) AND peer IS NOT NULL
  AND peer <> ''
ORDER BY peer
"""

# --- dependencies -----------------------------------------------------------------------------
# A call: a span whose parent span is in another service, both starting in the window and at
# most ``horizon`` apart (a "pair"); or a client/producer span in the window naming a
# ``peer.service`` (not its own) with no child span starting within the horizon of it (a
# "peer" call, to an uninstrumented callee). ``dependency_rows`` finds calls among spans;
# ``dependency_edges`` keeps their counts per unit of time (see dependencies.py).

DEPENDENCY_UNIT_NS: Final = 15 * 10**9
DEPENDENCY_HORIZON_NS: Final = base.DEPENDENCY_HORIZON_NS  # the contract's definition

# A span's adjusted count from its tracestate's ``ot=th:`` (DuckDB's RE2, the same patterns
# as ``sampling.adjusted_count``, which tests hold this to): 2^56 / (2^56 - T), T the digits
# right-padded to 14; no or a malformed ``th`` extracts '' and pads to T = 0, weight 1.
ADJUSTED_COUNT: Final = (
    "CASE WHEN TraceState LIKE '%th:%' THEN 72057594037927936.0 / (72057594037927936 - ('0x' || "
    "rpad(regexp_extract(regexp_extract(TraceState, '(?:^|,)[ \\t]*ot=([^,]*?)[ \\t]*(?:,|$)', "
    "1), '(?:^|;)th:([0-9a-f]{1,14})(?:;|$)', 1), 14, '0'))::UBIGINT) ELSE 1.0 END"
)

_CALL_COLUMNS: Final = (
    "TraceId, SpanId, ParentSpanId, ServiceName, StatusCode, Timestamp, SpanKind, Duration, "
    f"{ADJUSTED_COUNT} AS Weight"
)
# peer.service of a span (NULL when absent); measured ~30% cheaper than ``attribute``'s filter.
_PEER: Final = (
    "SpanAttributes[list_position(list_transform(SpanAttributes, lambda a: a.key), "
    "'peer.service')].value"
)

Ranges = list[tuple[int, int]]


def _in_ranges(select: str, ranges: Ranges) -> tuple[str, list[Any]]:
    # One scan per (disjoint) [a, b) range: each prunes row groups by their Timestamp bounds.
    one = f"{select} Timestamp >= ? AND Timestamp < ?"
    params = [bound for r in ranges for bound in r]
    return "\nUNION ALL\n".join([one] * len(ranges)) or f"{select} false", params


def _peer_named(kind: str, key: str) -> str:
    return f"WHEN {attribute('SpanAttributes', key)} IS NOT NULL THEN '{kind}'"


# The service graph names more peers than the dependency counts do (their definition is the
# Jaeger/Zipkin API's, kept in dependency_edges): a database or a queue by its system, any
# other peer by its address; ``peer_kind`` says which.
_GRAPH_PEER: Final = (
    f"coalesce({attribute('SpanAttributes', 'peer.service')}, "
    f"{attribute('SpanAttributes', 'db.system')}, "
    f"{attribute('SpanAttributes', 'messaging.system')}, "
    f"{attribute('SpanAttributes', 'server.address')}, "
    f"{attribute('SpanAttributes', 'net.peer.name')})"
)
_GRAPH_PEER_KIND: Final = (
    f"CASE {_peer_named('peer', 'peer.service')} {_peer_named('database', 'db.system')} "
    f"{_peer_named('queue', 'messaging.system')} ELSE 'peer' END"
)


def dependency_rows(
    pair_spans: Ranges,
    pair_anchors: Ranges,
    clients: Ranges,
    client_spans: Ranges,
    horizon_ns: int,
    *,
    graph: bool = False,
) -> tuple[str, list[Any]]:
    """Rows (peer, lo, hi, parent, child, err, w) of calls; lo and hi are the earlier and later
    start of a pair's spans, or the client span's start of a peer call; w the call's weight
    (the callee span's adjusted count, the client span's for a peer call). With ``graph``, also
    ``dur`` (the callee's span duration, the client span's for a peer), ``cdur`` (the
    caller's: the parent span, or the client span for a peer) and ``peer_kind``, and
    peers named as ``_GRAPH_PEER`` does.

    Pairs are looked for among the spans in ``pair_spans`` of the traces with a span in
    ``pair_anchors``; peer calls among the client spans in ``clients``, with their children
    looked for in ``client_spans``. A cheap semi-join on the trace id drops every other trace
    before the expensive self-join.

    A Zipkin shared span (a client half and a ``shared`` server half with one span id, the
    server half's parent being the client's parent) is one call: the server half's pair with
    its parent. A child of the shared id whose own service holds a server span with that id
    belongs to the server half (no pair with the client half), and a client half whose id a
    server span shares is no peer call.
    """
    peer, peer_kind = (_GRAPH_PEER, _GRAPH_PEER_KIND) if graph else (_PEER, "''")
    anchors, anchor_params = _in_ranges("SELECT TraceId FROM spans WHERE", pair_anchors)
    near, near_params = _in_ranges(
        f"SELECT {_CALL_COLUMNS} FROM spans WHERE TraceId IN (SELECT TraceId FROM x) AND",
        pair_spans,
    )
    callers, caller_params = _in_ranges(
        f"SELECT {_CALL_COLUMNS}, {peer} AS peer, {peer_kind} AS peer_kind "
        "FROM spans WHERE SpanKind IN (3, 4) AND",
        clients,
    )
    children, children_params = _in_ranges(
        "SELECT TraceId, ParentSpanId, Timestamp, CASE WHEN SpanKind = 2 THEN SpanId END AS "
        "SharedId FROM spans WHERE TraceId IN (SELECT TraceId FROM c) AND "
        "(ParentSpanId IS NOT NULL OR SpanKind = 2) AND",
        client_spans,
    )
    extra_pair = ", k.Duration AS dur, p.Duration AS cdur, '' AS peer_kind" if graph else ""
    extra_peer = ", c.Duration, c.Duration, c.peer_kind" if graph else ""
    text = f"""
    WITH x AS ({anchors}), s AS ({near}),
    c AS (
        SELECT * FROM ({callers}) WHERE peer IS NOT NULL AND peer <> '' AND peer <> ServiceName
    ),
    k AS ({children})
    SELECT false AS peer, least(p.Timestamp, k.Timestamp) AS lo,
           greatest(p.Timestamp, k.Timestamp) AS hi,
           p.ServiceName AS parent, k.ServiceName AS child, k.StatusCode = 2 AS err,
           k.Weight AS w{extra_pair}
    FROM s AS k JOIN s AS p ON k.TraceId = p.TraceId AND k.ParentSpanId = p.SpanId
    ANTI JOIN s AS q
      ON q.TraceId = k.TraceId AND q.SpanId = k.ParentSpanId AND q.SpanKind = 2
     AND q.ServiceName = k.ServiceName
    WHERE p.ServiceName <> k.ServiceName AND abs(k.Timestamp - p.Timestamp) <= {horizon_ns:d}
    UNION ALL
    SELECT true, c.Timestamp, c.Timestamp, c.ServiceName, c.peer, c.StatusCode = 2,
           c.Weight{extra_peer}
    FROM c ANTI JOIN k
      ON k.TraceId = c.TraceId AND k.ParentSpanId = c.SpanId
     AND abs(k.Timestamp - c.Timestamp) <= {horizon_ns:d}
    ANTI JOIN k AS shared ON shared.TraceId = c.TraceId AND shared.SharedId = c.SpanId
    """
    return text, [*anchor_params, *near_params, *caller_params, *children_params]


# The service graph's calls are collected slice by slice into a temporary table: joined over
# a whole hour in one statement, the hash tables outgrew the store's memory limit and spilled
# (an hour at 2M spans/hour: 3.0 s, 1.4 s in slices; at 10M: 21 s, 9.3 s). ``bucket``: the
# callee's duration bucket, 1/32 of an octave.
SERVICE_GRAPH_ROWS: Final = """
CREATE OR REPLACE TEMP TABLE graph_rows (
    parent VARCHAR, child VARCHAR, peer_kind VARCHAR, err BOOLEAN, w DOUBLE, dur BIGINT,
    cdur BIGINT, bucket INTEGER
)
"""
# Spans a slice holds at most. At 10M spans/hour: 150k 12.5 s, 300k 9.3 s, 500k 8.3 s, 800k
# 10 s; the smaller of the two best leaves a flush in flight room in the shared memory limit.
SERVICE_GRAPH_SLICE_SPANS: Final = 300_000
SPANS_BETWEEN: Final = "SELECT count(*) FROM spans WHERE Timestamp >= ? AND Timestamp < ?"


def service_graph_slice(
    window: tuple[int, int], piece: tuple[int, int], horizon_ns: int, peers_settled: int
) -> tuple[str, list[Any]]:
    """Insert into ``graph_rows`` the calls of ``window`` ([first, stop)) that ``piece``
    ([a, b), inside it) holds: pairs whose later span starts in it, peer calls whose client
    span does and ends before ``peers_settled``. The pieces of a window hold each of its
    calls once."""
    (first, _), (a, b) = window, piece
    rows, params = dependency_rows(
        [(max(first, a - horizon_ns), b)],
        [(a, b)],
        [(a, b)],
        [(a - horizon_ns, b + horizon_ns)],
        horizon_ns,
        graph=True,
    )
    text = f"""
    INSERT INTO graph_rows
    SELECT parent, child, peer_kind, err, w, dur, cdur,
           CAST(floor(log2(dur + 1) * 32) AS INTEGER)
    FROM ({rows})
    WHERE (peer AND lo >= ? AND lo < ? AND lo + dur < ?)
       OR (NOT peer AND hi >= ? AND hi < ? AND lo >= ?)
    """
    return text, [*params, a, b, peers_settled, a, b, first]


def service_graph(bounds_ns: Sequence[int]) -> tuple[str, list[Any]]:
    """Edges (parent, child, peer_kind, calls, errors, p95 ns, callee durations per bound,
    their sum, caller durations per bound, their sum, calls seen) of the calls in
    ``graph_rows``. Per bound: calls at or below it and above the one before; the last entry
    counts the rest."""

    def per_bound(column: str) -> str:
        slots = [f"sum(w) FILTER ({column} > ? AND {column} <= ?)" for _ in bounds_ns]
        every = [*slots, f"sum(w) FILTER ({column} > ?)"]
        return f"[{', '.join(f'coalesce({slot}, 0.0)' for slot in every)}]"

    lows = [-1, *bounds_ns]  # a duration is never negative
    bound_params: list[Any] = [
        *(v for low, high in itertools.pairwise(lows) for v in (low, high)),
        lows[-1],
    ]
    # p95: ``base.ServiceGraphEdge``'s weighted nearest rank, the shortest duration whose
    # running weight (the edge's calls sorted by duration) reaches 95% of the edge's calls.
    # Sorting every call of an edge was 60% of the statement, so it is found in two steps,
    # exactly: the running weight over the duration buckets names the bucket holding the
    # p95, and only that bucket's calls (~1% of them) are sorted, their running weight
    # starting at the weight of the buckets below it.
    text = f"""
    WITH e AS (
        SELECT parent, child, peer_kind, sum(w) AS total, coalesce(sum(w) FILTER (err), 0.0)
               AS errors, {per_bound("dur")} AS server, sum(w * dur) AS server_sum,
               {per_bound("cdur")} AS client, sum(w * cdur) AS client_sum, count(*) AS seen
        FROM graph_rows GROUP BY ALL
    ),
    running_buckets AS (
        SELECT *, sum(bucket_w) OVER (PARTITION BY parent, child, peer_kind ORDER BY bucket
                                      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS upto
        FROM (
            SELECT parent, child, peer_kind, bucket, sum(w) AS bucket_w
            FROM graph_rows GROUP BY ALL
        )
    ),
    p95_bucket AS (
        SELECT parent, child, peer_kind, min(bucket) AS bucket,
               arg_min(upto - bucket_w, bucket) AS below, any_value(total) AS total
        FROM running_buckets JOIN e USING (parent, child, peer_kind)
        WHERE upto >= 0.95 * total GROUP BY ALL
    ),
    p95 AS (
        SELECT parent, child, peer_kind, min(dur) FILTER (running >= 0.95 * total) AS p95
        FROM (
            SELECT r.parent, r.child, r.peer_kind, r.dur, t.total,
                   t.below + sum(r.w) OVER (
                       PARTITION BY r.parent, r.child, r.peer_kind ORDER BY r.dur, r.w
                       ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running
            FROM graph_rows AS r JOIN p95_bucket AS t
              ON r.parent = t.parent AND r.child = t.child AND r.peer_kind = t.peer_kind
             AND r.bucket = t.bucket
        )
        GROUP BY ALL
    )
    SELECT parent, child, peer_kind, total, errors, p95, server, server_sum, client,
           client_sum, seen
    FROM e LEFT JOIN p95 USING (parent, child, peer_kind)
    ORDER BY parent, child
    """
    return text, [*bound_params, *bound_params]


def service_graph_pieces(
    window: tuple[int, int], spans: int, slice_spans: int = SERVICE_GRAPH_SLICE_SPANS
) -> list[tuple[int, int]]:
    """``window`` cut into equal, adjacent pieces holding about ``slice_spans`` of its
    ``spans`` each (at least one piece, none empty of time)."""
    first, stop = window
    count = max(1, min(-(-spans // slice_spans), stop - first))
    edges = [first + (stop - first) * i // count for i in range(count + 1)]
    return list(itertools.pairwise(edges))


def _unit(column: str) -> str:
    return f"({column} - {column} % {DEPENDENCY_UNIT_NS:d})"


def dependency_refresh(
    pairs: tuple[int, int], peers: tuple[int, int], horizon_ns: int
) -> tuple[str, list[Any]]:
    """Insert the counts of the pair units [pairs) (pairs whose later span starts there) and
    the peer units [peers) (peer calls whose client span starts there)."""
    (p0, p1), (q0, q1) = pairs, peers
    rows, params = dependency_rows(
        [(p0 - horizon_ns, p1)] if p0 < p1 else [],
        [pairs] if p0 < p1 else [],
        [peers] if q0 < q1 else [],
        [(q0 - horizon_ns, q1 + horizon_ns)] if q0 < q1 else [],
        horizon_ns,
    )
    text = f"""
    INSERT INTO dependency_edges
    SELECT peer, {_unit("lo")}, {_unit("hi")}, parent, child, sum(w),
           coalesce(sum(w) FILTER (err), 0.0)
    FROM ({rows}) WHERE peer OR (hi >= ? AND hi < ?)
    GROUP BY ALL
    """
    return text, [*params, p0, p1]


# Counts kept: pairs of units [a, pairs end) whose earlier span starts at or after the
# window's first whole unit, peer calls of units [a, peers end). Parameters in that order.
DEPENDENCIES_KEPT: Final = """
SELECT Parent, Child, sum(Calls), sum(Errors) FROM dependency_edges
WHERE (NOT Peer AND Hi >= ? AND Hi < ? AND Lo >= ?) OR (Peer AND Hi >= ? AND Hi < ?)
GROUP BY ALL
"""


def dependencies_live(
    regions: tuple[Ranges, Ranges, Ranges, Ranges],
    window: tuple[int, int],
    kept: tuple[int, int, int, int, int],
    horizon_ns: int,
) -> tuple[str, list[Any]]:
    """Counts of the calls in ``window`` ([first, stop)) that ``DEPENDENCIES_KEPT`` with
    ``kept`` (its parameters) does not hold; ``regions``: ``dependency_rows``' ranges."""
    rows, params = dependency_rows(*regions, horizon_ns)
    a, pairs_end, whole_first, _, peers_end = kept
    text = f"""
    SELECT parent, child, sum(w), coalesce(sum(w) FILTER (err), 0.0) FROM ({rows})
    WHERE (NOT peer AND lo >= ? AND hi < ? AND NOT (hi >= ? AND hi < ? AND lo >= ?))
       OR (peer AND lo >= ? AND hi < ? AND NOT (hi >= ? AND hi < ?))
    GROUP BY ALL
    """
    return text, [*params, *window, a, pairs_end, whole_first, *window, a, peers_end]


DEPENDENCY_BOUNDS: Final = "SELECT min(Timestamp), max(Timestamp) FROM spans"
DEPENDENCY_NEXT_START: Final = "SELECT min(Timestamp) FROM spans WHERE Timestamp >= ?"
DELETE_DEPENDENCY_EDGES_FROM: Final = (
    "DELETE FROM dependency_edges WHERE (NOT Peer AND Hi >= ?) OR (Peer AND Hi >= ?)"
)
DELETE_DEPENDENCY_EDGES_BEFORE: Final = "DELETE FROM dependency_edges WHERE Hi < ?"


# Autocomplete values come from the newest data only: an hour before the newest span.
RECENT_WINDOW_NS: Final = 3600 * 10**9

TAG_KEYS: Final = "SELECT Key FROM attribute_keys ORDER BY Key"

TAG_VALUES: Final = """
SELECT DISTINCT list_filter(SpanAttributes, lambda a: a.key = ?)[1].value AS v FROM spans
WHERE Timestamp >= (SELECT max(Timestamp) FROM spans) - ? AND v IS NOT NULL
ORDER BY v
"""

STATS: Final = "SELECT count(*), min(Timestamp), max(Timestamp) FROM spans"

DELETE_SPANS: Final = "DELETE FROM spans WHERE Timestamp < ?"
DELETE_TRACE_RANGES: Final = (
    f"DELETE FROM {_LEVELS[0]} WHERE LastStart < ?",
    *(f"DELETE FROM {table} WHERE {_SORTED_LAST_START} < ?" for table in _LEVELS[1:]),
)

# --- lookup compaction (see schema) -------------------------------------------------------------

LEVEL_ROWS: Final = "SELECT " + ", ".join(f"(SELECT count(*) FROM {table})" for table in _LEVELS)


def merge_level(level: int) -> tuple[str, ...]:
    """Statements (one transaction) merging ``level`` into the next: one row per prefix,
    sorted by prefix, replacing the next level's table; then ``level`` emptied. The tail is
    emptied by a DELETE, which removes only the rows this transaction read: flushes append
    to it meanwhile. A sorted level is replaced whole (its old blocks are freed at the next
    checkpoint, a DELETE would keep them in the file)."""
    source, target = _LEVELS[level], _LEVELS[level + 1]
    merged = f"""
    CREATE OR REPLACE TABLE {target} AS
    SELECT TracePrefix, min(FirstStart) // 1000 AS FirstStartUs,
           (max(LastStart) + 999) // 1000 - min(FirstStart) // 1000 AS LengthUs,
           min(FirstFlush) AS FirstFlush, max(LastFlush) - min(FirstFlush) AS FlushLength
    FROM (
        SELECT {_range_columns(level)} FROM {source}
        UNION ALL SELECT {_range_columns(level + 1)} FROM {target}
    )
    GROUP BY TracePrefix ORDER BY TracePrefix
    """
    if level == 0:
        return merged, f"DELETE FROM {source}"
    return merged, f"CREATE OR REPLACE TABLE {source} ({schema.SORTED_RANGE_COLUMNS})"


DELETE_ATTRIBUTE_KEYS: Final = "DELETE FROM attribute_keys WHERE LastSeen < ?"
DELETE_OPERATIONS: Final = "DELETE FROM operations WHERE LastSeen < ?"
DELETE_RESOURCES: Final = (
    "DELETE FROM resources WHERE ResourceId NOT IN (SELECT DISTINCT ResourceId FROM spans)"
)


# --- trace id prefixes (the CLI's short ids) ----------------------------------------------------


def prefix_ranges(
    low: int, high: int, limit: int, levels: tuple[int, ...]
) -> tuple[str, list[Any]]:
    """Time ranges of the newest ``limit`` trace prefixes between ``low`` and ``high``."""
    rows = _every_level(levels, "TracePrefix BETWEEN $1::UBIGINT AND $2::UBIGINT")
    text = (
        f"SELECT TracePrefix, min(FirstStart), max(LastStart) FROM ({rows}) "
        "GROUP BY 1 ORDER BY 3 DESC LIMIT $3"
    )
    return text, [low, high, limit]


TRACE_IDS_BETWEEN: Final = """
SELECT lpad(lower(hex(TraceId)), 32, '0') FROM spans
WHERE TraceId BETWEEN ?::UHUGEINT AND ?::UHUGEINT AND Timestamp BETWEEN ? AND ?
GROUP BY TraceId ORDER BY max(Timestamp) DESC, TraceId LIMIT ?
"""
