"""Jaeger's remote sampling API over HTTP, for the SDKs' Jaeger remote samplers:
``GET /api/sampling?service=S`` on the main port (as Jaeger's collector and query serve it)
and ``GET /sampling?service=S`` (and ``/?service=S``) on the sampling port 5778 (as Jaeger's
agent did). The answer is Jaeger's JSON (``sampling/wire.py``); ``service`` must be given
exactly once, else a 400 with Jaeger's message.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from breadcrumbs.api.common import handle_errors, json_response, text_error
from breadcrumbs.errors import BadInput
from breadcrumbs.sampling import wire
from breadcrumbs.sampling.strategy import StrategyProvider

MAIN_PORT_PATHS = ("/api/sampling",)
SAMPLING_PORT_PATHS = ("/sampling", "/")


def service_parameter(request: Request) -> str:
    services = request.query_params.getlist("service")
    if len(services) != 1:
        raise BadInput("'service' parameter must be provided once")
    if not services[0].strip():
        raise BadInput("'service' parameter must name a service")
    return services[0]


def routes(provider: StrategyProvider, paths: tuple[str, ...] = MAIN_PORT_PATHS) -> list[BaseRoute]:
    @handle_errors(text_error)
    async def sampling(request: Request) -> Response:
        strategy = provider.strategy(service_parameter(request))
        return json_response(wire.to_json(strategy))

    return [Route(path, sampling, methods=["GET"]) for path in paths]
