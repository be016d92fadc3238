"""The real OpenTelemetry Python SDK, with its OTLP gRPC and OTLP HTTP exporters, against a
real ``breadcrumbs serve``; read back through the Jaeger API and check every field."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import grpc
import httpx
import orjson
import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcExporter,
)
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpExporter,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

if TYPE_CHECKING:
    from tests.conftest import ServerProcess

pytestmark = pytest.mark.e2e

T0 = (time.time_ns() // 1_000_000_000 - 60) * 1_000_000_000 + 123_456_789  # a minute ago


def _provider(service: str, sink: InMemorySpanExporter) -> TracerProvider:
    resource = Resource.create(
        {"service.name": service, "deployment.environment": "e2e", "host.cores": 2}
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(sink))
    return provider


def _record_trace(run: str) -> tuple[list[ReadableSpan], dict[str, Any]]:
    """A checkout in two services: frontend server -> frontend client -> backend server,
    the backend span linked to a span of another trace. Returns the finished spans and the
    ids to check."""
    sink = InMemorySpanExporter()
    frontend = _provider("frontend", sink).get_tracer("shop.frontend", "1.2.3")
    backend = _provider("backend", sink).get_tracer("shop.backend")

    job = backend.start_span("nightly-batch", start_time=T0 - 10_000_000)
    job.end(end_time=T0 - 5_000_000)

    root = frontend.start_span(
        "GET /checkout",
        kind=SpanKind.SERVER,
        start_time=T0,
        attributes={
            "http.response.status_code": 200,
            "ratio": 0.25,
            "cache.hit": True,
            "user.id": "u-42",
            "items": ["kale", "apple"],
            "run": run,
        },
    )
    client = frontend.start_span(
        "POST /pay",
        context=trace.set_span_in_context(root),
        kind=SpanKind.CLIENT,
        start_time=T0 + 1_000_000,
    )
    client.add_event("retrying", {"attempt": 2}, timestamp=T0 + 2_000_000)
    server = backend.start_span(
        "pay",
        context=trace.set_span_in_context(client),
        kind=SpanKind.SERVER,
        start_time=T0 + 3_000_000,
        links=[Link(job.get_span_context(), {"link.reason": "batch"})],
        attributes={"payment.method": "card", "run": run},
    )
    server.record_exception(ValueError("card declined"), timestamp=T0 + 4_000_000)
    server.set_status(Status(StatusCode.ERROR, "payment failed"))
    server.end(end_time=T0 + 5_500_999)
    client.end(end_time=T0 + 6_000_000)
    root.end(end_time=T0 + 1_234_567_891)

    ids = {
        "trace": format(root.get_span_context().trace_id, "032x"),
        "root": format(root.get_span_context().span_id, "016x"),
        "client": format(client.get_span_context().span_id, "016x"),
        "server": format(server.get_span_context().span_id, "016x"),
        "job_trace": format(job.get_span_context().trace_id, "032x"),
        "job": format(job.get_span_context().span_id, "016x"),
    }
    return list(sink.get_finished_spans()), ids


def _tags(items: list[dict[str, Any]]) -> dict[str, tuple[str, Any]]:
    return {item["key"]: (item["type"], item["value"]) for item in items}


def _exporter(kind: str, server: ServerProcess) -> SpanExporter:
    if kind == "grpc":
        return GrpcExporter(
            endpoint=server.grpc_target, insecure=True, compression=grpc.Compression.Gzip
        )
    return HttpExporter(endpoint=server.otlp_http_url + "/v1/traces", compression=Compression.Gzip)


@pytest.mark.parametrize("kind", ["grpc", "http"])
def test_sdk_trace_round_trips_through_the_jaeger_api(kind: str, server: ServerProcess) -> None:
    spans, ids = _record_trace(kind)
    exporter = _exporter(kind, server)
    try:
        assert exporter.export(spans) == SpanExportResult.SUCCESS  # the ack: durable
    finally:
        exporter.shutdown()

    got = server.wait_for_spans(ids["trace"], 3)
    assert got["traceID"] == ids["trace"]
    by_name = {span["operationName"]: span for span in got["spans"]}
    assert set(by_name) == {"GET /checkout", "POST /pay", "pay"}
    root, client, pay = by_name["GET /checkout"], by_name["POST /pay"], by_name["pay"]
    processes = got["processes"]
    assert processes[root["processID"]]["serviceName"] == "frontend"
    assert processes[pay["processID"]]["serviceName"] == "backend"
    process_tags = _tags(processes[pay["processID"]]["tags"])
    assert process_tags["deployment.environment"] == ("string", "e2e")
    assert process_tags["host.cores"] == ("int64", 2)

    # ids, parents (CHILD_OF) and links (FOLLOWS_FROM)
    assert root["spanID"] == ids["root"]
    assert root["references"] == []
    assert client["references"] == [
        {"refType": "CHILD_OF", "traceID": ids["trace"], "spanID": ids["root"]}
    ]
    assert pay["references"] == [
        {"refType": "CHILD_OF", "traceID": ids["trace"], "spanID": ids["client"]},
        {"refType": "FOLLOWS_FROM", "traceID": ids["job_trace"], "spanID": ids["job"]},
    ]

    # times in µs, durations truncated to the µs as Jaeger does
    assert root["startTime"] == T0 // 1000
    assert root["duration"] == 1_234_567
    assert pay["startTime"] == (T0 + 3_000_000) // 1000
    assert pay["duration"] == 2_500  # 2_500_999 ns

    # typed tags, span kind, scope
    tags = _tags(root["tags"])
    assert tags["http.response.status_code"] == ("int64", 200)
    assert tags["ratio"] == ("float64", 0.25)
    assert tags["cache.hit"] == ("bool", True)
    assert tags["user.id"] == ("string", "u-42")
    assert tags["items"][0] == "string"
    assert orjson.loads(tags["items"][1]) == ["kale", "apple"]
    assert tags["span.kind"] == ("string", "server")
    assert tags["otel.scope.name"] == ("string", "shop.frontend")
    assert tags["otel.scope.version"] == ("string", "1.2.3")
    assert "error" not in tags
    assert _tags(client["tags"])["span.kind"] == ("string", "client")

    # error status, recorded exception, events as logs
    pay_tags = _tags(pay["tags"])
    assert pay_tags["span.kind"] == ("string", "server")
    assert pay_tags["otel.status_code"] == ("string", "ERROR")
    assert pay_tags["error"] == ("bool", True)
    assert pay_tags["otel.status_description"] == ("string", "payment failed")
    (exception_log,) = pay["logs"]
    assert exception_log["timestamp"] == (T0 + 4_000_000) // 1000
    fields = _tags(exception_log["fields"])
    assert fields["event"] == ("string", "exception")
    assert fields["exception.type"] == ("string", "ValueError")
    assert fields["exception.message"] == ("string", "card declined")
    assert "ValueError: card declined" in fields["exception.stacktrace"][1]
    (retry_log,) = client["logs"]
    assert _tags(retry_log["fields"]) == {"event": ("string", "retrying"), "attempt": ("int64", 2)}

    # the same trace through search, by service and a typed tag
    found = server.get_json(
        "/api/traces",
        service="backend",
        tags=orjson.dumps({"payment.method": "card", "run": kind}).decode(),
        lookback="2h",
        limit="20",
    )["data"]
    assert [t["traceID"] for t in found] == [ids["trace"]]
    status_search = server.get_json(
        "/api/traces",
        service="frontend",
        tags=orjson.dumps({"http.response.status_code": "200", "run": kind}).decode(),
        lookback="2h",
    )["data"]
    assert [t["traceID"] for t in status_search] == [ids["trace"]]
    assert {"frontend", "backend"} <= set(server.get_json("/api/services")["data"])


def test_home_page_serves_the_web_ui(server: ServerProcess) -> None:
    for path in ("/", "/search?service=frontend", "/map"):
        page = httpx.get(server.http_url + path, timeout=10)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert '<div id="app">' in page.text
    for path in ("/api/services", "/metrics", "/healthz", "/readyz"):
        assert httpx.get(server.http_url + path, timeout=10).status_code == 200


def test_endpoints_name_the_ports_the_server_listens_on(server: ServerProcess) -> None:
    # The UI's "how to send spans here" reads these instead of assuming the defaults.
    ports = httpx.get(server.http_url + "/api/x/endpoints", timeout=10).json()["ports"]
    assert ports["otlp-http"] == server.ports["otlp_http_port"]
    assert ports["otlp-grpc"] == server.ports["otlp_grpc_port"]
    assert ports["zipkin"] == server.ports["zipkin_port"]
    assert ports["http"] == server.ports["http_port"]
