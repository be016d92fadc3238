"""RED metrics: what the span metrics stage costs on ingest, and RED over a day from the kept
aggregates against computing it from the spans.

    python bench/red.py --spans 10000000 --peer-spans 1000000

1. Ingest: the stage's work per flush (series limit, ``analysis.red.aggregate`` and
   ``exposition``, the store's upsert of the aggregate rows) as CPU seconds per million
   spans; the floor measured in the same run is the store's own span write (``DuckDBStore.write``)
   of the first ``--peer-spans`` spans.
2. Query: ``spans`` spread over one day, kept as aggregates; ``store.red`` over the whole day
   (5 min steps, per operation and per service) and the Jaeger Monitor tab's query (1 h,
   1 min steps, 10 min sliding windows), p50/p99 over ``--runs``. The peer, in the same run:
   the same day's RED computed from the raw spans by SQL, over the ``--peer-spans`` store,
   next to the aggregates of those same spans.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).parent))
from breadcrumbs.analysis import red
from breadcrumbs.model import SpanKind
from breadcrumbs.pipeline.span_metrics import SeriesLimit
from breadcrumbs.store.base import RedQuery
from breadcrumbs.store.duckdb import DuckDBStore
from gen import Generator

DAY_NS = 86_400 * 10**9
MINUTE = red.MINUTE_NS

# RED per operation per 5 minutes straight from the spans: the query a tracer without kept
# aggregates runs (exact quantiles, every span of the day read).
RAW_RED = """
SELECT ? + (Timestamp - ?) // ? * ? AS Step, ServiceName, SpanName, SpanKind, count(*),
       count_if(StatusCode = 2), quantile_cont(Duration, [0.5, 0.95, 0.99])
FROM spans WHERE Timestamp >= ? AND Timestamp < ?
GROUP BY ALL
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu() -> float:
    return time.process_time()


async def run(args: argparse.Namespace) -> None:
    gen = Generator(spans_per_second=args.spans / 86_400)
    start = gen.start_ns
    with tempfile.TemporaryDirectory() as tmp:
        metrics_store = DuckDBStore(Path(tmp) / "metrics.duckdb")
        peer_store = DuckDBStore(Path(tmp) / "peer.duckdb")
        peer_metrics = DuckDBStore(Path(tmp) / "peer-metrics.duckdb")
        limit = SeriesLimit(10_000)
        stage_cpu = store_cpu = 0.0
        spans = 0
        pending: list[pa.Table] = []
        sequence = 0
        began = time.perf_counter()
        for batch in gen.batches(args.spans, args.batch):
            t0 = cpu()
            limited, _ = limit.apply(batch)
            pending.append(red.aggregate(limited))
            red.exposition(limited)
            t1 = cpu()
            stage_cpu += t1 - t0
            sequence += 1
            if sequence % 10 == 0:  # a flush holds ~1 s of spans at 1M spans/s
                rows = red.merge(pending)
                pending = []
                t2 = cpu()
                await metrics_store.write_span_metrics(rows, wal_sequence=sequence)
                stage_cpu += cpu() - t2
            if spans < args.peer_spans:
                t3 = cpu()
                await peer_store.write(batch)
                store_cpu += cpu() - t3
                await peer_metrics.write_span_metrics(red.aggregate(batch), wal_sequence=sequence)
            spans += batch.num_rows
        if pending:
            await metrics_store.write_span_metrics(red.merge(pending), wal_sequence=sequence + 1)
        ingest_s = time.perf_counter() - began
        peer_spans = (await peer_store.stats()).spans
        print(f"# {spans:,} spans over one day generated and aggregated in {ingest_s:.0f} s")
        per_m = stage_cpu / spans * 1e6
        floor_m = store_cpu / peer_spans * 1e6
        print(
            f"ingest: span metrics stage {per_m:.2f} CPU s per million spans; the store's span "
            f"write {floor_m:.2f} CPU s per million (floor, same run); ratio {per_m / floor_m:.2f}"
        )

        def rows_of(store: DuckDBStore) -> int:
            return int(store._conn.execute("SELECT count(*) FROM span_metrics").fetchone()[0])  # type: ignore[index]

        print(
            f"kept: {rows_of(metrics_store):,} aggregate rows for {spans:,} spans "
            f"({spans / max(rows_of(metrics_store), 1):.0f} spans per row), "
            f"{limit.series} series"
        )

        async def timed(store: DuckDBStore, query: RedQuery) -> tuple[float, float, int]:
            took = []
            rows = 0
            for _ in range(args.runs):
                t = time.perf_counter()
                rows = (await store.red(query)).num_rows
                took.append((time.perf_counter() - t) * 1000)
            return pct(took, 0.5), pct(took, 0.99), rows

        day = RedQuery(start, start + DAY_NS, 5 * MINUTE)
        cases = {
            "day, 5 min steps, per operation": day,
            "day, 5 min steps, per service": RedQuery(
                start, start + DAY_NS, 5 * MINUTE, by_operation=False
            ),
            "day, one service's operations": RedQuery(
                start, start + DAY_NS, 5 * MINUTE, services=("checkout",)
            ),
            "Jaeger Monitor: 1 h, 1 min steps, 10 min windows": RedQuery(
                start + DAY_NS // 2,
                start + DAY_NS // 2 + 3600 * 10**9,
                MINUTE,
                span_kinds=(SpanKind.SERVER,),
                by_kind=False,
                window_ns=10 * MINUTE,
                quantiles=(0.95,),
            ),
        }
        for name, query in cases.items():
            p50, p99, rows = await timed(metrics_store, query)
            print(f"query {name}: p50 {p50:.1f} ms, p99 {p99:.1f} ms ({rows:,} rows out)")

        peer_end = gen.start_ns + DAY_NS
        kept50, kept99, _ = await timed(peer_metrics, RedQuery(start, peer_end, 5 * MINUTE))

        def raw() -> int:
            params = [start, start, 5 * MINUTE, 5 * MINUTE, start, peer_end]
            return len(peer_store._conn.execute(RAW_RED, params).fetchall())

        took = []
        for _ in range(max(3, args.runs // 4)):
            t = time.perf_counter()
            await asyncio.to_thread(raw)
            took.append((time.perf_counter() - t) * 1000)
        raw50 = pct(took, 0.5)
        print(
            f"peer, {peer_spans:,} spans: RED per operation per 5 min from the kept aggregates "
            f"p50 {kept50:.1f} ms (p99 {kept99:.1f}); from the raw spans p50 {raw50:.0f} ms; "
            f"ratio {raw50 / kept50:.0f}x"
        )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of the whole run (generator included): {peak:.0f} MiB")
        for store in (metrics_store, peer_store, peer_metrics):
            await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=10_000_000)
    parser.add_argument("--peer-spans", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
