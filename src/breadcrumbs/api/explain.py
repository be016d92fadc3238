"""``/api/x/traces/{id}/explain`` and ``/api/x/critical-path``: one trace explained, and where
the time goes over many (the shapes are fixed in the web UI contract and the README).

Adapters only: ids and parameters are parsed in ``query/``, the analyses are the pure
functions of ``analysis/``, their JSON shapes in ``render``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from breadcrumbs.analysis.explain import explain_trace
from breadcrumbs.api.common import handle_errors, json_error, json_response, now_ns, query_pairs
from breadcrumbs.api.render import aggregate_json, explanation_json
from breadcrumbs.query.critical_path_params import parse_critical_path
from breadcrumbs.query.gc_pause import gc_paused
from breadcrumbs.query.many_traces import aggregate_over_search
from breadcrumbs.query.service import QueryService


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
            "warnings": [
                f"analysed the newest {result.cap} matching traces (the cap); older ones were "
                "left out: raise 'limit' (at most 100000) or narrow the time range"
            ]
            if result.capped
            else [],
        }
        if result.baseline is not None:
            body["baseline"] = aggregate_json(result.baseline)
            body["slowerThanNs"] = result.threshold_ns
        return json_response(body)

    return [
        Route("/api/x/traces/{trace_id}/explain", explain, methods=["GET"]),
        Route("/api/x/critical-path", critical_path, methods=["GET"]),
    ]
