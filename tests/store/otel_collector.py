"""Spans in the tables the OpenTelemetry Collector's ClickHouse exporter makes, filled as it
fills them: its DDL (``fixtures/otel_collector_ddl.sql``), ids as lowercase hex text, kinds
and statuses as ``SPAN_KIND_SERVER``/``STATUS_CODE_ERROR`` (``traceutil``), every attribute
value as text, events and links in ``Nested`` columns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from breadcrumbs.model import SpanBatch
from breadcrumbs.store.clickhouse.executor import Executor

DDL = Path(__file__).parent / "fixtures" / "otel_collector_ddl.sql"
_KINDS = ("UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
_STATUSES = ("UNSET", "OK", "ERROR")
_TIME = pa.timestamp("ns")
_MAP = pa.map_(pa.string(), pa.string())


def create_tables(executor: Executor, database: str) -> None:
    executor.command(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    for statement in DDL.read_text().split(";;"):
        body = "\n".join(line for line in statement.splitlines() if not line.startswith("--"))
        if body.strip():
            executor.command(body.replace("{db}", f"`{database}`"))


def exporter_rows(batch: SpanBatch) -> pa.Table:
    """The batch as the exporter's INSERT would write it."""
    spans = batch.to_pylist()

    def column(get: Any, kind: pa.DataType | None = None) -> pa.Array:
        return pa.array([get(span) for span in spans], kind)

    def nested(part: str, field: str, kind: pa.DataType | None = None) -> pa.Array:
        return column(lambda s: [item[field] for item in s[part]], kind)

    return pa.table(
        {
            "Timestamp": column(lambda s: s["Timestamp"], pa.int64()).cast(_TIME),
            "TraceId": column(lambda s: s["TraceId"]),
            "SpanId": column(lambda s: s["SpanId"]),
            "ParentSpanId": column(lambda s: s["ParentSpanId"]),
            "TraceState": column(lambda s: s["TraceState"]),
            "SpanName": column(lambda s: s["SpanName"]),
            "SpanKind": column(lambda s: "SPAN_KIND_" + _KINDS[s["SpanKind"]]),
            "ServiceName": column(lambda s: s["ServiceName"]),
            "ResourceAttributes": column(lambda s: s["ResourceAttributes"], _MAP),
            "ScopeName": column(lambda s: s["ScopeName"]),
            "ScopeVersion": column(lambda s: s["ScopeVersion"]),
            "SpanAttributes": column(lambda s: s["SpanAttributes"], _MAP),
            "Duration": column(lambda s: s["Duration"], pa.uint64()),
            "StatusCode": column(lambda s: "STATUS_CODE_" + _STATUSES[s["StatusCode"]]),
            "StatusMessage": column(lambda s: s["StatusMessage"]),
            "Events.Timestamp": nested("Events", "Timestamp", pa.list_(pa.int64())).cast(
                pa.list_(_TIME)
            ),
            "Events.Name": nested("Events", "Name", pa.list_(pa.string())),
            "Events.Attributes": nested("Events", "Attributes", pa.list_(_MAP)),
            "Links.TraceId": nested("Links", "TraceId", pa.list_(pa.string())),
            "Links.SpanId": nested("Links", "SpanId", pa.list_(pa.string())),
            "Links.TraceState": nested("Links", "TraceState", pa.list_(pa.string())),
            "Links.Attributes": nested("Links", "Attributes", pa.list_(_MAP)),
        }
    )


def as_exporter_stores(batch: SpanBatch) -> list[dict[str, Any]]:
    """What reading the exporter's rows back can give: every value typed as a string."""
    rows: list[dict[str, Any]] = batch.to_pylist()
    for row in rows:
        row["SpanAttributeTypes"] = "s" * len(row["SpanAttributes"])
        row["ResourceAttributeTypes"] = "s" * len(row["ResourceAttributes"])
        for item in (*row["Events"], *row["Links"]):
            item["AttributeTypes"] = "s" * len(item["Attributes"])
    return rows
