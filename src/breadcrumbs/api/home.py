"""The web UI: the built single-page app from ``breadcrumbs/ui`` (sources in ``ui/`` at the
repository root), served at ``/`` with its client-side routes (``/search``, ``/trace/<id>``,
``/map``, ``/services``, ``/why``, ``/compare/<a>/<b>``, ``/doctor``) answering
``index.html`` so a reload or a shared link opens the same page.

Hashed assets under ``/assets/`` are cached forever; ``index.html`` is revalidated every time,
so an upgrade is picked up on the next load. Without built assets (a source checkout installed
without Node), ``/`` says how to build them; the APIs work either way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from breadcrumbs import __version__
from breadcrumbs.api.common import Endpoint, json_response

UI_DIR: Final = Path(__file__).resolve().parent.parent / "ui"
# Client-side routes of the app; everything else that is not an API or a file is a 404.
APP_ROUTES: Final = (
    "/",
    "/search",
    "/trace/{rest:path}",
    "/map",
    "/services",
    "/red",
    "/why",
    "/compare",
    "/compare/{rest:path}",
    "/doctor",
)

_NOT_BUILT = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>breadcrumbs</title><style>
body {{ font: 15px/1.5 system-ui, sans-serif; margin: 3rem auto; max-width: 44rem; color: #222; }}
code, pre {{ background: #f4f4f4; padding: 0 .3rem; border-radius: 3px; }}
pre {{ padding: .6rem .8rem; }}
</style></head><body>
<h1>breadcrumbs {version}</h1>
<p>The web UI of this installation was not built (it was installed from source without Node).
The APIs work: <a href="/api/services">/api/services</a>,
<a href="/api/dependencies">/api/dependencies</a>, <a href="/metrics">/metrics</a>.</p>
<p>To build the UI, from the repository root with Node 20.19+ and npm:</p>
<pre>make ui        # npm ci and vite build into src/breadcrumbs/ui</pre>
<p>then restart <code>breadcrumbs serve</code>. Wheels published to PyPI include the UI.</p>
</body></html>"""

_IMMUTABLE: Final = {"Cache-Control": "public, max-age=31536000, immutable"}


class _HashedAssets(StaticFiles):
    """Vite names every asset by its content hash, so a browser may keep it forever."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers.update(_IMMUTABLE)
        return response


def routes(ui_dir: Path = UI_DIR) -> list[BaseRoute]:
    index = ui_dir / "index.html"

    async def app_page(request: Request) -> Response:
        if not index.is_file():
            return HTMLResponse(_NOT_BUILT.format(version=__version__))
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    async def unknown_api(request: Request) -> Response:
        return json_response({"error": f"no API at {request.url.path}"}, 404)

    found: list[BaseRoute] = [Route(path, app_page, methods=["GET"]) for path in APP_ROUTES]
    found.append(Route("/api/{rest:path}", unknown_api, methods=["GET"]))
    if (ui_dir / "assets").is_dir():
        found.append(Mount("/assets", _HashedAssets(directory=ui_dir / "assets"), name="assets"))
    for extra in ("favicon.svg",):
        if (ui_dir / extra).is_file():
            found.append(Route(f"/{extra}", _file(ui_dir / extra), methods=["GET"]))
    return found


def _file(path: Path) -> Endpoint:
    async def serve(request: Request) -> Response:
        return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})

    return serve
