"""SQL of the reads over many traces: ``selection_counts``, ``latency_distribution`` and
``typical_traces`` (see ``store.base``). User values are always bound parameters.

``selection_counts`` runs as a few statements over temporary tables of the reading cursor
(dropped with it): the endpoint's traces (``why_traces``), the sampled ones with their side
and a small integer ``t`` standing for the trace id in the later tables (``why_picked``),
their spans (``why_spans``) and the distinct attribute values per trace
(``why_attrs``). Each later count reads the small tables, not ``spans`` again.
"""

# ruff: noqa: S608  # only this module's constant fragments are composed; values are bound

from __future__ import annotations

from typing import Any, Final

from breadcrumbs.store.base import Endpoint
from breadcrumbs.store.selection_rows import SAMPLE_SCALE

HEX_TRACE_ID: Final = "lpad(lower(hex(TraceId)), 32, '0')"


def anchor_condition(endpoint: Endpoint) -> tuple[str, list[Any]]:
    """The WHERE condition of an endpoint's anchor spans (see ``Endpoint``)."""
    where = "Timestamp >= ? AND Timestamp <= ? AND ServiceName = ?"
    params: list[Any] = [endpoint.start_ns, endpoint.end_ns, endpoint.service]
    if endpoint.operation is not None:
        where += " AND SpanName = ?"
        params.append(endpoint.operation)
    else:  # the service's entry spans: server, consumer or root
        where += " AND (SpanKind IN (2, 5) OR ParentSpanId IS NULL)"
    return where, params


def endpoint_traces(endpoint: Endpoint) -> tuple[str, list[Any]]:
    """``why_traces``: one row per trace of the endpoint, its duration and failure."""
    where, params = anchor_condition(endpoint)
    return (
        f"""
        CREATE OR REPLACE TEMP TABLE why_traces AS
        SELECT TraceId, max(Duration) AS d, bool_or(StatusCode = 2) AS failed,
               min(Timestamp) AS t0, max(Timestamp) AS t1, arg_max(SpanName, Duration) AS anchor
        FROM spans WHERE {where} GROUP BY TraceId
        """,
        params,
    )


PERCENTILE: Final = "SELECT quantile_disc(d, ?) FROM why_traces"

# The side of a trace: ``?`` a duration threshold; or its failure.


def band(lower_ns: int | None, upper_ns: int | None) -> tuple[str, list[int]]:
    """A trace's side by its anchor duration ``d``: in [lower, upper), either edge open."""
    parts, values = [], []
    if lower_ns is not None:
        parts.append("d >= ?")
        values.append(lower_ns)
    if upper_ns is not None:
        parts.append("d < ?")
        values.append(upper_ns)
    return f"({' AND '.join(parts) or 'false'})", values


FAILED: Final = "failed"


def same_anchors(selected: str) -> str:
    """Keep in the baseline only the traces whose anchor (the longest anchor span's name) is
    one of the selection's (parameters: the condition's, twice). Without an operation a
    service's traces mix its endpoints; the others (a cheap GET beside the failing POST)
    would rank every attribute of the selected endpoint as a difference. Nothing selected:
    nothing removed."""
    return f"""
    DELETE FROM why_traces WHERE NOT {selected}
      AND anchor NOT IN (SELECT anchor FROM why_traces WHERE {selected})
      AND EXISTS (SELECT 1 FROM why_traces WHERE {selected})
    """


def sides(selected: str) -> str:
    """Traces per side and the time extent of their anchors."""
    return f"""
    SELECT count(*) FILTER (WHERE {selected}), count(*) FILTER (WHERE NOT {selected}),
           min(t0), max(t1)
    FROM why_traces
    """


def pick(selected: str) -> str:
    """``why_picked``: each side sampled at its rate (parameters: the selection's condition
    parameters twice, the selected side's rate, then the baseline's)."""
    return f"""
    CREATE OR REPLACE TEMP TABLE why_picked AS
    SELECT TraceId, (row_number() OVER ())::INTEGER AS t, {selected} AS sel FROM why_traces
    WHERE hash(TraceId) % {SAMPLE_SCALE} < CASE WHEN {selected} THEN ? ELSE ? END
    """


def examples(selected: str) -> str:
    """The newest selected traces' ids (parameters: the condition's, then the limit)."""
    return f"""
    SELECT lpad(lower(hex(TraceId)), 32, '0') FROM why_traces WHERE {selected}
    ORDER BY t1 DESC, TraceId LIMIT ?
    """


PICKED_SIDES: Final = (
    "SELECT count(*) FILTER (WHERE sel), count(*) FILTER (WHERE NOT sel) FROM why_picked"
)

