"""ClickHouse SQL of the trace doctor's reads (``base.DoctorWindow``), the same answers as
the DuckDB engine's ``duckdb/doctor_sql.py``: aggregates over one time range, bounded by
``max_rows``. A missing attribute is NULL (``attribute``), as in the DuckDB engine, and the
left joins run with ``join_use_nulls`` so a span without a parent has NULL parent columns.
"""

# S608: only the checked database name and this module's constants are composed in.
# ruff: noqa: S608

from __future__ import annotations

from typing import Any, Final

from breadcrumbs.store.base import DoctorWindow
from breadcrumbs.store.clickhouse.analysis_sql import quantile_disc

_HEX_TRACE: Final = "lower(hex(TraceId))"
_ERROR: Final = 2
_SAMPLED: Final = "like(TraceState, '%ot=%th:%')"


def attribute(column: str, key: str) -> str:
    """The value of a constant ``key`` in a map column, NULL when absent."""
    return f"if(mapContains({column}, '{key}'), {column}['{key}'], NULL)"


def _window(window: DoctorWindow) -> dict[str, Any]:
    return {"w_start": window.start_ns, "w_end": window.end_ns, "rows": window.max_rows}


def _settled(window: DoctorWindow) -> int:
    return max(window.start_ns, window.end_ns - window.settle_ns)


def operation_profile(db: str, window: DoctorWindow) -> tuple[str, dict[str, Any]]:
    text = f"""
    SELECT toString(ServiceName) AS ServiceName,
           replaceRegexpAll(toString(SpanName), {{pattern:String}}, '{{id}}') AS NameTemplate,
           SpanKind, toInt64(uniq(SpanName)) AS Names,
           toString(min(SpanName)) AS FirstName, toString(max(SpanName)) AS LastName,
           toInt64(count()) AS Spans, toInt64(uniq(TraceId)) AS Traces,
           toInt64(countIf(StatusCode = {_ERROR})) AS Errors,
           toInt64(countIf(ParentSpanId = 0)) AS Roots,
           toInt64(countIf(ParentSpanId = 0 AND length(Links) > 0)) AS LinkedRoots,
           any({attribute("SpanAttributes", "http.route")}) AS Route,
           any({attribute("SpanAttributes", "http.request.method")}) AS Method,
           any({attribute("SpanAttributes", "db.system")}) AS DbSystem,
           toInt64(countIf({_SAMPLED})) AS SampledSpans,
           any(if({_SAMPLED}, TraceState, NULL)) AS SampledState,
           toInt64(countIf({_SAMPLED} AND StatusCode = {_ERROR})) AS ErrorsSampled,
           {quantile_disc("Duration", "0.5")} AS P50Ns,
           {quantile_disc("Duration", "0.99")} AS P99Ns,
           argMax({_HEX_TRACE}, Timestamp) AS Example
    FROM {db}.spans
    WHERE Timestamp >= {{w_start:Int64}} AND Timestamp < {{w_end:Int64}}
    GROUP BY ServiceName, NameTemplate, SpanKind
    ORDER BY Spans DESC, ServiceName, NameTemplate
    LIMIT {{rows:UInt64}}
    """
    return text, {**_window(window), "pattern": window.id_pattern}


def _relatives(window: DoctorWindow) -> dict[str, Any]:
    """The settled part of the window (spans judged) and where relatives are looked for."""
    return {
        "w_start": window.start_ns,
        "settled": _settled(window),
        "m_start": window.start_ns - window.margin_ns,
        "m_end": window.end_ns + window.margin_ns,
        "rows": window.max_rows,
    }


