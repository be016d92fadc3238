"""loyalty: points balances. Under bad-span-names it names spans the way nobody should:
with ids in the name (``GET /points/1042``) and ``DoSomething``."""

from __future__ import annotations

from opentelemetry import trace
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from breadcrumbs.demo.menu_data import USERS
from breadcrumbs.demo.runtime import ServiceContext, ServiceSpec


def balance_for(user_id: int) -> int:
    # Every fifth customer is a regular with enough points to pay a whole cart.
    return 100_000 if user_id % 5 == 0 else (user_id % 7) * 100


def build(ctx: ServiceContext) -> ServiceSpec:
    db = ctx.db("loyalty.db")
    db.setup("CREATE TABLE IF NOT EXISTS accounts (user_id INT PRIMARY KEY, points INT)")
    db.setup_many(
        "INSERT OR IGNORE INTO accounts VALUES (?, ?)", [(u, balance_for(u)) for u in USERS]
    )
    tracer = trace.get_tracer(__name__)

    async def points(request: Request) -> Response:
        user_id = int(request.path_params["user_id"])
        span = trace.get_current_span()
        span.set_attribute("user.id", str(user_id))
        if ctx.active("bad-span-names"):
            span.update_name(f"GET /points/{user_id}")
            with tracer.start_as_current_span("DoSomething"):
                rows = await db.fetch("SELECT points FROM accounts WHERE user_id = ?", (user_id,))
        else:
            rows = await db.fetch("SELECT points FROM accounts WHERE user_id = ?", (user_id,))
        balance = rows[0][0] if rows else 0
        span.set_attribute("loyalty.points", balance)
        return JSONResponse({"user_id": user_id, "points": balance})

    return ServiceSpec([Route("/points/{user_id:int}", points, methods=["GET"])])
