"""The trace doctor over one hour of realistic spans: time, CPU and peak memory per read.

Writes ``--spans`` spans from ``gen.py`` spread over one hour into a fresh DuckDB store, then
measures, each in a fresh child process opening that store (so peak RSS is the read's own):

- ``floor``: one scan of the hour that any doctor needs at least, the operations of the hour
  with a count and a median duration (``GROUP BY ServiceName, SpanName, SpanKind``);
- ``doctor``: the five doctor reads and every check, as ``GET /api/x/doctor`` runs them.

    python bench/doctor.py --spans 1000000 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from breadcrumbs.analysis.doctor import ID_PATTERN, diagnose
from breadcrumbs.query.doctor import MAX_ROWS, gather_evidence
from breadcrumbs.store.base import DoctorWindow
from breadcrumbs.store.duckdb import DuckDBStore
from gen import Generator

HOUR_NS = 3600 * 10**9

FLOOR = """
SELECT ServiceName, SpanName, SpanKind, count(*), quantile_disc(Duration, 0.5) FROM spans
WHERE Timestamp >= ? AND Timestamp < ? GROUP BY ALL
"""


def load(path: Path, spans: int, batch: int) -> tuple[int, int]:
    gen = Generator(spans_per_second=spans / 3600)
    store = DuckDBStore(path)

    async def write() -> None:
        for part in gen.batches(spans, batch):
            await store.write(part)
        await store.close()

    began = time.perf_counter()
    asyncio.run(write())
    print(f"loaded {spans:,} spans in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    return gen.start_ns, gen.end_ns()


class Timed:
    """The store's doctor reads, each timed (wall, CPU of the process)."""

    def __init__(self, store: DuckDBStore, figures: dict[str, Any]) -> None:
        self.store, self.figures = store, figures

    def __getattr__(self, name: str) -> Any:
        read = getattr(self.store, name)

        async def timed(window: DoctorWindow) -> Any:
            began, cpu = time.perf_counter(), time.process_time()
            table = await read(window)
            self.figures[name.removesuffix("_profile")] = (
                time.perf_counter() - began,
                time.process_time() - cpu,
            )
            return table

        return timed


def measure(path: Path, what: str, start_ns: int, end_ns: int) -> dict[str, Any]:
    store = DuckDBStore(path)
    window = DoctorWindow(start_ns, end_ns, ID_PATTERN, max_rows=MAX_ROWS)
    figures: dict[str, Any] = {}

    async def run() -> None:
        if what == "floor":
            began, cpu = time.perf_counter(), time.process_time()
            await store._read(lambda cur: cur.execute(FLOOR, [start_ns, end_ns]).fetchall())
            figures["floor"] = (time.perf_counter() - began, time.process_time() - cpu)
            return
        reader: Any = Timed(store, figures)
        evidence = await gather_evidence(reader, window, value_limit=16_384)
        began, cpu = time.perf_counter(), time.process_time()
        findings = diagnose(evidence)
        figures["checks"] = (time.perf_counter() - began, time.process_time() - cpu)
        figures["attribute_traces"] = evidence.attribute_traces
        figures["findings"] = [f"{f.severity.label}: {f.title}" for f in findings]

    asyncio.run(run())
    asyncio.run(store.close())
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return figures


def child(path: Path, what: str, start_ns: int, end_ns: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--measure", what, "--db", str(path),
         "--start", str(start_ns), "--end", str(end_ns)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    result: dict[str, Any] = json.loads(out)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=45_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--measure", choices=["floor", "doctor"])
    parser.add_argument("--db", type=Path)
    parser.add_argument("--start", type=int)
    parser.add_argument("--end", type=int)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.db, args.measure, args.start, args.end)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spans.duckdb"
        start_ns, end_ns = load(path, args.spans, args.batch)
        end_ns = max(end_ns, start_ns + HOUR_NS)
        print(f"{args.spans:,} spans over 1 h; wall / CPU seconds; peak RSS of the process")
        for round_ in range(1, args.rounds + 1):
            floor = child(path, "floor", start_ns, end_ns)
            doctor = child(path, "doctor", start_ns, end_ns)
            reads = ["operation", "parent", "call", "root", "attribute", "checks"]
            wall = sum(doctor[r][0] for r in reads)
            cpu = sum(doctor[r][1] for r in reads)
            print(
                f"round {round_}: floor {floor['floor'][0]:.2f} / {floor['floor'][1]:.2f} s, "
                f"{floor['peak_rss_mb']:.0f} MB; doctor {wall:.2f} / {cpu:.2f} s "
                f"({wall / floor['floor'][0]:.1f}x the floor's wall, "
                f"{cpu / max(floor['floor'][1], 1e-9):.1f}x its CPU), "
                f"{doctor['peak_rss_mb']:.0f} MB"
            )
            print("    " + ", ".join(f"{r} {doctor[r][0]:.2f}/{doctor[r][1]:.2f}" for r in reads))
        print(f"attributes read from 1 in {doctor['attribute_traces']} traces")
        print("findings on generated data:", *doctor["findings"], sep="\n    ")


if __name__ == "__main__":
    main()
