"""ClickHouse SQL of the reads over many traces: ``selection_counts``,
``latency_distribution`` and ``typical_traces`` (see ``store.base``), the same answers as
the DuckDB engine's ``duckdb/analysis_sql.py`` on the same spans.

ClickHouse over HTTP keeps no session, so there are no temporary tables: each statement
names the endpoint's traces and the sampled ones as subqueries (``_TRACES``, ``_PICKED``)
and reads the spans of the sampled traces through a join on them (the ids' hash table
filters the scan). Values are always server-side parameters (``{name:Type}``); only the
checked database name and this module's constants are formatted in.
"""

# ruff: noqa: S608

from __future__ import annotations

from typing import Any, Final

from breadcrumbs.store.base import Endpoint, TraceSelection
from breadcrumbs.store.selection_rows import SAMPLE_SCALE

HEX_TRACE_ID: Final = "lower(hex(TraceId))"


def quantile_disc(expression: str, level: str, where: str | None = None) -> str:
    """DuckDB's ``quantile_disc``: the ceil(n * level)-th smallest value (the inverted CDF,
    no interpolation); none of ClickHouse's quantile functions picks the same element. With
    ``where``, over the rows meeting it (DuckDB's ``FILTER (WHERE ...)``)."""
    values = f"groupArrayIf({expression}, {where})" if where else f"groupArray({expression})"
    count = f"countIf({where})" if where else "count()"
    return f"arrayElement(arraySort({values}), toUInt64(greatest(1, ceil({count} * {level}))))"


def quantiles_disc(expression: str, levels: str) -> str:
    """``quantile_disc`` at each of ``levels`` (an array literal), as an array."""
    return (
        f"arrayMap((s, n) -> arrayMap(q -> s[toUInt64(greatest(1, ceil(n * q)))], {levels}), "
        f"[arraySort(groupArray({expression}))], [count()])[1]"
    )


def anchor_condition(endpoint: Endpoint) -> tuple[str, dict[str, Any]]:
    """The WHERE condition of an endpoint's anchor spans (see ``Endpoint``)."""
    where = (
        "Timestamp >= {a_start:Int64} AND Timestamp <= {a_end:Int64} "
        "AND ServiceName = {a_service:String}"
    )
    params: dict[str, Any] = {
        "a_start": endpoint.start_ns,
        "a_end": endpoint.end_ns,
        "a_service": endpoint.service,
    }
    if endpoint.operation is not None:
        where += " AND SpanName = {a_operation:String}"
        params["a_operation"] = endpoint.operation
    else:  # the service's entry spans: server, consumer or root
        where += " AND (SpanKind IN (2, 5) OR ParentSpanId = 0)"
    return where, params


def _traces(db: str, endpoint: Endpoint) -> tuple[str, dict[str, Any]]:
    """One row per trace of the endpoint: its duration ``d``, failure and anchors' extent."""
    where, params = anchor_condition(endpoint)
    return (
        f"""
        SELECT TraceId, max(Duration) AS d, max(StatusCode = 2) AS failed,
               min(Timestamp) AS t0, max(Timestamp) AS t1, argMax(SpanName, Duration) AS anchor
        FROM {db}.spans WHERE {where} GROUP BY TraceId
        """,
        params,
    )


def _compared(db: str, endpoint: Endpoint, selected: str) -> tuple[str, dict[str, Any]]:
    """The traces compared: without an operation, only those whose anchor (the longest
    anchor span's name) is one of the selection's, as ``duckdb/analysis_sql.same_anchors``
    keeps them. A service's traces mix its endpoints; the others (a cheap GET beside the
    failing POST) would rank every attribute of the selected endpoint as a difference."""
    traces, params = _traces(db, endpoint)
    if endpoint.operation is not None:
        return traces, params
    # One pass over the traces (a CTE named three times would be read three times).
    return (
        f"""
        SELECT * FROM (
            SELECT *, max({selected}) OVER (PARTITION BY anchor) AS anchor_selected,
                   max({selected}) OVER () AS any_selected
            FROM ({traces})
        ) WHERE anchor_selected OR NOT any_selected
        """,
        params,
    )


