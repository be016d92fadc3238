"""``GET /api/x/doctor``: the trace doctor's findings over a time range, worst first.

Parameters are parsed by ``query.doctor``; errors are ``{"error": "..."}`` with a 4xx.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from breadcrumbs.api.common import handle_errors, json_error, json_response, now_ns, query_pairs
from breadcrumbs.api.render import diagnosis_json
from breadcrumbs.query import doctor
from breadcrumbs.query.service import QueryService


def routes(query: QueryService, *, value_limit: int) -> list[BaseRoute]:
    @handle_errors(json_error)
    async def diagnose(request: Request) -> Response:
        window = doctor.parse_window(query_pairs(request), now_ns())
        found = await doctor.diagnose_window(query.reader, window, value_limit=value_limit)
        return json_response(diagnosis_json(found))

    return [Route("/api/x/doctor", diagnose, methods=["GET"])]
