"""Trace reads when every flush covers the same stretch of time (DuckDB store, in process).

    python bench/store_overlap.py --flushes 12
    PYTHONPATH=OTHER/src python bench/store_overlap.py --flushes 12   # other code, same run

At high ingest rates each flush holds spans from the same few seconds (exporters send spans
seconds after they start), and in ``bench/query_peers.py`` from the same minute: a trace's
time range then matches every flush. This writes ``--flushes`` flushes of 200k generated spans
(``bench/gen.py``) whose starts all fall in one minute, then prints get-trace (wall and CPU,
p50 / p99 over 200 traces), get_traces of 20 ids (wall p50 / max over 20 calls), the row groups
one get-trace scans, and bytes per span after a checkpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).parent))

from breadcrumbs.store.base import GetTraceParams, GetTracesParams
from breadcrumbs.store.duckdb import DuckDBStore, sql
from gen import Generator
from store_query import pct

FLUSH = 200_000


async def run(flushes: int, workdir: Path) -> None:
    store = DuckDBStore(workdir / "spans.duckdb")
    gen = Generator(spans_per_second=FLUSH / 60)
    rng = random.Random(3)
    ids: list[str] = []
    first_start: int | None = None
    written = 0
    for batch in gen.batches(FLUSH * flushes, FLUSH):
        starts = batch.column("Timestamp")
        low = pc.min(starts).as_py()
        first_start = low if first_start is None else first_start
        same_minute = pc.add(pc.subtract(starts, low), first_start)
        batch = batch.set_column(
            batch.schema.get_field_index("Timestamp"), "Timestamp", same_minute
        )
        trace_ids = batch.column("TraceId")
        ids.extend(trace_ids[rng.randrange(batch.num_rows)].as_py() for _ in range(20))
        written += batch.num_rows
        await store.write(batch, wal_sequence=written)
    while await store.compact():
        pass
    rng.shuffle(ids)
    walls: list[float] = []
    cpus: list[float] = []
    for trace_id in ids[:200]:
        began, began_cpu = time.perf_counter(), time.process_time()
        await store.get_trace(GetTraceParams(trace_id))
        cpus.append((time.process_time() - began_cpu) * 1000)
        walls.append((time.perf_counter() - began) * 1000)
    print(
        f"get_trace        wall p50 {pct(walls, 0.5):6.1f} p99 {pct(walls, 0.99):6.1f} ms"
        f" | cpu p50 {pct(cpus, 0.5):6.1f} p99 {pct(cpus, 0.99):6.1f} ms"
    )
    many: list[float] = []
    for _ in range(20):
        began = time.perf_counter()
        await store.get_traces(GetTracesParams(tuple(rng.sample(ids, 20))))
        many.append((time.perf_counter() - began) * 1000)
    print(f"get_traces (20)  wall p50 {pct(many, 0.5):6.1f} max {max(many):6.1f} ms")
    cur = store._conn.cursor()
    try:
        text, params = sql.spans_of_trace(ids[0], store._levels)
        plan = cur.execute("EXPLAIN ANALYZE " + text, params).fetchall()[0][1]
        scanned = [line.strip(" │") for line in plan.splitlines() if "Row Groups Scanned" in line]
        print("one get-trace's span scan:", scanned[0].split("│")[0].strip() if scanned else "?")
    finally:
        cur.close()
    await store.close()
    size = (workdir / "spans.duckdb").stat().st_size
    print(f"on disk: {size / written:.2f} bytes/span ({written:,} spans)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flushes", type=int, default=12, help="of 200k spans each")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; load average before {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="bench-overlap-") as tmp:
        asyncio.run(run(args.flushes, Path(tmp)))
    print(f"load average after {os.getloadavg()}")


if __name__ == "__main__":
    main()
