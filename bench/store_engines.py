"""The two engines side by side, through the ``Store`` contract: ClickHouse on chDB vs DuckDB.

    python bench/store_engines.py --spans 1000000

Each engine runs in its own child process (chDB allows one embedded server per process) on a
fresh directory, one after the other, with the same generated spans (``bench/gen.py``, an
hour of traffic, 100k-span flushes as the WAL writer sends them). Figures per engine: ingest
(wall seconds and spans/s through ``Store.write``), get-trace p50/p99 over sampled traces,
search p50/p99 (service + tag + min duration, and service alone, over the hour; the ids
alone, and with the found traces' spans fetched in one ``get_traces`` as the query APIs do),
the hour's dependencies and service graph, RED over the hour (written as the span metrics
stage does: one ``write_span_metrics`` per batch; read as one total per series and at 1 min
steps), the time both engines' dependency refreshes took before the queries (their
background work, done before reading), and bytes per span on disk. The last column is
chDB / DuckDB; the load average is printed before and after (the machine may be shared).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from breadcrumbs.store.base import DependenciesQuery, GetTracesParams

HERE = Path(__file__).resolve().parent
HOUR_NS = 3600 * 10**9


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed(n: int, call: Callable[[int], Awaitable[Any]]) -> list[float]:
    await call(0)  # warm
    walls = []
    for i in range(n):
        began = time.perf_counter()
        await call(i)
        walls.append(time.perf_counter() - began)
    return walls


async def child(engine: str, spans: int) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    from breadcrumbs.analysis import red
    from breadcrumbs.store.base import (
        GetTraceParams,
        RedQuery,
        ServiceGraphQuery,
        Store,
        TagFilter,
        TraceQuery,
    )
    from gen import Generator

    directory = Path(tempfile.mkdtemp(prefix=f"bc-engines-{engine}-"))
    store: Store
    if engine == "duckdb":
        from breadcrumbs.store.duckdb import DuckDBStore

        store = DuckDBStore(directory / "spans.duckdb")
    else:
        from breadcrumbs.store.clickhouse import ClickHouseStore
        from breadcrumbs.store.clickhouse.executor import ChdbExecutor

        store = ClickHouseStore(ChdbExecutor(directory / "chdb"))
    now = time.time_ns()
    gen = Generator(start_ns=now - HOUR_NS, spans_per_second=spans / 3600)
    rng = random.Random(11)
    sample: list[str] = []
    services: list[str] = []
    total = 0
    ingest_s = red_write_s = 0.0
    for sequence, batch in enumerate(gen.batches(spans, 100_000), start=1):
        # Exactly ``spans``: the generator's last batch would carry the hour ~6 min past
        # the wall clock (1.1M spans for 1M), which no server receiving live spans has.
        batch = batch.slice(0, spans - total)
        ids = batch.column("TraceId")
        sample.extend(ids[rng.randrange(batch.num_rows)].as_py() for _ in range(30))
        services = sorted(set(batch.column("ServiceName").to_pylist()))
        total += batch.num_rows
        began = time.perf_counter()
        await store.write(batch, wal_sequence=sequence)
        ingest_s += time.perf_counter() - began
        rows = red.aggregate(batch)  # the stage's work, the same for both engines: not timed
        began = time.perf_counter()
        await store.write_span_metrics(rows, wal_sequence=sequence)
        red_write_s += time.perf_counter() - began
    await store.compact_span_metrics()  # as the background work would have by now
    # The engines' own background work (DuckDB's lookup merges) before reading, as a server
    # that has been up a while would have done it.
    compact = getattr(store, "compact", None)
    while compact is not None and await compact():
        pass
    # Both engines' kept dependency counts, as their background refresh would have kept them
    # by now (timed: the CPU it costs, once per span). DuckDB's returns 0 until its turn
    # comes (a share of its time): it is asked again after a pause, until it has nothing left.
    refresh = getattr(store, "refresh_dependencies", None)
    refresh_s, idle = 0.0, 0
    while refresh is not None and idle < 3:
        began = time.perf_counter()
        counted = await refresh()
        refresh_s += time.perf_counter() - began
        idle = 0 if counted else idle + 1
        if not counted:
            await asyncio.sleep(0.5)
    stats = await store.stats()
    end = stats.newest_ns or now

    async def get_trace(i: int) -> None:
        got = await store.get_trace(GetTraceParams(sample[i % len(sample)]))
        assert got.num_rows, "a sampled trace was not found"

    def search(tagged: bool, fetch: bool = False) -> Callable[[int], Awaitable[Any]]:
        async def run(i: int) -> None:
            service = services[i % len(services)]
            tags = (TagFilter("http.response.status_code", "500"),) if tagged else ()
            found = await store.find_trace_ids(
                TraceQuery(
                    end - HOUR_NS,
                    end,
                    service=service,
                    tags=tags,
                    min_duration_ns=20_000_000 if tagged else None,
                )
            )
            if fetch:
                fetched = await store.get_traces(GetTracesParams(tuple(found)))
                assert fetched.num_rows, "a search found nothing"

        return run

    async def dependencies(_: int) -> None:
        await store.dependencies(DependenciesQuery(end, HOUR_NS))

    async def service_graph(_: int) -> None:
        await store.service_graph(ServiceGraphQuery(end - HOUR_NS, end, (10**7, 10**8)))

    minute = red.MINUTE_NS
    hour_start = (end - HOUR_NS) // minute * minute

    def red_hour(step_ns: int) -> Callable[[int], Awaitable[Any]]:
        async def run(_: int) -> None:
            got = await store.red(RedQuery(hour_start, hour_start + HOUR_NS, step_ns))
            assert got.num_rows

        return run

    figures = {
        "spans": total,
        "ingest_s": ingest_s,
        "get_trace": await timed(200, get_trace),
        "search_tag": await timed(40, search(True)),
        "search_service": await timed(40, search(False)),
        "search_tag_fetch": await timed(40, search(True, fetch=True)),
        "search_service_fetch": await timed(40, search(False, fetch=True)),
        "dependencies": await timed(5, dependencies),
        "service_graph": await timed(5, service_graph),
        "red_total": await timed(20, red_hour(HOUR_NS)),
        "red_1m": await timed(20, red_hour(minute)),
        "red_write_ms": [red_write_s * 1e3 / max(1, -(-total // 100_000))],  # per flush
        "dependency_refresh_s": [refresh_s],
    }
    await store.close()
    # DuckDB's file after its closing checkpoint; ClickHouse's active parts.
    file_size = getattr(store, "bytes_on_disk", None)
    bytes_on_disk = file_size() if callable(file_size) else stats.bytes_on_disk
    figures["bytes_per_span"] = bytes_on_disk / total
    shutil.rmtree(directory)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args.child, args.spans))))
        return
    results = {}
    load_before = os.getloadavg()
    for engine in ("duckdb", "chdb"):
        out = subprocess.run(
            [sys.executable, __file__, "--child", engine, "--spans", str(args.spans)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        results[engine] = json.loads(out.strip().splitlines()[-1])
    duck, ch = results["duckdb"], results["chdb"]
    rows: list[tuple[str, float, float]] = [
        ("ingest spans/s", duck["spans"] / duck["ingest_s"], ch["spans"] / ch["ingest_s"]),
    ]
    for name in (
        "get_trace", "search_tag", "search_service", "search_tag_fetch", "search_service_fetch",
        "dependencies", "service_graph", "red_total", "red_1m",
    ):  # fmt: skip
        for q in (0.5, 0.99):
            rows.append(
                (f"{name} p{int(q * 100)} ms", pct(duck[name], q) * 1e3, pct(ch[name], q) * 1e3)
            )
    rows.append(("red write ms/100k spans", duck["red_write_ms"][0], ch["red_write_ms"][0]))
    rows.append(
        ("dependency refresh s", duck["dependency_refresh_s"][0], ch["dependency_refresh_s"][0])
    )
    rows.append(("bytes/span", duck["bytes_per_span"], ch["bytes_per_span"]))
    load_after = os.getloadavg()
    print(f"{args.spans:,} spans over one hour; load average (1, 5, 15 min) before", end=" ")
    print(" ".join(f"{x:.1f}" for x in load_before), "after", end=" ")
    print(" ".join(f"{x:.1f}" for x in load_after))
    print(f"{'':<24}{'DuckDB':>12}{'chDB':>12}{'chDB/DuckDB':>14}")
    for label, d, c in rows:
        print(f"{label:<24}{d:>12.1f}{c:>12.1f}{c / d:>14.2f}")


if __name__ == "__main__":
    main()
