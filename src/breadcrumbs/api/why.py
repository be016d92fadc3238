"""Analysis over many traces under ``/api/x/``: ``why`` (what is different about the slow or
failing traces of an endpoint), ``latency`` (histogram and time x duration heatmap) and
``compare`` (two traces, or one against its endpoint's typical trace).

Parameters are parsed by ``query.analysis_params``; the store counts, ``analysis`` ranks and
compares; ``render`` shapes the JSON (camelCase keys, times in ns). Errors are
``{"error": "..."}`` with a 4xx status for the caller's mistakes.
"""

from __future__ import annotations

from typing import Any

import pyarrow.compute as pc
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from breadcrumbs.analysis.compare import compare_traces as compare_spans
from breadcrumbs.analysis.compare import trace_shape
from breadcrumbs.analysis.why import explain_selection
from breadcrumbs.api.common import handle_errors, json_error, json_response, now_ns, query_pairs
from breadcrumbs.api.render import aggregate_json, compare_json, latency_json, why_json
from breadcrumbs.errors import NotFound
from breadcrumbs.query import analysis_params
from breadcrumbs.query.critical_path_params import CriticalPathParams
from breadcrumbs.query.many_traces import aggregate_over_search
from breadcrumbs.query.service import QueryService
from breadcrumbs.store.base import Endpoint, TraceQuery, TraceSelection, TypicalTraceQuery

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
            search,
            slower_than_ns=selection.slower_than_ns,
            percentile=selection.percentile,
            faster_than_ns=selection.faster_than_ns,
        ),
    )
    if result.baseline is None:
        return None
    return {
        "slowerThanNs": result.threshold_ns,
        "fasterThanNs": None if selection.percentile is not None else selection.faster_than_ns,
        "matchedTraces": result.matched,
        "selected": aggregate_json(result.selection),
        "baseline": aggregate_json(result.baseline),
        # A sample by design (the newest CRITICAL_PATH_TRACES), not a cap to raise.
        "newestOnly": result.capped,
    }


def routes(query: QueryService) -> list[BaseRoute]:
    guard = handle_errors(json_error)
    reader = query.reader

    @guard
    async def why(request: Request) -> Response:
        asked = analysis_params.parse_why(query_pairs(request), now_ns())
        counts = await reader.selection_counts(asked.selection)
        report = explain_selection(counts, limit=asked.limit, outcome_last=asked.selection.errors)
        body = why_json(asked.selection, report)
        body["criticalPath"] = await _critical_path_split(query, asked.selection)
        return json_response(body)

    @guard
    async def latency(request: Request) -> Response:
        asked = analysis_params.parse_latency(query_pairs(request), now_ns())
        return json_response(latency_json(asked, await reader.latency_distribution(asked)))

    @guard
    async def compare_two(request: Request) -> Response:
        a_id = await query.resolve_trace_id(request.path_params["a"])
        b_id = await query.resolve_trace_id(request.path_params["b"])
        a, b = await query.get_trace(a_id), await query.get_trace(b_id)
        return json_response(compare_json(compare_spans(a.spans, b.spans), "trace"))

    @guard
    async def compare_typical(request: Request) -> Response:
        a_id = await query.resolve_trace_id(request.path_params["a"])
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
