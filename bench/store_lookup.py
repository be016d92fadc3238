"""Trace-by-id in process on an existing store file: compaction steps, then get-trace latency.

    python bench/store_lookup.py /tmp/lookup10m_v6/spans.duckdb --queries 400

Opens the file (migrating it when older), runs the trace lookup's compaction until it has
nothing left to merge (printing each step's wall and CPU time), then times ``get_trace`` on
``--queries`` trace ids sampled from the spans (a fixed seed, so runs compare), and prints a
sha256 over the returned spans so a change to the read path can show it answers the same.
CPU time is this process's (all threads), steadier than wall time on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))

from breadcrumbs.store.base import GetTraceParams
from breadcrumbs.store.duckdb import DuckDBStore
from store_query import pct


def sample_ids(path: Path, count: int) -> list[str]:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        rows = conn.execute(
            "SELECT DISTINCT lpad(lower(hex(TraceId)), 32, '0') FROM spans"
            f" USING SAMPLE {count:d} ROWS (reservoir, 5)"
        ).fetchall()
    finally:
        conn.close()
    return sorted(row[0] for row in rows)


async def run(args: argparse.Namespace) -> None:
    path = Path(args.path)
    ids = sample_ids(path, args.queries)
    store = DuckDBStore(path, threads=args.threads)
    try:
        steps = 0
        # (getattr: the same script measures a checkout from before compaction existed)
        while getattr(store, "compact", None) and steps < 100:
            began, began_cpu = time.perf_counter(), time.process_time()
            merged = await store.compact()
            if not merged:
                break
            steps += 1
            print(
                f"compaction step {steps}: wall {time.perf_counter() - began:.3f} s,"
                f" cpu {time.process_time() - began_cpu:.3f} s"
            )
        digest = hashlib.sha256()
        for rounds in range(args.rounds):
            wall: list[float] = []
            cpu: list[float] = []
            spans = 0
            for trace_id in ids:
                began, began_cpu = time.perf_counter(), time.process_time()
                batch = await store.get_trace(GetTraceParams(trace_id))
                wall.append((time.perf_counter() - began) * 1000)
                cpu.append((time.process_time() - began_cpu) * 1000)
                spans += batch.num_rows
                if rounds == 0:
                    digest.update(repr(batch.to_pylist()).encode())
            print(
                f"get_trace round {rounds + 1}: p50 {pct(wall, 0.5):.2f} p99 {pct(wall, 0.99):.2f}"
                f" ms | cpu p50 {pct(cpu, 0.5):.2f} p99 {pct(cpu, 0.99):.2f} ms"
                f" (n={len(ids)}, {spans} spans)"
            )
        print(f"sha256 of the answers: {digest.hexdigest()}")
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
