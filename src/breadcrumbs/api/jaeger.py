"""The Jaeger query HTTP API (``/api/...``) that the Jaeger UI and Grafana's Jaeger data source
use, in Jaeger's envelope ``{"data", "total", "limit", "offset", "errors"}`` (``http_handler.go``),
and the Jaeger API v3 HTTP gateway (``/api/v3/...``, ``apiv3/http_gateway.go``) answering OTLP/JSON
as ``{"result": TracesData}`` and errors as ``{"error": {"httpCode", "message"}}``.
Parameters are parsed by ``query.jaeger_params``, traces rendered by ``codec.jaeger``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from breadcrumbs.api.common import handle_errors, json_response, now_ns, query_pairs
from breadcrumbs.codec.jaeger import to_jaeger_traces, to_otlp_json
from breadcrumbs.errors import NotFound
from breadcrumbs.model import SpanKind, concat_batches, normalize_trace_id
from breadcrumbs.query import jaeger_params
from breadcrumbs.query.adjusters import AdjustedTrace
from breadcrumbs.query.gc_pause import gc_paused
from breadcrumbs.query.params import NS_PER_US, first, parse_int, scaled
from breadcrumbs.query.service import QueryService


def envelope(data: Any, total: int = 0, errors: list[dict[str, Any]] | None = None) -> Response:
    """Jaeger's structuredResponse; like Jaeger, only the list endpoints set ``total``."""
    return json_response(
        {"data": data, "total": total, "limit": 0, "offset": 0, "errors": errors or None}
    )


def error_envelope(status: int, message: str) -> Response:
    body = {
        "data": None,
        "total": 0,
        "limit": 0,
        "offset": 0,
        "errors": [{"code": status, "msg": message}],
    }
    return json_response(body, status)


def v3_error(status: int, message: str) -> Response:
    return json_response({"error": {"httpCode": status, "message": message}}, status)


def _v3_traces(traces: list[AdjustedTrace]) -> Response:
    if not traces:
        raise NotFound("No traces found")
    return json_response({"result": to_otlp_json(concat_batches([t.spans for t in traces]))})


def _render(traces: list[AdjustedTrace]) -> list[dict[str, Any]]:
    return to_jaeger_traces([(trace.spans, trace.warnings) for trace in traces])


def _kind_label(kind: SpanKind) -> str:
    # Jaeger reports "" for spans without a kind.
    return "" if kind == SpanKind.UNSPECIFIED else kind.label


def routes(query: QueryService) -> list[BaseRoute]:
    guard = handle_errors(error_envelope)

    @guard
    async def services(request: Request) -> Response:
        found = await query.services()
        return envelope(found, len(found))

    @guard
    async def service_operations(request: Request) -> Response:
        names = await query.operation_names(request.path_params["service"])
        return envelope(names, len(names))

    @guard
    async def operations(request: Request) -> Response:
        service, kind = jaeger_params.parse_operations(query_pairs(request))
        found = await query.operations(service, kind)
        data = [{"name": op.name, "spanKind": _kind_label(op.span_kind)} for op in found]
        return envelope(data, len(data))

    @guard
    async def search(request: Request) -> Response:
        parsed = jaeger_params.parse_trace_search(
            query_pairs(request), now_ns(), query.bounds.max_window_ns, query.bounds.max_traces
        )
        if not parsed.trace_ids:
            traces = await query.find_traces(parsed.query)
            with gc_paused():
                return envelope(_render(traces))
        traces = await query.get_traces(parsed.trace_ids)
        # Jaeger lists each requested id it could not find as an error beside the data.
        found = {trace.trace_id for trace in traces}
        missing = [
            {"msg": "trace not found", "traceID": trace_id}
            for trace_id in parsed.trace_ids
            if trace_id not in found
        ]
        with gc_paused():
            return envelope(_render(traces), errors=missing)

    @guard
    async def trace(request: Request) -> Response:
        trace_id = normalize_trace_id(request.path_params["trace_id"])
        params = query_pairs(request)
        start, end = first(params, "start"), first(params, "end")
        start_ns = scaled(parse_int(start, "start"), NS_PER_US, "start") if start else None
        end_ns = scaled(parse_int(end, "end"), NS_PER_US, "end") if end else None
        raw = first(params, "raw").lower() in ("1", "t", "true")  # Go's ParseBool
        found = await query.get_trace(trace_id, start_ns, end_ns, raw=raw)
        with gc_paused():
            return envelope(_render([found]))

    @guard
    async def dependencies(request: Request) -> Response:
        params = query_pairs(request)
        end_ns, lookback_ns = jaeger_params.parse_dependencies(
            params, now_ns(), query.bounds.max_window_ns
        )
        service = first(params, "service")  # optional: links touching this service
        counts: dict[tuple[str, str], int] = {}
        for link in await query.dependencies(end_ns, lookback_ns):
            if not service or service in (link.parent, link.child):
                key = (link.parent, link.child)
                counts[key] = counts.get(key, 0) + link.call_count
        return envelope(
            [
                {"parent": parent, "child": child, "callCount": count}
                for (parent, child), count in counts.items()
            ]
        )

    v3_guard = handle_errors(v3_error)

    @v3_guard
    async def v3_services(request: Request) -> Response:
        return json_response({"services": await query.services()})

    @v3_guard
    async def v3_operations(request: Request) -> Response:
        service, kind = jaeger_params.parse_v3_operations(query_pairs(request))
        found = await query.operations(service, kind)
        return json_response(
            {
                "operations": [
                    {"name": op.name, "spanKind": _kind_label(op.span_kind)} for op in found
                ]
            }
        )

    @v3_guard
    async def v3_trace(request: Request) -> Response:
        trace_id = normalize_trace_id(request.path_params["trace_id"])
        return _v3_traces([await query.get_trace(trace_id)])

    @v3_guard
    async def v3_search(request: Request) -> Response:
        return _v3_traces(
            await query.find_traces(
                jaeger_params.parse_v3_search(query_pairs(request), query.bounds.max_traces)
            )
        )

    return [
        Route("/api/v3/services", v3_services, methods=["GET"]),
        Route("/api/v3/operations", v3_operations, methods=["GET"]),
        Route("/api/v3/traces", v3_search, methods=["GET"]),
        Route("/api/v3/traces/{trace_id:path}", v3_trace, methods=["GET"]),
        Route("/api/services", services, methods=["GET"]),
        Route("/api/services/{service:path}/operations", service_operations, methods=["GET"]),
        Route("/api/operations", operations, methods=["GET"]),
        Route("/api/traces", search, methods=["GET"]),
        Route("/api/traces/{trace_id:path}", trace, methods=["GET"]),
        Route("/api/dependencies", dependencies, methods=["GET"]),
    ]
