"""One trace's spans as index arrays: who is whose parent, when each ran, in which service.

Every analysis of a single trace starts here. The tree is built with whole-column operations
(one ``index_in`` for the parents, one sort for the children), so a 1M-span trace costs a
few hundred milliseconds; the per-span Python loops of the analyses then only visit the few
spans they report on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from breadcrumbs.model import SpanBatch, StatusCode

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

NO_PARENT: Final = -1


def _codes(column: pa.ChunkedArray | pa.Array) -> tuple[IntArray, list[str]]:
    """Dictionary codes of a string column and the distinct values they index."""
    encoded = pc.dictionary_encode(column)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.unify_dictionaries().combine_chunks()
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    return codes, [str(v) for v in encoded.dictionary.to_pylist()]


def _hosts(spans: SpanBatch) -> IntArray:
    """A code per span for the clock that timed it: the host (``host.id``, ``host.name``)
    when the resource says, since every process on a machine reads one clock; otherwise the
    service instance (two replicas may run on two machines), else the service."""
    resources = spans.column("ResourceAttributes")
    machine = pc.coalesce(
        pc.map_lookup(resources, "host.id", "first"),
        pc.map_lookup(resources, "host.name", "first"),
    )
    process = pc.binary_join_element_wise(
        spans.column("ServiceName"),
        pc.fill_null(pc.map_lookup(resources, "service.instance.id", "first"), ""),
        pa.scalar("\x00"),
    )
    label = pc.coalesce(pc.binary_join_element_wise("host\x00", machine, ""), process)
    return _codes(label)[0]


@dataclass(frozen=True, slots=True, eq=False)
class TraceTree:
    """Spans of one trace, or of many traces mixed (rows of ``spans``, same order), as
    parallel arrays. A parent is looked up within the span's own trace."""

    spans: SpanBatch
    trace: IntArray
    traces: list[str]
    span_ids: pa.Array
    parent: IntArray
    """Row of the parent span; ``NO_PARENT`` for a root or when the parent is not stored."""
    parent_missing: BoolArray
    """The span names a parent that is not in the trace (an orphan)."""
    start: IntArray
    end: IntArray
    service: IntArray
    services: list[str]
    name: IntArray
    names: list[str]
    kind: IntArray
    error: BoolArray
    host: IntArray
    children: IntArray
    """Every span with a parent, grouped by parent, each group ordered by end time."""
    child_offsets: IntArray
    """``children[child_offsets[p]:child_offsets[p + 1]]`` are the children of row ``p``."""

    @property
    def size(self) -> int:
        return len(self.span_ids)

    def span_id(self, row: int) -> str:
        return str(self.span_ids[row].as_py())

    def children_of(self, row: int) -> IntArray:
        return self.children[self.child_offsets[row] : self.child_offsets[row + 1]]

    def child_count(self) -> IntArray:
        return np.diff(self.child_offsets)

    def roots(self) -> IntArray:
        """Rows without a stored parent (true roots and orphans), in start order."""
        rows = np.flatnonzero(self.parent == NO_PARENT)
        return rows[np.argsort(self.start[rows], kind="stable")]

    def main_roots(self) -> IntArray:
        """Per trace, the span its latency is measured on: the longest true root, else (the
        real root never arrived) the longest orphan. One row per trace, in trace order."""
        rows = np.flatnonzero(self.parent == NO_PARENT)
        if len(rows) == 0:
            return rows
        # best last: by trace, then true roots over orphans, then duration, then earliest
        order = np.lexsort(
            (
                -self.start[rows],
                self.end[rows] - self.start[rows],
                ~self.parent_missing[rows],
                self.trace[rows],
            )
        )
        rows = rows[order]
        trace = self.trace[rows]
        last_of_trace: BoolArray = np.append(trace[1:] != trace[:-1], True)
        chosen: IntArray = rows[last_of_trace]
        return chosen

    def main_root(self) -> int | None:
        """The main root of a single trace (see ``main_roots``)."""
        roots = self.main_roots()
        return int(roots[0]) if len(roots) else None

    def label(self, row: int) -> tuple[str, str]:
        """(service, span name) of a row."""
        return self.services[self.service[row]], self.names[self.name[row]]

    def ancestors(self, row: int) -> list[int]:
        """The parent chain of a row, nearest first (cycles cut)."""
        chain: list[int] = []
        seen = {row}
        parent = int(self.parent[row])
        while parent != NO_PARENT and parent not in seen:
            chain.append(parent)
            seen.add(parent)
            parent = int(self.parent[parent])
        return chain

    def depths(self) -> IntArray:
        """Depth of every span: 1 for a root, its parent's plus one otherwise (level by
        level, whole arrays at a time; a span inside a parent cycle keeps 0)."""
        depth = np.zeros(self.size, dtype=np.int64)
        level = self.roots()
        current = 1
        while len(level):
            depth[level] = current
            starts, ends = self.child_offsets[level], self.child_offsets[level + 1]
            counts = ends - starts
            if counts.sum() == 0:
                break
            # every child of this level, gathered without a Python loop
            firsts = np.repeat(starts - np.cumsum(counts) + counts, counts)
            level = self.children[firsts + np.arange(counts.sum())]
            level = level[depth[level] == 0]
            current += 1
        return depth


