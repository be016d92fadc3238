"""``GET /api/x/doctor``: the trace doctor's findings over a time range, worst first.

Parameters are parsed by ``query.doctor``; errors are ``{"error": "..."}`` with a 4xx.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from breadcrumbs.analysis.doctor import Finding
from breadcrumbs.api.common import handle_errors, json_response, now_ns, query_pairs
from breadcrumbs.query import doctor
from breadcrumbs.query.service import QueryService


def error_body(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


def render_finding(finding: Finding) -> dict[str, Any]:
    return {
        "check": finding.check,
        "family": finding.family,
        "severity": finding.severity.label,
        "title": finding.title,
        "detail": finding.detail,
        "fix": finding.fix,
        "count": finding.count,
        "total": finding.total,
        "unit": finding.unit,
        "examples": [
            {"traceId": e.trace_id, "service": e.service, "spanName": e.span_name}
            for e in finding.examples
        ],
    }


def render(diagnosis: doctor.Diagnosis) -> dict[str, Any]:
    window = diagnosis.window
    return {
        "startNs": window.start_ns,
        "endNs": window.end_ns,
        "findings": [render_finding(f) for f in diagnosis.findings],
        "scope": {
            "spans": diagnosis.spans,
            "marginNs": window.margin_ns,
            "settleNs": window.settle_ns,
            "maxRows": window.max_rows,
            "truncated": sorted(diagnosis.truncated),
            "attributeTraces": diagnosis.attribute_traces,
            "note": "aggregates over every span starting in the window; attributes over "
            "about 1 in attributeTraces traces (by trace id); parents and children looked "
            "for up to marginNs outside it; spans of the last settleNs not judged for "
            "missing relatives; each read keeps its maxRows largest groups",
        },
    }


def routes(query: QueryService, *, value_limit: int) -> list[BaseRoute]:
    @handle_errors(error_body)
    async def diagnose(request: Request) -> Response:
        window = doctor.parse_window(query_pairs(request), now_ns())
        found = await doctor.diagnose_window(query.reader, window, value_limit=value_limit)
        return json_response(render(found))

    return [Route("/api/x/doctor", diagnose, methods=["GET"])]
