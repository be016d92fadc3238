"""Tail sampling in a real ``breadcrumbs serve --tail-sampling-rate 0.1``, fed by the real
OpenTelemetry Python SDK over OTLP HTTP: every error trace kept, the healthy ones kept exactly
when their trace id falls in the 10% (or they were slow), each labelled with its policy and
the kept-at-random ones carrying their adjusted count in ``ot=th:``."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from breadcrumbs.sampling.threshold import of_tracestate, probability

if TYPE_CHECKING:
    from tests.conftest import ServerProcess

pytestmark = pytest.mark.e2e

SERVER_ARGS = ("--tail-sampling-rate", "0.1")
HEALTHY = 300
ERRORS = 12


def _send(server: ServerProcess) -> tuple[list[str], list[str]]:
    """Healthy and error traces (a server span calling a database), their trace ids."""
    exporter = OTLPSpanExporter(endpoint=server.otlp_http_url + "/v1/traces")
    provider = TracerProvider(resource=Resource.create({"service.name": "tail-e2e"}))
    provider.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=64))
    tracer = provider.get_tracer("tail-e2e")
    healthy: list[str] = []
    errors: list[str] = []
    for n in range(HEALTHY + ERRORS):
        failing = n % ((HEALTHY + ERRORS) // ERRORS) == 0
        with tracer.start_as_current_span("GET /menu", kind=SpanKind.SERVER) as root:
            with tracer.start_as_current_span(
                "SELECT menu", kind=SpanKind.CLIENT, attributes={"db.system": "sqlite"}
            ) as query:
                if failing:
                    query.set_status(Status(StatusCode.ERROR, "disk I/O error"))
            (errors if failing else healthy).append(f"{root.get_span_context().trace_id:032x}")
    provider.shutdown()  # flushes every span
    return healthy, errors


def _stored(server: ServerProcess, count: int) -> dict[str, list[dict[str, Any]]]:
    """Every stored trace of the service (trace id -> spans), once there are ``count``."""
    deadline = time.monotonic() + server.visible_timeout_s * 3
    while True:
        found = server.get_json("/api/traces", service="tail-e2e", limit=1500, lookback="1h")[
            "data"
        ]
        traces = {t["traceID"]: t["spans"] for t in found}
        if len(traces) >= count and all(len(s) == 2 for s in traces.values()):
            return traces
        assert time.monotonic() < deadline, f"{len(traces)} of {count} kept traces visible"
        time.sleep(0.1)


def _tags(span: dict[str, Any]) -> dict[str, Any]:
    return {tag["key"]: tag["value"] for tag in span["tags"]}


def _metric(server: ServerProcess, line_start: str) -> float:
    text = httpx.get(server.http_url + "/metrics", timeout=10.0).text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(line_start))


def test_errors_kept_the_rest_thinned_by_trace_id(server: ServerProcess) -> None:
    healthy, errors = _send(server)
    # Complete traces are decided on arrival; wait (boundedly) until every decision is made.
    decided = "breadcrumbs_tail_sampling_traces_total{"
    deadline = time.monotonic() + server.visible_timeout_s * 3
    while _metric(server, decided) < HEALTHY + ERRORS and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _metric(server, decided) == HEALTHY + ERRORS

    kept = _metric(server, 'breadcrumbs_tail_sampling_traces_total{decision="kept"')
    stored = {
        trace_id: {_tags(span)["breadcrumbs.sampling.policy"] for span in spans}
        for trace_id, spans in _stored(server, int(kept)).items()
    }
    assert all(len(labels) == 1 for labels in stored.values())  # one decision per trace
    policy = {trace_id: labels.pop() for trace_id, labels in stored.items()}
    assert {t for t, p in policy.items() if p == "error"} == set(errors)

    chosen = {t for t in healthy if int(t[:14], 16) < 0.1 * 2**56}
    at_random = {t for t, p in policy.items() if p == "probabilistic"}
    slow = {t for t, p in policy.items() if p == "latency"}
    assert at_random | slow == set(policy) - set(errors)
    assert chosen <= at_random | slow  # every trace the rate chose is kept
    assert at_random <= chosen  # and no other healthy trace, unless slow
    assert 0.04 < len(chosen) / HEALTHY < 0.18  # the SDK's random ids: about 10%

    traces = _stored(server, int(kept))
    for trace_id in sorted(at_random):
        for span in traces[trace_id]:
            state = _tags(span)["w3c.tracestate"]
            assert probability(of_tracestate(state)) == pytest.approx(0.1)  # adjusted count 10

    kept_spans = _metric(server, 'breadcrumbs_tail_sampling_spans_total{decision="kept"')
    dropped_spans = _metric(server, 'breadcrumbs_tail_sampling_spans_total{decision="dropped"')
    assert kept_spans == 2 * len(policy)
    assert dropped_spans == 2 * (HEALTHY + ERRORS - len(policy))
    assert (
        _metric(server, 'breadcrumbs_tail_sampling_traces_total{decision="kept",policy="error"}')
        == ERRORS
    )