# ``why_spans``: every span of the picked traces starting in [?, ?] (the anchors' extent
# widened by the selection's slack). The join's build side (the picked ids) filters the scan.
PICKED_SPANS: Final = """
CREATE OR REPLACE TEMP TABLE why_spans AS
SELECT p.t, p.sel, s.SpanId, s.ParentSpanId, s.ServiceName, s.SpanName,
       s.ResourceId, s.Duration
FROM spans AS s JOIN why_picked AS p ON s.TraceId = p.TraceId
WHERE s.Timestamp >= ? AND s.Timestamp <= ?
"""

# Per operation: traces, spans, summed duration and summed self time per side. Self time:
# the span's duration minus its children's summed durations, at least 0 (concurrent children
# can sum past their parent; the critical path analysis accounts for overlap exactly).
OPERATIONS: Final = """
WITH c AS (
    SELECT t, ParentSpanId AS SpanId, sum(Duration) AS child
    FROM why_spans WHERE ParentSpanId IS NOT NULL GROUP BY ALL
),
t AS (
    SELECT w.t, w.sel, w.ServiceName, w.SpanName, count(*) AS spans,
           sum(w.Duration) AS total, sum(greatest(w.Duration - coalesce(c.child, 0), 0)) AS self
    FROM why_spans AS w LEFT JOIN c ON w.t = c.t AND w.SpanId = c.SpanId
    GROUP BY ALL
)
SELECT ServiceName, SpanName,
       count(*) FILTER (WHERE sel), count(*) FILTER (WHERE NOT sel),
       coalesce(sum(spans) FILTER (WHERE sel), 0), coalesce(sum(spans) FILTER (WHERE NOT sel), 0),
       coalesce(sum(total) FILTER (WHERE sel), 0), coalesce(sum(total) FILTER (WHERE NOT sel), 0),
       coalesce(sum(self) FILTER (WHERE sel), 0), coalesce(sum(self) FILTER (WHERE NOT sel), 0)
FROM t GROUP BY ServiceName, SpanName
ORDER BY ServiceName, SpanName
"""

# ``why_attrs``: each (scope, service, span name, key, value) once per trace; parameters: the
# span window of ``PICKED_SPANS`` (the nested attribute lists are read once, here) and the
# pattern of keys to leave out. Resource
# attributes come from the small resources table, once per (trace, service, resource);
# service.name is the service itself.
ATTRIBUTES: Final = """
CREATE OR REPLACE TEMP TABLE why_attrs AS
SELECT DISTINCT 'span' AS scope, ServiceName, SpanName, e.key AS key,
       coalesce(e.value, '') AS value, t, sel
FROM (
    SELECT s.ServiceName, s.SpanName, p.t, p.sel, unnest(s.SpanAttributes) AS e
    FROM spans AS s JOIN why_picked AS p ON s.TraceId = p.TraceId
    WHERE s.Timestamp >= $1 AND s.Timestamp <= $2
)
WHERE NOT regexp_matches(e.key, $3)
UNION ALL
SELECT DISTINCT 'resource', w.ServiceName, '', r.key, r.value, w.t, w.sel
FROM (SELECT DISTINCT ServiceName, ResourceId, t, sel FROM why_spans) AS w
JOIN (
    SELECT ResourceId, e.key AS key, coalesce(e.value, '') AS value
    FROM (SELECT ResourceId, unnest(ResourceAttributes) AS e FROM resources)
    WHERE e.key <> 'service.name' AND NOT regexp_matches(e.key, $3)
) AS r ON w.ResourceId = r.ResourceId
"""

# Per key: distinct values and traces (HyperLogLog estimates: they only decide whether a key
# is nearly unique), and whether it is a quantity: every value a finite
# number and the key not named like an identifier (``messaging.message.id``, ``user_id``:
# numbered in sequence, their ranges only tell the time; ports and pids are ids too).
_IDENTIFIER: Final = r"regexp_matches(key, '(^|[._-])(id|uuid|guid|port|pid)$|[a-z]Id$|_id$')"

KEYS: Final = f"""
CREATE OR REPLACE TEMP TABLE why_keys AS
SELECT scope, ServiceName, SpanName, key,
       approx_count_distinct(value) AS nvalues, approx_count_distinct(t) AS ntraces,
       NOT {_IDENTIFIER}
       AND bool_and(coalesce(isfinite(TRY_CAST(value AS DOUBLE)), false)) AS numeric
FROM why_attrs GROUP BY scope, ServiceName, SpanName, key
"""

