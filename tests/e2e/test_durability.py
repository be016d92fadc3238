"""Ack = durable: SIGKILL after the ack loses nothing; a torn WAL tail is cut with a warning;
SIGTERM drains in-flight requests, flushes and exits 0."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

if TYPE_CHECKING:
    from tests.conftest import ServerProcess

pytestmark = pytest.mark.e2e

PROTO = {"Content-Type": "application/x-protobuf"}
SPANS_PER_REQUEST = 20


def _request() -> tuple[str, bytes]:
    """One trace of ``SPANS_PER_REQUEST`` spans; returns its id and the encoded request."""
    trace_id = os.urandom(16)
    now = time.time_ns()
    request = trace_service_pb2.ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.add(
        key="service.name", value=common_pb2.AnyValue(string_value="durable")
    )
    spans = resource_spans.scope_spans.add().spans
    for i in range(SPANS_PER_REQUEST):
        spans.append(
            trace_pb2.Span(
                trace_id=trace_id,
                span_id=os.urandom(8),
                name=f"op-{i}",
                start_time_unix_nano=now - 1_000_000,
                end_time_unix_nano=now,
            )
        )
    return trace_id.hex(), bytes(request.SerializeToString())


def _send(server: ServerProcess, count: int) -> list[str]:
    acked = []
    with httpx.Client(timeout=30.0) as client:
        for _ in range(count):
            trace_id, body = _request()
            response = client.post(server.otlp_http_url + "/v1/traces", content=body, headers=PROTO)
            assert response.status_code == 200
            acked.append(trace_id)
    return acked


def _assert_all_found(server: ServerProcess, trace_ids: list[str]) -> None:
    for trace_id in trace_ids:
        assert len(server.wait_for_spans(trace_id, SPANS_PER_REQUEST)["spans"]) == (
            SPANS_PER_REQUEST
        )


@pytest.mark.parametrize("engine_args", [(), ("--store", "chdb")], ids=["duckdb", "chdb"])
def test_sigkill_after_the_ack_loses_nothing_and_a_torn_tail_is_cut(
    server_factory: Callable[..., ServerProcess], engine_args: tuple[str, ...]
) -> None:
    server = server_factory(None, *engine_args).start()
    acked = _send(server, 10)
    server.stop(signal.SIGKILL)  # no flush: whatever the store lacks must come from the WAL

    server.start()
    _assert_all_found(server, acked)
    acked += _send(server, 5)
    server.stop(signal.SIGKILL)

    segments = sorted((server.data_dir / "wal").glob("*.wal"))
    assert segments, "the WAL holds the unflushed acks"
    with segments[-1].open("ab") as segment:
        segment.write(os.urandom(37))  # a torn record: as if the power went mid-write

    server.start()
    assert "WARNING breadcrumbs.pipeline.wal" in server.log()  # the torn tail, cut loudly
    _assert_all_found(server, acked)
    more = _send(server, 2)
    _assert_all_found(server, more)
    assert server.stop() == 0


def test_sigterm_drains_in_flight_requests_flushes_and_exits_0(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = server_factory().start()
    acked: list[str] = []
    started = threading.Event()

    def keep_sending() -> None:
        with httpx.Client(timeout=30.0) as client:
            for _ in range(500):  # bounded: the server stops long before
                trace_id, body = _request()
                try:
                    response = client.post(
                        server.otlp_http_url + "/v1/traces", content=body, headers=PROTO
                    )
                except httpx.HTTPError:
                    return  # the port closed: shutdown began
                if response.status_code == 200:
                    acked.append(trace_id)
                else:  # refused while stopping: retryable, never a loss
                    assert response.status_code == 503, response.text
                if len(acked) == 20:
                    started.set()
        started.set()

    sender = threading.Thread(target=keep_sending)
    sender.start()
    assert started.wait(timeout=60)
    assert server.stop(signal.SIGTERM) == 0
    sender.join(timeout=60)
    assert not sender.is_alive()
    assert len(acked) >= 20

    server.start()
    _assert_all_found(server, acked)
    assert server.stop(signal.SIGINT) == 0


def test_start_with_a_busy_port_fails_cleanly(
    server_factory: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    first = server_factory(tmp_path / "one").start()
    second = server_factory(tmp_path / "two")
    second.ports["otlp_http_port"] = first.ports["otlp_http_port"]
    with pytest.raises(RuntimeError, match="exited with 1"):
        second.start()
    assert f"cannot listen on 127.0.0.1:{first.ports['otlp_http_port']}" in second.log()
    assert "Traceback" not in second.log()