def parent_profile(db: str, window: DoctorWindow) -> tuple[str, dict[str, Any]]:
    # ``old``: before it, a trace whose root has not arrived is complete anyway (its root
    # is not merely still running).
    text = f"""
    WITH c AS (
        SELECT TraceId, ParentSpanId, toString(ServiceName) AS ServiceName,
               toString(SpanName) AS SpanName, SpanKind, Timestamp, Duration,
               {attribute("ResourceAttributes", "host.name")} AS Host
        FROM {db}.spans
        WHERE Timestamp >= {{w_start:Int64}} AND Timestamp < {{settled:Int64}}
          AND ParentSpanId != 0
    ),
    p AS (
        SELECT TraceId, SpanId, toString(ServiceName) AS ServiceName, SpanKind, Timestamp,
               Duration, {attribute("ResourceAttributes", "host.name")} AS Host
        FROM {db}.spans
        WHERE Timestamp >= {{m_start:Int64}} AND Timestamp < {{m_end:Int64}}
          AND TraceId IN (SELECT TraceId FROM c)
    ),
    r AS (
        SELECT DISTINCT TraceId, 1 AS found FROM {db}.spans
        WHERE Timestamp >= {{m_start:Int64}} AND Timestamp < {{m_end:Int64}}
          AND ParentSpanId = 0 AND TraceId IN (SELECT TraceId FROM c)
    ),
    j AS (
        SELECT c.TraceId AS TraceId, c.ServiceName AS ServiceName, c.SpanName AS SpanName,
               c.SpanKind AS SpanKind, c.Timestamp AS Timestamp,
               p.ServiceName AS ParentService, p.SpanKind AS ParentKind,
               c.Host AS Host, p.Host AS ParentHost,
               r.found IS NOT NULL OR c.Timestamp < {{old:Int64}} AS Complete,
               p.Timestamp - c.Timestamp AS Before,
               c.Timestamp - (p.Timestamp + p.Duration) AS After,
               coalesce(p.ServiceName != c.ServiceName OR c.Host != p.Host, false) AS Remote
        FROM c LEFT JOIN p ON p.TraceId = c.TraceId AND p.SpanId = c.ParentSpanId
               LEFT JOIN r ON r.TraceId = c.TraceId
    )
    SELECT ServiceName, SpanName, SpanKind, ParentService, ParentKind, Host, ParentHost,
           toInt64(count()) AS Spans,
           toInt64(countIf(Complete)) AS InCompleteTraces,
           toInt64(countIf(Remote AND Before > {{tolerance:Int64}})) AS StartsBefore,
           toInt64(countIf(Remote AND ParentKind = 3 AND After > {{tolerance:Int64}}))
               AS StartsAfter,
           toInt64(coalesce(maxIf(Before, Remote), 0)) AS MaxBeforeNs,
           toInt64(coalesce(maxIf(After, Remote AND ParentKind = 3), 0)) AS MaxAfterNs,
           argMax({_HEX_TRACE}, Timestamp) AS Example
    FROM j
    GROUP BY ServiceName, SpanName, SpanKind, ParentService, ParentKind, Host, ParentHost
    ORDER BY Spans DESC
    LIMIT {{rows:UInt64}}
    SETTINGS join_use_nulls = 1
    """
    return text, {
        **_relatives(window),
        "tolerance": window.tolerance_ns,
        "old": window.end_ns - window.margin_ns,
    }


