"""courier-matching: picks a rider. Under broken-propagation a proxy in front of it strips
the trace headers, so its spans start a new trace."""

from __future__ import annotations

from opentelemetry import trace
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from breadcrumbs.demo.menu_data import ZONES
from breadcrumbs.demo.runtime import ServiceContext, ServiceSpec, StripTraceHeaders

NAMES = ["Ada", "Bruno", "Chiara", "Dev", "Eun-ji", "Femi", "Goran", "Hana"]


def build(ctx: ServiceContext) -> ServiceSpec:
    db = ctx.db("couriers.db")
    db.setup(
        "CREATE TABLE IF NOT EXISTS couriers (courier_id INTEGER PRIMARY KEY, name TEXT, "
        "zone TEXT, vehicle TEXT, available INT)"
    )
    db.setup_many(
        "INSERT OR IGNORE INTO couriers VALUES (?, ?, ?, ?, 1)",
        [
            (
                i,
                NAMES[i % len(NAMES)],
                ZONES[i % len(ZONES)],
                "cargo-bike" if i % 4 == 0 else "bike",
            )
            for i in range(80)
        ],
    )

    async def match(request: Request) -> Response:
        body = await request.json()
        trace.get_current_span().set_attribute("order.id", body["order_id"])
        rows = await db.fetch(
            "SELECT courier_id, name FROM couriers WHERE zone = ? AND vehicle = ? "
            "AND available = 1 ORDER BY courier_id LIMIT 1",
            (body["zone"], body["vehicle"]),
        )
        courier_id, name = rows[0] if rows else (0, "nobody")
        return JSONResponse({"courier_id": courier_id, "name": name})

    def proxy(app: ASGIApp) -> ASGIApp:
        return StripTraceHeaders(app, lambda: ctx.active("broken-propagation"))

    return ServiceSpec([Route("/match", match, methods=["POST"])], wrap=proxy)
