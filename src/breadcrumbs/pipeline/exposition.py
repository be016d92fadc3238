"""Span metrics for Prometheus, named as the OpenTelemetry Collector's spanmetrics connector
names them (namespace ``traces.span.metrics``, unit ms), so dashboards and alerts written
for it work unchanged:

- ``traces_span_metrics_calls_total{service_name, span_name, span_kind, status_code}``
- ``traces_span_metrics_duration_milliseconds_bucket{..., le}`` (the connector's default
  bounds), ``_sum``, ``_count``

``span_kind`` and ``status_code`` as the connector spells them (``SPAN_KIND_SERVER``,
``STATUS_CODE_ERROR``). Counters run from the server's start. Scraped as OpenMetrics
(``Accept: application/openmetrics-text``), every bucket and every calls counter carries the
newest span's trace id as an exemplar (``trace_id``), linking a latency spike to a trace.

The state is one small record per series (bounded by the span metrics stage's series limit),
updated once per flush from aggregated rows, never per span.
"""

from __future__ import annotations

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

LABELS: Final = ("service_name", "span_name", "span_kind", "status_code")
CALLS: Final = "traces_span_metrics_calls"
DURATION: Final = "traces_span_metrics_duration_milliseconds"

_Key = tuple[str, str, int, int]  # service, operation, kind, status


@dataclass(slots=True)
class _Series:
    counts: list[int]  # per bucket, not cumulative; the last is +Inf
    sum_ms: float = 0.0
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
            for service, name, kind, status, bound, calls, total_ns, trace_id, dur, ts in zip(
                *columns, strict=True
            ):
                key = (service, name, kind, status)
                series = self._series.get(key)
                if series is None:
                    buckets = len(self._le)
                    series = _Series([0] * buckets, exemplars=[None] * buckets)
                    self._series[key] = series
                series.counts[bound] += calls
                series.sum_ms += total_ns / 1e6
                exemplar = Exemplar({"trace_id": trace_id}, dur / 1e6, ts / 1e9)
                series.exemplars[bound] = exemplar
                if ts / 1e9 >= series.newest_ts:
                    series.newest, series.newest_ts = exemplar, ts / 1e9

    def collect(self) -> Iterator[Metric]:
        calls = CounterMetricFamily(
            CALLS, "Spans seen, per service, operation, kind and status.", labels=LABELS
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
                buckets: list[tuple[str, float] | tuple[str, float, Exemplar]] = []
                running = 0
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
        yield duration
