"""RED from a real OpenTelemetry SDK through a real server: the spanmetrics names on
``/metrics`` with an exemplar trace id when scraped as OpenMetrics, the native and Jaeger
APIs, and counts that survive a SIGKILL without double counting."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from typer.testing import CliRunner

from breadcrumbs.cli import app

if TYPE_CHECKING:
    from tests.conftest import ServerProcess

pytestmark = pytest.mark.e2e

WAIT_S = 60.0  # generous for a loaded 2-core CI machine
OPENMETRICS = {"Accept": "application/openmetrics-text; version=1.0.0"}


def _send(server: ServerProcess, service: str, calls: int, errors: int) -> list[str]:
    """``calls`` server spans of ``service`` (the first ``errors`` failing), through the real
    SDK's OTLP HTTP exporter; returns their trace ids."""
    exporter = OTLPSpanExporter(endpoint=server.otlp_http_url + "/v1/traces")
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("red-e2e")
    trace_ids = []
    for i in range(calls):
        with tracer.start_as_current_span("GET /checkout", kind=SpanKind.SERVER) as span:
            if i < errors:
                span.set_status(Status(StatusCode.ERROR, "boom"))
            trace_ids.append(f"{span.get_span_context().trace_id:032x}")
    provider.shutdown()
    return trace_ids


def _until(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT_S
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT_S} s: {what}")
        time.sleep(0.2)


def _red_calls(server: ServerProcess, service: str) -> int:
    body = server.get_json("/api/x/red", service=service, groupBy="service")
    return sum(series["totals"]["calls"] for series in body["series"])


def test_prometheus_spanmetrics_with_exemplars(server: ServerProcess) -> None:
    trace_ids = _send(server, "red-e2e", calls=5, errors=2)

    def scrape() -> str | None:
        text = httpx.get(server.http_url + "/metrics", headers=OPENMETRICS, timeout=10).text
        return text if 'service_name="red-e2e"' in text else None

    text = _until(scrape, "span metrics of red-e2e on /metrics")
    lines = [line for line in text.splitlines() if 'service_name="red-e2e"' in line]
    calls = {
        line.split("{")[0] + ("error" if "STATUS_CODE_ERROR" in line else "")
        for line in lines
        if line.startswith("traces_span_metrics_calls_total")
    }
    assert calls == {"traces_span_metrics_calls_total", "traces_span_metrics_calls_totalerror"}
    assert any(
        line.startswith("traces_span_metrics_duration_milliseconds_bucket")
        and 'span_kind="SPAN_KIND_SERVER"' in line
        and 'span_name="GET /checkout"' in line
        for line in lines
    )
    exemplar_ids = {line.split('trace_id="')[1][:32] for line in lines if ' # {trace_id="' in line}
    assert exemplar_ids
    assert exemplar_ids <= set(trace_ids)
    assert "traces_span_metrics_calls_total" in text.split("# EOF")[0]

    plain = httpx.get(server.http_url + "/metrics", timeout=10).text
    assert "traces_span_metrics_calls_total{" in plain
    assert ' # {trace_id="' not in plain  # exemplars only in OpenMetrics


def test_red_apis_count_what_the_sdk_sent(server: ServerProcess) -> None:
    _send(server, "red-api-e2e", calls=7, errors=3)
    _until(lambda: _red_calls(server, "red-api-e2e") == 7, "7 calls in /api/x/red")
    body = server.get_json("/api/x/red", service="red-api-e2e")
    (series,) = body["series"]
    assert (series["operation"], series["spanKind"]) == ("GET /checkout", "server")
    assert series["totals"]["errors"] == 3
    jaeger = server.get_json("/api/metrics/errors", service="red-api-e2e", step=60_000)
    assert jaeger["name"] == "service_error_rate"
    values = [p["gaugeValue"]["doubleValue"] for p in jaeger["metrics"][0]["metricPoints"]]
    assert values[-1] == pytest.approx(3 / 7)


