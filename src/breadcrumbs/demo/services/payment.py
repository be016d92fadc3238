"""payment: charges a cart after loyalty and fraud checks. Under payment-div-zero the
loyalty discount may cover every item, and the per-item split divides by zero."""

from __future__ import annotations

import asyncio
import uuid

from opentelemetry import trace
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from breadcrumbs import sdk
from breadcrumbs.demo.runtime import ServiceContext, ServiceSpec

POINTS_PER_FREE_ITEM = 1_000


@sdk.traced
def per_item_charge(amount_cents: int, items: int, free_items: int) -> float:
    span = trace.get_current_span()
    span.set_attribute("payment.free_items", free_items)
    return amount_cents / (items - free_items)


def build(ctx: ServiceContext) -> ServiceSpec:
    db = ctx.db("payment.db")
    db.setup(
        "CREATE TABLE IF NOT EXISTS ledger (charge_id TEXT PRIMARY KEY, order_id TEXT, "
        "user_id INT, amount_cents INT, per_item REAL)"
    )

    async def charge(request: Request) -> Response:
        body = await request.json()
        user_id, amount, items = int(body["user_id"]), int(body["amount_cents"]), int(body["items"])
        span = trace.get_current_span()
        span.set_attributes({"user.id": str(user_id), "order.id": body["order_id"]})
        span.set_attribute("payment.amount_cents", amount)
        loyalty, fraud = await asyncio.gather(
            ctx.call("GET", "loyalty", f"/points/{user_id}"),
            ctx.call(
                "POST", "fraud-check", "/score", json={"user_id": user_id, "amount_cents": amount}
            ),
        )
        if not fraud["approved"]:
            return JSONResponse({"error": "declined by fraud-check"}, status_code=402)
        free = int(loyalty["points"]) // POINTS_PER_FREE_ITEM
        # The bug: capping at every item instead of all but one; the fix caps at items - 1.
        free = min(free, items if ctx.active("payment-div-zero") else items - 1)
        split = per_item_charge(amount, items, free)
        charge_id = uuid.uuid4().hex[:12]
        await db.fetch(
            "INSERT INTO ledger VALUES (?, ?, ?, ?, ?)",
            (charge_id, body["order_id"], user_id, amount, split),
        )
        return JSONResponse({"charge_id": charge_id, "per_item_cents": split})

    return ServiceSpec([Route("/charge", charge, methods=["POST"])])
