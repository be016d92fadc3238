"""Query latency through the HTTP API of a real ``breadcrumbs serve``, at 1M or 10M spans.

Loads ``--spans`` realistic spans (``bench/gen.py``) spread over the last ``--hours`` into a
data directory, measures the store calls alone in this process (the floor: what the API adds is
the difference), then starts the server on that directory and times each API call from a
client on loopback, one request at a time.

    python bench/query.py --spans 1000000
    python bench/query.py --spans 10000000 --queries 200
    python bench/query.py --spans 10000000 --keep /tmp/q10m   # reuses /tmp/q10m when loaded

Searches ask for the hour that ends at the newest stored span (explicit ``start``/``end``), so a
kept data directory measures the same searches later. The ``server cpu`` column is the
server process's CPU time (all threads, ``/proc/<pid>/stat``) per request, steadier than wall
time on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
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

import duckdb
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from breadcrumbs.store.base import (
    GetTraceParams,
    GetTracesParams,
    ServicesQuery,
    TagFilter,
    TraceQuery,
)
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


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def report(
    name: str, millis: list[float], floor: list[float] | None = None, cpu: float | None = None
) -> None:
    line = f"| {name} | {pct(millis, 0.5):.1f} | {pct(millis, 0.99):.1f} | {len(millis)} |"
    line += f" {pct(millis, 0.5) / pct(floor, 0.5):.2f}x |" if floor else " |"
    line += f" {cpu * 1000 / len(millis):.1f} |" if cpu is not None else " |"
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
    """Generate and insert; returns sampled trace ids, spans written and seconds taken."""
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


def _sampled_ids(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Random spans' traces (as ``load`` samples them), sorted."""
    rows = conn.execute(
        "SELECT lpad(lower(hex(TraceId)), 32, '0') FROM spans"
        " USING SAMPLE 2000 ROWS (reservoir, 11)"
    ).fetchall()
    return sorted(row[0] for row in rows)


def loaded(directory: Path) -> tuple[list[str], int, int]:
    """A kept directory's sampled trace ids, span count and newest span start, read with a
    read-only connection."""
    conn = duckdb.connect(str(directory / "spans.duckdb"), read_only=True)
    try:
        ids = _sampled_ids(conn)
        ((spans, newest),) = conn.execute("SELECT count(*), max(Timestamp) FROM spans").fetchall()
    finally:
        conn.close()
    return ids, int(spans), int(newest)


def loaded_services(directory: Path) -> tuple[list[str], list[str], int]:
    """A kept directory's sampled trace ids, its services and newest span start."""
    conn = duckdb.connect(str(directory / "spans.duckdb"), read_only=True)
    try:
        ids = _sampled_ids(conn)
        rows = conn.execute("SELECT DISTINCT ServiceName FROM spans ORDER BY 1").fetchall()
        ((newest,),) = conn.execute("SELECT max(Timestamp) FROM spans").fetchall()
    finally:
        conn.close()
    return ids, [row[0] for row in rows], int(newest)


def search_query(end: int, service: str) -> TraceQuery:
    return TraceQuery(
        end - HOUR_NS,
        end,
        service=service,
        tags=(TagFilter("http.response.status_code", "500"),),
        min_duration_ns=20_000_000,
    )


