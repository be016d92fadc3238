"""The OpenTelemetry Collector ClickHouse exporter's tables, seen as breadcrumbs' span layout.

The exporter (``exporter/clickhouseexporter`` of opentelemetry-collector-contrib,
``internal/sql_templates/traces_table.sql`` and ``traces_id_ts_lookup_*.sql``) writes:

- ``otel_traces``: ``Timestamp DateTime64(9)``, ``TraceId``/``SpanId``/``ParentSpanId``
  lowercase hex ``String`` ("" for a root's parent), ``TraceState``, ``SpanName``,
  ``SpanKind`` and ``StatusCode`` as the proto's enum names (``SPAN_KIND_SERVER``,
  ``STATUS_CODE_ERROR``: ``traceutil.SpanKindStr``; pdata's newer ``Server``/``Error`` read
  too), ``ServiceName``,
  ``ResourceAttributes``/``SpanAttributes`` ``Map(LowCardinality(String), String)`` (every
  value as text: the exporter drops the OTLP types), ``ScopeName``/``ScopeVersion`` (newer
  exporters; older ones put ``otel.scope.name`` in the span attributes), ``Duration`` ns
  (``UInt64``, ``Int64`` in older ones), ``StatusMessage``, ``Events`` and ``Links`` as
  ``Nested`` columns; ordered by ``(ServiceName, SpanName, toDateTime(Timestamp))``.
- ``otel_traces_trace_id_ts``: ``TraceId`` -> ``Start``/``End`` (``DateTime``, whole seconds;
  ``DateTime64(9)`` in older exporters), filled by a materialized view.

``MAPPED`` renders one row of it as breadcrumbs' ``spans`` table (ns ``Int64`` times, binary
ids, kind and status as the OTLP integers, attribute type codes all ``s``), so every SQL text
of the ClickHouse engine reads it unchanged once its table names are replaced (``rewrite``);
get-trace and search have their own texts here, on the raw columns, so the exporter's bloom
filter on ``TraceId`` and its sort key prune as they do for the exporter's own queries.
"""

# S608: only checked identifiers (database, table) are formatted in; values are bound.
# ruff: noqa: S608

from __future__ import annotations

from typing import Any, Final

from breadcrumbs.store.base import TagFilter, TraceQuery

PLACEHOLDER_DB: Final = "`__otel__`"
"""The database name the engine's SQL is written with; ``rewrite`` replaces its tables."""

_KIND: Final = (
    "transform(replaceOne(upper(toString(t.SpanKind)), 'SPAN_KIND_', ''), "
    "['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'], "
    "[0, 1, 2, 3, 4, 5], 0)"
)
_STATUS: Final = (
    "transform(replaceOne(upper(toString(t.StatusCode)), 'STATUS_CODE_', ''), "
    "['UNSET', 'OK', 'ERROR'], [0, 1, 2], 0)"
)
_EVENTS: Final = (
    "arrayMap((ts, n, a) -> CAST(tuple(toUnixTimestamp64Nano(ts), toString(n), "
    "CAST(a, 'Map(String, String)'), repeat('s', length(a))), 'Tuple(Timestamp Int64, "
    "Name String, Attributes Map(String, String), AttributeTypes String)'), "
    "t.`Events.Timestamp`, t.`Events.Name`, t.`Events.Attributes`)"
)
_LINKS: Final = (
    "arrayMap((i, s, st, a) -> CAST(tuple(lower(i), lower(s), st, CAST(a, 'Map(String, "
    "String)'), repeat('s', length(a))), 'Tuple(TraceId String, SpanId String, TraceState "
    "String, Attributes Map(String, String), AttributeTypes String)'), t.`Links.TraceId`, "
    "t.`Links.SpanId`, t.`Links.TraceState`, t.`Links.Attributes`)"
)


def _span_id(column: str) -> str:
    return f"if({column} = '', toUInt64(0), reinterpretAsUInt64(reverse(unhex({column}))))"


def _scope(scoped: bool, column: str, key: str) -> str:
    return f"toString(t.{column})" if scoped else f"t.SpanAttributes['{key}']"


def columns(*, binary_ids: bool, scoped: bool) -> str:
    """The select list over ``otel_traces AS t`` with breadcrumbs' column names: ids binary
    (the ``spans`` table's) or as ``SPAN_SCHEMA``'s hex strings."""
    if binary_ids:
        ids = (
            "toFixedString(unhex(t.TraceId), 16) AS TraceId, "
            f"{_span_id('t.SpanId')} AS SpanId, {_span_id('t.ParentSpanId')} AS ParentSpanId"
        )
    else:
        ids = (
            "lower(t.TraceId) AS TraceId, lower(t.SpanId) AS SpanId, "
            "lower(t.ParentSpanId) AS ParentSpanId"
        )
    return f"""toUnixTimestamp64Nano(t.Timestamp) AS Timestamp, {ids},
    t.TraceState AS TraceState, toString(t.SpanName) AS SpanName, {_KIND} AS SpanKind,
    toString(t.ServiceName) AS ServiceName,
    CAST(t.ResourceAttributes, 'Map(String, String)') AS ResourceAttributes,
    repeat('s', length(t.ResourceAttributes)) AS ResourceAttributeTypes,
    {_scope(scoped, "ScopeName", "otel.scope.name")} AS ScopeName,
    {_scope(scoped, "ScopeVersion", "otel.scope.version")} AS ScopeVersion,
    CAST(t.SpanAttributes, 'Map(String, String)') AS SpanAttributes,
    repeat('s', length(t.SpanAttributes)) AS SpanAttributeTypes,
    toInt64(t.Duration) AS Duration, {_STATUS} AS StatusCode, t.StatusMessage AS StatusMessage,
    {_EVENTS} AS Events, {_LINKS} AS Links"""