def selected_condition(
    threshold: int | None, errors: bool, upper: int | None = None
) -> tuple[str, dict[str, Any]]:
    """A trace's side: failed, in the band [threshold, upper) of anchor durations (either
    edge open), or (neither edge) baseline."""
    if errors:
        return "(failed = 1)", {}
    parts: list[str] = []
    params: dict[str, Any] = {}
    if threshold is not None:
        parts.append("d >= {threshold:Int64}")
        params["threshold"] = threshold
    if upper is not None:
        parts.append("d < {upper:Int64}")
        params["upper"] = upper
    # No edge (no traces, or no criterion): every trace is baseline.
    return f"({' AND '.join(parts) or '0 = 1'})", params


def percentile(db: str, endpoint: Endpoint, level: float) -> tuple[str, dict[str, Any]]:
    traces, params = _traces(db, endpoint)
    text = f"SELECT {quantile_disc('d', '{level:Float64}')} AS q, count() AS n FROM ({traces})"
    return text, {**params, "level": level}


def sides(db: str, endpoint: Endpoint, selected: str) -> tuple[str, dict[str, Any]]:
    """Traces per side and the time extent of their anchors."""
    traces, params = _compared(db, endpoint, selected)
    return (
        f"""
        SELECT countIf({selected}) AS s, countIf(NOT {selected}) AS b, min(t0), max(t1)
        FROM ({traces})
        """,
        params,
    )


def examples(db: str, endpoint: Endpoint, selected: str) -> tuple[str, dict[str, Any]]:
    """The newest selected traces' ids (parameter ``examples``: how many)."""
    traces, params = _compared(db, endpoint, selected)
    return (
        f"""
        SELECT lower(hex(TraceId)) AS id FROM ({traces}) WHERE {selected}
        ORDER BY t1 DESC, TraceId LIMIT {{examples:UInt64}}
        """,
        params,
    )


def _picked(db: str, endpoint: Endpoint, selected: str) -> tuple[str, dict[str, Any]]:
    """The sampled traces with their side ``sel`` (parameters ``rate_s``/``rate_b``)."""
    traces, params = _compared(db, endpoint, selected)
    return (
        f"""
        SELECT TraceId, toBool({selected}) AS sel FROM ({traces})
        WHERE cityHash64(TraceId) % {SAMPLE_SCALE} < if({selected}, {{rate_s:UInt64}},
                                                         {{rate_b:UInt64}})
        """,
        params,
    )


def picked_sides(db: str, endpoint: Endpoint, selected: str) -> tuple[str, dict[str, Any]]:
    picked, params = _picked(db, endpoint, selected)
    return f"SELECT countIf(sel), countIf(NOT sel) FROM ({picked})", params


def _picked_spans(db: str, endpoint: Endpoint, selected: str, columns: str) -> tuple[str, Any]:
    """``columns`` of every span of the sampled traces starting in [w_lo, w_hi] (the
    anchors' extent widened by the selection's slack), with ``sel`` and ``TraceId``."""
    picked, params = _picked(db, endpoint, selected)
    return (
        f"""
        SELECT s.TraceId AS TraceId, p.sel AS sel, {columns}
        FROM {db}.spans AS s INNER JOIN ({picked}) AS p ON s.TraceId = p.TraceId
        WHERE s.Timestamp >= {{w_lo:Int64}} AND s.Timestamp <= {{w_hi:Int64}}
        """,
        params,
    )


def operations(db: str, endpoint: Endpoint, selected: str) -> tuple[str, dict[str, Any]]:
    """Per operation: traces, spans, summed duration and summed self time per side. Self
    time: the span's duration minus its children's summed durations, at least 0."""
    spans, params = _picked_spans(
        db,
        endpoint,
        selected,
        "s.SpanId AS SpanId, s.ParentSpanId AS ParentSpanId, "
        "toString(s.ServiceName) AS ServiceName, toString(s.SpanName) AS SpanName, "
        "s.Duration AS Duration",
    )
    return (
        f"""
        WITH w AS ({spans}),
        c AS (
            SELECT TraceId, ParentSpanId AS SpanId, sum(Duration) AS child
            FROM w WHERE ParentSpanId != 0 GROUP BY TraceId, ParentSpanId
        ),
        t AS (
            SELECT w.TraceId AS TraceId, w.sel AS sel, w.ServiceName AS ServiceName,
                   w.SpanName AS SpanName, count() AS spans, sum(w.Duration) AS total,
                   sum(greatest(w.Duration - c.child, 0)) AS self
            FROM w LEFT JOIN c ON w.TraceId = c.TraceId AND w.SpanId = c.SpanId
            GROUP BY TraceId, sel, ServiceName, SpanName
        )
        SELECT ServiceName, SpanName, countIf(sel), countIf(NOT sel),
               sumIf(spans, sel), sumIf(spans, NOT sel), sumIf(total, sel),
               sumIf(total, NOT sel), sumIf(self, sel), sumIf(self, NOT sel)
        FROM t GROUP BY ServiceName, SpanName
        ORDER BY ServiceName, SpanName
        SETTINGS join_use_nulls = 0
        """,
        params,
    )


