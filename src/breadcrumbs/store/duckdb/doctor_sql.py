"""SQL of the trace doctor's reads (``base.DoctorWindow``): aggregates over one time range.

Every statement reads only spans starting in the window, or within its margin where a span's
parent or children are looked for; every answer is grouped and bounded by ``max_rows``.
User values (times, the id pattern, limits) are bound parameters; the constant fragments
below are the only text composed in.
"""

# S608: only this module's constant fragments are composed into statements; values are bound.
# ruff: noqa: S608

from __future__ import annotations

from typing import Any, Final

from breadcrumbs.store.base import DoctorWindow
from breadcrumbs.store.duckdb.sql import attribute

_HEX_TRACE: Final = "lpad(lower(hex(TraceId)), 32, '0')"
_ERROR: Final = 2
_SAMPLED: Final = "TraceState LIKE '%ot=%th:%'"


def _window(window: DoctorWindow) -> list[Any]:
    return [window.start_ns, window.end_ns]


def operation_profile(window: DoctorWindow) -> tuple[str, list[Any]]:
    text = f"""
    SELECT ServiceName, regexp_replace(SpanName, $3, '{{id}}', 'g') AS NameTemplate, SpanKind,
           approx_count_distinct(SpanName)::BIGINT AS Names,
           min(SpanName) AS FirstName, max(SpanName) AS LastName,
           count(*)::BIGINT AS Spans, approx_count_distinct(TraceId)::BIGINT AS Traces,
           count_if(StatusCode = {_ERROR})::BIGINT AS Errors,
           count_if(ParentSpanId IS NULL)::BIGINT AS Roots,
           count_if(ParentSpanId IS NULL AND len(Links) > 0)::BIGINT AS LinkedRoots,
           any_value({attribute("SpanAttributes", "http.route")}) AS Route,
           any_value({attribute("SpanAttributes", "http.request.method")}) AS Method,
           any_value({attribute("SpanAttributes", "db.system")}) AS DbSystem,
           count_if({_SAMPLED})::BIGINT AS SampledSpans,
           any_value(TraceState) FILTER (WHERE {_SAMPLED}) AS SampledState,
           count_if({_SAMPLED} AND StatusCode = {_ERROR})::BIGINT AS ErrorsSampled,
           quantile_disc(Duration, 0.5) AS P50Ns, quantile_disc(Duration, 0.99) AS P99Ns,
           arg_max({_HEX_TRACE}, Timestamp) AS Example
    FROM spans
    WHERE Timestamp >= $1 AND Timestamp < $2
    GROUP BY ALL
    ORDER BY Spans DESC, ServiceName, NameTemplate
    LIMIT $4
    """
    return text, [*_window(window), window.id_pattern, window.max_rows]


def parent_profile(window: DoctorWindow) -> tuple[str, list[Any]]:
    # $1..$2: the settled part of the window (children judged); $3..$4: where parents are
    # looked for; $5: the skew tolerance; $6: the row bound; $7: before it, a trace whose
    # root has not arrived is complete anyway (its root is not merely still running).
    text = f"""
    WITH c AS (
        SELECT TraceId, ParentSpanId, ServiceName, SpanName, SpanKind, Timestamp, Duration,
               ResourceId
        FROM spans
        WHERE Timestamp >= $1 AND Timestamp < $2 AND ParentSpanId IS NOT NULL
    ),
    p AS (
        SELECT TraceId, SpanId, ServiceName, SpanKind, Timestamp, Duration, ResourceId
        FROM spans
        WHERE Timestamp >= $3 AND Timestamp < $4
          AND TraceId IN (SELECT TraceId FROM c)
    ),
    r AS (
        SELECT DISTINCT TraceId FROM spans
        WHERE Timestamp >= $3 AND Timestamp < $4 AND ParentSpanId IS NULL
          AND TraceId IN (SELECT TraceId FROM c)
    ),
    hosts AS (
        SELECT ResourceId, {attribute("ResourceAttributes", "host.name")} AS Host
        FROM resources
    ),
    j AS (
        SELECT c.* EXCLUDE (ResourceId), p.ServiceName AS ParentService,
               p.SpanKind AS ParentKind, h.Host, ph.Host AS ParentHost,
               r.TraceId IS NOT NULL OR c.Timestamp < $7 AS Complete,
               p.Timestamp - c.Timestamp AS Before,
               c.Timestamp - (p.Timestamp + p.Duration) AS After,
               p.ServiceName IS NOT NULL
                   AND (p.ServiceName <> c.ServiceName OR h.Host <> ph.Host) AS Remote
        FROM c LEFT JOIN p ON p.TraceId = c.TraceId AND p.SpanId = c.ParentSpanId
               LEFT JOIN r ON r.TraceId = c.TraceId
               LEFT JOIN hosts h ON h.ResourceId = c.ResourceId
               LEFT JOIN hosts ph ON ph.ResourceId = p.ResourceId
    )
    SELECT ServiceName, SpanName, SpanKind, ParentService, ParentKind, Host, ParentHost,
           count(*)::BIGINT AS Spans,
           count_if(Complete)::BIGINT AS InCompleteTraces,
           count_if(Remote AND Before > $5)::BIGINT AS StartsBefore,
           count_if(Remote AND ParentKind = 3 AND After > $5)::BIGINT AS StartsAfter,
           coalesce(max(Before) FILTER (WHERE Remote), 0) AS MaxBeforeNs,
           coalesce(max(After) FILTER (WHERE Remote AND ParentKind = 3), 0) AS MaxAfterNs,
           arg_max({_HEX_TRACE}, Timestamp) AS Example
    FROM j
    GROUP BY ALL
    ORDER BY Spans DESC
    LIMIT $6
    """
    return text, [
        window.start_ns,
        _settled(window),
        window.start_ns - window.margin_ns,
        window.end_ns + window.margin_ns,
        window.tolerance_ns,
        window.max_rows,
        window.end_ns - window.margin_ns,
    ]


