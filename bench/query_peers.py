"""Queries side by side: breadcrumbs and its peers, each loaded the same way, queried the same way.

Each system (breadcrumbs, then each of ``--peers``) starts fresh on ports 44000-44999 and takes
``--seconds`` of ingest from 4 clients: the same unique 1000-span requests
(``peer_requests.UniqueRequests``) over OTLP gRPC (Zipkin's server: the same spans as Zipkin
JSON v2). Once its own count stops moving, it answers, one request at a time from a client on
loopback, through its own HTTP API:

- ``--gets`` get-trace calls for acknowledged traces picked at random (Jaeger's
  ``/api/traces/{id}``, which breadcrumbs serves too; Zipkin's ``/api/v2/trace/{id}``);
- ``--searches`` searches for a service + a tag + a minimum duration, 20 traces, over the last
  hour (``/api/traces?service=..&tags=..&minDuration=..&limit=20``; Zipkin's
  ``/api/v2/traces?serviceName=..&annotationQuery=..&minDuration=..``).

Wall p50/p99 and the server's CPU per request, and breadcrumbs' as a ratio to each peer.
Semantics differ: Jaeger lets the tag and the duration match different spans of a trace;
breadcrumbs requires one span to match both.

    python bench/query_peers.py --peers jaeger-memory,jaeger-badger
    python bench/query_peers.py --peers jaeger-memory,jaeger-badger,zipkin --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import SERVICES, make_request
from peer_ingest import check_stored, send_load, settle, start
from peer_requests import UniqueRequests
from peers import PEERS, Peer

HOUR_US = 3600 * 10**6


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q * 100) - 1] if len(values) > 1 else values[0]


def get_path(peer: Peer, trace_id: str) -> str:
    if peer.name == "zipkin":
        return f"/api/v2/trace/{trace_id}"
    return f"/api/traces/{trace_id}"


def search_path(peer: Peer, service: str, end_us: int) -> str:
    if peer.name == "zipkin":
        params = {
            "serviceName": service,
            "annotationQuery": "http.response.status_code=500",
            "minDuration": "20000",
            "endTs": str(end_us // 1000),
            "lookback": str(HOUR_US // 1000),
            "limit": "20",
        }
        return "/api/v2/traces?" + urlencode(params)
    params = {
        "service": service,
        "tags": json.dumps({"http.response.status_code": "500"}),
        "minDuration": "20ms",
        "start": str(end_us - HOUR_US),
        "end": str(end_us),
        "limit": "20",
    }
    return "/api/traces?" + urlencode(params)


def found_traces(peer: Peer, body: object) -> int:
    if peer.name == "zipkin":
        assert isinstance(body, list)
        return len(body)
    assert isinstance(body, dict)
    return len(body["data"])


@dataclass
class Figures:
    system: str
    spans: int
    ingest_rate: float
    gets: list[float]
    get_cpu_ms: float
    searches: list[float]
    search_cpu_ms: float
    found_per_search: float
    missing: int

    def rows(self) -> list[str]:
        return [
            f"| {self.system} | get-trace | {pct(self.gets, 0.5):.1f} | "
            f"{pct(self.gets, 0.99):.1f} | {len(self.gets)} | {self.get_cpu_ms:.1f} | |",
            f"| {self.system} | search (service + tag + minDuration, 20) | "
            f"{pct(self.searches, 0.5):.1f} | {pct(self.searches, 0.99):.1f} | "
            f"{len(self.searches)} | {self.search_cpu_ms:.1f} | {self.found_per_search:.1f} |",
        ]


def timed(
    client: httpx.Client, peer: Peer, paths: list[str]
) -> tuple[list[float], float, list[object]]:
    millis: list[float] = []
    bodies: list[object] = []
    cpu_before = peer.cpu_seconds()
    for path in paths:
        began = time.perf_counter()
        response = client.get(path)
        millis.append((time.perf_counter() - began) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{peer.name} {path} -> {response.status_code}: {response.text}")
        bodies.append(response.json())
    return millis, (peer.cpu_seconds() - cpu_before) * 1000 / len(paths), bodies


def measure(system: str, pool: list[bytes], args: argparse.Namespace, workdir: Path) -> Figures:
    encoding = "zipkin" if system == "zipkin" else "otlp"
    stream = UniqueRequests(pool, encoding)
    peer = start(system, workdir)
    try:
        load = asyncio.run(
            send_load(peer, "zipkin" if system == "zipkin" else "grpc", stream, args.seconds)
        )
        settled = settle(peer, load.spans)
        stored = check_stored(peer, stream, load, settled)
        print(
            f"{system}: {load.spans:,} spans acked in {load.seconds:.0f} s "
            f"({load.rate:,.0f}/s), own count {stored.own_count}, settled in {settled:.1f} s, "
            f"missing in a sample {stored.expected_spans - stored.found_spans} of "
            f"{stored.expected_spans}; load average {os.getloadavg()}",
            flush=True,
        )
        rng = random.Random(13)
        ids = [
            rng.choice(list(stream.trace_spans(n))) for n in rng.choices(load.acked, k=args.gets)
        ]
        end_us = time.time_ns() // 1000
        with httpx.Client(base_url=peer.query_url, timeout=120) as client:
            for trace_id in ids[:10]:  # warm: first calls pay for lazy set-up
                client.get(get_path(peer, trace_id))
            gets, get_cpu, _ = timed(client, peer, [get_path(peer, i) for i in ids])
            services = [rng.choice(SERVICES) for _ in range(args.searches)]
            paths = [search_path(peer, service, end_us) for service in services]
            searches, search_cpu, bodies = timed(client, peer, paths)
    finally:
        peer.stop()
    found = statistics.mean(found_traces(peer, body) for body in bodies)
    return Figures(
        system,
        load.spans,
        load.rate,
        gets,
        get_cpu,
        searches,
        search_cpu,
        found,
        stored.expected_spans - stored.found_spans,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", default="jaeger-memory,jaeger-badger")
    parser.add_argument("--seconds", type=float, default=30.0, help="of ingest per system")
    parser.add_argument("--gets", type=int, default=200)
    parser.add_argument("--searches", type=int, default=30)
    parser.add_argument("--pool", type=int, default=32, help="distinct pre-encoded requests")
    args = parser.parse_args()
    peers = [p for p in args.peers.split(",") if p]
    for peer in peers:
        if peer not in PEERS:
            raise SystemExit(f"unknown peer {peer!r}: {', '.join(PEERS)}")

    rng = random.Random(7)
    now = time.time_ns()
    pool = [make_request(rng, now) for _ in range(args.pool)]
    print(f"load average before: {os.getloadavg()}", flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-query-peers-") as tmp:
        for i, system in enumerate(["breadcrumbs", *peers]):
            results.append(measure(system, pool, args, Path(tmp) / f"{i}-{system}"))
    print(
        f"\nmachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; "
        f"load average after: {os.getloadavg()}"
    )
    print(f"{args.seconds:.0f} s of ingest (4 clients) per system, then sequential queries\n")
    print("| system | stored spans | ingest spans/s |")
    print("|---|---|---|")
    for r in results:
        print(f"| {r.system} | {r.spans:,} | {r.ingest_rate:,.0f} |")
    print()
    print("| system | call | p50 ms | p99 ms | n | server CPU ms/req | traces found |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        for row in r.rows():
            print(row)
    ours = results[0]
    print()
    for peer in results[1:]:
        print(
            f"breadcrumbs / {peer.system}: get-trace p50 "
            f"{pct(ours.gets, 0.5) / pct(peer.gets, 0.5):.2f}x, p99 "
            f"{pct(ours.gets, 0.99) / pct(peer.gets, 0.99):.2f}x; search p50 "
            f"{pct(ours.searches, 0.5) / pct(peer.searches, 0.5):.2f}x, p99 "
            f"{pct(ours.searches, 0.99) / pct(peer.searches, 0.99):.2f}x"
        )


if __name__ == "__main__":
    main()
