"""Trace analysis speed and memory: one huge trace, and the critical path over many traces.

1. ``--spans 100000 --spans 1000000``: one trace of that many spans (a tree of fan-out 1-16,
   concurrent and sequential children, 2% errors, a tenth of the services on other hosts
   with skewed clocks), built straight as Arrow columns. Times ``build_tree``,
   ``critical_path`` and the whole ``explain_trace`` (CPU and wall), and the peak memory
   they add (Arrow's allocator plus numpy, as the process's peak RSS growth). The floor,
   measured in the same run: one ``sort_indices`` of the trace by (ParentSpanId, Timestamp),
   the least any tree analysis must do.
2. ``--traces 100000``: that many realistic traces (``bench/gen.py``) written to a DuckDB store
   on a temp dir, then the aggregated critical path as ``GET /api/x/critical-path`` computes it
   (search, ``get_traces`` in batches of 500, ``path_rows`` per batch, ``aggregate_rows``). The
   floor: the same ``get_traces`` reads without the analysis.

    python bench/critical_path.py --spans 100000 --spans 1000000
    python bench/critical_path.py --traces 100000
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parent))

import contextlib

from breadcrumbs.analysis.aggregate import aggregate_rows, path_rows
from breadcrumbs.analysis.critical_path import critical_path
from breadcrumbs.analysis.explain import explain_trace
from breadcrumbs.analysis.tree import build_tree
from breadcrumbs.model import SPAN_SCHEMA, SpanBatch
from breadcrumbs.store.base import GetTracesParams, TraceQuery
from breadcrumbs.store.duckdb import DuckDBStore
from gen import Generator

T = TypeVar("T")
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> None:
    """Linux: make VmHWM (the peak RSS) start again from the current RSS."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def vm_hwm_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return peak_rss_mib()


def vm_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def timed(work: Callable[[], T], rounds: int = 3) -> tuple[T, float, float, float]:
    """(result, best wall s, best CPU s, peak memory growth MiB) over ``rounds``."""
    best_wall = best_cpu = float("inf")
    grown = 0.0
    result: Any = None
    for _ in range(rounds):
        result = None
        gc.collect()
        reset_peak()
        before = vm_rss_mib()
        wall, cpu = time.perf_counter(), time.process_time()
        result = work()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
        grown = max(grown, vm_hwm_mib() - before)
    return result, best_wall, best_cpu, grown


def big_trace(spans: int, seed: int = 7) -> SpanBatch:
    """One trace of ``spans`` spans: span i's parent is an earlier span, fan-out 1-16."""
    rng = np.random.default_rng(seed)
    parent = np.full(spans, -1, dtype=np.int64)
    fan = rng.integers(1, 17, size=spans)
    # breadth-first: children of span k are the next fan[k] spans not yet placed
    owners = np.repeat(np.arange(spans), fan)[: spans - 1]
    parent[1:] = owners
    start = np.zeros(spans, dtype=np.int64)
    duration = np.zeros(spans, dtype=np.int64)
    duration[0] = 10_000_000_000
    sequential = rng.random(spans) < 0.5
    offset = rng.random(spans)
    share = rng.random(spans)
    # parents come before children: fill in index order, one vectorised pass per BFS level
    placed = np.zeros(spans, dtype=bool)
    placed[0] = True
    level = np.array([0])
    while len(level):
        kids = np.flatnonzero(np.isin(parent, level) & ~placed)
        if not len(kids):
            break
        p = parent[kids]
        room = duration[p]
        # sequential children share the parent's time in order; concurrent ones overlap
        rank = np.arange(len(kids)) - np.searchsorted(p, p)  # position among siblings
        siblings = fan[p]
        slot = room // np.maximum(siblings, 1)
        seq_start = start[p] + rank * slot + (offset[kids] * slot * 0.1).astype(np.int64)
        con_start = start[p] + (offset[kids] * room * 0.2).astype(np.int64)
        start[kids] = np.where(sequential[kids], seq_start, con_start)
        length = np.where(sequential[kids], slot * 0.8, room * 0.7 * share[kids])
        duration[kids] = np.maximum(1, length.astype(np.int64))
        placed[kids] = True
        level = kids
    services = np.array([f"svc-{i}" for i in range(40)])[rng.integers(0, 40, size=spans)]
    skewed = rng.random(spans) < 0.01
    start = start + np.where(skewed, rng.integers(-2_000_000, 2_000_000, size=spans), 0)
    error = rng.random(spans) < 0.02
    count = spans
    empty_map = pa.array([[]] * count, SPAN_SCHEMA.field("SpanAttributes").type)
    text = pa.array([""] * count, pa.string())
    span_ids = pa.array([f"{i + 1:016x}" for i in range(count)], pa.string())
    parent_ids = pa.array(["" if p < 0 else f"{p + 1:016x}" for p in parent.tolist()], pa.string())
    return pa.table(
        {
            "Timestamp": pa.array(start),
            "TraceId": pa.array([TRACE] * count, pa.string()),
            "SpanId": span_ids,
            "ParentSpanId": parent_ids,
            "TraceState": text,
            "SpanName": pa.array([f"GET /route/{i % 300}" for i in range(count)], pa.string()),
            "SpanKind": pa.array(rng.integers(1, 4, size=count).astype(np.int8)),
            "ServiceName": pa.array(services.tolist(), pa.string()),
            "ResourceAttributes": empty_map,
            "ResourceAttributeTypes": text,
            "ScopeName": text,
            "ScopeVersion": text,
            "SpanAttributes": empty_map,
            "SpanAttributeTypes": text,
            "Duration": pa.array(duration),
            "StatusCode": pa.array(np.where(error, 2, 0).astype(np.int8)),
            "StatusMessage": text,
            "Events": pa.array([[]] * count, SPAN_SCHEMA.field("Events").type),
            "Links": pa.array([[]] * count, SPAN_SCHEMA.field("Links").type),
        },
        schema=SPAN_SCHEMA,
    )


