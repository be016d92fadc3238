"""Compare two traces by structure AND latency.

Spans are matched by their *path*: the (service, span name) of every ancestor from the root
down to the span itself, so "the SELECT under delivery-scheduling's POST /schedule" matches
across traces whatever the span ids. Repeated children (retries, loops) are counted per
path. Per path: how many spans each trace has (a path with spans in one trace only is a
structural difference), their summed duration and summed self time (duration minus the
children's, at least 0), and the differences ``a - b``: positive means longer in ``a``.

A trace compared with itself shows no difference. Per-span Python over one trace's few
columns (traces are small; the tree walk has no columnar form).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import pyarrow.compute as pc

from breadcrumbs.model import SpanBatch, StatusCode

Step = tuple[str, str]
"""(service, span name)"""
Path = tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class PathStats:
    """The spans of one trace at one path."""

    count: int = 0
    duration_ns: int = 0
    self_ns: int = 0
    errors: int = 0
    first_offset_ns: int = 0
    """Earliest start of these spans after the trace's start."""


@dataclass(frozen=True, slots=True)
class PathDiff:
    path: Path
    a: PathStats
    b: PathStats

    @property
    def service(self) -> str:
        return self.path[-1][0]

    @property
    def span_name(self) -> str:
        return self.path[-1][1]

    @property
    def depth(self) -> int:
        return len(self.path) - 1

    @property
    def status(self) -> str:
        """``only-a``, ``only-b``, ``count`` (both, a different number of spans) or ``same``."""
        if not self.b.count:
            return "only-a"
        if not self.a.count:
            return "only-b"
        return "count" if self.a.count != self.b.count else "same"

    @property
    def delta_ns(self) -> int:
        return self.a.duration_ns - self.b.duration_ns

    @property
    def self_delta_ns(self) -> int:
        return self.a.self_ns - self.b.self_ns


@dataclass(frozen=True, slots=True)
class TraceShape:
    trace_id: str
    duration_ns: int
    spans: int
    errors: int
    root: Step | None


@dataclass(frozen=True, slots=True)
class TraceComparison:
    a: TraceShape
    b: TraceShape
    paths: tuple[PathDiff, ...]
    """Every path of either trace, depth first (a parent before its children, siblings by
    their first start)."""

    @property
    def delta_ns(self) -> int:
        return self.a.duration_ns - self.b.duration_ns

    @property
    def structural(self) -> tuple[PathDiff, ...]:
        """Paths only in one trace or with different span counts."""
        return tuple(p for p in self.paths if p.status != "same")

    def latency(self, limit: int = 10) -> tuple[PathDiff, ...]:
        """Paths in both traces whose self time differs, most different first."""
        both = [p for p in self.paths if p.a.count and p.b.count and p.self_delta_ns]
        both.sort(key=lambda p: (-abs(p.self_delta_ns), p.path))
        return tuple(both[:limit])

    @property
    def identical(self) -> bool:
        """Same structure and the same time at every path."""
        return not self.structural and all(
            p.delta_ns == 0 and p.self_delta_ns == 0 for p in self.paths
        )


def _paths(spans: SpanBatch) -> tuple[dict[Path, PathStats], TraceShape]:
    """Each path's spans in one trace (a span whose parent is not in the trace is a root)."""
    ids = spans["SpanId"].to_pylist()
    parents = spans["ParentSpanId"].to_pylist()
    steps = list(zip(spans["ServiceName"].to_pylist(), spans["SpanName"].to_pylist(), strict=True))
    starts = spans["Timestamp"].to_pylist()
    durations = spans["Duration"].to_pylist()
    failed = pc.equal(spans["StatusCode"], int(StatusCode.ERROR)).to_pylist()
    index = {span_id: i for i, span_id in enumerate(ids)}
    parent_of = [index.get(p) if p else None for p in parents]
    children_ns = [0] * len(ids)
    for i, parent in enumerate(parent_of):
        if parent is not None and parent != i:
            children_ns[parent] += durations[i]

    paths: list[Path | None] = [None] * len(ids)

    def path_of(i: int) -> Path:
        chain: list[int] = []
        seen: set[int] = set()
        j: int | None = i
        while j is not None and paths[j] is None and j not in seen:  # iterative: deep traces
            seen.add(j)
            chain.append(j)
            j = parent_of[j]
        above: Path = () if j is None or j in seen else paths[j] or ()
        for k in reversed(chain):
            above = (*above, steps[k])
            paths[k] = above
        return paths[i] or ()

    start = min(starts, default=0)
    end = max((s + d for s, d in zip(starts, durations, strict=True)), default=0)
    grouped: dict[Path, list[int]] = defaultdict(list)
    for i in range(len(ids)):
        grouped[path_of(i)].append(i)
    stats = {
        path: PathStats(
            count=len(members),
            duration_ns=sum(durations[i] for i in members),
            self_ns=sum(max(0, durations[i] - children_ns[i]) for i in members),
            errors=sum(bool(failed[i]) for i in members),
            first_offset_ns=min(starts[i] for i in members) - start,
        )
        for path, members in grouped.items()
    }
    roots = [i for i, parent in enumerate(parent_of) if parent is None]
    root = min(roots, key=lambda i: (starts[i], -durations[i]), default=None)
    trace_id = str(spans["TraceId"][0].as_py()) if len(ids) else ""
    shape = TraceShape(
        trace_id,
        end - start,
        len(ids),
        sum(bool(f) for f in failed),
        None if root is None else steps[root],
    )
    return stats, shape


def trace_shape(spans: SpanBatch) -> TraceShape:
    """Duration, span and error counts and the root (service, span name) of one trace."""
    return _paths(spans)[1]


def compare_traces(a: SpanBatch, b: SpanBatch) -> TraceComparison:
    """``a`` against ``b`` (differences are ``a - b``), see the module docstring."""
    a_paths, a_shape = _paths(a)
    b_paths, b_shape = _paths(b)
    empty = PathStats()
    merged = {
        path: PathDiff(path, a_paths.get(path, empty), b_paths.get(path, empty))
        for path in a_paths.keys() | b_paths.keys()
    }
    children: dict[Path, list[PathDiff]] = defaultdict(list)
    for diff in merged.values():
        children[diff.path[:-1]].append(diff)

    def first_start(diff: PathDiff) -> tuple[int, Path]:
        offsets = [s.first_offset_ns for s in (diff.a, diff.b) if s.count]
        return min(offsets), diff.path

    ordered: list[PathDiff] = []
    stack = sorted(children[()], key=first_start, reverse=True)
    while stack:
        diff = stack.pop()
        ordered.append(diff)
        stack.extend(sorted(children[diff.path], key=first_start, reverse=True))
    return TraceComparison(a_shape, b_shape, tuple(ordered))
