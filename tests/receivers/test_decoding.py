"""Decoding in worker processes: the same batches, the same errors, and no orphans."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from tests.conftest import ServerProcess

from breadcrumbs import procfs
from breadcrumbs.codec import otlp, zipkin
from breadcrumbs.codec.base import DecodeLimits
from breadcrumbs.errors import BadInput, Unavailable
from breadcrumbs.receivers.decoding import InProcessDecoding, WorkerDecoding, decoding
from breadcrumbs.selfmetrics import SelfMetrics


def _request(spans: int, seed: int = 1) -> bytes:
    """A body large enough (> 64 KiB) to go to a worker."""
    rng = random.Random(seed)
    now = time.time_ns()
    made = [
        Span(
            trace_id=rng.randbytes(16),
            span_id=rng.randbytes(8),
            name=f"GET /smoothies/{i}",
            kind=Span.SPAN_KIND_SERVER,
            start_time_unix_nano=now - 1_000_000,
            end_time_unix_nano=now,
            attributes=[
                KeyValue(key="user.id", value=AnyValue(string_value=f"u{rng.randrange(10**6)}")),
                KeyValue(key="http.response.status_code", value=AnyValue(int_value=200)),
            ],
        )
        for i in range(spans)
    ]
    made.append(Span(trace_id=bytes(16), span_id=b"\x01" * 8, start_time_unix_nano=now))
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(
                    attributes=[KeyValue(key="service.name", value=AnyValue(string_value="kale"))]
                ),
                scope_spans=[ScopeSpans(spans=made)],
            )
        ]
    )
    body = request.SerializeToString()
    assert len(body) > 64 * 1024
    return body


@pytest.fixture(scope="module")
def workers() -> Iterator[WorkerDecoding]:
    pool = WorkerDecoding(1)
    yield pool
    pool.close()


async def test_workers_give_the_batch_this_process_gives(workers: WorkerDecoding) -> None:
    body = _request(1000)
    limits = DecodeLimits()
    here = await InProcessDecoding().decode(otlp.decode_proto, body, limits)
    there = await workers.decode(otlp.decode_proto, body, limits)
    assert there.batch.equals(here.batch)
    assert there.batch.schema.equals(here.batch.schema, check_metadata=True)
    assert (there.rejected, there.error) == (here.rejected, here.error) == (1, there.error)
    assert "invalid trace id" in there.error


async def test_codec_errors_come_back_as_the_same_client_errors(workers: WorkerDecoding) -> None:
    body = _request(1000)[:-7]  # cut inside the last span
    with pytest.raises(BadInput) as here:
        await InProcessDecoding().decode(otlp.decode_proto, body, DecodeLimits())
    with pytest.raises(BadInput) as there:
        await workers.decode(otlp.decode_proto, body, DecodeLimits())
    assert type(there.value) is type(here.value)
    assert there.value.message == here.value.message
    with pytest.raises(BadInput, match="too many spans"):
        await workers.decode(otlp.decode_proto, _request(1000), DecodeLimits(max_spans=10))
    with pytest.raises(BadInput):
        await workers.decode(zipkin.decode_json, b"[" + b" " * 70_000, DecodeLimits())


def _workers_of(pid: int) -> list[int]:
    """The decode workers: children of the forkserver, not the forkserver or the tracker."""
    forkservers = [
        child
        for child in procfs.descendants(pid)
        if b"multiprocessing.forkserver" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]
    return [child for forkserver in forkservers for child in procfs.descendants(forkserver)]


def _alive(pid: int) -> bool:
    return procfs.state(pid) not in (None, "Z")


async def test_a_dead_worker_fails_one_request_retryably_then_is_replaced() -> None:
    pool = WorkerDecoding(1)
    try:
        body = _request(1000)
        await pool.decode(otlp.decode_proto, body, DecodeLimits())
        for pid in _workers_of(os.getpid()):
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(Unavailable):
            await pool.decode(otlp.decode_proto, body, DecodeLimits())
        result = await pool.decode(otlp.decode_proto, body, DecodeLimits())
        assert result.batch.num_rows == 1000
    finally:
        pool.close()


@pytest.mark.parametrize("kind", ["in-process", "workers"])
async def test_bodies_waiting_for_a_decode_are_bounded(kind: str) -> None:
    body = _request(1000)
    budget = 2 * len(body) + 1  # room for two waiting bodies, not three
    metrics = SelfMetrics()
    pool: InProcessDecoding | WorkerDecoding = (
        InProcessDecoding(budget, metrics)
        if kind == "in-process"
        else WorkerDecoding(1, budget, metrics)
    )
    try:
        calls = [pool.decode(otlp.decode_proto, body, DecodeLimits()) for _ in range(3)]
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert [type(r).__name__ for r in results] == ["DecodeResult", "DecodeResult", "Overloaded"]
        assert pool.queued_bytes == 0
        assert (await pool.decode(otlp.decode_proto, body, DecodeLimits())).batch.num_rows == 1000
        sample = metrics.registry.get_sample_value
        assert sample("breadcrumbs_decode_queued_bytes") == 0
        assert sample("breadcrumbs_decode_duration_seconds_count") == 3
        assert sample("breadcrumbs_decode_workers") == (0 if kind == "in-process" else 1)
    finally:
        pool.close()


def test_zero_workers_decode_in_this_process() -> None:
    assert isinstance(decoding(0), InProcessDecoding)
    assert isinstance(decoding(2), WorkerDecoding)
    decoding(2).close()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_the_server_leaves_no_worker_behind(
    server_factory: Callable[..., ServerProcess], sig: int
) -> None:
    server = server_factory(None, "--decode-workers", "2").start()
    response = httpx.post(
        f"{server.otlp_http_url}/v1/traces",
        content=_request(1000),
        headers={"Content-Type": "application/x-protobuf"},
        timeout=30,
    )
    assert response.status_code == 200
    assert server.proc is not None
    descendants = procfs.descendants(server.proc.pid)
    assert len(descendants) >= 3  # the forkserver and two workers
    server.stop(sig)
    deadline = time.monotonic() + 60  # generous: a loaded 2-core machine
    while any(map(_alive, descendants)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in descendants if _alive(pid)]
