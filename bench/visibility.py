"""Accepted spans are searchable within 2 s: the contract the tests no longer time.

Starts ``breadcrumbs serve`` on a temp dir and sends probe traces (one OTLP/HTTP request of 10
spans each) at a steady rate, optionally over background ingest (requests of 1000 spans). For
each probe it measures the ack (send -> 200) and the visibility (ack -> the first
``GET /api/traces/{id}`` that returns all 10 spans, polled every 10 ms). The floor, measured
in the same run, is the ack itself: what receiving and the durable WAL cost before the
store's flush (``--flush-interval``, 1 s by default) makes the spans searchable.

    python bench/visibility.py                               # 200 probes at 5/s
    python bench/visibility.py --background-rps 20           # over ~20k spans/s of ingest
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from ingest import make_request, start_breadcrumbs

CONTRACT_S = 2.0
SPANS_PER_PROBE = 10
POLL_S = 0.01
PROTO = {"Content-Type": "application/x-protobuf"}
transport_errors = 0  # dropped connections, retried as an OTLP exporter would


async def post(client: httpx.AsyncClient, url: str, body: bytes) -> httpx.Response:
    global transport_errors
    while True:
        try:
            return await client.post(url, content=body, headers=PROTO)
        except httpx.TransportError:
            transport_errors += 1


def probe_request() -> tuple[str, bytes]:
    trace_id = os.urandom(16)
    now = time.time_ns()
    request = trace_service_pb2.ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.add(
        key="service.name", value=common_pb2.AnyValue(string_value="probe")
    )
    resource_spans.scope_spans.add().spans.extend(
        trace_pb2.Span(
            trace_id=trace_id,
            span_id=os.urandom(8),
            name=f"probe-{i}",
            start_time_unix_nano=now - 1_000_000,
            end_time_unix_nano=now,
        )
        for i in range(SPANS_PER_PROBE)
    )
    return trace_id.hex(), bytes(request.SerializeToString())


async def probe(client: httpx.AsyncClient, otlp: str, api: str) -> tuple[float, float]:
    """(ack seconds, ack -> searchable seconds) of one probe trace."""
    trace_id, body = probe_request()
    sent = time.perf_counter()
    response = await post(client, otlp + "/v1/traces", body)
    response.raise_for_status()
    acked = time.perf_counter()
    while True:
        try:
            got = await client.get(f"{api}/api/traces/{trace_id}")
        except httpx.TransportError:
            continue
        if got.status_code == 200 and len(got.json()["data"][0]["spans"]) >= SPANS_PER_PROBE:
            return acked - sent, time.perf_counter() - acked
        await asyncio.sleep(POLL_S)


async def background(client: httpx.AsyncClient, otlp: str, rps: float, stop: asyncio.Event) -> int:
    """Requests of 1000 spans at ``rps``, one at a time; returns how many were acked."""
    rng = random.Random(7)
    pool = [make_request(rng, time.time_ns()) for _ in range(20)]
    sent = 0
    while not stop.is_set():
        began = time.perf_counter()
        response = await post(client, otlp + "/v1/traces", pool[sent % 20])
        sent += response.status_code == 200
        await asyncio.sleep(max(0.0, 1 / rps - (time.perf_counter() - began)))
    return sent


async def run(args: argparse.Namespace, otlp: str, api: str) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        stop = asyncio.Event()
        loads = [
            asyncio.create_task(background(client, otlp, args.background_rps / 2, stop))
            for _ in range(2 if args.background_rps else 0)
        ]
        tasks = []
        began = time.perf_counter()
        for _ in range(args.probes):
            tasks.append(asyncio.create_task(probe(client, otlp, api)))
            await asyncio.sleep(1 / args.rate)
        results = await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - began
        stop.set()
        background_requests = sum(await asyncio.gather(*loads))
    acks = sorted(ack for ack, _ in results)
    visible = sorted(seen for _, seen in results)

    def pct(values: list[float], q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))]

    within = sum(seen <= CONTRACT_S for seen in visible) / len(visible)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f} (shared)"
    )
    print(
        f"probes {len(results)} at {args.rate:g}/s; background "
        f"{background_requests * 1000 / elapsed:,.0f} spans/s; "
        f"{transport_errors} dropped connections (retried)"
    )
    ack_p50, ack_p99 = pct(acks, 0.5) * 1000, pct(acks, 0.99) * 1000
    print(f"floor, ack:         p50 {ack_p50:7.1f} ms  p99 {ack_p99:7.1f} ms")
    print(
        f"ack -> searchable:  p50 {pct(visible, 0.5) * 1000:7.1f} ms  "
        f"p99 {pct(visible, 0.99) * 1000:7.1f} ms  max {visible[-1] * 1000:7.1f} ms  "
        f"mean {statistics.fmean(visible) * 1000:.1f} ms"
    )
    print(
        f"within {CONTRACT_S:g} s: {within:.1%}; "
        f"p99 / contract {pct(visible, 0.99) / CONTRACT_S:.2f}; "
        f"p50 / ack p50 {pct(visible, 0.5) / pct(acks, 0.5):.1f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--rate", type=float, default=5.0, help="probe traces per second")
    parser.add_argument("--background-rps", type=float, default=0.0, help="1000-span requests/s")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-visibility-") as tmp:
        target = start_breadcrumbs(Path(tmp) / "data", Path(tmp) / "server.log", "auto")
        try:
            api = target.ready_url.removesuffix("/readyz")
            asyncio.run(run(args, f"http://127.0.0.1:{target.http_port}", api))
        finally:
            target.stop()


if __name__ == "__main__":
    main()
