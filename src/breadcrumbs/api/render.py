"""The JSON shapes of the analyses' answers under ``/api/x/``: one trace explained, the
aggregated critical path, why, latency, compare and the doctor's diagnosis.

The one place that turns ``analysis`` values into JSON (camelCase keys, times in ns), so the
endpoints that share a shape (``why`` embeds the aggregated critical path) render it alike.
"""

from __future__ import annotations

from typing import Any

from breadcrumbs.analysis.aggregate import CriticalPathAggregate
from breadcrumbs.analysis.compare import PathDiff, PathStats, TraceComparison, TraceShape
from breadcrumbs.analysis.critical_path import CriticalPath, Share
from breadcrumbs.analysis.doctor import Finding
from breadcrumbs.analysis.errors import ErrorAnalysis
from breadcrumbs.analysis.explain import TraceExplanation
from breadcrumbs.analysis.summary import Summary
from breadcrumbs.analysis.why import AttributeFinding, OperationFinding, Proportions, WhyReport
from breadcrumbs.query.doctor import Diagnosis
from breadcrumbs.store.base import Endpoint, LatencyDistribution, LatencyQuery, TraceSelection


def _summary(summary: Summary) -> dict[str, Any]:
    root = summary.root
    return {
        "spanCount": summary.span_count,
        "startNs": summary.start_ns,
        "durationNs": summary.duration_ns,
        "depth": summary.depth,
        "maxFanOut": summary.max_fan_out,
        "errorCount": summary.error_count,
        "rootCount": summary.root_count,
        "orphanCount": summary.orphan_count,
        "root": None
        if root is None
        else {"spanId": root.span_id, "service": root.service, "name": root.name},
        "services": [
            {"name": s.name, "spans": s.spans, "errors": s.errors} for s in summary.services
        ],
    }


def share_json(share: Share) -> dict[str, Any]:
    out: dict[str, Any] = {"service": share.service}
    if share.name is not None:
        out["name"] = share.name
    out.update(ns=share.ns, uninstrumentedNs=share.uninstrumented_ns, share=share.share)
    return out


def _critical_path(path: CriticalPath) -> dict[str, Any]:
    return {
        "rootSpanId": path.root_span_id,
        "totalNs": path.total_ns,
        "excludedSpans": path.excluded,
        "lateSpans": path.late,
        "segments": [
            {
                "spanId": s.span_id,
                "service": s.service,
                "name": s.name,
                "startNs": s.start_ns,
                "endNs": s.end_ns,
                "uninstrumented": s.uninstrumented,
                "kind": s.kind.label,
                "peer": s.peer,
            }
            for s in path.segments
        ],
        "byService": [share_json(s) for s in path.by_service],
        "byOperation": [share_json(s) for s in path.by_operation],
    }


def _errors(errors: ErrorAnalysis) -> dict[str, Any]:
    return {
        "originCount": errors.origins_total,
        "origins": [
            {
                "spanId": o.span_id,
                "service": o.service,
                "name": o.name,
                "startNs": o.start_ns,
                "exceptionType": o.exception_type,
                "message": o.message,
                "frame": o.frame,
                "stacktrace": o.stacktrace,
                "statusMessage": o.status_message,
                "chain": list(o.chain),
                "chainSpans": [
                    {
                        "spanId": c.span_id,
                        "service": c.service,
                        "name": c.name,
                        "error": c.error,
                        "statusMessage": c.status_message,
                        "statusCode": c.status_code,
                    }
                    for c in o.chain_spans
                ],
                "propagated": o.propagated,
                "handledBy": o.handled_by,
            }
            for o in errors.origins
        ],
        "handled": [
            {
                "spanId": h.span_id,
                "handledBy": h.handled_by,
                "service": h.service,
                "name": h.name,
                "handledByService": h.handled_by_service,
                "handledByName": h.handled_by_name,
            }
            for h in errors.handled
        ],
        "retries": [
            {
                "parentSpanId": r.parent_span_id,
                "parentService": r.parent_service,
                "parentName": r.parent_name,
                "service": r.service,
                "name": r.name,
                "attempts": r.attempts,
                "failed": r.failed,
                "spanIds": list(r.span_ids),
            }
            for r in errors.retries
        ],
    }


