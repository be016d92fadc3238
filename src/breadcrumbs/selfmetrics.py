"""breadcrumbs' own figures, exposed on ``/metrics``.

One ``SelfMetrics`` per server, on its own registry (not the process-global one), so several
servers in one test process never collide.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class SelfMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.spans_received = Counter(
            "breadcrumbs_receiver_spans_received",
            "Spans decoded from requests, before any refusal.",
            ["receiver"],
            registry=r,
        )
        self.spans_accepted = Counter(
            "breadcrumbs_receiver_spans_accepted",
            "Spans acknowledged to the client (durable in the WAL).",
            ["receiver"],
            registry=r,
        )
        self.spans_refused = Counter(
            "breadcrumbs_receiver_spans_refused",
            "Spans refused, by reason (bad_input, overloaded, unavailable, too_large).",
            ["receiver", "reason"],
            registry=r,
        )
        self.requests_refused = Counter(
            "breadcrumbs_receiver_requests_refused",
            "Whole requests refused, by reason.",
            ["receiver", "reason"],
            registry=r,
        )
        self.decode_queued_bytes = Gauge(
            "breadcrumbs_decode_queued_bytes",
            "Bytes of request bodies waiting for (or in) a decode; 429s beyond a bound.",
            registry=r,
        )
        self.decode_duration = Histogram(
            "breadcrumbs_decode_duration_seconds",
            "Decoding one large request body, its wait for a decoder included.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.decode_workers = Gauge(
            "breadcrumbs_decode_workers", "Decode worker processes (0: in the server).", registry=r
        )
        self.wal_bytes = Gauge(
            "breadcrumbs_wal_bytes", "Bytes in WAL segments on disk.", registry=r
        )
        self.wal_unflushed_spans = Gauge(
            "breadcrumbs_wal_unflushed_spans",
            "Spans in the WAL not yet flushed to the store.",
            registry=r,
        )
        self.wal_oldest_unflushed_age = Gauge(
            "breadcrumbs_wal_oldest_unflushed_age_seconds",
            "Age of the oldest WAL record not yet in the store.",
            registry=r,
        )
        self.wal_fsync_duration = Histogram(
            "breadcrumbs_wal_fsync_duration_seconds",
            "One group commit: write and fsync of every waiting record.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.wal_group_size = Histogram(
            "breadcrumbs_wal_group_commit_records",
            "Records sharing one fsync.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
            registry=r,
        )
        self.flush_duration = Histogram(
            "breadcrumbs_store_flush_duration_seconds",
            "One writer flush into the store.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.flushed_spans = Counter(
            "breadcrumbs_store_flushed_spans", "Spans written to the store.", registry=r
        )
        self.store_bytes = Gauge(
            "breadcrumbs_store_bytes", "Size of the store on disk.", registry=r
        )
        self.store_spans = Gauge("breadcrumbs_store_spans", "Spans in the store.", registry=r)
        self.retention_deleted = Counter(
            "breadcrumbs_retention_deleted_spans",
            "Spans deleted because they aged out of retention.",
            registry=r,
        )
        self.lookup_merge_duration = Histogram(
            "breadcrumbs_store_lookup_merge_duration_seconds",
            "Merges of the trace lookup's levels (background, beside flushes).",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.dependencies_uncounted = Gauge(
            "breadcrumbs_store_dependencies_uncounted_seconds",
            "Span time, back from the newest span, whose service calls are not counted yet "
            "(dependency queries join those spans instead).",
            registry=r,
        )
        self.span_metrics_series = Gauge(
            "breadcrumbs_span_metrics_series",
            "(service, operation, kind) series the span metrics keep (at most the series limit).",
            registry=r,
        )
        self.span_metrics_overflow = Counter(
            "breadcrumbs_span_metrics_overflow_spans",
            "Spans of series beyond the series limit, counted under otel.metric.overflow.",
            registry=r,
        )
