"""Everything a person wants to know about one trace, from its spans: the summary, the
critical path, where errors started and how they travelled, and which clocks disagree."""

from __future__ import annotations

from dataclasses import dataclass

from breadcrumbs.analysis.critical_path import CriticalPath, critical_path
from breadcrumbs.analysis.errors import MAX_ORIGINS, ErrorAnalysis, analyse_errors
from breadcrumbs.analysis.skew import MAX_REPORTED, Skew, detect_skew
from breadcrumbs.analysis.summary import Summary, summarise
from breadcrumbs.analysis.tree import build_tree
from breadcrumbs.model import SpanBatch


@dataclass(frozen=True, slots=True)
class TraceExplanation:
    trace_id: str
    summary: Summary
    critical_path: CriticalPath
    errors: ErrorAnalysis
    skew: tuple[Skew, ...]
    skew_total: int
    warnings: tuple[str, ...]


def _warnings(
    summary: Summary, path: CriticalPath, errors: ErrorAnalysis, skew_total: int
) -> list[str]:
    warnings = []
    if summary.orphan_count:
        warnings.append(
            f"{summary.orphan_count} span(s) name a parent that was never received (lost "
            "spans or broken context propagation); they and their children are not on the "
            "critical path"
        )
    elif summary.root_count > 1:
        warnings.append(
            f"{summary.root_count} roots: the critical path follows the longest one only"
        )
    if path.late:
        warnings.append(
            f"{path.late} span(s) started after their parent ended (asynchronous work); "
            "they are not on the critical path"
        )
    if skew_total:
        warnings.append(
            f"{skew_total} span(s) do not fit in their parent by another host's clock; the "
            "critical path clamps them to the parent, timestamps are shown as received"
        )
    if errors.origins_total > MAX_ORIGINS:
        warnings.append(
            f"{errors.origins_total} error origins; the first {MAX_ORIGINS} are described"
        )
    if skew_total > MAX_REPORTED:
        warnings.append(f"{skew_total} skewed spans; the largest {MAX_REPORTED} are listed")
    return warnings


def explain_trace(spans: SpanBatch) -> TraceExplanation:
    """Analyse one trace (all its spans, any order)."""
    tree = build_tree(spans)
    summary = summarise(tree)
    path = critical_path(tree)
    errors = analyse_errors(tree)
    skew, skew_total = detect_skew(tree)
    return TraceExplanation(
        trace_id=tree.traces[0] if tree.traces else "",
        summary=summary,
        critical_path=path,
        errors=errors,
        skew=tuple(skew),
        skew_total=skew_total,
        warnings=tuple(_warnings(summary, path, errors, skew_total)),
    )
