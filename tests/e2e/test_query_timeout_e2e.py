"""A real ``breadcrumbs serve`` whose every query runs past ``--query-timeout`` (a microsecond,
shorter than any DuckDB statement): each query API answers a clear 503 in its own error
shape, while the OpenTelemetry SDK's exporter keeps getting its acks and the server stops
cleanly."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tests.conftest import ServerProcess

pytestmark = pytest.mark.e2e

TIMED_OUT = "(--query-timeout) and was stopped"
ATTEMPTS = 100


def _rfc3339(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _export(server: ServerProcess, name: str) -> SpanExportResult:
    sink = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout"}))
    provider.add_span_processor(SimpleSpanProcessor(sink))
    with provider.get_tracer("e2e").start_as_current_span(name):
        pass
    exporter = OTLPSpanExporter(endpoint=server.otlp_http_url + "/v1/traces", timeout=60)
    try:
        return exporter.export(sink.get_finished_spans())
    finally:
        exporter.shutdown()  # type: ignore[no-untyped-call]


def _timed_out(ask: Callable[[], httpx.Response]) -> httpx.Response:
    """The first 503 among repeats of a query (a bounded poll): a microsecond is shorter than
    any statement, but a loop thread descheduled on a busy machine may find the read already
    done when it looks. Every other answer must be a normal one."""
    for _ in range(ATTEMPTS):
        response = ask()
        if response.status_code == 503:
            return response
        assert response.status_code in (200, 404), response.text
    raise AssertionError(f"no query timed out in {ATTEMPTS} attempts")


def test_queries_past_the_timeout_get_503_while_ingest_acks(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = server_factory(None, "--query-timeout", "0.000001").start()
    assert _export(server, "before the queries") is SpanExportResult.SUCCESS
    with httpx.Client(timeout=60) as http:
        jaeger = _timed_out(
            lambda: http.get(server.http_url + "/api/traces", params={"service": "checkout"})
        )
        errors = jaeger.json()["errors"]
        assert errors[0]["code"] == 503
        assert TIMED_OUT in errors[0]["msg"]
        assert "Retry-After" not in jaeger.headers  # the same query would time out again

        v3 = _timed_out(
            lambda: http.get(
                server.http_url + "/api/v3/traces",
                params={
                    "query.service_name": "checkout",
                    "query.start_time_min": _rfc3339(time.time() - 3600),
                    "query.start_time_max": _rfc3339(time.time()),
                },
            )
        )
        assert TIMED_OUT in v3.json()["error"]["message"]

        zipkin = _timed_out(
            lambda: http.get(
                server.zipkin_url + "/api/v2/traces", params={"endTs": time.time_ns() // 10**6}
            )
        )
        assert TIMED_OUT in zipkin.text

        assert http.get(server.http_url + "/readyz").status_code == 200
    assert _export(server, "after the queries") is SpanExportResult.SUCCESS
    assert server.stop(signal.SIGTERM) == 0
    assert "Traceback" not in server.log(), server.log()
