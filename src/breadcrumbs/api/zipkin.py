"""The Zipkin v2 query HTTP API (``/api/v2/...``, per openzipkin's ``zipkin2-api.yaml``), served
on the Zipkin port. Bad parameters are a 400 with a text message, an unknown trace a 404.
Spans render through ``codec.zipkin``; ``POST /api/v2/spans`` lives in ``receivers``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from breadcrumbs.api.common import (
    handle_errors,
    json_response,
    now_ns,
    query_pairs,
    text_error,
)
from breadcrumbs.codec.zipkin import to_zipkin_spans
from breadcrumbs.model import normalize_trace_id
from breadcrumbs.query import zipkin_params
from breadcrumbs.query.adjusters import AdjustedTrace
from breadcrumbs.query.service import QueryService


def _render(trace: AdjustedTrace) -> list[dict[str, Any]]:
    return to_zipkin_spans(trace.spans)


def routes(query: QueryService) -> list[BaseRoute]:
    guard = handle_errors(text_error)

    @guard
    async def services(request: Request) -> Response:
        return json_response(await query.services())

    @guard
    async def span_names(request: Request) -> Response:
        service = zipkin_params.required(query_pairs(request), "serviceName")
        return json_response(await query.operation_names(await query.resolve_service(service)))

    @guard
    async def remote_services(request: Request) -> Response:
        service = zipkin_params.required(query_pairs(request), "serviceName")
        return json_response(await query.remote_services(await query.resolve_service(service)))

    @guard
    async def traces(request: Request) -> Response:
        search = zipkin_params.parse_traces(
            query_pairs(request), now_ns(), query.bounds.max_window_ns, query.bounds.max_traces
        )
        found = await query.find_traces(
            search.query, required_keys=search.required_keys, shared_ids=True, fold_case=True
        )
        return json_response([_render(trace) for trace in found])

    @guard
    async def trace(request: Request) -> Response:
        trace_id = normalize_trace_id(request.path_params["trace_id"])
        return json_response(_render(await query.get_trace(trace_id, shared_ids=True)))

    @guard
    async def trace_many(request: Request) -> Response:
        trace_ids = zipkin_params.parse_trace_ids(query_pairs(request))
        found = await query.get_traces(trace_ids, shared_ids=True)
        return json_response([_render(trace) for trace in found])

    @guard
    async def dependencies(request: Request) -> Response:
        end_ns, lookback_ns = zipkin_params.parse_dependencies(
            query_pairs(request), now_ns(), query.bounds.max_window_ns
        )
        links = []
        for link in await query.dependencies(end_ns, lookback_ns):
            item: dict[str, Any] = {
                "parent": link.parent,
                "child": link.child,
                "callCount": link.call_count,
            }
            if link.error_count:  # Zipkin's JSON writer omits a zero errorCount
                item["errorCount"] = link.error_count
            links.append(item)
        return json_response(links)

    @guard
    async def autocomplete_keys(request: Request) -> Response:
        return json_response(await query.tag_keys())

    @guard
    async def autocomplete_values(request: Request) -> Response:
        key = zipkin_params.required(query_pairs(request), "key")
        return json_response(await query.tag_values(key))

    return [
        Route("/api/v2/services", services, methods=["GET"]),
        Route("/api/v2/spans", span_names, methods=["GET"]),
        Route("/api/v2/remoteServices", remote_services, methods=["GET"]),
        Route("/api/v2/traces", traces, methods=["GET"]),
        Route("/api/v2/trace/{trace_id:path}", trace, methods=["GET"]),
        Route("/api/v2/traceMany", trace_many, methods=["GET"]),
        Route("/api/v2/dependencies", dependencies, methods=["GET"]),
        Route("/api/v2/autocompleteKeys", autocomplete_keys, methods=["GET"]),
        Route("/api/v2/autocompleteValues", autocomplete_values, methods=["GET"]),
    ]
