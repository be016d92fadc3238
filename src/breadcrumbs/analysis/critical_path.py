"""The critical path of a trace: the chain of work that determined its end-to-end latency.

Walk back from the root's end: the last child to finish before the current point is what
the parent was waiting for, so the path goes into that child; when the child's start is
reached, the parent was waiting for whichever child finished before that start, and so on.
Time inside a span that none of its children covers is the span's own; for a span that has
children that time is reported as *uninstrumented* (the span did something nobody traced),
never silently given to the span's operation. Time the parent spent while a concurrent child
ran that did not gate it (it finished later) stays the parent's, not uninstrumented.

Children are clamped to their parent's window for the walk (a child that outlives its
parent, asynchronous work or a skewed clock, only counts while the parent lasts; ``skew``
reports the clocks separately). Spans outside the root's tree (orphans) or entirely outside
their parent's window are not on the path and are counted in ``excluded``.

The walk visits only the spans on the path and the children it passes over (each once), so
it costs O(spans) after the tree's one sort.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Final

import numpy as np
import pyarrow as pa

from breadcrumbs.analysis.tree import NO_PARENT, IntArray, TraceTree
from breadcrumbs.model import SpanKind

_PEER_KEYS: Final = ("peer.service", "server.address", "net.peer.name", "db.system")


@dataclass(frozen=True, slots=True)
class PathSegment:
    """A stretch of the critical path spent in one span (or, when ``uninstrumented``, in a
    gap inside that span no child covers)."""

    span_id: str
    service: str
    name: str
    start_ns: int
    end_ns: int
    uninstrumented: bool
    kind: SpanKind
    peer: str | None = None
    """For a client or producer span with no traced callee: whom it called."""

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


@dataclass(frozen=True, slots=True)
class Share:
    """Time on the critical path of one service (``name`` None) or one operation."""

    service: str
    name: str | None
    ns: int
    uninstrumented_ns: int
    share: float


@dataclass(frozen=True, slots=True)
class CriticalPath:
    root_span_id: str | None
    total_ns: int
    segments: tuple[PathSegment, ...]
    by_service: tuple[Share, ...]
    by_operation: tuple[Share, ...]
    excluded: int
    """Spans with time outside the path's reach: orphans and other roots' trees, children
    that start after their parent ended."""
    late: int = 0
    """Of ``excluded``: spans in the root's tree that started after their parent ended."""


Piece = tuple[int, int, int, bool]
"""(row, start, end, uninstrumented) of a stretch of the path."""


@dataclass(frozen=True, slots=True)
class WalkLists:
    """The tree's arrays as Python lists: the walk takes one element at a time, where a list
    index costs a tenth of a numpy scalar access. Made once per tree (``walk_lists``)."""

    start: list[int]
    end: list[int]
    children: list[int]
    child_ends: list[int]
    """``end`` of each entry of ``children`` (ascending within each parent's group)."""
    offsets: list[int]


def walk_lists(tree: TraceTree) -> WalkLists:
    return WalkLists(
        start=tree.start.tolist(),
        end=tree.end.tolist(),
        children=tree.children.tolist(),
        child_ends=tree.end[tree.children].tolist(),
        offsets=tree.child_offsets.tolist(),
    )


def _has_children_in(lists: WalkLists, row: int, lo: int, hi: int) -> bool:
    """Whether any child of ``row`` has time inside the window [lo, hi)."""
    start, end = lists.start, lists.end
    return any(
        start[kid] < hi and end[kid] > lo
        for kid in lists.children[lists.offsets[row] : lists.offsets[row + 1]]
    )


Coverage = tuple[list[int], list[int]]


def _coverage(lists: WalkLists, row: int) -> Coverage:
    """The union of a span's children's intervals, as sorted disjoint (starts, ends)."""
    start, end = lists.start, lists.end
    kids = sorted(
        lists.children[lists.offsets[row] : lists.offsets[row + 1]], key=start.__getitem__
    )
    starts: list[int] = []
    ends: list[int] = []
    for kid in kids:
        if ends and start[kid] <= ends[-1]:
            ends[-1] = max(ends[-1], end[kid])
        else:
            starts.append(start[kid])
            ends.append(end[kid])
    return starts, ends


