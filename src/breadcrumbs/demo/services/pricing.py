"""pricing: prices a cart from SQLite and asks the uninstrumented legacy-pricing service for
the tax rate, through `sdk.third_party` (the only trace of legacy-pricing is that span)."""

from __future__ import annotations

from urllib.parse import urlsplit

from opentelemetry import trace
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from breadcrumbs import sdk
from breadcrumbs.demo.menu_data import ITEMS
from breadcrumbs.demo.runtime import ServiceContext, ServiceSpec

LEGACY_TIMEOUT_S = 0.3
FALLBACK_TAX = 0.08


def build(ctx: ServiceContext) -> ServiceSpec:
    db = ctx.db("pricing.db")
    db.setup("CREATE TABLE IF NOT EXISTS prices (sku TEXT PRIMARY KEY, cents INT)")
    db.setup_many("INSERT OR IGNORE INTO prices VALUES (?, ?)", [(s, p) for s, _, p in ITEMS])
    legacy_url = urlsplit(ctx.config.peers["legacy-pricing"])
    legacy = sdk.third_party(
        "legacy-pricing",
        "GET /tax-rules",
        server_address=legacy_url.hostname,
        server_port=legacy_url.port,
        timeout=LEGACY_TIMEOUT_S,
    )

    async def tax_rate() -> float:
        try:
            async with legacy:
                response = await ctx.http.get(ctx.url("legacy-pricing", "/tax-rules?region=eu"))
                return float(response.json()["rate"])
        except TimeoutError:
            trace.get_current_span().add_event("tax.fallback", {"tax.rate": FALLBACK_TAX})
            return FALLBACK_TAX

    async def quote(request: Request) -> Response:
        body = await request.json()
        items: list[dict[str, object]] = body["items"]
        skus = [str(i["sku"]) for i in items]
        marks = ",".join("?" * len(skus))
        rows = await db.fetch(f"SELECT sku, cents FROM prices WHERE sku IN ({marks})", skus)  # noqa: S608
        prices = dict(rows)
        subtotal = sum(prices.get(str(i["sku"]), 0) * int(str(i["qty"])) for i in items)
        rate = await tax_rate()
        total = round(subtotal * (1 + rate))
        span = trace.get_current_span()
        span.set_attribute("order.item_count", sum(int(str(i["qty"])) for i in items))
        span.set_attribute("pricing.total_cents", total)
        return JSONResponse({"subtotal_cents": subtotal, "tax_rate": rate, "total_cents": total})

    return ServiceSpec([Route("/quote", quote, methods=["POST"])])
