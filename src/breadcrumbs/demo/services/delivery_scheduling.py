"""delivery-scheduling: books a delivery slot, then asks courier-matching for a rider.

Large orders (>= 5 items) need a cargo bike, found through ``slots_cargo_idx``. Under slow-db
a bad migration has dropped that index, so the cargo query scans the whole slots table."""

from __future__ import annotations

from opentelemetry import trace
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from breadcrumbs.demo.runtime import Database, ServiceContext, ServiceSpec

SLOTS = 400_000
LARGE_ORDER = 5
CARGO_INDEX = "CREATE INDEX IF NOT EXISTS slots_cargo_idx ON slots (vehicle, starts_at)"
CARGO_QUERY = (
    "SELECT slot_id, starts_at FROM slots WHERE vehicle = 'cargo-bike' AND capacity >= ? "
    "AND booked < capacity ORDER BY starts_at LIMIT 1"
)
BIKE_QUERY = (
    "SELECT slot_id, starts_at FROM slots WHERE zone = ? AND vehicle = 'bike' "
    "ORDER BY starts_at LIMIT 1"
)
# Generated inside SQLite: seeding 400k rows from Python would take seconds.
SEED = (
    "INSERT INTO slots (zone, vehicle, capacity, booked, starts_at) "
    "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
    'SELECT json_extract(\'["north","south","east","west","centre"]\', '
    "'$[' || (abs(random()) % 5) || ']'), "
    "CASE WHEN i % 3 = 0 THEN 'cargo-bike' ELSE 'bike' END, "
    "1 + abs(random()) % 12, abs(random()) % 13, 1700000000 + abs(random()) % 2592000 FROM n"
)


def seed(db: Database) -> None:
    db.setup(
        "CREATE TABLE IF NOT EXISTS slots (slot_id INTEGER PRIMARY KEY, zone TEXT, "
        "vehicle TEXT, capacity INT, booked INT, starts_at INT)"
    )
    if db.setup("SELECT COUNT(*) FROM slots")[0][0] == 0:
        db.setup(SEED, (SLOTS - 1,))
    db.setup("CREATE INDEX IF NOT EXISTS slots_zone_idx ON slots (zone, vehicle, starts_at)")
    db.setup(CARGO_INDEX)


def build(ctx: ServiceContext) -> ServiceSpec:
    db = ctx.db("delivery.db")
    seed(db)
    indexed = [True]

    async def cargo_index(present: bool) -> None:
        if present != indexed[0]:
            await db.fetch(CARGO_INDEX if present else "DROP INDEX IF EXISTS slots_cargo_idx")
            indexed[0] = present

    async def schedule(request: Request) -> Response:
        body = await request.json()
        items, zone = int(body["items"]), str(body["zone"])
        span = trace.get_current_span()
        span.set_attributes({"order.id": body["order_id"], "order.item_count": items})
        await cargo_index(not ctx.active("slow-db"))
        if items >= LARGE_ORDER:
            vehicle = "cargo-bike"
            rows = await db.fetch(CARGO_QUERY, (min(items, 12),))
        else:
            vehicle = "bike"
            rows = await db.fetch(BIKE_QUERY, (zone,))
        slot_id, starts_at = rows[0] if rows else (0, 0)
        courier = await ctx.call(
            "POST",
            "courier-matching",
            "/match",
            json={"order_id": body["order_id"], "zone": zone, "vehicle": vehicle},
        )
        return JSONResponse({"slot_id": slot_id, "starts_at": starts_at, "courier": courier})

    return ServiceSpec([Route("/schedule", schedule, methods=["POST"])])
