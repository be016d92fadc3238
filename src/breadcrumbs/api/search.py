"""The web UI's search (native API, ns and camelCase; parameters in ``query/search_params.py``).

- ``GET /api/x/search``: ``{"traces": [...], "limit", "startNs", "endNs"}``, newest first; a
  trace: ``traceId``, ``root`` (``{spanId, service, name}`` or null), ``startNs``,
  ``durationNs`` (the whole trace), ``spanCount``, ``errorCount``, ``services`` (name, spans,
  errors), and ``matched``: how many spans meet the search and the longest of them
  (``{count, spanId, service, name, durationNs}``).
- ``GET /api/x/traces/{id}/matches`` with the same parameters: ``{"spanIds": [...]}``, the spans
  of that trace that meet the search's span conditions (the web UI highlights them).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from breadcrumbs.api.common import handle_errors, json_error, json_response, now_ns, query_pairs
from breadcrumbs.codec import native
from breadcrumbs.model import SpanBatch, normalize_trace_id
from breadcrumbs.query.adjusters import AdjustedTrace
from breadcrumbs.query.gc_pause import gc_paused
from breadcrumbs.query.matching import matching_mask
from breadcrumbs.query.search_params import parse_native_search
from breadcrumbs.query.service import QueryService

_SUMMARY_KEYS = ("startNs", "durationNs", "spanCount", "errorCount", "root", "services")


def _matched(spans: SpanBatch, mask: pa.Array) -> dict[str, Any]:
    kept = spans.filter(mask)
    if kept.num_rows == 0:
        return {"count": 0}
    longest = int(pc.index(kept["Duration"], pc.max(kept["Duration"])).as_py())
    return {
        "count": kept.num_rows,
        "spanId": kept["SpanId"][longest].as_py(),
        "service": kept["ServiceName"][longest].as_py(),
        "name": kept["SpanName"][longest].as_py(),
        "durationNs": kept["Duration"][longest].as_py(),
    }


def _row(trace: AdjustedTrace, mask: pa.Array) -> dict[str, Any]:
    summary = native.build(trace.spans, trace.warnings, max(1, trace.spans.num_rows)).summary
    return {
        "traceId": trace.trace_id,
        **{key: summary[key] for key in _SUMMARY_KEYS},
        "matched": _matched(trace.spans, mask),
    }


def routes(query: QueryService) -> list[BaseRoute]:
    guard = handle_errors(json_error)

    @guard
    async def search(request: Request) -> Response:
        parsed = parse_native_search(query_pairs(request), now_ns())
        found = await query.search(parsed)
        with gc_paused():
            rows = [_row(trace, mask) for trace, mask in found]
        return json_response(
            {
                "traces": rows,
                "limit": parsed.query.limit,
                "startNs": parsed.query.start_ns,
                "endNs": parsed.query.end_ns,
            }
        )

    @guard
    async def matches(request: Request) -> Response:
        trace_id = normalize_trace_id(request.path_params["trace_id"])
        parsed = parse_native_search(query_pairs(request), now_ns())
        trace = await query.get_trace_unskewed(trace_id)
        mask = matching_mask(trace.spans, parsed.query)
        ids = trace.spans["SpanId"].filter(mask).to_pylist()
        return json_response({"traceId": trace_id, "spanIds": ids})

    return [
        Route("/api/x/search", search, methods=["GET"]),
        Route("/api/x/traces/{trace_id}/matches", matches, methods=["GET"]),
    ]