def _split_gap(row: int, lo: int, hi: int, coverage: Coverage, out: list[Piece]) -> None:
    """Pieces of the gap [lo, hi) in ``row`` (appended in reverse time order, as the walk
    emits them): where a concurrent child ran, the span's waiting time; elsewhere
    uninstrumented time."""
    starts, ends = coverage
    begin = bisect.bisect_right(ends, lo)
    stop = bisect.bisect_left(starts, hi)
    parts: list[Piece] = []
    cursor = lo
    for index in range(begin, stop):
        covered_lo, covered_hi = max(starts[index], lo), min(ends[index], hi)
        if covered_lo > cursor:
            parts.append((row, cursor, covered_lo, True))
        if covered_hi > covered_lo:
            parts.append((row, covered_lo, covered_hi, False))
        cursor = max(cursor, covered_hi)
    if cursor < hi:
        parts.append((row, cursor, hi, True))
    out.extend(reversed(parts))


def walk(tree: TraceTree, root: int, lists: WalkLists | None = None) -> list[Piece]:
    """The critical path under ``root`` as pieces in time order, covering the root's
    window exactly (pieces never overlap). ``lists``: ``walk_lists(tree)``, when the caller
    walks many roots of one tree."""
    data = lists if lists is not None else walk_lists(tree)
    start, end, children, child_ends, offsets = (
        data.start,
        data.end,
        data.children,
        data.child_ends,
        data.offsets,
    )
    pieces: list[Piece] = []
    coverages: dict[int, Coverage] = {}

    def gap(row: int, lo: int, hi: int) -> None:
        coverage = coverages.get(row)
        if coverage is None:
            coverage = coverages[row] = _coverage(data, row)
        _split_gap(row, lo, hi, coverage, pieces)

    lo, hi = start[root], end[root]
    # frames: [row, window start, window end, cursor, index limit into children, has kids]
    stack: list[list[int]] = [
        [root, lo, hi, hi, offsets[root + 1], int(_has_children_in(data, root, lo, hi))]
    ]
    while stack:
        frame = stack[-1]
        row, window_start, window_end, cursor, limit, has_kids = frame
        first = offsets[row]
        if cursor >= window_end:
            index = limit
        else:  # children whose end is at or before the cursor
            index = bisect.bisect_right(child_ends, cursor, first, limit)
        picked = -1
        index -= 1
        while index >= first:
            child = children[index]
            child_end = min(end[child], window_end)
            if child_end <= window_start:
                break  # every earlier child ended even earlier
            child_start = max(start[child], window_start)
            if child_start < cursor and child_start < child_end:
                picked = child
                break
            index -= 1
        if picked == NO_PARENT:
            if cursor > window_start:
                if has_kids:
                    gap(row, window_start, cursor)
                else:
                    pieces.append((row, window_start, cursor, False))
            stack.pop()
            continue
        child_end = min(end[picked], window_end, cursor)
        child_start = max(start[picked], window_start)
        if child_end < cursor:
            gap(row, child_end, cursor)
        frame[3], frame[4] = child_start, index
        kids = int(_has_children_in(data, picked, child_start, child_end))
        stack.append([picked, child_start, child_end, child_end, offsets[picked + 1], kids])
    pieces.reverse()
    return _merged(pieces)


def _merged(pieces: list[Piece]) -> list[Piece]:
    """Adjacent pieces of one span with one flag as one."""
    out: list[Piece] = []
    for piece in pieces:
        if out and out[-1][0] == piece[0] and out[-1][3] == piece[3] and out[-1][2] == piece[1]:
            out[-1] = (piece[0], out[-1][1], piece[2], piece[3])
        else:
            out.append(piece)
    return out


def self_times(tree: TraceTree) -> IntArray:
    """Each span's own time: its duration minus the union of its children's time inside it
    (children clamped to the span). Whole arrays: one sort, one running max."""
    rows, parents = tree.children, tree.parent[tree.children]
    base = tree.start[parents]
    width = tree.end[parents] - base
    child_start = np.clip(tree.start[rows] - base, 0, width)
    child_end = np.clip(tree.end[rows] - base, 0, width)
    order = np.lexsort((child_start, parents))
    parents, child_start, child_end = parents[order], child_start[order], child_end[order]
    covered = np.zeros(tree.size, dtype=np.int64)
    if len(rows):
        # A running max of ends within each parent's group: offsetting every group by its
        # rank times more than any span's width keeps groups from leaking into each other.
        _, rank = np.unique(parents, return_inverse=True)
        step = int(width.max()) + 1
        if (int(rank.max()) + 1) * step < 2**62:
            keyed = rank * step + child_end
            running = np.maximum.accumulate(keyed)
            before = np.concatenate(([np.int64(-1)], running[:-1])) - rank * step
            gain = np.maximum(0, child_end - np.maximum(child_start, before))
            np.add.at(covered, parents, gain)
        else:  # a trace too long for the offset trick: the same union, group by group
            reach, previous = 0, -1
            for parent, lo, hi in zip(parents, child_start, child_end, strict=True):
                if parent != previous:
                    reach, previous = 0, parent
                covered[parent] += max(0, int(hi) - max(int(lo), reach))
                reach = max(reach, int(hi))
    return (tree.end - tree.start) - covered


