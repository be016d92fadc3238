"""Retention through the server's own wiring: aged-out spans go, and are counted once."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

if TYPE_CHECKING:
    from tests.conftest import ServerProcess

pytestmark = pytest.mark.e2e

HOUR_NS = 3600 * 10**9
OLD_SPANS, RECENT_SPANS = 3, 2
DELETED = re.compile(r"^breadcrumbs_retention_deleted_spans_total (\S+)$", re.MULTILINE)


def _trace(spans: int, start_ns: int) -> tuple[str, bytes]:
    trace_id = os.urandom(16)
    request = trace_service_pb2.ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.add(
        key="service.name", value=common_pb2.AnyValue(string_value="aging")
    )
    for i in range(spans):
        resource_spans.scope_spans.add().spans.append(
            trace_pb2.Span(
                trace_id=trace_id,
                span_id=os.urandom(8),
                name=f"op-{i}",
                start_time_unix_nano=start_ns,
                end_time_unix_nano=start_ns + 1_000_000,
            )
        )
    return trace_id.hex(), bytes(request.SerializeToString())


def _deleted(server: ServerProcess) -> float | None:
    found = DELETED.search(httpx.get(server.http_url + "/metrics", timeout=10).text)
    return float(found.group(1)) if found else None


def test_retention_deletes_aged_spans_and_counts_each_once(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = server_factory(None, "--retention", "1h").start()
    now = time.time_ns()
    old_id, old_body = _trace(OLD_SPANS, now - 2 * HOUR_NS)
    recent_id, recent_body = _trace(RECENT_SPANS, now)
    for body in (old_body, recent_body):
        response = httpx.post(
            server.otlp_http_url + "/v1/traces",
            content=body,
            headers={"Content-Type": "application/x-protobuf"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
    server.wait_for_spans(old_id, OLD_SPANS)
    server.wait_for_spans(recent_id, RECENT_SPANS)
    assert server.stop() == 0
    # A pass runs when the server starts: the old trace has aged out by then.
    server.start()
    deadline = time.monotonic() + server.visible_timeout_s
    while not _deleted(server):
        assert time.monotonic() < deadline, "no retention pass after the restart"
        time.sleep(0.1)
    assert _deleted(server) == OLD_SPANS
    assert httpx.get(f"{server.http_url}/api/traces/{old_id}", timeout=10).status_code == 404
    assert len(server.wait_for_spans(recent_id, RECENT_SPANS)["spans"]) == RECENT_SPANS
    assert server.stop() == 0
