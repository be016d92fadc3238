"""``why`` (selection_counts + ranking), latency and typical-trace reads over a day of spans.

Loads ``--spans`` realistic spans (``bench/gen.py``, spread over 24 hours) into a DuckDB store,
then times, for the busiest entry service over the whole day:

- ``floor``: one scan reading every span's attributes and duration (``sum(len(...))``): the
  least any answer drawn from every span's attributes must read;
- ``why p95`` / ``why errors`` / ``why >= p50``: ``selection_counts`` plus ``explain_selection``;
- ``latency``: ``latency_distribution`` (histogram and 60-step heatmap);
- ``typical``: ``typical_traces``.

Each is run ``--rounds`` times; wall and process CPU (all threads) are the medians, and
``x floor`` is the ratio of CPU to the floor's in the same run. Peak RSS growth during each
query is read from ``VmHWM`` after resetting it (``/proc/self/clear_refs``).

    python bench/why.py --spans 2000000          # ~100k+ traces, a few minutes
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from breadcrumbs.analysis.why import explain_selection
from breadcrumbs.store.base import (
    Endpoint,
    LatencyQuery,
    TraceSelection,
    TypicalTraceQuery,
)
from breadcrumbs.store.duckdb import DuckDBStore
from gen import Generator

DAY_NS = 86_400 * 10**9


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def _cpu() -> float:
    return time.process_time()


def measure(rounds: int, work: Callable[[], Any]) -> tuple[float, float, float, Any]:
    """(median wall s, median CPU s, peak RSS growth MiB, last result)."""
    walls, cpus, peaks = [], [], []
    result: Any = None
    for _ in range(rounds):
        before = _status_kib("VmRSS")
        _reset_peak()
        wall, cpu = time.perf_counter(), _cpu()
        result = work()
        walls.append(time.perf_counter() - wall)
        cpus.append(_cpu() - cpu)
        peaks.append((_status_kib("VmHWM") - before) / 1024)
    return statistics.median(walls), statistics.median(cpus), max(peaks), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="keep the store here")
    args = parser.parse_args()

    directory = args.dir or Path(tempfile.mkdtemp(prefix="bench-why-"))
    gen = Generator(spans_per_second=args.spans / (DAY_NS / 1e9))
    store = DuckDBStore(directory / "spans.duckdb")
    began = time.perf_counter()
    loaded = 0
    for batch in gen.batches(args.spans, 100_000):
        asyncio.run(store.write(batch))
        loaded += batch.num_rows
    print(f"loaded {loaded:,} spans in {time.perf_counter() - began:.0f} s into {directory}")

    cur = store._conn.cursor()  # bench only: the busiest entry service, straight from SQL
    ((traces,),) = cur.execute("SELECT count(DISTINCT TraceId) FROM spans").fetchall()
    ((service, entries),) = cur.execute(
        "SELECT ServiceName, count(DISTINCT TraceId) AS n FROM spans "
        "WHERE SpanKind IN (2, 5) OR ParentSpanId IS NULL GROUP BY 1 ORDER BY n DESC LIMIT 1"
    ).fetchall()
    print(f"{traces:,} traces; busiest entry service {service!r} in {entries:,} of them")
    endpoint = Endpoint(gen.start_ns, gen.end_ns(), service)

    def floor() -> Any:
        return cur.execute(
            "SELECT sum(len(SpanAttributes)), sum(Duration) FROM spans "
            "WHERE Timestamp BETWEEN ? AND ?",
            [endpoint.start_ns, endpoint.end_ns],
        ).fetchall()

    def why(selection: TraceSelection) -> Callable[[], Any]:
        def run() -> Any:
            return explain_selection(asyncio.run(store.selection_counts(selection)))

        return run

    cases: list[tuple[str, Callable[[], Any]]] = [
        ("floor (scan of attributes)", floor),
        ("why p95", why(TraceSelection(endpoint, percentile=95))),
        ("why errors", why(TraceSelection(endpoint, errors=True))),
        ("why >= p50 (10k/side, the default)", why(TraceSelection(endpoint, percentile=50))),
        (
            "why >= p50, 20k/side",
            why(TraceSelection(endpoint, percentile=50, max_traces_per_side=20_000)),
        ),
        (
            "why >= p50, no cap",
            why(TraceSelection(endpoint, percentile=50, max_traces_per_side=10**9)),
        ),
        ("latency (day, 60 steps)", lambda: asyncio.run(store.latency_distribution(
            LatencyQuery(endpoint)))),
        ("typical trace", lambda: asyncio.run(store.typical_traces(
            TypicalTraceQuery(endpoint)))),
    ]  # fmt: skip
    rows = []
    floor_cpu = 0.0
    for name, work in cases:
        wall, cpu, peak, result = measure(args.rounds, work)
        if name.startswith("floor"):
            floor_cpu = cpu
        detail = ""
        if hasattr(result, "sampled_selected"):
            detail = (
                f"{result.selected:,}/{result.baseline:,} traces, read "
                f"{result.sampled_selected:,}/{result.sampled_baseline:,}; top: "
                + (result.attributes[0].text[:40] if result.attributes else "-")
            )
        rows.append(
            f"| {name} | {wall * 1000:,.0f} | {cpu * 1000:,.0f} | "
            f"{cpu / floor_cpu if floor_cpu else 0:.1f} | {peak:,.0f} | {detail} |"
        )
    print()
    print(f"{loaded:,} spans, {traces:,} traces over 24 h; endpoint: {service} entry spans")
    print("| query | wall ms | cpu ms | x floor | peak RSS growth MiB | answer |")
    print("|---|---:|---:|---:|---:|---|")
    print("\n".join(rows))
    cur.close()
    asyncio.run(store.close())


if __name__ == "__main__":
    main()
