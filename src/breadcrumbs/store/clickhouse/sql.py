"""SQL text for the ClickHouse engine. Values are always server-side parameters
(``{name:Type}``); only the checked database name and this module's constants are formatted in.
"""

# ruff: noqa: S608

from __future__ import annotations

from typing import Any, Final

from breadcrumbs.store.base import DEPENDENCY_HORIZON_NS, TagFilter, TraceQuery

SPAN_COLUMNS: Final = """
Timestamp,
lower(hex(TraceId)) AS TraceId,
leftPad(lower(hex(SpanId)), 16, '0') AS SpanId,
if(ParentSpanId = 0, '', leftPad(lower(hex(ParentSpanId)), 16, '0')) AS ParentSpanId,
TraceState, SpanName, SpanKind, ServiceName,
ResourceAttributes, ResourceAttributeTypes, ScopeName, ScopeVersion,
SpanAttributes, SpanAttributeTypes, Duration, StatusCode, StatusMessage, Events, Links
"""

# SPAN_COLUMNS' aliases (TraceId ...) would shadow the columns in WHERE without the setting
# prefer_column_name_to_alias.
_ID: Final = "toFixedString(unhex({trace:String}), 16)"
_IDS: Final = "arrayMap(t -> toFixedString(unhex(t), 16), {traces:Array(String)})"


def trace_spans(db: str) -> str:
    """One trace: its range from ``trace_ranges`` (scalar subqueries, so the key condition on
    the spans table sees constants and reads one bucket's granules of that trace)."""
    return f"""
    SELECT {SPAN_COLUMNS} FROM {db}.spans
    WHERE TraceId = {_ID}
      AND Timestamp >= (SELECT min(FirstStart) FROM {db}.trace_ranges WHERE TraceId = {_ID})
      AND Timestamp <= (SELECT max(LastStart) FROM {db}.trace_ranges WHERE TraceId = {_ID})
    ORDER BY Timestamp, SpanId
    SETTINGS prefer_column_name_to_alias = 1
    """


def traces_spans(db: str) -> str:
    return f"""
    SELECT {SPAN_COLUMNS} FROM {db}.spans
    WHERE TraceId IN {_IDS}
      AND Timestamp >= (SELECT min(FirstStart) FROM {db}.trace_ranges WHERE TraceId IN {_IDS})
      AND Timestamp <= (SELECT max(LastStart) FROM {db}.trace_ranges WHERE TraceId IN {_IDS})
    ORDER BY Timestamp, SpanId
    SETTINGS prefer_column_name_to_alias = 1
    """


def _tag_condition(tag: TagFilter, n: int) -> tuple[str, dict[str, Any]]:
    key, value = f"{{k{n}:String}}", f"{{v{n}:String}}"

    def on(column: str) -> str:
        # m[k] is '' for a missing key: an empty value must also find the key.
        present = f" AND mapContains({column}, {key})" if tag.value == "" else ""
        return f"({column}[{key}] = {value}{present})"

    scopes = {
        "span": [on("SpanAttributes")],
        "resource": [on("ResourceAttributes")],
        "any": [
            on("SpanAttributes"),
            on("ResourceAttributes"),
            f"arrayExists(e -> {on('e.Attributes')}, Events)",
        ],
    }[tag.scope]
    return "(" + " OR ".join(scopes) + ")", {f"k{n}": tag.key, f"v{n}": tag.value}


