"""Export, migrate and import throughput, each next to its floor measured in the same run.

- export: ``portability.scan`` over a DuckDB store plus OTLP JSON lines encoding, against
  the floor of encoding the same spans already in memory (what the reads add);
- migrate: the resumable copy into chDB (scan, insert, checkpoint per window) against the
  floor of inserting the same batches straight into a fresh chDB database;
- import (into a store): decoding the lines and writing them to DuckDB, against decoding alone.

    python bench/portability.py --spans 200000
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from breadcrumbs.model import concat_batches
from breadcrumbs.portability import migrate
from breadcrumbs.portability.lines import decode_lines, encode_lines
from breadcrumbs.portability.scan import SpanSelection, scan
from breadcrumbs.store.clickhouse import ClickHouseStore
from breadcrumbs.store.clickhouse.executor import ChdbExecutor
from breadcrumbs.store.duckdb import DuckDBStore
from gen import Generator


def _rate(spans: int, seconds: float) -> str:
    return f"{spans / seconds:>10,.0f} spans/s ({seconds:6.2f} s)"


async def main(spans: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-portability-"))
    gen = Generator(spans_per_second=200)  # spread over time as a real store is
    batches = list(gen.batches(spans, 50_000))
    everything = concat_batches(batches)
    source = DuckDBStore(work / "src" / "spans.duckdb")
    for batch in batches:
        await source.write(batch)
    start, end = gen.start_ns, gen.end_ns() + 1
    print(f"{everything.num_rows:,} spans over {(end - start) / 3.6e12:.1f} h; shared machine")

    began = time.perf_counter()
    lines = [line for batch in batches for line in encode_lines(batch)]
    floor = time.perf_counter() - began
    began = time.perf_counter()
    exported = 0
    async for window in scan(source, SpanSelection(start, end)):
        for _ in encode_lines(window.spans):
            pass
        exported += window.spans.num_rows
    took = time.perf_counter() - began
    print(f"export  {_rate(exported, took)}  floor (encode only) {_rate(spans, floor)}  "
          f"ratio {took / floor:.2f}")  # fmt: skip

    executor = ChdbExecutor(work / "chdb")
    direct = ClickHouseStore(executor, database="floor")
    began = time.perf_counter()
    for batch in batches:
        await direct.write(batch)
    floor = time.perf_counter() - began
    target = ClickHouseStore(executor, database="migrated")
    checkpoint = migrate.Checkpoint("src", "dst", start, end, start, start)
    began = time.perf_counter()
    copied = await migrate.copy(
        source, target, checkpoint, work / "checkpoint.json", traces_per_read=5_000
    )
    took = time.perf_counter() - began
    print(f"migrate {_rate(copied, took)}  floor (chDB insert) {_rate(spans, floor)}  "
          f"ratio {took / floor:.2f}")  # fmt: skip

    path = work / "lines.jsonl"
    path.write_bytes(b"".join(lines))
    began = time.perf_counter()
    with path.open("rb") as stream:
        decoded = [line.spans for line in decode_lines(stream)]
    floor = time.perf_counter() - began
    restored = DuckDBStore(work / "restored" / "spans.duckdb")
    began = time.perf_counter()
    with path.open("rb") as stream:
        for line in decode_lines(stream):
            await restored.write(line.spans)
    took = time.perf_counter() - began
    total = sum(b.num_rows for b in decoded)
    print(f"import  {_rate(total, took)}  floor (decode only) {_rate(total, floor)}  "
          f"ratio {took / floor:.2f}")  # fmt: skip
    for store in (source, direct, target, restored):
        await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=200_000)
    asyncio.run(main(parser.parse_args().spans))
