"""RED metrics and the service graph, read from the store and shaped for the APIs: rates per
second over the time each point covers, error ratios, quantiles, and the Jaeger monitoring
API's metric families (``api_v2/metrics``: ``MetricFamily`` of ``GAUGE`` points)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Final, Literal

import pyarrow as pa

from breadcrumbs.analysis.red import MINUTE_NS
from breadcrumbs.model import SpanKind
from breadcrumbs.query.params import NS_PER_MS, NS_PER_S
from breadcrumbs.query.red_params import JaegerMetricsParams, aligned_start
from breadcrumbs.store.base import RedQuery, ServiceGraphQuery, SpanReader

QUANTILE_NAMES: Final = ("p50", "p95", "p99")
JaegerMetric = Literal["calls", "errors", "latencies"]


@dataclasses.dataclass(frozen=True, slots=True)
class _Row:
    step: int
    service: str
    operation: str
    kind: int
    calls: float
    errors: float
    duration_sum: float
    quantiles: list[float | None]
    spans: int

    @property
    def estimated(self) -> bool:
        """Sampled spans were weighted: the counts estimate the real traffic."""
        return self.calls != self.spans


def _rows(table: pa.Table) -> Iterator[_Row]:
    columns = [table.column(name).to_pylist() for name in table.schema.names]
    for values in zip(*columns, strict=True):
        yield _Row(*values)


def count(value: float) -> float | int:
    """A count as JSON shows it: whole counts as integers, estimates as they are."""
    return int(value) if float(value).is_integer() else value


def _rate(calls: float, start_ns: int, end_ns: int, now_ns: int) -> float:
    """Calls per second over [start, end), counting only time that has passed."""
    covered = max(min(end_ns, now_ns) - start_ns, NS_PER_S)
    return calls * NS_PER_S / covered


def _kind_label(kind: int) -> str | None:
    return SpanKind(kind).label if kind >= 0 else None


def _figures(row: _Row, start: int, end: int, now_ns: int) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "calls": count(row.calls),
        "errors": count(row.errors),
        "spans": row.spans,
        "estimated": row.estimated,
        "rate": _rate(row.calls, start, end, now_ns),
        "errorRate": row.errors / row.calls if row.calls else 0.0,
        "meanDuration": row.duration_sum / row.calls if row.calls else None,
    }
    for name, value in zip(QUANTILE_NAMES, row.quantiles, strict=True):
        figures[name] = value
    return figures


def _busiest_first(series: dict[str, Any]) -> tuple[int, str, str]:
    return (-int(series["totals"]["calls"]), series["service"], series["operation"] or "")


async def red(reader: SpanReader, query: RedQuery, now_ns: int) -> dict[str, Any]:
    """``GET /api/x/red``: per series, totals over the range and one point per step."""
    query = dataclasses.replace(query, quantiles=(0.5, 0.95, 0.99))
    start = query.start_ns - query.start_ns % MINUTE_NS
    whole = -(-(query.end_ns - start) // MINUTE_NS) * MINUTE_NS
    totals_table = await reader.red(dataclasses.replace(query, step_ns=whole))
    # Points start at the coarsest kept level dividing the step (a day in 5 min steps reads
    # 5 min rows); the totals cover the range asked for.
    steps_table = await reader.red(
        dataclasses.replace(query, start_ns=aligned_start(query.start_ns, query.step_ns))
    )
    points: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for row in _rows(steps_table):
        point = {"time": row.step, **_figures(row, row.step, row.step + query.step_ns, now_ns)}
        points.setdefault((row.service, row.operation, row.kind), []).append(point)
    series: list[dict[str, Any]] = []
    for row in _rows(totals_table):
        key = (row.service, row.operation, row.kind)
        series.append(
            {
                "service": row.service,
                "operation": row.operation if query.by_operation else None,
                "spanKind": _kind_label(row.kind),
                "totals": _figures(row, start, start + whole, now_ns),
                "points": points.get(key, []),
            }
        )
    series.sort(key=_busiest_first)
    return {
        "start": start,
        "end": query.end_ns,
        "step": query.step_ns,
        "resolution": MINUTE_NS,
        # Any span in the answer was sampled: calls, errors and rates estimate the real
        # traffic from adjusted counts (per series and point too).
        "estimated": any(s["totals"]["estimated"] for s in series),
        "series": series,
    }


# --- Jaeger monitoring API -------------------------------------------------------------------

_NAMES: Final[dict[JaegerMetric, str]] = {
    "calls": "call_rate",
    "errors": "error_rate",
    "latencies": "latencies",
}


def _timestamp(ns: int) -> str:
    """RFC 3339 as protobuf's JSON mapping writes a Timestamp (whole seconds: no fraction)."""
    moment = datetime.fromtimestamp(ns // NS_PER_S, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _help(metric: JaegerMetric, grouped: str, quantile: float | None) -> str:
    if metric == "calls":
        return f"calls/sec, grouped by {grouped}"
    if metric == "errors":
        return (
            f"error rate, computed as a fraction of errors/sec over calls/sec, grouped by {grouped}"
        )
    return f"{quantile}th quantile latency, grouped by {grouped}"


async def jaeger_metrics(
    reader: SpanReader, metric: JaegerMetric, params: JaegerMetricsParams, now_ns: int
) -> dict[str, Any]:
    """A Jaeger ``MetricFamily`` as the Monitor tab reads it: one metric per service (and
    operation), a ``GAUGE`` point per step holding the value over the ``ratePer`` before it."""
    query = params.query
    table = await reader.red(query)
    by_operation = query.by_operation
    grouped = "service & operation" if by_operation else "service"
    prefix = "service_operation_" if by_operation else "service_"
    metrics: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in _rows(table):
        end = row.step + query.step_ns
        if metric == "calls":
            value: float | None = _rate(row.calls, end - params.rate_per_ns, end, now_ns)
        elif metric == "errors":
            value = row.errors / row.calls if row.calls else None
        else:
            quantile = row.quantiles[0] if row.quantiles else None
            value = None if quantile is None else quantile / NS_PER_MS
        if value is None:
            continue
        point = {"gaugeValue": {"doubleValue": value}, "timestamp": _timestamp(end)}
        metrics.setdefault((row.service, row.operation), []).append(point)
    estimated = any(row.estimated for row in _rows(table))
    rendered = []
    for (service, operation), points in sorted(metrics.items()):
        labels = [{"name": "service_name", "value": service}]
        if by_operation:
            labels.append({"name": "operation", "value": operation})
        rendered.append({"labels": labels, "metricPoints": points})
    return {
        "name": prefix + _NAMES[metric],
        "type": "GAUGE",
        # Jaeger's MetricFamily has no field for it: the help text says so.
        "help": _help(metric, grouped, params.quantile)
        + (
            " (estimated from sampled spans, weighted by their adjusted counts)"
            if estimated
            else ""
        ),
        "metrics": rendered,
    }


# --- service graph ---------------------------------------------------------------------------

_SERVING: Final = (SpanKind.SERVER, SpanKind.CONSUMER)


async def service_graph(
    reader: SpanReader, query: ServiceGraphQuery, now_ns: int
) -> dict[str, Any]:
    """Nodes (instrumented services with their RED as callees, inferred peers) and edges
    (calls, errors, p95) over the window."""
    start, end = query.start_ns, query.end_ns
    edges = await reader.service_graph(query)
    begin = start - start % MINUTE_NS
    whole = max(-(-(end - begin) // MINUTE_NS) * MINUTE_NS, MINUTE_NS)  # one step: all of it
    base = RedQuery(start_ns=start, end_ns=end, step_ns=whole, by_operation=False, by_kind=False)
    serving = {row.service: row for row in _rows(await reader.red(
        dataclasses.replace(base, span_kinds=_SERVING)
    ))}  # fmt: skip
    every = {row.service: row for row in _rows(await reader.red(base))}
    nodes: dict[str, dict[str, Any]] = {}
    for service, row in every.items():
        # A service's RED is that of the requests it serves; one that serves none (a load
        # generator, a cron job) is shown with all its spans.
        chosen = serving.get(service, row)
        nodes[service] = {
            "id": service,
            "kind": "instrumented",
            **_figures(chosen, begin, begin + whole, now_ns),
        }
    for edge in edges:
        for name in (edge.parent, edge.child):
            if name in nodes:
                continue
            peer_row = _Row(0, name, "", -1, 0.0, 0.0, 0.0, [None, None, None], 0)
            nodes[name] = {
                "id": name,
                "kind": edge.peer_kind or "instrumented",
                **_figures(peer_row, begin, begin + whole, now_ns),
            }
        if edge.peer_kind and nodes[edge.child]["kind"] != "instrumented":
            node = nodes[edge.child]  # a peer's RED is what its callers saw
            node["calls"] = count(node["calls"] + edge.calls)
            node["errors"] = count(node["errors"] + edge.errors)
            node["spans"] += edge.spans
            node["estimated"] = node["estimated"] or edge.estimated
            node["rate"] = _rate(node["calls"], begin, begin + whole, now_ns)
            node["errorRate"] = node["errors"] / node["calls"]
            node["p95"] = max(node["p95"] or 0.0, edge.p95_ns)
    return {
        "start": start,
        "end": end,
        # Calls of sampled spans are weighted by their adjusted counts: estimates.
        "estimated": any(n["estimated"] for n in nodes.values())
        or any(edge.estimated for edge in edges),
        "nodes": sorted(nodes.values(), key=lambda n: (n["kind"] != "instrumented", n["id"])),
        "edges": [
            {
                "source": edge.parent,
                "target": edge.child,
                "calls": count(edge.calls),
                "errors": count(edge.errors),
                "errorRate": edge.errors / edge.calls if edge.calls else 0.0,
                "p95": edge.p95_ns,
                "estimated": edge.estimated,
            }
            for edge in edges
        ],
    }