def explanation_json(explained: TraceExplanation) -> dict[str, Any]:
    return {
        "traceId": explained.trace_id,
        "summary": _summary(explained.summary),
        "criticalPath": _critical_path(explained.critical_path),
        "errors": _errors(explained.errors),
        "skew": [
            {
                "spanId": s.span_id,
                "parentSpanId": s.parent_span_id,
                "issue": s.issue,
                "byNs": s.by_ns,
                "service": s.service,
                "parentService": s.parent_service,
            }
            for s in explained.skew
        ],
        "skewCount": explained.skew_total,
        "warnings": list(explained.warnings),
    }


def aggregate_json(aggregate: CriticalPathAggregate) -> dict[str, Any]:
    return {
        "traces": aggregate.traces,
        "totalNs": aggregate.total_ns,
        "byService": [
            {**share_json(s.share), "traces": s.traces, "meanNs": s.mean_ns}
            for s in aggregate.by_service
        ],
        "byOperation": [
            {**share_json(s.share), "traces": s.traces, "meanNs": s.mean_ns}
            for s in aggregate.by_operation
        ],
    }


def _endpoint(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "service": endpoint.service,
        "operation": endpoint.operation,
        "startNs": endpoint.start_ns,
        "endNs": endpoint.end_ns,
    }


def _side(count: int, share: float) -> dict[str, Any]:
    return {"count": count, "share": round(share, 4)}


def _counts(c: Proportions) -> dict[str, Any]:
    return {
        "selected": _side(c.selected, c.selected_share),
        "baseline": _side(c.baseline, c.baseline_share),
        "difference": round(c.difference, 4),
        "z": round(c.z, 2),
    }


def _attribute(f: AttributeFinding) -> dict[str, Any]:
    return {
        "scope": f.scope,
        "key": f.key,
        "operator": f.operator,
        "value": f.value,
        "text": f.text,
        "aliases": list(f.aliases),
        "sources": [{"service": s.service, "spanName": s.span_name} for s in f.sources],
        **_counts(f.counts),
    }


def _operation(f: OperationFinding) -> dict[str, Any]:
    return {"service": f.service, "spanName": f.span_name, **_counts(f.counts)}


def _selection(selection: TraceSelection, report: WhyReport) -> dict[str, Any]:
    if selection.errors:
        kind = "errors"
    elif selection.percentile is not None:
        kind = "percentile"
    elif selection.faster_than_ns is not None:
        kind = "band"
    else:
        kind = "slowerThan"
    return {
        "kind": kind,
        "percentile": selection.percentile,
        "thresholdNs": report.threshold_ns,
        "upperNs": selection.faster_than_ns if kind == "band" else None,
    }


def why_json(selection: TraceSelection, report: WhyReport) -> dict[str, Any]:
    return {
        "endpoint": _endpoint(selection.endpoint),
        "selection": _selection(selection, report),
        "traces": {
            "selected": report.selected,
            "baseline": report.baseline,
            "sampledSelected": report.sampled_selected,
            "sampledBaseline": report.sampled_baseline,
        },
        "attributes": [_attribute(f) for f in report.attributes],
        "rarerAttributes": [_attribute(f) for f in report.rarer_attributes],
        "operations": [_operation(f) for f in report.operations],
        "missingOperations": [_operation(f) for f in report.missing_operations],
        "time": [
            {
                "service": f.service,
                "spanName": f.span_name,
                "selectedSelfNs": round(f.selected_self_ns),
                "baselineSelfNs": round(f.baseline_self_ns),
                "selectedNs": round(f.selected_ns),
                "baselineNs": round(f.baseline_ns),
                "addedSelfNs": round(f.added_self_ns),
                "share": round(f.share, 4),
            }
            for f in report.time
        ],
        "examples": list(report.examples),
        "criticalPath": None,  # filled by the endpoint: where the slow traces' time goes
        "droppedKeys": [
            {
                "scope": k.scope,
                "service": k.service,
                "spanName": k.span_name,
                "key": k.key,
                "distinctValues": k.distinct_values,
            }
            for k in report.dropped_keys
        ],
    }