def _peers(tree: TraceTree, rows: list[int]) -> dict[int, str]:
    """Whom each client/producer leaf among ``rows`` called (its peer attributes)."""
    wanted = [
        row
        for row in rows
        if tree.kind[row] in (SpanKind.CLIENT, SpanKind.PRODUCER)
        and len(tree.children_of(row)) == 0
    ]
    if not wanted:
        return {}
    attributes = tree.spans.column("SpanAttributes").take(pa.array(wanted, pa.int64()))
    peers: dict[int, str] = {}
    for row, entries in zip(wanted, attributes.to_pylist(), strict=True):
        values = dict(entries)
        peer = next((values[key] for key in _PEER_KEYS if values.get(key)), None)
        if peer is not None:
            peers[row] = str(peer)
    return peers


def _shares(totals: dict[tuple[str, str | None], list[int]], total_ns: int) -> tuple[Share, ...]:
    """Shares of ``total_ns``, biggest first; with no time at all, all of it to the first."""
    items = sorted(totals.items(), key=lambda kv: (-kv[1][0], kv[0][0], kv[0][1] or ""))
    if total_ns <= 0:
        return tuple(
            Share(service, name, ns, gap, 1.0 if i == 0 else 0.0)
            for i, ((service, name), (ns, gap)) in enumerate(items)
        )
    return tuple(
        Share(service, name, ns, gap, ns / total_ns) for (service, name), (ns, gap) in items
    )


def critical_path(tree: TraceTree) -> CriticalPath:
    """The critical path of the trace's main root (see ``TraceTree.main_root``)."""
    root = tree.main_root()
    if root is None:
        return CriticalPath(None, 0, (), (), (), 0)
    pieces = walk(tree, root)
    if not pieces:  # a zero-length root: the root alone
        pieces = [(root, int(tree.start[root]), int(tree.end[root]), False)]
    peers = _peers(tree, [piece[0] for piece in pieces])
    segments = []
    by_service: dict[tuple[str, str | None], list[int]] = {}
    by_operation: dict[tuple[str, str | None], list[int]] = {}
    for row, start, end, gap in pieces:
        service, name = tree.label(row)
        segments.append(
            PathSegment(
                span_id=tree.span_id(row),
                service=service,
                name=name,
                start_ns=start,
                end_ns=end,
                uninstrumented=gap,
                kind=SpanKind(int(tree.kind[row])) if tree.kind[row] in range(6) else SpanKind(0),
                peer=peers.get(row),
            )
        )
        for totals, key in ((by_service, (service, None)), (by_operation, (service, name))):
            entry = totals.setdefault(key, [0, 0])
            entry[0] += end - start
            if gap:
                entry[1] += end - start
    total = int(tree.end[root] - tree.start[root])
    excluded, late = _excluded(tree, root)
    return CriticalPath(
        root_span_id=tree.span_id(root),
        total_ns=total,
        segments=tuple(segments),
        by_service=_shares(by_service, total),
        by_operation=_shares(by_operation, total),
        excluded=excluded,
        late=late,
    )


def _excluded(tree: TraceTree, root: int) -> tuple[int, int]:
    """(spans the path cannot reach: outside the root's tree, or starting after their parent
    ended; of those, the late ones in the root's tree: fire-and-forget work)."""
    # A span is in the root's tree when its top ancestor is the root: pointer jumping,
    # 64 rounds reach any depth (a parent cycle never settles and never reaches the root).
    top = np.where(tree.parent == NO_PARENT, np.arange(tree.size), tree.parent)
    for _ in range(64):
        jumped = top[top]
        if np.array_equal(jumped, top):
            break
        top = jumped
    in_tree = top == root
    late = np.zeros(tree.size, dtype=bool)
    has_parent = tree.parent != NO_PARENT
    late[has_parent] = tree.start[has_parent] >= tree.end[tree.parent[has_parent]]
    return int(np.count_nonzero(~in_tree | late)), int(np.count_nonzero(in_tree & late))
