"""Cost of adaptive sampling's root throughput stage on the ingest path, per span.

    python bench/root_throughput.py [--spans 100000] [--rounds 20]

Counts a realistic batch (a root in five spans, tracestates at a few probabilities) and,
as the floor measured in the same run, encodes the same batch the way the WAL does before
every ack (Arrow IPC, lz4): the stage's cost as a ratio of that.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import pyarrow as pa

from breadcrumbs.pipeline.root_throughput import RootThroughputStage
from breadcrumbs.pipeline.wal import encode_batch
from breadcrumbs.sampling.adaptive import AdaptiveRates
from wal import realistic_batch

STATES = ["", "ot=th:0", "ot=th:8", "ot=th:e666", "ot=th:fd70a"]


def with_tracestates(batch: pa.Table) -> pa.Table:
    states = pa.array([STATES[i % len(STATES)] for i in range(batch.num_rows)], pa.string())
    return batch.set_column(batch.schema.get_field_index("TraceState"), "TraceState", states)


def best_ns(run: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter_ns()
        run()
        times.append(time.perf_counter_ns() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    batch = with_tracestates(realistic_batch(args.spans, seed=1))
    now = 1_700_000_000_000_000_000 + args.spans * 1_000_000  # the batch's own "now"
    stage = RootThroughputStage(AdaptiveRates(), interval_s=30, max_age_s=10**9)
    count = best_ns(lambda: stage.count(batch, now_ns=now), args.rounds)
    wal = best_ns(lambda: encode_batch(batch, "lz4"), args.rounds)
    print(f"spans per batch      {args.spans:,}")
    print(f"root throughput      {count / args.spans:6.1f} ns/span (median of {args.rounds})")
    print(f"WAL encode (floor)   {wal / args.spans:6.1f} ns/span")
    print(f"ratio                {count / wal:6.2f}x the WAL encode")


if __name__ == "__main__":
    main()
