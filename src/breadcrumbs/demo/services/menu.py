"""menu: the smoothie menu, from the cache or from SQLite on a miss."""

from __future__ import annotations

from opentelemetry import trace
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from breadcrumbs.demo.menu_data import ITEMS
from breadcrumbs.demo.runtime import ServiceContext, ServiceSpec


def build(ctx: ServiceContext) -> ServiceSpec:
    db = ctx.db("menu.db")
    db.setup("CREATE TABLE IF NOT EXISTS items (sku TEXT PRIMARY KEY, name TEXT, price_cents INT)")
    db.setup_many("INSERT OR IGNORE INTO items VALUES (?, ?, ?)", ITEMS)

    async def load_menu() -> list[dict[str, object]]:
        cached = await ctx.http.get(ctx.url("cache", "/cache/menu:v1"))
        hit = cached.json()
        trace.get_current_span().set_attribute("menu.cache_hit", hit["hit"])
        if hit["hit"]:
            value: list[dict[str, object]] = hit["value"]
            return value
        rows = await db.fetch("SELECT sku, name, price_cents FROM items ORDER BY sku")
        menu = [{"sku": s, "name": n, "price_cents": p} for s, n, p in rows]
        await ctx.http.put(ctx.url("cache", "/cache/menu:v1"), json=menu)
        return menu

    async def all_items(request: Request) -> Response:
        return JSONResponse({"items": await load_menu()})

    async def some_items(request: Request) -> Response:
        wanted = set(request.query_params.get("skus", "").split(","))
        menu = await load_menu()
        found = [item for item in menu if item["sku"] in wanted]
        trace.get_current_span().set_attribute("menu.items", len(found))
        return JSONResponse({"items": found})

    return ServiceSpec(
        [
            Route("/menu", all_items, methods=["GET"]),
            Route("/menu/items", some_items, methods=["GET"]),
        ]
    )