def _attributes(db: str, endpoint: Endpoint, selected: str) -> tuple[str, dict[str, Any]]:
    """Each (scope, service, span name, key, value) once per trace of the sampled spans;
    keys matching ``ignored`` are left out, and service.name (the service itself)."""
    spans, params = _picked_spans(
        db,
        endpoint,
        selected,
        "toString(s.ServiceName) AS ServiceName, toString(s.SpanName) AS SpanName, "
        "s.SpanAttributes AS SpanAttributes, s.ResourceAttributes AS ResourceAttributes",
    )
    return (
        f"""
        SELECT DISTINCT 'span' AS scope, ServiceName, SpanName, toString(key) AS key,
               value, TraceId, sel
        FROM ({spans})
        ARRAY JOIN mapKeys(SpanAttributes) AS key, mapValues(SpanAttributes) AS value
        WHERE NOT match(key, {{ignored:String}})
        UNION ALL
        SELECT DISTINCT 'resource' AS scope, ServiceName, '' AS SpanName,
               toString(key) AS key, value, TraceId, sel
        FROM ({spans})
        ARRAY JOIN mapKeys(ResourceAttributes) AS key, mapValues(ResourceAttributes) AS value
        WHERE key != 'service.name' AND NOT match(key, {{ignored:String}})
        """,
        params,
    )


# Per key: distinct values and traces (estimates: they only decide whether a key is nearly
# unique), and whether it is a quantity: every value a finite number and the key not named
# like an identifier (as the DuckDB engine decides it).
_IDENTIFIER: Final = r"match(key, '(^|[._-])(id|uuid|guid|port|pid)$|[a-z]Id$|_id$')"

_KEYS: Final = f"""
SELECT scope, ServiceName, SpanName, key, uniq(value) AS nvalues, uniq(TraceId) AS ntraces,
       NOT {_IDENTIFIER} AND min(coalesce(isFinite(toFloat64OrNull(value)), 0)) = 1 AS numeric
FROM a GROUP BY scope, ServiceName, SpanName, key
"""

# Text with more values than the cap and than a share of its traces: nearly unique per trace.
_DROPPED: Final = "(NOT numeric AND nvalues > {cap:UInt64} AND nvalues > {share:Float64} * ntraces)"


def dropped_keys(db: str, selection: TraceSelection, selected: str) -> tuple[str, Any]:
    attributes, params = _attributes(db, selection.endpoint, selected)
    return (
        f"""
        WITH a AS ({attributes}), k AS ({_KEYS})
        SELECT scope, ServiceName, SpanName, key, nvalues FROM k WHERE {_DROPPED}
        ORDER BY scope, ServiceName, SpanName, key, nvalues
        """,
        params,
    )


# Numeric keys with more values than the cap are counted in power-of-two buckets.
_LOW: Final = "multiIf(v = 0, 0., v > 0, pow(2, floor(log2(v))), -pow(2, ceil(log2(-v))))"


