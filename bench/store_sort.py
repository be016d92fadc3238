"""Each flush's physical order (DuckDB store, in process): get-trace and search CPU per order.

For each ``--orders`` (``DuckDBStore(sort_order=...)``) two stores are written from the
generator (``bench/gen.py``): ``hour``, ``--spans`` spread over an hour in flushes of 100k
(``bench/query.py``'s store), and ``minute``, 8 flushes of 200k whose starts all fall in the
same minute (``bench/store_overlap.py``, and what ``bench/query_peers.py``'s minute of ingest
makes). Then CPU per call (all threads, ``time.process_time``): get_trace of 200 sampled
traces, the search of ``bench/query.py`` (service + tag + minDuration, 20 traces) and the
get_traces of its 20 ids, and the file's size.

    python bench/store_sort.py --orders service_trace,service_time
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.compute as pc

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


async def build(path: Path, order: str, shape: str, spans: int) -> tuple[list[str], int]:
    store = DuckDBStore(path, sort_order=order)
    rng = random.Random(11)
    ids: list[str] = []
    now = time.time_ns()
    if shape == "hour":
        gen = Generator(start_ns=now - HOUR_NS, spans_per_second=spans / 3600)
        batches = gen.batches(spans, 100_000)
    else:
        gen = Generator(start_ns=now - 60 * 10**9, spans_per_second=200_000 / 60)
        batches = gen.batches(8 * 200_000, 200_000)
    first: int | None = None
    newest = 0
    for batch in batches:
        if shape == "minute":  # every flush over the same minute
            starts = batch.column("Timestamp")
            low = pc.min(starts).as_py()
            first = low if first is None else first
            batch = batch.set_column(
                batch.schema.get_field_index("Timestamp"),
                "Timestamp",
                pc.add(pc.subtract(starts, low), first),
            )
        trace_ids = batch.column("TraceId")
        ids.extend(trace_ids[rng.randrange(batch.num_rows)].as_py() for _ in range(25))
        newest = max(newest, pc.max(batch.column("Timestamp")).as_py())
        await store.write(batch, wal_sequence=0)
    while await store.compact():
        pass
    await store.close()
    return ids, newest


def cpu_ms(values: list[float]) -> str:
    ordered = sorted(values)
    return f"{statistics.mean(values):.1f} / {ordered[int(0.99 * (len(values) - 1))]:.1f}"


async def measure(path: Path, ids: list[str], newest: int) -> list[str]:
    store = DuckDBStore(path)
    try:
        while await store.compact():
            pass
        rng = random.Random(5)
        gets = []
        for trace_id in rng.sample(ids, min(200, len(ids))):
            began = time.process_time()
            await store.get_trace(GetTraceParams(trace_id))
            gets.append((time.process_time() - began) * 1000)
        services = await store.services(ServicesQuery())
        finds, reads, found = [], [], []
        for _ in range(30):
            query = TraceQuery(
                newest - HOUR_NS,
                newest,
                service=rng.choice(services),
                tags=(TagFilter("http.response.status_code", "500"),),
                min_duration_ns=20_000_000,
                limit=20,
            )
            began = time.process_time()
            trace_ids = await store.find_trace_ids(query)
            finds.append((time.process_time() - began) * 1000)
            found.append(len(trace_ids))
            began = time.process_time()
            await store.get_traces(GetTracesParams(tuple(trace_ids)))
            reads.append((time.process_time() - began) * 1000)
    finally:
        await store.close()
    return [cpu_ms(gets), cpu_ms(finds), cpu_ms(reads), f"{statistics.mean(found):.1f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", default="service_trace,service_time")
    parser.add_argument("--spans", type=int, default=1_000_000, help="of the hour store")
    args = parser.parse_args()
    orders = args.orders.split(",")
    print(f"machine: {os.cpu_count()} cores; load average before {os.getloadavg()}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-sort-") as tmp:
        for shape in ("hour", "minute"):
            for order in orders:
                path = Path(tmp) / f"{shape}-{order}.duckdb"
                ids, newest = asyncio.run(build(path, order, shape, args.spans))
                size = f"{path.stat().st_size / 2**20:.0f}"
                rows.append((shape, order, size, asyncio.run(measure(path, ids, newest))))
                print(f"{shape} {order} done; load average {os.getloadavg()}", flush=True)
    print(f"\nload average after {os.getloadavg()}; CPU ms per call, mean / p99\n")
    print("| store | order | get_trace | search: find_trace_ids | its get_traces (20) "
          "| traces found | MB |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for shape, order, megabytes, (get, find, read, found) in rows:
        print(f"| {shape} | {order} | {get} | {find} | {read} | {found} | {megabytes} |")


if __name__ == "__main__":
    main()
