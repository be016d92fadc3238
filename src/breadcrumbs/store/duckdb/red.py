"""SQL of the kept RED aggregates: one table per level (``span_metrics_1m``, ``_5m``, ``_1h``;
schema v9; rows as ``analysis.red.AGGREGATE_SCHEMA``).

- **Write** (the span metrics stage's flush): the flush's rows are appended to every level in
  one transaction with the WAL sequence they cover (a flush's minute rows rolled up in Arrow
  for the coarser levels). Appends only, so a write never reads or rewrites earlier rows; a
  level may hold several rows of one key for a while (flushes, late spans).
- **Compaction** (``DuckDBStore.compact_span_metrics``, in the background): the buckets
  written since the last pass are read, merged (``analysis.red.merge``: exact addition) and
  replaced by one row per key, in one transaction: a SIGKILL leaves the rows before or after
  it, both the same sums. Queries add up rows of one key anyway, so they never depend on it.
- **Query** (``red_query``): the scans ``store.red_levels`` plans (each instant of a step
  from the coarsest level that fits), unordered; ``analysis.red.summarize`` groups them, adds
  up their histograms and reads the quantiles in numpy.
- **Retention** per level (``base.RED_LEVELS``): old rows of a fine level go first; a query
  over times a fine level no longer holds reads what the coarser levels hold.
"""

from __future__ import annotations

from typing import Any, Final

from breadcrumbs.analysis.red import LEVELS_NS, MINUTE_NS
from breadcrumbs.store.base import RedQuery
from breadcrumbs.store.red_levels import RedSteps, disjoint_scans, sliding_level

_SUFFIX: Final = {MINUTE_NS: "1m", 5 * MINUTE_NS: "5m", 60 * MINUTE_NS: "1h"}


def table(resolution_ns: int) -> str:
    return f"span_metrics_{_SUFFIX[resolution_ns]}"


TABLES: Final = tuple(table(level) for level in LEVELS_NS)
KEY: Final = "Time, ServiceName, SpanName, SpanKind, StatusCode"

CREATE: Final = tuple(
    f"""
    CREATE TABLE IF NOT EXISTS {name} (
        Time BIGINT NOT NULL,
        ServiceName VARCHAR NOT NULL,
        SpanName VARCHAR NOT NULL,
        SpanKind TINYINT NOT NULL,
        StatusCode TINYINT NOT NULL,
        Spans BIGINT NOT NULL,
        Calls DOUBLE NOT NULL,
        Errors DOUBLE NOT NULL,
        DurationSum DOUBLE NOT NULL,
        Buckets SMALLINT[] NOT NULL,
        Counts DOUBLE[] NOT NULL
    )
    """
    for name in TABLES
)


def from_v8(resolution_ns: int) -> str:
    """The v8 per-bucket rows at ``resolution_ns`` (v8 kept no status: status Unset, the
    errors kept as counted)."""
    return f"""
    INSERT INTO {table(resolution_ns)}
    SELECT Time, ServiceName, SpanName, SpanKind, 0::TINYINT, sum(Calls)::BIGINT,
           sum(Calls)::DOUBLE, sum(Errors)::DOUBLE, sum(DurationSum)::DOUBLE,
           list(Bucket ORDER BY Bucket), list(Calls::DOUBLE ORDER BY Bucket)
    FROM (
        SELECT Minute // {resolution_ns:d} * {resolution_ns:d} AS Time, ServiceName, SpanName,
               SpanKind, Bucket, sum(Calls) AS Calls, sum(Errors) AS Errors,
               sum(DurationSum) AS DurationSum
        FROM span_metrics GROUP BY ALL
    ) GROUP BY Time, ServiceName, SpanName, SpanKind
    """  # noqa: S608  # table names and integers from constants only


def append(name: str) -> str:
    return f"INSERT INTO {name} SELECT * FROM span_metrics_in"  # noqa: S608


