"""Where to optimise: the critical path of many traces, summed per service and operation.

Two steps, so a caller can stream batches of traces through the first and decide later how
to split them (slow ones against the rest): ``path_rows`` reduces a batch of traces to one
row per (trace, operation on its critical path); ``aggregate_rows`` sums such rows.
``aggregate_critical_path(batch)`` does both for one batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from breadcrumbs.analysis.critical_path import Share, walk, walk_lists
from breadcrumbs.analysis.tree import build_tree
from breadcrumbs.model import SpanBatch

PATH_ROWS_SCHEMA: Final = pa.schema(
    [
        pa.field("TraceId", pa.string(), nullable=False),
        pa.field("RootNs", pa.int64(), nullable=False),  # the trace's end-to-end latency
        pa.field("ServiceName", pa.string(), nullable=False),
        pa.field("SpanName", pa.string(), nullable=False),
        pa.field("Ns", pa.int64(), nullable=False),  # on the critical path
        pa.field("UninstrumentedNs", pa.int64(), nullable=False),
    ]
)


@dataclass(frozen=True, slots=True)
class AggregateShare:
    share: Share
    traces: int
    """Traces in which it is on the critical path."""
    mean_ns: int
    """Its critical-path time per analysed trace (all of them, not only where present)."""


@dataclass(frozen=True, slots=True)
class CriticalPathAggregate:
    traces: int
    total_ns: int
    """Sum of the analysed traces' root durations; the shares are of this."""
    by_service: tuple[AggregateShare, ...]
    by_operation: tuple[AggregateShare, ...]


def path_rows(batch: SpanBatch) -> pa.Table:
    """One row per (trace, operation on that trace's critical path): ``PATH_ROWS_SCHEMA``.
    ``batch`` holds whole traces, mixed in any order."""
    if batch.num_rows == 0:
        return PATH_ROWS_SCHEMA.empty_table()
    tree = build_tree(batch)
    roots = tree.main_roots()
    rows: list[int] = []
    lengths: list[int] = []
    gaps: list[int] = []
    traces: list[int] = []
    lists = walk_lists(tree)
    trace_of = tree.trace.tolist()
    for root in roots.tolist():  # per-piece Python: the path's pieces have no columnar form
        trace = trace_of[root]
        for row, start, end, gap in walk(tree, root, lists):
            rows.append(row)
            lengths.append(end - start)
            gaps.append(end - start if gap else 0)
            traces.append(trace)
    row_array = np.asarray(rows, dtype=np.int64)
    trace_array = np.asarray(traces, dtype=np.int64)
    root_ns = np.zeros(len(tree.traces), dtype=np.int64)
    root_ns[tree.trace[roots]] = tree.end[roots] - tree.start[roots]
    pieces = pa.table(
        {
            "trace": trace_array,
            "service": tree.service[row_array],
            "name": tree.name[row_array],
            "ns": np.asarray(lengths, dtype=np.int64),
            "gap": np.asarray(gaps, dtype=np.int64),
        }
    )
    summed = pieces.group_by(["trace", "service", "name"]).aggregate(
        [("ns", "sum"), ("gap", "sum")]
    )
    trace_codes = summed.column("trace").to_numpy()
    return pa.table(
        {
            "TraceId": pa.array(tree.traces, pa.string()).take(summed.column("trace")),
            "RootNs": pa.array(root_ns[trace_codes], pa.int64()),
            "ServiceName": pa.array(tree.services, pa.string()).take(summed.column("service")),
            "SpanName": pa.array(tree.names, pa.string()).take(summed.column("name")),
            "Ns": summed.column("ns_sum").cast(pa.int64()),
            "UninstrumentedNs": summed.column("gap_sum").cast(pa.int64()),
        },
        schema=PATH_ROWS_SCHEMA,
    )


def _grouped(
    rows: pa.Table, keys: list[str], traces: int, total_ns: int
) -> tuple[AggregateShare, ...]:
    summed = rows.group_by(keys).aggregate(
        [("Ns", "sum"), ("UninstrumentedNs", "sum"), ("TraceId", "count_distinct")]
    )
    summed = summed.sort_by([("Ns_sum", "descending"), *((key, "ascending") for key in keys)])
    out = []
    for entry in summed.to_pylist():
        ns = int(entry["Ns_sum"])
        out.append(
            AggregateShare(
                share=Share(
                    service=entry["ServiceName"],
                    name=entry.get("SpanName"),
                    ns=ns,
                    uninstrumented_ns=int(entry["UninstrumentedNs_sum"]),
                    share=ns / total_ns if total_ns > 0 else 0.0,
                ),
                traces=int(entry["TraceId_count_distinct"]),
                mean_ns=ns // traces if traces else 0,
            )
        )
    return tuple(out)


def aggregate_rows(rows: pa.Table) -> CriticalPathAggregate:
    """Sum ``path_rows`` output (of one batch or many concatenated)."""
    per_trace = rows.group_by("TraceId").aggregate([("RootNs", "max")])
    traces = per_trace.num_rows
    total = int(pc.sum(per_trace.column("RootNs_max")).as_py() or 0)
    return CriticalPathAggregate(
        traces=traces,
        total_ns=total,
        by_service=_grouped(rows, ["ServiceName"], traces, total),
        by_operation=_grouped(rows, ["ServiceName", "SpanName"], traces, total),
    )


def aggregate_critical_path(batch: SpanBatch) -> CriticalPathAggregate:
    """Where the critical-path time of the traces in ``batch`` goes, per service and
    operation (``batch`` holds whole traces, mixed)."""
    return aggregate_rows(path_rows(batch))