def latency_json(query: LatencyQuery, found: LatencyDistribution) -> dict[str, Any]:
    per = query.buckets_per_doubling

    def bounds(bucket: int) -> dict[str, int]:
        return {"lowNs": round(2 ** (bucket / per)), "highNs": round(2 ** ((bucket + 1) / per))}

    histogram: dict[int, list[int]] = {}
    for cell in found.cells:
        totals = histogram.setdefault(cell.bucket, [0, 0])
        totals[0] += cell.count
        totals[1] += cell.errors
    return {
        "endpoint": _endpoint(query.endpoint),
        "count": found.count,
        "errors": found.errors,
        "minNs": found.min_ns,
        "maxNs": found.max_ns,
        "percentilesNs": {f"p{p}": ns for p, ns in found.percentiles_ns.items()},
        "bucketsPerDoubling": per,
        "startNs": found.start_ns,
        "stepNs": found.step_ns,
        "histogram": [
            {"bucket": b, **bounds(b), "count": n, "errors": e}
            for b, (n, e) in sorted(histogram.items())
        ],
        "heatmap": [
            {
                "step": c.step,
                "startNs": found.start_ns + c.step * found.step_ns,
                "bucket": c.bucket,
                **bounds(c.bucket),
                "count": c.count,
                "errors": c.errors,
            }
            for c in found.cells
        ],
    }


def _shape(shape: TraceShape) -> dict[str, Any]:
    root = None if shape.root is None else {"service": shape.root[0], "spanName": shape.root[1]}
    return {
        "traceId": shape.trace_id,
        "durationNs": shape.duration_ns,
        "spans": shape.spans,
        "errors": shape.errors,
        "root": root,
    }


def _stats(stats: PathStats) -> dict[str, int]:
    return {
        "count": stats.count,
        "durationNs": stats.duration_ns,
        "selfNs": stats.self_ns,
        "errors": stats.errors,
    }


def _path(diff: PathDiff) -> dict[str, Any]:
    return {
        "path": [{"service": s, "spanName": n} for s, n in diff.path],
        "depth": diff.depth,
        "service": diff.service,
        "spanName": diff.span_name,
        "status": diff.status,
        "a": _stats(diff.a),
        "b": _stats(diff.b),
        "deltaNs": diff.delta_ns,
        "selfDeltaNs": diff.self_delta_ns,
    }


def compare_json(comparison: TraceComparison, baseline: str) -> dict[str, Any]:
    return {
        "a": _shape(comparison.a),
        "b": _shape(comparison.b),
        "baseline": baseline,
        "deltaNs": comparison.delta_ns,
        "identical": comparison.identical,
        "structural": [_path(p) for p in comparison.structural],
        "latency": [_path(p) for p in comparison.latency()],
        "paths": [_path(p) for p in comparison.paths],
    }


def finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "check": finding.check,
        "family": finding.family,
        "severity": finding.severity.label,
        "title": finding.title,
        "detail": finding.detail,
        "fix": finding.fix,
        "count": finding.count,
        "total": finding.total,
        "unit": finding.unit,
        "examples": [
            {"traceId": e.trace_id, "service": e.service, "spanName": e.span_name}
            for e in finding.examples
        ],
    }


def diagnosis_json(diagnosis: Diagnosis) -> dict[str, Any]:
    window = diagnosis.window
    return {
        "startNs": window.start_ns,
        "endNs": window.end_ns,
        "findings": [finding_json(f) for f in diagnosis.findings],
        "scope": {
            "spans": diagnosis.spans,
            "marginNs": window.margin_ns,
            "settleNs": window.settle_ns,
            "maxRows": window.max_rows,
            "truncated": sorted(diagnosis.truncated),
            "attributeTraces": diagnosis.attribute_traces,
            "note": "aggregates over every span starting in the window; attributes over "
            "about 1 in attributeTraces traces (by trace id); parents and children looked "
            "for up to marginNs outside it; spans of the last settleNs not judged for "
            "missing relatives; each read keeps its maxRows largest groups",
        },
    }