def values(db: str, selection: TraceSelection, selected: str) -> tuple[str, Any]:
    """(scope, service, span name, key, value, bucketed, low, selected, baseline), at most
    the cap per key: those with the largest share on either side (parameters ``ws``/``wb``:
    the baseline's and the selection's sampled trace counts, the share weights)."""
    attributes, params = _attributes(db, selection.endpoint, selected)
    return (
        f"""
        WITH a AS ({attributes}), k AS ({_KEYS}),
        b AS (
            SELECT a.scope AS scope, a.ServiceName AS ServiceName, a.SpanName AS SpanName,
                   a.key AS key, a.TraceId AS TraceId, a.sel AS sel,
                   k.numeric AND k.nvalues > {{cap:UInt64}} AS bucketed,
                   if(k.numeric, toFloat64OrNull(a.value), NULL) AS v, a.value AS value
            FROM a INNER JOIN k
              ON a.scope = k.scope AND a.ServiceName = k.ServiceName
             AND a.SpanName = k.SpanName AND a.key = k.key
            WHERE NOT (NOT k.numeric AND k.nvalues > {{cap:UInt64}}
                       AND k.nvalues > {{share:Float64}} * k.ntraces)
        ),
        d AS (
            SELECT DISTINCT scope, ServiceName, SpanName, key, {_LOW} AS low, TraceId, sel
            FROM b WHERE bucketed
        ),
        -- (an alias is visible in its own SELECT's WHERE: g's names differ from b's)
        g AS (
            SELECT scope, ServiceName, SpanName, key, false AS in_bucket, value, v AS low,
                   countIf(sel) AS s, countIf(NOT sel) AS b
            FROM b WHERE NOT bucketed
            GROUP BY scope, ServiceName, SpanName, key, value, v
            UNION ALL
            SELECT scope, ServiceName, SpanName, key, true, '', toNullable(low),
                   countIf(sel), countIf(NOT sel)
            FROM d GROUP BY scope, ServiceName, SpanName, key, low
        )
        SELECT scope, ServiceName, SpanName, key, value, in_bucket, low, s, b FROM (
            SELECT *, row_number() OVER (
                PARTITION BY scope, ServiceName, SpanName, key
                ORDER BY greatest(s * {{ws:UInt64}}, b * {{wb:UInt64}}) DESC, value, low
            ) AS r
            FROM g
        ) WHERE r <= {{cap:UInt64}}
        ORDER BY scope, ServiceName, SpanName, key, low, value
        """,
        params,
    )


def latency_extent(db: str, endpoint: Endpoint) -> tuple[str, dict[str, Any]]:
    where, params = anchor_condition(endpoint)
    return (
        f"""
        SELECT count(), countIf(StatusCode = 2), min(Timestamp), max(Timestamp),
               min(Duration), max(Duration), {quantiles_disc("Duration", "[0.5, 0.9, 0.95, 0.99]")}
        FROM {db}.spans WHERE {where}
        """,
        params,
    )


def latency_cells(
    db: str, endpoint: Endpoint, first_ns: int, step_ns: int, per_doubling: int
) -> tuple[str, dict[str, Any]]:
    """(step, bucket, count, errors) of the anchors: the time step from ``first_ns`` and the
    log2 duration bucket (``per_doubling`` per power of two)."""
    where, params = anchor_condition(endpoint)
    return (
        f"""
        SELECT intDiv(Timestamp - {{first:Int64}}, {{step:Int64}}) AS step,
               toInt32(floor(log2(greatest(Duration, 1)) * {{per:UInt32}})) AS bucket,
               count(), countIf(StatusCode = 2)
        FROM {db}.spans WHERE {where}
        GROUP BY step, bucket ORDER BY step, bucket
        """,
        {**params, "first": first_ns, "step": step_ns, "per": per_doubling},
    )


def typical_traces(db: str, endpoint: Endpoint, limit: int) -> tuple[str, dict[str, Any]]:
    """Trace ids of the endpoint, those whose anchor did not fail first, each group by
    distance of its duration from the median of the traces that did not fail (of all of them
    when every one failed): ``duckdb/analysis_sql.typical_traces``."""
    traces, params = _traces(db, endpoint)
    succeeded = quantile_disc("d", "0.5", where="NOT failed")
    return (
        f"""
        WITH (
            SELECT if(countIf(NOT failed) > 0, {succeeded}, {quantile_disc("d", "0.5")})
            FROM ({traces})
        ) AS median
        SELECT {HEX_TRACE_ID} FROM ({traces})
        ORDER BY failed, abs(d - median), TraceId LIMIT {{limit:UInt32}}
        """,
        {**params, "limit": limit},
    )
