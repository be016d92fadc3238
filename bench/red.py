"""RED metrics over a day: what the span metrics stage costs on ingest, what the kept levels
hold, and how fast a day's dashboard reads them against a scan of the raw spans.

    python bench/red.py --spans 10000000

1. Ingest: ``--spans`` from ``bench/gen.py`` spread over one day, ``--sampled-share`` of the
   traces carrying ``ot=th:c`` (head-sampled at 1/4: their spans count 4). Cut into flushes of
   ``--flush-s`` seconds of traffic (default 60: at 116 spans/s the server's 1 s flushes
   would be 86,400 tiny ones a day, which the per-flush figure printed lets you scale to),
   each handled as the server's stage does (series limit, ``analysis.red.aggregate`` with
   adjusted counts, ``exposition``, the store's append to the three levels) and the
   background compaction run after each flush (the server runs it every 5 s). CPU seconds
   (process time, all threads) per million spans and per flush. The floor in the same run:
   the store's own span write of the same spans (``DuckDBStore.write``).
2. Kept: rows per level, bytes per level (DuckDB blocks) and the file after a checkpoint.
3. Query: a day's dashboard per operation (and per service) at 1 min, 5 min and 1 h steps,
   the day's totals (one step from a ragged start), the Jaeger Monitor tab's query (1 h,
   1 min steps, 10 min windows): p50/p99 over ``--runs``. The floor, same run, same spans:
   the same RED per step computed by SQL from the raw spans (exact quantiles), as a ratio.
   ``--raw-every n`` keeps only every n-th batch (whole traces, across the whole day) in the
   raw store, to save time on a busy machine: the raw scan then reads 1/n of the spans, a
   floor n times too low (the scan is linear in the spans), so the ratio is conservative.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).parent))
from breadcrumbs.analysis import red
from breadcrumbs.model import SpanKind
from breadcrumbs.pipeline.span_metrics import SeriesLimit
from breadcrumbs.store.base import RedQuery
from breadcrumbs.store.duckdb import DuckDBStore
from breadcrumbs.store.duckdb import red as red_sql
from gen import Generator

DAY_NS = 86_400 * 10**9
MINUTE = red.MINUTE_NS
HOUR = 60 * MINUTE

# RED per operation per step straight from the spans: what a tracer without kept aggregates
# runs (exact quantiles, every span of the day read).
RAW_RED = """
SELECT ? + (Timestamp - ?) // ? * ? AS Step, ServiceName, SpanName, SpanKind, count(*),
       count_if(StatusCode = 2), quantile_cont(Duration, [0.5, 0.95, 0.99])
FROM spans WHERE Timestamp >= ? AND Timestamp < ?
GROUP BY ALL
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def sampled(batch: pa.Table, share: float) -> pa.Table:
    """``share`` of the traces (by trace id) marked head-sampled at 1/4."""
    if share <= 0:
        return batch
    last = pc.utf8_slice_codeunits(batch.column("TraceId"), -2)  # two hex digits
    codes = pa.array([f"{i:02x}" for i in range(int(share * 256))], pa.string())
    below = pc.is_in(last, value_set=codes)
    states = pc.if_else(below, pa.scalar("ot=th:c"), batch.column("TraceState"))
    index = batch.schema.get_field_index("TraceState")
    return batch.set_column(index, batch.schema.field(index), states)


def flushes(batch: pa.Table, flush_ns: int) -> list[pa.Table]:
    """The batch cut into stretches of ``flush_ns`` of span starts (the server's flushes)."""
    ordered = batch.sort_by("Timestamp")
    times = ordered.column("Timestamp")
    bounds = pc.min_max(times)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    cuts = list(range(low - low % flush_ns + flush_ns, high + 1, flush_ns))
    positions = [0, *np.searchsorted(times.to_numpy(), cuts, side="left").tolist()]
    positions.append(ordered.num_rows)
    return [ordered.slice(a, b - a) for a, b in itertools.pairwise(positions) if b > a]


