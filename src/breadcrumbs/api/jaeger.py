"""The Jaeger query HTTP API (``/api/...``) that the Jaeger UI and Grafana's Jaeger data source
use, in Jaeger's envelope ``{"data", "total", "limit", "offset", "errors"}`` (``http_handler.go``).
Parameters are parsed by ``query.jaeger_params``, traces rendered by ``codec.jaeger``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from breadcrumbs.api.common import handle_errors, json_response, now_ns, query_pairs
from breadcrumbs.codec.jaeger import to_jaeger_trace
from breadcrumbs.model import SpanKind, normalize_trace_id
from breadcrumbs.query import jaeger_params
from breadcrumbs.query.adjusters import AdjustedTrace
from breadcrumbs.query.params import NS_PER_US, first, parse_int, scaled
from breadcrumbs.query.service import QueryService


def envelope(data: Any, total: int | None = None) -> Response:
    if total is None:
        total = len(data) if isinstance(data, list) else 0
    return json_response({"data": data, "total": total, "limit": 0, "offset": 0, "errors": None})


def error_envelope(status: int, message: str) -> Response:
    body = {
        "data": None,
        "total": 0,
        "limit": 0,
        "offset": 0,
        "errors": [{"code": status, "msg": message}],
    }
    return json_response(body, status)


def _render(trace: AdjustedTrace) -> dict[str, Any]:
    return to_jaeger_trace(trace.spans, trace.warnings)


def _kind_label(kind: SpanKind) -> str:
    # Jaeger reports "" for spans without a kind.
    return "" if kind == SpanKind.UNSPECIFIED else kind.label


def routes(query: QueryService) -> list[BaseRoute]:
    guard = handle_errors(error_envelope)

    @guard
    async def services(request: Request) -> Response:
        return envelope(await query.services())

    @guard
    async def service_operations(request: Request) -> Response:
        return envelope(await query.operation_names(request.path_params["service"]))

    @guard
    async def operations(request: Request) -> Response:
        service, kind = jaeger_params.parse_operations(query_pairs(request))
        found = await query.operations(service, kind)
        return envelope([{"name": op.name, "spanKind": _kind_label(op.span_kind)} for op in found])

    @guard
    async def search(request: Request) -> Response:
        parsed = jaeger_params.parse_trace_search(query_pairs(request), now_ns())
        if parsed.trace_ids:
            traces = await query.get_traces(parsed.trace_ids)
        else:
            traces = await query.find_traces(parsed.query)
        return envelope([_render(trace) for trace in traces])

    @guard
    async def trace(request: Request) -> Response:
        trace_id = normalize_trace_id(request.path_params["trace_id"])
        params = query_pairs(request)
        start, end = first(params, "start"), first(params, "end")
        start_ns = scaled(parse_int(start, "start"), NS_PER_US, "start") if start else None
        end_ns = scaled(parse_int(end, "end"), NS_PER_US, "end") if end else None
        found = await query.get_trace(trace_id, start_ns, end_ns)
        return envelope([_render(found)])

    @guard
    async def dependencies(request: Request) -> Response:
        end_ns, lookback_ns = jaeger_params.parse_dependencies(query_pairs(request), now_ns())
        links = await query.dependencies(end_ns, lookback_ns)
        return envelope(
            [
                {"parent": link.parent, "child": link.child, "callCount": link.call_count}
                for link in links
            ]
        )

    return [
        Route("/api/services", services, methods=["GET"]),
        Route("/api/services/{service:path}/operations", service_operations, methods=["GET"]),
        Route("/api/operations", operations, methods=["GET"]),
        Route("/api/traces", search, methods=["GET"]),
        Route("/api/traces/{trace_id}", trace, methods=["GET"]),
        Route("/api/dependencies", dependencies, methods=["GET"]),
    ]
