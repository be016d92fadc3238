"""The SDK against a real breadcrumbs server, in a fresh process (init is once per process)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.conftest import ServerProcess

pytestmark = pytest.mark.e2e

SCRIPT = textwrap.dedent(
    """
    import asyncio
    from breadcrumbs import sdk
    from opentelemetry import trace

    telemetry = sdk.init("ignored-by-env", service_version="2.0.0", environment="test")

    @sdk.traced
    async def checkout(headers):
        with sdk.producer_span("orders", system="test", headers=headers, message_id="m-1"):
            pass
        try:
            async with sdk.third_party("legacy", "lookup", server_address="10.9.8.7", timeout=0.01):
                await asyncio.sleep(1)
        except TimeoutError:
            pass
        return trace.get_current_span().get_span_context().trace_id

    headers = {}
    trace_id = asyncio.run(checkout(headers))
    with sdk.consumer_span(headers, "orders", system="test", message_id="m-1"):
        with sdk.traced("handle order"):
            pass
    with sdk.batch_consumer_span([headers], "orders", system="test"):
        pass
    telemetry.shutdown()
    print(format(trace_id, "032x"))
    """
)


def run_client(endpoint: str, protocol: str) -> str:
    env = {
        **os.environ,
        "OTEL_SERVICE_NAME": f"sdk-e2e-{protocol.split('/')[0]}",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def tags(span: dict[str, Any]) -> dict[str, Any]:
    return {t["key"]: t["value"] for t in span["tags"]}


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_sdk_spans_arrive_with_their_shape(server: ServerProcess, protocol: str) -> None:
    endpoint = server.otlp_http_url if protocol != "grpc" else f"http://{server.grpc_target}"
    trace_id = run_client(endpoint, protocol)
    trace = server.wait_for_spans(trace_id, 5)
    spans = {s["operationName"]: s for s in trace["spans"]}
    service = trace["processes"][spans["send orders"]["processID"]]
    assert service["serviceName"] == f"sdk-e2e-{protocol.split('/')[0]}"  # OTEL_SERVICE_NAME won
    resource = {t["key"]: t["value"] for t in service["tags"]}
    assert resource["service.version"] == "2.0.0"

    root = spans["__main__.checkout"]
    producer, consumer = spans["send orders"], spans["process orders"]
    legacy, handler = spans["legacy lookup"], spans["handle order"]

    def parent(span: dict[str, Any]) -> str | None:
        refs = [r for r in span.get("references", []) if r["refType"] == "CHILD_OF"]
        return refs[0]["spanID"] if refs else None

    assert parent(producer) == root["spanID"]
    assert parent(consumer) == producer["spanID"]
    assert parent(handler) == consumer["spanID"]
    assert tags(producer)["span.kind"] == "producer"
    assert tags(consumer)["messaging.message.id"] == "m-1"
    assert tags(legacy)["peer.service"] == "legacy"
    assert tags(legacy)["server.address"] == "10.9.8.7"
    assert tags(legacy)["error.type"] == "timeout"
    assert tags(legacy)["error"] is True

    batches = server.get_json("/api/traces", service=service["serviceName"], limit=20)["data"]
    linked = [
        r
        for t in batches
        if t["traceID"] != trace_id
        for s in t["spans"]
        for r in s.get("references", [])
        if r["refType"] == "FOLLOWS_FROM"
    ]
    assert {(r["traceID"], r["spanID"]) for r in linked} == {(trace_id, producer["spanID"])}
