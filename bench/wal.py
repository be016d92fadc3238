"""WAL group-commit benchmark: concurrent producers append 1000-span batches.

    python bench/wal.py [--seconds 10] [--producers 4] [--spans 1000] [--compression none]
    python bench/wal.py --pipeline   # through IngestPipeline into a DuckDBStore

Prints spans/s, fsyncs/s, records per group, WAL bytes per span and ack latency p50/p99.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from breadcrumbs.model import Event, Span, SpanBatch, SpanKind, StatusCode, batch_from_spans
from breadcrumbs.pipeline.ingest import IngestPipeline, PipelineSettings
from breadcrumbs.pipeline.wal import WriteAheadLog, encode_batch
from breadcrumbs.selfmetrics import SelfMetrics


def realistic_batch(spans: int, seed: int) -> SpanBatch:
    """Spans shaped like an instrumented HTTP service's: ~10 attributes, some events."""
    rng = random.Random(seed)
    services = ["frontend", "cart", "checkout", "payment", "inventory"]
    rows = []
    for i in range(spans):
        trace = rng.getrandbits(128) or 1
        start = 1_700_000_000_000_000_000 + i * 1_000_000
        rows.append(
            Span(
                trace_id=f"{trace:032x}",
                span_id=f"{rng.getrandbits(64) or 1:016x}",
                parent_span_id=f"{rng.getrandbits(64) or 1:016x}" if i % 5 else "",
                name=rng.choice(["GET /cart", "POST /checkout", "SELECT items", "charge"]),
                service=rng.choice(services),
                start_ns=start,
                duration_ns=rng.randint(10_000, 50_000_000),
                kind=rng.choice([SpanKind.SERVER, SpanKind.CLIENT, SpanKind.INTERNAL]),
                status=StatusCode.ERROR if rng.random() < 0.02 else StatusCode.UNSET,
                attributes={
                    "http.request.method": "GET",
                    "http.route": "/cart/{id}",
                    "http.response.status_code": 200,
                    "url.path": f"/cart/{rng.randint(1, 10**6)}",
                    "server.address": "cart.internal",
                    "server.port": 8080,
                    "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64)",
                    "network.protocol.version": "1.1",
                    "client.address": f"10.0.{rng.randint(0, 255)}.{rng.randint(0, 255)}",
                    "app.items": rng.randint(1, 20),
                },
                resource={"service.version": "1.4.2", "host.name": "node-7", "k8s.pod.name": "p"},
                scope_name="opentelemetry.instrumentation.flask",
                scope_version="0.48b0",
                events=[Event(start + 5, "cache.miss", {"key": "k"})] if i % 10 == 0 else (),
            )
        )
    return batch_from_spans(rows)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1] if len(values) > 1 else 0.0


async def run(args: argparse.Namespace, directory: Path) -> None:
    batches = [realistic_batch(args.spans, seed) for seed in range(8)]
    payload = encode_batch(batches[0], args.compression)
    print(
        f"record: {payload.size} bytes for {args.spans} spans "
        f"({payload.size / args.spans:.0f} B/span, compression={args.compression})"
    )
    metrics = SelfMetrics()
    pipeline: IngestPipeline | None = None
    append: Callable[[SpanBatch], Awaitable[object]]
    if args.pipeline:
        from breadcrumbs.store.duckdb import DuckDBStore

        store = DuckDBStore(directory / "spans.duckdb")
        pipeline = IngestPipeline(
            directory, store, PipelineSettings(wal_compression=args.compression), metrics
        )
        await pipeline.start()
        wal = pipeline.wal
        append = pipeline.consume
    else:
        wal = WriteAheadLog(directory / "wal", compression=args.compression, metrics=metrics)
        for _ in wal.replay():
            pass
        append = wal.append

    latencies: list[float] = []
    refused = 0
    deadline = time.monotonic() + args.seconds

    async def producer(p: int) -> None:
        nonlocal refused
        i = 0
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                await append(batches[(p + i) % len(batches)])
            except Exception:  # Overloaded when the store lags: back off like a client
                refused += 1
                await asyncio.sleep(0.05)
                continue
            latencies.append(time.perf_counter() - started)
            i += 1

    started = time.perf_counter()
    await asyncio.gather(*(producer(p) for p in range(args.producers)))
    elapsed = time.perf_counter() - started
    fsyncs, records, wal_bytes = wal.fsyncs, wal.records_committed, wal.disk_bytes
    if pipeline is not None:
        await pipeline.stop()
        await store.close()
        flushed = metrics.registry.get_sample_value("breadcrumbs_store_flushed_spans_total") or 0
        flushes = pipeline.writer.flushes
        print(
            f"flushed to DuckDB: {flushed:.0f} spans in {flushes} writes "
            f"({flushed / max(flushes, 1):,.0f} spans each, replay excluded); "
            f"refused (Overloaded): {refused}"
        )
    else:
        await wal.close()
    acked = len(latencies)
    print(
        f"{args.producers} producers x {args.spans}-span batches for {elapsed:.1f} s: "
        f"{acked * args.spans / elapsed:,.0f} spans/s, {acked / elapsed:,.0f} batches/s"
    )
    print(
        f"fsyncs/s {fsyncs / elapsed:,.1f}; records per group {records / max(fsyncs, 1):.2f}; "
        f"write+fsync mean {1000 * _histogram_mean(metrics):.2f} ms"
    )
    print(
        f"ack latency p50 {1000 * percentile(latencies, 0.5):.2f} ms, "
        f"p99 {1000 * percentile(latencies, 0.99):.2f} ms; WAL on disk now {wal_bytes:,} B"
    )


def _histogram_mean(metrics: SelfMetrics) -> float:
    total = metrics.registry.get_sample_value("breadcrumbs_wal_fsync_duration_seconds_sum") or 0
    count = metrics.registry.get_sample_value("breadcrumbs_wal_fsync_duration_seconds_count") or 1
    return float(total) / float(count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--producers", type=int, default=4)
    parser.add_argument("--spans", type=int, default=1000)
    parser.add_argument("--compression", choices=["none", "lz4", "zstd"], default="lz4")
    parser.add_argument("--pipeline", action="store_true", help="through IngestPipeline+DuckDB")
    parser.add_argument("--dir", type=Path, default=None, help="WAL directory (default: tmp)")
    args = parser.parse_args()
    if args.compression == "none":
        args.compression = None
    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
        asyncio.run(run(args, args.dir))
        return
    with tempfile.TemporaryDirectory(prefix="bench-wal-") as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
