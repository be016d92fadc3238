"""SQL text for the DuckDB store. User values are always bound parameters, never formatted in."""

# S608: only this module's constant fragments are composed into statements; values are bound.
# ruff: noqa: S608

from __future__ import annotations

from typing import Any, Final

from breadcrumbs.store.base import TagFilter, TraceQuery

# --- write ------------------------------------------------------------------------------------
# ``batch_in`` is the incoming Arrow table, registered on the writing cursor.

RESOURCE_HASH: Final = "hash(ResourceAttributes, ResourceAttributeTypes)"

# Resources are new only when a process starts: find their hashes first (cheap), and copy the
# attribute lists of new ones only.
NEW_RESOURCE_HASHES: Final = f"""
SELECT DISTINCT {RESOURCE_HASH} AS h FROM batch_in
EXCEPT SELECT ResourceHash FROM resources
"""

INSERT_RESOURCES: Final = f"""
INSERT INTO resources
SELECT (SELECT coalesce(max(ResourceId), 0) FROM resources) + row_number() OVER (),
       h, ResourceAttributes, ResourceAttributeTypes
FROM (
    SELECT {RESOURCE_HASH} AS h, ResourceAttributes, ResourceAttributeTypes FROM batch_in
    WHERE h IN (SELECT unnest(?::UBIGINT[]))
    QUALIFY row_number() OVER (PARTITION BY h) = 1
) AS n
"""

UPSERT_OPERATIONS: Final = """
INSERT INTO operations
SELECT ServiceName, SpanName, SpanKind, max(Timestamp) FROM batch_in GROUP BY ALL
ON CONFLICT (ServiceName, SpanName, SpanKind)
DO UPDATE SET LastSeen = greatest(LastSeen, excluded.LastSeen)
"""

# ids arrive as lowercase hex (model.normalize_* has run); integers halve their size.
INSERT_SPANS: Final = f"""
INSERT INTO spans
SELECT b.Timestamp,
       ('0x' || b.TraceId)::UHUGEINT AS TraceId,
       ('0x' || b.SpanId)::UBIGINT,
       CASE WHEN b.ParentSpanId = '' THEN NULL ELSE ('0x' || b.ParentSpanId)::UBIGINT END,
       b.TraceState, b.SpanName, b.SpanKind, b.ServiceName, r.ResourceId,
       b.ScopeName, b.ScopeVersion, b.SpanAttributes, b.SpanAttributeTypes,
       b.Duration, b.StatusCode, b.StatusMessage, b.Events, b.Links
FROM batch_in AS b
JOIN resources AS r ON r.ResourceHash = {RESOURCE_HASH.replace("Resource", "b.Resource")}
ORDER BY {{order}}
"""

SORT_ORDERS: Final[dict[str, str]] = {
    "trace": "TraceId",
    "service_trace": "b.ServiceName, TraceId",
    "time": "b.Timestamp",
}

INSERT_TRACE_RANGES: Final = """
INSERT INTO trace_ranges
SELECT ('0x' || left(TraceId, 16))::UBIGINT AS p, min(Timestamp), max(Timestamp)
FROM batch_in GROUP BY p ORDER BY p
"""

UPSERT_ATTRIBUTE_KEYS: Final = """
INSERT INTO attribute_keys
SELECT k, max(Timestamp) FROM (
    SELECT unnest(list_transform(SpanAttributes, lambda a: a.key)) AS k, Timestamp FROM batch_in
) GROUP BY k
ON CONFLICT (Key) DO UPDATE SET LastSeen = greatest(LastSeen, excluded.LastSeen)
"""

SET_WAL_SEQUENCE: Final = "UPDATE meta SET value = greatest(value, ?) WHERE key = ?"

# --- read -------------------------------------------------------------------------------------
# Columns in SPAN_SCHEMA order, converted back to their canonical form; ResourceId stands for
# the two resource columns, joined in Arrow from a cached copy of the small resources table
# (a SQL join cost more than the rest of a get-trace).

