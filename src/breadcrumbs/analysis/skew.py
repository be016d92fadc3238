"""Clock skew: a child timed by another host's clock that does not fit inside its parent.

A synchronous child cannot start before its parent, nor end after its client span; when it
seems to, the two hosts' clocks disagree. Each case is reported per span with the amount and
nothing is moved (the query layer's adjuster, the critical path's clamping and this report
all keep the raw timestamps). A child on the parent's own host that outlives it is
asynchronous work, not skew; so is a child of a producer span.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import numpy as np

from breadcrumbs.analysis.tree import NO_PARENT, BoolArray, IntArray, TraceTree
from breadcrumbs.model import SpanKind

MAX_REPORTED: Final = 200

SkewIssue = Literal["starts-before-parent", "ends-after-parent"]


@dataclass(frozen=True, slots=True)
class Skew:
    span_id: str
    parent_span_id: str
    issue: SkewIssue
    by_ns: int
    service: str
    parent_service: str


def detect_skew(tree: TraceTree) -> tuple[list[Skew], int]:
    """Skewed spans, the largest first (at most ``MAX_REPORTED``), and how many there are."""
    rows = np.flatnonzero(tree.parent != NO_PARENT)
    parents = tree.parent[rows]
    other_host = tree.host[rows] != tree.host[parents]
    early = tree.start[parents] - tree.start[rows]
    late = tree.end[rows] - tree.end[parents]
    synchronous = tree.kind[parents] == int(SpanKind.CLIENT)
    found: list[tuple[int, int, SkewIssue]] = []
    checks: tuple[tuple[BoolArray, IntArray, SkewIssue], ...] = (
        (other_host & (early > 0), early, "starts-before-parent"),
        (other_host & synchronous & (late > 0), late, "ends-after-parent"),
    )
    for mask, amounts, issue in checks:
        found.extend((int(rows[i]), int(amounts[i]), issue) for i in np.flatnonzero(mask))
    found.sort(key=lambda f: -f[1])
    reported = [
        Skew(
            span_id=tree.span_id(row),
            parent_span_id=tree.span_id(int(tree.parent[row])),
            issue=issue,
            by_ns=amount,
            service=tree.label(row)[0],
            parent_service=tree.label(int(tree.parent[row]))[0],
        )
        for row, amount, issue in found[:MAX_REPORTED]
    ]
    return reported, len(found)