def rewrite(text: str, db: str, table: str, *, scoped: bool, lookup_seconds: bool) -> str:
    """The engine's SQL with its tables (``spans``, ``trace_ranges``, ``operations`` of
    ``PLACEHOLDER_DB``) replaced by subqueries over the exporter's tables."""
    spans = f"(SELECT {columns(binary_ids=True, scoped=scoped)} FROM {db}.`{table}` AS t)"
    # The lookup's whole seconds: a trace's last start is at most 1 s - 1 ns later.
    end = "toUnixTimestamp64Nano(toDateTime64(r.End, 9))" + (
        " + 999999999" if lookup_seconds else ""
    )
    ranges = (
        "(SELECT toFixedString(unhex(r.TraceId), 16) AS TraceId, "
        "toUnixTimestamp64Nano(toDateTime64(r.Start, 9)) AS FirstStart, "
        f"{end} AS LastStart FROM {db}.`{table}_trace_id_ts` AS r)"
    )
    operations = (
        f"(SELECT toString(t.ServiceName) AS ServiceName, toString(t.SpanName) AS SpanName, "
        f"{_KIND} AS SpanKind, max(toUnixTimestamp64Nano(t.Timestamp)) AS LastSeen "
        f"FROM {db}.`{table}` AS t GROUP BY ServiceName, SpanName, SpanKind)"
    )
    return (
        text.replace(f"{PLACEHOLDER_DB}.spans", spans)
        .replace(f"{PLACEHOLDER_DB}.trace_ranges", ranges)
        .replace(f"{PLACEHOLDER_DB}.operations", operations)
    )


def trace_spans(db: str, table: str, *, scoped: bool, many: bool) -> str:
    """The spans of one trace (``many``: of ``{traces:Array(String)}``), bounded by the
    lookup table's time range (the exporter's sort key is by time within a span name)."""
    match = "t.TraceId IN {traces:Array(String)}" if many else "t.TraceId = {trace:String}"
    lookup = "r.TraceId IN {traces:Array(String)}" if many else "r.TraceId = {trace:String}"
    return f"""
    SELECT {columns(binary_ids=False, scoped=scoped)} FROM {db}.`{table}` AS t
    WHERE {match}
      AND t.Timestamp >= (SELECT min(r.Start) FROM {db}.`{table}_trace_id_ts` AS r WHERE {lookup})
      AND t.Timestamp < (SELECT max(r.End) FROM {db}.`{table}_trace_id_ts` AS r WHERE {lookup})
          + INTERVAL 1 SECOND
    ORDER BY t.Timestamp, t.SpanId
    """


def _tag_condition(tag: TagFilter, n: int) -> tuple[str, dict[str, Any]]:
    key, value = f"{{k{n}:String}}", f"{{v{n}:String}}"

    def on(column: str) -> str:
        present = f" AND mapContains({column}, {key})" if tag.value == "" else ""
        return f"({column}[{key}] = {value}{present})"

    scopes = {
        "span": [on("t.SpanAttributes")],
        "resource": [on("t.ResourceAttributes")],
        "any": [
            on("t.SpanAttributes"),
            on("t.ResourceAttributes"),
            f"arrayExists(a -> {on('a')}, t.`Events.Attributes`)",
        ],
    }[tag.scope]
    return "(" + " OR ".join(scopes) + ")", {f"k{n}": tag.key, f"v{n}": tag.value}


def find_trace_ids(db: str, table: str, query: TraceQuery) -> tuple[str, dict[str, Any]]:
    """As the engine's ``sql.find_trace_ids``, on the raw columns."""
    where = [
        "t.Timestamp >= fromUnixTimestamp64Nano({start:Int64})",
        "t.Timestamp <= fromUnixTimestamp64Nano({end:Int64})",
    ]
    params: dict[str, Any] = {"start": query.start_ns, "end": query.end_ns, "limit": query.limit}
    if query.service is not None:
        where.append("t.ServiceName = {service:String}")
        params["service"] = query.service
    if query.operation is not None:
        where.append("t.SpanName = {operation:String}")
        params["operation"] = query.operation
    if query.span_kind is not None:
        where.append(f"{_KIND} = {{kind:Int8}}")
        params["kind"] = int(query.span_kind)
    if query.status_codes:
        where.append(f"{_STATUS} IN {{statuses:Array(Int8)}}")
        params["statuses"] = [int(code) for code in query.status_codes]
    if query.min_duration_ns is not None:
        where.append("t.Duration >= {min_duration:Int64}")
        params["min_duration"] = query.min_duration_ns
    if query.max_duration_ns is not None:
        where.append("t.Duration <= {max_duration:Int64}")
        params["max_duration"] = query.max_duration_ns
    for n, tag in enumerate(query.tags):
        condition, values = _tag_condition(tag, n)
        where.append(condition)
        params.update(values)
    text = f"""
    SELECT lower(t.TraceId) AS tid FROM {db}.`{table}` AS t
    WHERE {" AND ".join(where)}
    GROUP BY t.TraceId
    ORDER BY max(t.Timestamp) DESC, t.TraceId
    LIMIT {{limit:UInt32}}
    """
    return text, params
