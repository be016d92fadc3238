"""Operations endpoints on the main HTTP port: ``/healthz``, ``/readyz``, ``/metrics``.

- ``/healthz``: 200 while the process serves HTTP at all (liveness).
- ``/readyz``: 200 only once ``ready()`` is true (the WAL is replayed and every enabled port
  listens), else 503 with the reason; load balancers and tests wait on it.
- ``/api/x/endpoints``: the ports this server listens on, by role (``otlp-http``,
  ``otlp-grpc``, ``zipkin``, ...), so the UI's "how to send spans here" shows the real ones.
- ``/metrics``: the server's own ``SelfMetrics`` registry (which also holds the span metrics,
  ``pipeline/exposition.py``) in Prometheus text format, or as OpenMetrics (with exemplars)
  when the scraper's ``Accept`` asks for ``application/openmetrics-text``. Gauges
  that cost a query (store size, span count) are refreshed on scrape, at most every
  ``refresh_interval_s`` seconds, so a tight scraper cannot load the store.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.openmetrics import exposition as openmetrics
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from breadcrumbs.api.common import json_response
from breadcrumbs.selfmetrics import SelfMetrics

log = logging.getLogger("breadcrumbs.api.ops")

ReadyCheck = Callable[[], str | None]
"""Returns None when ready, else a short reason ("replaying WAL")."""

Ports = Callable[[], Mapping[str, int]]
"""The listening ports by role, once they listen."""


def routes(
    ready: ReadyCheck,
    metrics: SelfMetrics,
    refresh: Callable[[], Awaitable[None]] | None = None,
    refresh_interval_s: float = 5.0,
    ports: Ports = dict,
) -> list[BaseRoute]:
    last_refresh = [float("-inf")]

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(request: Request) -> Response:
        reason = ready()
        if reason is None:
            return PlainTextResponse("ready\n")
        return PlainTextResponse(f"not ready: {reason}\n", status_code=503)

    async def endpoints(request: Request) -> Response:
        return json_response({"ports": dict(ports())})

    async def metrics_endpoint(request: Request) -> Response:
        now = time.monotonic()
        if refresh is not None and now - last_refresh[0] >= refresh_interval_s:
            last_refresh[0] = now
            try:
                await refresh()
            except Exception:  # stale gauges beat a failed scrape
                log.warning("refreshing store gauges failed", exc_info=True)
        if "application/openmetrics-text" in request.headers.get("accept", ""):
            return Response(
                openmetrics.generate_latest(metrics.registry),  # type: ignore[no-untyped-call]
                headers={"Content-Type": openmetrics.CONTENT_TYPE_LATEST},
            )
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET", "HEAD"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/api/x/endpoints", endpoints, methods=["GET"]),
    ]
