"""Same process, interleaved: the ClickHouse spans table with ClickHouse's default compressed
blocks (64 KiB, as v5 wrote them) against smaller ones (v6 keeps 16 KiB).

    python bench/ch_blocks_ab.py --spans 1000000 --rounds 100 [--dir DIR] [--blocks 0,8192,16384]

On one chDB database (``--dir`` keeps it for another run) holding ``--spans`` generated spans
(``bench/ch_layout_ab.py``'s build: an hour, 100k-span writes through ``ClickHouseStore``),
the spans are copied into one table per ``--blocks`` size (``min_compress_block_size``; 0:
ClickHouse's default, v5's layout) and merged to one part each. Each round, in random order
per table: get-trace of a sampled trace, get-traces of 20 sampled traces, and a service search
statement (>= 20 ms, the hour, 20 newest traces). Results must be equal row for row. Prints
p50/p90/p99 ms, the tables' compressed bytes, and the load average before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
HOUR_NS = 3600 * 10**9


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e3


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--blocks", default="0,8192,16384")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from breadcrumbs.store.clickhouse import schema, sql
    from breadcrumbs.store.clickhouse.executor import ChdbExecutor
    from ch_layout_ab import build

    directory = args.dir or Path(tempfile.mkdtemp(prefix="bc-ch-blocks-"))
    directory.mkdir(parents=True, exist_ok=True)
    meta_file = directory / "meta.json"
    if not meta_file.exists():
        meta_file.write_text(json.dumps(await build(directory, args.spans)))
    meta = json.loads(meta_file.read_text())
    executor = ChdbExecutor(directory / "chdb")
    db = "`breadcrumbs`"
    columns = ", ".join(schema.SPAN_TABLE_COLUMNS)
    tables: dict[str, int] = {}
    for size in (int(b) for b in args.blocks.split(",")):
        name = f"spans_blocks_{size}"
        body = schema._spans_body("breadcrumbs", None, name, 0)
        default = f", min_compress_block_size = {schema.SPANS_MIN_COMPRESS_BLOCK}"
        body = body.replace(default, f", min_compress_block_size = {size}" if size else "")
        executor.command(f"DROP TABLE IF EXISTS {db}.{name}")
        executor.command(f"CREATE TABLE {db}.{name} {body}")
        executor.command(f"INSERT INTO {db}.{name} ({columns}) SELECT {columns} FROM {db}.spans")
        executor.command(f"OPTIMIZE TABLE {db}.{name} FINAL")
        tables[name] = size
    sizes = {
        row["table"]: row["bytes"]
        for row in executor.query(
            "SELECT table, sum(data_compressed_bytes) AS bytes FROM system.parts "
            "WHERE active AND database = 'breadcrumbs' GROUP BY table"
        ).to_pylist()
    }
    one = sql.traces_spans(db, one=True)
    many = sql.traces_spans(db)
    search = (
        f"SELECT lower(hex(TraceId)) AS t, max(Timestamp) AS m FROM {db}.spans "
        "WHERE Timestamp >= {start:Int64} AND ServiceName = {service:String} "
        "AND Duration >= 20000000 GROUP BY TraceId ORDER BY m DESC, t LIMIT 20"
    )
    rng = random.Random(4)
    sample: list[str] = meta["sample"]
    kinds = ("get-trace", "get-traces, 20", "service search")
    times: dict[tuple[str, str], list[float]] = {(t, k): [] for t in tables for k in kinds}
    load = os.getloadavg()
    for _ in range(args.rounds):
        statements: list[tuple[str, str, dict[str, Any]]] = [
            ("get-trace", one, {"trace": rng.choice(sample)}),
            ("get-traces, 20", many, {"traces": rng.sample(sample, 20)}),
            (
                "service search",
                search,
                {"start": meta["end"] - HOUR_NS, "service": rng.choice(meta["services"])},
            ),
        ]
        order = list(tables)
        rng.shuffle(order)
        results = {}
        for name in order:
            for kind, text, params in statements:
                text = text.replace(f"{db}.spans", f"{db}.{name}")
                began = time.perf_counter()
                results[name, kind] = executor.query(text, params)
                times[name, kind].append(time.perf_counter() - began)
        for kind in kinds:
            first = results[order[0], kind]
            assert all(results[name, kind].equals(first) for name in order), kind
    after = os.getloadavg()
    executor.close()
    print(f"load average {load[0]:.2f} -> {after[0]:.2f}; {args.rounds} rounds; p50 / p90 / p99 ms")
    for name, size in tables.items():
        print(f"min_compress_block_size {size or 'default'}: {sizes[name]:,} bytes")
        for kind in kinds:
            got = times[name, kind]
            print(f"  {kind:16s} {p(got, 0.5):7.1f} / {p(got, 0.9):7.1f} / {p(got, 0.99):7.1f}")


if __name__ == "__main__":
    asyncio.run(main())
