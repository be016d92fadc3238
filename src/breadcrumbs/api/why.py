"""Analysis over many traces under ``/api/x/``: ``why`` (what is different about the slow or
failing traces of an endpoint), ``latency`` (histogram and time x duration heatmap) and
``compare`` (two traces, or one against its endpoint's typical trace).

Parameters are parsed by ``query.analysis_params``; the store counts, ``analysis`` ranks and
compares; this module only translates to JSON (camelCase keys, times in ns). Errors are
``{"error": "..."}`` with a 4xx status for the caller's mistakes.
"""

from __future__ import annotations

from typing import Any

import pyarrow.compute as pc
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from breadcrumbs.analysis.compare import (
    PathDiff,
    PathStats,
    TraceComparison,
    TraceShape,
    trace_shape,
)
from breadcrumbs.analysis.compare import compare_traces as compare_spans
from breadcrumbs.analysis.why import (
    AttributeFinding,
    OperationFinding,
    Proportions,
    WhyReport,
    explain_selection,
)
from breadcrumbs.api.common import handle_errors, json_response, now_ns, query_pairs
from breadcrumbs.api.explain import aggregate_json
from breadcrumbs.errors import NotFound
from breadcrumbs.model import normalize_trace_id
from breadcrumbs.query import analysis_params
from breadcrumbs.query.critical_path_params import CriticalPathParams
from breadcrumbs.query.many_traces import aggregate_over_search
from breadcrumbs.query.service import QueryService
from breadcrumbs.store.base import (
    Endpoint,
    LatencyDistribution,
    LatencyQuery,
    TraceQuery,
    TraceSelection,
    TypicalTraceQuery,
)


def error_body(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


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
    else:
        kind = "slowerThan"
    return {"kind": kind, "percentile": selection.percentile, "thresholdNs": report.threshold_ns}


CRITICAL_PATH_TRACES = 300
"""Traces whose critical paths ``why`` aggregates (newest first): enough for stable shares,
few enough to read and walk in well under a second."""


async def _critical_path_split(
    query: QueryService, selection: TraceSelection
) -> dict[str, Any] | None:
    """Where the critical path time of the slow traces goes, against the others': whole
    traces through the endpoint, split at the same percentile or threshold (None for an
    ``errors`` selection, which is not a split by time)."""
    if selection.errors:
        return None
    endpoint = selection.endpoint
    search = TraceQuery(
        endpoint.start_ns,
        endpoint.end_ns,
        service=endpoint.service,
        operation=endpoint.operation,
        limit=CRITICAL_PATH_TRACES,
    )
    result = await aggregate_over_search(
        query,
        CriticalPathParams(
            search, slower_than_ns=selection.slower_than_ns, percentile=selection.percentile
        ),
    )
    if result.baseline is None:
        return None
    return {
        "slowerThanNs": result.threshold_ns,
        "matchedTraces": result.matched,
        "selected": aggregate_json(result.selection),
        "baseline": aggregate_json(result.baseline),
        "warnings": list(result.warnings),
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


def routes(query: QueryService) -> list[BaseRoute]:
    guard = handle_errors(error_body)
    reader = query.reader

    @guard
    async def why(request: Request) -> Response:
        asked = analysis_params.parse_why(query_pairs(request), now_ns())
        counts = await reader.selection_counts(asked.selection)
        report = explain_selection(counts, limit=asked.limit)
        body = why_json(asked.selection, report)
        body["criticalPath"] = await _critical_path_split(query, asked.selection)
        return json_response(body)

    @guard
    async def latency(request: Request) -> Response:
        asked = analysis_params.parse_latency(query_pairs(request), now_ns())
        return json_response(latency_json(asked, await reader.latency_distribution(asked)))

    @guard
    async def compare_two(request: Request) -> Response:
        a_id = normalize_trace_id(request.path_params["a"])
        b_id = normalize_trace_id(request.path_params["b"])
        a, b = await query.get_trace(a_id), await query.get_trace(b_id)
        return json_response(compare_json(compare_spans(a.spans, b.spans), "trace"))

    @guard
    async def compare_typical(request: Request) -> Response:
        a_id = normalize_trace_id(request.path_params["a"])
        lookback = analysis_params.parse_typical_window(query_pairs(request), now_ns())
        a = await query.get_trace(a_id)
        root = trace_shape(a.spans).root
        if root is None:
            raise NotFound("trace has no root span to find its endpoint")
        first = int(pc.min(a.spans["Timestamp"]).as_py())
        endpoint = Endpoint(max(0, first - lookback), first + lookback, root[0], root[1])
        found = await reader.typical_traces(TypicalTraceQuery(endpoint, exclude=(a_id,)))
        if not found:
            raise NotFound(
                f"no other trace of {root[0]} {root[1]!r} within the lookback to compare with"
            )
        typical = await query.get_trace(found[0])
        return json_response(compare_json(compare_spans(a.spans, typical.spans), "typical"))

    return [
        Route("/api/x/why", why, methods=["GET"]),
        Route("/api/x/latency", latency, methods=["GET"]),
        Route("/api/x/compare/{a}/{b}", compare_two, methods=["GET"]),
        Route("/api/x/compare/{a}", compare_typical, methods=["GET"]),
    ]
