"""DuckDB's service graph over an hour, by the size of the slices its calls are joined in.

    python bench/service_graph.py --spans 2000000
    python bench/service_graph.py --spans 10000000 --slices 150000,300000,500000,800000

One store on a fresh directory, with ``bench/gen.py``'s hour of traffic written through
``DuckDBStore.write`` in 100k-span flushes (as ``store_engines.py`` writes it) and its lookup
merges done. Then, for each slice size (``DuckDBStore(graph_slice_spans=...)``, the store
reopened with its default 256 MiB memory limit), the wall time of ``service_graph`` over the
last hour and over its last 15 minutes, best and worst of ``--runs``. The last row joins the
whole window in one statement (one slice of every span): the floor the slices are measured
against, in the same run. The edges must be the same for every slice size.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from breadcrumbs.store.base import ServiceGraphEdge, ServiceGraphQuery
from breadcrumbs.store.duckdb import DuckDBStore, sql

HERE = Path(__file__).resolve().parent
HOUR_NS = 3600 * 10**9
WHOLE = 10**15  # more spans than any window: one slice, one statement


async def fill(path: Path, spans: int) -> None:
    sys.path.insert(0, str(HERE))
    from gen import Generator

    store = DuckDBStore(path)
    gen = Generator(start_ns=time.time_ns() - HOUR_NS, spans_per_second=spans / 3600)
    total = 0
    for sequence, batch in enumerate(gen.batches(spans, 100_000), start=1):
        batch = batch.slice(0, spans - total)  # exactly ``spans``, ending at the wall clock
        total += batch.num_rows
        await store.write(batch, wal_sequence=sequence)
    while await store.compact():
        pass
    await store.close()


async def measure(
    path: Path, slice_spans: int, runs: int
) -> tuple[dict[str, list[float]], list[ServiceGraphEdge]]:
    store = DuckDBStore(path, graph_slice_spans=slice_spans)
    end = (await store.stats()).newest_ns or time.time_ns()
    walls: dict[str, list[float]] = {"1h": [], "15m": []}
    edges: list[ServiceGraphEdge] = []
    for _ in range(runs):
        for name, length in (("1h", HOUR_NS), ("15m", HOUR_NS // 4)):
            began = time.perf_counter()
            got = await store.service_graph(ServiceGraphQuery(end - length, end))
            walls[name].append(time.perf_counter() - began)
            if name == "1h":
                edges = got
    await store.close()
    return walls, edges


async def run(spans: int, slices: list[int], runs: int) -> None:
    directory = Path(tempfile.mkdtemp(prefix="bc-graph-"))
    try:
        path = directory / "spans.duckdb"
        began = time.perf_counter()
        await fill(path, spans)
        print(f"{spans:,} spans written in {time.perf_counter() - began:.0f} s")
        load_before = os.getloadavg()
        results = []
        reference: list[ServiceGraphEdge] | None = None
        for slice_spans in [*slices, WHOLE]:
            walls, edges = await measure(path, slice_spans, runs)
            if reference is None:
                reference = edges
            assert edges == reference, f"slices of {slice_spans} gave other edges"
            results.append((slice_spans, walls))
        load_after = os.getloadavg()
    finally:
        shutil.rmtree(directory)
    print(
        f"load average (1, 5, 15 min) before {' '.join(f'{x:.1f}' for x in load_before)}"
        f" after {' '.join(f'{x:.1f}' for x in load_after)}; {len(reference or [])} edges"
    )
    whole = min(results[-1][1]["1h"])
    print(f"{'slice spans':>14}{'1 h best s':>12}{'1 h worst s':>13}{'15 min best s':>15}"
          f"{'1 h / one statement':>21}")  # fmt: skip
    for slice_spans, walls in results:
        label = "one statement" if slice_spans == WHOLE else f"{slice_spans:,}"
        print(
            f"{label:>14}{min(walls['1h']):>12.2f}{max(walls['1h']):>13.2f}"
            f"{min(walls['15m']):>15.2f}{min(walls['1h']) / whole:>21.2f}"
        )
    print(f"default slice: {sql.SERVICE_GRAPH_SLICE_SPANS:,} spans")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=2_000_000)
    parser.add_argument("--slices", default=f"{sql.SERVICE_GRAPH_SLICE_SPANS}")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    slices = [int(s) for s in args.slices.split(",") if s]
    asyncio.run(run(args.spans, slices, args.runs))


if __name__ == "__main__":
    main()
