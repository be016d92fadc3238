"""The doctor's vocabulary: the evidence every check reads and the findings it returns.

A check is one function of one shape, ``check(evidence) -> list[Finding]`` (like the
Collector's tail-sampling policies), registered in ``registry.CHECKS``. Evidence is the
store's aggregates over one time range (``store.base.DoctorWindow``): rows, never raw spans,
so a check costs the same over a minute or a day.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, TypeAlias

import pyarrow as pa

from breadcrumbs.model import SpanKind

Row: TypeAlias = Mapping[str, Any]


class Severity(IntEnum):
    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Example:
    """Where to look: a trace, and the span in it that shows the mistake."""

    trace_id: str
    service: str = ""
    span_name: str = ""


@dataclass(frozen=True, slots=True)
class Finding:
    """One mistake: what, how much of it (``count`` of ``total`` ``unit``), where, the fix."""

    check: str
    severity: Severity
    title: str
    detail: str
    fix: str
    count: int
    unit: str
    total: int | None = None
    examples: tuple[Example, ...] = ()

    @property
    def family(self) -> str:
        return self.check.split(".", 1)[0]


@dataclass(frozen=True, slots=True)
class Evidence:
    """The store's answers for one window (``store.base.SpanReader``'s doctor reads), as rows.

    ``value_limit``: the attribute value length the receivers truncate at.
    """

    start_ns: int
    end_ns: int
    operations: tuple[Row, ...] = ()
    parents: tuple[Row, ...] = ()
    calls: tuple[Row, ...] = ()
    roots: tuple[Row, ...] = ()
    attributes: tuple[Row, ...] = ()
    value_limit: int = 16_384
    truncated: frozenset[str] = field(default_factory=frozenset)
    """Names of the reads that hit their row bound (their tail is not seen)."""
    attribute_traces: int = 1
    """``attributes`` covers about 1 in this many traces."""

    @classmethod
    def from_tables(
        cls,
        start_ns: int,
        end_ns: int,
        tables: Mapping[str, pa.Table],
        *,
        value_limit: int,
        max_rows: int,
        attribute_traces: int = 1,
    ) -> Evidence:
        rows = {name: tuple(table.to_pylist()) for name, table in tables.items()}
        full = frozenset(name for name, table in tables.items() if table.num_rows >= max_rows)
        return cls(
            start_ns,
            end_ns,
            value_limit=value_limit,
            truncated=full,
            attribute_traces=attribute_traces,
            **rows,
        )

    def instrumented_services(self) -> frozenset[str]:
        return frozenset(str(row["ServiceName"]) for row in self.operations)

    def spans(self) -> int:
        return sum(int(row["Spans"]) for row in self.operations)


Check: TypeAlias = Callable[[Evidence], list[Finding]]


def kind(row: Row) -> SpanKind:
    return SpanKind(int(row["SpanKind"]))


def share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def percent(part: int, whole: int) -> str:
    value = 100 * share(part, whole)
    return f"{value:.0f}%" if value >= 1 or value == 0 else f"{value:.1g}%"


def quoted(names: Sequence[str], limit: int = 3) -> str:
    """``'a', 'b', 'c'`` and how many more."""
    shown = ", ".join(f"'{name}'" for name in names[:limit])
    more = len(names) - limit
    return shown + (f" and {more} more" if more > 0 else "")
