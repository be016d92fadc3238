"""``GET /api/x/export``: stored spans as OTLP JSON lines (``portability.lines``), streamed.

Parameters: ``start`` and ``end`` (ns; spans starting in [start, end), default: everything
stored), ``service`` (repeatable: the traces with a span of one of them, per window) and
``traceId`` (repeatable: those whole traces; the time range then does not apply). Spans come
as stored: no query-time adjuster (dedupe, clock skew) touches them, so a backup restores
what was there. ``breadcrumbs export --server`` reads this while the server runs (the
embedded store's file cannot be opened by a second process).

The parameters are checked before the first byte (a 400 with a reason); a store failure
after that cuts the stream short, which the client sees as an incomplete chunked body.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from breadcrumbs.api.common import handle_errors, json_error, query_pairs
from breadcrumbs.errors import BadInput
from breadcrumbs.model import normalize_trace_id
from breadcrumbs.portability.lines import encode_lines
from breadcrumbs.portability.scan import SpanSelection, scan
from breadcrumbs.query.params import first, parse_int, values
from breadcrumbs.store.base import SpanReader

MEDIA_TYPE = "application/x-ndjson"


async def selection_of(request: Request, reader: SpanReader) -> SpanSelection:
    params = query_pairs(request)
    trace_ids = tuple(dict.fromkeys(normalize_trace_id(t) for t in values(params, "traceId")))
    services = tuple(dict.fromkeys(s for s in values(params, "service") if s))
    start_text, end_text = first(params, "start"), first(params, "end")
    start = parse_int(start_text, "start") if start_text else None
    end = parse_int(end_text, "end") if end_text else None
    if start is None or end is None:
        stats = await reader.stats()
        start = start if start is not None else stats.oldest_ns or 0
        end = end if end is not None else (stats.newest_ns or 0) + 1
    if end < start:
        raise BadInput("malformed parameter end: before start")
    return SpanSelection(start, end, services, trace_ids)


def routes(reader: SpanReader) -> list[BaseRoute]:
    guard = handle_errors(json_error)

    @guard
    async def export(request: Request) -> Response:
        selection = await selection_of(request, reader)

        async def lines() -> AsyncIterator[bytes]:
            async for window in scan(reader, selection):
                for line in encode_lines(window.spans):
                    yield line

        return StreamingResponse(lines(), media_type=MEDIA_TYPE)

    return [Route("/api/x/export", export, methods=["GET"])]