def one_trace(spans: int) -> None:
    batch = big_trace(spans)
    _, floor_wall, floor_cpu, floor_mem = timed(
        lambda: pc.sort_indices(batch, [("ParentSpanId", "ascending"), ("Timestamp", "ascending")])
    )
    tree, tree_wall, tree_cpu, tree_mem = timed(lambda: build_tree(batch))
    path, path_wall, path_cpu, path_mem = timed(lambda: critical_path(tree))
    explained, all_wall, all_cpu, all_mem = timed(lambda: explain_trace(batch))
    print(
        f"\n{spans:,} spans in one trace (depth {explained.summary.depth}, "
        f"{len(path.segments):,} path segments, {explained.errors.origins_total:,} error "
        f"origins, {explained.skew_total:,} skewed)"
    )
    print(f"{'step':<34}{'wall':>9}{'cpu':>9}{'x floor':>9}{'peak +MiB':>11}")
    rows = [
        ("floor: sort by (parent, start)", floor_wall, floor_cpu, floor_mem),
        ("build_tree", tree_wall, tree_cpu, tree_mem),
        ("critical_path (tree built)", path_wall, path_cpu, path_mem),
        ("explain_trace (all, from batch)", all_wall, all_cpu, all_mem),
    ]
    for name, wall, cpu, mem in rows:
        print(f"{name:<34}{wall:>8.3f}s{cpu:>8.3f}s{cpu / floor_cpu:>9.1f}{mem:>11.0f}")


async def many_traces(traces: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        store = DuckDBStore(Path(directory) / "spans.duckdb")
        generator = Generator(seed=11)
        written = 0
        t0 = time.perf_counter()
        for start in range(0, traces, 10_000):
            batch = generator.batch(min(10_000, traces - start))
            written += batch.num_rows
            await store.write(batch)
        print(f"\nwrote {traces:,} traces, {written:,} spans in {time.perf_counter() - t0:.0f}s")
        end = generator.end_ns() + 1
        query = TraceQuery(start_ns=0, end_ns=end, limit=traces)
        ids = await store.find_trace_ids(query)
        print(f"search found {len(ids):,} traces")

        async def reads_only() -> int:
            spans = 0
            for i in range(0, len(ids), 500):
                spans += (await store.get_traces(GetTracesParams(tuple(ids[i : i + 500])))).num_rows
            return spans

        async def with_analysis() -> pa.Table:
            parts = []
            for i in range(0, len(ids), 500):
                parts.append(
                    path_rows(await store.get_traces(GetTracesParams(tuple(ids[i : i + 500]))))
                )
            rows = pa.concat_tables(parts)
            aggregate_rows(rows)
            return rows

        for name, work in (
            ("floor: get_traces only", reads_only),
            ("+ critical path", with_analysis),
        ):
            gc.collect()
            reset_peak()
            before = vm_rss_mib()
            wall, cpu = time.perf_counter(), time.process_time()
            result = await work()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            grown = vm_hwm_mib() - before
            print(f"{name:<26}{wall:>8.1f}s wall{cpu:>8.1f}s cpu   peak +{grown:.0f} MiB")
            if isinstance(result, pa.Table):
                aggregate = aggregate_rows(result)
                top = aggregate.by_operation[0]
                print(
                    f"  {aggregate.traces:,} traces analysed; top: {top.share.service}: "
                    f"{top.share.name} {top.share.share:.1%} of critical-path time; "
                    f"{result.num_rows:,} reduced rows ({result.nbytes / 2**20:.0f} MiB)"
                )
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spans", type=int, action="append", default=[])
    parser.add_argument("--traces", type=int)
    args = parser.parse_args()
    for spans in args.spans:
        one_trace(spans)
    if args.traces:
        asyncio.run(many_traces(args.traces))


if __name__ == "__main__":
    main()