SPAN_COLUMNS: Final = """
s.Timestamp AS Timestamp,
lpad(lower(hex(s.TraceId)), 32, '0') AS TraceId,
lpad(lower(hex(s.SpanId)), 16, '0') AS SpanId,
coalesce(lpad(lower(hex(s.ParentSpanId)), 16, '0'), '') AS ParentSpanId,
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


def trace_ranges(trace_ids: list[str]) -> tuple[str, list[Any]]:
    """(trace id, first start, last start) of each trace whose prefix is known."""
    # An IN list of constants is a scan filter that segment statistics prune; a join is not.
    marks = ", ".join("?::UBIGINT" for _ in trace_ids)
    text = f"""
    SELECT TracePrefix, min(FirstStart), max(LastStart) FROM trace_ranges
    WHERE TracePrefix IN ({marks}) GROUP BY TracePrefix
    """
    return text, [int(t[:16], 16) for t in trace_ids]


# One trace in one statement: DuckDB pushes the looked-up range into the span scan as a
# dynamic filter (one row group read), saving a round trip (~1 ms of ~10).
SPANS_OF_TRACE: Final = f"""
WITH r AS (
    SELECT min(FirstStart) AS lo, max(LastStart) AS hi FROM trace_ranges
    WHERE TracePrefix = ?::UBIGINT
)
SELECT {SPAN_COLUMNS} FROM spans AS s, r
WHERE s.TraceId = ?::UHUGEINT AND s.Timestamp BETWEEN r.lo AND r.hi
ORDER BY Timestamp, SpanId
"""


def spans_of_trace(trace_id: str) -> tuple[str, list[Any]]:
    return SPANS_OF_TRACE, [int(trace_id[:16], 16), trace_id_param(trace_id)]


def spans_in_ranges(groups: list[list[tuple[str, int, int]]]) -> tuple[str, list[Any]]:
    """Spans of the given traces, each known to start within (first start, last start).

    ``groups``: traces whose ranges lie close together in time, one scan each. A lone trace
    is an equality-and-range scan, a pushed-down filter that skips the vectors without it
    (~4 ms at 10M spans/hour). Several traces share one scan over the union of their ranges,
    which reads every row group in it (~10 ms each), so it pays only when they are close.
    """
    branches: list[str] = []
    params: list[Any] = []
    for group in groups:
        if len(group) == 1:
            ((trace_id, first, last),) = group
            branches.append(f"{SELECT_SPANS} WHERE s.TraceId = ?::UHUGEINT AND {_IN_RANGE}")
            params.extend((trace_id_param(trace_id), first, last))
        else:
            # A semi-join rather than an IN list: its build side becomes a filter applied
            # inside the scan (measured ~20% cheaper than IN's filter after the scan).
            rows = ", ".join("(?::UHUGEINT)" for _ in group)
            branches.append(
                f"{SELECT_SPANS} WHERE s.TraceId IN (SELECT id FROM (VALUES {rows}) AS w(id))"
                f" AND {_IN_RANGE}"
            )
            params.extend(trace_id_param(trace_id) for trace_id, _, _ in group)
            params.extend((min(g[1] for g in group), max(g[2] for g in group)))
    # In start order (hex span ids sort as their integers), which the query layer's adjusters
    # want: sorting a few rows here is cheaper than an Arrow take of the nested columns.
    return "\nUNION ALL\n".join(branches) + "\nORDER BY Timestamp, SpanId", params


_IN_RANGE: Final = "s.Timestamp BETWEEN ? AND ?"


# Answered from the table's statistics (~0.5-1 ms at 10M spans), not a scan.
TIME_EXTENT: Final = "SELECT min(Timestamp), max(Timestamp) FROM spans"
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

# Resource scope is resolved first against the small resources table (``RESOURCES_WITH``),
# so the span scan compares a small integer.
RESOURCES_WITH: Final = """
SELECT coalesce(list(ResourceId), []) FROM resources
WHERE list_bool_or(list_transform(ResourceAttributes, lambda a: a.key = ? AND a.value = ?))
"""


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

    ``resource_ids[i]``: the resources matching ``query.tags[i]`` (``RESOURCES_WITH``).
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

REMOTE_SERVICES: Final = f"""
SELECT DISTINCT {PEER} AS peer FROM spans
WHERE ServiceName = ? AND SpanKind IN (3, 4) AND peer IS NOT NULL AND peer <> ''
ORDER BY peer
"""

# Parent/child pairs across services, plus client/producer spans naming a peer.service that
# no span in the window answered (an uninstrumented callee). Window: (end - lookback, end].
DEPENDENCIES: Final = """
WITH w AS (
    SELECT TraceId, SpanId, ParentSpanId, ServiceName, SpanKind, StatusCode,
           CASE WHEN SpanKind IN (3, 4) THEN {peer} END AS peer
    FROM spans WHERE Timestamp > ? AND Timestamp <= ?
),
edges AS (
    SELECT p.ServiceName AS parent, c.ServiceName AS child, c.StatusCode = 2 AS err
    FROM w AS c JOIN w AS p ON c.TraceId = p.TraceId AND c.ParentSpanId = p.SpanId
    WHERE p.ServiceName <> c.ServiceName
    UNION ALL
    SELECT c.ServiceName, c.peer, c.StatusCode = 2
    FROM w AS c
    WHERE c.SpanKind IN (3, 4) AND c.peer IS NOT NULL AND c.peer <> ''
      AND c.peer <> c.ServiceName
      AND NOT EXISTS (
          SELECT 1 FROM w AS k WHERE k.TraceId = c.TraceId AND k.ParentSpanId = c.SpanId
      )
)
SELECT parent, child, count(*) AS calls, count_if(err) AS errors
FROM edges GROUP BY ALL ORDER BY parent, child
""".format(peer=attribute("SpanAttributes", "peer.service"))

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
DELETE_TRACE_RANGES: Final = "DELETE FROM trace_ranges WHERE LastStart < ?"
DELETE_ATTRIBUTE_KEYS: Final = "DELETE FROM attribute_keys WHERE LastSeen < ?"
DELETE_OPERATIONS: Final = "DELETE FROM operations WHERE LastSeen < ?"
DELETE_RESOURCES: Final = (
    "DELETE FROM resources WHERE ResourceId NOT IN (SELECT DISTINCT ResourceId FROM spans)"
)