def _settled(window: DoctorWindow) -> int:
    return max(window.start_ns, window.end_ns - window.settle_ns)


def call_profile(window: DoctorWindow) -> tuple[str, list[Any]]:
    text = f"""
    WITH s AS (
        SELECT TraceId, SpanId, ServiceName, SpanName, SpanKind, Timestamp, Duration,
               {attribute("SpanAttributes", "peer.service")} AS PeerService,
               coalesce({attribute("SpanAttributes", "server.address")},
                        {attribute("SpanAttributes", "net.peer.name")}) AS Host,
               coalesce({attribute("SpanAttributes", "server.port")},
                        {attribute("SpanAttributes", "net.peer.port")}) AS Port,
               coalesce({attribute("SpanAttributes", "db.system")},
                        {attribute("SpanAttributes", "messaging.system")}) AS System
        FROM spans
        WHERE Timestamp >= $1 AND Timestamp < $2 AND SpanKind IN (2, 3, 4)
    ),
    k AS (
        SELECT TraceId, ParentSpanId, sum(Duration)::BIGINT AS ChildNs FROM spans
        WHERE Timestamp >= $3 AND Timestamp < $4 AND ParentSpanId IS NOT NULL
          AND TraceId IN (SELECT TraceId FROM s)
        GROUP BY ALL
    )
    SELECT s.ServiceName, s.SpanName, s.SpanKind, s.PeerService, s.Host, s.Port, s.System,
           count(*)::BIGINT AS Spans, count_if(k.ChildNs IS NULL)::BIGINT AS Childless,
           quantile_disc(greatest(s.Duration - coalesce(k.ChildNs, 0), 0), 0.5)::BIGINT
               AS SelfP50Ns,
           quantile_disc(s.Duration, 0.5) AS DurationP50Ns,
           coalesce(arg_max(lpad(lower(hex(s.TraceId)), 32, '0'), s.Timestamp)
                        FILTER (WHERE k.ChildNs IS NULL),
                    arg_max(lpad(lower(hex(s.TraceId)), 32, '0'), s.Timestamp)) AS Example
    FROM s LEFT JOIN k ON k.TraceId = s.TraceId AND k.ParentSpanId = s.SpanId
    GROUP BY ALL
    ORDER BY Spans DESC
    LIMIT $5
    """
    return text, [
        window.start_ns,
        _settled(window),
        window.start_ns - window.margin_ns,
        window.end_ns + window.margin_ns,
        window.max_rows,
    ]


def root_profile(window: DoctorWindow) -> tuple[str, list[Any]]:
    text = f"""
    WITH t AS (
        SELECT TraceId, count(*)::BIGINT AS Roots,
               list_sort(list(DISTINCT ServiceName)) AS Services, max(Timestamp) AS Newest
        FROM spans
        WHERE Timestamp >= $1 AND Timestamp < $2 AND ParentSpanId IS NULL
        GROUP BY TraceId
        HAVING count(*) > 1
    )
    SELECT Services AS RootServices, count(*)::BIGINT AS Traces, max(Roots)::BIGINT AS MaxRoots,
           arg_max({_HEX_TRACE}, Newest) AS Example
    FROM t
    GROUP BY ALL
    ORDER BY Traces DESC
    LIMIT $3
    """
    return text, [*_window(window), window.max_rows]


def attribute_profile(window: DoctorWindow) -> tuple[str, list[Any]]:
    text = f"""
    WITH a AS (
        SELECT ServiceName, TraceId, unnest(SpanAttributes) AS e FROM spans
        WHERE Timestamp >= $1 AND Timestamp < $2 AND TraceId % $5 = 0
    )
    SELECT ServiceName, regexp_replace(e.key, $3, '{{id}}', 'g') AS KeyTemplate,
           approx_count_distinct(e.key)::BIGINT AS Keys, min(e.key) AS ExampleKey,
           count(*)::BIGINT AS Spans, approx_count_distinct(e.value)::BIGINT AS "Values",
           max(length(e.value))::BIGINT AS MaxLength,
           arg_max({_HEX_TRACE}, length(e.value)) AS Example
    FROM a
    GROUP BY ALL
    ORDER BY Spans DESC, ServiceName, KeyTemplate
    LIMIT $4
    """
    return text, [*_window(window), window.id_pattern, window.max_rows, window.attribute_traces]
