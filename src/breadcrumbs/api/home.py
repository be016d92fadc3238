"""``/``: a plain landing page until the web UI lands: the services seen, and where the APIs are.

Every value that comes from spans (service names) is HTML-escaped and URL-quoted.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Route

from breadcrumbs import __version__
from breadcrumbs.query.service import QueryService

_STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 46rem; color: #222; }
h1 { font-size: 1.6rem; margin-bottom: 0; } h1 small { color: #888; font-weight: normal; }
.tagline { color: #555; margin-top: .2rem; }
h2 { font-size: 1.1rem; margin-top: 1.8rem; border-bottom: 1px solid #eee; }
ul.services { columns: 2; padding-left: 1.2rem; }
code { background: #f4f4f4; padding: 0 .25rem; border-radius: 3px; }
a { color: #2a6f3f; } .empty { color: #888; }
"""

_API_LINKS = (
    ("/api/services", "Jaeger API: services"),
    ("/api/dependencies", "Jaeger API: service dependencies"),
    ("/metrics", "Prometheus metrics of breadcrumbs itself"),
    ("/healthz", "liveness"),
    ("/readyz", "readiness"),
)


def _services_list(services: list[str]) -> str:
    if not services:
        return (
            '<p class="empty">No spans yet. Point an OpenTelemetry SDK at '
            "<code>OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318</code>.</p>"
        )
    items = "".join(
        f'<li><a href="/api/traces?service={quote(name, safe="")}&amp;limit=20">'
        f"{escape(name)}</a></li>"
        for name in services
    )
    return f'<ul class="services">{items}</ul>'


def routes(query: QueryService) -> list[BaseRoute]:
    async def home(request: Request) -> HTMLResponse:
        services = await query.services()
        api = "".join(f'<li><a href="{href}">{label}</a></li>' for href, label in _API_LINKS)
        return HTMLResponse(
            "<!doctype html><html><head><meta charset='utf-8'><title>breadcrumbs</title>"
            f"<style>{_STYLE}</style></head><body>"
            f"<h1>breadcrumbs <small>{escape(__version__)}</small></h1>"
            '<p class="tagline">Follow a request through every service it touched.</p>'
            f"<h2>Services ({len(services)})</h2>{_services_list(services)}"
            f"<h2>APIs</h2><ul>{api}</ul>"
            "<p>Grafana's Jaeger data source and Jaeger UI builds work against this address; "
            "the web UI of breadcrumbs arrives in a coming release.</p>"
            "</body></html>"
        )

    return [Route("/", home, methods=["GET"])]
