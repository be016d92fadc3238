"""Store-level benchmark: insert, size on disk, get-trace, search, aggregates, retention.

    python bench/store_query.py --spans 1000000 [--sort-order trace] [--keep DIR]

Data comes from ``bench/gen.py`` spread over ``--hours`` of time. Prints one line per figure;
latencies are p50/p99 over ``--queries`` runs of randomly chosen parameters.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from breadcrumbs.model import SpanKind
from breadcrumbs.store.base import (
    DependenciesQuery,
    GetTraceParams,
    GetTracesParams,
    OperationsQuery,
    RemoteServicesQuery,
    ServicesQuery,
    TagFilter,
    TagKeysQuery,
    TagValuesQuery,
    TraceQuery,
)
from breadcrumbs.store.duckdb import DuckDBStore
from gen import Generator

HOUR_NS = 3600 * 10**9


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed(
    label: str, runs: int, make: Callable[[int], Awaitable[Any]], describe: str = ""
) -> list[float]:
    """Wall and CPU (this process, all threads) milliseconds per call; CPU time is the
    steadier figure on a machine shared with other work."""
    took: list[float] = []
    cpu: list[float] = []
    result: Any = None
    for i in range(runs):
        began, began_cpu = time.perf_counter(), time.process_time()
        result = await make(i)
        took.append((time.perf_counter() - began) * 1000)
        cpu.append((time.process_time() - began_cpu) * 1000)
    size = len(result) if hasattr(result, "__len__") else type(result).__name__
    print(
        f"{label:<40} p50 {pct(took, 0.5):7.1f} p99 {pct(took, 0.99):7.1f} ms"
        f" | cpu p50 {pct(cpu, 0.5):7.1f} p99 {pct(cpu, 0.99):7.1f} ms"
        f" (n={runs}, last {size}{describe})"
    )
    return took


async def run(args: argparse.Namespace) -> None:
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bc-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "spans.duckdb"
    for stale in (db, db.with_name(db.name + ".wal")):
        stale.unlink(missing_ok=True)
    gen = Generator(spans_per_second=args.spans / (args.hours * 3600))
    options: dict[str, Any] = {}
    if args.checkpoint_threshold:
        options["checkpoint_threshold"] = args.checkpoint_threshold
    store = DuckDBStore(
        db,
        threads=args.threads,
        sort_order=args.sort_order,
        trace_index=args.trace_index,
        **options,
    )
    rng = random.Random(7)
    sample_ids: list[str] = []
    insert_s = 0.0
    insert_cpu = 0.0
    batch_ms: list[float] = []
    total = 0
    for batch in gen.batches(args.spans, args.batch):
        ids = batch.column("TraceId")
        sample_ids.extend(ids[rng.randrange(batch.num_rows)].as_py() for _ in range(20))
        began, began_cpu = time.perf_counter(), time.process_time()
        await store.write(batch, wal_sequence=total + batch.num_rows)
        took = time.perf_counter() - began
        insert_cpu += time.process_time() - began_cpu
        insert_s += took
        batch_ms.append(took * 1000)
        total += batch.num_rows
    print(
        f"machine: {os.cpu_count()} cores; duckdb store sort_order={args.sort_order}"
        f" trace_index={args.trace_index} {options}"
    )
    print(
        f"insert: {total} spans in {insert_s:.1f} s = {total / insert_s:,.0f} spans/s "
        f"(batches of {args.batch}: p50 {pct(batch_ms, 0.5):.0f} ms, max {max(batch_ms):.0f} ms;"
        f" cpu {insert_cpu:.1f} s)"
    )
    began = time.perf_counter()
    await store.close()
    print(f"close (checkpoint): {time.perf_counter() - began:.2f} s")
    store = DuckDBStore(
        db,
        threads=args.threads,
        sort_order=args.sort_order,
        trace_index=args.trace_index,
        **options,
    )
    stats = await store.stats()
    size = stats.bytes_on_disk
    print(f"on disk: {size / 1e6:.1f} MB = {size / total:.1f} bytes/span")

    end = gen.end_ns()
    start = end - HOUR_NS
    n = args.queries
    services = await store.services(ServicesQuery())
    await timed(
        "get_trace", n, lambda i: store.get_trace(GetTraceParams(sample_ids[i % len(sample_ids)]))
    )
    await timed(
        "get_traces (20 ids)",
        max(5, n // 10),
        lambda i: store.get_traces(GetTracesParams(tuple(rng.sample(sample_ids, 20)))),
    )
    await timed(
        "find: service, last hour",
        n // 2,
        lambda i: store.find_trace_ids(TraceQuery(start, end, service=rng.choice(services))),
    )
    await timed(
        "find: service+tag(status=500)+min 20ms",
        n // 2,
        lambda i: store.find_trace_ids(
            TraceQuery(
                start,
                end,
                service=rng.choice(services),
                min_duration_ns=20_000_000,
                tags=(TagFilter("http.response.status_code", "500", "span"),),
            )
        ),
    )
    await timed(
        "find: service+tag(order.id)+span scope",
        n // 2,
        lambda i: store.find_trace_ids(
            TraceQuery(
                start,
                end,
                service=rng.choice(services),
                tags=(TagFilter("order.id", str(rng.randrange(1000003)), "span"),),
            )
        ),
    )
    await timed(
        "find: tag any scope (exception.message)",
        n // 4,
        lambda i: store.find_trace_ids(
            TraceQuery(start, end, tags=(TagFilter("exception.message", f"bad value {i % 97}"),))
        ),
    )
    await timed(
        "find: Jaeger UI: service+any tag+min 20ms",
        n // 2,
        lambda i: store.find_trace_ids(
            TraceQuery(
                start,
                end,
                service=rng.choice(services),
                min_duration_ns=20_000_000,
                tags=(TagFilter("http.response.status_code", "500"),),
            )
        ),
    )
    await timed(
        "find: resource tag (host.name)",
        n // 4,
        lambda i: store.find_trace_ids(
            TraceQuery(start, end, tags=(TagFilter("host.name", f"node-{i % 9}", "resource"),))
        ),
    )
    await timed(
        "find: operation+kind, 5 min",
        n // 2,
        lambda i: store.find_trace_ids(
            TraceQuery(
                end - HOUR_NS // 12,
                end,
                service="frontend",
                span_kind=SpanKind.SERVER,
                operation="GET /frontend/list",
            )
        ),
    )
    await timed("services", 10, lambda i: store.services(ServicesQuery()))
    await timed("operations", 10, lambda i: store.operations(OperationsQuery(rng.choice(services))))
    await timed(
        "remote_services",
        5,
        lambda i: store.remote_services(RemoteServicesQuery(rng.choice(services))),
    )
    await timed(
        "dependencies (1 hour)", 3, lambda i: store.dependencies(DependenciesQuery(end, HOUR_NS))
    )
    await timed("tag_keys", 3, lambda i: store.tag_keys(TagKeysQuery()))
    await timed(
        "tag_values(http.route)", 3, lambda i: store.tag_values(TagValuesQuery("http.route"))
    )
    await timed("stats", 3, lambda i: store.stats())

    # Retention: delete the oldest tenth while a writer keeps inserting small batches; their
    # latencies during the delete (and the second after it, where a checkpoint may land)
    # show how long retention blocks ingest.
    cutoff = gen.start_ns + (end - gen.start_ns) // 10
    writes: list[tuple[float, float]] = []  # (began, took ms)
    stop = asyncio.Event()
    small = 2_000

    async def writer() -> None:
        for batch in gen.batches(10**12, small):
            if stop.is_set():
                return
            began = time.perf_counter()
            await store.write(batch)
            writes.append((began, (time.perf_counter() - began) * 1000))

    task = asyncio.create_task(writer())
    await asyncio.sleep(2.0)
    delete_began = time.perf_counter()
    deleted = await store.delete_before(cutoff)
    delete_ended = time.perf_counter()
    await asyncio.sleep(1.0)
    stop.set()
    await task
    before = [ms for began, ms in writes if began + ms / 1000 < delete_began] or [0.0]
    during = [ms for began, ms in writes if began + ms / 1000 >= delete_began] or [0.0]
    print(
        f"delete_before (oldest 10%): {deleted} spans in {delete_ended - delete_began:.2f} s; "
        f"concurrent {small}-span writes: before p50 {pct(before, 0.5):.0f} ms max "
        f"{max(before):.0f} ms; during and 1 s after: n={len(during)} max {max(during):.0f} ms"
    )
    await store.close()
    if not args.keep:
        shutil.rmtree(workdir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--sort-order", default="service_trace")
    parser.add_argument("--trace-index", action="store_true", help="add an ART index on TraceId")
    parser.add_argument("--keep", default=None, help="directory to keep the database in")
    parser.add_argument(
        "--checkpoint-threshold", default=None, help="DuckDB checkpoint threshold, e.g. 128MiB"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
