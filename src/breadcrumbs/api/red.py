"""RED metrics and the service graph over HTTP.

- ``GET /api/x/red``: RED per service, operation and span kind, per step (native: ns, camelCase).
- ``GET /api/x/service-graph``: nodes and edges with calls, errors and p95.
- ``GET /api/metrics/{calls,errors,latencies,minstep}``: Jaeger's monitoring API, as the Jaeger
  UI's Monitor tab calls it (``http_handler.go``): a ``MetricFamily`` as protobuf JSON, errors
  in Jaeger's envelope; ``minstep`` in Jaeger's envelope (ms).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from breadcrumbs.api.common import handle_errors, json_response, now_ns, query_pairs
from breadcrumbs.api.jaeger import envelope, error_envelope
from breadcrumbs.query import red, red_params
from breadcrumbs.store.base import SpanReader


def _native_error(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


def routes(reader: SpanReader) -> list[BaseRoute]:
    native = handle_errors(_native_error)
    jaeger = handle_errors(error_envelope)

    @native
    async def red_metrics(request: Request) -> Response:
        now = now_ns()
        query = red_params.parse_red(query_pairs(request), now)
        return json_response(await red.red(reader, query, now))

    @native
    async def service_graph(request: Request) -> Response:
        now = now_ns()
        query = red_params.parse_service_graph(query_pairs(request), now)
        return json_response(await red.service_graph(reader, query, now))

    def jaeger_metric(metric: red.JaegerMetric) -> Route:
        @jaeger
        async def endpoint(request: Request) -> Response:
            now = now_ns()
            params = red_params.parse_jaeger_metrics(
                query_pairs(request), now, needs_quantile=metric == "latencies"
            )
            return json_response(await red.jaeger_metrics(reader, metric, params, now))

        return Route(f"/api/metrics/{metric}", endpoint, methods=["GET"])

    @jaeger
    async def min_step(request: Request) -> Response:
        return envelope(red_params.JAEGER_MIN_STEP_MS)

    return [
        Route("/api/x/red", red_metrics, methods=["GET"]),
        Route("/api/x/service-graph", service_graph, methods=["GET"]),
        jaeger_metric("calls"),
        jaeger_metric("errors"),
        jaeger_metric("latencies"),
        Route("/api/metrics/minstep", min_step, methods=["GET"]),
    ]
