"""What is different about the selected traces (slow or failing) from the others of the same
endpoint: a BubbleUp over the store's per-side counts (``store.base.SelectionCounts``).

Three rankings, each with counts and shares on both sides:

- attribute values (span and resource) found in any span of the traces, over-represented in
  the selection; numeric keys also as a range (``order.item_count >= 5``), the cut that best
  separates the sides; one value seen with the same counts in several services is one
  finding with several sources;
- operations (service + span name) present in more (or fewer) selected traces;
- operations whose self time per trace grew the most (where the extra time is spent).

A finding must clear a significance guard: at least ``min_count`` selected traces and a
two-proportion z score of ``min_z`` (a handful of traces cannot produce a confident 100%).

Failing traces are selected by how their spans ended, so the keys that record it
(``OUTCOME_KEYS``) separate the sides perfectly and explain nothing: for such a selection
they rank after the findings that separate the sides clearly (``CLEAR_DIFFERENCE``) and
before the weaker ones, so they stay in view (where they were set locates the failure).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from breadcrumbs.store.base import AttributeCount, DroppedKey, OperationCount, SelectionCounts

MIN_COUNT = 3
MIN_Z = 2.5
OUTCOME_KEYS = frozenset(
    {"error.type", "http.response.status_code", "http.status_code", "rpc.grpc.status_code"}
)
"""Attribute keys recording how a span ended (OpenTelemetry semantic conventions; the second
http key is the older name)."""
CLEAR_DIFFERENCE = 0.5
"""Findings of a failing selection ranked above ``OUTCOME_KEYS``: at least this difference of
shares (the weaker ones, often one customer's id, come after them)."""


@dataclass(frozen=True, slots=True)
class Source:
    """Where a value was seen: a service and span name ("" for resource attributes)."""

    service: str
    span_name: str


@dataclass(frozen=True, slots=True)
class Proportions:
    """Traces with the thing on each side, of ``*_total`` traces (the sampled sides)."""

    selected: int
    baseline: int
    selected_total: int
    baseline_total: int

    @property
    def selected_share(self) -> float:
        return min(1.0, self.selected / self.selected_total) if self.selected_total else 0.0

    @property
    def baseline_share(self) -> float:
        return min(1.0, self.baseline / self.baseline_total) if self.baseline_total else 0.0

    @property
    def difference(self) -> float:
        """Selected share minus baseline share, in [-1, 1]."""
        return self.selected_share - self.baseline_share

    @property
    def z(self) -> float:
        """Two-proportion z score (pooled); 0 when a side is empty or nothing varies."""
        n1, n2 = self.selected_total, self.baseline_total
        if not n1 or not n2:
            return 0.0
        pooled = min(1.0, (self.selected + self.baseline) / (n1 + n2))
        spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        if spread == 0:
            return 0.0
        return self.difference / spread

    def significant(self, min_count: int = MIN_COUNT, min_z: float = MIN_Z) -> bool:
        larger = self.selected if self.difference > 0 else self.baseline
        return larger >= min_count and abs(self.z) >= min_z


@dataclass(frozen=True, slots=True)
class AttributeFinding:
    """``key`` ``operator`` ``value`` (operator ``=``, ``>=`` or ``<``) in any span of the
    traces (``scope``: span or resource attributes), from ``sources``."""

    scope: str
    key: str
    operator: str
    value: str
    counts: Proportions
    sources: tuple[Source, ...]
    aliases: tuple[str, ...] = ()
    """Other keys with the same value in the same spans (``db.query.text``)."""

    @property
    def text(self) -> str:
        return f"{self.key} {self.operator} {self.value}"


@dataclass(frozen=True, slots=True)
class OperationFinding:
    """Traces with at least one span of (service, span name)."""

    service: str
    span_name: str
    counts: Proportions


@dataclass(frozen=True, slots=True)
class TimeFinding:
    """Mean time per trace in one operation's spans, on each side: self time (its own,
    children excluded) and total duration. ``added_self_ns`` is the difference of the means;
    ``share`` its part of all operations' positive differences."""

    service: str
    span_name: str
    selected_self_ns: float
    baseline_self_ns: float
    selected_ns: float
    baseline_ns: float
    added_self_ns: float
    share: float


@dataclass(frozen=True, slots=True)
class WhyReport:
    threshold_ns: int | None
    selected: int
    baseline: int
    sampled_selected: int
    sampled_baseline: int
    attributes: tuple[AttributeFinding, ...] = ()
    """Over-represented in the selection, most different first."""
    rarer_attributes: tuple[AttributeFinding, ...] = ()
    """Under-represented in the selection (more common in the baseline), most different first."""
    operations: tuple[OperationFinding, ...] = ()
    """Present in more selected traces than baseline ones, most different first."""
    missing_operations: tuple[OperationFinding, ...] = ()
    """Present in fewer selected traces, most different first."""
    time: tuple[TimeFinding, ...] = ()
    """Operations whose self time per trace grew, most first."""
    dropped_keys: tuple[DroppedKey, ...] = field(default=())
    examples: tuple[str, ...] = ()
    """Selected trace ids to open next (newest first)."""


# --- attributes ------------------------------------------------------------------------------

_Group = tuple[str, str, str, str]  # scope, service, span name, key


def _format_number(number: float) -> str:
    return str(int(number)) if number.is_integer() and abs(number) < 1e15 else f"{number:g}"


def _best_cut(
    rows: Sequence[AttributeCount], totals: tuple[int, int]
) -> tuple[str, float, Proportions] | None:
    """The numeric cut (``>= x`` or ``< x``) whose two sides differ most: (operator, x,
    counts). A trace with several values may count on both sides of a cut (shares capped)."""
    ordered = sorted(rows, key=lambda r: r.low if r.low is not None else 0.0)
    if len(ordered) < 2:
        return None
    total_s = sum(r.selected for r in ordered)
    total_b = sum(r.baseline for r in ordered)
    best: tuple[str, float, Proportions] | None = None
    below_s = below_b = 0
    for i in range(1, len(ordered)):
        below_s += ordered[i - 1].selected
        below_b += ordered[i - 1].baseline
        cut = ordered[i].low
        if cut is None or cut == ordered[i - 1].low:
            continue
        for operator, s, b in (
            (">=", total_s - below_s, total_b - below_b),
            ("<", below_s, below_b),
        ):
            counts = Proportions(s, b, *totals)
            if best is None or counts.difference > best[2].difference:
                best = (operator, cut, counts)
    return best


def _attribute_findings(
    rows: Iterable[AttributeCount], totals: tuple[int, int]
) -> list[AttributeFinding]:
    """Every candidate (value or numeric cut) per key and source, before merging."""
    groups: dict[_Group, list[AttributeCount]] = defaultdict(list)
    for row in rows:
        groups[(row.scope, row.service, row.span_name, row.key)].append(row)
    found: list[AttributeFinding] = []
    for (scope, service, span_name, key), members in groups.items():
        source = (Source(service, span_name),)
        singles = [
            AttributeFinding(
                scope, key, "=", row.value, Proportions(row.selected, row.baseline, *totals), source
            )
            for row in members
        ]
        numeric = [row for row in members if row.low is not None]
        cut = _best_cut(numeric, totals) if len(numeric) == len(members) else None
        if cut is not None:
            operator, at, counts = cut
            best_single = max(abs(s.counts.difference) for s in singles)
            if abs(counts.difference) >= best_single:
                # The range says it better than any of its values: it replaces them.
                found.append(
                    AttributeFinding(scope, key, operator, _format_number(at), counts, source)
                )
                continue
        found.extend(singles)
    return found


def _merged(findings: Iterable[AttributeFinding]) -> list[AttributeFinding]:
    """One finding per fact: the same key and value seen in several spans (the strongest
    counts kept, every source listed); then the same value under several keys with the same
    counts and sources (``db.statement`` and ``db.query.text``) as one, the others aliases."""
    by_value: dict[tuple[str, str, str, str], AttributeFinding] = {}
    for finding in findings:
        ident = (finding.scope, finding.key, finding.operator, finding.value)
        known = by_value.get(ident)
        if known is None:
            by_value[ident] = finding
            continue
        stronger = max(known, finding, key=lambda f: (abs(f.counts.difference), f.counts.selected))
        sources = tuple(sorted({*known.sources, *finding.sources}, key=_source_order))
        by_value[ident] = replace(stronger, sources=sources)
    by_fact: dict[tuple[object, ...], AttributeFinding] = {}
    for finding in sorted(by_value.values(), key=lambda f: f.key):
        c = finding.counts
        fact = (
            finding.scope,
            finding.operator,
            finding.value,
            c.selected,
            c.baseline,
            finding.sources,
        )
        known = by_fact.get(fact)
        by_fact[fact] = (
            finding if known is None else replace(known, aliases=(*known.aliases, finding.key))
        )
    return list(by_fact.values())


def _source_order(source: Source) -> tuple[str, str]:
    return source.service, source.span_name


def _ranked(
    findings: Iterable[AttributeFinding], limit: int, *, outcome_last: bool = False
) -> tuple[AttributeFinding, ...]:
    def key(f: AttributeFinding) -> tuple[int, float, float, str, str]:
        group = 0
        if outcome_last:
            if not OUTCOME_KEYS.isdisjoint((f.key, *f.aliases)):
                group = 1
            elif abs(f.counts.difference) < CLEAR_DIFFERENCE:
                group = 2
        return (group, -abs(f.counts.difference), -abs(f.counts.z), f.key, f.value)

    return tuple(sorted(findings, key=key)[:limit])


# --- operations ------------------------------------------------------------------------------


def _time_findings(
    operations: Sequence[OperationCount], totals: tuple[int, int], limit: int
) -> tuple[TimeFinding, ...]:
    n_s, n_b = totals
    if not n_s or not n_b:
        return ()
    grown: list[TimeFinding] = []
    for op in operations:
        selected_self, baseline_self = op.selected_self_ns / n_s, op.baseline_self_ns / n_b
        added = selected_self - baseline_self
        if added > 0:
            grown.append(
                TimeFinding(
                    op.service,
                    op.span_name,
                    selected_self,
                    baseline_self,
                    op.selected_ns / n_s,
                    op.baseline_ns / n_b,
                    added,
                    0.0,
                )
            )
    total = sum(f.added_self_ns for f in grown)
    grown.sort(key=lambda f: (-f.added_self_ns, f.service, f.span_name))
    return tuple(
        TimeFinding(
            f.service,
            f.span_name,
            f.selected_self_ns,
            f.baseline_self_ns,
            f.selected_ns,
            f.baseline_ns,
            f.added_self_ns,
            f.added_self_ns / total if total else 0.0,
        )
        for f in grown[:limit]
    )


def explain_selection(
    counts: SelectionCounts,
    *,
    limit: int = 15,
    min_count: int = MIN_COUNT,
    min_z: float = MIN_Z,
    outcome_last: bool = False,
) -> WhyReport:
    """Rank what sets the selection apart from its baseline (see the module docstring);
    ``outcome_last`` for a selection of failing traces."""
    totals = (counts.sampled_selected, counts.sampled_baseline)

    def keep(c: Proportions) -> bool:
        return c.significant(min_count, min_z)

    attributes = _merged(_attribute_findings(counts.attributes, totals))
    operations = [
        OperationFinding(
            op.service, op.span_name, Proportions(op.selected_traces, op.baseline_traces, *totals)
        )
        for op in counts.operations
    ]

    def op_key(f: OperationFinding) -> tuple[float, str, str]:
        return (-abs(f.counts.difference), f.service, f.span_name)

    return WhyReport(
        threshold_ns=counts.threshold_ns,
        selected=counts.selected,
        baseline=counts.baseline,
        sampled_selected=counts.sampled_selected,
        sampled_baseline=counts.sampled_baseline,
        attributes=_ranked(
            (f for f in attributes if f.counts.difference > 0 and keep(f.counts)),
            limit,
            outcome_last=outcome_last,
        ),
        rarer_attributes=_ranked(
            (f for f in attributes if f.counts.difference < 0 and keep(f.counts)),
            limit,
            outcome_last=outcome_last,
        ),
        operations=tuple(
            sorted(
                (f for f in operations if f.counts.difference > 0 and keep(f.counts)), key=op_key
            )[:limit]
        ),
        missing_operations=tuple(
            sorted(
                (f for f in operations if f.counts.difference < 0 and keep(f.counts)), key=op_key
            )[:limit]
        ),
        time=_time_findings(counts.operations, totals, limit),
        dropped_keys=counts.dropped_keys,
        examples=counts.examples,
    )
