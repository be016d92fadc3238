"""The web UI's routes: the built app at ``/`` and every client-side route, hashed assets cached
for good, unknown API paths a JSON 404, and a build-it page when the UI was never built."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from breadcrumbs.api import home

APP_PATHS = (
    "/",
    "/search?service=a%20b&tag=x%3Dy",
    "/trace/" + "ab" * 16,
    "/map",
    "/services?service=gateway",
    "/why?service=gateway&slowerThan=250000000",
    "/compare",
    "/compare/" + "ab" * 16,
    "/compare/" + "ab" * 16 + "/" + "cd" * 16,
    "/doctor?lookback=1h",
)


def _client(ui_dir: Path) -> httpx.AsyncClient:
    app = Starlette(routes=home.routes(ui_dir))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ui")


@pytest.fixture
def built(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text('<!doctype html><div id="app"></div>')
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log(1)")
    return tmp_path


@pytest.mark.parametrize("path", APP_PATHS)
async def test_every_client_route_answers_the_app(built: Path, path: str) -> None:
    async with _client(built) as client:
        page = await client.get(path)
    assert page.status_code == 200
    assert '<div id="app">' in page.text
    assert page.headers["cache-control"] == "no-cache"


async def test_hashed_assets_are_cached_for_good(built: Path) -> None:
    async with _client(built) as client:
        asset = await client.get("/assets/index-abc123.js")
        missing = await client.get("/assets/nope.js")
    assert asset.status_code == 200
    assert "immutable" in asset.headers["cache-control"]
    assert missing.status_code == 404


async def test_unknown_api_paths_are_json_404s_not_the_app(built: Path) -> None:
    async with _client(built) as client:
        answer = await client.get("/api/x/nothing-here")
        other = await client.get("/not-a-page")
    assert answer.status_code == 404
    assert answer.json() == {"error": "no API at /api/x/nothing-here"}
    assert other.status_code == 404


async def test_without_a_build_the_page_says_how_to_build(tmp_path: Path) -> None:
    async with _client(tmp_path / "missing") as client:
        page = await client.get("/search")
    assert page.status_code == 200
    assert "make ui" in page.text
    assert 'href="/api/services"' in page.text


def test_the_package_ships_a_built_ui() -> None:
    # The committed build is what `pip install` without Node serves (see README).
    index = (home.UI_DIR / "index.html").read_text()
    assert '<div id="app">' in index
    for script in (home.UI_DIR / "assets").glob("*.js"):
        assert script.stat().st_size > 0
