"""The Prometheus exposition: spanmetrics and servicegraph connector names and labels,
cumulative buckets, exemplars only in OpenMetrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics import exposition as openmetrics

from breadcrumbs.analysis import red
from breadcrumbs.model import Span, SpanKind, StatusCode, batch_from_spans
from breadcrumbs.pipeline.exposition import ServiceGraphExposition, SpanMetricsExposition
from breadcrumbs.store.base import ServiceGraphEdge

MS = 1_000_000


def _registry(*collectors: object) -> CollectorRegistry:
    registry = CollectorRegistry()
    for collector in collectors:
        registry.register(collector)  # type: ignore[arg-type]
    return registry


def test_span_metrics_exposition() -> None:
    spans = batch_from_spans(
        [
            Span(f"{i + 1:032x}", f"{i + 1:016x}", "GET /x", "api", 10**18 + i, d * MS,
                 kind=SpanKind.SERVER, status=status)
            for i, (d, status) in enumerate(
                [(1, StatusCode.UNSET), (3, StatusCode.UNSET), (30, StatusCode.ERROR)]
            )
        ]
    )  # fmt: skip
    exposition = SpanMetricsExposition()
    exposition.add(red.exposition(spans))
    exposition.add(red.exposition(spans))  # counters add up across flushes
    registry = _registry(exposition)
    text = generate_latest(registry).decode()
    labels = 'service_name="api",span_kind="SPAN_KIND_SERVER",span_name="GET /x"'
    assert (
        f'traces_span_metrics_calls_total{{{labels},status_code="STATUS_CODE_UNSET"}} 4.0' in text
    )
    assert (
        f'traces_span_metrics_calls_total{{{labels},status_code="STATUS_CODE_ERROR"}} 2.0' in text
    )
    bucket = "traces_span_metrics_duration_milliseconds_bucket"
    assert f'{bucket}{{le="2.0",{labels},status_code="STATUS_CODE_UNSET"}} 2.0' in text
    assert f'{bucket}{{le="4.0",{labels},status_code="STATUS_CODE_UNSET"}} 4.0' in text
    assert f'{bucket}{{le="+Inf",{labels},status_code="STATUS_CODE_ERROR"}} 2.0' in text
    assert "# {" not in text
    rich = openmetrics.generate_latest(registry).decode()  # type: ignore[no-untyped-call]
    assert f'# {{trace_id="{3:032x}"}} 30.0' in rich  # the error's bucket carries its trace


def test_service_graph_exposition() -> None:
    exposition = ServiceGraphExposition()
    counts = (1,) + (0,) * 16
    edge = ServiceGraphEdge("web", "api", 1, 1, 1.0 * MS, "", counts, MS, counts, 2 * MS)
    db = ServiceGraphEdge("api", "postgresql", 2, 0, 1.0 * MS, "database", counts, MS, counts, MS)
    exposition.add([edge, db])
    exposition.add([edge])
    text = generate_latest(_registry(exposition)).decode()
    assert (
        'traces_service_graph_request_total{client="web",connection_type="",server="api"} 2.0'
        in text
    )
    assert (
        'traces_service_graph_request_failed_total{client="web",connection_type="",server="api"}'
        " 2.0" in text
    )
    assert (
        'traces_service_graph_request_total{client="api",connection_type="database",'
        'server="postgresql"} 2.0' in text
    )
    assert (
        'traces_service_graph_request_server_seconds_bucket{client="web",connection_type="",'
        'le="0.002",server="api"} 2.0' in text
    )
    assert (
        'traces_service_graph_request_client_seconds_sum{client="web",connection_type="",'
        'server="api"} 0.004' in text
    )


def test_sampled_spans_count_by_their_adjusted_count_beside_the_spans_seen() -> None:
    spans = batch_from_spans(
        [
            Span(f"{i + 1:032x}", f"{i + 1:016x}", "GET /x", "api", 10**18 + i, 3 * MS,
                 kind=SpanKind.SERVER, trace_state=state)
            for i, state in enumerate(["ot=th:8", "ot=th:c", ""])
        ]
    )  # fmt: skip
    exposition = SpanMetricsExposition()
    exposition.add(red.exposition(spans))
    text = generate_latest(_registry(exposition)).decode()
    labels = (
        'service_name="api",span_kind="SPAN_KIND_SERVER",span_name="GET /x",'
        'status_code="STATUS_CODE_UNSET"'
    )
    assert f"traces_span_metrics_calls_total{{{labels}}} 7.0" in text  # 2 + 4 + 1
    assert f"traces_span_metrics_spans_total{{{labels}}} 3.0" in text
    assert f'traces_span_metrics_duration_milliseconds_bucket{{le="4.0",{labels}}} 7.0' in text
    assert f"traces_span_metrics_duration_milliseconds_sum{{{labels}}} 21.0" in text