def build_tree(spans: SpanBatch) -> TraceTree:
    """The tree of the spans of one or many traces (any row order; a duplicated span id:
    the first row is the parent its children point to)."""
    count = spans.num_rows
    span_id_column = spans.column("SpanId")
    parent_ids = spans.column("ParentSpanId")
    trace, traces = _codes(spans.column("TraceId"))
    if len(traces) > 1:  # parents are found within their own trace
        trace_ids = spans.column("TraceId")
        own = pc.binary_join_element_wise(trace_ids, span_id_column, "")
        wanted = pc.binary_join_element_wise(trace_ids, parent_ids, "")
    else:
        own, wanted = span_id_column, parent_ids
    if isinstance(own, pa.ChunkedArray):
        own = own.combine_chunks()
    found = pc.index_in(wanted, value_set=own)
    parent = np.asarray(
        pc.fill_null(found, NO_PARENT).to_numpy(zero_copy_only=False), dtype=np.int64
    )
    rows = np.arange(count, dtype=np.int64)
    parent[parent == rows] = NO_PARENT  # a span naming itself as parent is a root
    named = np.asarray(pc.not_equal(parent_ids, "").to_numpy(zero_copy_only=False), dtype=bool)
    parent_missing = named & (parent == NO_PARENT)
    start = np.asarray(spans.column("Timestamp").to_numpy(), dtype=np.int64)
    duration = np.asarray(spans.column("Duration").to_numpy(), dtype=np.int64)
    end = start + np.maximum(duration, 0)
    service, services = _codes(spans.column("ServiceName"))
    name, names = _codes(spans.column("SpanName"))
    has_parent = parent != NO_PARENT
    with_parent = rows[has_parent]
    order = np.lexsort((end[with_parent], parent[with_parent]))
    children = with_parent[order]
    child_offsets = np.searchsorted(parent[children], np.arange(count + 1), side="left").astype(
        np.int64
    )
    return TraceTree(
        spans=spans,
        trace=trace,
        traces=traces,
        span_ids=span_id_column.combine_chunks(),
        parent=parent,
        parent_missing=parent_missing,
        start=start,
        end=end,
        service=service,
        services=services,
        name=name,
        names=names,
        kind=np.asarray(spans.column("SpanKind").to_numpy(), dtype=np.int64),
        error=np.asarray(spans.column("StatusCode").to_numpy(), dtype=np.int64)
        == int(StatusCode.ERROR),
        host=_hosts(spans),
        children=children,
        child_offsets=child_offsets,
    )
