"""Do long reads hold writes? The ingest path's latencies with and without endless reads.

In one process, on a temp dir: a real DuckDB store and the real ingest pipeline (WAL with
fsync). Each phase times ``--rounds`` WAL acks (``IngestPipeline.consume`` of 1000 spans)
and store flushes (``DuckDBStore.write`` of 20k spans), first alone (the floor), then while
``--reads`` reads run a statement that never ends on their own (a sum over 10^12 rows) and
are interrupted afterwards. Before the store had its own threads, enough such reads held
every ack (asyncio's default executor); a DuckDB read never blocked a commit (MVCC), but it
shares the cores.

    python bench/read_isolation.py
    python bench/read_isolation.py --reads 4 --rounds 40
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from breadcrumbs.model import Span, SpanBatch, batch_from_spans
from breadcrumbs.pipeline.ingest import IngestPipeline, PipelineSettings
from breadcrumbs.selfmetrics import SelfMetrics
from breadcrumbs.store.duckdb import DuckDBStore

ENDLESS = "SELECT sum(range % 7) FROM range(1000000000000)"
NEVER_S = 3600.0  # the pipeline's own flushes stay out of the way: this bench flushes itself


def make_batch(tag: int, spans: int) -> SpanBatch:
    now = time.time_ns()
    return batch_from_spans(
        [
            Span(
                trace_id=f"{tag:016x}{i // 10:016x}",
                span_id=f"{i + 1:016x}",
                name=f"GET /item/{i % 17}",
                service=f"svc-{i % 5}",
                start_ns=now + i,
                duration_ns=1000 + i,
                attributes={"http.response.status_code": 200, "i": i},
            )
            for i in range(spans)
        ]
    )


def figures(latencies: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(latencies, n=100)
    return cuts[49] * 1000, cuts[98] * 1000


async def phase(
    store: DuckDBStore, pipeline: IngestPipeline, acks: list[SpanBatch], flushes: list[SpanBatch]
) -> tuple[list[float], list[float]]:
    ack_s, flush_s = [], []
    for batch in acks:
        began = time.perf_counter()
        await pipeline.consume(batch)
        ack_s.append(time.perf_counter() - began)
    for batch in flushes:
        began = time.perf_counter()
        await store.write(batch)
        flush_s.append(time.perf_counter() - began)
    return ack_s, flush_s


async def main(reads: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-isolation-") as tmp:
        store = DuckDBStore(Path(tmp) / "spans.duckdb", query_threads=reads, query_timeout_s=0)
        settings = PipelineSettings(flush_interval_s=NEVER_S, flush_spans=10**9)
        pipeline = IngestPipeline(Path(tmp), store, settings, SelfMetrics())
        await pipeline.start()
        tag = 0

        def batches(count: int, spans: int) -> list[SpanBatch]:
            nonlocal tag
            tag += count
            return [make_batch(tag - i, spans) for i in range(count)]

        floor = await phase(store, pipeline, batches(rounds, 1000), batches(rounds // 4, 20_000))
        running = [
            asyncio.create_task(store._read(lambda cur: cur.execute(ENDLESS).fetchall()))
            for _ in range(reads)
        ]
        await asyncio.sleep(1.0)  # the reads are running
        loaded = await phase(store, pipeline, batches(rounds, 1000), batches(rounds // 4, 20_000))
        still = sum(not task.done() for task in running)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await pipeline.stop()
        await store.close()

    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{rounds} WAL acks of 1000 spans, {rounds // 4} store flushes of 20k spans per phase")
    print(f"endless reads running through the loaded phase: {still} of {reads}\n")
    print("| path | alone p50 / p99 ms | with endless reads p50 / p99 ms | p50 ratio |")
    print("|---|---|---|---|")
    for name, alone, busy in (
        ("WAL ack", floor[0], loaded[0]),
        ("store flush", floor[1], loaded[1]),
    ):
        (a50, a99), (b50, b99) = figures(alone), figures(busy)
        print(f"| {name} | {a50:.1f} / {a99:.1f} | {b50:.1f} / {b99:.1f} | {b50 / a50:.2f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=4, help="endless reads at once")
    parser.add_argument("--rounds", type=int, default=40, help="acks per phase")
    args = parser.parse_args()
    asyncio.run(main(args.reads, args.rounds))
