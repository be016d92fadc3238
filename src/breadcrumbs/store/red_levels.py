"""Which kept RED rows a query adds up: the plan both engines turn into their own SQL.

Disjoint steps read every level at once: a row is used when it lies inside one step and the
row of the next coarser level holding it does not, so each instant of a step is counted once,
from the coarsest level that fits (a day's totals read 1 h rows in the middle and finer rows
only at its ragged ends). Sliding windows read the coarsest level that divides the step, the
window and the start.
"""

from __future__ import annotations

from dataclasses import dataclass

from breadcrumbs.analysis.red import LEVELS_NS, MINUTE_NS
from breadcrumbs.store.base import RedQuery


@dataclass(frozen=True, slots=True)
class RedSteps:
    """A query's steps: ``steps`` of ``step`` ns from ``start`` (the query's start on a
    minute), each summing the ``window`` ns that end with it."""

    start: int
    step: int
    window: int
    steps: int

    @classmethod
    def of(cls, query: RedQuery) -> RedSteps:
        start = query.start_ns - query.start_ns % MINUTE_NS
        step = query.step_ns
        window = query.window_ns if query.window_ns is not None else step
        return cls(start, step, window, max(1, -(-(query.end_ns - start) // step)))

    @property
    def stop(self) -> int:
        return self.start + self.steps * self.step

    @property
    def sliding(self) -> bool:
        return self.window != self.step


@dataclass(frozen=True, slots=True)
class LevelScan:
    """Rows of ``level`` with ``lo <= Time < hi``; unless ``aligned``, only those inside one
    step; with a ``parent``, only those whose parent-level row does not fit a step (the
    parent's rows count those instants)."""

    level: int
    lo: int
    hi: int
    aligned: bool
    parent: int | None


def disjoint_scans(steps: RedSteps) -> list[LevelScan]:
    """The scans of disjoint steps, finest level first."""
    start, step = steps.start, steps.step
    scans: list[LevelScan] = []
    for i, level in enumerate(LEVELS_NS):
        coarser = [c for c in LEVELS_NS[i + 1 :] if c <= step]
        if level > step or any(start % c == 0 and step % c == 0 for c in coarser):
            continue  # no row fits a step, or a coarser level holds every instant
        aligned = start % level == 0 and step % level == 0  # then every row fits a step
        parent = coarser[0] if coarser else None
        for lo, hi in _ranges(start, steps.stop, steps.steps, parent):
            scans.append(LevelScan(level, lo, hi, aligned, parent))
    return scans


def _ranges(start: int, stop: int, steps: int, parent: int | None) -> list[tuple[int, int]]:
    """Where a level's rows may be used: everywhere, or for one step (a range's totals) only
    at its ragged ends, which the ``parent`` level's rows do not cover."""
    if parent is None or steps > 1:
        return [(start, stop)]
    inner_start = -(-start // parent) * parent
    inner_stop = stop - stop % parent
    if inner_start >= inner_stop:
        return [(start, stop)]
    return [(a, b) for a, b in ((start, inner_start), (inner_stop, stop)) if a < b]


def sliding_level(steps: RedSteps) -> int:
    """The coarsest level whose rows each fall wholly inside every window that holds them."""
    return max(
        level
        for level in LEVELS_NS
        if steps.start % level == 0 and steps.step % level == 0 and steps.window % level == 0
    )
