"""Store write path: CPU seconds per million spans and wall time per flush, before vs after.

    python bench/store_write.py --spans 1000000 --batch 45000 --batch 100000 --baseline main

Each (source tree, batch size) runs in its own child process on a fresh database, interleaved
round by round, so "before" and "after" share the machine's load. ``--baseline REV`` extracts
``src/`` of a git revision (``git archive``) to compare against; without it only the working
tree runs. Batches come from ``bench/gen.py`` and are cut into 1000-span tables and
concatenated again, as the server's flushes are (one table per decoded request).

Figures per run: CPU (process time, all threads) of the ``write`` calls per million spans,
the same plus the final checkpoint at close (work a larger checkpoint threshold defers), wall
time per flush p50/max, and bytes per span on disk.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def child(
    spans: int, batch_size: int, spans_per_hour: int, counts: bool, threshold: str | None
) -> dict[str, Any]:
    import pyarrow as pa

    from breadcrumbs.store.duckdb import DuckDBStore

    sys.path.insert(0, str(HERE))
    from gen import Generator

    workdir = Path(tempfile.mkdtemp(prefix="bc-write-"))
    path = workdir / "spans.duckdb"
    options: dict[str, Any] = {} if counts else {"dependency_counts": False}
    if threshold:
        options["checkpoint_threshold"] = threshold
    store = DuckDBStore(path, **options)
    gen = Generator(spans_per_second=spans_per_hour / 3600)
    cpu = 0.0
    walls: list[float] = []
    total = 0
    # The trace lookup's merges, run after each flush as the server's background task does
    # (getattr: older trees have none); their CPU is counted apart from the writes'.
    compact = getattr(store, "compact", None)
    compact_cpu = 0.0
    steps: list[float] = []
    for sequence, batch in enumerate(gen.batches(spans, batch_size), start=1):
        pieces = [batch.slice(i, 1000) for i in range(0, batch.num_rows, 1000)]
        flush = pa.concat_tables([pa.Table.from_batches(p.to_batches()) for p in pieces])
        began, began_cpu = time.perf_counter(), time.process_time()
        await store.write(flush, wal_sequence=sequence)
        walls.append(time.perf_counter() - began)
        cpu += time.process_time() - began_cpu
        total += flush.num_rows
        while compact is not None:
            began_cpu = time.process_time()
            merged = await compact()
            compact_cpu += time.process_time() - began_cpu
            if not merged:
                break
            steps.append(time.process_time() - began_cpu)
    began_cpu = time.process_time()
    await store.close()
    close_cpu = time.process_time() - began_cpu
    size = store.bytes_on_disk()
    import duckdb

    with duckdb.connect(str(path), read_only=True) as conn:
        blocks = "SELECT total_blocks, free_blocks FROM pragma_database_size()"
        row = conn.execute(blocks).fetchone()
    free = row[1] / row[0] if row and row[0] else 0.0
    shutil.rmtree(workdir)
    return {
        "spans": total,
        "cpu_per_m": cpu / total * 1e6,
        "cpu_close_per_m": (cpu + close_cpu) / total * 1e6,
        "compact_cpu_per_m": compact_cpu / total * 1e6,
        "compact_steps": len(steps),
        "compact_step_max_ms": max(steps, default=0.0) * 1000,
        "wall_p50_ms": pct(walls, 0.5) * 1000,
        "wall_max_ms": max(walls) * 1000,
        "bytes_per_span": size / total,
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "free_blocks": free,
    }


def extract(rev: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", rev, "src"],
        check=True,
        capture_output=True,
    ).stdout
    tar_path = into / "src.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000, help="per run")
    parser.add_argument("--batch", type=int, action="append", help="flush size (repeatable)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--spans-per-hour", type=int, default=10_000_000)
    parser.add_argument("--baseline", default=None, help="git revision to compare against")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-counts", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threshold", default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--thresholds",
        default="",
        help="also run this tree with these DuckDB checkpoint thresholds (comma-separated)",
    )
    args = parser.parse_args()
    batches = args.batch or [45_000, 100_000]
    if args.child:
        counts = not args.no_counts
        result = asyncio.run(
            child(args.spans, batches[0], args.spans_per_hour, counts, args.threshold)
        )
        print(json.dumps(result))
        return

    # after: this tree; after-nodeps: without refreshing the per-minute dependency counts.
    trees: dict[str, tuple[Path, list[str]]] = {
        "after-nodeps": (REPO / "src", ["--no-counts"]),
        "after": (REPO / "src", []),
    }
    for threshold in filter(None, args.thresholds.split(",")):
        trees[f"after@{threshold}"] = (REPO / "src", ["--threshold", threshold])
    with tempfile.TemporaryDirectory(prefix="bc-baseline-") as tmp:
        if args.baseline:
            trees = {"before": (extract(args.baseline, Path(tmp)), []), **trees}
        print(
            f"machine: {os.cpu_count()} cores; {args.spans} spans per run; "
            f"load {os.getloadavg()[0]:.1f}"
        )
        for round_ in range(args.rounds):
            for batch in batches:
                for label, (src, flags) in trees.items():
                    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{REPO}"}
                    out = subprocess.run(
                        [sys.executable, __file__, "--child", "--spans", str(args.spans),
                         "--batch", str(batch), "--spans-per-hour", str(args.spans_per_hour),
                         *flags],
                        check=True, capture_output=True, text=True, env=env,
                    ).stdout  # fmt: skip
                    r = json.loads(out.strip().splitlines()[-1])
                    print(
                        f"round {round_ + 1} {label:<13} batch {batch:>7}: "
                        f"cpu {r['cpu_per_m']:5.2f} s/M spans "
                        f"(+ close checkpoint {r['cpu_close_per_m']:5.2f}); "
                        f"lookup compaction {r.get('compact_cpu_per_m', 0):4.2f} s/M spans in"
                        f" {r.get('compact_steps', 0)} steps, longest"
                        f" {r.get('compact_step_max_ms', 0):.0f} ms cpu; "
                        f"flush wall p50 {r['wall_p50_ms']:6.0f} ms max {r['wall_max_ms']:6.0f} ms;"
                        f" {r['bytes_per_span']:.1f} bytes/span"
                        f" ({r['free_blocks']:.0%} free blocks);"
                        f" peak RSS {r['max_rss_mib']:.0f} MiB",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
