"""SQL of the kept RED aggregates (``span_metrics``, schema v8; rows as ``analysis.red``).

Quantiles are read from the merged log-bucket histogram of each step and series: the first
bucket whose running count reaches ``q`` of the total, as its geometric middle (the same rule
as ``analysis.red.quantile_bucket``, whose tests are the reference).
"""

from __future__ import annotations

from typing import Any, Final

from breadcrumbs.analysis.red import BUCKETS_PER_OCTAVE, MINUTE_NS
from breadcrumbs.store.base import RedQuery

UPSERT: Final = """
INSERT INTO span_metrics SELECT * FROM span_metrics_in
ON CONFLICT DO UPDATE SET
    Calls = Calls + EXCLUDED.Calls,
    Errors = Errors + EXCLUDED.Errors,
    DurationSum = DurationSum + EXCLUDED.DurationSum
"""

DELETE_BEFORE: Final = "DELETE FROM span_metrics WHERE Minute < ?"


def red_query(query: RedQuery) -> tuple[str, list[Any]]:
    start = query.start_ns - query.start_ns % MINUTE_NS
    step = query.step_ns
    window = query.window_ns if query.window_ns is not None else step
    conditions = ["Minute >= ?", "Minute < ?"]
    where: list[Any] = [start + step - window, query.end_ns + step]
    if query.services:
        conditions.append("list_contains(?::VARCHAR[], ServiceName)")
        where.append(list(query.services))
    if query.operation is not None:
        conditions.append("SpanName = ?")
        where.append(query.operation)
    if query.span_kinds:
        conditions.append("list_contains(?::TINYINT[], SpanKind)")
        where.append([int(kind) for kind in query.span_kinds])
    name = "SpanName" if query.by_operation else "''"
    kind = "SpanKind" if query.by_kind else "CAST(-1 AS TINYINT)"
    if window == step:  # disjoint steps: each minute row falls in one step
        source = f"""
        SELECT ? + (Minute - ?) // ? * ? AS Step, * FROM span_metrics
        WHERE {" AND ".join(conditions)}
        """  # noqa: S608  # fixed fragments only; every value is a parameter
        source_params: list[Any] = [start, start, step, step, *where]
    else:  # sliding windows: a minute row counts in every step whose window holds it
        source = f"""
        SELECT p.Step, m.* FROM (
            SELECT * FROM span_metrics WHERE {" AND ".join(conditions)}
        ) AS m JOIN (SELECT unnest(range(?, ?, ?)) AS Step) AS p
          ON m.Minute >= p.Step + ? AND m.Minute < p.Step + ?
        """  # noqa: S608  # fixed fragments only; every value is a parameter
        source_params = [*where, start, query.end_ns, step, step - window, step]
    series = "Step, ServiceName, SpanName, SpanKind"
    quantiles = ", ".join(
        f"2 ** ((min(Bucket) FILTER (WHERE Cum >= ? * Total) + 0.5) / {BUCKETS_PER_OCTAVE:d})"
        for _ in query.quantiles
    )
    text = f"""
    WITH s AS ({source}), b AS (
        SELECT Step, ServiceName, {name} AS SpanName, {kind} AS SpanKind, Bucket,
               sum(Calls) AS Calls, sum(Errors) AS Errors, sum(DurationSum) AS DurationSum
        FROM s WHERE Step < ? GROUP BY ALL
    ), c AS (
        SELECT *, sum(Calls) OVER (PARTITION BY {series} ORDER BY Bucket) AS Cum,
               sum(Calls) OVER (PARTITION BY {series}) AS Total
        FROM b
    )
    SELECT Step, ServiceName, SpanName, SpanKind, sum(Calls)::BIGINT AS Calls,
           sum(Errors)::BIGINT AS Errors, sum(DurationSum)::BIGINT AS DurationSum,
           [{quantiles}]::DOUBLE[] AS Quantiles
    FROM c GROUP BY ALL ORDER BY ServiceName, SpanName, SpanKind, Step
    """  # noqa: S608  # fixed fragments only; every value is a parameter
    # Parameters in the text's order: the source, the step bound, then the quantiles.
    return text, [*source_params, query.end_ns, *query.quantiles]