def find_trace_ids(db: str, query: TraceQuery) -> tuple[str, dict[str, Any]]:
    """Every condition holds on one span; traces ordered by their newest matching span."""
    where = ["Timestamp >= {start:Int64}", "Timestamp <= {end:Int64}"]
    params: dict[str, Any] = {"start": query.start_ns, "end": query.end_ns, "limit": query.limit}
    if query.service is not None:
        where.append("ServiceName = {service:String}")
        params["service"] = query.service
    if query.operation is not None:
        where.append("SpanName = {operation:String}")
        params["operation"] = query.operation
    if query.span_kind is not None:
        where.append("SpanKind = {kind:Int8}")
        params["kind"] = int(query.span_kind)
    if query.status_codes:
        where.append("StatusCode IN {statuses:Array(Int8)}")
        params["statuses"] = [int(code) for code in query.status_codes]
    if query.min_duration_ns is not None:
        where.append("Duration >= {min_duration:Int64}")
        params["min_duration"] = query.min_duration_ns
    if query.max_duration_ns is not None:
        where.append("Duration <= {max_duration:Int64}")
        params["max_duration"] = query.max_duration_ns
    for n, tag in enumerate(query.tags):
        condition, values = _tag_condition(tag, n)
        where.append(condition)
        params.update(values)
    text = f"""
    SELECT lower(hex(TraceId)) AS t FROM {db}.spans
    WHERE {" AND ".join(where)}
    GROUP BY TraceId
    ORDER BY max(Timestamp) DESC, TraceId
    LIMIT {{limit:UInt32}}
    """
    return text, params


_PEER: Final = (
    "coalesce(nullIf(SpanAttributes['peer.service'], ''), "
    "nullIf(SpanAttributes['server.address'], ''), nullIf(SpanAttributes['net.peer.name'], ''))"
)


def remote_services(db: str) -> str:
    return f"""
    SELECT DISTINCT assumeNotNull({_PEER}) AS peer FROM {db}.spans
    WHERE ServiceName = {{service:String}} AND SpanKind IN (3, 4) AND {_PEER} IS NOT NULL
      AND Timestamp >= (SELECT max(Timestamp) FROM {db}.spans) - {{window:Int64}}
    ORDER BY peer
    """


def dependencies(db: str) -> str:
    """Calls among spans starting in (end - lookback, end], as ``DependencyLink`` defines them:
    pairs by a join of the window's spans on their parents, peer calls by an anti-join of the
    window's client spans on the children starting within the horizon of the window."""
    window = "Timestamp > {lo:Int64} AND Timestamp <= {hi:Int64}"
    horizon = DEPENDENCY_HORIZON_NS
    return f"""
    WITH
    w AS (
        SELECT TraceId, SpanId, ParentSpanId, ServiceName, SpanKind, StatusCode, Timestamp,
               SpanAttributes['peer.service'] AS peer
        FROM {db}.spans WHERE {window}
    ),
    near AS (
        SELECT TraceId, ParentSpanId, Timestamp FROM {db}.spans
        WHERE Timestamp > {{lo:Int64}} - {horizon} AND Timestamp <= {{hi:Int64}} + {horizon}
          AND ParentSpanId != 0
    ),
    pairs AS (
        SELECT p.ServiceName AS parent, c.ServiceName AS child, c.StatusCode = 2 AS err
        FROM w AS c INNER JOIN w AS p ON c.TraceId = p.TraceId AND c.ParentSpanId = p.SpanId
        WHERE c.ParentSpanId != 0 AND p.ServiceName != c.ServiceName
          AND abs(p.Timestamp - c.Timestamp) <= {horizon}
    ),
    clients AS (SELECT * FROM w WHERE SpanKind IN (3, 4) AND peer != '' AND peer != ServiceName),
    answered AS (
        SELECT DISTINCT c.TraceId AS TraceId, c.SpanId AS SpanId
        FROM clients AS c INNER JOIN near AS k
          ON k.TraceId = c.TraceId AND k.ParentSpanId = c.SpanId
        WHERE abs(k.Timestamp - c.Timestamp) <= {horizon}
    ),
    peers AS (
        SELECT ServiceName AS parent, peer AS child, StatusCode = 2 AS err FROM clients
        WHERE (TraceId, SpanId) NOT IN (SELECT TraceId, SpanId FROM answered)
    )
    SELECT parent, child, count() AS calls, countIf(err) AS errors
    FROM (SELECT * FROM pairs UNION ALL SELECT * FROM peers)
    GROUP BY parent, child ORDER BY parent, child
    """