async def run(args: argparse.Namespace) -> None:
    gen = Generator(spans_per_second=args.spans / 86_400)
    start = gen.start_ns
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        metrics = DuckDBStore(Path(tmp) / "metrics.duckdb")
        raw = DuckDBStore(Path(tmp) / "raw.duckdb", dependency_counts=False)
        limit = SeriesLimit(10_000)
        stage_cpu = compact_cpu = raw_cpu = 0.0
        spans = writes = raw_spans = 0
        sequence = 0
        began = time.perf_counter()
        for index, batch in enumerate(gen.batches(args.spans, args.batch)):
            batch = sampled(batch, args.sampled_share)
            for flush in flushes(batch, int(args.flush_s * 10**9)):
                t0 = time.process_time()
                limited, _ = limit.apply(flush)
                rows = red.aggregate(limited)
                red.exposition(limited)
                sequence += 1
                await metrics.write_span_metrics(rows, wal_sequence=sequence)
                t1 = time.process_time()
                await metrics.compact_span_metrics()
                t2 = time.process_time()
                stage_cpu += t1 - t0
                compact_cpu += t2 - t1
                writes += 1
            if index % args.raw_every == 0:
                t3 = time.process_time()
                await raw.write(batch)
                raw_cpu += time.process_time() - t3
                raw_spans += batch.num_rows
            spans += batch.num_rows
            if args.progress:
                print(f"  {spans:,} spans, {time.perf_counter() - began:.0f} s", flush=True)
        ingest_s = time.perf_counter() - began
        print(
            f"# {spans:,} spans over one day ({args.sampled_share:.0%} of traces sampled at 1/4), "
            f"{writes:,} flushes of {args.flush_s:g} s, in {ingest_s:.0f} s wall"
        )

        def per_m(cpu: float) -> float:
            return cpu / spans * 1e6

        print(
            f"ingest: stage {per_m(stage_cpu):.2f} CPU s/M spans (aggregate, exposition, "
            f"append to 3 levels) + compaction {per_m(compact_cpu):.2f} = "
            f"{per_m(stage_cpu + compact_cpu):.2f}; the store's span write "
            f"{raw_cpu / raw_spans * 1e6:.2f} CPU s/M (floor, {raw_spans:,} of the spans); ratio "
            f"{per_m(stage_cpu + compact_cpu) / (raw_cpu / raw_spans * 1e6):.2f}; "
            f"per flush {stage_cpu / writes * 1e3:.1f} "
            f"+ {compact_cpu / writes * 1e3:.1f} ms CPU"
        )
        conn = metrics._conn
        conn.execute("CHECKPOINT")
        kept = await metrics.span_metrics_rows()
        total_rows = sum(kept.values())
        for level, rows_kept in kept.items():
            name = red_sql.table(level)
            blocks = conn.execute(
                f"SELECT count(DISTINCT block_id) FROM pragma_storage_info('{name}') "
                "WHERE block_id >= 0"
            ).fetchall()[0][0]
            print(
                f"kept {name}: {rows_kept:,} rows ({spans / max(rows_kept, 1):,.0f} spans per "
                f"row), ~{blocks * 256 / 1024:.1f} MiB in {blocks} blocks"
            )
        size = (await metrics.stats()).bytes_on_disk
        raw_size = (await raw.stats()).bytes_on_disk
        print(
            f"kept in all: {total_rows:,} rows, file {size / 2**20:.1f} MiB "
            f"({size / spans:.2f} B/span; the raw spans' file {raw_size / 2**20:.0f} MiB), "
            f"{limit.series} series"
        )

        async def timed(query: RedQuery) -> tuple[float, float, int]:
            took = []
            out = 0
            for _ in range(args.runs):
                t = time.perf_counter()
                out = (await metrics.red(query)).num_rows
                took.append((time.perf_counter() - t) * 1000)
            return pct(took, 0.5), pct(took, 0.99), out

        def raw_scan(step: int) -> float:
            params = [start, start, step, step, start, start + DAY_NS]
            took = []
            for _ in range(args.raw_runs):
                t = time.perf_counter()
                raw._conn.execute(RAW_RED, params).fetchall()
                took.append((time.perf_counter() - t) * 1000)
            return pct(took, 0.5)

        for label, step in (("1 min", MINUTE), ("5 min", 5 * MINUTE), ("1 h", HOUR)):
            p50, p99, out = await timed(RedQuery(start, start + DAY_NS, step))
            svc50, _, _ = await timed(RedQuery(start, start + DAY_NS, step, by_operation=False))
            floor = raw_scan(step)
            print(
                f"day dashboard, {label} steps, per operation: p50 {p50:.1f} ms, p99 {p99:.1f} ms "
                f"({out:,} rows out); per service p50 {svc50:.1f} ms; raw-span scan p50 "
                f"{floor:.0f} ms (floor: {raw_spans:,} of the spans): {floor / p50:.0f}x faster"
            )
        cases = {
            "day totals (one step, ragged start)": RedQuery(
                start + 7 * MINUTE, start + DAY_NS, DAY_NS - 7 * MINUTE
            ),
            "one service's operations, 5 min steps": RedQuery(
                start, start + DAY_NS, 5 * MINUTE, services=("checkout",)
            ),
            "Jaeger Monitor: 1 h, 1 min steps, 10 min windows": RedQuery(
                start + DAY_NS // 2,
                start + DAY_NS // 2 + HOUR,
                MINUTE,
                span_kinds=(SpanKind.SERVER,),
                by_kind=False,
                window_ns=10 * MINUTE,
                quantiles=(0.95,),
            ),
        }
        for name, query in cases.items():
            p50, p99, out = await timed(query)
            print(f"query {name}: p50 {p50:.1f} ms, p99 {p99:.1f} ms ({out:,} rows out)")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of the whole run (generator and raw store included): {peak:.0f} MiB")
        await metrics.close()
        await raw.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=10_000_000)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--flush-s", type=float, default=60.0)
    parser.add_argument("--sampled-share", type=float, default=0.25)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--raw-runs", type=int, default=3)
    parser.add_argument("--tmp", default=None)
    parser.add_argument(
        "--raw-every", type=int, default=1, help="write every n-th batch to the raw span store"
    )
    parser.add_argument("--progress", action="store_true")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
