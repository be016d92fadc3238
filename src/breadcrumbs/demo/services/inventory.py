"""inventory: reserves stock. Under cascade the replica holding the açaí stock is down, so
every order with an açaí bowl fails here, and the gateway's retries fail with it."""

from __future__ import annotations

from opentelemetry import trace
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from breadcrumbs import sdk
from breadcrumbs.demo.menu_data import SKUS
from breadcrumbs.demo.runtime import ServiceContext, ServiceSpec

FAILING_SKU = "acai-bowl"


class StockUnavailableError(RuntimeError):
    pass


@sdk.traced
def connect_stock_replica(order_id: str) -> None:
    raise StockUnavailableError(f"stock replica stock-db-2 refused connection (order {order_id})")


def build(ctx: ServiceContext) -> ServiceSpec:
    db = ctx.db("inventory.db")
    db.setup("CREATE TABLE IF NOT EXISTS stock (sku TEXT PRIMARY KEY, qty INT)")
    db.setup_many("INSERT OR IGNORE INTO stock VALUES (?, ?)", [(s, 10_000) for s in SKUS])

    async def reserve(request: Request) -> Response:
        body = await request.json()
        items: list[dict[str, object]] = body["items"]
        span = trace.get_current_span()
        span.set_attribute("order.id", body["order_id"])
        span.set_attribute("order.item_count", sum(int(str(i["qty"])) for i in items))
        if ctx.active("cascade") and any(i["sku"] == FAILING_SKU for i in items):
            connect_stock_replica(body["order_id"])  # raises: a 500 with the stack trace
        for item in items:
            await db.fetch(
                "UPDATE stock SET qty = CASE WHEN qty > ? THEN qty - ? ELSE 10000 END "
                "WHERE sku = ?",
                (item["qty"], item["qty"], item["sku"]),
            )
        return JSONResponse({"reserved": True})

    return ServiceSpec([Route("/reserve", reserve, methods=["POST"])])
