"""The native trace API for big traces (``/api/x/traces/...``), beside the Jaeger one.

``GET /api/x/traces/{id}``: newline-delimited JSON (``codec.native``): a header with the summary
and the string table, then the spans in columnar chunks, so the web UI draws while the rest
arrives. ``?chunk=N`` sets the rows per chunk, ``?limit=N`` caps the spans (a cut is said in
the header's ``warnings``). ``GET /api/x/traces/{id}/spans/{spanId}``: one span in full.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Final

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from breadcrumbs.api.common import handle_errors, json_error, json_response, query_pairs
from breadcrumbs.codec import native
from breadcrumbs.errors import NotFound
from breadcrumbs.model import normalize_span_id, normalize_trace_id
from breadcrumbs.query.adjusters import AdjustedTrace
from breadcrumbs.query.gc_pause import gc_paused
from breadcrumbs.query.params import first, parse_int
from breadcrumbs.query.service import QueryService

MAX_SPANS: Final = 2_000_000
MAX_CHUNK: Final = 500_000
RECENT_S: Final = 60.0
RECENT_MAX_SPANS: Final = 2_000_000


def _lines(trace: native.NativeTrace, chunk: int) -> Iterator[bytes]:
    yield orjson.dumps(native.header(trace, chunk)) + b"\n"
    for part in native.chunks(trace, chunk):
        yield orjson.dumps(part) + b"\n"


class _RecentTrace:
    """The last trace read, kept for a minute: the span panel asks for one span at a time
    of the trace just opened, and re-reading a 1M-span trace per click would take seconds."""

    def __init__(self, query: QueryService) -> None:
        self.query = query
        self.entry: tuple[str, float, AdjustedTrace] | None = None

    async def get(self, trace_id: str) -> AdjustedTrace:
        now = time.monotonic()
        if self.entry and self.entry[0] == trace_id and now - self.entry[1] < RECENT_S:
            return self.entry[2]
        found = await self.query.get_trace_unskewed(trace_id)
        self.entry = (trace_id, now, found) if found.spans.num_rows <= RECENT_MAX_SPANS else None
        return found


def routes(query: QueryService) -> list[BaseRoute]:
    guard = handle_errors(json_error)
    recent = _RecentTrace(query)

    @guard
    async def trace(request: Request) -> Response:
        trace_id = normalize_trace_id(request.path_params["trace_id"])
        params = query_pairs(request)
        text = first(params, "chunk")
        chunk = parse_int(text, "chunk", minimum=1, maximum=MAX_CHUNK) if text else 0
        text = first(params, "limit")
        limit = parse_int(text, "limit", minimum=1, maximum=MAX_SPANS) if text else MAX_SPANS
        found = await recent.get(trace_id)
        with gc_paused():
            built = native.build(found.spans, found.warnings, limit)
        return StreamingResponse(
            _lines(built, chunk or native.DEFAULT_CHUNK), media_type="application/x-ndjson"
        )

    @guard
    async def span(request: Request) -> Response:
        trace_id = normalize_trace_id(request.path_params["trace_id"])
        span_id = normalize_span_id(request.path_params["span_id"])
        found = await recent.get(trace_id)
        detail = native.span_detail(found.spans, found.warnings, span_id)
        if detail is None:
            raise NotFound(f"span {span_id} is not in trace {trace_id}")
        return json_response(detail)

    return [
        Route("/api/x/traces/{trace_id}", trace, methods=["GET"]),
        Route("/api/x/traces/{trace_id}/spans/{span_id}", span, methods=["GET"]),
    ]
