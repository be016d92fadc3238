"""gateway: the shop's front door. ``POST /orders`` walks the whole shop; the outbox row it
writes carries the trace context to notifications. ``/control/scenarios`` switches faults."""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any

from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from breadcrumbs import sdk
from breadcrumbs.demo.menu_data import ZONES
from breadcrumbs.demo.runtime import DownstreamError, ServiceContext, ServiceSpec
from breadcrumbs.demo.scenarios import SCENARIOS
from breadcrumbs.demo.services.notifications import OUTBOX_SCHEMA, SYSTEM, TOPIC

RESERVE_ATTEMPTS = 3


class OrderFailedError(RuntimeError):
    pass


def build(ctx: ServiceContext) -> ServiceSpec:
    outbox = ctx.db("outbox.db")
    outbox.setup(OUTBOX_SCHEMA)

    async def reserve_with_retries(order_id: str, items: list[dict[str, Any]]) -> None:
        with sdk.traced(
            "reserve stock", attributes={"retry.max_attempts": RESERVE_ATTEMPTS}
        ) as span:
            for attempt in range(1, RESERVE_ATTEMPTS + 1):
                span.set_attribute("retry.attempts", attempt)
                try:
                    await ctx.call(
                        "POST", "inventory", "/reserve", json={"order_id": order_id, "items": items}
                    )
                    return
                except DownstreamError as exc:
                    if attempt == RESERVE_ATTEMPTS:
                        raise OrderFailedError(
                            f"inventory failed {attempt} times for {order_id}"
                        ) from exc
                    await asyncio.sleep(0.02 * 2**attempt)

    async def publish(order_id: str, user_id: int, items: int) -> None:
        headers: dict[str, str] = {}
        body = json.dumps({"order_id": order_id, "user_id": user_id, "items": items})
        with sdk.producer_span(
            TOPIC, system=SYSTEM, headers=headers, message_id=order_id, body_size=len(body)
        ):
            await outbox.fetch(
                "INSERT INTO outbox (topic, order_id, body, headers, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (TOPIC, order_id, body, json.dumps(headers), time.time()),
            )

    async def place_order(request: Request) -> Response:
        body = await request.json()
        items: list[dict[str, Any]] = body["items"]
        count = sum(int(i["qty"]) for i in items)
        order_id = f"ord-{random.randint(100_000, 999_999)}"
        span = trace.get_current_span()
        span.set_attributes({"order.id": order_id, "order.item_count": count})
        try:
            user = await ctx.call("POST", "auth", "/verify", json={"token": body["token"]})
        except DownstreamError as exc:
            return JSONResponse({"error": str(exc)}, status_code=401)
        user_id = int(user["user_id"])
        span.set_attribute("user.id", str(user_id))
        # W3C baggage: every service downstream learns who the customer is.
        token = otel_context.attach(baggage.set_baggage("user.id", str(user_id)))
        try:
            return await fulfil(body, items, count, order_id, user_id)
        finally:
            otel_context.detach(token)

    async def fulfil(
        body: dict[str, Any], items: list[dict[str, Any]], count: int, order_id: str, user_id: int
    ) -> Response:
        skus = ",".join(str(i["sku"]) for i in items)
        critique, _menu = await asyncio.gather(
            ctx.call("POST", "fashion-critic", "/critique", json={"outfit": body.get("outfit")}),
            ctx.call("GET", "menu", "/menu/items", params={"skus": skus}),
        )
        try:
            await reserve_with_retries(order_id, items)
            quote = await ctx.call("POST", "pricing", "/quote", json={"items": items})
            paid = await ctx.call(
                "POST",
                "payment",
                "/charge",
                json={
                    "order_id": order_id,
                    "user_id": user_id,
                    "amount_cents": quote["total_cents"],
                    "items": count,
                },
            )
            delivery = await ctx.call(
                "POST",
                "delivery-scheduling",
                "/schedule",
                json={"order_id": order_id, "items": count, "zone": random.choice(ZONES)},
            )
        except DownstreamError as exc:
            # A refusal (a declined card: 402) goes back as is; a failure is a bad gateway.
            status = exc.status if exc.status < 500 else 502
            return JSONResponse({"order_id": order_id, "error": str(exc)}, status_code=status)
        except OrderFailedError as exc:
            return JSONResponse({"order_id": order_id, "error": str(exc)}, status_code=502)
        await publish(order_id, user_id, count)
        return JSONResponse(
            {
                "order_id": order_id,
                "total_cents": quote["total_cents"],
                "charge_id": paid["charge_id"],
                "courier": delivery["courier"]["name"],
                "critique": critique["verdict"],
            }
        )

    async def browse(request: Request) -> Response:
        return JSONResponse(await ctx.call("GET", "menu", "/menu"))

    async def get_scenarios(request: Request) -> Response:
        return JSONResponse({"active": sorted(ctx.scenarios.active()), "known": SCENARIOS})

    async def set_scenarios(request: Request) -> Response:
        body = await request.json()
        try:
            chosen = ctx.scenarios.write(body.get("scenarios", []))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"active": chosen, "known": SCENARIOS})

    return ServiceSpec(
        [
            Route("/orders", place_order, methods=["POST"]),
            Route("/menu", browse, methods=["GET"]),
            Route("/control/scenarios", get_scenarios, methods=["GET"]),
            Route("/control/scenarios", set_scenarios, methods=["PUT", "POST"]),
        ]
    )
