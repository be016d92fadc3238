"""Overload: with the pipeline full, OTLP/HTTP answers 429 with Retry-After and a Status body,
gRPC RESOURCE_EXHAUSTED with a RetryInfo, Zipkin 429; nothing is lost that was acked."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

if TYPE_CHECKING:
    from tests.conftest import ServerProcess

pytestmark = pytest.mark.e2e

PROTO = {"Content-Type": "application/x-protobuf"}
# The store flush waits a minute, so the 10-span budget of unflushed spans stays used up.
SERVER_ARGS = ("--max-unflushed-spans", "10", "--flush-interval", "60s")


def _request(spans: int) -> tuple[str, bytes]:
    trace_id = os.urandom(16)
    now = time.time_ns()
    request = trace_service_pb2.ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.add(
        key="service.name", value=common_pb2.AnyValue(string_value="busy")
    )
    resource_spans.scope_spans.add().spans.extend(
        trace_pb2.Span(
            trace_id=trace_id,
            span_id=os.urandom(8),
            name="op",
            start_time_unix_nano=now - 1000,
            end_time_unix_nano=now,
        )
        for _ in range(spans)
    )
    return trace_id.hex(), bytes(request.SerializeToString())


def test_a_full_pipeline_answers_retryable_errors(server: ServerProcess) -> None:
    url = server.otlp_http_url + "/v1/traces"
    first_id, first = _request(10)
    assert httpx.post(url, content=first, headers=PROTO).status_code == 200

    _, second = _request(8)
    refused = httpx.post(url, content=second, headers=PROTO)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    status = status_pb2.Status.FromString(refused.content)
    assert status.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    assert "retry" in status.message

    with grpc.insecure_channel(server.grpc_target) as channel:
        export = channel.unary_unary(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            request_serializer=lambda body: body,
            response_deserializer=lambda body: body,
        )
        with pytest.raises(grpc.RpcError) as raised:
            export(second, timeout=10)
    error = raised.value
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    details = dict(error.trailing_metadata())["grpc-status-details-bin"]
    rich = status_pb2.Status.FromString(details)
    assert rich.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    retry = error_details_pb2.RetryInfo()
    assert rich.details[0].Unpack(retry)
    assert retry.retry_delay.seconds >= 1

    zipkin = httpx.post(
        server.zipkin_url + "/api/v2/spans",
        content=b'[{"traceId":"%s","id":"%s","name":"z","timestamp":%d,"duration":5,'
        b'"localEndpoint":{"serviceName":"busy"}}]'
        % (os.urandom(16).hex().encode(), os.urandom(8).hex().encode(), time.time_ns() // 1000),
        headers={"Content-Type": "application/json"},
    )
    assert zipkin.status_code == 429
    assert zipkin.headers["retry-after"]

    # what was acked survives: a graceful stop flushes it, a restart finds it
    assert server.stop() == 0
    server.start()
    assert len(server.wait_for_spans(first_id, 10)["spans"]) == 10