def rows_at(name: str) -> str:
    """Every row of the listed bucket starts (bounds first, for the zone maps)."""
    return (
        f"SELECT * FROM {name} WHERE Time >= ? AND Time <= ? "  # noqa: S608
        "AND list_contains(?::BIGINT[], Time)"
    )


def delete_at(name: str) -> str:
    return (
        f"DELETE FROM {name} WHERE Time >= ? AND Time <= ? "  # noqa: S608
        "AND list_contains(?::BIGINT[], Time)"
    )


def duplicated_times(name: str) -> str:
    """Bucket starts holding more than one row of a key (after a restart: which to compact)."""
    return f"""
    SELECT DISTINCT Time FROM (SELECT {KEY}, count(*) AS n FROM {name} GROUP BY ALL)
    WHERE n > 1 ORDER BY Time
    """  # noqa: S608


def delete_before(name: str) -> str:
    return f"DELETE FROM {name} WHERE Time < ?"  # noqa: S608


def _filters(query: RedQuery) -> tuple[list[str], dict[str, Any]]:
    conditions: list[str] = []
    params: dict[str, Any] = {}
    if query.services:
        conditions.append("list_contains($services::VARCHAR[], ServiceName)")
        params["services"] = list(query.services)
    if query.operation is not None:
        conditions.append("SpanName = $operation")
        params["operation"] = query.operation
    if query.span_kinds:
        conditions.append("list_contains($kinds::TINYINT[], SpanKind)")
        params["kinds"] = [int(kind) for kind in query.span_kinds]
    return conditions, params


def _fits(time: str, resolution_ns: int) -> str:
    """SQL: the row of ``resolution_ns`` starting at ``time`` lies inside one step."""
    return (
        f"({time} >= $start AND {time} + {resolution_ns:d} <= "
        f"$start + (({time} - $start) // $step + 1) * $step)"
    )


def red_query(query: RedQuery) -> tuple[str, dict[str, Any]]:
    """The aggregate rows a query adds up, with their ``Step``, for
    ``analysis.red.summarize`` (which groups them: no ORDER BY of rows holding lists)."""
    steps = RedSteps.of(query)
    conditions, params = _filters(query)
    params |= {"start": steps.start, "step": steps.step}
    name = "SpanName" if query.by_operation else "''"
    kind = "SpanKind" if query.by_kind else "CAST(-1 AS TINYINT)"
    columns = (
        f"ServiceName, {name} AS SpanName, {kind} AS SpanKind, Spans, Calls, Errors, "
        "DurationSum, Buckets, Counts"
    )
    if not steps.sliding:
        scans = []
        for scan in disjoint_scans(steps):
            used = [*([] if scan.aligned else [_fits("Time", scan.level)]), *conditions]
            if scan.parent is not None:
                used.append(f"NOT {_fits(f'(Time - Time % {scan.parent:d})', scan.parent)}")
            where = " AND ".join([f"Time >= {scan.lo:d}", f"Time < {scan.hi:d}", *used])
            scans.append(  # fixed fragments only; every value is a parameter or a constant
                f"SELECT $start + (Time - $start) // $step * $step AS Step, {columns} "  # noqa: S608
                f"FROM {table(scan.level)} WHERE {where}"
            )
        source = "\nUNION ALL\n".join(scans)
    else:  # sliding windows: a row counts in every step whose window holds it
        params |= {
            "first": steps.start + steps.step - steps.window,
            "stop": steps.stop,
            "last_step": steps.stop - steps.step,
            "before": steps.step - steps.window,
        }
        where = " AND ".join(["Time >= $first", "Time < $stop", *conditions])
        level = table(sliding_level(steps))
        source = f"""
        SELECT p.Step, {columns} FROM (SELECT * FROM {level} WHERE {where}) AS m
        JOIN (SELECT unnest(range($start, $last_step + 1, $step)) AS Step) AS p
          ON m.Time >= p.Step + $before AND m.Time < p.Step + $step
        """  # noqa: S608  # fixed fragments only; every value is a parameter
    return source, params
