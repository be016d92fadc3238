"""Where one get-trace's and one search's CPU goes, phase by phase, in one process.

Opens a data directory that ``bench/query.py --keep DIR`` loaded, then runs the Jaeger API's
two calls through the same steps as the server, each step timed with ``time.process_time``
(CPU of every thread of this process, DuckDB's included):

- get-trace: the store read (SQL, Arrow), the adjusters, ``to_jaeger_trace``, ``orjson``;
- search: ``find_trace_ids``, the store read of the 20 traces, adjusters, rendering, orjson;
- both whole, through the Starlette app in process (``httpx.ASGITransport``: routing,
  parameter parsing, response; no sockets, no uvicorn).

    python bench/query_cpu.py /tmp/q1m --rounds 200
    python bench/query_cpu.py /tmp/q1m --profile get   # cProfile of the whole call instead

``--digest`` prints a sha256 of the responses, to compare across read-path changes.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import json
import os
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette

from breadcrumbs.api import jaeger as jaeger_api
from breadcrumbs.codec.jaeger import to_jaeger_traces
from breadcrumbs.query.adjusters import adjust, standard_adjusters
from breadcrumbs.query.gc_pause import gc_paused
from breadcrumbs.query.service import QueryService, split_traces
from breadcrumbs.store.base import TagFilter, TraceQuery
from breadcrumbs.store.duckdb import DuckDBStore

sys.path.insert(0, str(Path(__file__).resolve().parent))

from query import HOUR_NS, loaded_services


def search_query(end: int, service: str) -> TraceQuery:
    return TraceQuery(
        end - HOUR_NS,
        end,
        service=service,
        tags=(TagFilter("http.response.status_code", "500"),),
        min_duration_ns=20_000_000,
        limit=20,
    )


def search_path(end: int, service: str) -> str:
    tags = json.dumps({"http.response.status_code": "500"})
    return (
        f"/api/traces?service={service}&start={(end - HOUR_NS) // 1000}&end={end // 1000}"
        f"&limit=20&tags={tags}&minDuration=20ms"
    )


class Phases:
    def __init__(self) -> None:
        self.ms: dict[str, list[float]] = {}

    def run(self, name: str, work: Callable[..., Any], *args: Any) -> Any:
        began = time.process_time()
        with gc_paused():  # as the server runs these steps
            out = work(*args)
        self.add(name, began)
        return out

    def add(self, name: str, began: float) -> None:
        self.ms.setdefault(name, []).append((time.process_time() - began) * 1000)

    def print(self) -> None:
        print("| phase | CPU ms mean | p50 | p99 | n |")
        print("|---|---|---|---|---|")
        for name, values in self.ms.items():
            ordered = sorted(values)
            p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
            print(
                f"| {name} | {statistics.mean(values):.2f} | {statistics.median(values):.2f} "
                f"| {p99:.2f} | {len(values)} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--profile", choices=["get", "search"], default=None)
    parser.add_argument("--digest", action="store_true")
    args = parser.parse_args()

    ids, services, end = loaded_services(args.directory)
    store = DuckDBStore(args.directory / "spans.duckdb")
    query = QueryService(store)
    app = Starlette(routes=jaeger_api.routes(query))
    adjusters = standard_adjusters()
    rng = random.Random(5)
    phases = Phases()

    async def run() -> None:
        # The server's upkeep settles the trace lookup's levels first (``maintain``).
        while await store.compact():
            pass

        def read(trace_ids: list[str]) -> Any:
            # On this thread with a cursor of its own, as a reader thread does.
            cur = store._conn.cursor()
            try:
                return store._traces(cur, trace_ids)
            finally:
                cur.close()

        def adjust_all(batch: Any, trace_ids: list[str]) -> list[Any]:
            return [adjust(s, adjusters) for s in split_traces(batch, trace_ids)]

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

            async def api(path: str) -> bytes:
                response = await client.get(path)
                assert response.status_code == 200, response.text[:200]
                return response.content

            for trace_id in ids[:20]:  # warm: lazy set-up
                await api(f"/api/traces/{trace_id}")
            if args.digest:
                digest = hashlib.sha256()
                for trace_id in ids[:200]:
                    digest.update(await api(f"/api/traces/{trace_id}"))
                for service in services:
                    digest.update(await api(search_path(end, service)))
                print(f"sha256 of 200 get-traces and a search per service: {digest.hexdigest()}")
            if args.profile:
                profiler = cProfile.Profile()
                paths = [
                    f"/api/traces/{rng.choice(ids)}"
                    if args.profile == "get"
                    else search_path(end, rng.choice(services))
                    for _ in range(args.rounds)
                ]
                profiler.enable()
                for path in paths:
                    await api(path)
                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
                pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
                return
            for _ in range(args.rounds):
                trace_id = rng.choice(ids)
                spans = phases.run("get: store read", read, [trace_id])
                adjusted = phases.run("get: adjusters", adjust, spans, adjusters)
                rendered = phases.run(
                    "get: to_jaeger_traces", to_jaeger_traces, [(adjusted.spans, adjusted.warnings)]
                )
                phases.run("get: orjson", orjson.dumps, {"data": rendered, "total": 0})
                began = time.process_time()
                await api(f"/api/traces/{trace_id}")
                phases.add("get: whole, ASGI in process", began)
            for _ in range(max(1, args.rounds // 4)):
                service = rng.choice(services)
                began = time.process_time()
                found = await store.find_trace_ids(search_query(end, service))
                phases.add("search: find_trace_ids", began)
                batch = phases.run("search: store read of the traces", read, found)
                traces = phases.run("search: split + adjusters", adjust_all, batch, found)
                rendered = phases.run(
                    "search: to_jaeger_traces",
                    to_jaeger_traces,
                    [(t.spans, t.warnings) for t in traces],
                )
                phases.run("search: orjson", orjson.dumps, {"data": rendered})
                began = time.process_time()
                await api(search_path(end, service))
                phases.add("search: whole, ASGI in process", began)

    asyncio.run(run())
    asyncio.run(store.close())
    query.close()
    if not args.profile:
        print(
            f"\n{len(ids)} sampled trace ids, {len(services)} services; "
            f"load average {os.getloadavg()}; Python {sys.version.split()[0]}\n"
        )
        phases.print()


if __name__ == "__main__":
    main()