# A key is dropped when it is text with more values than the cap (parameter 1) and more
# than a share of its traces (parameter 2): nearly unique per trace.
_DROPPED: Final = "(NOT k.numeric AND k.nvalues > ? AND k.nvalues > ? * k.ntraces)"

DROPPED_KEYS: Final = f"""
SELECT k.scope, k.ServiceName, k.SpanName, k.key, k.nvalues FROM why_keys AS k
WHERE {_DROPPED} ORDER BY ALL
"""

# Numeric keys with more values than the cap are counted in power-of-two buckets.
_LOW: Final = """
CASE WHEN v = 0 THEN 0::DOUBLE
     WHEN v > 0 THEN pow(2, floor(log2(v)))
     ELSE -pow(2, ceil(log2(-v))) END
"""

# Parameters: the cap (bucketing), the cap and share (_DROPPED), the baseline's and the
# selection's sampled trace counts (the share weights), and the cap (values kept per key).
VALUES: Final = f"""
WITH b AS (
    SELECT a.scope, a.ServiceName, a.SpanName, a.key, a.t, a.sel,
           k.numeric AND k.nvalues > $1 AS bucketed,
           CASE WHEN k.numeric THEN TRY_CAST(a.value AS DOUBLE) END AS v,
           a.value
    FROM why_attrs AS a JOIN why_keys AS k
      ON a.scope = k.scope AND a.ServiceName = k.ServiceName AND a.SpanName = k.SpanName
     AND a.key = k.key
    WHERE NOT (NOT k.numeric AND k.nvalues > $1 AND k.nvalues > $2 * k.ntraces)
),
d AS (
    SELECT DISTINCT scope, ServiceName, SpanName, key, {_LOW} AS low, t, sel
    FROM b WHERE bucketed
),
g AS (
    SELECT scope, ServiceName, SpanName, key, false AS bucketed, value, v AS low,
           count(*) FILTER (WHERE sel) AS s, count(*) FILTER (WHERE NOT sel) AS b
    FROM b WHERE NOT bucketed GROUP BY ALL
    UNION ALL
    SELECT scope, ServiceName, SpanName, key, true, '', low,
           count(*) FILTER (WHERE sel), count(*) FILTER (WHERE NOT sel)
    FROM d GROUP BY ALL
)
SELECT scope, ServiceName, SpanName, key, value, bucketed, low, s, b FROM g
QUALIFY row_number() OVER (
    PARTITION BY scope, ServiceName, SpanName, key
    ORDER BY greatest(s * $3, b * $4) DESC, value, low
) <= $1
ORDER BY scope, ServiceName, SpanName, key, low, value
"""


def latency_extent(endpoint: Endpoint) -> tuple[str, list[Any]]:
    where, params = anchor_condition(endpoint)
    return (
        f"""
        SELECT count(*), count(*) FILTER (WHERE StatusCode = 2), min(Timestamp), max(Timestamp),
               min(Duration), max(Duration),
               quantile_disc(Duration, [0.5, 0.9, 0.95, 0.99])
        FROM spans WHERE {where}
        """,
        params,
    )


def latency_cells(
    endpoint: Endpoint, first_ns: int, step_ns: int, per_doubling: int
) -> tuple[str, list[Any]]:
    """(step, bucket, count, errors) of the anchors: the time step from ``first_ns`` and the
    log2 duration bucket (``per_doubling`` per power of two)."""
    where, params = anchor_condition(endpoint)
    return (
        f"""
        SELECT (Timestamp - ?) // ? AS step,
               floor(log2(greatest(Duration, 1)) * ?)::INTEGER AS bucket,
               count(*), count(*) FILTER (WHERE StatusCode = 2)
        FROM spans WHERE {where}
        GROUP BY ALL ORDER BY ALL
        """,
        [first_ns, step_ns, per_doubling, *params],
    )


def typical_traces(endpoint: Endpoint, limit: int) -> tuple[str, list[Any]]:
    """Trace ids of the endpoint, those whose anchor did not fail first, each group by
    distance of its duration from the median of the traces that did not fail (of all of them
    when every one failed)."""
    where, params = anchor_condition(endpoint)
    return (
        f"""
        WITH t AS (
            SELECT TraceId, max(Duration) AS d, bool_or(StatusCode = 2) AS failed
            FROM spans WHERE {where} GROUP BY TraceId
        ),
        m AS (
            SELECT coalesce(quantile_disc(d, 0.5) FILTER (WHERE NOT failed),
                            quantile_disc(d, 0.5)) AS median
            FROM t
        )
        SELECT {HEX_TRACE_ID} FROM t, m ORDER BY failed, abs(d - median), TraceId LIMIT ?
        """,
        [*params, limit],
    )