def call_profile(db: str, window: DoctorWindow) -> tuple[str, dict[str, Any]]:
    def first(*keys: str) -> str:
        return "coalesce(" + ", ".join(attribute("SpanAttributes", k) for k in keys) + ")"

    text = f"""
    WITH s AS (
        SELECT TraceId, SpanId, toString(ServiceName) AS ServiceName,
               toString(SpanName) AS SpanName, SpanKind, Timestamp, Duration,
               {attribute("SpanAttributes", "peer.service")} AS PeerService,
               {first("server.address", "net.peer.name")} AS Host,
               {first("server.port", "net.peer.port")} AS Port,
               {first("db.system", "messaging.system")} AS System
        FROM {db}.spans
        WHERE Timestamp >= {{w_start:Int64}} AND Timestamp < {{settled:Int64}}
          AND SpanKind IN (2, 3, 4)
    ),
    k AS (
        SELECT TraceId, ParentSpanId, sum(Duration) AS ChildNs FROM {db}.spans
        WHERE Timestamp >= {{m_start:Int64}} AND Timestamp < {{m_end:Int64}}
          AND ParentSpanId != 0 AND TraceId IN (SELECT TraceId FROM s)
        GROUP BY TraceId, ParentSpanId
    ),
    j AS (
        SELECT s.*, k.ChildNs IS NULL AS NoChild,
               greatest(s.Duration - coalesce(k.ChildNs, 0), 0) AS SelfNs
        FROM s LEFT JOIN k ON k.TraceId = s.TraceId AND k.ParentSpanId = s.SpanId
    )
    SELECT ServiceName, SpanName, SpanKind, PeerService, Host, Port, System,
           toInt64(count()) AS Spans, toInt64(countIf(NoChild)) AS Childless,
           toInt64({quantile_disc("SelfNs", "0.5")}) AS SelfP50Ns,
           {quantile_disc("Duration", "0.5")} AS DurationP50Ns,
           if(countIf(NoChild) > 0, argMaxIf({_HEX_TRACE}, Timestamp, NoChild),
              argMax({_HEX_TRACE}, Timestamp)) AS Example
    FROM j
    GROUP BY ServiceName, SpanName, SpanKind, PeerService, Host, Port, System
    ORDER BY Spans DESC
    LIMIT {{rows:UInt64}}
    SETTINGS join_use_nulls = 1
    """
    return text, _relatives(window)


def root_profile(db: str, window: DoctorWindow) -> tuple[str, dict[str, Any]]:
    text = f"""
    WITH t AS (
        SELECT TraceId, toInt64(count()) AS Roots,
               arraySort(groupUniqArray(toString(ServiceName))) AS Services,
               max(Timestamp) AS Newest
        FROM {db}.spans
        WHERE Timestamp >= {{w_start:Int64}} AND Timestamp < {{w_end:Int64}}
          AND ParentSpanId = 0
        GROUP BY TraceId
        HAVING count() > 1
    )
    SELECT Services AS RootServices, toInt64(count()) AS Traces, max(Roots) AS MaxRoots,
           argMax({_HEX_TRACE}, Newest) AS Example
    FROM t
    GROUP BY Services
    ORDER BY Traces DESC
    LIMIT {{rows:UInt64}}
    """
    return text, _window(window)


def attribute_profile(db: str, window: DoctorWindow) -> tuple[str, dict[str, Any]]:
    # 1 in n traces by the 128-bit id modulo n, as the DuckDB engine picks them (the id's
    # bytes are big-endian; reinterpretAsUInt128 reads little-endian).
    text = f"""
    SELECT toString(ServiceName) AS ServiceName,
           replaceRegexpAll(toString(key), {{pattern:String}}, '{{id}}') AS KeyTemplate,
           toInt64(uniq(key)) AS Keys, toString(min(key)) AS ExampleKey,
           toInt64(count()) AS Spans, toInt64(uniq(value)) AS `Values`,
           toInt64(max(lengthUTF8(value))) AS MaxLength,
           argMax({_HEX_TRACE}, lengthUTF8(value)) AS Example
    FROM {db}.spans
    ARRAY JOIN mapKeys(SpanAttributes) AS key, mapValues(SpanAttributes) AS value
    WHERE Timestamp >= {{w_start:Int64}} AND Timestamp < {{w_end:Int64}}
      AND reinterpretAsUInt128(reverse(TraceId)) % {{every:UInt64}} = 0
    GROUP BY ServiceName, KeyTemplate
    ORDER BY Spans DESC, ServiceName, KeyTemplate
    LIMIT {{rows:UInt64}}
    """
    return text, {
        **_window(window),
        "pattern": window.id_pattern,
        "every": window.attribute_traces,
    }