def test_sigkill_and_replay_do_not_double_count(
    server_factory: Callable[..., ServerProcess], request: pytest.FixtureRequest
) -> None:
    extra = getattr(request.module, "SERVER_ARGS", ())  # the engine's, in a module reusing this
    first = server_factory(None, *extra).start()
    _send(first, "red-kill", calls=12, errors=1)
    _until(lambda: _red_calls(first, "red-kill") == 12, "12 calls before the kill")
    first.kill()  # SIGKILL: the WAL still holds what the stages committed

    second = server_factory(first.data_dir, *extra).start()
    assert _red_calls(second, "red-kill") == 12
    _send(second, "red-kill", calls=3, errors=0)
    _until(lambda: _red_calls(second, "red-kill") == 15, "15 calls after the restart")
    second.kill()


def test_top_names_failing_operations_in_text(server: ServerProcess) -> None:
    _send(server, "red-top", calls=8, errors=2)
    _until(lambda: _red_calls(server, "red-top") == 8, "8 calls of red-top")
    runner = CliRunner()
    shown = runner.invoke(
        app,
        ["top", "--once", "--service", "red-top", "--sort", "errors", "--server", server.http_url],
    )
    assert shown.exit_code == 0, shown.output
    row = next(line for line in shown.output.splitlines() if "GET /checkout" in line)
    assert "red-top" in row
    assert "✗ 25.0% ERR" in row  # marked in text, not colour alone
    assert "✗ 2 errors in 1 operations" in shown.output

    answer = runner.invoke(
        app, ["top", "--json", "--service", "red-top", "--server", server.http_url]
    )
    assert answer.exit_code == 0, answer.output
    (series,) = orjson.loads(answer.output)["series"]
    assert series["totals"]["calls"] == 8


def test_zipkin_shared_span_is_one_call_on_both_dependencies_apis(server: ServerProcess) -> None:
    trace_id = f"{time.time_ns() & (2**64 - 1):016x}"
    now_us = time.time_ns() // 1000 - 5_000_000

    def span(span_id: str, parent: str | None, service: str, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "traceId": trace_id,
            "id": span_id,
            "name": f"{service} work",
            "localEndpoint": {"serviceName": service},
            "timestamp": now_us + int(span_id, 16) * 1000,
            "duration": 50_000,
            **extra,
        }
        if parent:
            body["parentId"] = parent
        return body

    spans = [
        span("00000000000000a1", None, "zweb", kind="SERVER"),
        span("00000000000000b2", "00000000000000a1", "zweb", kind="CLIENT",
             remoteEndpoint={"serviceName": "zapi"}),
        span("00000000000000b2", "00000000000000a1", "zapi", kind="SERVER", shared=True),
        span("00000000000000c3", "00000000000000b2", "zapi"),
        span("00000000000000c4", "00000000000000b2", "zapi", kind="CLIENT",
             remoteEndpoint={"serviceName": "zdb"}),
    ]  # fmt: skip
    response = httpx.post(server.zipkin_url + "/api/v2/spans", json=spans, timeout=10)
    assert response.status_code == 202, response.text
    end_ms = time.time_ns() // 1_000_000 + 60_000

    def jaeger() -> Any:
        links = server.get_json("/api/dependencies", endTs=end_ms, lookback=600_000)["data"]
        return [link for link in links if link["parent"] in ("zweb", "zapi")] or None

    def zipkin() -> Any:
        response = httpx.get(
            server.zipkin_url + "/api/v2/dependencies",
            params={"endTs": end_ms, "lookback": 600_000},
            timeout=10,
        )
        links = response.json()
        return [link for link in links if link["parent"] in ("zweb", "zapi")] or None

    expected = [("zapi", "zdb", 1), ("zweb", "zapi", 1)]
    jaeger_links = _until(jaeger, "zweb -> zapi on the Jaeger dependencies API")
    assert sorted((x["parent"], x["child"], x["callCount"]) for x in jaeger_links) == expected
    zipkin_links = _until(zipkin, "zweb -> zapi on the Zipkin dependencies API")
    assert sorted((x["parent"], x["child"], x["callCount"]) for x in zipkin_links) == expected
