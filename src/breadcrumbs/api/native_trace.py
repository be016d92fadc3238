"""The native trace API for big traces (``/api/x/traces/...``), beside the Jaeger one.

``GET /api/x/traces/{id}``: newline-delimited JSON (``codec.native``): a header with the summary
and the string table, then the spans in columnar chunks, so the web UI draws while the rest
arrives. ``?chunk=N`` sets the rows per chunk, ``?limit=N`` caps the spans (a cut is said in
the header's ``warnings``). ``GET /api/x/traces/{id}/spans/{spanId}``: one span in full.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from breadcrumbs.api.common import handle_errors, json_response, query_pairs
from breadcrumbs.codec import native
from breadcrumbs.errors import NotFound
from breadcrumbs.model import normalize_span_id, normalize_trace_id
from breadcrumbs.query.gc_pause import gc_paused
from breadcrumbs.query.params import first, parse_int
from breadcrumbs.query.service import QueryService

MAX_SPANS: Final = 2_000_000
MAX_CHUNK: Final = 500_000


def error_json(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


def _lines(trace: native.NativeTrace, chunk: int) -> Iterator[bytes]:
    yield orjson.dumps(native.header(trace, chunk)) + b"\n"
    for part in native.chunks(trace, chunk):
        yield orjson.dumps(part) + b"\n"


def routes(query: QueryService) -> list[BaseRoute]:
    guard = handle_errors(error_json)

    @guard
    async def trace(request: Request) -> Response:
        trace_id = normalize_trace_id(request.path_params["trace_id"])
        params = query_pairs(request)
        text = first(params, "chunk")
        chunk = parse_int(text, "chunk", minimum=1, maximum=MAX_CHUNK) if text else 0
        text = first(params, "limit")
        limit = parse_int(text, "limit", minimum=1, maximum=MAX_SPANS) if text else MAX_SPANS
        found = await query.get_trace(trace_id)
        with gc_paused():
            built = native.build(found.spans, found.warnings, limit)
        return StreamingResponse(
            _lines(built, chunk or native.DEFAULT_CHUNK), media_type="application/x-ndjson"
        )

    @guard
    async def span(request: Request) -> Response:
        trace_id = normalize_trace_id(request.path_params["trace_id"])
        span_id = normalize_span_id(request.path_params["span_id"])
        found = await query.get_trace(trace_id)
        detail = native.span_detail(found.spans, found.warnings, span_id)
        if detail is None:
            raise NotFound(f"span {span_id} is not in trace {trace_id}")
        return json_response(detail)

    return [
        Route("/api/x/traces/{trace_id}", trace, methods=["GET"]),
        Route("/api/x/traces/{trace_id}/spans/{span_id}", span, methods=["GET"]),
    ]
