"""Span metrics and service-graph edge metrics for Prometheus.

Span metrics are named as the OpenTelemetry Collector's spanmetrics connector names them
(namespace ``traces.span.metrics``, unit ms), so dashboards and alerts written for it work
unchanged:

- ``traces_span_metrics_calls_total{service_name, span_name, span_kind, status_code}``
- ``traces_span_metrics_duration_milliseconds_bucket{..., le}`` (the connector's default
  bounds), ``_sum``, ``_count``

Sampled spans count by their adjusted count (``sampling.adjusted_count``): ``calls_total``
and the histogram then estimate real traffic. ``traces_span_metrics_spans_total`` (same
labels) counts the spans seen, unweighted: where the two differ the figures are estimates.

``span_kind`` and ``status_code`` as the connector spells them (``SPAN_KIND_SERVER``,
``STATUS_CODE_ERROR``). Counters run from the server's start. Scraped as OpenMetrics
(``Accept: application/openmetrics-text``), every bucket and every calls counter carries the
newest span's trace id as an exemplar (``trace_id``), linking a latency spike to a trace.

The state is one small record per series (bounded by the span metrics stage's series limit),
updated once per flush from aggregated rows, never per span.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final

import pyarrow as pa
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Exemplar

from breadcrumbs.analysis.red import EXPOSITION_BOUNDS_MS
from breadcrumbs.model import SpanKind, StatusCode
from breadcrumbs.store.base import ServiceGraphEdge

LABELS: Final = ("service_name", "span_name", "span_kind", "status_code")
CALLS: Final = "traces_span_metrics_calls"
SPANS: Final = "traces_span_metrics_spans"
DURATION: Final = "traces_span_metrics_duration_milliseconds"

_Key = tuple[str, str, int, int]  # service, operation, kind, status


@dataclass(slots=True)
class _Series:
    counts: list[float]  # weighted, per bucket, not cumulative; the last is +Inf
    sum_ms: float = 0.0
    spans: int = 0
    exemplars: list[Exemplar | None] = field(default_factory=list)
    newest: Exemplar | None = None
    newest_ts: float = 0.0


def _kind_label(kind: int) -> str:
    try:
        return f"SPAN_KIND_{SpanKind(kind).name}"
    except ValueError:
        return "SPAN_KIND_UNSPECIFIED"


def _status_label(status: int) -> str:
    try:
        return f"STATUS_CODE_{StatusCode(status).name}"
    except ValueError:
        return "STATUS_CODE_UNSET"


class SpanMetricsExposition(Collector):
    def __init__(self, bounds_ms: Sequence[float] = EXPOSITION_BOUNDS_MS) -> None:
        self.bounds_ms = tuple(bounds_ms)
        self._le = [str(float(b)) for b in self.bounds_ms] + ["+Inf"]  # as Go prints them
        self._series: dict[_Key, _Series] = {}
        self._lock = threading.Lock()  # scrapes may run beside a flush

    def add(self, rows: pa.Table) -> None:
        """Add ``analysis.red.EXPOSITION_SCHEMA`` rows (one Python step per row: rows are
        per series and bucket, not per span)."""
        columns = [rows.column(name).to_pylist() for name in rows.schema.names]
        with self._lock:
            for row in zip(*columns, strict=True):
                service, name, kind, status, bound, calls, total_ns, spans, trace_id, dur, ts = row
                key = (service, name, kind, status)
                series = self._series.get(key)
                if series is None:
                    buckets = len(self._le)
                    series = _Series([0.0] * buckets, exemplars=[None] * buckets)
                    self._series[key] = series
                series.counts[bound] += calls
                series.spans += spans
                series.sum_ms += total_ns / 1e6
                exemplar = Exemplar({"trace_id": trace_id}, dur / 1e6, ts / 1e9)
                series.exemplars[bound] = exemplar
                if ts / 1e9 >= series.newest_ts:
                    series.newest, series.newest_ts = exemplar, ts / 1e9

    def collect(self) -> Iterator[Metric]:
        calls = CounterMetricFamily(
            CALLS,
            "Calls per service, operation, kind and status: spans weighted by their adjusted "
            f"counts (estimates where they differ from {SPANS}_total).",
            labels=LABELS,
        )
        spans = CounterMetricFamily(
            SPANS, "Spans seen, unweighted, per service, operation, kind and status.", labels=LABELS
        )
        duration = HistogramMetricFamily(DURATION, "Span durations in milliseconds.", labels=LABELS)
        with self._lock:
            items = sorted(self._series.items())
            for (service, name, kind, status), series in items:
                labels = [service, name, _kind_label(kind), _status_label(status)]
                total = sum(series.counts)
                newest = series.newest  # on a counter an exemplar's value is the increment
                exemplar = (
                    None if newest is None else Exemplar(newest.labels, 1.0, newest.timestamp)
                )
                calls.add_metric(labels, total, exemplar=exemplar)
                spans.add_metric(labels, series.spans)
                buckets: list[tuple[str, float] | tuple[str, float, Exemplar]] = []
                running = 0.0
                for le, count, exemplar in zip(
                    self._le, series.counts, series.exemplars, strict=True
                ):
                    running += count
                    if exemplar is None:
                        buckets.append((le, running))
                    else:
                        buckets.append((le, running, exemplar))
                duration.add_metric(labels, buckets, series.sum_ms)
        yield calls
        yield spans
        yield duration


# --- service graph -------------------------------------------------------------------------

GRAPH_LABELS: Final = ("client", "server", "connection_type")
GRAPH_BOUNDS_S: Final = tuple(b / 1000 for b in EXPOSITION_BOUNDS_MS)
# How the servicegraph connector names an edge to an uninstrumented peer.
_CONNECTION_TYPES: Final = {"": "", "database": "database", "queue": "messaging_system"}
MAX_EDGES: Final = 10_000


@dataclass(slots=True)
class _Edge:
    requests: float = 0.0  # weighted by adjusted counts (ServiceGraphEdge)
    failed: float = 0.0
    server: list[float] = field(default_factory=lambda: [0.0] * (len(GRAPH_BOUNDS_S) + 1))
    server_sum_s: float = 0.0
    client: list[float] = field(default_factory=lambda: [0.0] * (len(GRAPH_BOUNDS_S) + 1))
    client_sum_s: float = 0.0


class ServiceGraphExposition(Collector):
    """Edge metrics named as the OpenTelemetry servicegraph connector names them:
    ``traces_service_graph_request_total``, ``..._request_failed_total``,
    ``..._request_server_seconds`` and ``..._request_client_seconds`` (histograms), labelled
    ``client``, ``server`` and ``connection_type`` (``database``, ``messaging_system``,
    ``virtual_node`` for another uninstrumented peer). Counters run from the server's start;
    the server adds each settled stretch of time once (``add``), as the store's service graph
    reads it."""

    def __init__(self) -> None:
        self._edges: dict[tuple[str, str, str], _Edge] = {}
        self._lock = threading.Lock()
        self.dropped_edges = 0.0

    def add(self, edges: Sequence[ServiceGraphEdge]) -> None:
        with self._lock:
            for edge in edges:
                kind = _CONNECTION_TYPES.get(edge.peer_kind, "virtual_node")
                key = (edge.parent, edge.child, kind)
                state = self._edges.get(key)
                if state is None:
                    if len(self._edges) >= MAX_EDGES:
                        self.dropped_edges += edge.calls
                        continue
                    state = self._edges[key] = _Edge()
                state.requests += edge.calls
                state.failed += edge.errors
                for i, count in enumerate(edge.server_counts):
                    state.server[i] += count
                for i, count in enumerate(edge.client_counts):
                    state.client[i] += count
                state.server_sum_s += edge.server_sum_ns / 1e9
                state.client_sum_s += edge.client_sum_ns / 1e9

    def collect(self) -> Iterator[Metric]:
        prefix = "traces_service_graph_request"
        total = CounterMetricFamily(
            f"{prefix}_total", "Requests between two nodes.", labels=GRAPH_LABELS
        )
        failed = CounterMetricFamily(
            f"{prefix}_failed_total", "Failed requests between two nodes.", labels=GRAPH_LABELS
        )
        server = HistogramMetricFamily(
            f"{prefix}_server_seconds",
            "Time for a request seen by the server.",
            labels=GRAPH_LABELS,
        )
        client = HistogramMetricFamily(
            f"{prefix}_client_seconds",
            "Time for a request seen by the client.",
            labels=GRAPH_LABELS,
        )
        le = [str(float(b)) for b in GRAPH_BOUNDS_S] + ["+Inf"]
        with self._lock:
            for key, edge in sorted(self._edges.items()):
                labels = list(key)
                total.add_metric(labels, edge.requests)
                failed.add_metric(labels, edge.failed)
                for family, counts, sum_s in (
                    (server, edge.server, edge.server_sum_s),
                    (client, edge.client, edge.client_sum_s),
                ):
                    cumulative = list(itertools.accumulate(counts))
                    family.add_metric(labels, list(zip(le, cumulative, strict=True)), sum_s)
        yield from (total, failed, server, client)
