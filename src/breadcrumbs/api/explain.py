"""``/api/x/traces/{id}/explain`` and ``/api/x/critical-path``: one trace explained, and where
the time goes over many (the shapes are fixed in the web UI contract and the README).

Adapters only: ids and parameters are parsed in ``query/``, the analyses are the pure
functions of ``analysis/``; this module turns their values into camelCase JSON."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from breadcrumbs.analysis.aggregate import CriticalPathAggregate
from breadcrumbs.analysis.critical_path import CriticalPath, Share
from breadcrumbs.analysis.errors import ErrorAnalysis
from breadcrumbs.analysis.explain import TraceExplanation, explain_trace
from breadcrumbs.analysis.summary import Summary
from breadcrumbs.api.common import handle_errors, json_response, now_ns, query_pairs
from breadcrumbs.query.critical_path_params import parse_critical_path
from breadcrumbs.query.gc_pause import gc_paused
from breadcrumbs.query.many_traces import aggregate_over_search
from breadcrumbs.query.service import QueryService


def json_error(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


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


def routes(query: QueryService) -> list[BaseRoute]:
    guard = handle_errors(json_error)

    @guard
    async def explain(request: Request) -> Response:
        trace_id = await query.resolve_trace_id(request.path_params["trace_id"])
        spans = await query.get_trace_for_analysis(trace_id)
        # CPU-bound on big traces: off the event loop, like the store's reads.
        explained = await query.compute(explain_trace, spans)
        with gc_paused():
            return json_response(explanation_json(explained))

    @guard
    async def critical_path(request: Request) -> Response:
        params = parse_critical_path(query_pairs(request), now_ns())
        result = await aggregate_over_search(query, params)
        body: dict[str, Any] = {
            "query": result.query_json,
            "analysed": aggregate_json(result.selection),
            "matchedTraces": result.matched,
            "cap": result.cap,
            "warnings": list(result.warnings),
        }
        if result.baseline is not None:
            body["baseline"] = aggregate_json(result.baseline)
            body["slowerThanNs"] = result.threshold_ns
        return json_response(body)

    return [
        Route("/api/x/traces/{trace_id}/explain", explain, methods=["GET"]),
        Route("/api/x/critical-path", critical_path, methods=["GET"]),
    ]