async def store_floor(
    directory: Path, sample: list[str], n: int, end: int
) -> dict[str, list[float]]:
    store = DuckDBStore(directory / "spans.duckdb")
    try:
        # The trace lookup's merges the server runs in the background, done first so both
        # measure the compacted store (getattr: the script also measures older checkouts).
        compact = getattr(store, "compact", None)
        while compact is not None:
            began, began_cpu = time.perf_counter(), time.process_time()
            if not await compact():
                break
            print(
                f"lookup compaction step: {time.perf_counter() - began:.2f} s,"
                f" cpu {time.process_time() - began_cpu:.2f} s"
            )
        services = await store.services(ServicesQuery())
        rng = random.Random(3)
        found = [await store.find_trace_ids(search_query(end, s)) for s in services]
        pages = [ids for ids in found if len(ids) == 20] or [sample[:20]]
        floor = {
            "trace by id": await timed_store(
                n, lambda i: store.get_trace(GetTraceParams(sample[i % len(sample)]))
            ),
            "search service+tag+duration": await timed_store(
                n, lambda i: store.find_trace_ids(search_query(end, rng.choice(services)))
            ),
            "get_traces (a search's 20 ids)": await timed_store(
                n, lambda i: store.get_traces(GetTracesParams(tuple(pages[i % len(pages)])))
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
    parser.add_argument("--keep", default=None, help="a directory to keep (or reuse) the data in")
    parser.add_argument("--no-dependencies", action="store_true", help="skip the slow one")
    args = parser.parse_args()

    directory = Path(args.keep or tempfile.mkdtemp(prefix="bc-query-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / "spans.duckdb").exists():
        sample, total, end = loaded(directory)
        print(f"reusing {directory}: {total:,} spans")
    else:
        sample, total, took = asyncio.run(load(directory, args.spans, args.hours))
        end = time.time_ns()
        print(f"loaded {total:,} spans in {took:.0f} s")
    size = sum(p.stat().st_size for p in directory.glob("spans.duckdb*"))
    print(f"on disk {size / total:.1f} bytes/span; load average {os.getloadavg()}")
    n = args.queries
    floor = asyncio.run(store_floor(directory, sample, n, end))
    window = f"start={(end - HOUR_NS) // 1000}&end={end // 1000}"
    two_days = f"start={(end - 48 * HOUR_NS) // 1000}&end={end // 1000}"  # Jaeger's default

    port = free_port()
    log = (directory / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "breadcrumbs", "serve", "--data-dir", str(directory),
         "--host", "127.0.0.1", "--http-port", str(port), "--otlp-grpc-port", "0",
         "--otlp-http-port", "0", "--zipkin-port", "0", "--sampling-port", "0", "--retention", "0"],
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
                f" {total:,} spans; {n} queries each, sequential\n"
            )
            print("| API call | p50 ms | p99 ms | n | vs store alone (p50) | server cpu ms/req |")
            print("|---|---|---|---|---|---|")

            def api(
                name: str, count: int, path: Callable[[int], str], floor: list[float] | None = None
            ) -> None:
                before = cpu_seconds(server.pid)
                millis = timed_http(client, count, path)
                report(name, millis, floor, cpu_seconds(server.pid) - before)

            api(
                "GET /api/traces/{id}",
                n,
                lambda i: f"/api/traces/{sample[i % len(sample)]}",
                floor["trace by id"],
            )
            report("  (store get_trace alone)", floor["trace by id"])
            # Responses compare across read-path changes: equal digests, byte-identical answers.
            digest = hashlib.sha256()
            for trace_id in sample[:200]:
                digest.update(client.get(f"/api/traces/{trace_id}").content)
            print(f"  (sha256 of GET /api/traces/{{id}} for 200 sampled ids: {digest.hexdigest()})")
            api(
                "search: service + tag + minDuration",
                n,
                lambda i: (
                    f"/api/traces?service={rng.choice(services)}&{window}&limit=20"
                    '&tags={"http.response.status_code":"500"}&minDuration=20ms'
                ),
                floor["search service+tag+duration"],
            )
            report("  (store find_trace_ids alone)", floor["search service+tag+duration"])
            report("  (store get_traces of 20 ids alone)", floor["get_traces (a search's 20 ids)"])
            api(
                "search: service, limit 20",
                n,
                lambda i: f"/api/traces?service={rng.choice(services)}&{two_days}&limit=20",
            )
            api("GET /api/services", n, lambda i: "/api/services")
            api(
                "GET /api/services/{s}/operations",
                n,
                lambda i: f"/api/services/{rng.choice(services)}/operations",
            )
            if not args.no_dependencies:
                api(
                    "GET /api/dependencies (1 h)",
                    max(3, n // 20),
                    lambda i: f"/api/dependencies?endTs={end // 10**6}&lookback=3600000",
                )
            print(f"\nload average after: {os.getloadavg()}")
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
