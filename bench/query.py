"""Query latency through the HTTP API of a real ``breadcrumbs serve``, at 1M or 10M spans.

Loads ``--spans`` realistic spans (``bench/gen.py``) spread over the last ``--hours`` into a
data directory, measures the store calls alone in this process (the floor: what the API adds is
the difference), then starts the server on that directory and times each API call from a
client on loopback, one request at a time.

    python bench/query.py --spans 1000000
    python bench/query.py --spans 10000000 --queries 200
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from breadcrumbs.store.base import GetTraceParams, TagFilter, TraceQuery
from breadcrumbs.store.duckdb import DuckDBStore
from gen import Generator

HOUR_NS = 3600 * 10**9


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def report(name: str, millis: list[float], floor: list[float] | None = None) -> None:
    line = f"| {name} | {pct(millis, 0.5):.1f} | {pct(millis, 0.99):.1f} | {len(millis)} |"
    if floor:
        line += f" {pct(millis, 0.5) / pct(floor, 0.5):.2f}x |"
    else:
        line += " |"
    print(line, flush=True)


async def timed_store(n: int, call: Callable[[int], Awaitable[Any]]) -> list[float]:
    out = []
    for i in range(n):
        began = time.perf_counter()
        await call(i)
        out.append((time.perf_counter() - began) * 1000)
    return out


def timed_http(client: httpx.Client, n: int, path: Callable[[int], str]) -> list[float]:
    out = []
    for i in range(n):
        began = time.perf_counter()
        response = client.get(path(i))
        out.append((time.perf_counter() - began) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{path(i)} -> {response.status_code}: {response.text[:200]}")
    return out


async def load(directory: Path, spans: int, hours: float) -> tuple[list[str], int, float]:
    """Generate and insert; returns sampled trace ids and bytes on disk."""
    now = time.time_ns()
    gen = Generator(start_ns=now - int(hours * HOUR_NS), spans_per_second=spans / (hours * 3600))
    store = DuckDBStore(directory / "spans.duckdb")
    rng = random.Random(11)
    sample: list[str] = []
    began = time.perf_counter()
    total = 0
    for batch in gen.batches(spans, 100_000):
        ids = batch.column("TraceId")
        sample.extend(ids[rng.randrange(batch.num_rows)].as_py() for _ in range(20))
        total += batch.num_rows
        await store.write(batch, wal_sequence=0)
    took = time.perf_counter() - began
    await store.close()
    return sample, total, took


async def store_floor(directory: Path, sample: list[str], n: int) -> dict[str, list[float]]:
    store = DuckDBStore(directory / "spans.duckdb")
    try:
        services = await store.services()
        end = time.time_ns()
        rng = random.Random(3)
        floor = {
            "trace by id": await timed_store(
                n, lambda i: store.get_trace(GetTraceParams(sample[i % len(sample)]))
            ),
            "search service+tag+duration": await timed_store(
                n,
                lambda i: store.find_trace_ids(
                    TraceQuery(
                        end - HOUR_NS,
                        end,
                        service=rng.choice(services),
                        tags=(TagFilter("http.response.status_code", "500"),),
                        min_duration_ns=20_000_000,
                    )
                ),
            ),
        }
    finally:
        await store.close()
    return floor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--keep", default=None, help="an empty directory to keep the data in")
    args = parser.parse_args()

    directory = Path(args.keep or tempfile.mkdtemp(prefix="bc-query-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    sample, total, took = asyncio.run(load(directory, args.spans, args.hours))
    size = sum(p.stat().st_size for p in directory.glob("spans.duckdb*"))
    print(f"loaded {total:,} spans in {took:.0f} s; on disk {size / total:.1f} bytes/span")
    n = args.queries
    floor = asyncio.run(store_floor(directory, sample, n))

    port = free_port()
    log = (directory / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "breadcrumbs", "serve", "--data-dir", str(directory),
         "--host", "127.0.0.1", "--http-port", str(port), "--otlp-grpc-port", "0",
         "--otlp-http-port", "0", "--zipkin-port", "0", "--retention", "0"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            else:
                raise RuntimeError("server never became ready")
            services: list[str] = client.get("/api/services").json()["data"]
            rng = random.Random(3)
            print(
                f"\nmachine: {os.cpu_count()} cores, Python {sys.version.split()[0]};"
                f" {args.spans:,} spans over {args.hours} h; {n} queries each, sequential\n"
            )
            print("| API call | p50 ms | p99 ms | n | vs store alone (p50) |")
            print("|---|---|---|---|---|")
            report(
                "GET /api/traces/{id}",
                timed_http(client, n, lambda i: f"/api/traces/{sample[i % len(sample)]}"),
                floor["trace by id"],
            )
            report("  (store get_trace alone)", floor["trace by id"])
            report(
                "search: service + tag + minDuration",
                timed_http(
                    client,
                    n,
                    lambda i: (
                        f"/api/traces?service={rng.choice(services)}&lookback=1h&limit=20"
                        '&tags={"http.response.status_code":"500"}&minDuration=20ms'
                    ),
                ),
                floor["search service+tag+duration"],
            )
            report("  (store find_trace_ids alone)", floor["search service+tag+duration"])
            report(
                "search: service, limit 20",
                timed_http(
                    client, n, lambda i: f"/api/traces?service={rng.choice(services)}&limit=20"
                ),
            )
            report("GET /api/services", timed_http(client, n, lambda i: "/api/services"))
            report(
                "GET /api/services/{s}/operations",
                timed_http(client, n, lambda i: f"/api/services/{rng.choice(services)}/operations"),
            )
            report(
                "GET /api/dependencies (1 h)",
                timed_http(client, max(3, n // 20), lambda i: "/api/dependencies?lookback=3600000"),
            )
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
